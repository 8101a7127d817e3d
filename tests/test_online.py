"""Tests for analysis.models.online: the online-services simulator and the prediction methods."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.bayes import one_way
from analysis.book.reproducibility import rscript_with_lme4
from analysis.datasets.online import simulate_online
from analysis.models import online as ol
from analysis.studies import prediction

# ------------------------------------------------------------------------------------------
# Simulator
# ------------------------------------------------------------------------------------------


def test_simulation_is_deterministic_per_seed() -> None:
    a = simulate_online(300, seed=11, n_devices=3, device_sd=0.5)
    b = simulate_online(300, seed=11, n_devices=3, device_sd=0.5)
    pd.testing.assert_frame_equal(a.train, b.train)
    pd.testing.assert_frame_equal(a.test, b.test)
    pd.testing.assert_series_equal(a.unit_effects, b.unit_effects)
    pd.testing.assert_series_equal(a.device_effects, b.device_effects)
    c = simulate_online(300, seed=12, n_devices=3, device_sd=0.5)
    assert not np.allclose(a.unit_effects.to_numpy(), c.unit_effects.to_numpy())


def test_frames_have_the_documented_shape() -> None:
    sim = simulate_online(400, seed=3, n_unseen=50, test_fraction=0.4)
    assert list(sim.train.columns) == ["unit", "y"]
    assert list(sim.test.columns) == ["unit", "y"]
    assert sim.train["y"].dtype == float
    # Every seen unit has at least one training row; unit ids are 0..n_units-1.
    assert sorted(sim.train["unit"].unique()) == list(range(400))
    assert len(sim.unit_effects) == 450
    assert list(sim.unseen_units) == list(range(400, 450))
    # Unseen units are disjoint from training units and are all in the test set.
    assert set(sim.unseen_units).isdisjoint(sim.train["unit"])
    assert set(sim.unseen_units) <= set(sim.test["unit"])
    # Test rows of seen units exist (split within units).
    assert sim.test["unit"].lt(400).sum() > 0
    dev = simulate_online(100, seed=3, n_devices=4, device_sd=1.0)
    assert list(dev.train.columns) == ["unit", "device", "y"]
    assert set(dev.train["device"]) <= {0, 1, 2, 3}
    assert len(dev.device_effects) == 4


def test_traffic_is_heavy_tailed_and_capped() -> None:
    sim = simulate_online(
        3000,
        seed=5,
        median_traffic=3.0,
        traffic_spread=2.0,
        max_traffic=800,
        test_fraction=0.0,
        n_unseen=0,
    )
    counts = sim.train["unit"].value_counts()
    assert len(sim.test) == 0
    assert counts.max() <= 800
    assert counts.median() <= 6
    # A few huge units carry a large share of all traffic.
    top = counts.sort_values(ascending=False).iloc[: len(counts) // 100].sum()
    assert top / counts.sum() > 0.25


def test_simulation_has_the_requested_moments() -> None:
    sim = simulate_online(4000, seed=8, intercept=3.0, unit_sd=1.5, noise_sd=0.5)
    assert sim.unit_effects.std() == pytest.approx(1.5, rel=0.05)
    resid = sim.train["y"] - sim.true_means(sim.train)
    assert resid.std() == pytest.approx(0.5, rel=0.03)
    assert sim.penalty == pytest.approx(0.5**2 / 1.5**2)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_units": 0}, "n_units"),
        ({"n_units": 2.5}, "n_units"),
        ({"seed": -1}, "seed"),
        ({"unit_sd": -1.0}, "unit_sd"),
        ({"noise_sd": 0.0}, "noise_sd"),
        ({"intercept": math.nan}, "intercept"),
        ({"median_traffic": 0.0}, "median_traffic"),
        ({"traffic_spread": -0.1}, "traffic_spread"),
        ({"max_traffic": 1}, "max_traffic"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": -0.2}, "test_fraction"),
        ({"n_unseen": -3}, "n_unseen"),
        ({"n_devices": -1}, "n_devices"),
        ({"device_sd": 1.0}, "device_sd"),
    ],
)
def test_simulator_rejects_bad_arguments(kwargs: dict, name: str) -> None:
    args = {"n_units": 50, "seed": 1} | kwargs
    with pytest.raises(ValueError, match=name):
        simulate_online(**args)


# ------------------------------------------------------------------------------------------
# The REML fitter
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return simulate_online(60, seed=21, median_traffic=5.0).train


def test_fit_one_way_matches_statsmodels_mixedlm(small: pd.DataFrame) -> None:
    import statsmodels.formula.api as smf

    fit = ol.fit_one_way(small)
    ref = smf.mixedlm("y ~ 1", small, groups=small["unit"]).fit(reml=True)
    assert fit.intercept == pytest.approx(ref.fe_params.iloc[0], abs=1e-5)
    assert fit.unit_sd == pytest.approx(math.sqrt(ref.cov_re.iloc[0, 0]), rel=1e-4)
    assert fit.noise_sd == pytest.approx(math.sqrt(ref.scale), rel=1e-4)
    blups = pd.Series({k: v.iloc[0] for k, v in ref.random_effects.items()}).sort_index()
    np.testing.assert_allclose(fit.effects.to_numpy(), blups.to_numpy(), atol=1e-4)


def test_fit_one_way_matches_lme4(small: pd.DataFrame, tmp_path) -> None:
    if rscript_with_lme4() is None:
        pytest.skip("Rscript with the lme4 and jsonlite packages is not installed")
    path = tmp_path / "small.csv"
    small.to_csv(path, index=False)
    script = (
        "suppressMessages(library(lme4)); "
        f"d <- read.csv('{path}'); d$unit <- factor(d$unit); "
        "m <- lmer(y ~ 1 + (1 | unit), data = d, REML = TRUE); "
        "vc <- as.data.frame(VarCorr(m)); "
        "cat(jsonlite::toJSON(list(beta = unname(fixef(m)), sd_a = vc$sdcor[1], "
        "sd_e = vc$sdcor[2], reml = unname(REMLcrit(m)), "
        "ranef = unname(ranef(m)$unit[[1]])), digits = 12))"
    )
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ref = json.loads(out.stdout)
    fit = ol.fit_one_way(small)
    assert fit.reml_criterion == pytest.approx(ref["reml"][0], abs=1e-5)
    assert fit.intercept == pytest.approx(ref["beta"][0], abs=1e-5)
    assert fit.unit_sd == pytest.approx(ref["sd_a"][0], rel=1e-4)
    assert fit.noise_sd == pytest.approx(ref["sd_e"][0], rel=1e-4)
    np.testing.assert_allclose(fit.effects.to_numpy(), ref["ranef"], atol=1e-4)


def test_fit_one_way_recovers_the_truth() -> None:
    sim = simulate_online(3000, seed=4, unit_sd=1.2, noise_sd=2.5)
    fit = ol.fit_one_way(sim.train)
    assert fit.unit_sd == pytest.approx(1.2, rel=0.06)
    assert fit.noise_sd == pytest.approx(2.5, rel=0.02)
    assert fit.intercept == pytest.approx(sim.intercept, abs=0.1)
    # BLUPs shrink: never further from 0 than the raw deviation, and more so for small units.
    raw = sim.train.groupby("unit")["y"].mean() - fit.intercept
    assert np.all(np.abs(fit.effects) <= np.abs(raw) + 1e-12)
    shrink = fit.effects / raw
    n = fit.n
    assert shrink[n == 1].mean() < shrink[n > 50].mean()


def test_fit_one_way_finds_a_boundary_fit() -> None:
    sim = simulate_online(200, seed=9, unit_sd=0.0, noise_sd=1.0, median_traffic=8.0)
    fit = ol.fit_one_way(sim.train)
    assert fit.unit_sd < 0.1
    assert np.all(np.abs(fit.effects) < 0.05)


def test_fit_one_way_rejects_bad_data() -> None:
    with pytest.raises(ValueError, match="train"):
        ol.fit_one_way(pd.DataFrame({"unit": [1, 2]}))
    with pytest.raises(ValueError, match="two units"):
        ol.fit_one_way(pd.DataFrame({"unit": [1, 1, 1], "y": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValueError, match="two or more"):
        ol.fit_one_way(pd.DataFrame({"unit": [1, 2, 3], "y": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValueError, match="empty"):
        ol.fit_one_way(pd.DataFrame({"unit": [], "y": []}))
    with pytest.raises(ValueError, match="train column 'y' has missing or infinite"):
        ol.fit_one_way(pd.DataFrame({"unit": [1, 1, 2, 2], "y": [1.0, 2.0, np.inf, 3.0]}))


# ------------------------------------------------------------------------------------------
# Ridge
# ------------------------------------------------------------------------------------------


def test_blup_is_ridge_with_penalty_sigma_e2_over_sigma_a2(small: pd.DataFrame) -> None:
    fit = ol.fit_one_way(small)
    ridge = ol.fit_ridge(small, fit.penalty)
    assert ridge.intercept == pytest.approx(fit.intercept, abs=1e-8)
    np.testing.assert_allclose(ridge.effects.to_numpy(), fit.effects.to_numpy(), atol=1e-8)
    # A different penalty gives different coefficients, so the check above can fail.
    other = ol.fit_ridge(small, 3.0 * fit.penalty)
    assert np.max(np.abs(other.effects.to_numpy() - fit.effects.to_numpy())) > 1e-3
    # The sparse iterative solver reaches the same point.
    sparse_fit = ol.fit_ridge(small, fit.penalty, dense=False)
    np.testing.assert_allclose(sparse_fit.effects.to_numpy(), fit.effects.to_numpy(), atol=1e-5)


def test_fit_ridge_cv_agrees_with_sklearn_grid_search(small: pd.DataFrame) -> None:
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, KFold

    alphas = np.logspace(-1, 2, 13)
    ours = ol.fit_ridge_cv(small, seed=5, alphas=alphas, n_folds=4)
    units, codes = np.unique(small["unit"], return_inverse=True)
    x = np.eye(len(units))[codes]
    search = GridSearchCV(
        Ridge(solver="cholesky"),
        {"alpha": alphas},
        scoring="neg_mean_squared_error",
        cv=KFold(4, shuffle=True, random_state=5),
    ).fit(x, small["y"])
    assert ours.alpha == pytest.approx(search.best_params_["alpha"])
    np.testing.assert_allclose(ours.effects.to_numpy(), search.best_estimator_.coef_, atol=1e-8)
    assert ours.intercept == pytest.approx(search.best_estimator_.intercept_, abs=1e-8)


def test_ridge_cv_penalty_is_near_the_true_ratio() -> None:
    sim = simulate_online(2000, seed=6, unit_sd=1.0, noise_sd=2.0)
    fit = ol.fit_ridge_cv(sim.train, seed=6)
    assert 4.0 / 2.5 < fit.alpha < 4.0 * 2.5


def test_ridge_rejects_bad_arguments(small: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="alpha"):
        ol.fit_ridge(small, 0.0)
    with pytest.raises(ValueError, match="alphas"):
        ol.fit_ridge_cv(small, seed=1, alphas=[1.0, -1.0])
    with pytest.raises(ValueError, match="n_folds"):
        ol.fit_ridge_cv(small, seed=1, n_folds=1)
    with pytest.raises(ValueError, match="alpha must be positive"):
        ol.fit_ridge(small, -1.0)
    with pytest.raises(ValueError, match="alphas must hold at least 1"):
        ol.fit_ridge_cv(small, seed=1, alphas=[])
    with pytest.raises(ValueError, match="fewer than the 5 needed"):
        ol.fit_ridge_cv(small.iloc[:4], seed=1, n_folds=5)


# ------------------------------------------------------------------------------------------
# Prediction methods and evaluation
# ------------------------------------------------------------------------------------------


def test_unseen_units_get_the_pooled_prediction() -> None:
    sim = simulate_online(200, seed=2, n_unseen=20)
    unseen = sim.test[sim.test["unit"].isin(sim.unseen_units)]
    grand = sim.train["y"].mean()
    np.testing.assert_allclose(ol.predict_unit_means(sim.train, unseen), grand)
    np.testing.assert_allclose(ol.predict_grand_mean(sim.train, unseen), grand)
    np.testing.assert_allclose(
        ol.predict_blup(sim.train, unseen), ol.fit_one_way(sim.train).intercept
    )


def test_unit_means_predict_each_units_training_mean() -> None:
    train = pd.DataFrame({"unit": [1, 1, 2], "y": [1.0, 3.0, 10.0]})
    test = pd.DataFrame({"unit": [2, 1, 7], "y": [0.0, 0.0, 0.0]})
    np.testing.assert_allclose(ol.predict_unit_means(train, test), [10.0, 2.0, 14.0 / 3.0])


def test_partial_pooling_beats_no_pooling_on_small_units() -> None:
    sim = simulate_online(4000, seed=13, test_fraction=0.5)
    preds = {name: m(sim.train, sim.test) for name, m in ol.default_methods(13).items()}
    res = ol.evaluate(sim.train, sim.test, preds).set_index(["method", "bucket"])["rmse"]
    for bucket in ("1", "2-3", "4-10"):
        assert res[("partial pooling (BLUP)", bucket)] < res[("no pooling", bucket)]
    # Large units: partial pooling beats complete pooling and is close to no pooling.
    assert res[("partial pooling (BLUP)", ">100")] < res[("complete pooling", ">100")]
    assert res[("partial pooling (BLUP)", ">100")] == pytest.approx(
        res[("no pooling", ">100")], rel=0.01
    )
    # Overall the mixed model is the best of the first three.
    best = min(res[(m, "overall")] for m in ("complete pooling", "no pooling"))
    assert res[("partial pooling (BLUP)", "overall")] < best


def test_traffic_bucket_edges() -> None:
    labels = list(ol.traffic_bucket([0, 1, 2, 3, 4, 10, 11, 30, 31, 100, 101, 5000]))
    assert labels == [
        "unseen",
        "1",
        "2-3",
        "2-3",
        "4-10",
        "4-10",
        "11-30",
        "11-30",
        "31-100",
        "31-100",
        ">100",
        ">100",
    ]
    with pytest.raises(ValueError, match="n_train"):
        ol.traffic_bucket([-1])


def test_evaluate_computes_rmse_by_bucket() -> None:
    train = pd.DataFrame({"unit": [1, 2, 2], "y": [0.0, 0.0, 0.0]})
    test = pd.DataFrame({"unit": [1, 2, 3], "y": [1.0, 2.0, 3.0]})
    out = ol.evaluate(train, test, {"zero": np.zeros(3)}).set_index("bucket")
    assert out.loc["1", "rmse"] == pytest.approx(1.0)
    assert out.loc["2-3", "rmse"] == pytest.approx(2.0)
    assert out.loc["unseen", "rmse"] == pytest.approx(3.0)
    assert out.loc["overall", "rmse"] == pytest.approx(math.sqrt(14 / 3))
    assert "4-10" not in out.index
    with pytest.raises(ValueError, match="predictions"):
        ol.evaluate(train, test, {"short": np.zeros(2)})


def test_replicate_and_summarise() -> None:
    res = prediction.replicate([1, 2, 3], n_units=200)
    assert set(res["seed"]) == {1, 2, 3}
    summary = prediction.summarise(res)
    row = summary[(summary["method"] == "no pooling") & (summary["bucket"] == "overall")]
    vals = res[(res["method"] == "no pooling") & (res["bucket"] == "overall")]["rmse"]
    assert row["rmse"].iloc[0] == pytest.approx(vals.mean())
    assert row["se"].iloc[0] == pytest.approx(vals.std() / math.sqrt(3))
    assert list(summary["method"].cat.categories) == list(ol.default_methods(0))
    # Same seeds, same numbers.
    pd.testing.assert_frame_equal(res, prediction.replicate([1, 2, 3], n_units=200))
    with pytest.raises(ValueError, match="seeds"):
        prediction.replicate([])


def test_relative_rmse_pairs_by_seed_and_bucket() -> None:
    res = prediction.replicate([4, 5], n_units=200)
    rel = prediction.relative_rmse(res, "partial pooling (BLUP)")
    ref = rel[rel["method"] == "partial pooling (BLUP)"]
    np.testing.assert_allclose(ref["rmse"], 1.0)
    row = (res["method"] == "no pooling") & (res["bucket"] == "1") & (res["seed"] == 5)
    base = (res["method"] == "partial pooling (BLUP)") & (res["bucket"] == "1") & (res["seed"] == 5)
    assert rel.loc[row, "rmse"].iloc[0] == pytest.approx(
        res.loc[row, "rmse"].iloc[0] / res.loc[base, "rmse"].iloc[0]
    )
    with pytest.raises(ValueError, match="reference"):
        prediction.relative_rmse(res, "nope")


# ------------------------------------------------------------------------------------------
# Bayesian model
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("centre_above", [None, 0.0, math.inf])
def test_sufficient_statistics_likelihood_equals_raw_likelihood(
    small: pd.DataFrame, centre_above: float | None
) -> None:
    """The PyMC model's likelihood differs from the raw-data one by a constant only."""
    from scipy import stats

    model = one_way.one_way_pymc_model(small, centre_above=centre_above)
    names = [v.name for v in model.value_vars]
    if centre_above == 0.0:
        assert "z" not in names and "large_unit_mean" in names
    if centre_above == math.inf:
        assert "z" in names and "large_unit_mean" not in names
    loglik = model.compile_fn(
        model.logp(vars=[*model.observed_RVs, *model.potentials]),
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    outs = model.replace_rvs_by_values([model["beta"], model["noise_sd"], model["unit_effect"]])
    parts = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    _, codes = np.unique(small["unit"], return_inverse=True)
    y = small["y"].to_numpy()
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(4):
        point = {
            v.name: rng.normal(0.3, 0.5, size=model.initial_point()[v.name].shape)
            for v in model.value_vars
        }
        beta, noise_sd, effect = parts(point)
        raw = stats.norm.logpdf(y, beta + effect[codes], noise_sd).sum()
        diffs.append(float(loglik(point)) - raw)
    assert np.ptp(diffs) < 1e-6


def test_pymc_model_rejects_bad_centre_above(small: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="centre_above"):
        one_way.one_way_pymc_model(small, centre_above=-1.0)


@pytest.mark.slow
def test_bayesian_posterior_means_are_close_to_blups() -> None:
    pytest.importorskip("analysis.bayes")
    sim = simulate_online(80, seed=31, median_traffic=6.0)
    fit = ol.fit_one_way(sim.train)
    post = one_way.fit_bayes(sim.train, seed=1, draws=400, tune=400, chains=2)
    assert np.corrcoef(post.effects.to_numpy(), fit.effects.to_numpy())[0, 1] > 0.98
    assert post.intercept == pytest.approx(fit.intercept, abs=0.2)
    assert post.noise_sd == pytest.approx(fit.noise_sd, rel=0.1)


# ------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------


def test_figures_draw() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from analysis.plots import online as op
    from analysis.plots.mixed import plot_shrinkage_scatter

    sim = simulate_online(300, seed=1)
    fit = ol.fit_one_way(sim.train)
    ridge = ol.fit_ridge_cv(sim.train, seed=1)
    summary = prediction.summarise(prediction.replicate([1, 2], n_units=300))
    figs = [
        op.plot_traffic(sim.train),
        op.plot_rmse_by_bucket(summary),
        op.plot_rmse_by_bucket(
            prediction.summarise(
                prediction.relative_rmse(
                    prediction.replicate([1, 2], n_units=300), "partial pooling (BLUP)"
                )
            ),
            reference="partial pooling (BLUP)",
        ),
        plot_shrinkage_scatter(sim.train, fit.effects, "unit", fit.intercept, unit="unit"),
        op.plot_ridge_cv(ridge, mixed_penalty=fit.penalty),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    # One line per method in the RMSE plot.
    assert len(figs[1].axes[0].get_legend().get_texts()) == 4
    with pytest.raises(ValueError, match="methods"):
        op.plot_rmse_by_bucket(summary, methods=["nope"])
    with pytest.raises(ValueError, match="ridge"):
        op.plot_ridge_cv(ol.fit_ridge(sim.train, 1.0))
    plt.close("all")


def test_true_means_include_device_effects() -> None:
    sim = simulate_online(500, seed=17, n_devices=3, device_sd=2.0, noise_sd=0.1, unit_sd=0.5)
    expected = (
        sim.intercept
        + sim.unit_effects.reindex(sim.train["unit"]).to_numpy()
        + sim.device_effects.reindex(sim.train["device"]).to_numpy()
    )
    np.testing.assert_allclose(sim.true_means(sim.train), expected)
    # With tiny noise the data sit on their true means.
    assert np.abs(sim.train["y"] - sim.true_means(sim.train)).max() < 0.6


def test_methods_accept_string_unit_labels(small: pd.DataFrame) -> None:
    named = small.assign(unit="site-" + small["unit"].astype(str).str.zfill(3))
    np.testing.assert_allclose(
        ol.fit_one_way(named).effects.to_numpy(), ol.fit_one_way(small).effects.to_numpy()
    )
    np.testing.assert_allclose(
        ol.predict_ridge_cv(named, named, seed=1), ol.predict_ridge_cv(small, small, seed=1)
    )


def test_informative_traffic_makes_busy_units_better_and_leaves_the_default_unchanged():
    base = simulate_online(seed=4, n_units=300)
    again = simulate_online(seed=4, n_units=300, traffic_effect_corr=0.0)
    pd.testing.assert_frame_equal(base.train, again.train)
    sim = simulate_online(seed=4, n_units=3000, n_unseen=0, traffic_effect_corr=0.6)
    counts = pd.concat([sim.train, sim.test])["unit"].value_counts().sort_index()
    effects = sim.unit_effects.loc[counts.index]
    assert np.corrcoef(np.log(counts), effects)[0, 1] > 0.4
    none = simulate_online(seed=4, n_units=3000, n_unseen=0)
    counts0 = pd.concat([none.train, none.test])["unit"].value_counts().sort_index()
    assert abs(np.corrcoef(np.log(counts0), none.unit_effects.loc[counts0.index])[0, 1]) < 0.1
    for bad in (1.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="traffic_effect_corr"):
            simulate_online(seed=1, traffic_effect_corr=bad)


def test_predictions_refuse_mistyped_or_missing_units() -> None:
    sim = simulate_online(200, seed=1)
    fit = ol.fit_one_way(sim.train)
    with pytest.raises(ValueError, match="column 'unit' holds string values"):
        fit.predict(sim.test.assign(unit=sim.test["unit"].astype(str)))
    missing = sim.test.assign(unit=sim.test["unit"].astype(float))
    missing.loc[missing.index[0], "unit"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        fit.predict(missing)
    with pytest.raises(ValueError, match="holds string values"):
        ol.predict_unit_means(sim.train, sim.test.assign(unit=sim.test["unit"].astype(str)))
    # genuinely new units are fine: they get the intercept
    new = sim.test.assign(unit=sim.test["unit"] + 10**9)
    np.testing.assert_allclose(fit.predict(new), fit.intercept)


# ------------------------------------------------------------------------------------------
# Unit effects correlated with traffic: Mundlak's device
# ------------------------------------------------------------------------------------------


def test_fit_mundlak_matches_statsmodels_mixedlm(small: pd.DataFrame) -> None:
    import statsmodels.formula.api as smf

    fit = ol.fit_mundlak(small)
    data = small.assign(log_n=np.log(small.groupby("unit")["y"].transform("size")))
    ref = smf.mixedlm("y ~ log_n", data, groups=data["unit"]).fit(reml=True)
    assert fit.intercept == pytest.approx(ref.fe_params["Intercept"], abs=1e-5)
    assert fit.slope == pytest.approx(ref.fe_params["log_n"], abs=1e-5)
    assert fit.unit_sd == pytest.approx(math.sqrt(ref.cov_re.iloc[0, 0]), rel=1e-4)
    assert fit.noise_sd == pytest.approx(math.sqrt(ref.scale), rel=1e-4)
    blups = pd.Series({k: v.iloc[0] for k, v in ref.random_effects.items()}).sort_index()
    np.testing.assert_allclose(fit.effects.to_numpy(), blups.to_numpy(), atol=1e-4)


def test_mundlak_absorbs_the_traffic_effect_and_predicts_new_units_at_a_chosen_traffic() -> None:
    sim = simulate_online(3000, seed=8, n_unseen=100, traffic_effect_corr=0.5)
    plain, fit = ol.fit_one_way(sim.train), ol.fit_mundlak(sim.train)
    assert fit.slope > 0.2  # busy units are better
    assert fit.unit_sd < 0.95 * plain.unit_sd  # the covariate explains some of the spread
    n = sim.train["unit"].value_counts()
    expected_x = float((n * np.log(n)).sum() / n.sum())  # mean log n_j over observations
    assert fit.new_unit_log_traffic == pytest.approx(expected_x)
    new = sim.test[sim.test["unit"].isin(sim.unseen_units)]
    np.testing.assert_allclose(fit.predict(new), fit.intercept + fit.slope * expected_x)
    np.testing.assert_allclose(fit.predict(new, new_unit_log_traffic=0.0), fit.intercept)
    seen = sim.test[~sim.test["unit"].isin(sim.unseen_units)].head(50)
    x = np.log(n.reindex(seen["unit"]).to_numpy())
    expected = fit.intercept + fit.slope * x + fit.effects.reindex(seen["unit"]).to_numpy()
    np.testing.assert_allclose(fit.predict(seen), expected)
    # the repair shows where the theory says: units seen once, informative traffic
    res = ol.evaluate(
        sim.train, sim.test, {"plain": plain.predict(sim.test), "mundlak": fit.predict(sim.test)}
    )
    rmse = res.set_index(["method", "bucket"])["rmse"]
    assert rmse["mundlak", "1"] < rmse["plain", "1"]


def test_mundlak_refuses_what_it_cannot_fit(small: pd.DataFrame) -> None:
    equal = pd.DataFrame({"unit": np.repeat([0, 1, 2], 3), "y": np.arange(9.0)})
    with pytest.raises(ValueError, match="same traffic"):
        ol.fit_mundlak(equal)
    with pytest.raises(ValueError, match="at least two units"):
        ol.fit_mundlak(pd.DataFrame({"unit": [0, 0], "y": [1.0, 2.0]}))
    fit = ol.fit_mundlak(small)
    with pytest.raises(ValueError, match="new_unit_log_traffic"):
        fit.predict(small, new_unit_log_traffic=float("nan"))


def test_mundlak_methods_keep_the_default_methods_predictions() -> None:
    res = prediction.replicate(
        [3], n_units=200, methods=ol.mundlak_methods, traffic_effect_corr=0.5
    )
    base = prediction.replicate([3], n_units=200, traffic_effect_corr=0.5)
    assert list(pd.unique(res["method"])) == [
        "complete pooling",
        "no pooling",
        "partial pooling (BLUP)",
        "with log-traffic (Mundlak)",
    ]
    shared = res[res["method"] != "with log-traffic (Mundlak)"].reset_index(drop=True)
    expected = base[base["method"] != "ridge (CV)"].reset_index(drop=True)
    pd.testing.assert_frame_equal(shared, expected)


# ------------------------------------------------------------------------------------------
# The chapter's PyMC model is the package's builder
# ------------------------------------------------------------------------------------------


def _chapter_model_builder():
    """Execute chapter 7's cell that defines ``one_way_model`` and return the function."""
    import nbformat

    from analysis.quiet import configure_pytensor_blas  # noqa: F401  (before PyMC)

    path = Path(__file__).resolve().parents[1] / "book" / "07_online_prediction.ipynb"
    cells = [
        c.source
        for c in nbformat.read(path, as_version=4).cells
        if c.cell_type == "code" and "def one_way_model(" in c.source
    ]
    assert len(cells) == 1, "chapter 7 defines one_way_model in exactly one cell"
    namespace: dict[str, object] = {"np": np, "pd": pd}
    exec(compile(cells[0], str(path), "exec"), namespace)
    return namespace["one_way_model"]


@pytest.mark.parametrize("centre_above", [None, 0.0, math.inf])
def test_chapter_model_is_the_package_builder(small: pd.DataFrame, centre_above) -> None:
    from analysis.bayes.equivalence import assert_same_model

    one_way_model = _chapter_model_builder()
    split = ol.fit_one_way(small).penalty if centre_above is None else centre_above
    chapter = one_way_model(small, split)
    package = one_way.one_way_pymc_model(small, centre_above=centre_above)
    assert_same_model(chapter, package)
    assert [v.name for v in chapter.free_RVs] == [v.name for v in package.free_RVs]
    # and a different split is a different model (the check can fail)
    if centre_above is None:
        with pytest.raises(AssertionError):
            assert_same_model(one_way_model(small, 0.0), package)


def test_summarise_posterior_needs_the_model_variables() -> None:
    import xarray as xr

    class Draws:
        posterior = xr.Dataset({"beta": (("chain", "draw"), np.zeros((1, 2)))})

    with pytest.raises(ValueError, match="unit_effect"):
        one_way.summarise_posterior(Draws())
