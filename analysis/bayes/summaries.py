"""Summaries of posterior draws for the chapters: convergence, comparisons, means.

:func:`diagnostics` and :func:`convergence_summary` say whether a run can be trusted;
:func:`compare_samplers` and :func:`posterior_agreement` put runs side by side;
:func:`posterior_means` and :func:`draws_of` extract what the chapters print.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

import arviz as az
import numpy as np
import pandas as pd
from xarray import DataTree

from analysis.bayes.archers import HYPERPARAMETERS

__all__ = [
    "count_divergences",
    "diagnostics",
    "convergence_summary",
    "compare_samplers",
    "posterior_agreement",
    "posterior_means",
    "draws_of",
]


def count_divergences(idata: DataTree) -> int:
    """Return the number of divergent transitions after warm-up, over all chains.

    Samplers that have no notion of divergence (the Gibbs sampler of
    :func:`gibbs_mixed_model`) record no ``diverging`` statistic; they count 0.
    """
    if "sample_stats" not in idata.children or "diverging" not in idata.sample_stats:
        return 0
    return int(idata.sample_stats["diverging"].sum())


def diagnostics(
    idata: DataTree, var_names: tuple[str, ...] | list[str] | None = None
) -> pd.DataFrame:
    """Return r-hat, bulk and tail ESS of the scalar parameters, and divergences.

    Parameters
    ----------
    idata
        Posterior draws.
    var_names
        Variables to report; by default those of :data:`HYPERPARAMETERS` present.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable, columns ``mean``, ``sd``, ``r_hat``, ``ess_bulk``,
        ``ess_tail``; ``attrs["divergences"]`` holds the divergence count.
    """
    if var_names is None:
        var_names = [v for v in HYPERPARAMETERS if v in idata.posterior]
    table = az.summary(idata, var_names=list(var_names), kind="all", round_to="none")
    table = table[["mean", "sd", "r_hat", "ess_bulk", "ess_tail"]]
    table.attrs["divergences"] = count_divergences(idata)
    return table


def convergence_summary(
    idata: DataTree, var_names: tuple[str, ...] | list[str] | None = None
) -> dict[str, float]:
    """Return the few numbers that say whether a run can be trusted.

    Parameters
    ----------
    idata
        Posterior draws.
    var_names
        Variables to cover; by default the hyperparameters present (see :func:`diagnostics`).

    Returns
    -------
    dict
        ``divergences``, ``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, the variable
        with the smallest bulk ESS (``worst``), and ``sampling_seconds``.
    """
    table = diagnostics(idata, var_names)
    return {
        "divergences": table.attrs["divergences"],
        "max_r_hat": float(table["r_hat"].max()),
        "min_ess_bulk": float(table["ess_bulk"].min()),
        "min_ess_tail": float(table["ess_tail"].min()),
        "worst": str(table["ess_bulk"].idxmin()),
        "sampling_seconds": float(idata.posterior.attrs.get("sampling_seconds", np.nan)),
    }


def compare_samplers(
    fits: dict[str, DataTree],
    var_names: tuple[str, ...] | list[str] | None = None,
    *,
    count_compile: bool = False,
) -> pd.DataFrame:
    """Put several samplers' runs of one model side by side: means, r-hat, ESS per second.

    Parameters
    ----------
    fits
        Runs keyed by a label (e.g. ``{"NUTS": ..., "Gibbs": ...}``); each posterior must carry
        ``attrs["sampling_seconds"]`` (as :func:`sample` and :func:`gibbs_mixed_model` set).
    var_names
        Scalar variables to compare; by default :data:`HYPERPARAMETERS`.
    count_compile
        Add each run's ``attrs["compile_seconds"]`` (the compilation :func:`sample` paid for
        that run; a run without it, such as a Gibbs run in NumPy, compiled nothing) to its
        seconds, so that a sampler that must compile its model first is charged for it.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable, with columns ``"<label> mean"``, ``"<label> r_hat"``,
        ``"<label> ESS"`` (bulk) and ``"<label> ESS/s"`` (bulk ESS per second of sampling,
        plus compilation with ``count_compile``) for each run; ``attrs["seconds"]`` holds the
        seconds each run was charged.
    """
    if not fits:
        raise ValueError("fits must name at least one run")
    names = list(var_names) if var_names is not None else list(HYPERPARAMETERS)
    columns: dict[str, pd.Series] = {}
    charged: dict[str, float] = {}
    for label, idata in fits.items():
        seconds = idata.posterior.attrs.get("sampling_seconds")
        if seconds is None or not seconds > 0:
            raise ValueError(f"run {label!r} records no sampling_seconds")
        seconds = float(seconds)
        if count_compile:
            seconds += float(idata.posterior.attrs.get("compile_seconds", 0.0))
        charged[label] = seconds
        table = diagnostics(idata, names)
        columns[f"{label} mean"] = table["mean"]
        columns[f"{label} r_hat"] = table["r_hat"]
        columns[f"{label} ESS"] = table["ess_bulk"]
        columns[f"{label} ESS/s"] = table["ess_bulk"] / seconds
    out = pd.DataFrame(columns)
    out.attrs["seconds"] = charged
    return out


def posterior_agreement(
    first: DataTree, second: DataTree, var_names: list[str] | tuple[str, ...]
) -> pd.DataFrame:
    r"""Compare two posteriors of the same quantities, mean by mean, in Monte Carlo error units.

    Two correct samplers of one posterior give means that differ only by Monte Carlo error:
    the difference divided by :math:`\sqrt{\text{MCSE}_1^2 + \text{MCSE}_2^2}` is then
    roughly standard Normal, so values beyond 4 in absolute size mean two different posteriors.

    Parameters
    ----------
    first, second
        Posterior draws holding every variable of ``var_names`` (scalars).
    var_names
        The variables to compare.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable: ``mean_1``, ``mcse_1``, ``mean_2``, ``mcse_2``, ``difference``
        and ``z`` (difference in units of the combined Monte Carlo error).
    """
    names = list(var_names)
    if not names:
        raise ValueError("var_names must name at least one variable")
    for label, idata in (("first", first), ("second", second)):
        missing = [v for v in names if v not in idata.posterior]
        if missing:
            raise ValueError(f"the {label} posterior lacks {missing}")
    parts = []
    for idata in (first, second):
        table = az.summary(idata, var_names=names, kind="all", round_to="none")
        parts.append(table.loc[names, ["mean", "mcse_mean"]].astype(float))
    out = pd.DataFrame(
        {
            "mean_1": parts[0]["mean"],
            "mcse_1": parts[0]["mcse_mean"],
            "mean_2": parts[1]["mean"],
            "mcse_2": parts[1]["mcse_mean"],
        }
    )
    out["difference"] = out["mean_2"] - out["mean_1"]
    out["z"] = out["difference"] / np.sqrt(out["mcse_1"] ** 2 + out["mcse_2"] ** 2)
    return out


def posterior_means(idata: DataTree, var_name: str = "alpha") -> pd.DataFrame:
    """Return posterior mean, SD and 95% equal-tailed interval of a vector variable.

    Parameters
    ----------
    idata
        Posterior draws.
    var_name
        A variable with one dimension besides chain and draw (e.g. ``alpha`` by archer).

    Returns
    -------
    pandas.DataFrame
        Indexed by that dimension's labels, columns ``mean``, ``sd``, ``lower``, ``upper``.
    """
    if var_name not in idata.posterior:
        raise ValueError(f"var_name {var_name!r} is not in the posterior")
    draws = idata.posterior[var_name]
    dims = [d for d in draws.dims if d not in ("chain", "draw")]
    if len(dims) != 1:
        raise ValueError(f"{var_name} must have exactly one dimension besides chain and draw")
    stacked = draws.stack(sample=("chain", "draw")).transpose(dims[0], "sample").to_numpy()
    index = pd.Index([str(v) for v in draws[dims[0]].to_numpy()], name=dims[0])
    lower, upper = np.quantile(stacked, [0.025, 0.975], axis=1)
    return pd.DataFrame(
        {
            "mean": stacked.mean(axis=1),
            "sd": stacked.std(axis=1, ddof=1),
            "lower": lower,
            "upper": upper,
        },
        index=index,
    )


def draws_of(idata: DataTree, var_name: str) -> np.ndarray:
    """Return all posterior draws of a scalar variable as a flat array."""
    if var_name not in idata.posterior:
        raise ValueError(f"var_name {var_name!r} is not in the posterior")
    return idata.posterior[var_name].to_numpy().ravel()
