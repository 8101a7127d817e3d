"""The crossed random-intercept fitter against closed forms, dense algebra, simulation truth,
statsmodels MixedLM and lme4 (on the archer data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.datasets.files import read_archers
from analysis.datasets.insteval import simulate_crossed
from analysis.models.crossed import (
    ProfiledDeviance,
    fit_crossed,
    fixed_design,
    group_codes,
)
from analysis.models.results import result_of

ROOT = Path(__file__).resolve().parents[1]
ARCHERS = ROOT / "data" / "archers_50.csv"


def dense_criterion(X, y, Zs, theta, reml=True):
    """lme4's profiled criterion computed from the n x n marginal covariance, no tricks."""
    n, p = X.shape
    Z = np.hstack([t * Zk for t, Zk in zip(theta, Zs, strict=True)])
    V = np.eye(n) + Z @ Z.T
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    beta = np.linalg.solve(XtViX, X.T @ Vi @ y)
    r = y - X @ beta
    r2 = r @ Vi @ r
    logdet_v = np.linalg.slogdet(V)[1]
    if reml:
        return (
            logdet_v
            + np.linalg.slogdet(XtViX)[1]
            + (n - p) * (1 + np.log(2 * np.pi * r2 / (n - p)))
        )
    return logdet_v + n * (1 + np.log(2 * np.pi * r2 / n))


def indicators(codes, q):
    Z = np.zeros((codes.size, q))
    Z[np.arange(codes.size), codes] = 1.0
    return Z


@pytest.fixture(scope="module")
def small():
    return simulate_crossed(seed=11, n_students=40, n_instructors=12, per_student=5)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("theta", [(0.7, 1.3, 0.4), (0.0, 0.9, 0.2), (2.0, 0.0, 0.0)])
def test_criterion_matches_dense_marginal_likelihood(small, reml, theta):
    design = fixed_design(small, ["service"])
    X = design.matrix(small)
    y = small["y"].to_numpy()
    coded = [group_codes(small[g], g) for g in ["s", "d", "dept"]]
    codes = [c for c, _ in coded]
    q = [len(lev) for _, lev in coded]
    problem = ProfiledDeviance(X, y, codes, q, reml=reml)
    Zs = [indicators(c, k) for c, k in zip(codes, q, strict=True)]
    assert problem(np.array(theta)) == pytest.approx(
        dense_criterion(X, y, Zs, theta, reml=reml), rel=1e-10
    )


def test_solution_matches_dense_algebra(small):
    fit = fit_crossed(small, "y", ["service"], ["s", "d", "dept"])
    X = fit.design.matrix(small)
    y = small["y"].to_numpy()
    coded = [group_codes(small[g], g) for g in ["s", "d", "dept"]]
    Zs = [indicators(c, len(lev)) for c, lev in coded]
    Z = np.hstack(Zs)
    lam = np.concatenate([np.full(Zk.shape[1], t) for t, Zk in zip(fit.theta, Zs, strict=True)])
    sigma2 = fit.sigma**2
    # Marginal covariance, GLS fixed effects and their covariance.
    V = sigma2 * (np.eye(len(y)) + (Z * lam**2) @ Z.T)
    Vi = np.linalg.inv(V)
    cov_beta = np.linalg.inv(X.T @ Vi @ X)
    beta = cov_beta @ X.T @ Vi @ y
    np.testing.assert_allclose(fit.fixed["estimate"], beta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.fixed["se"], np.sqrt(np.diag(cov_beta)), rtol=1e-8)
    # Conditional modes (BLUPs) and lme4's conditional variances sigma^2 Λ(ΛZ'ZΛ + I)^{-1}Λ.
    G = np.diag(sigma2 * lam**2)
    blup = G @ Z.T @ Vi @ (y - X @ beta)
    A = (Z * lam).T @ (Z * lam) + np.eye(Z.shape[1])
    cond_var = sigma2 * lam**2 * np.diag(np.linalg.inv(A))
    modes = np.concatenate([fit.ranef[g]["mode"] for g in ["s", "d", "dept"]])
    sds = np.concatenate([fit.ranef[g]["cond_sd"] for g in ["s", "d", "dept"]])
    np.testing.assert_allclose(modes, blup, atol=1e-9)
    np.testing.assert_allclose(sds, np.sqrt(cond_var), rtol=1e-8, atol=1e-12)


