"""Figures of the archer data: shots by bow, coefficients, and how much archers differ.

Every function returns the :class:`matplotlib.figure.Figure` it drew on, so chapters can
display it and tests can check it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.datasets.archers import BOWS
from analysis.plots.style import BOW_COLORS, figure_axes, legend_above
from analysis.validation import check_nonnegative_int, check_seed, require_columns

__all__ = [
    "MAX_ARCHERS_SHOWN",
    "plot_distance_by_bow",
    "plot_coefficients",
    "plot_archer_spread",
]


#: Above this many archers, ``plot_distance_by_bow(by_archer=True)`` draws a slope plot of the
#: archers' means with a few archers highlighted instead of every shot in its own colour.
MAX_ARCHERS_SHOWN = 8


def _highlighted_archers(means: pd.Series, highlight: int | list[str]) -> list[str]:
    """Names to highlight: the given ones, or ``highlight`` archers spread over the ranking."""
    if isinstance(highlight, (Sequence, np.ndarray, pd.Index)) and not isinstance(highlight, str):
        missing = [h for h in highlight if h not in means.index]
        if missing:
            raise ValueError(f"highlight names {missing} are not archers in data")
        return [str(h) for h in highlight]
    highlight = check_nonnegative_int("highlight", highlight)
    ranked = means.sort_values(ascending=False).index
    if highlight == 0:
        return []
    picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, min(highlight, len(ranked)))))
    return [str(ranked[int(i)]) for i in picks]


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
