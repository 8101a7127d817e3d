"""Figures for the mixed-model chapters: likelihood profiles, shrinkage and caterpillar plots.

The second half draws the figures of the sleepstudy chapter (a random intercept and slope per
subject): one panel per subject, the two-dimensional shrinkage plot and three model checks.

Every function returns the :class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter
from scipy import stats

from analysis.plots.style import figure_axes, legend_above
from analysis.validation import (
    check_level,
    check_positive,
    check_positive_int,
    finite_array,
    require_columns,
    require_rows,
)

__all__ = [
    "CATERPILLAR_LABEL_SIZE",
    "PARAMETER_LABELS",
    "plot_profiles",
    "plot_blups_vs_fixed",
    "plot_shrinkage",
    "plot_caterpillar",
    "plot_shrinkage_scatter",
    "INTERCEPT",
    "plot_subject_panels",
    "plot_shrinkage_2d",
    "plot_residuals_fitted",
    "plot_ranef_qq",
    "plot_residual_spread",
]

#: Font size (points) of the group names in :func:`plot_caterpillar`: at the book's 100 dpi,
#: about 12 px, readable in the text column.
CATERPILLAR_LABEL_SIZE = 9

#: Axis labels of the two SDs of the archers' model, by lme4's parameter names (those of
#: :func:`analysis.models.profile.profile` and :func:`~analysis.models.profile.confint`).
PARAMETER_LABELS: dict[str, str] = {
    "sd_(Intercept)|Name": r"archer SD $\sigma_a$ (m)",
    "sigma": r"residual SD $\sigma_e$ (m)",
}


def plot_profiles(
    curves: pd.DataFrame,
    ci: pd.DataFrame | None = None,
    *,
    level: float = 0.95,
    truth: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    r"""Plot profile :math:`\zeta` curves, one panel per parameter, as lme4's ``xyplot``.

    Parameters
    ----------
    curves
        Output of :func:`analysis.models.profile.profile` (long format: ``parameter`` holds
        lme4's names, such as ``sd_(Intercept)|Name`` and ``sigma``); one panel per parameter,
        in its order.
    ci
        Output of :func:`analysis.models.profile.confint` (indexed by the same names); its
        ends are marked.
    level
        Confidence level whose :math:`\pm z` lines are drawn.
    truth
        Optional true values by parameter name, drawn as dashed lines.
    labels
        Axis labels by parameter name; by default :data:`PARAMETER_LABELS`, and the name itself
        for a parameter without one.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(curves, ["parameter", "value", "zeta"], argname="curves")
    if ci is not None:
        require_columns(ci, ["lower", "upper"], argname="ci")
    params = [str(p) for p in pd.unique(curves["parameter"])]
    if not params:
        raise ValueError("curves has no rows: nothing to plot")
    labels = PARAMETER_LABELS if labels is None else labels
    z = float(stats.norm.ppf(0.5 + check_level(level) / 2))
    # Sized for the book's text column; the legend sits below the panels, clear of the curves.
    fig, axes = plt.subplots(
        1, len(params), figsize=(7.3, 3.9), squeeze=False, sharey=True, layout="constrained"
    )
    handles = {}
    for ax, name in zip(axes[0], params, strict=True):
        sub = curves[curves["parameter"] == name]
        handles["profile"] = ax.plot(
            sub["value"], sub["zeta"], color="#34495e", lw=2, label=r"profile $\zeta$"
        )[0]
        for level_z in (-z, z):
            handles["z"] = ax.axhline(
                level_z, color="#566573", lw=1.0, ls=":", label=rf"$\zeta = \pm{z:.2f}$"
            )
        ax.axhline(0.0, color="black", lw=0.6)
        if ci is not None and name in ci.index:
            for col in ("lower", "upper"):
                handles["ci"] = ax.axvline(
                    float(ci.loc[name, col]),
                    color="#b03a2e",
                    lw=1.2,
                    label=f"{level:.0%} interval ends",
                )
        if truth and name in truth:
            handles["truth"] = ax.axvline(
                truth[name], color="#2e86c1", lw=1.2, ls="--", label="true value"
            )
        ax.set_xlabel(labels.get(name, name))
    axes[0][0].set_ylabel(r"$\zeta$ (signed root of deviance change)")
    what = "the two SDs" if len(params) == 2 else "the variance parameters"
    fig.suptitle(f"Likelihood profiles of {what}", fontweight="bold")
    fig.legend(
        handles=list(handles.values()), loc="outside lower center", ncol=len(handles), frameon=False
    )
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
        Output of :func:`analysis.models.mixed.shrinkage_table` (columns ``n``, ``raw``, ``blup``,
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
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(7.3, 4.6), gridspec_kw={"width_ratios": [1.35, 1]})
    for raw, blup in zip(table["raw"], table["blup"], strict=True):
        ax.plot([0, 1], [raw, blup], color="#7f8c8d", lw=0.8, alpha=0.8)
    ax.scatter(
        np.zeros(len(table)),
        table["raw"],
        s=sizes,
        color="#b03a2e",
        alpha=0.7,
        label="own estimate",
        zorder=3,
    )
    ax.scatter(
        np.ones(len(table)),
        table["blup"],
        s=sizes,
        color="#2e86c1",
        alpha=0.7,
        label="BLUP",
        zorder=3,
    )
    ax.axhline(0.0, color="black", lw=0.6)
    if label_top:
        moved = (table["raw"] - table["blup"]).abs().sort_values(ascending=False)
        for name in moved.index[:label_top]:
            ax.annotate(
                f"{name} (n={int(table.loc[name, 'n'])})",
                (1, table.loc[name, "blup"]),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
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
    modes: pd.Series,
    cond_sd: pd.Series,
    *,
    level: float = 0.95,
    truth: pd.Series | None = None,
    sizes: pd.Series | None = None,
    label: str = "Predicted archer effect (m)",
    title: str = "",
    max_labelled: int = 60,
    ax: Axes | None = None,
    pev_sd: pd.Series | None = None,
) -> Figure:
    """Caterpillar plot: conditional modes (BLUPs) in order, with intervals of +- z cond. SDs.

    Up to ``max_labelled`` groups each get a row, an error bar and a tick label (with its size
    if ``sizes`` is given); more (InstEval's 1,128 instructors, say) are drawn as a line of
    sorted modes inside a band, since thousands of labels cannot be read.

    Parameters
    ----------
    modes
        Conditional modes, indexed by group level (a fit's ``blups``, or the ``mode`` column
        of :attr:`analysis.models.crossed.CrossedFit.ranef`).
    cond_sd
        Conditional SDs, same index.
    level
        Coverage of the bars under the normal approximation.
    truth
        Optional true effects (same index), drawn as crosses (labelled plots only).
    sizes
        Optional group sizes, shown in the tick labels.
    label
        Name of the effect axis.
    title
        Axes title.
    max_labelled
        Largest number of groups drawn one row each.
    ax
        Axes to draw on (band plots only); a new figure if omitted.
    pev_sd
        Optional prediction-error SDs (same index), which also count the fixed effects'
        uncertainty (:func:`analysis.models.mixed.prediction_errors`), drawn as wider, lighter
        bars behind the conditional ones (labelled plots only).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    level = check_level(level)
    if not modes.index.equals(cond_sd.index):
        cond_sd = cond_sd.reindex(modes.index)
    if cond_sd.isna().any():
        raise ValueError("cond_sd must have a value for every group in modes")
    if pev_sd is not None:
        pev_sd = pev_sd.reindex(modes.index)
        if pev_sd.isna().any() or (pev_sd < 0).any():
            raise ValueError("pev_sd must have a non-negative value for every group in modes")
    z = float(stats.norm.ppf(0.5 + level / 2))
    order = modes.sort_values().index
    y = np.arange(len(order))
    if len(order) > max_labelled:
        fig, ax = figure_axes(ax, (7.0, 3.6))
        lo = modes.loc[order] - z * cond_sd.loc[order]
        hi = modes.loc[order] + z * cond_sd.loc[order]
        ax.fill_between(y, lo, hi, color="#4c72b0", alpha=0.25, lw=0, label=f"±{z:.2f} cond. SD")
        ax.plot(y, modes.loc[order], color="#1f3b73", lw=1.2, label="conditional mode")
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel="levels, sorted by conditional mode", ylabel=label, title=title)
        legend_above(ax)
        return fig
    # Rows tall enough for tick labels of CATERPILLAR_LABEL_SIZE points, however many groups.
    fig, ax = figure_axes(ax, (7.0, max(3.0, 0.21 * len(order) + 1.3)))
    if pev_sd is not None:
        ax.errorbar(
            modes.loc[order],
            y,
            xerr=z * pev_sd.loc[order],
            fmt="none",
            ecolor="#e0a458",
            elinewidth=4.0,
            alpha=0.6,
            capsize=0,
            label=f"± {z:.2f} prediction-error SD",
        )
    ax.errorbar(
        modes.loc[order],
        y,
        xerr=z * cond_sd.loc[order],
        fmt="o",
        ms=3.5,
        color="#34495e",
        ecolor="#7f8c8d",
        capsize=1.5,
        label=f"BLUP ± {z:.2f} cond. SD",
    )
    if truth is not None:
        ax.scatter(
            truth.reindex(order),
            y,
            marker="x",
            color="#b03a2e",
            s=22,
            zorder=4,
            label="true effect",
        )
    ax.axvline(0.0, color="black", lw=0.6)
    labels = [str(g) if sizes is None else f"{g} ({int(sizes.loc[g])})" for g in order]
    ax.set_yticks(y, labels)
    ax.tick_params(axis="y", labelsize=CATERPILLAR_LABEL_SIZE)
    ax.set_ylim(-0.8, len(order) - 0.2)
    ax.set_xlabel(label)
    if title:
        ax.set_title(title)
    # Above the axes, where no bar can run through it.
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.tight_layout()
    return fig


def plot_shrinkage_scatter(
    data: pd.DataFrame,
    modes: pd.Series,
    group: str,
    centre: float,
    response: str = "y",
    *,
    unit: str = "level",
    title: str = "",
    ax: Axes | None = None,
) -> Figure:
    """Each level's raw mean (minus ``centre``) against its conditional mode, for many levels.

    The scatter version of :func:`plot_shrinkage`, for thousands of levels (InstEval's
    students, the online chapter's units): points on the dashed diagonal are not shrunk at
    all; levels with few rows, coloured dark, are pulled hardest toward zero.

    Parameters
    ----------
    data
        The data the model was fitted to.
    modes
        Conditional modes (BLUPs) of ``group``, indexed by level.
    group
        The grouping column.
    centre
        Subtracted from the raw means (the grand mean, or the fitted intercept).
    response
        The response column.
    unit
        What a level is called in the axis labels ("student", "unit").
    title
        Axes title.
    ax
        Axes to draw on; a new figure if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(data, [group, response])
    if not isinstance(modes, pd.Series):
        raise ValueError(f"modes must be a pandas Series indexed by level, got {type(modes)}")
    fig, ax = figure_axes(ax, (6.0, 4.4))
    stats_ = data.groupby(group, observed=True)[response].agg(["mean", "size"])
    stats_ = stats_.join(modes.rename("mode"), how="inner")
    if stats_.empty:
        raise ValueError(f"modes share no level with data[{group!r}]")
    points = ax.scatter(
        stats_["mean"] - centre,
        stats_["mode"],
        c=np.log10(stats_["size"]),
        s=6,
        cmap="viridis",
        alpha=0.7,
    )
    lim = float(np.abs(stats_["mean"] - centre).max())
    ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8, ls="--", label="no shrinkage")
    ax.set(
        xlabel=f"{unit} mean minus centre (no pooling)",
        ylabel="conditional mode (partial pooling)",
        title=title,
    )
    cbar = fig.colorbar(points, ax=ax)
    cbar.set_label("log10(observations)")
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


# --- The sleepstudy chapter: a random intercept and a random slope per subject --------------

#: Column name of the intercept in coefficient tables (lme4's and mixedlm's spelling).
INTERCEPT = "(Intercept)"

#: Colours of the sleepstudy figures: each subject's own fit, the mixed model, the population.
OWN_COLOR, MODEL_COLOR, POPULATION_COLOR = "#b03a2e", "#2e86c1", "#566573"


def _coefficient_frame(frame: pd.DataFrame, slope: str, argname: str) -> pd.DataFrame:
    """Return the ``(Intercept)`` and ``slope`` columns of ``frame`` as floats, checked."""
    require_columns(frame, [INTERCEPT, slope], argname=argname)
    require_rows(frame, argname)
    out = frame[[INTERCEPT, slope]].astype(float)
    if not np.isfinite(out.to_numpy()).all():
        raise ValueError(f"{argname} has missing or infinite coefficients")
    return out


def _finite_vector(name: str, values: object) -> np.ndarray:
    """Return ``values`` as a 1-D float array, refusing empty or non-finite input."""
    return finite_array(name, values)


def plot_subject_panels(
    data: pd.DataFrame,
    own: pd.DataFrame,
    model: pd.DataFrame,
    *,
    x: str = "Days",
    y: str = "Reaction",
    group: str = "Subject",
    population: tuple[float, float] | None = None,
    ncols: int = 6,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Figure:
    """One small panel per group: its data, its own least-squares line and the model's line.

    The layout of lme4's ``xyplot`` of sleepstudy. Panels are ordered by the slope of the
    group's own line, so that the panels run from flattest to steepest.

    Parameters
    ----------
    data
        Long data with columns ``x``, ``y`` and ``group``.
    own
        Each group's own fit (for example ``mixedlm.lmList(...)["coef"]``): indexed by group,
        with columns ``(Intercept)`` and ``x``.
    model
        The mixed model's line for each group (fixed effects plus conditional modes, as
        ``coef(fit)`` in lme4), same layout as ``own``.
    x, y, group
        Column names in ``data``.
    population
        Optional (intercept, slope) of the population line, drawn in every panel.
    ncols
        Panels per row.
    xlabel, ylabel
        Axis labels (default: the column names).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(data, [x, y, group], argname="data")
    own = _coefficient_frame(own, x, "own")
    model = _coefficient_frame(model, x, "model")
    ncols = check_positive_int("ncols", ncols)
    labels = data[group].astype(str)
    own.index, model.index = own.index.astype(str), model.index.astype(str)
    groups = list(pd.unique(labels))
    missing = sorted({g for g in groups if g not in own.index or g not in model.index})
    if missing:
        raise ValueError(f"own and model need a line for every group; missing: {missing}")
    order = own.loc[groups, x].sort_values(kind="stable").index
    ncols = min(ncols, len(order))
    nrows = -(-len(order) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(7.3, 1.45 * nrows + 1.0),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    xs = data[x].to_numpy(float)
    grid = np.array([np.nanmin(xs), np.nanmax(xs)])
    for ax, name in zip(axes.flat, order, strict=False):
        rows = labels == name
        ax.scatter(data.loc[rows, x], data.loc[rows, y], s=10, color="#2c3e50", zorder=3)
        if population is not None:
            ax.plot(
                grid, population[0] + population[1] * grid, color=POPULATION_COLOR, lw=1.0, ls=":"
            )
        ax.plot(
            grid,
            own.loc[name, INTERCEPT] + own.loc[name, x] * grid,
            color=OWN_COLOR,
            lw=1.3,
            ls="--",
        )
        ax.plot(
            grid, model.loc[name, INTERCEPT] + model.loc[name, x] * grid, color=MODEL_COLOR, lw=1.6
        )
        ax.set_title(str(name), fontsize=9, pad=2)
        ax.tick_params(labelsize=9, pad=1)
        ax.locator_params(nbins=3)
    for ax in axes.flat[len(order) :]:
        ax.set_visible(False)
    fig.supxlabel(xlabel or x, fontsize=10)
    fig.supylabel(ylabel or y, fontsize=10)
    handles = [
        Line2D([], [], color="#2c3e50", marker="o", ls="", ms=4, label="observations"),
        Line2D([], [], color=OWN_COLOR, lw=1.3, ls="--", label="own least-squares line"),
        Line2D([], [], color=MODEL_COLOR, lw=1.6, label="mixed model"),
    ]
    if population is not None:
        handles.append(
            Line2D([], [], color=POPULATION_COLOR, lw=1.0, ls=":", label="population line")
        )
    fig.legend(
        handles=handles, loc="outside upper center", ncol=len(handles), frameon=False, fontsize=9
    )
    return fig


def _ellipse(center: np.ndarray, cov: np.ndarray, mass: float) -> np.ndarray:
    """Points (200 x 2) on the contour of N(center, cov) that holds ``mass`` of it."""
    radius = np.sqrt(stats.chi2.ppf(mass, df=2))
    angle = np.linspace(0.0, 2.0 * np.pi, 200)
    circle = np.column_stack([np.cos(angle), np.sin(angle)])
    return center + radius * circle @ np.linalg.cholesky(cov).T


def plot_shrinkage_2d(
    own: pd.DataFrame,
    modes: pd.DataFrame,
    center: tuple[float, float] | np.ndarray,
    cov: np.ndarray,
    *,
    slope: str = "Days",
    levels: tuple[float, ...] = (0.5, 0.95),
    label_top: int = 0,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Figure:
    """Two-dimensional shrinkage: each group's own (intercept, slope) moving to the model's.

    An arrow runs from each group's own least-squares coefficients to the mixed model's
    (fixed effects plus conditional modes). The contours are those of the estimated
    distribution of the groups' coefficients, the normal with mean ``center`` and covariance
    ``cov``, each holding the given share of it.

    Parameters
    ----------
    own
        Each group's own coefficients: indexed by group, columns ``(Intercept)`` and ``slope``.
    modes
        The model's coefficients for the same groups, same layout.
    center
        The fixed effects (intercept, slope).
    cov
        The 2 x 2 estimated covariance matrix of the random intercept and slope.
    slope
        Name of the slope column.
    levels
        Shares of the distribution inside each contour, each in (0, 1).
    label_top
        Label this many groups that moved furthest (in units of the contours).
    xlabel, ylabel
        Axis labels (default: the column names).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    own = _coefficient_frame(own, slope, "own")
    modes = _coefficient_frame(modes, slope, "modes")
    own.index, modes.index = own.index.astype(str), modes.index.astype(str)
    if set(own.index) != set(modes.index):
        raise ValueError("own and modes must have the same groups")
    modes = modes.loc[own.index]
    center = np.asarray(center, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if center.shape != (2,) or not np.isfinite(center).all():
        raise ValueError("center must hold two finite numbers (intercept, slope)")
    if cov.shape != (2, 2) or not np.isfinite(cov).all() or not np.allclose(cov, cov.T):
        raise ValueError("cov must be a finite, symmetric 2 x 2 matrix")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError("cov must be positive definite (a singular fit has no ellipse)")
    if not levels:
        raise ValueError("levels must hold at least one share strictly between 0 and 1")
    for p in levels:
        check_level(p, "levels")
    fig, ax = plt.subplots(figsize=(7.0, 5.4), layout="constrained")
    for i, mass in enumerate(sorted(levels)):
        ring = _ellipse(center, cov, float(mass))
        ax.plot(
            ring[:, 0],
            ring[:, 1],
            color=POPULATION_COLOR,
            lw=1.0,
            ls=["-", "--", ":", "-."][i % 4],
            label=f"{float(mass):.0%} contour",
        )
    for name in own.index:
        ax.annotate(
            "",
            xy=tuple(modes.loc[name]),
            xytext=tuple(own.loc[name]),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#7f8c8d",
                "lw": 0.9,
                "shrinkA": 3,
                "shrinkB": 3,
                "mutation_scale": 9,
            },
        )
    ax.scatter(
        own[INTERCEPT], own[slope], s=30, color=OWN_COLOR, zorder=3, label="own least-squares fit"
    )
    ax.scatter(
        modes[INTERCEPT], modes[slope], s=30, color=MODEL_COLOR, zorder=3, label="mixed model"
    )
    ax.scatter(
        [center[0]], [center[1]], marker="P", s=90, color="black", zorder=4, label="fixed effects"
    )
    if label_top:
        inverse = np.linalg.inv(cov)
        step = (own - modes).to_numpy()
        moved = pd.Series(np.einsum("ij,jk,ik->i", step, inverse, step), index=own.index)
        for name in moved.sort_values(ascending=False).index[:label_top]:
            ax.annotate(
                str(name),
                tuple(own.loc[name]),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=9,
                color=OWN_COLOR,
            )
    ax.set_xlabel(xlabel or INTERCEPT)
    ax.set_ylabel(ylabel or slope)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=9)
    return fig


def plot_residuals_fitted(
    fitted: object,
    residuals: object,
    *,
    sigma: float | None = None,
    xlabel: str = "fitted value",
    ylabel: str = "residual",
) -> Figure:
    r"""Residuals against fitted values, with a lowess smooth and optional :math:`\pm 2\sigma`.

    Parameters
    ----------
    fitted
        Fitted values (with the conditional modes, as lme4's ``fitted``).
    residuals
        Residuals, same length.
    sigma
        Estimated residual SD; if given, lines at :math:`\pm 2\sigma` are drawn.
    xlabel, ylabel
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    x = _finite_vector("fitted", fitted)
    r = _finite_vector("residuals", residuals)
    if x.shape != r.shape:
        raise ValueError(f"fitted and residuals differ in length ({x.size} and {r.size})")
    if sigma is not None:
        sigma = check_positive("sigma", sigma)
    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    ax.scatter(x, r, s=14, color="#2c3e50", alpha=0.75, label="observations")
    ax.axhline(0.0, color="black", lw=0.7)
    smooth = lowess(r, x, frac=2 / 3, it=3, return_sorted=True)
    ax.plot(smooth[:, 0], smooth[:, 1], color=MODEL_COLOR, lw=2, label="lowess smooth")
    if sigma is not None:
        for sign in (-1, 1):
            ax.axhline(
                sign * 2 * sigma,
                color=OWN_COLOR,
                lw=1.0,
                ls="--",
                label=r"$\pm 2\hat\sigma$" if sign > 0 else None,
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return fig


def _plotting_positions(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: the probabilities at which ``qqnorm`` places n sorted values."""
    a = 3 / 8 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def plot_ranef_qq(modes: pd.DataFrame, *, label_top: int = 0) -> Figure:
    """Draw normal QQ plots of the conditional modes, one panel per random-effect term.

    Each panel shows the sorted modes against normal quantiles, with R's ``qqline`` (the line
    through the two quartiles).

    Parameters
    ----------
    modes
        Conditional modes: indexed by group, one column per term (at most four).
    label_top
        Label this many groups in each panel whose mode is furthest from the line.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if not isinstance(modes, pd.DataFrame) or modes.empty or modes.shape[1] > 4:
        raise ValueError("modes must be a non-empty DataFrame with one to four columns")
    values = modes.astype(float)
    if not np.isfinite(values.to_numpy()).all():
        raise ValueError("modes has missing or infinite values")
    if len(values) < 3:
        raise ValueError(f"a QQ plot needs at least 3 groups, got {len(values)}")
    fig, axes = plt.subplots(
        1, values.shape[1], figsize=(7.3, 3.8), squeeze=False, layout="constrained"
    )
    probs = _plotting_positions(len(values))
    theory = stats.norm.ppf(probs)
    q_probs = np.array([0.25, 0.75])
    for ax, term in zip(axes[0], values.columns, strict=True):
        column = values[term].sort_values()
        sample = column.to_numpy()
        q_sample = np.quantile(sample, q_probs)
        q_theory = stats.norm.ppf(q_probs)
        gradient = (q_sample[1] - q_sample[0]) / (q_theory[1] - q_theory[0])
        intercept = q_sample[0] - gradient * q_theory[0]
        ax.plot(theory, intercept + gradient * theory, color=POPULATION_COLOR, lw=1.0, ls="--")
        ax.scatter(theory, sample, s=20, color=MODEL_COLOR, zorder=3)
        if label_top:
            gap = pd.Series(np.abs(sample - intercept - gradient * theory), index=column.index)
            for name in gap.sort_values(ascending=False).index[:label_top]:
                i = column.index.get_loc(name)
                ax.annotate(
                    str(name),
                    (theory[i], sample[i]),
                    xytext=(5, -3),
                    textcoords="offset points",
                    fontsize=9,
                )
        ax.set_title(str(term), fontsize=10)
        ax.set_xlabel("standard normal quantile")
    axes[0][0].set_ylabel("conditional mode")
    return fig


def plot_residual_spread(
    residuals: object,
    groups: object,
    *,
    sigma: float | None = None,
    xlabel: str = "group, ordered by the SD of its residuals",
    ylabel: str = "residual",
) -> Figure:
    r"""Box plots of the residuals of each group, ordered by their SD.

    Under the model every group's residuals share one SD; the boxes should have similar
    heights with no trend from left to right.

    Parameters
    ----------
    residuals
        Residuals.
    groups
        Group label of each residual, same length.
    sigma
        Estimated residual SD; if given, lines at :math:`\pm 2\sigma` are drawn.
    xlabel, ylabel
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    r = _finite_vector("residuals", residuals)
    labels = pd.Series(np.asarray(groups)).astype(str)
    if labels.size != r.size:
        raise ValueError(f"residuals and groups differ in length ({r.size} and {labels.size})")
    if sigma is not None:
        sigma = check_positive("sigma", sigma)
    frame = pd.DataFrame({"r": r, "g": labels.to_numpy()})
    spread = frame.groupby("g")["r"].std().sort_values(kind="stable")
    if spread.isna().any():
        raise ValueError("every group needs at least two residuals")
    order = list(spread.index)
    fig, ax = plt.subplots(figsize=(7.3, 4.0), layout="constrained")
    boxes = [frame.loc[frame["g"] == g, "r"].to_numpy() for g in order]
    ax.boxplot(
        boxes,
        positions=np.arange(len(order)),
        widths=0.6,
        showfliers=False,
        medianprops={"color": MODEL_COLOR, "lw": 1.6},
        boxprops={"color": "#2c3e50"},
        whiskerprops={"color": "#2c3e50"},
        capprops={"color": "#2c3e50"},
    )
    for i, values in enumerate(boxes):
        ax.scatter(
            np.full(values.size, float(i)), values, s=9, color="#2c3e50", alpha=0.45, zorder=3
        )
    ax.axhline(0.0, color="black", lw=0.7)
    handles = []
    if sigma is not None:
        for sign in (-1, 1):
            ax.axhline(sign * 2 * sigma, color=OWN_COLOR, lw=1.0, ls="--")
        handles.append(Line2D([], [], color=OWN_COLOR, lw=1.0, ls="--", label=r"$\pm 2\hat\sigma$"))
    ax.set_xticks(np.arange(len(order)), order)
    ax.tick_params(axis="x", labelsize=9, rotation=90 if len(order) > 24 else 0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if handles:
        ax.legend(handles=handles, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig
