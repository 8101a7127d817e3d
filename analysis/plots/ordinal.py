"""Figures of the ordered-ratings chapter: latent scale, rating probabilities, rankings.

The probabilities come from :mod:`analysis.bayes.ordinal`; every function returns the
:class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from analysis.plots.style import figure_axes, legend_above
from analysis.validation import finite_array

#: Colours of the bars of :func:`plot_rating_probabilities`, in the order the sources are given.
SOURCE_COLORS: tuple[str, ...] = ("#555555", "#2e86c1", "#b03a2e", "#27ae60")


def plot_latent_scale(
    cutpoints: np.ndarray,
    shifts: Mapping[str, float],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Draw logistic latent densities shifted by ``shifts`` and the cutpoints that bin them.

    Each density is the standard logistic density centred on its shift; the area between two
    neighbouring cutpoints is the probability of the rating between them.

    Parameters
    ----------
    cutpoints
        The increasing cutpoints (``K - 1`` of them).
    shifts
        Label to latent location, e.g. ``{"typical instructor": 0.0, "best": 1.2}``.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    cut = finite_array("cutpoints", cutpoints)
    if np.any(np.diff(cut) <= 0):
        raise ValueError("cutpoints must be a strictly increasing 1-d array")
    if not shifts:
        raise ValueError("shifts must name at least one latent location")
    fig, ax = figure_axes(ax, (7.0, 3.6))
    lo = min(cut[0], min(shifts.values())) - 4.0
    hi = max(cut[-1], max(shifts.values())) + 4.0
    x = np.linspace(lo, hi, 600)
    for (label, shift), color in zip(shifts.items(), SOURCE_COLORS[1:] * 3, strict=False):
        ax.plot(x, stats.logistic.pdf(x, loc=shift), color=color, label=label)
        ax.fill_between(x, stats.logistic.pdf(x, loc=shift), color=color, alpha=0.08)
    top = ax.get_ylim()[1]
    for c in cut:
        ax.axvline(c, color="0.3", lw=1, ls="--")
    centres = np.concatenate([[cut[0] - 1.5], (cut[:-1] + cut[1:]) / 2, [cut[-1] + 1.5]])
    for k, centre in enumerate(centres):
        ax.text(
            centre,
            0.93 * top,
            f"{k + 1}",
            ha="center",
            va="top",
            fontsize=11,
            fontweight="bold",
            color="0.25",
        )
    ax.set_xlim(lo, hi)
    ax.set_xlabel("latent score (logit scale); dashed lines: cutpoints")
    ax.set_ylabel("density")
    legend_above(ax)
    fig.tight_layout()
    return fig


def plot_rating_probabilities(
    probabilities: Mapping[str, np.ndarray],
    *,
    outside: float | None = None,
    outside_label: str = "Gaussian",
    ax: Axes | None = None,
) -> Figure:
    """Draw grouped bars of the probability of each rating, one bar per source.

    Parameters
    ----------
    probabilities
        Source label to the probabilities of ratings ``1, ..., K`` (same ``K`` for all).
    outside
        If given, the probability a Gaussian model puts outside the possible ratings, drawn as
        an extra bar labelled "outside".
    outside_label
        The source whose colour the extra bar takes.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if not probabilities:
        raise ValueError("probabilities must name at least one source")
    arrays = {k: np.asarray(v, dtype=float) for k, v in probabilities.items()}
    sizes = {a.shape for a in arrays.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ValueError("every source must give a 1-d array of the same length")
    n_cat = next(iter(arrays.values())).size
    fig, ax = figure_axes(ax, (7.0, 3.8))
    width = 0.8 / len(arrays)
    positions = np.arange(1, n_cat + 1)
    colors = dict(zip(arrays, SOURCE_COLORS * 2, strict=False))
    for i, (label, p) in enumerate(arrays.items()):
        ax.bar(
            positions + (i - (len(arrays) - 1) / 2) * width,
            p,
            width=width,
            color=colors[label],
            label=label,
        )
    ticks = [str(k) for k in positions]
    if outside is not None:
        ax.bar(n_cat + 1, outside, width=width, color=colors.get(outside_label, "0.5"))
        positions = np.append(positions, n_cat + 1)
        ticks.append("outside\n[0.5, 5.5]" if n_cat == 5 else "outside")
    ax.set_xticks(positions, ticks)
    ax.set_xlabel("rating")
    ax.set_ylabel("probability")
    legend_above(ax)
    fig.tight_layout()
    return fig


def plot_effect_ranking(
    effects: pd.DataFrame,
    x: str,
    y: str,
    *,
    highlight: Sequence[str] = (),
    ax: Axes | None = None,
) -> Figure:
    """Scatter one model's effects against another's, with their rank correlation.

    Parameters
    ----------
    effects
        One row per level, a column per model.
    x, y
        The two columns to plot.
    highlight
        Levels to label.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    missing = [c for c in (x, y) if c not in effects.columns]
    if missing:
        raise ValueError(f"effects has no column(s) {missing}")
    fig, ax = figure_axes(ax, (5.2, 4.4))
    ax.scatter(effects[x], effects[y], s=18, alpha=0.7, color=SOURCE_COLORS[1])
    slope, intercept = np.polyfit(effects[x], effects[y], 1)
    grid = np.linspace(effects[x].min(), effects[x].max(), 50)
    ax.plot(grid, intercept + slope * grid, color="0.4", lw=1, ls="--", label="least-squares line")
    for level in highlight:
        ax.annotate(
            str(level),
            (effects.loc[level, x], effects.loc[level, y]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=9,
        )
    rho = stats.spearmanr(effects[x], effects[y]).statistic
    ax.set_title(f"Spearman correlation {rho:.3f}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    legend_above(ax)
    fig.tight_layout()
    return fig


def plot_cumulative_log_odds(log_odds: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Empirical cumulative log-odds ``log P(Y <= k) / P(Y > k)`` by group, against ``k``.

    Under proportional odds the curves of two groups are parallel (a constant vertical gap).

    Parameters
    ----------
    log_odds
        Rows ``k`` (the thresholds), a column per group.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig, ax = figure_axes(ax, (6.0, 3.8))
    for column, color in zip(log_odds.columns, SOURCE_COLORS[1:] * 3, strict=False):
        ax.plot(log_odds.index, log_odds[column], marker="o", color=color, label=str(column))
    ax.set_xticks(list(log_odds.index), [f"≤ {k}" for k in log_odds.index])
    ax.set_xlabel("threshold: rating at most")
    ax.set_ylabel("cumulative log-odds")
    legend_above(ax)
    fig.tight_layout()
    return fig


__all__ = [
    "plot_latent_scale",
    "plot_rating_probabilities",
    "plot_effect_ranking",
    "plot_cumulative_log_odds",
]
