"""The power of the bow test, by simulation.

:func:`bow_test_power` simulates many archer experiments
(:func:`analysis.datasets.archers.simulate_archers`), fits each formula by ordinary least
squares (:func:`analysis.models.ols.fit_ols`) and counts how often the bow effect is
significant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.datasets.archers import simulate_archers
from analysis.models.ols import SOUTHWOOD_TERM, fit_ols
from analysis.validation import check_level, check_positive_int

__all__ = ["bow_test_power"]


def bow_test_power(
    formulas: list[str],
    *,
    n_experiments: int,
    n_archers: int,
    shots: int,
    seed: int,
    alpha: float = 0.05,
    **simulate_kwargs: float,
) -> pd.DataFrame:
    """Estimate by simulation how often each model's bow test rejects at level ``alpha``.

    Each replicate simulates a new experiment with
    :func:`analysis.datasets.archers.simulate_archers` (new archers from the same
    population), fits every formula to it and records whether the Southwood coefficient's
    p-value is below ``alpha``.

    Parameters
    ----------
    formulas
        Model formulas that each contain the ``Bow`` factor, e.g. ``"Distance ~ Bow"``.
    n_experiments
        Number of simulated experiments.
    n_archers, shots
        Design of each experiment (see :func:`analysis.datasets.archers.simulate_archers`).
    seed
        Seed from which every replicate's seed is derived (:class:`numpy.random.SeedSequence`).
    alpha
        Significance level of the test.
    **simulate_kwargs
        Passed on to :func:`analysis.datasets.archers.simulate_archers` (e.g. ``bow_effect``).

    Returns
    -------
    pandas.DataFrame
        Indexed by formula, with columns ``power`` (the rejection rate), ``mc_se`` (its Monte
        Carlo standard error) and ``n_experiments``.
    """
    n_experiments = check_positive_int("n_experiments", n_experiments)
    if not formulas:
        raise ValueError("formulas must name at least one model")
    alpha = check_level(alpha, "alpha")
    children = np.random.SeedSequence(seed).spawn(n_experiments)
    rejections = np.zeros((n_experiments, len(formulas)), dtype=bool)
    for r, child in enumerate(children):
        data = simulate_archers(
            n_archers, shots, seed=int(child.generate_state(1)[0]), **simulate_kwargs
        ).data
        for f, formula in enumerate(formulas):
            rejections[r, f] = fit_ols(data, formula).pvalues[SOUTHWOOD_TERM] < alpha
    power = rejections.mean(axis=0)
    return pd.DataFrame(
        {
            "power": power,
            "mc_se": np.sqrt(power * (1 - power) / n_experiments),
            "n_experiments": n_experiments,
        },
        index=pd.Index(formulas, name="model"),
    )
