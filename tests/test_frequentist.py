import numpy as np
import pandas as pd
import pytest

from analysis.datasets.archers import jaimes_first_experiment, simulate_archers
from analysis.models.ols import (
    SOUTHWOOD_TERM,
    balanced_archer_se,
    coef_table,
    fit_ols,
)
from analysis.studies.power import bow_test_power


def test_coef_table_columns_and_values_match_statsmodels():
    data = simulate_archers(4, 5, seed=1).data
    fit = fit_ols(data, "Distance ~ Bow + Name")
    table = coef_table(fit)
    assert list(table.columns) == ["estimate", "se", "t", "p", "ci_low", "ci_high"]
    np.testing.assert_allclose(table["estimate"], fit.params)
    np.testing.assert_allclose(table["t"], table["estimate"] / table["se"])
    assert (table["ci_low"] < table["estimate"]).all()


def test_two_group_ols_equals_difference_of_means_and_pooled_t_test():
    data = simulate_archers(3, 10, seed=8).data
    fit = fit_ols(data, "Distance ~ Bow")
    means = data.groupby("Bow", observed=True)["Distance"].mean()
    assert fit.params[SOUTHWOOD_TERM] == pytest.approx(means["Southwood"] - means["Northwood"])
    from scipy import stats

    t = stats.ttest_ind(
        data.loc[data.Bow == "Southwood", "Distance"], data.loc[data.Bow == "Northwood", "Distance"]
    )
    assert fit.pvalues[SOUTHWOOD_TERM] == pytest.approx(t.pvalue)


def test_balanced_design_archer_terms_leave_bow_estimate_unchanged():
    data = simulate_archers(6, 4, seed=3).data
    naive = fit_ols(data, "Distance ~ Bow").params[SOUTHWOOD_TERM]
    full = fit_ols(data, "Distance ~ Bow + Name").params[SOUTHWOOD_TERM]
    assert naive == pytest.approx(full, abs=1e-9)


def test_closed_form_archer_se_matches_ols():
    data = simulate_archers(7, 6, seed=9).data
    fit = fit_ols(data, "Distance ~ Bow + Name")
    se = coef_table(fit).filter(like="Name[", axis=0)["se"]
    np.testing.assert_allclose(se, balanced_archer_se(float(np.sqrt(fit.scale)), 12), rtol=1e-12)
    with pytest.raises(ValueError, match="shots_per_archer"):
        balanced_archer_se(1.0, 0)


def test_ols_recovers_bow_effect_on_a_large_sample():
    # 200 archers x 2 bows x 10 shots = 4000 shots: the residual SD's standard error is about
    # 5 / sqrt(2 x 3799) = 0.06, so the 0.2 bound still catches a misfit (500 archers made a
    # 10000 x 501 design whose least squares took most of this test's 17 s).
    data = simulate_archers(200, 10, seed=4, bow_effect=-7.0).data
    fit = fit_ols(data, "Distance ~ Bow + Name")
    assert abs(fit.params[SOUTHWOOD_TERM] - (-7.0)) < 4 * fit.bse[SOUTHWOOD_TERM]
    assert abs(np.sqrt(fit.scale) - 5.0) < 0.2


def test_jaimes_experiment_tells_the_books_story():
    data = jaimes_first_experiment().data
    p_naive = fit_ols(data, "Distance ~ Bow").pvalues[SOUTHWOOD_TERM]
    p_full = fit_ols(data, "Distance ~ Bow + Name").pvalues[SOUTHWOOD_TERM]
    assert 0.05 < p_naive < 0.10
    assert p_full < 1e-6


def test_fit_ols_rejects_bad_input():
    data = simulate_archers(2, 2, seed=1).data
    with pytest.raises(ValueError, match="Height"):
        fit_ols(data, "Height ~ Bow")
    with pytest.raises(ValueError, match="formula"):
        fit_ols(data, "Distance Bow")
    with pytest.raises(ValueError, match="empty"):
        fit_ols(data.iloc[:0], "Distance ~ Bow")
    with pytest.raises(ValueError, match="DataFrame"):
        fit_ols(data.to_dict(), "Distance ~ Bow")
    with pytest.raises(ValueError, match="alpha"):
        coef_table(fit_ols(data, "Distance ~ Bow"), alpha=1.5)


def test_power_is_a_rate_and_no_effect_gives_about_alpha():
    power = bow_test_power(
        ["Distance ~ Bow", "Distance ~ Bow + Name"],
        n_experiments=300,
        n_archers=3,
        shots=5,
        seed=1,
        bow_effect=0.0,
    )
    assert isinstance(power, pd.DataFrame)
    assert list(power.index) == ["Distance ~ Bow", "Distance ~ Bow + Name"]
    # With no bow effect the archer-term test is exact: rejection rate ~ 5%.
    full = power.loc["Distance ~ Bow + Name"]
    assert abs(full["power"] - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 300)
    same = bow_test_power(["Distance ~ Bow"], n_experiments=20, n_archers=3, shots=5, seed=1)
    again = bow_test_power(["Distance ~ Bow"], n_experiments=20, n_archers=3, shots=5, seed=1)
    pd.testing.assert_frame_equal(same, again)
    with pytest.raises(ValueError, match="n_experiments"):
        bow_test_power(["Distance ~ Bow"], n_experiments=0, n_archers=3, shots=5, seed=1)
