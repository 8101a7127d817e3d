"""Figures of the random-slope chapters: bow effects, coverage, the LRT's null, residual spread.

The studies are in :mod:`analysis.studies.coverage` and :mod:`analysis.models.slopes`; every
function here returns the :class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from analysis.models.slopes import (
    BootstrapLRT,
    ResidualSpreadBootstrap,
    archer_bow_differences,
    chi2_mixture_sf,
)
from analysis.plots.style import figure_legend_above
from analysis.studies.coverage import CoverageStudy
from analysis.validation import check_level, check_positive_int


def plot_archer_bow_effects(panels: Mapping[str, pd.DataFrame], *, level: float = 0.95) -> Figure:
    """Each archer's own bow difference against their skill, one panel per data set.

    Parameters
    ----------
    panels
        Panel title to archer data (``Distance``, ``Bow``, ``Name``).
    level
        Coverage of the grey band: where the archers' differences would fall if the bow cost
        every archer the same (the mean difference, plus or minus shot noise).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    level = check_level(level)
    if not panels:
        raise ValueError("panels must name at least one data set")
    z = float(stats.norm.ppf(0.5 + level / 2))
    fig, axes = plt.subplots(1, len(panels), figsize=(7.4, 3.8), sharey=True, squeeze=False)
    for ax, (title, data) in zip(axes[0], panels.items(), strict=True):
        diff = archer_bow_differences(data)
        centre = float(diff["difference"].mean())
        half = z * float(diff["noise_se"].mean())
        xs = np.linspace(diff["mean"].min() - 5, diff["mean"].max() + 5, 2)
        ax.fill_between(
            xs,
            centre - half,
            centre + half,
            color="#d5d8dc",
            lw=0,
            label=f"shot noise alone ({level:.0%})",
        )
        ax.axhline(centre, color="#566573", lw=1.0)
        outside = (diff["difference"] - centre).abs() > half
        ax.scatter(
            diff.loc[~outside, "mean"],
            diff.loc[~outside, "difference"],
            s=18,
            color="#2e86c1",
            label="archer, inside the band",
        )
        ax.scatter(
            diff.loc[outside, "mean"],
            diff.loc[outside, "difference"],
            s=22,
            color="#b03a2e",
            marker="D",
            label="archer, outside",
        )
        ax.set_xlim(xs[0], xs[1])
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("Archer's mean distance (m)")
    axes[0, 0].set_ylabel("Southwood minus Northwood (m)")
    figure_legend_above(fig, axes[0, 0], top=0.92)
    return fig


