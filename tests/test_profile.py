import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from analysis.book.lme4 import lme4_reference
from analysis.datasets.archers import fifty_archers, simulate_archers
from analysis.models.crossed import fit_crossed
from analysis.models.likelihood import RandomInterceptLikelihood
from analysis.models.mixed import build_model, fit_random_intercept
from analysis.models.profile import confint, profile, profiler

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


SD_A, SD_E = "sd_(Intercept)|Name", "sigma"  # lme4's names of the one-way model's SDs


def _likelihood(frame):
    """The closed-form likelihood built from the data on its own, apart from any fit."""
    return RandomInterceptLikelihood.from_model(build_model(frame))


@pytest.mark.parametrize("reml", [False, True])
def test_closed_form_matches_dense_likelihood(reml):
    # Unbalanced on purpose: the Woodbury pieces differ per group. The likelihood the fit
    # holds (and profiles) is checked against the dense N x N computation.
    exp = simulate_archers(8, [1, 2, 3, 5, 1, 4, 2, 6], seed=5, decimals=None)
    fit = fit_random_intercept(exp.data)
    assert fit.likelihood_scale == 1.0
    lik = fit.likelihood
    for sd_a, sd_e in [(20.0, 5.0), (0.0, 3.0), (1.5, 7.0)]:
        assert lik.deviance(sd_a, sd_e, reml=reml) == pytest.approx(
            _dense_deviance(lik, sd_a, sd_e, reml), rel=1e-10
        )


def test_deviance_refuses_sds_outside_their_range(data):
    lik = _likelihood(data)
    assert np.isfinite(lik.deviance(0.0, 1.0))  # sigma_a = 0 is the boundary, allowed
    for sd_resid in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="sd_resid must be"):
            lik.deviance(1.0, sd_resid)
    for sd_group in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="sd_group must"):
            lik.deviance(sd_group, 1.0)


def test_loglik_of_statsmodels_fit_is_the_optimum(data):
    fit = fit_random_intercept(data, reml=True)
    lik = _likelihood(data)
    best = lik.fit(reml=True)
    assert fit.sd_group == pytest.approx(best.sd_group, rel=1e-5)
    assert fit.sd_resid == pytest.approx(best.sd_resid, rel=1e-5)
    assert -2 * fit.loglik == pytest.approx(best.deviance, abs=1e-6)
    # No nearby point is better.
    for da, de in [(0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)]:
        assert lik.deviance(best.sd_group + da, best.sd_resid + de, reml=True) > best.deviance


def test_deviance_at_bounds_is_minimum_plus_chi2_quantile(data):
    ci = confint(fit_random_intercept(data))
    lik = _likelihood(data)
    ml = lik.fit(reml=False)
    assert ci.loc[SD_A, "estimate"] == pytest.approx(ml.sd_group)
    assert ci.loc[SD_E, "estimate"] == pytest.approx(ml.sd_resid)
    for end in ("lower", "upper"):
        s = ci.loc[SD_A, end]
        assert lik.profile_sd_group(s, ml.sd_resid) - ml.deviance == pytest.approx(CHI2, abs=1e-6)
        s = ci.loc[SD_E, end]
        assert lik.profile_sd_resid(s, ml.sd_group) - ml.deviance == pytest.approx(CHI2, abs=1e-6)
    assert (ci["lower"] < ci["estimate"]).all() and (ci["estimate"] < ci["upper"]).all()


def test_profile_is_the_minimum_over_the_other_sd(data):
    lik = _likelihood(data)
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
    ci = confint(fit_random_intercept(exp.data))
    lo, hi = ci.loc[SD_E, ["lower", "upper"]]
    assert lo < 4.0 * 1.1 and hi > 4.0 * 0.9
    n = len(exp.data)
    s = ci.loc[SD_E, "estimate"]
    width_theory = 2 * 1.96 * s / math.sqrt(2 * n)
    assert hi - lo == pytest.approx(width_theory, rel=0.05)


def test_boundary_gives_zero_lower_bound():
    exp = simulate_archers(15, 3, seed=4, archer_sd=0.0, shot_sd=5.0, decimals=None)
    fit = fit_random_intercept(exp.data)
    ci = confint(fit)
    assert ci.loc[SD_A, "lower"] == 0.0
    assert ci.loc[SD_A, "upper"] > 0.0
    # the lower end is 0 because the deviance at an SD of 0 is within the chi-square cut-off
    lik = _likelihood(exp.data)
    ml = lik.fit(reml=False)
    assert lik.profile_sd_group(0.0, ml.sd_resid) - ml.deviance < CHI2


