"""Figures of the Bayesian chapters: posteriors against REML, priors, funnels, diagnostics.

The models and the sampler are in :mod:`analysis.bayes`; every function here draws from their
results (ArviZ ``DataTree`` posteriors, draws, summary tables) and returns the
:class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats
from xarray import DataTree

from analysis.bayes import HYPERPARAMETERS, SigmaPrior, posterior_means
from analysis.plots.style import figure_axes, legend_above
from analysis.validation import check_positive_int, finite_array, require_columns

#: Colours of the priors in :func:`plot_prior_sensitivity`, in the order the draws are given.
PRIOR_COLORS: tuple[str, ...] = ("#2e86c1", "#b03a2e", "#27ae60", "#8e44ad")


def plot_sd_posterior_vs_interval(
    draws: np.ndarray,
    interval: tuple[float, float, float],
    *,
    truth: float | None = None,
    label: str = r"$\sigma_a$ (m)",
    interval_label: str = "95% profile-likelihood interval",
    ax: Axes | None = None,
) -> Figure:
    """Plot a posterior density of an SD above a frequentist interval for it.

    Parameters
    ----------
    draws
        Posterior draws of the SD.
    interval
        ``(estimate, lower, upper)`` of the frequentist interval.
    truth
        The value the data were simulated with, drawn as a dotted line if given.
    label
        Axis label.
    interval_label
        Legend label of the interval.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    draws = finite_array("draws", np.ravel(draws), min_size=2)
    est, lo, hi = (float(v) for v in interval)
    if not lo <= est <= hi:
        raise ValueError(f"interval must be (estimate, lower, upper) in order, got {interval}")
    fig, ax = figure_axes(ax, (7.0, 3.6))
    left, right = min(draws.min(), lo), max(draws.max(), hi)
    # 10% beyond the left end and 5% beyond the right, in the value's own size (for a
    # positive SD this is [0.9 x left, 1.05 x right]; it also works for a correlation < 0)
    grid = np.linspace(left - 0.1 * abs(left), right + 0.05 * abs(right), 400)
    density = stats.gaussian_kde(draws)(grid)
    ax.fill_between(grid, density, color="#2e86c1", alpha=0.25)
    ax.plot(grid, density, color="#2e86c1", lw=2, label="posterior density")
    q_lo, q_hi = np.quantile(draws, [0.025, 0.975])
    y_post, y_prof = -0.06 * density.max(), -0.14 * density.max()
    ax.plot(
        [q_lo, q_hi],
        [y_post, y_post],
        color="#2e86c1",
        lw=4,
        solid_capstyle="butt",
        label="95% credible interval",
    )
    ax.plot([np.median(draws)], [y_post], "o", color="white", mec="#2e86c1", ms=7)
    ax.plot(
        [lo, hi],
        [y_prof, y_prof],
        color="#b03a2e",
        lw=4,
        solid_capstyle="butt",
        label=interval_label,
    )
    ax.plot([est], [y_prof], "o", color="white", mec="#b03a2e", ms=7)
    if truth is not None:
        ax.axvline(float(truth), color="black", ls=":", lw=1.2, label="simulated value")
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.set_yticks([])
    ax.legend(frameon=False, loc="upper right", fontsize=9)
    fig.tight_layout()
    return fig


