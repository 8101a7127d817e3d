"""A conjugate Gibbs sampler of the archer mixed model, centred or uncentred, in NumPy.

Chapter 6 compares it with NUTS: see :func:`gibbs_mixed_model`.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

import time
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
from xarray import DataTree

from analysis.bayes.archers import archer_arrays
from analysis.bayes.priors import DEFAULT_PRIORS, Priors
from analysis.validation import (
    check_bool,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = ["gibbs_mixed_model"]


def gibbs_mixed_model(
    data: pd.DataFrame,
    *,
    seed: int,
    draws: int = 2000,
    tune: int = 500,
    chains: int = 4,
    priors: Priors = DEFAULT_PRIORS,
    variance_shape: float = 1.0,
    variance_scale: float = 1.0,
    centered: bool = False,
) -> DataTree:
    r"""Sample the archer mixed model with a conjugate Gibbs sampler, uncentred or centred.

    The model is :func:`mixed_model`'s, with conjugate priors instead of half-Normal ones on
    the SDs: :math:`\mu \sim N(m_\mu, s_\mu^2)`, :math:`\tau \sim N(0, s_\tau^2)` (from
    ``priors``) and :math:`\sigma_a^2, \sigma_e^2 \sim \text{InvGamma}(a, b)`. Every full
    conditional is then a standard distribution. The two parameterisations of Gelfand, Sahu &
    Carlin (1995) differ in the archer variables the sampler holds.

    *Uncentred* (``centered=False``, the source post's sampler): the effects
    :math:`\alpha_j`, with :math:`Y \sim N(\mu + \tau s + \alpha_j, \sigma_e^2)`. One sweep
    draws, in turn,

    * :math:`(\mu, \tau)` from its Normal conditional (a Bayesian regression of
      :math:`y - \alpha_{j[i]}` on the bow);
    * each :math:`\alpha_j` from :math:`N(m_j, v_j)` with
      :math:`v_j = (n_j/\sigma_e^2 + 1/\sigma_a^2)^{-1}` and
      :math:`m_j = v_j \sum_i (y_i - \mu - \tau s_i)/\sigma_e^2` (the BLUP formula);
    * :math:`\sigma_a^2` from :math:`\text{InvGamma}(a + J/2, b + \sum_j \alpha_j^2/2)`;
    * :math:`\sigma_e^2` from :math:`\text{InvGamma}(a + N/2, b + \text{RSS}/2)`.

    *Centred* (``centered=True``): the archer means :math:`\eta_j = \mu + \alpha_j \sim
    N(\mu, \sigma_a^2)`, with :math:`Y \sim N(\eta_j + \tau s, \sigma_e^2)`, so that
    :math:`\mu` enters only the prior of the :math:`\eta_j`. One sweep draws

    * each :math:`\eta_j` from :math:`N(v_j h_j, v_j)`, :math:`h_j = \sum_i (y_i - \tau
      s_i)/\sigma_e^2 + \mu/\sigma_a^2`;
    * :math:`\tau` from its Normal conditional (a regression of :math:`y - \eta_{j[i]}` on
      the bow);
    * :math:`\mu` from :math:`N(w(\sum_j \eta_j/\sigma_a^2 + m_\mu/s_\mu^2), w)`,
      :math:`w = (J/\sigma_a^2 + 1/s_\mu^2)^{-1}`: the mean of the archer means;
    * :math:`\sigma_a^2` and :math:`\sigma_e^2` as above, with :math:`\alpha_j = \eta_j -
      \mu`.

    In the uncentred form, when each archer's shots pin their mean down (large
    :math:`n\sigma_a^2/\sigma_e^2`), :math:`\mu` given the :math:`\alpha_j` can move only
    by about :math:`\sigma_e/\sqrt N` per sweep, and the chain crawls; in the centred form
    :math:`\mu` given the :math:`\eta_j` moves by about :math:`\sigma_a/\sqrt J`, the size of
    its posterior SD. With sparse data the roles swap.

    Written here, not taken from a library, because chapter 6 teaches it: the uncentred sampler
    is the one the source post describes, and the book compares both with NUTS.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``; at least two archers.
    seed
        Seed of the draws (each chain gets its own stream from it).
    draws, tune, chains
        Kept sweeps per chain, discarded warm-up sweeps per chain, and chains.
    priors
        Priors of :math:`\mu` and :math:`\tau` (the SD priors in it are not used).
    variance_shape, variance_scale
        Shape :math:`a` and scale :math:`b` of the inverse-gamma priors on both variances.
    centered
        Hold the archer means (``True``) or the effects (``False``, the default).

    Returns
    -------
    xarray.DataTree
        ``posterior`` with ``mu``, ``tau``, ``sigma_a``, ``sigma_e`` and ``alpha`` (dims
        ``archer``), named as the PyMC models name them; ``posterior.attrs`` has ``engine``
        (``"gibbs"``), ``parameterisation`` (``"centred"`` or ``"uncentred"``) and
        ``sampling_seconds``.
    """
    seed = check_seed(seed)
    draws = check_positive_int("draws", draws)
    chains = check_positive_int("chains", chains)
    tune = check_nonnegative_int("tune", tune)
    a0 = check_positive("variance_shape", variance_shape)
    b0 = check_positive("variance_scale", variance_scale)
    centered = check_bool("centered", centered)
    coords, y, south, idx = archer_arrays(data, priors)
    n_archers = len(coords["archer"])
    if n_archers < 2:
        raise ValueError(f"the mixed model needs at least two archers, got {n_archers}")
    out = {name: np.empty((chains, draws)) for name in ("mu", "tau", "sigma_a", "sigma_e")}
    out["alpha"] = np.empty((chains, draws, n_archers))
    streams = np.random.default_rng(seed).spawn(chains)
    sweep = _centred_sweep if centered else _uncentred_sweep
    start = time.perf_counter()
    for c, rng in enumerate(streams):
        state = _GibbsState(
            s2a=float(np.var(y)),
            s2e=float(np.var(y)),
            mu=float(np.mean(y)),
            alpha=np.zeros(n_archers),
        )
        for it in range(tune + draws):
            sweep(state, y, south, idx, priors, a0, b0, rng)
            if it >= tune:
                k = it - tune
                out["mu"][c, k], out["tau"][c, k] = state.mu, state.tau
                out["sigma_a"][c, k] = np.sqrt(state.s2a)
                out["sigma_e"][c, k] = np.sqrt(state.s2e)
                out["alpha"][c, k] = state.alpha
    elapsed = time.perf_counter() - start
    idata = az.from_dict(
        {"posterior": out}, coords={"archer": coords["archer"]}, dims={"alpha": ["archer"]}
    )
    idata.posterior.attrs["engine"] = "gibbs"
    idata.posterior.attrs["parameterisation"] = "centred" if centered else "uncentred"
    idata.posterior.attrs["sampling_seconds"] = elapsed
    return idata


@dataclass
class _GibbsState:
    """The current values of a Gibbs chain (variances, level, bow effect, archer effects)."""

    s2a: float
    s2e: float
    mu: float
    alpha: np.ndarray
    tau: float = 0.0


def _draw_variances(
    state: _GibbsState, resid: np.ndarray, a0: float, b0: float, rng: np.random.Generator
) -> None:
    """Draw both variances from their inverse-gamma conditionals (``resid``: shot residuals)."""
    state.s2a = (b0 + 0.5 * state.alpha @ state.alpha) / rng.gamma(a0 + 0.5 * state.alpha.size)
    state.s2e = (b0 + 0.5 * resid @ resid) / rng.gamma(a0 + 0.5 * resid.size)


def _uncentred_sweep(
    state: _GibbsState,
    y: np.ndarray,
    south: np.ndarray,
    idx: np.ndarray,
    priors: Priors,
    a0: float,
    b0: float,
    rng: np.random.Generator,
) -> None:
    """One sweep of the uncentred sampler: (mu, tau), the alpha_j, then the variances."""
    n_archers = state.alpha.size
    X = np.column_stack([np.ones(y.size), south])
    prior_mean = np.array([priors.intercept_mean, 0.0])
    prior_prec = np.diag([1.0 / priors.intercept_sd**2, 1.0 / priors.effect_sd**2])
    prec = X.T @ X / state.s2e + prior_prec
    rhs = X.T @ (y - state.alpha[idx]) / state.s2e + prior_prec @ prior_mean
    chol = np.linalg.cholesky(prec)
    beta = np.linalg.solve(prec, rhs) + np.linalg.solve(chol.T, rng.standard_normal(2))
    state.mu, state.tau = float(beta[0]), float(beta[1])
    resid = y - X @ beta
    n_j = np.bincount(idx, minlength=n_archers)
    v = 1.0 / (n_j / state.s2e + 1.0 / state.s2a)
    alpha = v * np.bincount(idx, weights=resid, minlength=n_archers) / state.s2e
    state.alpha = alpha + np.sqrt(v) * rng.standard_normal(n_archers)
    _draw_variances(state, resid - state.alpha[idx], a0, b0, rng)


def _centred_sweep(
    state: _GibbsState,
    y: np.ndarray,
    south: np.ndarray,
    idx: np.ndarray,
    priors: Priors,
    a0: float,
    b0: float,
    rng: np.random.Generator,
) -> None:
    """One sweep of the centred sampler: the archer means, tau, mu, then the variances."""
    n_archers = state.alpha.size
    n_j = np.bincount(idx, minlength=n_archers)
    v = 1.0 / (n_j / state.s2e + 1.0 / state.s2a)
    h = np.bincount(idx, weights=y - state.tau * south, minlength=n_archers) / state.s2e
    eta = v * (h + state.mu / state.s2a) + np.sqrt(v) * rng.standard_normal(n_archers)
    within = y - eta[idx]
    prec_tau = south @ south / state.s2e + 1.0 / priors.effect_sd**2
    mean_tau = (south @ within / state.s2e) / prec_tau
    state.tau = float(mean_tau + rng.standard_normal() / np.sqrt(prec_tau))
    prec_mu = n_archers / state.s2a + 1.0 / priors.intercept_sd**2
    rhs_mu = eta.sum() / state.s2a + priors.intercept_mean / priors.intercept_sd**2
    state.mu = float(rhs_mu / prec_mu + rng.standard_normal() / np.sqrt(prec_mu))
    state.alpha = eta - state.mu
    _draw_variances(state, within - state.tau * south, a0, b0, rng)
