"""Figures for the mixed-model chapters: likelihood profiles, shrinkage and caterpillar plots.

Every function returns the :class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from scipy import stats

from analysis.validation import require_columns

__all__ = [
    "CATERPILLAR_LABEL_SIZE",
    "PARAMETER_LABELS",
    "plot_profiles",
    "plot_blups_vs_fixed",
    "plot_shrinkage",
    "plot_caterpillar",
]

#: Font size (points) of the group names in :func:`plot_caterpillar`: at the book's 100 dpi,
#: about 12 px, readable in the text column.
CATERPILLAR_LABEL_SIZE = 9

#: Axis labels of the two SDs.
PARAMETER_LABELS: dict[str, str] = {
    "sd_group": r"archer SD $\sigma_a$ (m)",
    "sd_resid": r"residual SD $\sigma_e$ (m)",
}


def plot_profiles(
    curves: pd.DataFrame,
    ci: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    truth: dict[str, float] | None = None,
) -> Figure:
    r"""Plot profile :math:`\zeta` curves of the two SDs, one panel each, as lme4's ``xyplot``.

    Parameters
    ----------
    curves
        Output of :func:`analysis.profile.profile_curves`.
    ci
        Output of :func:`analysis.profile.profile_ci`; its ends are marked.
    level
        Confidence level whose :math:`\pm z` lines are drawn.
    truth
        Optional true values by parameter name, drawn as dashed lines.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(curves, ["parameter", "value", "zeta"], argname="curves")
    params = [p for p in ("sd_group", "sd_resid") if p in set(curves["parameter"])]
    if not params:
        raise ValueError("curves has no rows for 'sd_group' or 'sd_resid'")
    z = float(stats.norm.ppf(0.5 + level / 2))
    # Sized for the book's text column; the legend sits below the panels, clear of the curves.
    fig, axes = plt.subplots(1, len(params), figsize=(7.3, 3.9), squeeze=False, sharey=True,
                             layout="constrained")
    handles = {}
    for ax, name in zip(axes[0], params, strict=True):
        sub = curves[curves["parameter"] == name]
        handles["profile"] = ax.plot(sub["value"], sub["zeta"], color="#34495e", lw=2,
                                     label=r"profile $\zeta$")[0]
        for level_z in (-z, z):
            handles["z"] = ax.axhline(level_z, color="#566573", lw=1.0, ls=":",
                                      label=rf"$\zeta = \pm{z:.2f}$")
        ax.axhline(0.0, color="black", lw=0.6)
        if ci is not None and name in ci.index:
            for col in ("lower", "upper"):
                handles["ci"] = ax.axvline(float(ci.loc[name, col]), color="#b03a2e", lw=1.2,
                                           label=f"{level:.0%} interval ends")
        if truth and name in truth:
            handles["truth"] = ax.axvline(truth[name], color="#2e86c1", lw=1.2, ls="--",
                                          label="true value")
        ax.set_xlabel(PARAMETER_LABELS.get(name, name))
    axes[0][0].set_ylabel(r"$\zeta$ (signed root of deviance change)")
    fig.suptitle("Likelihood profiles of the two SDs", fontweight="bold")
    fig.legend(handles=list(handles.values()), loc="outside lower center", ncol=len(handles),
               frameon=False)
    return fig


