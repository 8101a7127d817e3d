"""Tests of analysis.models.slopes (bootstrap LRT, chi-square mixture) and its studies.

The studies are :mod:`analysis.studies.coverage` (Wald coverage) and
:mod:`analysis.studies.singular` (singular fits).
"""

import subprocess
import warnings
from pathlib import Path

import matplotlib
import mixedlm
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

from analysis.book.lme4 import lme4_reference, read_reference
from analysis.book.reproducibility import rscript_with_lme4
from analysis.datasets.archers import simulate_archers
from analysis.models import slopes
from analysis.plots import slopes as splots
from analysis.studies import coverage, singular

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SINGULAR_REFERENCE = ROOT / "data" / "reference" / "archers_singular_lme4.json"
SINGULAR_SCRIPT = ROOT / "scripts" / "lme4_singular.R"


def _lmer(formula, data, reml=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mixedlm.lmer(formula, data, REML=reml)


@pytest.fixture(scope="module")
def archers_50():
    data = pd.read_csv(ROOT / "data" / "archers_50.csv")
    data["Bow"] = pd.Categorical(data["Bow"], categories=["Northwood", "Southwood"])
    data["Name"] = pd.Categorical(data["Name"], categories=pd.unique(data["Name"]))
    return data


# --- the chi-square mixture --------------------------------------------------------------------


def test_mixture_tail_is_the_average_of_its_components():
    x = np.array([0.1, 1.0, 2.7, 5.0, 9.0])
    expected = 0.5 * stats.chi2.sf(x, 1) + 0.5 * stats.chi2.sf(x, 2)
    np.testing.assert_allclose(slopes.chi2_mixture_sf(x), expected)
    assert slopes.chi2_mixture_sf(-1.0) == 1.0
    # chi2_0 is an atom at zero: it adds nothing to the tail above zero
    assert slopes.chi2_mixture_sf(2.0, 0, 1) == pytest.approx(0.5 * stats.chi2.sf(2.0, 1))
    assert slopes.chi2_mixture_sf(-0.5, 0, 1) == 1.0


def test_mixture_quantile_inverts_the_tail_and_matches_known_critical_values():
    c = slopes.chi2_mixture_ppf(0.95, 1, 2)
    assert slopes.chi2_mixture_sf(c, 1, 2) == pytest.approx(0.05, abs=1e-10)
    assert c == pytest.approx(5.1384, abs=1e-4)  # Stram & Lee's table / Self & Liang
    # 0.5 chi2_0 + 0.5 chi2_1: the 5% critical value is chi2_1's 10% one, 2.7055
    assert slopes.chi2_mixture_ppf(0.95, 0, 1) == pytest.approx(stats.chi2.isf(0.10, 1))
    assert slopes.chi2_mixture_ppf(0.3, 0, 1) == 0.0  # below the atom
    assert c < stats.chi2.isf(0.05, 2)  # the naive critical value is too large


def test_mixture_matches_simulated_draws():
    rng = np.random.default_rng(3)
    n = 200_000
    pick = rng.random(n) < 0.5
    draws = np.where(pick, rng.chisquare(1, n), rng.chisquare(2, n))
    for t in (0.5, 2.0, 5.14, 8.0):
        p = slopes.chi2_mixture_sf(t)
        assert abs(np.mean(draws > t) - p) < 4 * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: slopes.chi2_mixture_sf(1.0, 2, 2), "df_high must exceed df_low"),
        (lambda: slopes.chi2_mixture_sf(1.0, -1, 2), "df_low"),
        (lambda: slopes.chi2_mixture_sf(1.0, 1.5, 2), "df_low"),
        (lambda: slopes.chi2_mixture_sf(1.0, weight=1.5), "weight"),
        (lambda: slopes.chi2_mixture_sf(1.0, weight=True), "weight"),
        (lambda: slopes.chi2_mixture_sf(1.0, 1, 2.0), "df_high must be a whole number"),
        (lambda: slopes.check_optimizer("bobyqa"), "unknown optimizer 'bobyqa'"),
        (lambda: slopes.chi2_mixture_sf(np.nan), "NaN"),
        (lambda: slopes.chi2_mixture_ppf(1.0), "q must"),
        (lambda: slopes.chi2_mixture_ppf(0.0), "q must"),
    ],
)
def test_mixture_refuses_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- coverage ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_study():
    return coverage.coverage_study(60, seed=500, n_archers=30, shots=6, bow_sd=5.0)


