"""Figures of the generalized linear mixed models (the part "Beyond the normal")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.plots.style import figure_axes, legend_above
from analysis.validation import require_columns

__all__ = [
    "plot_hit_rates",
    "plot_quadrature_gap",
    "plot_conditional_vs_marginal",
    "plot_log_loss_by_traffic",
]


def plot_hit_rates(
    data: pd.DataFrame,
    *,
    response: str = "hit",
    x: str = "distance",
    colour: str = "Bow",
    group: str = "Name",
    ax: Axes | None = None,
) -> Figure:
    """Observed hit rate against distance: one faint line per archer and bow, bold pooled lines.

    Parameters
    ----------
    data
        One row per shot with a 0/1 ``response``.
    response, x, colour, group
        Column names: the 0/1 outcome, the horizontal axis, the line colour (e.g. the bow) and
        the grouping factor whose own rates are drawn faintly.
    ax
        Axes to draw on (a new figure if None).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(data, [response, x, colour, group])
    fig, ax = figure_axes(ax, (6.4, 4.0))
    levels = list(pd.Categorical(data[colour]).categories)
    palette = dict(zip(levels, ("tab:blue", "tab:red", "tab:green", "tab:purple"), strict=False))
    own = data.groupby([group, colour, x], observed=True)[response].mean().reset_index()
    for (_, level), rows in own.groupby([group, colour], observed=True):
        ax.plot(rows[x], rows[response], color=palette[level], alpha=0.12, lw=0.8)
    pooled = data.groupby([colour, x], observed=True)[response].mean().reset_index()
    for level, rows in pooled.groupby(colour, observed=True):
        ax.plot(rows[x], rows[response], color=palette[level], lw=2.5, marker="o", label=level)
    ax.set_xlabel(f"{x} (m)")
    ax.set_ylabel("share of shots that hit")
    ax.set_ylim(-0.02, 1.02)
    legend_above(ax)
    return fig


def plot_quadrature_gap(gap: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Laplace's error per group against the observations per group, one line per group SD.

    Parameters
    ----------
    gap
        Columns ``shots`` (observations per group), ``gap`` (quadrature minus Laplace
        log-likelihood per group, positive) and ``sd`` (the SD of the random intercept), one
        row per design; both axes are drawn on a log scale.
    ax
        Axes to draw on (a new figure if None).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(gap, ["shots", "gap", "sd"])
    fig, ax = figure_axes(ax, (6.0, 3.8))
    for colour, (sd, rows) in zip(
        ("tab:blue", "tab:red", "tab:green"), gap.groupby("sd"), strict=False
    ):
        ax.loglog(
            rows["shots"],
            rows["gap"],
            marker="o",
            color=colour,
            label=f"random-intercept SD {sd:g}",
        )
    ax.set_xlabel("shots per archer")
    ax.set_ylabel("log-likelihood lost by Laplace\nper archer")
    legend_above(ax)
    return fig


def plot_conditional_vs_marginal(
    curves: pd.DataFrame, *, x: str = "distance", ax: Axes | None = None
) -> Figure:
    """Hit probability against distance: a few archers, the typical archer and the population.

    Parameters
    ----------
    curves
        Column ``x`` and one column per curve: columns whose name starts with ``"archer"`` are
        drawn faintly, ``"typical archer (b = 0)"``, ``"population average"`` and, if present,
        ``"GEE"`` boldly.
    x
        The horizontal axis column.
    ax
        Axes to draw on (a new figure if None).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(curves, [x, "typical archer (b = 0)", "population average"])
    fig, ax = figure_axes(ax, (6.4, 4.0))
    for name in curves.columns:
        if name.startswith("archer"):
            ax.plot(curves[x], curves[name], color="grey", alpha=0.35, lw=0.9)
    ax.plot(
        curves[x],
        curves["typical archer (b = 0)"],
        color="tab:blue",
        lw=2.5,
        label="typical archer (b = 0)",
    )
    ax.plot(
        curves[x], curves["population average"], color="tab:red", lw=2.5, label="population average"
    )
    if "GEE" in curves:
        ax.plot(curves[x], curves["GEE"], color="black", lw=1.5, ls="--", label="GEE")
    ax.set_xlabel(f"{x} (m)")
    ax.set_ylabel("probability of a hit")
    ax.set_ylim(0, 1)
    ax.set_xlim(float(np.min(curves[x])), float(np.max(curves[x])))
    legend_above(ax)
    return fig


def plot_log_loss_by_traffic(
    losses: pd.DataFrame, *, reference: str = "truth", ax: Axes | None = None
) -> Figure:
    """Held-out log loss of each method above a reference, one line per method, by bucket.

    Parameters
    ----------
    losses
        One row per method (the index names it) and one column per traffic bucket, in order;
        each entry a held-out log loss per observation. Methods with an infinite loss in some
        bucket are left out.
    reference
        The row subtracted from every other (e.g. the loss of the true rates).
    ax
        Axes to draw on (a new figure if None).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if reference not in losses.index:
        raise ValueError(f"reference {reference!r} is not a row of losses")
    fig, ax = figure_axes(ax, (6.4, 4.0))
    excess = losses.sub(losses.loc[reference], axis=1).drop(index=reference)
    positions = np.arange(excess.shape[1])
    for name, row in excess.iterrows():
        if not np.all(np.isfinite(row.to_numpy(dtype=float))):
            continue
        ax.plot(positions, row.to_numpy(dtype=float), marker="o", lw=2, label=str(name))
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xticks(positions, [str(c) for c in excess.columns])
    ax.set_xlabel("impressions in the training period")
    ax.set_ylabel("log loss per impression\nabove the true rates'")
    legend_above(ax, ncol=2)
    return fig
