import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.datasets.archers import (
    fifty_archers,
    simulate_archers,
    unbalanced_archers,
    unbalanced_shot_counts,
)
from analysis.models.mixed import (
    MixedFit,
    fit_random_intercept,
    fixed_group_estimates,
    icc,
    lme4_summary,
    shrinkage_factor,
    shrinkage_table,
    variance_components,
)


@pytest.fixture(scope="module")
def balanced():
    exp = fifty_archers()
    return exp, fit_random_intercept(exp.data)


@pytest.fixture(scope="module")
def unbalanced():
    exp = unbalanced_archers()
    return exp, fit_random_intercept(exp.data)


def test_fit_shape_and_types(balanced):
    exp, fit = balanced
    assert isinstance(fit, MixedFit)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.sd_group = 1.0  # type: ignore[misc]
    assert list(fit.fixed.columns) == ["estimate", "se", "z", "p", "ci_low", "ci_high"]
    assert list(fit.fixed.index) == ["Intercept", "Bow[T.Southwood]"]
    assert fit.n_obs == len(exp.data) == 1000
    assert fit.n_groups == 50
    assert fit.reml is True
    assert set(fit.blups.index) == set(exp.data["Name"].astype(str))
    assert fit.blup_sd.index.equals(fit.blups.index)
    assert (fit.group_sizes == 20).all()


def test_recovers_truth_on_large_simulation():
    exp = simulate_archers(400, 10, seed=7, archer_sd=12.0, shot_sd=4.0, decimals=None)
    fit = fit_random_intercept(exp.data)
    assert fit.sd_group == pytest.approx(12.0, rel=0.1)
    assert fit.sd_resid == pytest.approx(4.0, rel=0.03)
    bow = fit.fixed.loc["Bow[T.Southwood]"]
    assert bow["ci_low"] < exp.bow_effect < bow["ci_high"]
    # The BLUPs track the true archer effects closely when sigma_a >> sigma_e / sqrt(n).
    truth = exp.archer_effects.rename(index=str).loc[fit.blups.index]
    assert np.corrcoef(truth, fit.blups)[0, 1] > 0.99


def test_wald_interval_matches_se(balanced):
    _, fit = balanced
    row = fit.fixed.loc["Bow[T.Southwood]"]
    assert row["ci_high"] - row["estimate"] == pytest.approx(1.959964 * row["se"], rel=1e-6)
    assert row["z"] == pytest.approx(row["estimate"] / row["se"])


def test_balanced_blups_are_shrunken_fixed_estimates(balanced):
    exp, fit = balanced
    fixed = fixed_group_estimates(fit, exp.data)
    # Closed form in the balanced design: centred fixed estimates are ybar_j - ybar.
    means = exp.data.groupby("Name", observed=True)["Distance"].mean().rename(index=str)
    np.testing.assert_allclose(fixed, (means - means.mean()).loc[fixed.index], atol=1e-9)
    k = shrinkage_factor(fit.sd_group, fit.sd_resid, 20)
    np.testing.assert_allclose(fit.blups, k * fixed, atol=1e-6)
    assert np.corrcoef(fit.blups, fixed)[0, 1] == pytest.approx(1.0, abs=1e-10)


def test_unbalanced_shrinkage_per_group(unbalanced):
    _, fit = unbalanced
    table = shrinkage_table(fit)
    np.testing.assert_allclose(table["blup"], table["k"] * table["raw"], atol=1e-6)
    # More observations, less shrinkage.
    by_n = table.sort_values("n")
    assert np.all(np.diff(by_n["k"].to_numpy()) >= 0)
    assert table["k"].min() < 0.75 < 0.98 < table["k"].max()
    # Conditional SD closed form.
    va, ve = fit.sd_group**2, fit.sd_resid**2
    np.testing.assert_allclose(table["blup_sd"] ** 2, va * ve / (ve + table["n"] * va))


def test_blup_sd_matches_statsmodels(unbalanced):
    _, fit = unbalanced
    sm = pd.Series(
        {str(k): float(np.asarray(v)[0, 0]) for k, v in fit.result.random_effects_cov.items()}
    )
    np.testing.assert_allclose(fit.blup_sd**2, sm.loc[fit.blup_sd.index], rtol=1e-6)