def test_coverage_study_records_each_models_wald_interval(small_study):
    iv = small_study.intervals
    assert len(iv) == 2 * 60 and set(iv["model"]) == {"(1 | Name)", "(1 + Bow | Name)"}
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(iv["lower"], iv["estimate"] - z * iv["se"], rtol=1e-6)
    np.testing.assert_allclose(iv["upper"], iv["estimate"] + z * iv["se"], rtol=1e-6)
    covers = (iv["lower"] <= small_study.truth) & (small_study.truth <= iv["upper"])
    assert (covers == iv["covers"]).all()
    # balanced design: both models estimate the bow effect by the mean within-archer contrast
    wide = iv.pivot(index="replicate", columns="model", values="estimate")
    np.testing.assert_allclose(wide["(1 | Name)"], wide["(1 + Bow | Name)"], atol=1e-6)


def test_first_replication_matches_a_direct_fit(small_study):
    data = simulate_archers(30, 6, seed=500, bow_sd=5.0, skill_bow_corr=0.5).data
    for formula in (slopes.INTERCEPT_FORMULA, slopes.SLOPE_FORMULA):
        fit = _lmer(formula, data)
        row = small_study.intervals.query(
            "replicate == 0 and model == @slopes.MODEL_LABELS[@formula]"
        ).iloc[0]
        assert row["se"] == pytest.approx(np.sqrt(fit.vcov()[1, 1]), rel=1e-8)
    later = simulate_archers(30, 6, seed=517, bow_sd=5.0, skill_bow_corr=0.5).data
    fit = _lmer(slopes.SLOPE_FORMULA, later)
    row = small_study.intervals.query("replicate == 17 and model == '(1 + Bow | Name)'").iloc[0]
    assert row["estimate"] == pytest.approx(fit.fixef()[slopes.bow_term(fit)], abs=1e-6)
    assert row["se"] == pytest.approx(np.sqrt(fit.vcov()[1, 1]), rel=1e-4)


def test_random_slopes_se_is_honest_and_random_intercept_se_is_not(small_study):
    # True SD of the estimate: sqrt((sigma_b^2 + 2 sigma_e^2 / n) / J) = sqrt((25 + 50/6)/30)
    true_sd = np.sqrt((5.0**2 + 2 * 5.0**2 / 6) / 30)
    summary = small_study.summary()
    slope, intercept = summary.loc["(1 + Bow | Name)"], summary.loc["(1 | Name)"]
    assert slope["mean_se"] == pytest.approx(true_sd, rel=0.1)
    # (1 | Name) puts part of the slope variance into the residual: sigma_e^2 + sigma_b^2/2
    naive_sd = np.sqrt(2 * (5.0**2 + 5.0**2 / 2) / (6 * 30))
    assert intercept["mean_se"] == pytest.approx(naive_sd, rel=0.1)
    assert intercept["mean_se"] < 0.6 * true_sd
    # with 60 replications the coverage's MC SE is about 0.03
    assert slope["coverage"] > 0.85
    assert intercept["coverage"] < 0.8
    assert summary.loc["(1 | Name)", "mc_se"] == pytest.approx(
        np.sqrt(intercept["coverage"] * (1 - intercept["coverage"]) / 60)
    )


def test_without_slope_variance_both_models_cover():
    study = coverage.coverage_study(
        40, seed=900, n_archers=20, shots=5, bow_sd=0.0, skill_bow_corr=0.0
    )
    summary = study.summary()
    assert (summary["coverage"] > 0.85).all()
    assert study.settings["bow_sd"] == 0.0


