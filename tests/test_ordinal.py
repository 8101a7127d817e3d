"""Tests of analysis.bayes.ordinal: rating probabilities, the subsample, and a recovery check."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

from analysis.bayes import ordinal


def test_cumulative_logit_closed_form() -> None:
    cut = np.array([-1.0, 0.2, 1.5])
    eta = np.array([0.0, 0.7, -2.0])
    probs = ordinal.cumulative_logit_probabilities(eta, cut)
    assert probs.shape == (3, 4)
    for i, e in enumerate(eta):
        f = 1 / (1 + np.exp(-(cut - e)))
        expected = [f[0], f[1] - f[0], f[2] - f[1], 1 - f[2]]
        np.testing.assert_allclose(probs[i], expected, rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)


def test_cumulative_logit_matches_pymc() -> None:
    cut = np.array([-1.2, -0.1, 0.8, 2.0])
    eta = 0.35
    dist = pm.OrderedLogistic.dist(eta=eta, cutpoints=cut)
    logp = [float(pm.logp(dist, k).eval()) for k in range(5)]
    np.testing.assert_allclose(
        np.log(ordinal.cumulative_logit_probabilities(np.array(eta), cut)), logp, rtol=1e-8
    )


def test_proportional_odds_shift() -> None:
    # A shift of eta by delta lowers every cumulative log-odds by exactly delta.
    cut = np.array([-1.0, 0.0, 0.5, 2.0])
    p0, p1 = (
        np.cumsum(ordinal.cumulative_logit_probabilities(np.array(e), cut))[:-1] for e in (0.0, 0.8)
    )
    log_odds_ratio = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))
    np.testing.assert_allclose(log_odds_ratio, -0.8, rtol=1e-10)


def test_cutpoints_per_row_and_refusals() -> None:
    cut = np.array([[-1.0, 1.0], [0.0, 0.5]])
    probs = ordinal.cumulative_logit_probabilities(np.zeros(2), cut)
    np.testing.assert_allclose(probs[1, 0], 0.5)
    with pytest.raises(ValueError, match="increasing"):
        ordinal.cumulative_logit_probabilities(np.zeros(1), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="finite"):
        ordinal.cumulative_logit_probabilities(np.array([np.nan]), np.array([0.0, 1.0]))


def test_gaussian_binning_closed_form() -> None:
    mean, sd = np.array([3.0, 4.6]), 1.1
    probs = ordinal.gaussian_rating_probabilities(mean, sd)
    for i, m in enumerate(mean):
        edges = np.array([-np.inf, 1.5, 2.5, 3.5, 4.5, np.inf])
        np.testing.assert_allclose(probs[i], np.diff(stats.norm.cdf(edges, m, sd)), rtol=1e-12)
    # A Normal centred on 3 is symmetric about the middle rating.
    np.testing.assert_allclose(probs[0], probs[0][::-1], rtol=1e-12)
    outside = ordinal.mass_outside(mean, sd)
    expected = stats.norm.cdf(0.5, mean, sd) + stats.norm.sf(5.5, mean, sd)
    np.testing.assert_allclose(outside, expected, rtol=1e-12)
    assert outside[1] > outside[0]  # a mean near 5 puts more mass above 5.5
    with pytest.raises(ValueError, match="positive"):
        ordinal.gaussian_rating_probabilities(mean, 0.0)


def test_observed_frequencies_and_total_variation() -> None:
    freq = ordinal.observed_frequencies(np.array([1, 1, 2, 5]))
    np.testing.assert_allclose(freq, [0.5, 0.25, 0, 0, 0.25])
    assert ordinal.total_variation(freq, freq) == 0.0
    assert ordinal.total_variation(np.array([1.0, 0]), np.array([0, 1.0])) == 1.0
    np.testing.assert_allclose(
        ordinal.total_variation(np.array([0.5, 0.5, 0]), np.array([0.2, 0.5, 0.3])), 0.3
    )
    with pytest.raises(ValueError, match="between 1 and 5"):
        ordinal.observed_frequencies(np.array([0, 1]))
    with pytest.raises(ValueError, match="probability"):
        ordinal.total_variation(np.array([0.5, 0.6]), np.array([0.5, 0.5]))


def test_mean_posterior_probabilities_averages_draws_and_rows() -> None:
    rng = np.random.default_rng(1)
    eta = rng.normal(size=(7, 11))
    cut = np.sort(rng.normal(size=(7, 4)), axis=1)
    got = ordinal.mean_posterior_probabilities(eta, cut, chunk=3)
    brute = np.mean(
        [ordinal.cumulative_logit_probabilities(eta[d], cut[d]).mean(axis=0) for d in range(7)],
        axis=0,
    )
    np.testing.assert_allclose(got, brute, rtol=1e-12)


def test_subsample_keeps_all_rows_of_drawn_groups() -> None:
    data = pd.DataFrame({"d": pd.Categorical(list("aabbbcdd")), "y": [1, 2, 3, 4, 5, 1, 2, 3]})
    sub = ordinal.subsample_by_group(data, "d", 2, seed=3)
    assert sub["d"].nunique() == 2
    assert len(sub) == data["d"].isin(sub["d"].unique()).sum()
    assert list(sub["d"].cat.categories) == sorted(sub["d"].unique())
    again = ordinal.subsample_by_group(data, "d", 2, seed=3)
    pd.testing.assert_frame_equal(sub, again)
    with pytest.raises(ValueError, match="exceeds"):
        ordinal.subsample_by_group(data, "d", 5, seed=3)


def test_simulated_ratings_recover_cutpoints_and_sd() -> None:
    """A cumulative-logit model with one random intercept recovers what simulated it."""
    rng = np.random.default_rng(20261206)
    n_groups, per_group = 60, 40
    cut_true, sd_true, beta_true = np.array([-2.0, -0.6, 0.5, 1.8]), 0.8, 0.6
    b = rng.normal(0, sd_true, n_groups)
    b -= b.mean()  # the model's effects sum to zero
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.integers(0, 2, g.size).astype(float)
    probs = ordinal.cumulative_logit_probabilities(beta_true * x + b[g], cut_true)
    y = (probs.cumsum(axis=1) < rng.uniform(size=(g.size, 1))).sum(axis=1)
    with pm.Model(coords={"cut": range(4), "g": range(n_groups)}):
        cut = pm.Normal(
            "cutpoints",
            0,
            3,
            dims="cut",
            transform=pm.distributions.transforms.ordered,
            initval=np.array([-1.5, -0.5, 0.5, 1.5]),
        )
        beta = pm.Normal("beta", 0, 1)
        sd = pm.HalfNormal("sd", 1)
        effect = pm.ZeroSumNormal("b", sigma=sd, dims="g")
        pm.OrderedLogistic("y", eta=beta * x + effect[g], cutpoints=cut, observed=y)
        with warnings.catch_warnings():  # find_MAP's notices of future defaults
            warnings.simplefilter("ignore", FutureWarning)
            fit = pm.find_MAP(progressbar=False, random_seed=1)
    np.testing.assert_allclose(fit["cutpoints"], cut_true, atol=0.3)
    assert abs(fit["beta"] - beta_true) < 0.25
    assert abs(fit["sd"] - sd_true) < 0.3
    assert np.corrcoef(fit["b"], b)[0, 1] > 0.9


def test_cumulative_log_odds_by_group() -> None:
    ratings = pd.Series([1, 2, 3, 4, 5, 1, 1, 2, 4, 5])
    groups = pd.Series(["a"] * 5 + ["b"] * 5)
    table = ordinal.cumulative_log_odds(ratings, groups)
    assert list(table.index) == [1, 2, 3, 4]
    np.testing.assert_allclose(table.loc[1, "a"], np.log(0.2 / 0.8))
    np.testing.assert_allclose(table.loc[2, "b"], np.log(0.6 / 0.4))
    with pytest.raises(ValueError, match="one side"):
        ordinal.cumulative_log_odds(pd.Series([1, 2]), pd.Series(["a", "a"]))


def test_plots_draw_what_they_are_given() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from analysis.plots import ordinal as oplots

    probs = {"observed": np.array([0.1, 0.2, 0.3, 0.2, 0.2]), "model": np.full(5, 0.2)}
    fig = oplots.plot_rating_probabilities(probs, outside=0.05, outside_label="model")
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert len(heights) == 11 and heights[-1] == 0.05
    np.testing.assert_allclose(sorted(heights[:5]), sorted(probs["observed"]))
    with pytest.raises(ValueError, match="same length"):
        oplots.plot_rating_probabilities({"a": np.ones(3) / 3, "b": np.ones(4) / 4})
    with pytest.raises(ValueError, match="increasing"):
        oplots.plot_latent_scale(np.array([1.0, 0.0]), {"x": 0.0})
    fig = oplots.plot_latent_scale(np.array([-1.0, 0.0, 1.0]), {"a": 0.0, "b": 1.0})
    assert len(fig.axes[0].lines) == 2 + 3  # two densities, three cutpoints
    effects = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 3.0, 2.0, 4.0]})
    fig = oplots.plot_effect_ranking(effects, "x", "y")
    assert fig.axes[0].get_title() == "Spearman correlation 0.800"
    table = pd.DataFrame({"g1": [-1.0, 0.0], "g2": [-0.5, 0.5]}, index=[1, 2])
    fig = oplots.plot_cumulative_log_odds(table)
    assert len(fig.axes[0].lines) == 2