def plot_blups_vs_fixed(fixed: pd.Series, blups: pd.Series, *, title: str | None = None) -> Figure:
    """Scatter the BLUPs against the (centred) fixed-effect estimates, with the identity line.

    Parameters
    ----------
    fixed
        Fixed-effect estimates of the group effects, indexed by group.
    blups
        Conditional modes, indexed by group (aligned on the index).
    title
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    common = fixed.index.intersection(blups.index)
    if len(common) == 0:
        raise ValueError("fixed and blups share no group labels")
    x, y = fixed.loc[common].to_numpy(float), blups.loc[common].to_numpy(float)
    fig, ax = plt.subplots(figsize=(5.2, 4.8))
    lim = [min(x.min(), y.min()) * 1.05, max(x.max(), y.max()) * 1.05]
    ax.plot(lim, lim, color="#7f8c8d", lw=1, ls="--", label="BLUP = fixed estimate")
    ax.scatter(x, y, s=22, color="#34495e", zorder=3)
    ax.set_xlabel("Fixed-effect estimate, centred (m)")
    ax.set_ylabel("BLUP (conditional mode) (m)")
    ax.legend(frameon=False, loc="upper left")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_shrinkage(table: pd.DataFrame, *, label_top: int = 0) -> Figure:
    """Shrinkage plot: each group's own estimate joined to its BLUP, sized by group size.

    Left panel: a line per group from its mean residual (left) to its BLUP (right); right
    panel: the shrinkage factor against group size.

    Parameters
    ----------
    table
        Output of :func:`analysis.mixed.shrinkage_table` (columns ``n``, ``raw``, ``blup``,
        ``k``).
    label_top
        Label this many groups with the largest shrinkage (absolute raw minus BLUP).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(table, ["n", "raw", "blup", "k"], argname="table")
    n = table["n"].to_numpy(float)
    sizes = 12 + 160 * n / n.max()
    # Sized for the book's text column (about 7.5 in at 100 dpi).
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.3, 4.6),
                                 gridspec_kw={"width_ratios": [1.35, 1]})
    for raw, blup in zip(table["raw"], table["blup"], strict=True):
        ax.plot([0, 1], [raw, blup], color="#7f8c8d", lw=0.8, alpha=0.8)
    ax.scatter(np.zeros(len(table)), table["raw"], s=sizes, color="#b03a2e", alpha=0.7,
               label="own estimate", zorder=3)
    ax.scatter(np.ones(len(table)), table["blup"], s=sizes, color="#2e86c1", alpha=0.7,
               label="BLUP", zorder=3)
    ax.axhline(0.0, color="black", lw=0.6)
    if label_top:
        moved = (table["raw"] - table["blup"]).abs().sort_values(ascending=False)
        for name in moved.index[:label_top]:
            ax.annotate(f"{name} (n={int(table.loc[name, 'n'])})",
                        (1, table.loc[name, "blup"]), xytext=(8, 0),
                        textcoords="offset points", va="center", fontsize=9)
    ax.set_xticks([0, 1], ["own estimate\n(mean residual)", "BLUP"])
    ax.set_xlim(-0.3, 2.2 if label_top else 1.3)
    ax.set_ylabel("Archer effect (m)")
    ax.set_title("Each archer pulled towards 0")
    order = np.argsort(n)
    bx.scatter(n, table["k"], s=sizes, color="#34495e", alpha=0.7)
    bx.plot(n[order], table["k"].to_numpy()[order], color="#34495e", lw=0.8)
    bx.set_xscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if n.min() <= t <= n.max()]
    bx.xaxis.set_minor_formatter(NullFormatter())
    bx.set_xticks(ticks, [str(t) for t in ticks])
    bx.set_xlabel("Shots by the archer (log scale)")
    bx.set_ylabel("Shrinkage factor $k_j$")
    bx.set_title("Fewer shots, more shrinkage")
    fig.tight_layout()
    return fig


def plot_caterpillar(
    blups: pd.Series,
    blup_sd: pd.Series,
    *,
    level: float = 0.95,
    truth: pd.Series | None = None,
    sizes: pd.Series | None = None,
) -> Figure:
    """Caterpillar plot: BLUPs in order with intervals of plus/minus z conditional SDs.

    Parameters
    ----------
    blups
        Conditional modes, indexed by group.
    blup_sd
        Conditional SDs, same index.
    level
        Coverage of the bars under the normal approximation.
    truth
        Optional true effects (same index), drawn as crosses.
    sizes
        Optional group sizes, shown in the tick labels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if not blups.index.equals(blup_sd.index):
        blup_sd = blup_sd.reindex(blups.index)
    if blup_sd.isna().any():
        raise ValueError("blup_sd must have a value for every group in blups")
    z = float(stats.norm.ppf(0.5 + level / 2))
    order = blups.sort_values().index
    y = np.arange(len(order))
    # Rows tall enough for tick labels of CATERPILLAR_LABEL_SIZE points, however many groups.
    fig, ax = plt.subplots(figsize=(7.0, max(3.0, 0.21 * len(order) + 1.3)))
    ax.errorbar(blups.loc[order], y, xerr=z * blup_sd.loc[order], fmt="o", ms=3.5,
                color="#34495e", ecolor="#7f8c8d", capsize=1.5, label="BLUP ± "
                f"{z:.2f} cond. SD")
    if truth is not None:
        ax.scatter(truth.reindex(order), y, marker="x", color="#b03a2e", s=22, zorder=4,
                   label="true effect")
    ax.axvline(0.0, color="black", lw=0.6)
    labels = [str(g) if sizes is None else f"{g} ({int(sizes.loc[g])})" for g in order]
    ax.set_yticks(y, labels)
    ax.tick_params(axis="y", labelsize=CATERPILLAR_LABEL_SIZE)
    ax.set_ylim(-0.8, len(order) - 0.2)
    ax.set_xlabel("Predicted archer effect (m)")
    # Above the axes, where no bar can run through it.
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.tight_layout()
    return fig