def test_fast_and_default_optimizers_give_the_same_intervals():
    kwargs = {"seed": 40, "n_archers": 12, "shots": 5, "bow_sd": 1.0}
    fast = coverage.coverage_study(8, **kwargs, optimizer="L-BFGS-B").intervals
    auto = coverage.coverage_study(8, **kwargs, optimizer="auto").intervals
    np.testing.assert_allclose(fast["estimate"], auto["estimate"], atol=1e-6)
    np.testing.assert_allclose(fast["se"], auto["se"], rtol=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_reps": 0}, "n_reps"),
        ({"level": 1.5}, "level"),
        ({"formulas": []}, "formulas"),
        ({"formulas": [slopes.SLOPE_FORMULA] * 2}, "formulas"),
        ({"bow_sd": -2.0}, "bow_sd"),
        ({"optimizer": "bobyqa"}, "optimizer"),
        ({"shot_noise": 3.0}, "unknown simulation settings"),
        ({"formulas": ["Distance ~ 1 + (1 | Name)"]}, "fixed effects"),
    ],
)
def test_coverage_study_refuses_bad_input(kwargs, match):
    args = {"n_reps": 2, "seed": 1, "n_archers": 5, "shots": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        coverage.coverage_study(**args)


# --- the bootstrap LRT --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def null_boot(archers_50):
    # archers_50.csv was simulated without slope variance: the null hypothesis is true
    null = _lmer(slopes.INTERCEPT_FORMULA, archers_50, reml=False)
    alt = _lmer(slopes.SLOPE_FORMULA, archers_50, reml=False)
    return null, alt, slopes.bootstrap_lrt(null, alt, 300, seed=11)


def test_observed_statistic_is_mixedlms_anova_chisq(null_boot, archers_50):
    null, alt, boot = null_boot
    table = mixedlm.anova(null, alt)
    assert boot.observed == pytest.approx(float(np.asarray(table.chi_sq)[-1]), abs=1e-6)
    assert boot.df == 2
    # REML fits are refitted by ML, as anova does
    reml = slopes.bootstrap_lrt(
        _lmer(slopes.INTERCEPT_FORMULA, archers_50),
        _lmer(slopes.SLOPE_FORMULA, archers_50),
        5,
        seed=11,
    )
    assert reml.observed == pytest.approx(boot.observed, abs=1e-5)
    np.testing.assert_allclose(reml.statistics, boot.statistics[:5], atol=1e-4)


def test_bootstrap_null_follows_the_mixture_not_the_naive_chi_square(null_boot):
    _, _, boot = null_boot
    assert boot.n_boot == 300 and boot.n_failed == 0
    assert (boot.statistics >= 0).all()
    # mixture mean 1.5, SD 1.8 (SE of a mean of 300: 0.10); naive chi2_2 mean 2
    assert abs(boot.statistics.mean() - 1.5) < 0.35
    ks_mixture = stats.kstest(boot.statistics, lambda t: 1 - slopes.chi2_mixture_sf(t))
    ks_naive = stats.kstest(boot.statistics, "chi2", args=(2,))
    assert ks_mixture.pvalue > 0.01
    assert ks_naive.statistic > ks_mixture.statistic


def test_bootstrap_is_reproducible_and_seeded(null_boot):
    null, alt, boot = null_boot
    again = slopes.bootstrap_lrt(null, alt, 20, seed=11)
    np.testing.assert_array_equal(again.statistics, boot.statistics[:20])
    other = slopes.bootstrap_lrt(null, alt, 20, seed=12)
    assert not np.allclose(other.statistics, again.statistics)


def test_fast_and_default_optimizers_give_the_same_statistics(null_boot):
    null, alt, _ = null_boot
    fast = slopes.bootstrap_lrt(null, alt, 6, seed=3)
    auto = slopes.bootstrap_lrt(null, alt, 6, seed=3, optimizer="auto")
    np.testing.assert_allclose(fast.statistics, auto.statistics, atol=1e-3)


def test_p_values_and_rejection_rates_by_hand():
    boot = slopes.BootstrapLRT(
        observed=4.0, statistics=np.array([0.0, 1.0, 4.0, 6.0, 7.0]), df=2, n_failed=0, seed=0
    )
    p = boot.p_values()
    assert p["bootstrap"] == pytest.approx((1 + 3) / 6)
    assert p["naive chi2"] == pytest.approx(stats.chi2.sf(4.0, 2))
    assert p["mixture"] == pytest.approx(0.5 * stats.chi2.sf(4.0, 1) + 0.5 * stats.chi2.sf(4.0, 2))
    rates = boot.rejection_rates(0.05)
    with pytest.raises(ValueError, match="alpha"):
        boot.rejection_rates(5)
    assert rates.loc["naive chi2", "rejection"] == pytest.approx(2 / 5)  # 6 and 7 > 5.99
    assert rates.loc["mixture", "rejection"] == pytest.approx(2 / 5)  # > 5.14
    assert rates.loc["mixture", "critical"] == pytest.approx(5.1384, abs=1e-4)


def test_bootstrap_refuses_models_in_the_wrong_order(null_boot):
    null, alt, _ = null_boot
    with pytest.raises(ValueError, match="more parameters"):
        slopes.bootstrap_lrt(alt, null, 5, seed=1)
    with pytest.raises(ValueError, match="n_boot"):
        slopes.bootstrap_lrt(null, alt, 0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        slopes.bootstrap_lrt(null, alt, 5, seed=-1)
    with pytest.raises(ValueError, match="mixedlm"):
        slopes.bootstrap_lrt("fit", alt, 5, seed=1)


def test_information_criteria_are_mixedlms_ml_values(archers_50):
    fits = {label: _lmer(formula, archers_50) for formula, label in slopes.MODEL_LABELS.items()}
    table = slopes.information_criteria(fits)
    for formula, label in slopes.MODEL_LABELS.items():
        ml = _lmer(formula, archers_50, reml=False)
        assert table.loc[label, "AIC"] == pytest.approx(ml.AIC(), abs=1e-4)
        assert table.loc[label, "BIC"] == pytest.approx(ml.BIC(), abs=1e-4)
        assert table.loc[label, "npar"] == ml.npar()
    assert table["npar"].tolist() == [4, 6, 5]
    assert table["delta AIC"].min() == 0.0
    with pytest.raises(ValueError, match="fits"):
        slopes.information_criteria({})


# --- singular fits ----------------------------------------------------------------------------


def test_singular_rate_falls_with_more_archers_and_larger_slope_sd():
    rates = singular.singular_rate([5, 40], [0.0, 5.0], 40, seed=70)
    assert rates.shape == (4, 4)
    r = rates.set_index(["n_archers", "bow_sd"])["singular"]
    assert r[(5, 0.0)] > 0.4  # few archers and no slope variance: mostly singular
    assert r[(40, 5.0)] == 0.0  # many archers and a clear slope SD: never
    assert r[(5, 0.0)] > r[(5, 5.0)]
    with pytest.raises(ValueError, match="n_archers"):
        singular.singular_rate([1], [0.0], 2, seed=1)
    with pytest.raises(ValueError, match="bow_sd"):
        singular.singular_rate([5], [-1.0], 2, seed=1)


@pytest.fixture(scope="module")
def singular_reference():
    return lme4_reference("archers_singular", SINGULAR_REFERENCE)


def test_singular_example_is_the_data_lme4_fitted(singular_reference):
    data = singular.singular_example().data
    ref = singular_reference.extras["data"]
    np.testing.assert_array_equal(data["Distance"].to_numpy(), np.asarray(ref["Distance"]))
    assert data["Bow"].astype(str).tolist() == ref["Bow"]
    assert data["Name"].astype(str).tolist() == ref["Name"]


def test_singular_fit_matches_lme4(singular_reference):
    ref = singular_reference
    fit = _lmer(slopes.SLOPE_FORMULA, singular.singular_example().data)
    assert fit.isSingular() and ref.singular
    assert ref.extras["messages"] == ["boundary (singular) fit: see help('isSingular')"]
    np.testing.assert_allclose(fit.theta, ref.extras["theta"], atol=1e-3)
    vc = ref.varcorr.set_index(["grp", "var1", "var2"])["sdcor"]
    cov = fit.VarCorr().get_cov("Name")
    sd_a, sd_b = np.sqrt(np.diag(cov))
    assert sd_a == pytest.approx(vc[("Name", "(Intercept)", "")], abs=1e-3)
    assert sd_b == pytest.approx(vc[("Name", "BowSouthwood", "")], abs=1e-3)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert corr == pytest.approx(vc[("Name", "(Intercept)", "BowSouthwood")], abs=1e-6)
    assert abs(corr) == pytest.approx(1.0)  # singular by a perfect correlation
    assert fit.sigma == pytest.approx(vc[("Residual", "", "")], abs=1e-3)
    fixef = list(fit.fixef().values())
    bow = ref.fixed.set_index("term").loc["BowSouthwood"]
    assert fixef[1] == pytest.approx(bow["estimate"], abs=1e-4)
    assert np.sqrt(fit.vcov()[1, 1]) == pytest.approx(bow["std_error"], abs=1e-3)
    assert fit.REMLcrit() == pytest.approx(ref.criterion, abs=1e-3)


@pytest.mark.slow
def test_singular_r_script_reproduces_committed_reference(tmp_path, singular_reference):
    exe = rscript_with_lme4()
    if exe is None:
        pytest.skip("Rscript with the lme4 and jsonlite packages is not installed")
    run = subprocess.run(
        [exe, str(SINGULAR_SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    fresh = lme4_reference("archers_singular", tmp_path / "archers_singular_lme4.json")
    assert fresh.extras["data"] == singular_reference.extras["data"]
    assert fresh.singular == singular_reference.singular
    np.testing.assert_allclose(fresh.extras["theta"], singular_reference.extras["theta"], atol=1e-6)


# --- helpers and figures ------------------------------------------------------------------------


def test_archer_bow_differences_by_hand():
    data = pd.DataFrame(
        {
            "Distance": [10.0, 12.0, 7.0, 9.0, 20.0, 22.0, 21.0, 23.0],
            "Bow": pd.Categorical(
                ["Northwood", "Northwood", "Southwood", "Southwood"] * 2,
                categories=["Northwood", "Southwood"],
            ),
            "Name": ["a"] * 4 + ["b"] * 4,
        }
    )
    out = slopes.archer_bow_differences(data)
    assert out.index.tolist() == ["a", "b"]
    assert out.loc["a", "difference"] == pytest.approx(-3.0)
    assert out.loc["b", "difference"] == pytest.approx(1.0)
    assert out.loc["a", "mean"] == pytest.approx(9.5)
    # within-cell SD: every cell has deviations +-1, 8 - 4 degrees of freedom: sd = sqrt(8/4)
    assert out.loc["a", "noise_se"] == pytest.approx(np.sqrt(2.0) * np.sqrt(1 / 2 + 1 / 2))
    with pytest.raises(ValueError, match="both bows"):
        slopes.archer_bow_differences(data[data["Bow"] == "Northwood"])


def test_bow_term_needs_a_bow_effect(archers_50):
    assert slopes.bow_term(_lmer(slopes.SLOPE_FORMULA, archers_50)).startswith("Bow")
    with pytest.raises(ValueError, match="fixed effects"):
        slopes.bow_term(_lmer("Distance ~ 1 + (1 | Name)", archers_50))


def test_figures_fit_the_column(small_study, null_boot, archers_50):
    _, _, boot = null_boot
    figures = [
        splots.plot_coverage(small_study, n_show=30),
        splots.plot_lrt_null(boot),
        splots.plot_archer_bow_effects({"same cost": archers_50, "varying": archers_50}),
    ]
    for fig in figures:
        width, _ = fig.get_size_inches()
        assert width * fig.dpi <= 757
        assert len(fig.axes) == 2
        assert fig.legends  # the legend sits above the panels, not on the data
    with pytest.raises(ValueError, match="n_show"):
        splots.plot_coverage(small_study, n_show=0)
    with pytest.raises(ValueError, match="panels"):
        splots.plot_archer_bow_effects({})


# --- one residual SD for every group? (the sleepstudy chapter's bootstrap) ---------------------


def _growth_data(noisy_group_sd=None, seed=20260601):
    """Twelve groups, eight days each, random intercepts and slopes (seeded)."""
    rng = np.random.default_rng(seed)
    groups = [f"g{i:02d}" for i in range(12)]
    days = np.arange(8.0)
    rows = []
    for k, g in enumerate(groups):
        a, b = 250 + rng.normal(0, 25), 10 + rng.normal(0, 5)
        sd = noisy_group_sd if (noisy_group_sd is not None and k == 0) else 20.0
        rows += [{"g": g, "x": d, "y": a + b * d + rng.normal(0, sd)} for d in days]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def spread_boot():
    data = _growth_data()
    fit = _lmer("y ~ x + (x | g)", data)
    return data, fit, slopes.residual_spread_bootstrap(fit, data["g"], 60, seed=11)


def test_residual_spread_bootstrap_sorts_the_groups_residual_sds(spread_boot):
    data, fit, boot = spread_boot
    by_hand = pd.Series(fit.residuals()).groupby(data["g"].to_numpy()).std().sort_values()
    pd.testing.assert_series_equal(boot.observed, by_hand, check_names=False)
    assert boot.simulated.shape == (boot.n_boot, 12) and boot.n_failed == 0
    assert boot.n_boot == 60
    assert (np.diff(boot.simulated, axis=1) >= 0).all()  # every row sorted
    bands = boot.bands(0.9)
    np.testing.assert_allclose(bands["lower"], np.quantile(boot.simulated, 0.05, axis=0))
    np.testing.assert_allclose(bands["upper"], np.quantile(boot.simulated, 0.95, axis=0))
    assert bands["group"].tolist() == boot.observed.index.tolist()
    assert (
        bands["outside"]
        == ((bands["observed"] < bands["lower"]) | (bands["observed"] > bands["upper"]))
    ).all()


def test_residual_spread_bootstrap_is_calibrated_and_finds_a_noisy_group(spread_boot):
    _, _, boot = spread_boot
    # data simulated from the model: the observed SDs sit inside (nearly) all their bands
    assert int(boot.bands(0.95)["outside"].sum()) <= 2
    noisy = _growth_data(noisy_group_sd=80.0)
    fit = _lmer("y ~ x + (x | g)", noisy)
    found = slopes.residual_spread_bootstrap(fit, noisy["g"], 60, seed=11).bands(0.95)
    assert found["group"].iloc[-1] == "g00" and bool(found["outside"].iloc[-1])


def test_residual_spread_bootstrap_is_seeded_and_refuses_bad_input(spread_boot):
    data, fit, boot = spread_boot
    again = slopes.residual_spread_bootstrap(fit, data["g"], 5, seed=11)
    np.testing.assert_allclose(again.simulated, boot.simulated[:5])
    with pytest.raises(ValueError, match="one entry per observation"):
        slopes.residual_spread_bootstrap(fit, data["g"].iloc[:-1], 5, seed=1)
    with pytest.raises(ValueError, match="n_boot"):
        slopes.residual_spread_bootstrap(fit, data["g"], 0, seed=1)
    with pytest.raises(ValueError, match="mixedlm"):
        slopes.residual_spread_bootstrap(object(), data["g"], 5, seed=1)
    with pytest.raises(ValueError, match="level"):
        boot.bands(1.5)


# --- chapter 6c's random-slope model, written in the chapter, is the package's builder ---------

CHAPTER_6C = ROOT / "book" / "06c_bayesian_slopes.ipynb"


def _chapter_cell(path, marker):
    import nbformat

    cells = [
        c.source
        for c in nbformat.read(path, as_version=4).cells
        if c.cell_type == "code" and marker in c.source
    ]
    assert len(cells) == 1, f"{marker!r} in {len(cells)} cells of {path.name}"
    return cells[0]


def test_chapter_6c_model_is_the_random_slopes_builder():
    from analysis import bayes
    from analysis.bayes.equivalence import assert_same_model

    sleep = pd.read_csv(ROOT / "data" / "sleepstudy.csv", dtype={"Subject": str})
    priors = bayes.Priors.from_data(sleep, response="Reaction", slope="Days")
    namespace = {
        "pm": pm,
        "np": np,
        "pd": pd,
        "sleep": sleep,
        "priors": priors,
        "print": lambda *args, **kwargs: None,
    }
    exec(_chapter_cell(CHAPTER_6C, "as slope_model:"), namespace)  # noqa: S102
    chapter = namespace["slope_model"]
    builder = bayes.random_slopes_model(
        sleep, response="Reaction", slope="Days", group="Subject", priors=priors
    )
    assert_same_model(chapter, builder, n_points=5, seed=3)
    # created in the same order, so that the sampler sees the same vector (same draws)
    assert [v.name for v in chapter.free_RVs] == [v.name for v in builder.free_RVs]
    assert [v.name for v in chapter.deterministics] == [v.name for v in builder.deterministics]
    # and a different model is told apart
    other = bayes.random_slopes_model(
        sleep,
        response="Reaction",
        slope="Days",
        group="Subject",
        priors=priors.with_group_sd(bayes.SigmaPrior("halfnormal", 10.0)),
    )
    with pytest.raises(AssertionError):
        assert_same_model(chapter, other)


# --- where Days = 0: the centring reference from lme4 ------------------------------------------

CENTRING_REFERENCE = ROOT / "data" / "reference" / "sleepstudy_centring_lme4.json"
CENTRING_SCRIPT = ROOT / "scripts" / "lme4_centring.R"


@pytest.fixture(scope="module")
def centring_reference():
    return read_reference(CENTRING_REFERENCE)


def test_centring_fits_match_lme4_and_only_the_uncorrelated_model_moves(centring_reference):
    from analysis.book.lme4 import assert_matches_lme4
    from analysis.models.lmer import fit_lmer, lrt

    sleep = pd.read_csv(ROOT / "data" / "sleepstudy.csv", dtype={"Subject": str})
    sleep["Days_c"] = sleep["Days"] - centring_reference["extras"]["days_centre"]
    fits = {
        key: fit_lmer(centring_reference["fits"][key]["formula"], sleep)
        for key in ("uncentred_cor", "uncentred_uncor", "centred_cor", "centred_uncor")
    }
    for key, fit in fits.items():
        ref = lme4_reference(key, CENTRING_REFERENCE)
        assert_matches_lme4(fit, ref, sd=1e-3, fixed=1e-3)  # lme4 stops short in sd_(Intercept)
    # the correlated model is the same model wherever Days = 0; the uncorrelated is not
    assert fits["centred_cor"].REMLcrit() == pytest.approx(
        fits["uncentred_cor"].REMLcrit(), abs=1e-6
    )
    assert abs(fits["centred_uncor"].REMLcrit() - fits["uncentred_uncor"].REMLcrit()) > 5
    for which in ("uncentred", "centred"):
        mine = lrt(fits[f"{which}_uncor"], fits[f"{which}_cor"])
        ref = centring_reference["extras"][f"anova_{which}"]
        assert mine["chisq"] == pytest.approx(ref["chisq"], abs=1e-3)
        assert mine["p"] == pytest.approx(ref["p_value"], abs=1e-5)
    assert centring_reference["extras"]["anova_centred"]["p_value"] < 0.01
    assert centring_reference["extras"]["anova_uncentred"]["p_value"] > 0.5


@pytest.mark.slow
def test_centring_r_script_reproduces_committed_reference(tmp_path, centring_reference):
    exe = rscript_with_lme4()
    if exe is None:
        pytest.skip("Rscript with the lme4 and jsonlite packages is not installed")
    run = subprocess.run(
        [exe, str(CENTRING_SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    if run.returncode != 0 and "nlme" in run.stderr:
        pytest.skip("R's nlme package is not installed")
    assert run.returncode == 0, run.stderr
    fresh = read_reference(tmp_path / "sleepstudy_centring_lme4.json")
    for key in ("anova_uncentred", "anova_centred", "residual_sd_by_subject"):
        assert fresh["extras"][key]["chisq"] == pytest.approx(
            centring_reference["extras"][key]["chisq"], abs=1e-6
        )
    np.testing.assert_allclose(
        fresh["fits"]["centred_cor"]["varcorr"]["sdcor"],
        centring_reference["fits"]["centred_cor"]["varcorr"]["sdcor"],
        atol=1e-6,
    )