def test_balanced_one_way_matches_anova_closed_form():
    rng = np.random.default_rng(5)
    a, n = 30, 8
    g = np.repeat(np.arange(a), n)
    y = 10 + rng.normal(0, 2.0, a)[g] + rng.normal(0, 1.5, a * n)
    data = pd.DataFrame({"y": y, "g": g})
    fit = fit_crossed(data, "y", [], ["g"])
    means = data.groupby("g")["y"].mean().to_numpy()
    msw = ((y - means[g]) ** 2).sum() / (a * (n - 1))
    msb = n * ((means - y.mean()) ** 2).sum() / (a - 1)
    assert msb > msw  # so REML's estimate is interior and equals the ANOVA estimate
    assert fit.sds["Residual"] == pytest.approx(np.sqrt(msw), rel=1e-6)
    assert fit.sds["g"] == pytest.approx(np.sqrt((msb - msw) / n), rel=1e-5)
    assert fit.fixed.loc["(Intercept)", "estimate"] == pytest.approx(y.mean(), rel=1e-10)
    assert fit.fixed.loc["(Intercept)", "se"] == pytest.approx(np.sqrt(msb / (a * n)), rel=1e-5)


def test_simulation_recovers_true_variance_components():
    data = simulate_crossed(seed=2026, n_students=500, n_instructors=80, per_student=12)
    fit = fit_crossed(data, "y", ["service"], ["s", "d", "dept"])
    assert fit.sds["Residual"] == pytest.approx(1.0, abs=0.04)
    assert fit.sds["s"] == pytest.approx(0.5, abs=0.08)
    assert fit.sds["d"] == pytest.approx(0.8, abs=0.2)
    est, se = fit.fixed.loc["service1"]
    assert abs(est - (-0.2)) < 3 * se
    # Instructor modes follow the instructors' mean ratings.
    means = data.groupby("d", observed=True)["y"].mean()
    assert np.corrcoef(means, fit.ranef["d"]["mode"])[0, 1] > 0.9


def test_group_order_does_not_matter(small):
    tight = {"xtol_abs": 1e-10, "ftol_abs": 1e-12}
    a = fit_crossed(small, "y", ["service"], ["s", "d", "dept"], **tight)
    b = fit_crossed(small, "y", ["service"], ["dept", "d", "s"], **tight)
    for g in ["s", "d", "dept", "Residual"]:
        assert a.sds[g] == pytest.approx(b.sds[g], rel=1e-4, abs=1e-6)
    assert a.criterion == pytest.approx(b.criterion, rel=1e-10)


def test_no_group_variance_gives_zero_theta():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"y": rng.normal(size=400), "g": np.repeat(np.arange(40), 10)})
    # Remove any between-group variation so the REML optimum is on the boundary.
    data["y"] -= data.groupby("g")["y"].transform("mean")
    with pytest.warns(UserWarning, match="boundary"):
        fit = fit_crossed(data, "y", [], ["g"])
    assert fit.theta[0] < 1e-3
    assert np.all(np.isfinite(fit.ranef["g"]["cond_sd"]))


@pytest.fixture(scope="module")
def archers():
    return read_archers(ARCHERS)


@pytest.mark.parametrize("reml", [True, False])
def test_archers_agree_with_statsmodels_mixedlm(archers, reml):
    import statsmodels.formula.api as smf

    fit = fit_crossed(archers, "Distance", ["Bow"], ["Name"], reml=reml)
    mixed = smf.mixedlm("Distance ~ Bow", archers, groups=archers["Name"]).fit(reml=reml)
    assert fit.sds["Name"] == pytest.approx(np.sqrt(mixed.cov_re.iloc[0, 0]), rel=1e-4)
    assert fit.sds["Residual"] == pytest.approx(np.sqrt(mixed.scale), rel=1e-4)
    np.testing.assert_allclose(fit.fixed["estimate"], mixed.fe_params, rtol=1e-6)
    np.testing.assert_allclose(fit.fixed["se"], mixed.bse_fe, rtol=1e-3)
    assert fit.criterion == pytest.approx(-2 * mixed.llf, abs=1e-4)
    modes = pd.Series({str(k): v.iloc[0] for k, v in mixed.random_effects.items()})
    ours = fit.ranef["Name"]["mode"]
    np.testing.assert_allclose(ours, modes.loc[ours.index.astype(str)], atol=1e-3)


