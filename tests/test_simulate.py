import numpy as np
import pandas as pd
import pytest

from analysis.datasets.archers import (
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


# --- archers whose own bow effects vary (the random-slopes chapter) -------------------------


def _reference_simulation(
    n_archers, shots, seed, mean=165.0, bow_effect=-10.0, archer_sd=23.0, shot_sd=5.0, decimals=1
):
    """The simulator as it was before random slopes existed, written out independently."""
    rng = np.random.default_rng(seed)
    effects = rng.normal(0.0, archer_sd, size=n_archers)
    archer = np.repeat(np.arange(n_archers), 2 * shots)
    south = np.tile(np.repeat([False, True], shots), n_archers)
    noise = rng.normal(0.0, shot_sd, size=archer.size)
    distance = mean + bow_effect * south + effects[archer] + noise
    return effects, np.round(distance, decimals) if decimals is not None else distance


@pytest.mark.parametrize(
    ("n_archers", "shots", "seed", "extra"),
    [
        (3, 10, 46, {}),
        (50, 10, 2026, {}),
        (4, 3, 0, {"archer_sd": 0.0}),
        (7, 2, 3, {"decimals": None, "shot_sd": 2.0}),
    ],
)
def test_default_is_the_simulator_of_the_earlier_chapters_bit_for_bit(
    n_archers, shots, seed, extra
):
    effects, distance = _reference_simulation(n_archers, shots, seed, **extra)
    for kwargs in ({}, {"bow_sd": 0.0}, {"bow_sd": 0.0, "skill_bow_corr": 0.0}):
        exp = simulate_archers(n_archers, shots, seed=seed, **extra, **kwargs)
        assert np.array_equal(exp.archer_effects.to_numpy(), effects)
        assert np.array_equal(np.signbit(exp.archer_effects.to_numpy()), np.signbit(effects))
        assert np.array_equal(exp.data["Distance"].to_numpy(), distance)
        assert (exp.archer_bow_effects == 0).all() and exp.bow_sd == 0.0


def test_canonical_experiments_still_match_the_stored_data():
    from analysis.datasets.files import data_dir

    stored = pd.read_csv(data_dir() / "archers_50.csv")
    fifty = fifty_archers().data
    np.testing.assert_array_equal(fifty["Distance"].to_numpy(), stored["Distance"].to_numpy())
    assert fifty["Name"].astype(str).tolist() == stored["Name"].tolist()
    assert fifty["Bow"].astype(str).tolist() == stored["Bow"].tolist()


def test_own_bow_effects_leave_skills_and_shots_unchanged():
    base = simulate_archers(20, 4, seed=8, decimals=None)
    varying = simulate_archers(20, 4, seed=8, decimals=None, bow_sd=3.0, skill_bow_corr=-0.4)
    pd.testing.assert_series_equal(base.archer_effects, varying.archer_effects)
    south = (base.data["Bow"] == "Southwood").to_numpy()
    own = varying.archer_bow_effects.reindex(base.data["Name"].astype(str)).to_numpy()
    np.testing.assert_allclose(
        varying.data["Distance"].to_numpy(), base.data["Distance"].to_numpy() + own * south
    )
    assert not np.any(own[south] == 0.0)
    assert varying.bow_sd == 3.0 and varying.skill_bow_corr == -0.4


def test_own_bow_effects_have_the_asked_sd_and_correlation():
    exp = simulate_archers(20000, 1, seed=21, bow_sd=4.0, skill_bow_corr=0.5)
    beta, alpha = exp.archer_bow_effects.to_numpy(), exp.archer_effects.to_numpy()
    # SE of an SD estimate ~ sd/sqrt(2n) = 0.02; of a correlation ~ (1-rho^2)/sqrt(n) = 0.005
    assert abs(beta.std(ddof=1) - 4.0) < 0.1
    assert abs(np.corrcoef(alpha, beta)[0, 1] - 0.5) < 0.03
    assert abs(beta.mean()) < 0.15
    for rho in (1.0, -1.0):
        perfect = simulate_archers(50, 1, seed=2, bow_sd=2.0, skill_bow_corr=rho)
        np.testing.assert_allclose(
            perfect.archer_bow_effects.to_numpy(),
            rho * 2.0 / 23.0 * perfect.archer_effects.to_numpy(),
        )


def test_random_slopes_fit_recovers_the_slope_sd_and_correlation():
    # 2000 archers x 2 bows x 5 shots: the REML estimates of sigma_b (4 m) and rho (0.5)
    # have sampling SDs of about 0.1 m and 0.02, so the tolerances are about four SEs.
    import warnings

    import mixedlm

    exp = simulate_archers(2000, 5, seed=31, bow_sd=4.0, skill_bow_corr=0.5, decimals=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mixedlm.lmer("Distance ~ Bow + (1 + Bow | Name)", exp.data, REML=True)
    cov = fit.VarCorr().get_cov("Name")
    sd_a, sd_b = np.sqrt(np.diag(cov))
    rho = cov[0, 1] / (sd_a * sd_b)
    assert abs(sd_b - 4.0) < 0.4
    assert abs(rho - 0.5) < 0.1
    assert abs(sd_a - 23.0) < 1.5
    assert abs(fit.sigma - 5.0) < 0.1
    assert abs(fit.fixef()[list(fit.fixef())[1]] - exp.bow_effect) < 0.4


def test_varying_cost_experiment_is_the_fifty_archers_with_own_bow_effects():
    from analysis.datasets.archers import (
        VARYING_COST_BOW_SD,
        VARYING_COST_CORR,
        varying_cost_archers,
    )

    fifty, varying = fifty_archers(), varying_cost_archers()
    pd.testing.assert_series_equal(fifty.archer_effects, varying.archer_effects)
    assert varying.bow_sd == VARYING_COST_BOW_SD > 0
    assert varying.skill_bow_corr == VARYING_COST_CORR
    assert varying.data.shape == fifty.data.shape
    assert not np.allclose(varying.data["Distance"], fifty.data["Distance"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bow_sd": -1.0}, "bow_sd"),
        ({"bow_sd": float("nan")}, "bow_sd"),
        ({"bow_sd": "4"}, "bow_sd"),
        ({"bow_sd": 2.0, "skill_bow_corr": 1.5}, "skill_bow_corr"),
        ({"bow_sd": 2.0, "skill_bow_corr": -1.01}, "skill_bow_corr"),
        ({"bow_sd": 2.0, "skill_bow_corr": float("inf")}, "skill_bow_corr"),
        ({"bow_sd": 2.0, "skill_bow_corr": True}, "skill_bow_corr"),
        ({"skill_bow_corr": 0.3}, "skill_bow_corr must be 0 when bow_sd is 0"),
    ],
)
def test_bad_slope_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_archers(3, 2, seed=1, **kwargs)