def test_coverage_contains_truth_for_fifty_archers():
    exp = fifty_archers()
    ci = confint(fit_random_intercept(exp.data))
    assert ci.loc[SD_A, "lower"] < exp.archer_sd < ci.loc[SD_A, "upper"]
    assert ci.loc[SD_E, "lower"] < exp.shot_sd < ci.loc[SD_E, "upper"]


def test_level_changes_width(data):
    fit = fit_random_intercept(data)
    wide = confint(fit, level=0.99)
    narrow = confint(fit, level=0.8)
    assert (wide["upper"] - wide["lower"] > narrow["upper"] - narrow["lower"]).all()
    for bad in (0, 1, 1.5, "0.9", True):
        with pytest.raises(ValueError, match="level"):
            confint(fit, level=bad)


def test_profile_curves(data):
    fit = fit_random_intercept(data)
    curves = profile(fit, n_points=11)
    assert curves["parameter"].unique().tolist() == [SD_A, SD_E]
    assert len(curves) == 22
    for _, sub in curves.groupby("parameter"):
        assert np.all(np.diff(sub["zeta"].to_numpy()) > 0)  # zeta increases with the value
        assert sub["zeta"].abs().max() == pytest.approx(2.8, abs=1e-4)
    np.testing.assert_allclose(curves["zeta"] ** 2, curves["delta"], rtol=1e-9, atol=1e-12)
    for bad in (2, 3.0, True):
        with pytest.raises(ValueError, match="n_points"):
            profile(fit, n_points=bad)
    for bad in (0.0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="zeta_max"):
            profile(fit, zeta_max=bad)


def test_rank_deficient_design_is_rejected():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "c": 1.0, "g": ["a", "a", "b", "b"]})
    with pytest.raises(ValueError, match="rank deficient"):
        fit_random_intercept(df, response="y", fixed=["c"], group="g")


# ---------------------------------------------------------------------------------------------
# profile(fit) / confint(fit): on the deviance function the fit holds
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fifty():
    return fifty_archers().data


@pytest.fixture(scope="module")
def fifty_fit(fifty):
    return fit_random_intercept(fifty)


def _brentq_on_deviance(lik, which, level=0.95):
    """Intervals by brentq on a likelihood built from the data, apart from the fit and its
    profiler (as the intervals were computed before confint(fit) existed)."""
    ml = lik.fit(reml=False)
    crit = stats.chi2.ppf(level, 1)
    est = ml.sd_group if which == SD_A else ml.sd_resid

    def g(s):
        if which == SD_A:
            return lik.profile_sd_group(s, ml.sd_resid) - ml.deviance - crit
        return lik.profile_sd_resid(s, ml.sd_group) - ml.deviance - crit

    hi = est * 1.2
    while g(hi) <= 0:
        hi *= 1.5
    upper = optimize.brentq(g, est, hi, xtol=1e-10)
    if which == SD_A and g(0.0) <= 0:
        return est, 0.0, upper
    lo = est / 1.2
    while g(lo) <= 0:
        lo /= 1.5
    return est, optimize.brentq(g, lo, est, xtol=1e-10), upper


def test_confint_of_a_mixed_fit_is_the_chi2_cut_of_its_likelihood(data, fifty, fifty_fit):
    for frame, fit in ((data, fit_random_intercept(data)), (fifty, fifty_fit)):
        lik = _likelihood(frame)
        ml = lik.fit(reml=False)
        ci = confint(fit)
        assert list(ci.index) == [SD_A, SD_E] and ci.index.name == "parameter"
        assert list(ci.columns) == ["grp", "var1", "var2", "estimate", "lower", "upper"]
        assert ci[["grp", "var1", "var2"]].values.tolist() == [
            ["Name", "(Intercept)", ""],
            ["Residual", "", ""],
        ]
        # each end: the deviance profiled on the independent likelihood exceeds the ML
        # deviance by the chi-square quantile
        for end in ("lower", "upper"):
            dev_a = lik.profile_sd_group(float(ci.loc[SD_A, end]), ml.sd_resid)
            dev_e = lik.profile_sd_resid(float(ci.loc[SD_E, end]), ml.sd_group)
            assert dev_a - ml.deviance == pytest.approx(CHI2, abs=1e-6)
            assert dev_e - ml.deviance == pytest.approx(CHI2, abs=1e-6)
        # and the ends of a separate root search (brentq) on it
        before = [_brentq_on_deviance(lik, which) for which in (SD_A, SD_E)]
        np.testing.assert_allclose(
            ci[["estimate", "lower", "upper"]].to_numpy(float), np.array(before), rtol=1e-8
        )
    # profile(fit): every grid point is the independent likelihood's profiled deviance
    curves = profile(fifty_fit, n_points=7)
    assert curves["parameter"].unique().tolist() == [SD_A, SD_E]
    lik = _likelihood(fifty)
    ml = lik.fit(reml=False)
    for name, prof in ((SD_A, lik.profile_sd_group), (SD_E, lik.profile_sd_resid)):
        sub = curves[curves["parameter"] == name]
        other = ml.sd_resid if name == SD_A else ml.sd_group
        dev = np.array([prof(float(v), other) for v in sub["value"]])
        np.testing.assert_allclose(sub["deviance"], dev, rtol=1e-10)
        est = ml.sd_group if name == SD_A else ml.sd_resid
        zeta = np.sign(sub["value"] - est) * np.sqrt(np.maximum(dev - ml.deviance, 0.0))
        np.testing.assert_allclose(sub["zeta"], zeta, rtol=1e-6, atol=1e-6)


