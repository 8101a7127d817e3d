"""How often the random-slopes fit of the archer data is singular, by simulation.

:func:`singular_rate` simulates archer experiments for a grid of designs and counts the
random-slopes fits that land on the boundary of their parameter space;
:func:`singular_example` is one small simulated experiment on which the fit does (the data
``scripts/lme4_singular.R`` fits with lme4).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import mixedlm
import numpy as np
import pandas as pd
from mixedlm.models.lmer import LmerResult

from analysis.datasets.archers import ArcherExperiment, simulate_archers
from analysis.models.slopes import SLOPE_FORMULA, check_optimizer, one_blas_thread, refit_response
from analysis.validation import check_nonnegative, check_positive_int, check_seed

__all__ = ["singular_rate", "SINGULAR_SEED", "SINGULAR_DESIGN", "singular_example"]


def singular_rate(
    n_archers: Sequence[int],
    bow_sd: Sequence[float],
    n_reps: int = 100,
    *,
    seed: int,
    shots: int = 10,
    skill_bow_corr: float = 0.0,
    optimizer: str = "L-BFGS-B",
) -> pd.DataFrame:
    """How often the random-slopes fit is singular, by number of archers and slope SD.

    For every pair of settings, ``n_reps`` experiments are simulated (seeds ``seed``,
    ``seed + 1``, ...) and ``Distance ~ Bow + (1 + Bow | Name)`` is fitted by REML; a fit
    is singular when mixedlm's ``isSingular`` (lme4's rule: a relative-covariance factor on
    the boundary, within 1e-4) says so.

    Parameters
    ----------
    n_archers
        Numbers of archers (each at least 2).
    bow_sd
        SDs of the archers' own bow effects, in metres.
    n_reps
        Experiments per pair of settings.
    seed
        Seed of the first experiment of each pair.
    shots
        Shots per archer and bow.
    skill_bow_corr
        Correlation of skill and own bow effect (0 is required where ``bow_sd`` is 0).
    optimizer
        How the experiments are refitted: ``"L-BFGS-B"`` (fast, see
        :mod:`analysis.models.slopes`) or mixedlm's default ``"auto"``.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``n_archers``, ``bow_sd``, ``singular`` (share of singular fits)
        and ``mc_se``.
    """
    n_reps = check_positive_int("n_reps", n_reps)
    seed = check_seed(seed)
    optimizer = check_optimizer(optimizer)
    archers = [check_positive_int("n_archers", j, minimum=2) for j in n_archers]
    if not archers:
        raise ValueError(f"n_archers must list numbers of at least 2, got {list(n_archers)}")
    sds = [check_nonnegative("bow_sd", s) for s in bow_sd]
    if not sds:
        raise ValueError("bow_sd must list at least one SD")
    rows = []
    with one_blas_thread():
        for j in archers:
            template: LmerResult | None = None
            for sd in sds:
                corr = skill_bow_corr if sd > 0 else 0.0
                flags = []
                for r in range(n_reps):
                    data = simulate_archers(
                        j, shots, seed=seed + r, bow_sd=sd, skill_bow_corr=corr
                    ).data
                    if template is None:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            template = mixedlm.lmer(SLOPE_FORMULA, data, REML=True)
                        fit: LmerResult | None = template
                    else:
                        fit = refit_response(template, data["Distance"].to_numpy(float), optimizer)
                    if fit is None:
                        raise ValueError(f"n_archers={j}, bow_sd={sd}: fit {r} failed")
                    flags.append(bool(fit.isSingular()))
                p = float(np.mean(flags))
                rows.append(
                    {
                        "n_archers": j,
                        "bow_sd": sd,
                        "singular": p,
                        "mc_se": math.sqrt(p * (1 - p) / n_reps),
                    }
                )
    return pd.DataFrame(rows)


#: Seed of the singular example (six archers, own bow effects with SD 0.5 m); with it the
#: random-slopes fit is singular, as it is for most small experiments (see singular_rate).
SINGULAR_SEED: int = 1
#: The example's design: archers, shots per archer and bow, and SD of the own bow effects.
SINGULAR_DESIGN: dict[str, float] = {"n_archers": 6, "shots": 10, "bow_sd": 0.5}


def singular_example() -> ArcherExperiment:
    """Return a small experiment on which the random-slopes fit is singular.

    Six archers, ten shots with each bow, and own bow effects with an SD of half a metre
    (correlation 0 with skill): too little information to tell a small SD from zero. The
    same data are fitted with lme4 by ``scripts/lme4_singular.R``.
    """
    return simulate_archers(
        int(SINGULAR_DESIGN["n_archers"]),
        int(SINGULAR_DESIGN["shots"]),
        seed=SINGULAR_SEED,
        bow_sd=SINGULAR_DESIGN["bow_sd"],
    )
