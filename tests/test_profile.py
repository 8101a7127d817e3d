import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.datasets.archers import fifty_archers, simulate_archers
from analysis.models.likelihood import RandomInterceptLikelihood
from analysis.models.mixed import build_model, fit_random_intercept
from analysis.models.profile import likelihood_from_data, profile_ci, profile_curves

CHI2 = stats.chi2.ppf(0.95, 1)


@pytest.fixture(scope="module")
def data():
    return simulate_archers(20, 4, seed=11, decimals=None, archer_sd=6.0, shot_sd=3.0).data


def _dense_deviance(lik, sd_a, sd_e, reml=False):
    """Brute-force -2 log L with the full N x N covariance."""
    z = (lik.codes[:, None] == np.arange(lik.n_groups)[None, :]).astype(float)
    v = sd_e**2 * np.eye(lik.n_obs) + sd_a**2 * z @ z.T
    vi = np.linalg.inv(v)
    xvx = lik.x.T @ vi @ lik.x
    beta = np.linalg.solve(xvx, lik.x.T @ vi @ lik.y)
    r = lik.y - lik.x @ beta
    dev = np.linalg.slogdet(v)[1] + r @ vi @ r
    if reml:
        return dev + np.linalg.slogdet(xvx)[1] + (lik.n_obs - lik.n_fixed) * math.log(2 * math.pi)
    return dev + lik.n_obs * math.log(2 * math.pi)


@pytest.mark.parametrize("reml", [False, True])
def test_closed_form_matches_dense_likelihood(reml):
    # Unbalanced on purpose: the Woodbury pieces differ per group.
    exp = simulate_archers(8, [1, 2, 3, 5, 1, 4, 2, 6], seed=5, decimals=None)
    lik = likelihood_from_data(exp.data)
    for sd_a, sd_e in [(20.0, 5.0), (0.0, 3.0), (1.5, 7.0)]:
        assert lik.deviance(sd_a, sd_e, reml=reml) == pytest.approx(
            _dense_deviance(lik, sd_a, sd_e, reml), rel=1e-10
        )


def test_loglik_of_statsmodels_fit_is_the_optimum(data):
    fit = fit_random_intercept(data, reml=True)
    lik = RandomInterceptLikelihood.from_model(build_model(data))
    best = lik.fit(reml=True)
    assert fit.sd_group == pytest.approx(best.sd_group, rel=1e-5)
    assert fit.sd_resid == pytest.approx(best.sd_resid, rel=1e-5)
    assert -2 * fit.loglik == pytest.approx(best.deviance, abs=1e-6)
    # No nearby point is better.
    for da, de in [(0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)]:
        assert lik.deviance(best.sd_group + da, best.sd_resid + de, reml=True) > best.deviance


def test_deviance_at_bounds_is_minimum_plus_chi2_quantile(data):
    ci = profile_ci(data)
    lik = likelihood_from_data(data)
    ml = lik.fit(reml=False)
    assert ci.loc["sd_group", "estimate"] == pytest.approx(ml.sd_group)
    for end in ("lower", "upper"):
        s = ci.loc["sd_group", end]
        assert lik.profile_sd_group(s, ml.sd_resid) - ml.deviance == pytest.approx(CHI2, abs=1e-6)
        s = ci.loc["sd_resid", end]
        assert lik.profile_sd_resid(s, ml.sd_group) - ml.deviance == pytest.approx(CHI2, abs=1e-6)
    assert (ci["lower"] < ci["estimate"]).all() and (ci["estimate"] < ci["upper"]).all()


def test_profile_is_the_minimum_over_the_other_sd(data):
    lik = likelihood_from_data(data)
    ml = lik.fit()
    s = ml.sd_group * 1.3
    grid = np.linspace(ml.sd_resid * 0.8, ml.sd_resid * 1.2, 401)
    brute = min(lik.deviance(s, e) for e in grid)
    prof = lik.profile_sd_group(s, ml.sd_resid)
    assert prof <= brute + 1e-9
    assert prof == pytest.approx(brute, abs=1e-3)


def test_residual_sd_interval_matches_chi_square_theory():
    # With no archer variance and many shots, sigma_e's profile interval is close to the
    # classical chi-square interval for a variance.
    exp = simulate_archers(40, 25, seed=2, decimals=None, archer_sd=10.0, shot_sd=4.0)
    ci = profile_ci(exp.data)
    lo, hi = ci.loc["sd_resid", ["lower", "upper"]]
    assert lo < 4.0 * 1.1 and hi > 4.0 * 0.9
    n = len(exp.data)
    s = ci.loc["sd_resid", "estimate"]
    width_theory = 2 * 1.96 * s / math.sqrt(2 * n)
    assert hi - lo == pytest.approx(width_theory, rel=0.05)


def test_boundary_gives_zero_lower_bound():
    exp = simulate_archers(15, 3, seed=4, archer_sd=0.0, shot_sd=5.0, decimals=None)
    ci = profile_ci(exp.data)
    assert ci.loc["sd_group", "lower"] == 0.0
    assert ci.loc["sd_group", "upper"] > 0.0


def test_coverage_contains_truth_for_fifty_archers():
    exp = fifty_archers()
    ci = profile_ci(exp.data)
    assert ci.loc["sd_group", "lower"] < exp.archer_sd < ci.loc["sd_group", "upper"]
    assert ci.loc["sd_resid", "lower"] < exp.shot_sd < ci.loc["sd_resid", "upper"]


def test_level_changes_width(data):
    wide = profile_ci(data, level=0.99)
    narrow = profile_ci(data, level=0.8)
    assert (wide["upper"] - wide["lower"] > narrow["upper"] - narrow["lower"]).all()
    for bad in (0, 1, 1.5, "0.9", True):
        with pytest.raises(ValueError, match="level"):
            profile_ci(data, level=bad)


def test_profile_curves(data):
    curves = profile_curves(data, n_points=11)
    assert set(curves["parameter"]) == {"sd_group", "sd_resid"}
    assert len(curves) == 22
    for _, sub in curves.groupby("parameter"):
        assert np.all(np.diff(sub["zeta"].to_numpy()) > 0)  # zeta increases with the value
        assert sub["zeta"].abs().max() == pytest.approx(2.8, abs=1e-4)
    np.testing.assert_allclose(curves["zeta"] ** 2, curves["delta"], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="n_points"):
        profile_curves(data, n_points=2)


def test_rank_deficient_design_is_rejected():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "c": 1.0, "g": ["a", "a", "b", "b"]})
    with pytest.raises(ValueError, match="rank deficient"):
        profile_ci(df, response="y", fixed=["c"], group="g")