def test_predict_uses_modes_and_zero_for_unseen_levels(small):
    fit = fit_crossed(small, "y", ["service"], ["s", "d", "dept"])
    row = small.iloc[[0]]
    expected = (
        fit.fixed.loc["(Intercept)", "estimate"]
        + (fit.fixed.loc["service1", "estimate"] if row["service"].iloc[0] == 1 else 0.0)
        + sum(fit.ranef[g].loc[row[g].iloc[0], "mode"] for g in ["s", "d", "dept"])
    )
    assert fit.predict(row)[0] == pytest.approx(expected, rel=1e-12)
    new = pd.DataFrame({"service": [0, 1], "s": [-1, -1], "d": [-5, -5], "dept": [-9, -9]})
    np.testing.assert_allclose(
        fit.predict(new),
        [fit.fixed["estimate"].iloc[0], fit.fixed["estimate"].sum()],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        fit.predict(small, include_random=False)[:1], fit.predict(row.assign(s=-1, d=-1, dept=-1))
    )


def test_predict_rejects_unknown_fixed_level(small):
    fit = fit_crossed(small, "y", ["service"], ["s"])
    with pytest.raises(ValueError, match="service"):
        fit.predict(pd.DataFrame({"service": [7], "s": [0]}))


def test_fit_outputs_are_complete(small):
    fit = fit_crossed(small, "y", ["service"], ["s", "d", "dept"], reml=False)
    assert fit.criterion_name == "deviance"
    assert list(fit.sds.index) == ["s", "d", "dept", "Residual"]
    assert set(fit.ranef) == {"s", "d", "dept"}
    assert len(fit.ranef["s"]) == small["s"].nunique()
    assert fit.n_evals > 5
    d = fit.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d  # JSON-ready as it is
    # the one vocabulary of the package (FitResult), in lme4's layout
    assert d == result_of(fit).to_dict()
    assert d["kind"] == "crossed" and d["method"] == "ML" and d["n_obs"] == fit.n_obs
    assert d["criterion_name"] == "deviance" and d["criterion"] == fit.criterion
    assert [r["grp"] for r in d["varcorr"]] == ["s", "d", "dept", "Residual"]
    np.testing.assert_allclose([r["sdcor"] for r in d["varcorr"]], fit.sds.to_numpy())
    assert [r["term"] for r in d["fixed"]] == list(fit.fixed.index)
    np.testing.assert_allclose([r["estimate"] for r in d["fixed"]], fit.fixed["estimate"])
    modes_d = [r for r in d["ranef"] if r["grpvar"] == "d"]
    assert len(modes_d) == len(fit.ranef["d"])
    assert modes_d[0]["grp"] == str(fit.ranef["d"].index[0])  # level labels as strings
    assert modes_d[0]["condval"] == pytest.approx(fit.ranef["d"]["mode"].iloc[0])
    assert d["extras"]["n_evals"] == fit.n_evals
    vc = fit.variance_components()
    assert vc["share"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"response": "nope"}, "nope"),
        ({"fixed": ["nope"]}, "nope"),
        ({"groups": ["nope"]}, "nope"),
        ({"groups": []}, "groups"),
        ({"fixed": "service"}, "fixed"),
        ({"response": "s"}, "more than one role"),
        ({"response": "d", "groups": ["s"]}, "numeric"),
    ],
)
def test_bad_arguments_raise_clear_errors(small, kwargs, match):
    args = {"response": "y", "fixed": ["service"], "groups": ["s", "d"]} | kwargs
    data = small.assign(d=small["d"].astype(str)) if kwargs.get("response") == "d" else small
    with pytest.raises(ValueError, match=match):
        fit_crossed(data, **args)


def test_bad_data_raise_clear_errors(small):
    with pytest.raises(ValueError, match="empty"):
        fit_crossed(small.iloc[:0], "y", [], ["s"])
    with pytest.raises(ValueError, match="missing"):
        fit_crossed(small.assign(y=np.where(small.index == 3, np.nan, small["y"])), "y", [], ["s"])
    with pytest.raises(ValueError, match="rank deficient"):
        fit_crossed(small.assign(x=1.0), "y", ["x"], ["s"])
    with pytest.raises(ValueError, match="DataFrame"):
        fit_crossed(small.to_dict(), "y", [], ["s"])
    with pytest.raises(ValueError, match="constant"):
        fit_crossed(small.assign(y=2.0), "y", [], ["s"])


