r"""The marginal likelihood of a logistic random-intercept model by Laplace and adaptive quadrature.

A generalized linear mixed model has no closed-form likelihood: each group's random effect has to
be integrated out,

.. math::

    L_j(\beta, \sigma) = \int \prod_{i \in j} p(y_i \mid \eta_i + b)\;
    \frac{1}{\sigma}\,\varphi\!\left(\frac{b}{\sigma}\right) db .

lme4's ``glmer`` approximates the integral by the Laplace approximation (``nAGQ = 1``) or, for a
single scalar random effect, by adaptive Gauss--Hermite quadrature with ``nAGQ`` nodes. Both are
written out here because the book's chapter on hits and misses *teaches* them: the fitting itself
is done by :mod:`analysis.models.glmer` (mixedlm, checked against lme4), and this module only
evaluates the log-likelihood at given parameters, so that the chapter can show how the
approximation converges as nodes are added and check it against lme4's reported log-likelihood.

Adaptive quadrature centres the Gauss--Hermite nodes on the mode :math:`\hat b_j` of the
integrand and scales them by its curvature :math:`s_j = (-h''(\hat b_j))^{-1/2}`:

.. math::

    L_j \approx \sqrt{2}\, s_j \sum_k w_k\, e^{x_k^2}\, e^{h(\hat b_j + \sqrt{2}\, s_j x_k)},

with Gauss--Hermite nodes :math:`x_k` and weights :math:`w_k` (NumPy's ``hermgauss``). With one
node this is the Laplace approximation, :math:`\sqrt{2\pi}\, s_j\, e^{h(\hat b_j)}`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.polynomial.hermite import hermgauss
from scipy.special import expit, gammaln

from analysis.validation import check_positive, check_positive_int

__all__ = ["binomial_group_loglik", "binomial_marginal_loglik"]

_NEWTON_STEPS = 50


def _log_choose(trials: np.ndarray, hits: np.ndarray) -> np.ndarray:
    return gammaln(trials + 1.0) - gammaln(hits + 1.0) - gammaln(trials - hits + 1.0)


def _mode(hits: np.ndarray, trials: np.ndarray, eta: np.ndarray, sigma: float) -> float:
    """Newton's method for the mode of log p(y | b) + log N(b; 0, sigma^2) (concave in b)."""
    b = 0.0
    for _ in range(_NEWTON_STEPS):
        p = expit(eta + b)
        grad = np.sum(hits - trials * p) - b / sigma**2
        hess = -np.sum(trials * p * (1.0 - p)) - 1.0 / sigma**2
        step = grad / hess
        b -= step
        if abs(step) < 1e-12 * (1.0 + abs(b)):
            break
    return b


def binomial_group_loglik(
    hits: np.ndarray, trials: np.ndarray, eta: np.ndarray, sigma: float, n_nodes: int = 1
) -> float:
    """Log of one group's marginal likelihood, by adaptive Gauss--Hermite quadrature.

    Parameters
    ----------
    hits, trials
        Successes and trials of the group's observations (a 0/1 response has trials 1).
    eta
        The fixed part of each observation's linear predictor (log-odds).
    sigma
        The SD of the group's random intercept (positive).
    n_nodes
        Quadrature nodes; 1 is the Laplace approximation (lme4's ``nAGQ``).

    Returns
    -------
    float
        The log marginal likelihood, binomial coefficients included (as lme4 reports it).
    """
    n_nodes = check_positive_int("n_nodes", n_nodes)
    sigma = check_positive("sigma", sigma)  # with sigma = 0 there is nothing to integrate
    hits, trials, eta = (np.asarray(a, dtype=float) for a in (hits, trials, eta))
    b_hat = _mode(hits, trials, eta, sigma)
    p = expit(eta + b_hat)
    scale = 1.0 / np.sqrt(np.sum(trials * p * (1.0 - p)) + 1.0 / sigma**2)
    nodes, weights = hermgauss(n_nodes)
    b = b_hat + np.sqrt(2.0) * scale * nodes
    lin = eta[:, None] + b[None, :]
    # log p(y | b) for each node; log(1 + e^x) computed stably
    loglik = np.sum(hits[:, None] * lin - trials[:, None] * np.logaddexp(0.0, lin), axis=0)
    log_prior = -0.5 * (b / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)
    terms = np.log(weights) + nodes**2 + loglik + log_prior
    top = terms.max()
    log_integral = np.log(np.sqrt(2.0) * scale) + top + np.log(np.sum(np.exp(terms - top)))
    return float(log_integral + np.sum(_log_choose(trials, hits)))


def binomial_marginal_loglik(
    hits: np.ndarray,
    trials: np.ndarray,
    eta: np.ndarray,
    groups: np.ndarray | pd.Series,
    sigma: float,
    n_nodes: int = 1,
) -> float:
    """Log-likelihood of a logistic random-intercept model: the sum of the groups' integrals.

    Parameters
    ----------
    hits, trials, eta
        Per observation: successes, trials and the fixed part of the linear predictor.
    groups
        Per observation: the group label.
    sigma
        SD of the random intercept.
    n_nodes
        Quadrature nodes (1: Laplace).

    Returns
    -------
    float
        The approximate log-likelihood, comparable with lme4's ``logLik`` of the same model.
    """
    hits, trials, eta = (np.asarray(a, dtype=float) for a in (hits, trials, eta))
    if not hits.shape == trials.shape == eta.shape == np.shape(groups):
        raise ValueError("hits, trials, eta and groups must have one entry per observation")
    if np.any(hits < 0) or np.any(hits > trials):
        raise ValueError("hits must lie between 0 and trials")
    codes, _ = pd.factorize(pd.Series(groups), sort=False)
    total = 0.0
    for code in range(codes.max() + 1):
        rows = codes == code
        total += binomial_group_loglik(hits[rows], trials[rows], eta[rows], sigma, n_nodes)
    return total
