"""Held-out prediction error of the online prediction methods, over simulated services.

:func:`replicate` simulates one online service per seed
(:func:`analysis.datasets.online.simulate_online`), runs every prediction method of
:mod:`analysis.models.online` on it and scores them with
:func:`analysis.models.online.evaluate`; :func:`relative_rmse` and :func:`summarise` summarise
those replicates, by method and traffic bucket.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.datasets.online import simulate_online
from analysis.models.online import Method, default_methods, evaluate
from analysis.validation import require_columns

__all__ = ["replicate", "relative_rmse", "summarise"]


def replicate(
    seeds: Sequence[int],
    *,
    methods: Callable[[int], Mapping[str, Method]] = default_methods,
    **simulation: object,
) -> pd.DataFrame:
    """Simulate once per seed, predict with every method and evaluate.

    Parameters
    ----------
    seeds
        One simulation per seed.
    methods
        Function from a seed to the methods to run (default
        :func:`analysis.models.online.default_methods`).
    **simulation
        Keyword arguments for :func:`analysis.datasets.online.simulate_online` (other than
        ``seed``).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`analysis.models.online.evaluate` for every seed, with a ``seed`` column.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    frames = []
    for seed in seeds:
        sim = simulate_online(seed=seed, **simulation)  # type: ignore[arg-type]
        preds = {name: m(sim.train, sim.test) for name, m in methods(seed).items()}
        frames.append(evaluate(sim.train, sim.test, preds).assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def relative_rmse(results: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Divide every RMSE by the reference method's RMSE for the same seed and bucket.

    Summarising the ratios (:func:`summarise`) gives paired comparisons: the seed-to-seed
    variation that all methods share cancels, so the standard errors measure how reliably one
    method beats another, not how much the RMSE itself varies between simulated services.

    Parameters
    ----------
    results
        Output of :func:`replicate` (or rows of :func:`analysis.models.online.evaluate` with a
        ``seed`` column).
    reference
        The method to divide by; it must be one of ``results["method"]``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``results`` whose ``rmse`` column holds the ratios.
    """
    require_columns(results, ["method", "bucket", "rmse", "seed"], argname="results")
    if reference not in set(results["method"]):
        raise ValueError(f"reference must be one of the methods, got {reference!r}")
    base = results[results["method"] == reference].set_index(["seed", "bucket"])["rmse"]
    key = pd.MultiIndex.from_frame(results[["seed", "bucket"]].astype({"bucket": str}))
    base.index = base.index.set_levels(base.index.levels[1].astype(str), level=1)
    out = results.copy()
    out["rmse"] = results["rmse"].to_numpy() / base.reindex(key).to_numpy()
    return out


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean RMSE over seeds with its standard error, by method and bucket.

    Parameters
    ----------
    results
        Output of :func:`replicate`.

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``bucket``, ``rmse`` (mean over seeds), ``se`` (SD over seeds
        divided by the square root of their number; NaN for a single seed), ``n_seeds`` and
        ``n_test`` (mean test rows per seed). Methods keep their order of appearance.
    """
    require_columns(results, ["method", "bucket", "rmse", "seed", "n_test"], argname="results")
    order = list(pd.unique(results["method"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SD of a single seed is NaN
        out = (
            results.groupby(["method", "bucket"], observed=True, sort=False)
            .agg(
                rmse=("rmse", "mean"),
                sd=("rmse", "std"),
                n_seeds=("seed", "nunique"),
                n_test=("n_test", "mean"),
            )
            .reset_index()
        )
    out["se"] = out["sd"] / np.sqrt(out["n_seeds"])
    out["method"] = pd.Categorical(out["method"], categories=order, ordered=True)
    out = out.sort_values(["method", "bucket"]).reset_index(drop=True)
    return out[["method", "bucket", "rmse", "se", "n_seeds", "n_test"]]
