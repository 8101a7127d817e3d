"""The house plot style and the figures the chapters share.

Every function returns the :class:`matplotlib.figure.Figure` it drew on, so chapters can
display it and tests can check it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.datasets.archers import BOWS
from analysis.validation import check_seed, require_columns

__all__ = [
    "BOW_COLORS",
    "figure_axes",
    "legend_above",
    "set_style",
    "MAX_ARCHERS_SHOWN",
    "plot_distance_by_bow",
    "plot_coefficients",
    "plot_power",
    "plot_archer_spread",
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


#: Above this many archers, ``plot_distance_by_bow(by_archer=True)`` draws a slope plot of the
#: archers' means with a few archers highlighted instead of every shot in its own colour.
MAX_ARCHERS_SHOWN = 8


def _highlighted_archers(means: pd.Series, highlight: int | list[str]) -> list[str]:
    """Names to highlight: the given ones, or ``highlight`` archers spread over the ranking."""
    if not isinstance(highlight, int):
        missing = [h for h in highlight if h not in means.index]
        if missing:
            raise ValueError(f"highlight names {missing} are not archers in data")
        return [str(h) for h in highlight]
    if highlight < 0:
        raise ValueError(f"highlight must be at least 0, got {highlight}")
    ranked = means.sort_values(ascending=False).index
    if highlight == 0:
        return []
    picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, min(highlight, len(ranked)))))
    return [str(ranked[int(i)]) for i in picks]


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


def plot_distance_by_bow(
    data: pd.DataFrame,
    *,
    by_archer: bool = False,
    highlight: int | list[str] = 3,
    ax: Axes | None = None,
    seed: int = 0,
) -> Figure:
    """Plot every shot's distance against the bow used.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``.
    by_archer
        If false, all shots of a bow share one colour and the archers are hidden, as a naive
        analysis sees them. If true, the archers' mean per bow is joined by a line, which shows
        the structure the naive view hides. With at most :data:`MAX_ARCHERS_SHOWN` archers,
        every shot is drawn with the archer's marker and colour; with more, the figure is a
        slope plot: one faint line per archer from their Northwood to their Southwood mean,
        and only the ``highlight`` archers drawn in colour, with their shots and names.
    highlight
        With more than :data:`MAX_ARCHERS_SHOWN` archers: how many archers to highlight
        (spread evenly from the best to the worst by mean distance), or their names.
    ax
        Axes to draw on; a new figure is made if omitted.
    seed
        Seed for the horizontal jitter of the points.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(data, ["Distance", "Bow", "Name"])
    fig, ax = figure_axes(ax, (7.0, 4.5))
    rng = np.random.default_rng(check_seed(seed))
    x = data["Bow"].astype(str).map({b: i for i, b in enumerate(BOWS)}).to_numpy(float)
    jitter = rng.uniform(-0.12, 0.12, size=len(data))
    names = [
        str(n)
        for n in (
            data["Name"].cat.categories if hasattr(data["Name"], "cat") else pd.unique(data["Name"])
        )
    ]
    if not by_archer:
        colors = data["Bow"].astype(str).map(BOW_COLORS)
        ax.scatter(x + jitter, data["Distance"], c=list(colors), alpha=0.75, s=28)
        means = data.groupby("Bow", observed=True)["Distance"].mean()
        for bow, m in means.items():
            i = BOWS.index(str(bow))
            ax.hlines(m, i - 0.3, i + 0.3, color="black", lw=2)
        ax.set_title("Distance by bow, archers unseen")
    elif len(names) <= MAX_ARCHERS_SHOWN:
        markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
        palette = sns.color_palette("colorblind", n_colors=max(len(names), 3))
        for k, name in enumerate(names):
            rows = (data["Name"].astype(str) == name).to_numpy()
            ax.scatter(
                x[rows] + jitter[rows],
                data.loc[rows, "Distance"],
                marker=markers[k % len(markers)],
                color=palette[k % len(palette)],
                alpha=0.8,
                s=30,
                label=name,
            )
            cell = data.loc[rows].groupby("Bow", observed=True)["Distance"].mean()
            xs = [BOWS.index(str(b)) for b in cell.index]
            ax.plot(xs, cell.to_numpy(), color=palette[k % len(palette)], lw=1.5)
        ax.legend(title="Archer", frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
        ax.set_title("Distance by bow, archers told apart")
    else:
        cells = data.assign(Name=data["Name"].astype(str), Bow=data["Bow"].astype(str))
        cell_means = cells.groupby(["Name", "Bow"])["Distance"].mean().unstack()[list(BOWS)]
        chosen = _highlighted_archers(cell_means.mean(axis=1), highlight)
        for name, row in cell_means.iterrows():
            if name not in chosen:
                ax.plot(
                    range(len(BOWS)),
                    row.to_numpy(),
                    color="#7f8c8d",
                    lw=1.0,
                    alpha=0.45,
                    marker="o",
                    ms=3,
                )
        palette = sns.color_palette("colorblind", n_colors=max(len(chosen), 3))
        for k, name in enumerate(chosen):
            rows = (cells["Name"] == name).to_numpy()
            color = palette[k % len(palette)]
            ax.scatter(
                x[rows] + jitter[rows],
                data.loc[rows, "Distance"],
                color=color,
                alpha=0.6,
                s=14,
                zorder=3,
            )
            row = cell_means.loc[name].to_numpy()
            ax.plot(range(len(BOWS)), row, color=color, lw=2.5, marker="o", ms=6, zorder=4)
            ax.annotate(
                name,
                (len(BOWS) - 1, row[-1]),
                xytext=(34, 0),
                textcoords="offset points",
                va="center",
                color=color,
                fontweight="bold",
            )
        ax.set_title("Each line joins one archer's means with the two bows")
    ax.set_xticks(range(len(BOWS)), list(BOWS))
    slope_plot = by_archer and len(names) > MAX_ARCHERS_SHOWN
    # A slope plot leaves room on the right for the highlighted archers' names.
    if slope_plot:
        ax.set_xlim(-0.4, len(BOWS) - 0.05)
    else:
        ax.set_xlim(-0.6, len(BOWS) - 0.4)
    ax.set_xlabel("Bow")
    ax.set_ylabel("Distance (m)")
    fig.tight_layout()
    return fig


def plot_coefficients(
    table: pd.DataFrame,
    *,
    terms: list[str] | None = None,
    labels: list[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    sort: bool = True,
) -> Figure:
    """Draw estimates with 95% intervals as a dot-and-whisker plot, one row per term.

    Parameters
    ----------
    table
        A table from :func:`analysis.models.ols.coef_table` (columns ``estimate``,
        ``ci_low``, ``ci_high``), indexed by term.
    terms
        Terms to show (default: all rows).
    labels
        Labels for those terms (default: the term names).
    title
        Axes title.
    ax
        Axes to draw on; a new figure sized to the number of terms is made if omitted.
    sort
        Order the rows by estimate.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(table, ["estimate", "ci_low", "ci_high"], argname="table")
    sub = table if terms is None else table.loc[terms]
    if labels is not None and len(labels) != len(sub):
        raise ValueError(f"labels must have {len(sub)} entries, got {len(labels)}")
    lab = pd.Series(list(sub.index) if labels is None else labels, index=sub.index)
    if sort:
        order = sub["estimate"].sort_values().index
        sub, lab = sub.loc[order], lab.loc[order]
    # Rows tall enough for 9-point tick labels (about 12 px at the book's 100 dpi).
    fig, ax = figure_axes(ax, (7.0, max(2.5, 0.21 * len(sub) + 1.2)))
    y = np.arange(len(sub))
    ax.errorbar(
        sub["estimate"],
        y,
        xerr=[sub["estimate"] - sub["ci_low"], sub["ci_high"] - sub["estimate"]],
        fmt="o",
        ms=4,
        color="#34495e",
        ecolor="#7f8c8d",
        capsize=2,
    )
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_yticks(y, list(lab))
    ax.tick_params(axis="y", labelsize=9 if len(sub) > 20 else 10)
    ax.set_ylim(-0.8, len(sub) - 0.2)
    ax.set_xlabel("Estimate with 95% interval")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_power(power: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Bar chart of rejection rates with 95% Monte Carlo intervals, one bar per model.

    Parameters
    ----------
    power
        A table from :func:`analysis.models.ols.bow_test_power` (columns ``power`` and
        ``mc_se``), indexed by model.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(power, ["power", "mc_se"], argname="power")
    fig, ax = figure_axes(ax, (6.5, 0.6 * len(power) + 1.6))
    y = np.arange(len(power))
    ax.barh(
        y,
        100 * power["power"],
        color="#5d6d7e",
        height=0.55,
        xerr=100 * 1.96 * power["mc_se"],
        capsize=3,
    )
    ax.set_yticks(y, [str(i) for i in power.index])
    ax.set_xlim(0, 100)
    ax.set_xlabel("Experiments in which the bow effect is significant at 5% (%)")
    ax.set_title("Power of the bow test")
    fig.tight_layout()
    return fig


def plot_archer_spread(
    estimated: pd.Series, true: pd.Series | None = None, *, ax: Axes | None = None
) -> Figure:
    """Histogram of estimated archer means, optionally with the true levels overlaid.

    Parameters
    ----------
    estimated
        Estimated mean distance per archer, indexed by name.
    true
        True mean distance per archer (e.g. from a simulation), indexed by name.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if len(estimated) == 0:
        raise ValueError("estimated must hold at least one archer")
    fig, ax = figure_axes(ax, (7.0, 3.8))
    values = [estimated.to_numpy(float)] + ([] if true is None else [true.to_numpy(float)])
    bins = np.histogram_bin_edges(np.concatenate(values), bins=15)
    ax.hist(estimated, bins=bins, color="#5d6d7e", alpha=0.75, label="estimated archer means")
    if true is not None:
        ax.hist(
            true,
            bins=bins,
            histtype="step",
            lw=2,
            color="#b03a2e",
            label="true archer levels (simulation)",
        )
    ax.set_xlabel("Mean distance (m)")
    ax.set_ylabel("Archers")
    ax.set_title("How much do archers differ?")
    legend_above(ax)
    fig.tight_layout()
    return fig
