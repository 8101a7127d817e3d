"""Figures for the online-prediction chapter (see :mod:`analysis.models.online`).

Every function returns the :class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.models.online import BUCKETS, RidgeFit
from analysis.plots.style import figure_axes, legend_above
from analysis.validation import require_columns

__all__ = [
    "METHOD_COLORS",
    "plot_traffic",
    "plot_rmse_by_bucket",
    "plot_rmse_panels",
    "plot_ridge_cv",
]

#: One colour per prediction method, shared by the chapter's figures.
METHOD_COLORS: dict[str, str] = {
    "complete pooling": "#7f8c8d",
    "no pooling": "#c0392b",
    "partial pooling (BLUP)": "#2471a3",
    "ridge (CV)": "#d68910",
    "Bayesian posterior mean": "#7d3c98",
}


def plot_traffic(train: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Histogram of training observations per unit, on a logarithmic axis.

    Parameters
    ----------
    train
        Training frame with a ``unit`` column.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(train, ["unit"], argname="train")
    counts = train["unit"].value_counts().to_numpy()
    fig, ax = figure_axes(ax, (7.0, 3.6))
    bins = np.logspace(0, np.log10(counts.max() + 1), 30)
    ax.hist(counts, bins=bins, color="#5d6d7e", edgecolor="white")
    ax.set_xscale("log")
    ax.set_xlabel("Training observations per unit (log scale)")
    ax.set_ylabel("Number of units")
    ax.set_title("Most units are tiny, a few are huge")
    fig.tight_layout()
    return fig


def plot_rmse_by_bucket(
    summary: pd.DataFrame,
    *,
    methods: list[str] | None = None,
    reference: str | None = None,
    title: str | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Plot held-out RMSE by traffic bucket, one line per method, with ±2 SE bars over seeds.

    Parameters
    ----------
    summary
        Output of :func:`analysis.studies.prediction.summarise` (columns ``method``, ``bucket``,
        ``rmse``, ``se``). The ``overall`` bucket is not drawn.
    methods
        Methods to draw, in order (default: all).
    reference
        If the summary holds RMSE ratios (:func:`analysis.studies.prediction.relative_rmse`),
        the method they are relative to: it labels the axis and draws a line at 1.
    title
        Axes title (drawn above the legend).
    legend
        Draw the legend, in a row above the axes where no line can cross it.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(summary, ["method", "bucket", "rmse", "se"], argname="summary")
    data = summary[summary["bucket"].astype(str) != "overall"].copy()
    data["bucket"] = data["bucket"].astype(str)
    names = methods or [str(m) for m in pd.unique(data["method"].astype(str))]
    unknown = [m for m in names if m not in set(data["method"].astype(str))]
    if unknown:
        raise ValueError(f"methods {unknown} are not in summary")
    buckets = [b for b in BUCKETS if b in set(data["bucket"])]
    fig, ax = figure_axes(ax, (7.3, 4.2))
    width = 0.7 / max(len(names), 1)
    for k, name in enumerate(names):
        rows = data[data["method"].astype(str) == name].set_index("bucket").reindex(buckets)
        x = np.arange(len(buckets)) + (k - (len(names) - 1) / 2) * width
        ax.errorbar(
            x,
            rows["rmse"],
            yerr=2 * rows["se"].fillna(0.0),
            fmt="o-",
            ms=4,
            lw=1.2,
            capsize=2,
            color=METHOD_COLORS.get(name),
            label=name,
        )
    ax.set_xticks(range(len(buckets)), buckets)
    ax.set_xlabel("Training observations of the unit")
    if reference is None:
        ax.set_ylabel("Held-out RMSE")
    else:
        ax.axhline(1.0, color="black", lw=0.8)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_ylabel(f"RMSE / RMSE of\n{reference}")
    if title:
        ax.set_title(title)
    if legend:
        legend_above(ax, ncol=min(len(names), 2))
    if fig.get_layout_engine() is None:  # not a panel of a constrained figure
        fig.tight_layout()
    return fig


def plot_rmse_panels(
    summary: pd.DataFrame,
    relative: pd.DataFrame,
    *,
    reference: str,
    methods: list[str] | None = None,
) -> Figure:
    """Held-out RMSE by bucket (top) and relative to ``reference`` (bottom), stacked.

    Two :func:`plot_rmse_by_bucket` panels, one above the other so that both fit the book's
    text column, with one legend above them.

    Parameters
    ----------
    summary
        RMSEs from :func:`analysis.studies.prediction.summarise`.
    relative
        RMSE ratios, :func:`analysis.studies.prediction.summarise` of
        :func:`analysis.studies.prediction.relative_rmse`.
    reference
        The method the ratios are relative to.
    methods
        Methods to draw, in order (default: all).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.3, 7.2), sharex=True, layout="constrained")
    plot_rmse_by_bucket(summary, methods=methods, title="Held-out RMSE", legend=False, ax=top)
    plot_rmse_by_bucket(
        relative,
        methods=methods,
        reference=reference,
        legend=False,
        title=f"Relative to {reference}, paired by seed",
        ax=bottom,
    )
    top.set_xlabel("")
    top.tick_params(labelbottom=True)
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 2), frameon=False)
    return fig


def plot_ridge_cv(
    ridge: RidgeFit, *, mixed_penalty: float | None = None, ax: Axes | None = None
) -> Figure:
    r"""Plot the cross-validated error against the ridge penalty, with the chosen penalties.

    Parameters
    ----------
    ridge
        A fit from :func:`analysis.models.online.fit_ridge_cv` (it carries ``cv_curve``).
    mixed_penalty
        The mixed model's :math:`\hat\sigma_e^2 / \hat\sigma_a^2`, drawn as a second line.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if ridge.cv_curve is None:
        raise ValueError("ridge must come from fit_ridge_cv (it has no cv_curve)")
    fig, ax = figure_axes(ax, (6.5, 3.8))
    curve = ridge.cv_curve
    ax.plot(curve.index, curve.to_numpy(), color="#5d6d7e", lw=1.5)
    ax.set_xscale("log")
    ax.axvline(
        ridge.alpha,
        color=METHOD_COLORS["ridge (CV)"],
        lw=1.5,
        label=f"chosen by cross-validation ({ridge.alpha:.2f})",
    )
    if mixed_penalty is not None:
        ax.axvline(
            mixed_penalty,
            color=METHOD_COLORS["partial pooling (BLUP)"],
            lw=1.5,
            ls="--",
            label=f"learned by REML ({mixed_penalty:.2f})",
        )
    ax.set_xlabel(r"Ridge penalty $\lambda$ (log scale)")
    ax.set_ylabel("Cross-validated MSE")
    legend_above(ax)
    fig.tight_layout()
    return fig
