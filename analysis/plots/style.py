"""The house plot style and the helpers every figure module shares.

Style only: :func:`set_style`, the bow colours, where a figure's axes come from
(:func:`figure_axes`) and where legends go (:func:`legend_above`,
:func:`figure_legend_above`). The figures themselves are in the modules of
:mod:`analysis.plots`, by concept.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "BOW_COLORS",
    "figure_axes",
    "legend_above",
    "figure_legend_above",
    "set_style",
]

#: One colour per bow, used in every figure of the book.
BOW_COLORS: dict[str, str] = {"Northwood": "#b03a2e", "Southwood": "#2e86c1"}


def set_style() -> None:
    """Apply the book's plot style (seaborn's whitegrid, readable sizes, sharp on any screen).

    In IPython (a chapter's kernel) figures are also shown as "retina" PNG: drawn at twice the
    resolution and displayed at their usual size, so that they are sharp on high-density
    screens (phones, HiDPI laptops) and a reader who opens one full size can zoom into it.
    A figure with panels side by side also records where its panels are, so that the website
    stacks them on a phone (:mod:`analysis.plots.panels`).
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=1.0)
    plt.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    _show_retina_figures()


def _show_retina_figures() -> bool:
    """In IPython, display figures as 2x PNG at 1x size; return whether that was set."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        from analysis.plots.panels import install_panel_formatter
    except ImportError:  # pragma: no cover - IPython and matplotlib-inline come with Jupyter
        return False
    if get_ipython() is None:  # a script or a test: nothing is displayed inline
        return False
    set_matplotlib_formats("retina")
    install_panel_formatter()  # panels side by side stack on a phone (analysis/plots/panels.py)
    return True


def figure_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Return ``ax`` and its figure, or a new figure of size ``figsize`` and its axes.

    The one place the package's plotting functions get their axes from.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax  # type: ignore[return-value]


def legend_above(ax: Axes, *, ncol: int | None = None, **kwargs: object) -> None:
    """Draw the axes' legend in a row above the plotting area, where no data can cross it.

    The axes title, if any, is lifted above the legend.

    Parameters
    ----------
    ax
        Axes whose labelled artists make the legend.
    ncol
        Entries per row (default: all in one row).
    **kwargs
        Passed on to :meth:`matplotlib.axes.Axes.legend`.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ncol = ncol or len(handles)
    options: dict[str, object] = {
        "frameon": False,
        "loc": "lower center",
        "bbox_to_anchor": (0.5, 1.0),
        "ncol": ncol,
    }
    options.update(kwargs)
    legend = ax.legend(handles, labels, **options)
    title = ax.get_title()
    if title:
        rows = -(-len(handles) // ncol)
        size = legend.get_texts()[0].get_fontsize()
        ax.set_title(title, pad=8 + rows * 2.1 * size)


def figure_legend_above(fig: Figure, ax: Axes, *, top: float = 0.92, ncol: int = 3) -> None:
    """Draw the legend of ``ax`` once, centred above all panels of ``fig``, and lay it out.

    Parameters
    ----------
    fig
        The figure.
    ax
        The panel whose labelled artists make the legend (the panels share them).
    top
        Fraction of the figure height left to the panels below the legend.
    ncol
        Entries per row.
    """
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=ncol,
        frameon=False,
        fontsize=9,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout(rect=(0, 0, 1, top))
