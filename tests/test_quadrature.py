"""The Laplace and adaptive Gauss-Hermite log-likelihoods of chapter 11, against closed forms,
numerical integration and lme4."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import expit

from analysis.book.lme4 import lme4_reference
from analysis.models.quadrature import binomial_group_loglik, binomial_marginal_loglik

ROOT = Path(__file__).resolve().parents[1]
REF = {k: lme4_reference(k, "glmer_lme4.json") for k in ["archers_trials", "archers_trials_agq"]}


def _exact(hits, trials, eta, sigma):
    def integrand(b):
        return np.exp(np.sum(stats.binom.logpmf(hits, trials, expit(eta + b)))) * stats.norm.pdf(
            b, 0, sigma
        )

    value, _ = integrate.quad(integrand, -12 * sigma, 12 * sigma, limit=200)
    return np.log(value)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_many_nodes_reach_the_exact_integral(sigma):
    rng = np.random.default_rng(1)
    trials = rng.integers(1, 6, 8).astype(float)
    hits = rng.binomial(trials.astype(int), 0.6).astype(float)
    eta = rng.normal(0, 1, 8)
    exact = _exact(hits, trials, eta, sigma)
    assert binomial_group_loglik(hits, trials, eta, sigma, 25) == pytest.approx(exact, abs=1e-8)
    # Laplace is an approximation: close, not equal
    laplace = binomial_group_loglik(hits, trials, eta, sigma, 1)
    assert 0 < abs(laplace - exact) < 0.1


def test_a_tiny_random_effect_leaves_the_binomial_likelihood():
    hits, trials, eta = np.array([1.0, 0, 3]), np.array([1.0, 2, 4]), np.array([0.2, -1, 1])
    plain = np.sum(stats.binom.logpmf(hits, trials, expit(eta)))
    for nodes in (1, 9):
        assert binomial_group_loglik(hits, trials, eta, 1e-6, nodes) == pytest.approx(plain)


def test_one_node_is_the_laplace_formula():
    hits, trials, eta, sigma = np.array([1.0, 1, 0]), np.ones(3), np.array([0.5, 0.1, -0.3]), 0.8
    b = 0.0
    for _ in range(50):
        p = expit(eta + b)
        b -= (np.sum(hits - p) - b / sigma**2) / (-np.sum(p * (1 - p)) - 1 / sigma**2)
    p = expit(eta + b)
    s = 1 / np.sqrt(np.sum(p * (1 - p)) + 1 / sigma**2)
    h = np.sum(stats.binom.logpmf(hits, trials, p)) + stats.norm.logpdf(b, 0, sigma)
    assert binomial_group_loglik(hits, trials, eta, sigma, 1) == pytest.approx(
        0.5 * np.log(2 * np.pi) + np.log(s) + h, abs=1e-12
    )


def _archer_cells():
    return pd.read_csv(ROOT / "data" / "archers_hits_trials.csv")


def _eta(fixed, cells):
    est = dict(zip(fixed["term"], fixed["estimate"], strict=True))
    return (
        est["(Intercept)"]
        + est["BowSouthwood"] * (cells["Bow"] == "Southwood")
        + est["I(distance - 40)"] * (cells["distance"] - 40)
    ).to_numpy()


def test_laplace_matches_lme4_and_quadrature_matches_lme4_up_to_the_saturated_model():
    cells = _archer_cells()
    lap, agq = REF["archers_trials"], REF["archers_trials_agq"]
    ours = binomial_marginal_loglik(
        cells["hits"],
        cells["shots"],
        _eta(lap.fixed, cells),
        cells["Name"],
        lap.sd("Name"),
        1,
    )
    assert ours == pytest.approx(lap.loglik, abs=1e-3)
    ours9 = binomial_marginal_loglik(
        cells["hits"],
        cells["shots"],
        _eta(agq.fixed, cells),
        cells["Name"],
        agq.sd("Name"),
        9,
    )
    saturated = stats.binom.logpmf(cells["hits"], cells["shots"], cells["hits"] / cells["shots"])
    assert ours9 - saturated.sum() == pytest.approx(agq.loglik, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"n_nodes": 0}, "n_nodes"),
        ({"n_nodes": 1.5}, "n_nodes"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    args = {"hits": [1.0], "trials": [1.0], "eta": [0.0], "sigma": 1.0, "n_nodes": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        binomial_group_loglik(**args)


def test_marginal_loglik_refuses_hits_above_trials_and_ragged_input():
    with pytest.raises(ValueError, match="between 0 and trials"):
        binomial_marginal_loglik([2.0], [1.0], [0.0], ["a"], 1.0)
    with pytest.raises(ValueError, match="one entry per observation"):
        binomial_marginal_loglik([1.0, 0.0], [1.0], [0.0], ["a"], 1.0)