def test_shrinkage_factor_values_and_validation():
    assert shrinkage_factor(3.0, 4.0, 4) == pytest.approx(9 / (9 + 16 / 4))
    out = shrinkage_factor(1.0, 1.0, pd.Series([1, 3], index=["a", "b"]))
    assert list(out.index) == ["a", "b"]
    np.testing.assert_allclose(out, [0.5, 0.75])
    assert shrinkage_factor(0.0, 1.0, 5) == 0.0
    with pytest.raises(ValueError, match="sd_group"):
        shrinkage_factor(-1.0, 1.0, 2)
    with pytest.raises(ValueError, match="sd_resid"):
        shrinkage_factor(1.0, 0.0, 2)
    with pytest.raises(ValueError, match="n must"):
        shrinkage_factor(1.0, 1.0, 0)
    with pytest.raises(ValueError, match="sd_resid must be positive"):
        shrinkage_factor(1.0, 0.0, 2)
    with pytest.raises(ValueError, match="n has missing or infinite values"):
        shrinkage_factor(1.0, 1.0, [2, np.inf])
    with pytest.raises(ValueError, match="n must hold numbers"):
        shrinkage_factor(1.0, 1.0, "two")


def test_lme4_style_printout(balanced):
    _, fit = balanced
    text = lme4_summary(fit)
    assert "Random effects:" in text and "Fixed effects:" in text
    assert "Residual" in text and "(Intercept)" in text
    assert f"{fit.sd_group:.4f}" in text
    assert str(fit) == text
    vc = variance_components(fit)
    assert list(vc.columns) == ["Groups", "Name", "Variance", "Std.Dev."]
    assert vc["Variance"].to_numpy() == pytest.approx(vc["Std.Dev."].to_numpy() ** 2)
    assert 0 < icc(fit) < 1
    assert icc(fit) == pytest.approx(fit.sd_group**2 / (fit.sd_group**2 + fit.sd_resid**2))


def test_ml_fit_is_smaller_than_reml(balanced):
    exp, reml = balanced
    ml = fit_random_intercept(exp.data, reml=False)
    assert ml.reml is False
    # ML divides by N instead of N - p: its SDs are smaller.
    assert ml.sd_group < reml.sd_group
    assert ml.sd_resid < reml.sd_resid


def test_zero_archer_variance_is_a_boundary_fit():
    exp = simulate_archers(30, 5, seed=3, archer_sd=0.0, shot_sd=5.0, decimals=None)
    fit = fit_random_intercept(exp.data)
    assert fit.sd_group < 1.0
    assert fit.sd_resid == pytest.approx(5.0, rel=0.15)


def test_works_with_other_column_names():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 6)
    df = pd.DataFrame(
        {
            "score": 3 + rng.normal(0, 2, 20)[g] + rng.normal(0, 1, g.size),
            "dose": rng.uniform(0, 1, g.size),
            "clinic id": g,
        }
    )
    fit = fit_random_intercept(df, response="score", fixed=["dose"], group="clinic id")
    assert list(fit.fixed.index) == ["Intercept", "dose"]
    fit0 = fit_random_intercept(df, response="score", fixed=(), group="clinic id")
    assert list(fit0.fixed.index) == ["Intercept"]


@pytest.mark.parametrize(
    ("kwargs", "frame", "match"),
    [
        ({"response": "Height"}, None, "missing column"),
        ({}, "empty", "empty"),
        ({}, "text", "must be numeric"),
        ({}, "one_group", "needs at least two"),
        ({}, "nan", "missing values"),
        ({}, "inf", "'Distance' has missing or infinite values"),
        ({}, "huge", "rescale it"),
        ({"group": "Distance"}, None, "different columns"),
        ({"reml": "yes"}, None, "reml must be True or False"),
    ],
)
def test_input_validation(kwargs, frame, match):
    data = fifty_archers().data.head(60).copy()
    if frame == "empty":
        data = data.iloc[:0]
    elif frame == "text":
        data["Distance"] = data["Distance"].astype(str)
    elif frame == "one_group":
        data["Name"] = "Jory Flint"
    elif frame == "nan":
        data.loc[3, "Distance"] = np.nan
    elif frame == "inf":
        data.loc[3, "Distance"] = np.inf
    elif frame == "huge":
        data.loc[3, "Distance"] = 1e300
    with pytest.raises(ValueError, match=match):
        fit_random_intercept(data, **kwargs)


def test_not_a_frame():
    with pytest.raises(ValueError, match="DataFrame"):
        fit_random_intercept([1, 2, 3])  # type: ignore[arg-type]


def test_unbalanced_experiment_is_seeded_and_unbalanced():
    a, b = unbalanced_archers(), unbalanced_archers()
    pd.testing.assert_frame_equal(a.data, b.data)
    counts = unbalanced_shot_counts()
    assert counts.min() >= 1 and counts.max() <= 40 and counts.max() / counts.min() >= 10
    per_archer = a.data.groupby("Name", observed=True).size().to_numpy()
    np.testing.assert_array_equal(per_archer, 2 * counts)