def plot_blups_vs_posterior(
    blups: pd.Series, posterior: pd.DataFrame, *, ax: Axes | None = None
) -> Figure:
    """Scatter BLUPs against posterior means of the archer effects, with 95% intervals.

    Parameters
    ----------
    blups
        BLUPs by archer (e.g. :attr:`analysis.models.mixed.MixedFit.blups`).
    posterior
        A table from :func:`posterior_means` (columns ``mean``, ``lower``, ``upper``).
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(posterior, ["mean", "lower", "upper"], argname="posterior")
    common = [str(k) for k in blups.index if str(k) in posterior.index]
    if len(common) != len(blups) or len(common) != len(posterior):
        raise ValueError("blups and posterior must be indexed by the same archers")
    b = pd.Series(blups.to_numpy(float), index=[str(k) for k in blups.index]).loc[common]
    p = posterior.loc[common]
    fig, ax = figure_axes(ax, (5.2, 5.0))
    ax.errorbar(
        b,
        p["mean"],
        yerr=[p["mean"] - p["lower"], p["upper"] - p["mean"]],
        fmt="o",
        ms=4,
        color="#34495e",
        ecolor="#bdc3c7",
        capsize=0,
    )
    lim = [min(b.min(), p["lower"].min()) - 2, max(b.max(), p["upper"].max()) + 2]
    ax.plot(lim, lim, color="#b03a2e", lw=1, label="equal")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_aspect("equal")
    ax.set_xlabel("BLUP (m)")
    ax.set_ylabel("posterior mean with 95% interval (m)")
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def plot_ess_by_form(table: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Bar chart of the smallest bulk ESS per experiment and parameterisation.

    Parameters
    ----------
    table
        Columns ``experiment``, ``form`` (``"centred"``/``"non-centred"``), ``min_ess_bulk``
        and ``divergences``; one row per run.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with the divergence count written above each bar.
    """
    require_columns(table, ["experiment", "form", "min_ess_bulk", "divergences"], argname="table")
    experiments = list(pd.unique(table["experiment"]))
    forms = ["centred", "non-centred"]
    colors = {"centred": "#2e86c1", "non-centred": "#e67e22"}
    fig, ax = figure_axes(ax, (7.3, 3.8))
    width = 0.38
    for k, form in enumerate(forms):
        sub = table[table["form"] == form].set_index("experiment").reindex(experiments)
        x = np.arange(len(experiments)) + (k - 0.5) * width
        ax.bar(x, sub["min_ess_bulk"], width=width, color=colors[form], label=form)
        for xi, ess, div in zip(x, sub["min_ess_bulk"], sub["divergences"], strict=True):
            if np.isfinite(ess):
                ax.annotate(
                    f"{int(div)} div.",
                    (xi, ess),
                    ha="center",
                    va="bottom",
                    fontsize=9,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    ax.set_yscale("log")
    ax.axhline(400, color="black", ls="--", lw=1, label="ESS 400")
    ax.set_xticks(np.arange(len(experiments)), experiments, fontsize=9)
    ax.set_ylabel("smallest bulk ESS\n(hyperparameters)")
    ax.legend(frameon=False, fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    fig.tight_layout()
    return fig


def plot_prior_sensitivity(
    draws: dict[str, np.ndarray],
    *,
    priors: dict[str, SigmaPrior] | None = None,
    title: str | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Overlay posterior densities of an SD under several priors (priors dashed if given).

    Parameters
    ----------
    draws
        Posterior draws by prior label.
    priors
        The priors by the same labels; their densities are drawn dashed, in the same colour.
    title
        Axes title.
    legend
        Draw a legend above the axes (off when several panels share one legend).
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if not draws:
        raise ValueError("draws must hold at least one set of draws")
    fig, ax = figure_axes(ax, (7.0, 3.6))
    upper = max(float(np.quantile(d, 0.999)) for d in draws.values()) * 1.1
    grid = np.linspace(1e-3, upper, 400)
    for k, (lab, d) in enumerate(draws.items()):
        color = PRIOR_COLORS[k % len(PRIOR_COLORS)]
        ax.plot(grid, _positive_kde(d, grid), color=color, lw=2, label=f"posterior, prior {lab}")
        if priors is not None and lab in priors:
            ax.plot(grid, _sigma_prior_pdf(priors[lab], grid), color=color, lw=1, ls="--")
    ax.set_xlabel(r"$\sigma_a$ (m)")
    ax.set_ylabel("density")
    ax.set_yticks([])
    ax.set_xlim(0, upper)
    if title:
        ax.set_title(title)
    if legend:
        legend_above(ax, ncol=1)
    if fig.get_layout_engine() is None:  # not a panel of a constrained figure
        fig.tight_layout()
    return fig


def plot_prior_sensitivity_panels(
    draws: dict[str, dict[str, np.ndarray]],
    *,
    priors: dict[str, SigmaPrior] | None = None,
) -> Figure:
    """Posterior densities of an SD under several priors, one panel per experiment, stacked.

    The panels are stacked vertically to fit the book's text column, and share one legend
    above them: a colour per prior, solid lines for the posteriors, dashed for the priors.

    Parameters
    ----------
    draws
        For each experiment (the panel titles), posterior draws by prior label; every
        experiment must use the same prior labels.
    priors
        The priors by label; their densities are drawn dashed.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from matplotlib.lines import Line2D

    if not draws:
        raise ValueError("draws must hold at least one experiment")
    labels = list(next(iter(draws.values())))
    for case, by_prior in draws.items():
        if list(by_prior) != labels:
            raise ValueError(f"draws[{case!r}] has priors {list(by_prior)}, expected {labels}")
    fig, axes = plt.subplots(
        len(draws), 1, figsize=(7.3, 0.6 + 2.7 * len(draws)), squeeze=False, layout="constrained"
    )
    for ax, (case, by_prior) in zip(axes[:, 0], draws.items(), strict=True):
        plot_prior_sensitivity(by_prior, priors=priors, title=case, legend=False, ax=ax)
    colours = [
        Line2D([], [], color=PRIOR_COLORS[k % len(PRIOR_COLORS)], lw=2, label=lab)
        for k, lab in enumerate(labels)
    ]
    styles = [Line2D([], [], color="black", lw=2, label="posterior")]
    if priors is not None:
        styles.append(Line2D([], [], color="black", lw=1, ls="--", label="prior"))
    # A legend fills column by column: interleave so that the priors' colours make the
    # first row and the two line styles the second.
    handles = []
    for k, handle in enumerate(colours):
        handles.append(handle)
        if k < len(styles):
            handles.append(styles[k])
    handles += styles[len(colours) :]
    fig.legend(handles=handles, loc="outside upper center", ncol=len(colours), frameon=False)
    return fig


def plot_funnel(
    idata: DataTree,
    *,
    archer: int = 0,
    title: str | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    r"""Scatter one archer's sampled coordinate against :math:`\log\sigma_a`, divergences red.

    The sampled coordinate is ``archer_mean`` minus ``mu`` (that is, :math:`\alpha_j`) in the
    centred form and ``z`` in the non-centred form: the variables NUTS actually moves in. A
    funnel (a neck at small :math:`\sigma_a`) in the centred form is what makes it diverge.

    Parameters
    ----------
    idata
        Posterior draws of a :func:`mixed_model` (with ``sample_stats.diverging``).
    archer
        Position of the archer to show.
    title
        Axes title.
    legend
        Draw a legend above the axes (off when several panels share one legend; the number
        of divergences then goes into the title).
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    post = idata.posterior
    if "sigma_a" not in post:
        raise ValueError("idata must come from mixed_model (it has no sigma_a)")
    if "z" in post:
        coord, xlabel = post["z"].isel(archer=archer), r"$z_j$ (sampled, non-centred)"
    else:
        coord, xlabel = post["alpha"].isel(archer=archer), r"$\alpha_j$ (sampled, centred)"
    x = coord.to_numpy().ravel()
    y = np.log(post["sigma_a"].to_numpy().ravel())
    div = idata.sample_stats["diverging"].to_numpy().ravel().astype(bool)
    fig, ax = figure_axes(ax, (4.5, 3.8))
    ax.scatter(x[~div], y[~div], s=4, alpha=0.25, color="#34495e", label="draw")
    ax.scatter(x[div], y[div], s=14, color="#e74c3c", label=f"divergent ({int(div.sum())})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"$\log \sigma_a$")
    n_div = int(div.sum())
    if legend:
        if title:
            ax.set_title(title)
        legend_above(ax)
    else:
        count = f"{n_div} divergent transition{'' if n_div == 1 else 's'}"
        ax.set_title(f"{title}\n{count}" if title else count)
    if fig.get_layout_engine() is None:  # not a panel of a constrained figure
        fig.tight_layout()
    return fig


def plot_funnels(fits: dict[str, DataTree], *, archer: int = 0) -> Figure:
    r"""Funnel plots (:func:`plot_funnel`) of several runs side by side, sharing the y axis.

    Sized for the book's text column, with one legend below the panels and each run's
    number of divergences in its panel title.

    Parameters
    ----------
    fits
        Posterior draws of :func:`mixed_model` runs by title (e.g. ``"centred"``).
    archer
        Position of the archer to show.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from matplotlib.lines import Line2D

    if not fits:
        raise ValueError("fits must hold at least one run")
    fig, axes = plt.subplots(
        1, len(fits), figsize=(7.3, 3.9), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, (title, idata) in zip(axes[0], fits.items(), strict=True):
        plot_funnel(idata, archer=archer, title=title, legend=False, ax=ax)
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    handles = [
        Line2D([], [], ls="", marker="o", ms=4, color="#34495e", alpha=0.5, label="draw"),
        Line2D([], [], ls="", marker="o", ms=6, color="#e74c3c", label="divergent transition"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    return fig


def _figure_of(plot_collection: Any) -> Figure:
    """Return the matplotlib figure behind an ArviZ ``PlotCollection``."""
    return plot_collection.viz["figure"].item()


def plot_rank_grid(
    idata: DataTree,
    var_names: tuple[str, ...] | list[str] | None = None,
    *,
    figsize: tuple[float, float] = (7.3, 5.0),
) -> Figure:
    """ArviZ's rank plot of scalar parameters, two panels a row, titles clear of the axes.

    ArviZ 1 draws, for each chain, the difference between the empirical CDF of the chain's
    fractional ranks and the uniform CDF; a flat band around zero means the chains agree, and
    each panel prints the p-value of ArviZ's multi-chain uniformity test.

    Parameters
    ----------
    idata
        Posterior draws (at least two chains).
    var_names
        Scalar variables to show; by default the :data:`HYPERPARAMETERS` present.
    figsize
        Figure size in inches (the default fits the book's text column).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if var_names is None:
        var_names = [v for v in HYPERPARAMETERS if v in idata.posterior]
    pc = az.plot_rank(
        idata,
        var_names=list(var_names),
        col_wrap=2,
        figure_kwargs={"figsize": figsize, "layout": "constrained"},
    )
    return _figure_of(pc)


def plot_effects_forest(
    idata: DataTree,
    var_name: str = "alpha",
    *,
    label: str = "archer effect (m)",
    ci_probs: tuple[float, float] = (0.5, 0.95),
    max_names: int = 20,
    unit_label: str = "archer",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Forest plot of a vector of effects, ranked by posterior mean, the largest on top.

    Each effect gets its posterior mean (a dot) and its inner (thick) and outer (thin)
    equal-tailed credible intervals. Up to ``max_names`` effects are labelled by name; beyond
    that names would crowd (fifty archers on a phone), so the vertical axis shows ranks.

    Parameters
    ----------
    idata
        Posterior draws.
    var_name
        A variable with one dimension besides chain and draw (the units, e.g. archers).
    label
        Label of the horizontal axis.
    ci_probs
        Probabilities of the inner (thick) and outer (thin) equal-tailed intervals.
    max_names
        Most units labelled by name; with more, ranks are shown instead.
    unit_label
        What a unit is, for the vertical axis label (``"archer"``).
    figsize
        Figure size in inches; by default the book's text column wide and about 0.09 inch a
        unit tall.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    check_positive_int("max_names", max_names)
    inner, outer = (float(p) for p in ci_probs)
    if not 0 < inner < outer < 1:
        raise ValueError(
            f"ci_probs must be (inner, outer) with 0 < inner < outer < 1, got {ci_probs!r}"
        )
    means = posterior_means(idata, var_name)["mean"].sort_values(ascending=False)
    post = idata.posterior[var_name]
    dim = next(d for d in post.dims if d not in ("chain", "draw"))
    stacked = post.stack(sample=("chain", "draw")).transpose(dim, "sample")
    draws = pd.DataFrame(stacked.to_numpy(), index=[str(v) for v in post[dim].to_numpy()])
    draws = draws.loc[means.index]
    n = len(means)
    if figsize is None:
        figsize = (7.0, max(3.0, 1.0 + 0.09 * n))
    fig, ax = figure_axes(None, figsize)
    pos = np.arange(n)[::-1]  # the largest mean on top
    for prob, width in ((outer, 1.0), (inner, 3.5)):
        lo, hi = np.quantile(draws.to_numpy(), [(1 - prob) / 2, (1 + prob) / 2], axis=1)
        ax.hlines(pos, lo, hi, color="#2e86c1", lw=width, label=f"{prob:.0%} credible interval")
    ax.plot(means.to_numpy(), pos, "o", ms=3.5, color="#1b4f72", label="posterior mean")
    ax.axvline(0.0, color="grey", lw=0.8)
    if n <= max_names:
        ax.set_yticks(pos, list(means.index), fontsize=9)
        ax.set_ylabel(unit_label)
    else:
        ranks = sorted({1, *range(10, n + 1, 10), n})
        ax.set_yticks([pos[r - 1] for r in ranks], [str(r) for r in ranks])
        ax.set_ylabel(f"{unit_label}, ranked by posterior mean")
    ax.set_ylim(-1, n)
    ax.set_xlabel(label)
    legend_above(ax, ncol=3)
    fig.tight_layout()
    return fig


def plot_predictive_check(
    idata: DataTree,
    *,
    num_samples: int = 100,
    figsize: tuple[float, float] = (7.0, 3.6),
) -> Figure:
    """ArviZ's posterior predictive check: replicated densities over the observed one.

    Parameters
    ----------
    idata
        Draws with ``posterior_predictive`` and ``observed_data`` groups
        (see :func:`posterior_predictive`).
    num_samples
        Replicated data sets drawn (thin lines); ArviZ picks them with a fixed seed of its
        own, so the figure is the same on every run.
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    check_positive_int("num_samples", num_samples)
    if "posterior_predictive" not in idata.children:
        raise ValueError("idata has no posterior_predictive group: call posterior_predictive")
    pc = az.plot_ppc_dist(
        idata,
        num_samples=num_samples,
        kind="kde",
        figure_kwargs={"figsize": figsize, "layout": "constrained"},
    )
    return _figure_of(pc)


def _positive_kde(draws: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Kernel density of positive draws, reflected at 0 so that no mass leaks below zero."""
    d = np.asarray(draws, dtype=float).ravel()
    kde = stats.gaussian_kde(np.concatenate([d, -d]))
    return 2.0 * kde(grid)


def _sigma_prior_pdf(prior: SigmaPrior, x: np.ndarray) -> np.ndarray:
    """Density of a :class:`SigmaPrior` on ``x`` (for plots)."""
    s = prior.scale
    if prior.family == "halfnormal":
        return stats.halfnorm.pdf(x, scale=s)
    if prior.family == "halfcauchy":
        return stats.halfcauchy.pdf(x, scale=s)
    if prior.family == "halfstudentt":
        return 2 * stats.t.pdf(x, df=3, scale=s) * (x >= 0)
    if prior.family == "exponential":
        return stats.expon.pdf(x, scale=s)
    if prior.family == "gamma":
        return stats.gamma.pdf(x, a=2.0, scale=s / 2.0)
    return stats.uniform.pdf(x, loc=0, scale=s)


def plot_loss(
    loss: np.ndarray, *, ax: object = None, window: int = 100, title: str | None = None
) -> object:
    """Plot ADVI's negative ELBO per iteration with a running mean (log scale).

    Parameters
    ----------
    loss
        The loss history (:attr:`AdviResult.loss`).
    ax
        Matplotlib axes to draw on (a new figure if ``None``).
    window
        Width of the running mean.
    title
        Axes title (drawn above the legend).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from analysis.plots.style import figure_axes, legend_above

    loss = np.asarray(loss, dtype=float)
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError("loss must be a non-empty 1-D array")
    window = check_positive_int("window", window)
    fig, ax = figure_axes(ax, (7.0, 3.6))
    it = np.arange(1, loss.size + 1)
    ax.plot(it, loss, color="0.75", lw=0.6, label="each iteration")
    if loss.size >= window:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(it[window - 1 :], smooth, color="C0", lw=1.6, label=f"mean of {window}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("negative ELBO")
    if title:
        ax.set_title(title)
    legend_above(ax)
    fig.tight_layout()
    return fig


def plot_effect_comparison(
    tables: dict[str, pd.DataFrame],
    pairs: Sequence[tuple[str, str]],
    *,
    titles: dict[str, str] | None = None,
) -> object:
    """Scatter one method's effects against another's, one row per factor.

    The grid fits the book's text column (about 7.5 in wide at 100 dpi): each column is one
    pair, named in its title ("y method against x method"); each row is one factor, named on
    the left; each panel prints the correlation of its two methods in a corner.

    Parameters
    ----------
    tables
        For each factor, a frame from :func:`effects_by_method`.
    pairs
        ``(x method, y method)`` pairs, one column of panels each.
    titles
        Row labels per factor (default: the factor name).

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = list(tables)
    width = min(7.3, 2.45 * len(pairs) + 0.4)
    fig, axes = plt.subplots(
        len(groups),
        len(pairs),
        figsize=(width, 2.3 * len(groups) + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for i, g in enumerate(groups):
        frame = tables[g]
        for j, (xm, ym) in enumerate(pairs):
            ax = axes[i, j]
            x, y = frame[xm].to_numpy(), frame[ym].to_numpy()
            size = 4 if len(frame) > 500 else (12 if len(frame) > 50 else 30)
            ax.scatter(x, y, s=size, alpha=0.5, lw=0)
            lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
            ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8, ls="--")
            ax.text(
                0.04,
                0.96,
                f"r = {np.corrcoef(x, y)[0, 1]:.3f}",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=9,
            )
            ax.locator_params(nbins=4)
            ax.tick_params(labelsize=9)
            if i == 0:
                ax.set_title(f"{ym}\nagainst {xm}", fontsize=10)
            if j == 0:
                ax.set_ylabel((titles or {}).get(g, g), fontsize=11, fontweight="bold")
    return fig
