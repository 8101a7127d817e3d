r"""The Bayesian one-way model of the online-prediction chapter, sampled with NUTS.

The simulator is :mod:`analysis.datasets.online`, the frequentist fits
:mod:`analysis.models.online`; this is the same one-way random-intercept model with priors,
written with sufficient statistics so that the sampler's cost grows with the number of units
rather than of observations.

Chapter 7 writes the same model in PyMC where the reader sees it; a hidden cell there and a
unit test check with :func:`analysis.bayes.equivalence.assert_same_model` that the chapter's
model and :func:`one_way_pymc_model` have the same free variables and log density.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from analysis.bayes import Priors, SigmaPrior, sample
from analysis.models.online import _check_test, _lookup, _unit_stats, fit_one_way

__all__ = [
    "BayesFit",
    "one_way_pymc_model",
    "fit_bayes",
    "summarise_posterior",
    "predict_bayes",
]


@dataclass(frozen=True)
class BayesFit:
    r"""Posterior means from the Bayesian one-way model.

    Attributes
    ----------
    intercept
        Posterior mean of :math:`\beta`.
    effects
        Posterior means of the unit effects, indexed by unit.
    unit_sd, noise_sd
        Posterior means of :math:`\sigma_a` and :math:`\sigma_e`.
    idata
        The full ``arviz.InferenceData``.
    """

    intercept: float
    effects: pd.Series
    unit_sd: float
    noise_sd: float
    idata: object = field(repr=False)

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        r"""Predict every row of ``test``: posterior mean of :math:`\beta + \mu^a_j`."""
        _check_test(test)
        return self.intercept + _lookup(self.effects, test["unit"])


def one_way_pymc_model(
    train: pd.DataFrame, *, centre_above: float | None = None, priors: Priors | None = None
) -> pm.Model:
    r"""Build the Bayesian one-way model in PyMC, written with sufficient statistics.

    Priors are weakly informative on the scale of the data unless given: :math:`\beta \sim
    N(\bar y, (5 s_y)^2)`, :math:`\sigma_a, \sigma_e \sim \text{HalfNormal}(s_y)` and
    :math:`\mu^a_j \sim N(0, \sigma_a^2)`. The likelihood of the raw observations is written
    exactly through each unit's mean (:math:`\bar y_j \sim N(\beta + \mu^a_j, \sigma_e^2 / n_j)`)
    plus the within-unit sum of squares, so the sampler's cost grows with the number of units,
    not of observations.

    Units are parametrised for the sampler according to how much data they have: a unit with
    ``n_j <= centre_above`` observations is *non-centred* (:math:`\mu^a_j = \sigma_a z_j`,
    :math:`z_j \sim N(0, 1)`), a larger one *centred* (its mean :math:`m_j \sim
    N(\beta, \sigma_a^2)`, :math:`\mu^a_j = m_j - \beta`). Both describe the same model;
    the mix avoids the funnel of small units and the strong posterior correlations of large
    ones. Whatever the split, the variable ``unit_effect`` (dims ``unit``) holds every
    :math:`\mu^a_j`.

    Parameters
    ----------
    train
        Training data with columns ``unit`` and ``y``.
    centre_above
        The traffic above which a unit is centred. By default the REML estimate of
        :math:`\lambda = \sigma_e^2 / \sigma_a^2` (:func:`fit_one_way`): beyond it the data say
        more about a unit than the population does. Use ``math.inf`` to make every unit
        non-centred, 0 to centre every unit.
    priors
        The priors of ``beta`` (``intercept_mean``, ``intercept_sd``), ``unit_sd``
        (``group_sd``) and ``noise_sd`` (``sigma``); scaled by the data by default.

    Returns
    -------
    pymc.Model
        The model, with coords ``unit`` (and ``small_unit`` / ``large_unit`` for the two
        parametrisations).
    """
    st = _unit_stats(train)
    if centre_above is None:
        centre_above = fit_one_way(train).penalty
    elif (
        isinstance(centre_above, bool)
        or not isinstance(centre_above, numbers.Real)
        or not (centre_above >= 0)
    ):
        raise ValueError(f"centre_above must be a number >= 0 (inf allowed), got {centre_above!r}")
    y = train["y"].to_numpy(dtype=float)
    centre, scale = float(y.mean()), float(y.std()) or 1.0
    extra = st.n_obs - len(st.units)
    large = st.n > centre_above
    small_idx, large_idx = np.flatnonzero(~large), np.flatnonzero(large)
    coords = {
        "unit": st.units,
        "small_unit": st.units[small_idx],
        "large_unit": st.units[large_idx],
    }
    if priors is None:
        priors = Priors(
            intercept_mean=centre,
            intercept_sd=5.0 * scale,
            sigma=SigmaPrior("halfnormal", scale),
            group_sd=SigmaPrior("halfnormal", scale),
        )
    with pm.Model(coords=coords) as model:
        beta = pm.Normal("beta", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        unit_sd = priors.group_sd.build("unit_sd")
        noise_sd = priors.sigma.build("noise_sd")
        effect = pt.zeros(len(st.units))
        if len(small_idx):
            z = pm.Normal("z", 0.0, 1.0, dims="small_unit")
            effect = pt.set_subtensor(effect[small_idx], unit_sd * z)
        if len(large_idx):
            m = pm.Normal("large_unit_mean", beta, unit_sd, dims="large_unit")
            effect = pt.set_subtensor(effect[large_idx], m - beta)
        effect = pm.Deterministic("unit_effect", effect, dims="unit")
        pm.Normal(
            "unit_mean", beta + effect, noise_sd / np.sqrt(st.n), observed=st.mean, dims="unit"
        )
        pm.Potential("within_unit", -extra * pt.log(noise_sd) - st.within_ss / (2.0 * noise_sd**2))
    return model


def fit_bayes(
    train: pd.DataFrame,
    *,
    seed: int,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
) -> BayesFit:
    """Sample the Bayesian one-way model with ``analysis.bayes.sample`` and summarise it.

    Parameters
    ----------
    train
        Training data with columns ``unit`` and ``y``.
    seed
        Sampler seed.
    draws, tune, chains
        Passed to :func:`analysis.bayes.sample`.

    Returns
    -------
    BayesFit
        Posterior means and the inference data.
    """
    model = one_way_pymc_model(train)
    return summarise_posterior(sample(model, seed=seed, draws=draws, tune=tune, chains=chains))


def summarise_posterior(idata: object) -> BayesFit:
    """Summarise draws of the one-way model by their posterior means.

    The draws need the variables ``beta``, ``unit_effect``, ``unit_sd`` and ``noise_sd``, as
    :func:`one_way_pymc_model` (and chapter 7's copy of it) names them.

    Parameters
    ----------
    idata
        The draws, as :func:`analysis.bayes.sample` returns them.

    Returns
    -------
    BayesFit
        Posterior means and the draws.
    """
    post = idata.posterior  # type: ignore[attr-defined]
    missing = [v for v in ("beta", "unit_effect", "unit_sd", "noise_sd") if v not in post]
    if missing:
        raise ValueError(f"idata has no posterior variable(s) {missing}")
    effects = post["unit_effect"].mean(dim=("chain", "draw")).to_pandas()
    effects.index.name = "unit"
    return BayesFit(
        intercept=float(post["beta"].mean()),
        effects=effects.rename("posterior_mean"),
        unit_sd=float(post["unit_sd"].mean()),
        noise_sd=float(post["noise_sd"].mean()),
        idata=idata,
    )


def predict_bayes(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    seed: int,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
) -> np.ndarray:
    """Bayesian partial pooling: posterior mean of each unit's mean (:func:`fit_bayes`)."""
    return fit_bayes(train, seed=seed, draws=draws, tune=tune, chains=chains).predict(test)