def test_figures(unbalanced):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from analysis.models.profile import confint, profile
    from analysis.plots.mixed import (
        PARAMETER_LABELS,
        plot_blups_vs_fixed,
        plot_caterpillar,
        plot_profiles,
        plot_shrinkage,
    )

    exp, fit = unbalanced
    table = shrinkage_table(fit)
    curves, ci = profile(fit, n_points=5), confint(fit)
    figs = [
        plot_profiles(curves, ci, truth={"sd_(Intercept)|Name": 23.0}),
        plot_shrinkage(table, label_top=2),
        plot_caterpillar(
            fit.blups,
            fit.blup_sd,
            sizes=fit.group_sizes,
            truth=exp.archer_effects.rename(index=str),
        ),
        plot_blups_vs_fixed(fixed_group_estimates(fit, exp.data), fit.blups),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert len(figs[0].axes) == 2 and len(figs[1].axes) == 2
    # profile(fit) and confint(fit) as they come: lme4's names pick the labels and the ends
    assert [ax.get_xlabel() for ax in figs[0].axes] == [
        PARAMETER_LABELS["sd_(Intercept)|Name"],
        PARAMETER_LABELS["sigma"],
    ]
    for ax, name in zip(figs[0].axes, ci.index, strict=True):
        ends = sorted(
            line.get_xdata()[0] for line in ax.lines if line.get_label().endswith("interval ends")
        )
        np.testing.assert_allclose(ends, ci.loc[name, ["lower", "upper"]].to_numpy(float))
    truth_lines = [line for line in figs[0].axes[0].lines if line.get_label() == "true value"]
    assert [line.get_xdata()[0] for line in truth_lines] == [23.0]
    # One error bar per archer in the caterpillar plot.
    assert len(figs[2].axes[0].get_yticks()) == fit.n_groups
    plt.close("all")
    with pytest.raises(ValueError, match="curves"):
        plot_profiles(curves.drop(columns="zeta"))
    with pytest.raises(ValueError, match="no rows"):
        plot_profiles(curves.iloc[:0])
    with pytest.raises(ValueError, match="ci"):
        plot_profiles(curves, ci.drop(columns="upper"))
    with pytest.raises(ValueError, match="table"):
        plot_shrinkage(table.drop(columns="k"))
    with pytest.raises(ValueError, match="cond_sd"):
        plot_caterpillar(fit.blups, fit.blup_sd.iloc[:3])


def test_refuses_what_lme4_refuses_one_observation_per_group_and_a_one_level_factor():
    data = fifty_archers().data
    one_each = data.groupby("Name", observed=True).head(1).reset_index(drop=True)
    one_each["Bow"] = np.where(np.arange(len(one_each)) % 2, "Northwood", "Southwood")
    with pytest.raises(ValueError, match="levels for 50 observations"):
        fit_random_intercept(one_each)
    with pytest.raises(ValueError, match="fixed-effect column 'range' has only one level"):
        fit_random_intercept(data.assign(range="north"), fixed=["Bow", "range"])


def test_boundary_fit_is_exact_flagged_and_quiet():
    """Equal archer means: the REML optimum has sd_group = 0, where the fit is OLS."""
    import warnings

    rng = np.random.default_rng(4)
    d = rng.normal(0.0, 5.0, (8, 2))
    shots = np.column_stack([d[:, 0], -10 + d[:, 1], -d[:, 0], -10 - d[:, 1]]) + 150.0
    data = pd.DataFrame(
        {
            "Distance": shots.ravel(),
            "Bow": np.tile(["Northwood", "Southwood"], 16),
            "Name": np.repeat([f"a{i}" for i in range(8)], 4),
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_random_intercept(data)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and messages[0].startswith("boundary (singular) fit")
    assert fit.singular and fit.sd_group == 0.0 and (fit.blups == 0).all()
    ols = np.polyfit((data["Bow"] == "Southwood").to_numpy(float), data["Distance"], 1)
    assert fit.fixed.loc["Bow[T.Southwood]", "estimate"] == pytest.approx(ols[0], abs=1e-9)
    resid = data["Distance"] - np.polyval(ols, (data["Bow"] == "Southwood").to_numpy(float))
    assert fit.sd_resid == pytest.approx(np.sqrt(resid @ resid / (len(data) - 2)), rel=1e-9)