def test_mixed_confint_matches_lme4(fifty_fit):
    ref = lme4_reference("archers_50", "archers_lme4.json").profile.set_index("parm")
    ci = confint(fifty_fit)
    for name in ("sd_(Intercept)|Name", "sigma"):
        for end in ("lower", "upper"):
            assert ci.loc[name, end] == pytest.approx(ref.loc[name, end], rel=1e-4)


def test_fit_based_profile_fits_nothing_again(fifty_fit, monkeypatch):
    from statsmodels.regression.mixed_linear_model import MixedLM

    def refuse(*args, **kwargs):
        raise AssertionError("the profile refitted or rebuilt the model")

    monkeypatch.setattr(MixedLM, "fit", refuse)
    monkeypatch.setattr(RandomInterceptLikelihood, "from_model", refuse)
    monkeypatch.setattr(RandomInterceptLikelihood, "__init__", refuse)
    ci = confint(fifty_fit)
    curves = profile(fifty_fit, n_points=5)
    assert (ci["lower"] < ci["estimate"]).all() and len(curves) == 10


def test_fit_without_its_likelihood_uses_its_statsmodels_model(fifty_fit):
    bare = dataclasses.replace(fifty_fit, likelihood=None)
    pd.testing.assert_frame_equal(confint(bare), confint(fifty_fit))
    with pytest.raises(ValueError, match="neither"):
        confint(dataclasses.replace(fifty_fit, likelihood=None, model=None))


def test_rescaled_response_gives_intervals_in_its_units(fifty, fifty_fit):
    scale = 2.0**200  # beyond RESCALE_ABOVE: fitted divided by a power of two
    big = fifty.assign(Distance=fifty["Distance"] * scale)
    fit = fit_random_intercept(big)
    assert fit.likelihood_scale != 1.0
    ci, ref = confint(fit), confint(fifty_fit)
    cols = ["estimate", "lower", "upper"]
    # the ends to 1e-8; the ML estimates (the optimum of a flat function) to 1e-6
    np.testing.assert_allclose(ci[cols].to_numpy() / scale, ref[cols].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        ci[["lower", "upper"]].to_numpy() / scale, ref[["lower", "upper"]].to_numpy(), rtol=1e-8
    )
    curves, ref_curves = profile(fit, n_points=5), profile(fifty_fit, n_points=5)
    np.testing.assert_allclose(curves["value"] / scale, ref_curves["value"], rtol=1e-9)
    np.testing.assert_allclose(curves["zeta"], ref_curves["zeta"], rtol=1e-7, atol=1e-7)


def test_wrong_type_is_a_type_error(fifty):
    for bad in (fifty, "fit", None):
        with pytest.raises(TypeError, match=type(bad).__name__):
            confint(bad)
        with pytest.raises(TypeError, match="MixedFit, a CrossedFit or a mixedlm"):
            profile(bad)


def test_confint_checks_level_and_grid(fifty_fit):
    with pytest.raises(ValueError, match="level"):
        confint(fifty_fit, level=1.5)
    with pytest.raises(ValueError, match="n_points"):
        profile(fifty_fit, n_points=2)
    wide, narrow = confint(fifty_fit, level=0.99), confint(fifty_fit, level=0.8)
    assert (wide["upper"] - wide["lower"] > narrow["upper"] - narrow["lower"]).all()


# -- crossed fits ------------------------------------------------------------------------------

CROSSED_CASES = {
    # name in lme4_lmer.json: (csv, response, fixed, groups in lme4's order, extra column)
    "penicillin": ("penicillin.csv", "diameter", [], ["plate", "sample"]),
    "pastes": ("pastes.csv", "strength", [], ["sample", "batch"]),
    "archers_name_bow": ("archers_50.csv", "Distance", ["Bow"], ["Name:Bow", "Name"]),
}


