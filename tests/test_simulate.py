import numpy as np
import pandas as pd
import pytest

from analysis.simulate import (
    BOWS,
    archer_names,
    fifty_archers,
    jaimes_first_experiment,
    simulate_archers,
)


def test_same_seed_same_data_and_different_seed_different_data():
    a = simulate_archers(5, 4, seed=11)
    b = simulate_archers(5, 4, seed=11)
    c = simulate_archers(5, 4, seed=12)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_series_equal(a.archer_effects, b.archer_effects)
    assert not np.allclose(a.data["Distance"], c.data["Distance"])


def test_balanced_layout_and_types():
    exp = simulate_archers(4, 3, seed=1)
    data = exp.data
    assert list(data.columns) == ["Distance", "Bow", "Name"]
    assert len(data) == 4 * 2 * 3
    assert list(data["Bow"].cat.categories) == list(BOWS)
    counts = pd.crosstab(data["Name"], data["Bow"])
    assert (counts.to_numpy() == 3).all()
    assert list(data["Name"].cat.categories) == list(exp.archer_effects.index)


def test_unbalanced_counts_per_archer_and_per_bow():
    per_archer = simulate_archers(3, [1, 5, 2], seed=3).data
    assert per_archer.groupby("Name", observed=True).size().tolist() == [2, 10, 4]
    per_cell = simulate_archers(2, np.array([[3, 0], [1, 4]]), seed=3).data
    table = pd.crosstab(per_cell["Name"], per_cell["Bow"]).reindex(columns=list(BOWS), fill_value=0)
    assert table.to_numpy().tolist() == [[3, 0], [1, 4]]


def test_large_sample_recovers_true_parameters():
    # 4000 archers x 2 bows x 5 shots: sampling error of each estimate is small and known.
    exp = simulate_archers(4000, 5, seed=5, decimals=None)
    d = exp.data
    south = d["Bow"] == "Southwood"
    cell = d.groupby(["Name", "Bow"], observed=True)["Distance"].mean().unstack()
    tau_hat = float((cell["Southwood"] - cell["Northwood"]).mean())
    assert abs(tau_hat - exp.bow_effect) < 0.1  # SE = 5*sqrt(2/5)/sqrt(4000) ~ 0.05
    within = d["Distance"] - d.groupby(["Name", "Bow"], observed=True)["Distance"].transform("mean")
    sd_e = float(np.sqrt((within**2).sum() / (len(d) - 2 * 4000)))
    assert abs(sd_e - exp.shot_sd) < 0.05 * exp.shot_sd
    archer_means = d.loc[~south].groupby("Name", observed=True)["Distance"].mean()
    sd_a = float(np.sqrt(archer_means.var() - exp.shot_sd**2 / 5))
    assert abs(sd_a - exp.archer_sd) < 0.05 * exp.archer_sd
    assert abs(float(archer_means.mean()) - exp.mean) < 1.5  # SE ~ 23/sqrt(4000) ~ 0.36


def test_zero_archer_sd_gives_identical_archers():
    exp = simulate_archers(3, 50, seed=2, archer_sd=0.0, decimals=None)
    assert (exp.archer_effects == 0).all()


def test_rounding():
    d = simulate_archers(2, 3, seed=1, decimals=1).data["Distance"]
    np.testing.assert_allclose(d, d.round(1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_archers": 0}, "n_archers"),
        ({"n_archers": -2}, "n_archers"),
        ({"n_archers": 2.5}, "n_archers"),
        ({"shots": 0}, "shots"),
        ({"shots": 2.5}, "shots"),
        ({"shots": [1, 2]}, "shots"),
        ({"shots": [1.5, 2, 3]}, "shots"),
        ({"shots": [1, -1, 3]}, "shots"),
        ({"shots": [0, 1, 1]}, "shots"),
        ({"archer_sd": -1.0}, "archer_sd"),
        ({"shot_sd": -0.1}, "shot_sd"),
        ({"shot_sd": float("nan")}, "shot_sd"),
        ({"mean": float("inf")}, "mean"),
        ({"names": ["a", "a", "b"]}, "names"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"n_archers": 3, "shots": 2, "seed": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        simulate_archers(**args)


def test_archer_names_are_distinct_and_reproducible():
    names = archer_names(200, seed=4)
    assert len(set(names)) == 200
    assert names == archer_names(200, seed=4)
    with pytest.raises(ValueError, match="n must be at most"):
        archer_names(10**6, seed=1)


def test_canonical_experiments_have_the_books_design():
    jaime = jaimes_first_experiment().data
    assert jaime.shape == (60, 3) and jaime["Name"].nunique() == 3
    fifty = fifty_archers().data
    assert fifty.shape == (1000, 3) and fifty["Name"].nunique() == 50


def test_names_given_as_one_string_are_refused():
    with pytest.raises(ValueError, match="not one string"):
        simulate_archers(2, 3, seed=1, names="ab")