def plot_coverage(study: CoverageStudy, *, n_show: int = 60) -> Figure:
    """Draw the first ``n_show`` Wald intervals of each model, one panel per model.

    Parameters
    ----------
    study
        The result of :func:`coverage_study`.
    n_show
        Replications to draw per model.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    n_show = check_positive_int("n_show", n_show)
    models = list(pd.unique(study.intervals["model"]))
    summary = study.summary()
    fig, axes = plt.subplots(1, len(models), figsize=(7.4, 4.6), sharex=True, squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        sub = study.intervals[study.intervals["model"] == model].head(n_show)
        y = np.arange(len(sub))
        for covers, color, label in ((True, "#5d6d7e", "covers"), (False, "#c0392b", "misses")):
            rows = (sub["covers"] == covers).to_numpy()
            ax.hlines(
                y[rows],
                sub["lower"].to_numpy()[rows],
                sub["upper"].to_numpy()[rows],
                color=color,
                lw=1.6,
                label=f"interval {label} the truth",
            )
            ax.plot(sub["estimate"].to_numpy()[rows], y[rows], "o", ms=2.5, color=color)
        ax.axvline(study.truth, color="black", lw=1.2, ls="--", label="true bow effect")
        cov = summary.loc[model, "coverage"]
        ax.set_title(f"{model}\ncovers in {cov:.0%} of {study.n_reps}", fontsize=10)
        ax.set_xlabel("Southwood effect (m)")
        ax.set_ylim(-1, len(sub))
        ax.set_yticks([])
    axes[0, 0].set_ylabel(f"First {n_show} simulated experiments")
    figure_legend_above(fig, axes[0, 0], top=0.93)
    return fig


def plot_lrt_null(boot: BootstrapLRT, *, alpha: float = 0.05) -> Figure:
    """Draw the bootstrap null distribution of the LRT statistic and the two references.

    The left panel is a histogram of the bootstrap statistics with the two reference
    densities (the mixture's atom, if any, is not drawn); the right panel shows tail
    probabilities :math:`P(T > t)` on a log scale, where a test's size can be read off.

    Parameters
    ----------
    boot
        The result of :func:`bootstrap_lrt`.
    alpha
        Level whose critical values are marked.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    alpha = check_level(alpha, "alpha")
    stats_sorted = np.sort(boot.statistics)
    top = max(float(stats.chi2.isf(0.002, boot.df)), float(stats_sorted[-1]))
    grid = np.linspace(1e-3, top, 400)
    refs: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
        f"naive χ²({boot.df})": (lambda t: stats.chi2.sf(t, boot.df), "#b03a2e"),
        f"50:50 mixture of χ²({boot.df - 1}) and χ²({boot.df})": (
            lambda t: np.asarray(chi2_mixture_sf(t, boot.df - 1, boot.df)),
            "#1e8449",
        ),
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.4, 3.8))
    left.hist(
        boot.statistics,
        bins=np.linspace(0, top, 31),
        density=True,
        color="#aeb6bf",
        label="bootstrap",
    )
    left.plot(grid, stats.chi2.pdf(grid, boot.df), color="#b03a2e", lw=1.8)
    mix_pdf = 0.5 * stats.chi2.pdf(grid, boot.df) + (
        0.5 * stats.chi2.pdf(grid, boot.df - 1) if boot.df > 1 else 0.0
    )
    left.plot(grid, mix_pdf, color="#1e8449", lw=1.8)
    left.set_ylim(0, min(1.2, float(np.max(mix_pdf[grid > 0.2])) * 1.5))
    left.set_xlabel("LRT statistic")
    left.set_ylabel("Density")
    left.set_title("Null distribution", fontsize=11)
    empirical = 1.0 - np.arange(1, stats_sorted.size + 1) / stats_sorted.size
    right.step(
        stats_sorted,
        np.maximum(empirical, 0.5 / stats_sorted.size),
        where="post",
        color="#566573",
        lw=2.0,
        label=f"bootstrap ({boot.n_boot} samples)",
    )
    for label, (sf, color) in refs.items():
        right.plot(grid, sf(grid), color=color, lw=1.8, label=label)
    right.axhline(alpha, color="black", lw=0.8, ls=":")
    right.set_yscale("log")
    right.set_ylim(max(0.5 / stats_sorted.size, 1e-3), 1.0)
    right.set_xlim(0, top)
    right.set_xlabel("LRT statistic t")
    right.set_ylabel("P(statistic > t)")
    right.set_title("Tail probabilities", fontsize=11)
    handles, labels = right.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=3,
        frameon=False,
        fontsize=9,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def plot_residual_spread_bands(
    boot: ResidualSpreadBootstrap,
    *,
    sigma: float | None = None,
    level: float = 0.95,
    xlabel: str = "rank of the group's residual SD (1 = smallest)",
    ylabel: str = "residual SD",
) -> Figure:
    """Draw the groups' sorted residual SDs inside their parametric-bootstrap bands.

    Parameters
    ----------
    boot
        The result of :func:`analysis.models.slopes.residual_spread_bootstrap`.
    sigma
        The model's residual SD; if given, a horizontal line marks it.
    level
        Coverage of each order statistic's band.
    xlabel, ylabel
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    level = check_level(level)
    if boot.n_boot < 2:
        raise ValueError(f"the bootstrap needs at least two samples, got {boot.n_boot}")
    bands = boot.bands(level)
    ranks = bands.index.to_numpy()
    fig, ax = plt.subplots(figsize=(7.4, 3.8))
    ax.fill_between(
        ranks,
        bands["lower"],
        bands["upper"],
        step="mid",
        color="#d5d8dc",
        lw=0,
        label=f"{level:.0%} of bootstrap samples",
    )
    ax.plot(ranks, bands["median"], color="#7f8c8d", lw=1.2, ls="--", label="bootstrap median")
    inside = ~bands["outside"].to_numpy(bool)
    ax.scatter(
        ranks[inside],
        bands["observed"][inside],
        color="#2e86c1",
        zorder=3,
        label="observed, inside its band",
    )
    ax.scatter(
        ranks[~inside],
        bands["observed"][~inside],
        color="#b03a2e",
        marker="D",
        zorder=3,
        label="observed, outside its band",
    )
    for rank, row in bands.iterrows():
        ax.annotate(
            str(row["group"]),
            (rank, row["observed"]),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=7,
            color="#566573",
        )
    if sigma is not None:
        ax.axhline(float(sigma), color="black", lw=0.8, ls=":", label="model's residual SD")
    ax.set_xticks(ranks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    figure_legend_above(fig, ax, top=0.84, ncol=3)
    return fig