def test_too_many_dense_levels_is_a_clear_error():
    n = 7000
    i = np.arange(n)
    data = pd.DataFrame({"y": i.astype(float), "a": i // 2, "b": i // 2 % 3500, "c": i % 3500})
    with pytest.raises(ValueError, match="dense"):  # b and c: 7,000 levels, one dense system
        fit_crossed(data, "y", [], ["a", "b", "c"])


def test_simulate_crossed_is_seeded_and_validated():
    a = simulate_crossed(seed=1, n_students=20, n_instructors=10, per_student=4)
    b = simulate_crossed(seed=1, n_students=20, n_instructors=10, per_student=4)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 80
    assert (a.groupby("s", observed=True)["d"].nunique() == 4).all()
    with pytest.raises(ValueError, match="per_student"):
        simulate_crossed(seed=1, n_instructors=3, per_student=4)
    with pytest.raises(ValueError, match="sd_student"):
        simulate_crossed(seed=1, sd_student=-1.0)


def test_schur_pattern_is_symmetric_and_covers_the_dense_block(small):
    coded = [group_codes(small[g], g) for g in ["s", "d", "dept"]]
    X = fixed_design(small, ["service"]).matrix(small)
    problem = ProfiledDeviance(
        X, small["y"].to_numpy(), [c for c, _ in coded], [len(lev) for _, lev in coded]
    )
    pattern = problem.schur_pattern().toarray()
    assert pattern.shape == (problem.m, problem.m) == (12 + 5 + 2 + 1,) * 2
    np.testing.assert_array_equal(pattern, pattern.T)
    assert np.all(np.diag(pattern) == 1)


def test_time_evaluation_does_not_count_as_optimiser_work(small):
    coded = [group_codes(small[g], g) for g in ["s", "d"]]
    X = fixed_design(small, []).matrix(small)
    problem = ProfiledDeviance(
        X, small["y"].to_numpy(), [c for c, _ in coded], [len(lev) for _, lev in coded]
    )
    seconds = problem.time_evaluation([0.5, 0.5], repeats=3)
    assert 0 < seconds < 1
    assert problem.n_evals == 0
    with pytest.raises(ValueError, match="repeats"):
        problem.time_evaluation([0.5, 0.5], repeats=0)


def test_information_criteria_count_fixed_effects_sds_and_sigma():
    data = simulate_crossed(seed=3, n_students=120, n_instructors=30)
    fit = fit_crossed(data, "y", ["service"], ["s", "d"], reml=False)
    k = 2 + 2 + 1  # intercept and service, two SDs, sigma
    assert fit.n_params == k
    assert fit.aic == pytest.approx(fit.criterion + 2 * k)
    assert fit.bic == pytest.approx(fit.criterion + np.log(fit.n_obs) * k)


@pytest.mark.parametrize("reml", ["no", 1, None])
def test_fit_crossed_refuses_a_reml_flag_that_is_not_a_bool(reml):
    data = simulate_crossed(seed=3, n_students=30, n_instructors=10, per_student=4)
    with pytest.raises(ValueError, match="reml must be True or False"):
        fit_crossed(data, "y", ["service"], ["s", "d"], reml=reml)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": "zero"}, "unknown start 'zero': start must be one of 'moments', 'lme4'"),
        ({"start": None}, "unknown start None"),
        ({"initial_step": 0.0}, "initial_step must be positive"),
        ({"initial_step": -0.1}, "initial_step must be positive"),
        ({"initial_step": float("nan")}, "initial_step must be a finite number"),
        ({"initial_step": "0.1"}, "initial_step must be a finite number"),
    ],
)
def test_fit_crossed_refuses_a_bad_start_or_step(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_crossed(_small(), "y", ["service"], ["s", "d"], **kwargs)


def _small(seed: int = 3) -> pd.DataFrame:
    return simulate_crossed(seed=seed, n_students=30, n_instructors=10, per_student=4)


def test_fit_crossed_refuses_what_lme4_refuses():
    data = _small()
    with pytest.raises(ValueError, match="has 1 level"):
        fit_crossed(data.assign(one="x"), "y", ["service"], ["s", "one"])
    with pytest.raises(ValueError, match="less than the number of observations"):
        fit_crossed(data.assign(row=np.arange(len(data))), "y", ["service"], ["s", "row"])
    with pytest.raises(ValueError, match="fixed-effect column 'flag' has only one level"):
        fit_crossed(data.assign(flag="a"), "y", ["service", "flag"], ["s", "d"])


def test_predict_refuses_missing_or_mistyped_levels():
    data = _small()
    fit = fit_crossed(data, "y", ["service"], ["s", "d"])
    new = data.head(4).copy()
    as_text = new.assign(s=new["s"].astype(int).astype(str), d=new["d"].astype(int))
    with pytest.raises(ValueError, match="no level matches"):
        fit.predict(as_text)
    with_nan = new.assign(d=new["d"].astype(float))
    with_nan.loc[with_nan.index[0], "d"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        fit.predict(with_nan)


def test_singular_fits_are_flagged_and_serialised():
    rng = np.random.default_rng(0)
    data = _small().assign(y=lambda d: 3 + rng.normal(size=len(d)))  # no group effects
    with pytest.warns(UserWarning, match="boundary \\(singular\\) fit"):
        fit = fit_crossed(data, "y", ["service"], ["s", "d"])
    assert fit.singular
    assert fit.to_dict()["singular"] is True
    assert fit.to_dict()["extras"]["optimizer_status"] == fit.optimizer_status
    assert fit.optimizer_status


def test_predict_accepts_genuinely_new_levels_of_another_type():
    data = _small()
    fit = fit_crossed(data, "y", ["service"], ["s", "d"])
    new = data.head(3).assign(s="a new student")
    assert np.allclose(
        fit.predict(new),
        fit.predict(new, include_random=False)
        + fit.ranef["d"]["mode"].reindex(new["d"]).to_numpy(),
    )


def test_a_design_too_large_for_memory_is_refused_before_allocating():
    from analysis.models.crossed import setup_bytes
    from analysis.validation import available_memory

    data = simulate_crossed(seed=3, n_students=60, n_instructors=12, per_student=5)
    with pytest.raises(ValueError, match=r"needs about .* GB of memory.*fit-large"):
        fit_crossed(data, "y", ["service"], ["s", "d", "dept"], memory_limit=1e3)
    fit = fit_crossed(data, "y", ["service"], ["s", "d", "dept"], memory_limit=1e9)
    assert np.isfinite(fit.criterion)
    # the estimate: k (k + 1) / 2 pairs per level, and the dense m x m matrices
    assert setup_bytes(np.array([1, 2]), 10) == pytest.approx(128 * (1 + 3) + 33 * 100)
    assert available_memory() > 0


@pytest.mark.parametrize("reml", [True, False])
def test_moment_start_reaches_lme4_starts_optimum_in_fewer_evaluations(reml):
    data = simulate_crossed(seed=5, n_students=400, n_instructors=80, per_student=8, n_depts=6)
    groups = ["s", "d", "dept"]
    moments = fit_crossed(data, "y", ["service"], groups, reml=reml)
    lme4_start = fit_crossed(data, "y", ["service"], groups, reml=reml, start="lme4")
    assert moments.criterion == pytest.approx(lme4_start.criterion, abs=1e-6)
    np.testing.assert_allclose(moments.theta, lme4_start.theta, atol=1e-4)
    np.testing.assert_allclose(moments.fixed, lme4_start.fixed, atol=1e-5)
    assert moments.n_evals < lme4_start.n_evals


def test_moment_start_is_close_to_the_reml_optimum_or_absent():
    from analysis.models.crossed import moment_start

    data = simulate_crossed(seed=6, n_students=400, n_instructors=80, per_student=8)
    fit = fit_crossed(data, "y", ["service"], ["s", "d"])
    design = fixed_design(data, ["service"])
    codes = [group_codes(data[g], g)[0] for g in ("s", "d")]
    theta0 = moment_start(design.matrix(data), data["y"].to_numpy(float), codes)
    assert theta0 is not None and np.all(np.abs(theta0 - fit.theta) < 0.25 * fit.theta)
    # A response without residual variation leaves no relative SD to start from.
    one = np.zeros(4)
    assert moment_start(np.ones((4, 1)), one, [np.array([0, 0, 1, 1])]) is None


def test_start_is_validated(small):
    with pytest.raises(ValueError, match="start"):
        fit_crossed(small, "y", ["service"], ["s", "d"], start="zero")


def test_the_result_names_the_fitted_model_in_lme4s_formula():
    data = _small()
    assert result_of(fit_crossed(data, "y", ["service"], ["s", "d"])).formula == (
        "y ~ service + (1 | s) + (1 | d)"
    )
    assert result_of(fit_crossed(data, "y", [], ["d", "s"])).formula == "y ~ 1 + (1 | d) + (1 | s)"