def _crossed_case(name):
    csv, response, fixed, groups = CROSSED_CASES[name]
    frame = pd.read_csv(ROOT / "data" / csv)
    if "Name:Bow" in groups:
        frame["Name:Bow"] = frame["Name"].astype(str) + ":" + frame["Bow"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # archers_name_bow is nearly singular
        return fit_crossed(frame, response, fixed, groups)


@pytest.mark.parametrize("name", sorted(CROSSED_CASES))
def test_crossed_confint_matches_lme4(name):
    fit = _crossed_case(name)
    ref = lme4_reference(name, "lme4_lmer.json")
    prof = profiler(fit)
    # the ML refit reaches lme4's ML deviance from the fit's own criterion
    assert prof.deviance == pytest.approx(ref.ml_refit.criterion, abs=1e-6)
    ci = confint(fit)
    assert list(ci["grp"]) == [*fit.groups, "Residual"]
    lme4 = ref.profile.iloc[: len(ci)]
    for end in ("lower", "upper"):
        mine = ci[end].to_numpy(float)
        theirs = lme4[end].to_numpy(float)
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-9)
    # the REML estimates lie inside; the ML ones are the profile's centre
    inside = fit.sds.to_numpy()
    assert np.all((ci["lower"] <= inside) & (inside <= ci["upper"]))


def test_crossed_profile_reuses_the_fit_criterion(monkeypatch):
    from analysis.models import crossed

    fit = _crossed_case("penicillin")

    def refuse(*args, **kwargs):
        raise AssertionError("the profile rebuilt the criterion")

    monkeypatch.setattr(crossed.ProfiledDeviance, "__init__", refuse)
    monkeypatch.setattr(crossed, "fit_crossed", refuse)
    before = fit.profiled_deviance.n_evals
    curves = profile(fit, n_points=9)
    assert fit.profiled_deviance.n_evals > before  # evaluated the held function
    assert curves["parameter"].unique().tolist() == [
        "sd_(Intercept)|plate",
        "sd_(Intercept)|sample",
        "sigma",
    ]
    for _, sub in curves.groupby("parameter"):
        assert np.all(np.diff(sub["zeta"].to_numpy()) > 0)
        assert sub["zeta"].abs().max() == pytest.approx(2.8, abs=1e-4)
    np.testing.assert_allclose(curves["zeta"] ** 2, curves["delta"], rtol=1e-9, atol=1e-12)


def test_crossed_criterion_function(fifty):
    fit = fit_crossed(fifty, "Distance", ["Bow"], ["Name"])
    reml = fit.criterion_function()
    ml = fit.criterion_function(reml=False)
    assert reml(fit.theta) == pytest.approx(fit.criterion, abs=1e-9)
    ml_fit = fit_crossed(fifty, "Distance", ["Bow"], ["Name"], reml=False)
    assert ml(ml_fit.theta) == pytest.approx(ml_fit.criterion, abs=1e-9)
    assert ml(fit.theta) > ml_fit.criterion  # the REML optimum is not the ML one
    # the one-way crossed fit profiles to the closed-form intervals
    crossed, closed_form = confint(fit), confint(fit_random_intercept(fifty))
    for columns, rtol in ((["lower", "upper"], 1e-7), (["estimate"], 1e-5)):
        np.testing.assert_allclose(
            crossed[columns].to_numpy(), closed_form[columns].to_numpy(), rtol=rtol
        )
    with pytest.raises(ValueError, match="criterion"):
        confint(dataclasses.replace(fit, profiled_deviance=None))


# -- mixedlm fits ------------------------------------------------------------------------------


def test_lmer_confint_in_varcorr_layout():
    # mixedlm's fit of the same model profiles the same likelihood (lmer's own search, as
    # analysis.models.lmer.profile_frame, on its ML deviance of SDs and sigma); a small design
    # keeps the dense mixedlm deviance cheap
    from analysis.models.lmer import fit_lmer

    data = simulate_archers(10, 4, seed=3, decimals=None, archer_sd=6.0, shot_sd=3.0).data
    fit = fit_lmer("Distance ~ Bow + (1 | Name)", data)
    ci = confint(fit)
    closed_form = confint(fit_random_intercept(data))
    assert list(ci.index) == list(closed_form.index)
    assert ci[["grp", "var1", "var2"]].equals(closed_form[["grp", "var1", "var2"]])
    cols = ["estimate", "lower", "upper"]
    np.testing.assert_allclose(ci[cols].to_numpy(), closed_form[cols].to_numpy(), rtol=1e-4)
    curves = profile(fit, n_points=3)
    assert curves["zeta"].abs().max() == pytest.approx(2.8, abs=1e-3)
