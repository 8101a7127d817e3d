import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from analysis.frequentist import bow_test_power, coef_table, fit_ols
from analysis.plotting import (
    plot_archer_spread,
    plot_coefficients,
    plot_distance_by_bow,
    plot_power,
    set_style,
)
from analysis.simulate import simulate_archers


@pytest.fixture(autouse=True)
def _close_figures():
    set_style()
    yield
    plt.close("all")


def test_distance_plots_return_figures_with_all_points():
    exp = simulate_archers(3, 4, seed=1)
    for by_archer in (False, True):
        fig = plot_distance_by_bow(exp.data, by_archer=by_archer)
        assert isinstance(fig, Figure)
        points = sum(
            len(c.get_offsets()) for c in fig.axes[0].collections if isinstance(c, PathCollection)
        )
        assert points == len(exp.data)


def test_coefficient_power_and_spread_plots():
    exp = simulate_archers(5, 3, seed=2)
    table = coef_table(fit_ols(exp.data, "Distance ~ Bow + Name"))
    terms = [t for t in table.index if t.startswith("Name[")]
    fig = plot_coefficients(table, terms=terms, labels=[t[7:-1] for t in terms], title="x")
    assert len(fig.axes[0].get_yticklabels()) == len(terms)
    power = bow_test_power(["Distance ~ Bow"], n_experiments=5, n_archers=3, shots=2, seed=1)
    assert isinstance(plot_power(power), Figure)
    means = exp.data.groupby("Name", observed=True)["Distance"].mean()
    assert isinstance(plot_archer_spread(means, exp.archer_effects), Figure)


def test_plots_reject_missing_columns():
    with pytest.raises(ValueError, match="Distance"):
        plot_distance_by_bow(pd.DataFrame({"Bow": [], "Name": []}))
    with pytest.raises(ValueError, match="ci_low"):
        plot_coefficients(pd.DataFrame({"estimate": [1.0]}))
    with pytest.raises(ValueError, match="labels"):
        plot_coefficients(
            pd.DataFrame({"estimate": [1.0], "ci_low": [0.0], "ci_high": [2.0]}), labels=["a", "b"]
        )
    with pytest.raises(ValueError, match="at least one"):
        plot_archer_spread(pd.Series(dtype=float))
