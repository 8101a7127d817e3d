"""Figures of the crossed random-effects chapters (InstEval): the data, the algebra, the errors.

Every function returns the :class:`matplotlib.figure.Figure` it drew on. The caterpillar and
shrinkage plots of these chapters are the general ones of :mod:`analysis.plots.mixed`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.datasets.insteval import per_group_counts, rating_distribution
from analysis.models.metrics import rmse
from analysis.plots.style import figure_axes, legend_above
from analysis.validation import check_positive, require_columns

__all__ = ["plot_ratings_overview", "plot_sparsity", "plot_residual_histogram"]


def plot_ratings_overview(data: pd.DataFrame, response: str = "y") -> Figure:
    """Three panels: the distribution of ratings, ratings per student, ratings per instructor.

    Parameters
    ----------
    data
        InstEval-like data with columns ``response``, ``s`` and ``d``.
    response
        The rating column.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(data, [response, "s", "d"])
    # Sized for the book's text column (about 7.5 in at 100 dpi): three narrow panels.
    fig, axes = plt.subplots(1, 3, figsize=(7.3, 3.0), layout="constrained")
    dist = rating_distribution(data, response)
    axes[0].bar(dist.index.astype(str), dist["share"], color="#4c72b0")
    axes[0].set(xlabel="rating", ylabel="share of ratings", title="Ratings")
    for ax, group, label in [(axes[1], "s", "student"), (axes[2], "d", "instructor")]:
        counts = per_group_counts(data, group)
        ax.hist(counts, bins=40, color="#55a868")
        median = float(counts.median())
        ax.axvline(median, color="black", lw=1, ls="--")
        # Named in the empty top right corner rather than in a legend the bars could cross.
        ax.text(
            0.97, 0.97, "dashed: median", transform=ax.transAxes, ha="right", va="top", fontsize=9
        )
        ax.set(xlabel=f"ratings per {label}", ylabel=f"{label}s", title=f"Per {label}")
    axes[2].set_yscale("log")
    return fig


def plot_sparsity(
    crossprod: object, schur: object, labels: tuple[str, str] | None = None
) -> Figure:
    """Two spy plots: the random-effect cross products and the Schur complement that remains.

    Parameters
    ----------
    crossprod
        :math:`Z'Z` (e.g. :func:`analysis.models.crossed.crossprod_pattern`), any sparse matrix.
    schur
        The pattern of the Schur complement
        (:meth:`analysis.models.crossed.ProfiledDeviance.schur_pattern`).
    labels
        Panel titles.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    titles = labels or ("Z'Z: all random effects", "after eliminating the students")
    # Sized for the book's text column (about 7.5 in at 100 dpi): two square panels.
    fig, axes = plt.subplots(1, 2, figsize=(7.3, 4.2), layout="constrained")
    for ax, mat, title in zip(axes, (crossprod, schur), titles, strict=True):
        n_rows = mat.shape[0]  # type: ignore[attr-defined]
        density = mat.nnz / float(n_rows) ** 2  # type: ignore[attr-defined]
        ax.spy(mat, markersize=0.1, color="#1f3b73", rasterized=True)
        ax.set_title(
            f"{title}\n{n_rows:,} x {n_rows:,}, {100 * density:.1f}% non-zero", fontsize=10
        )
        ax.locator_params(nbins=4)
        ax.tick_params(labelsize=9)
    return fig


def plot_residual_histogram(
    residuals: dict[str, np.ndarray],
    *,
    bins: int = 40,
    normal_sd: float | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Histograms of held-out residuals, one per method, with each RMSE in the legend.

    Parameters
    ----------
    residuals
        Mapping from a label (e.g. "REML mixed model") to residuals.
    bins
        Number of bins.
    normal_sd
        If given, overlay the normal density with mean 0 and this SD (e.g. the fitted
        residual SD) for comparison.
    title
        Axes title.
    ax
        Axes to draw on; a new figure if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if not residuals:
        raise ValueError("residuals must hold at least one labelled array")
    fig, ax = figure_axes(ax, (7.0, 3.8))
    arrays = {k: np.asarray(v, dtype=float) for k, v in residuals.items()}
    lim = max(float(np.abs(a).max()) for a in arrays.values())
    edges = np.linspace(-lim, lim, bins + 1)
    for label, r in arrays.items():
        ax.hist(r, bins=edges, density=True, alpha=0.55, label=f"{label} (RMSE {rmse(r):.3f})")
    if normal_sd is not None:
        sd = check_positive("normal_sd", normal_sd)
        grid = np.linspace(-lim, lim, 400)
        density = np.exp(-0.5 * (grid / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        ax.plot(grid, density, color="black", lw=1.2, label=f"N(0, {sd:.3f}²)")
    ax.set(xlabel="held-out residual (rating minus prediction)", ylabel="density")
    if title:
        ax.set_title(title)
    legend_above(ax)
    return fig
