"""Tests of analysis.bayes.crossed on small simulated crossed data (known truth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from analysis import bayes
from analysis.bayes import crossed as ib
from analysis.bayes.equivalence import assert_same_model
from analysis.plots import bayes as bplots
from analysis.plots.crossed import plot_residual_histogram


def simulate_crossed(
    seed: int,
    n: int,
    n_s: int,
    n_d: int,
    n_dept: int,
    sds: tuple[float, float, float, float] = (0.4, 0.6, 0.3, 1.0),
    beta: tuple[float, float] = (3.0, -0.2),
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Simulate ``y ~ service + (1|s) + (1|d) + (1|dept)`` with SDs (s, d, dept, e).

    Returns the data and the true effects of each factor.
    """
    rng = np.random.default_rng(seed)
    s = rng.integers(0, n_s, n)
    d = rng.integers(0, n_d, n)
    dept = rng.integers(0, n_dept, n)
    service = rng.integers(0, 2, n)
    eff_s = rng.normal(0, sds[0], n_s)
    eff_d = rng.normal(0, sds[1], n_d)
    eff_dept = rng.normal(0, sds[2], n_dept)
    y = beta[0] + beta[1] * service + eff_s[s] + eff_d[d] + eff_dept[dept]
    y = y + rng.normal(0, sds[3], n)
    frame = pd.DataFrame({"s": s, "d": d, "dept": dept, "service": service, "y": y})
    for col in ("s", "d", "dept", "service"):
        frame[col] = pd.Categorical(frame[col])
    return frame, {"s": eff_s, "d": eff_d, "dept": eff_dept}


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    return simulate_crossed(seed=11, n=50, n_s=7, n_d=5, n_dept=3)[0]


def dense_loglik(
    prep: ib.CrossedData, sds: dict[str, float], sigma_e: float, b_d: np.ndarray
) -> float:
    """The marginal density of y by brute force: one dense multivariate Normal."""
    n = prep.n_obs
    A = np.eye(len(prep.levels["s"]))[prep.codes["s"]]
    D = np.eye(len(prep.levels["dept"]))[prep.codes["dept"]]
    prior = ib.DEFAULT_PRIORS
    mu0 = np.array([prior.intercept_mean, 0.0])
    sd0 = np.array([prior.intercept_sd, prior.effect_sd])
    mean = prep.X @ mu0 + b_d[prep.codes["d"]]
    cov = (
        sigma_e**2 * np.eye(n)
        + sds["s"] ** 2 * A @ A.T
        + sds["dept"] ** 2 * D @ D.T
        + prep.X @ np.diag(sd0**2) @ prep.X.T
    )
    return float(multivariate_normal(mean, cov).logpdf(prep.y))


def test_prepare_sufficient_statistics(tiny: pd.DataFrame) -> None:
    prep = ib.prepare_crossed(tiny)
    assert prep.n_obs == 50
    assert prep.cell_n.sum() == 50
    assert np.isclose(prep.cell_sum.sum(), tiny["y"].sum())
    assert np.isclose(prep.cell_sumsq.sum(), (tiny["y"] ** 2).sum())
    assert prep.pair_n.sum() == 50
    # Every row's cell reproduces its design row and levels.
    assert np.allclose(prep.cell_X[prep.cell], prep.X)
    assert np.array_equal(prep.cell_codes["d"][prep.cell], prep.codes["d"])
    # Block design: C'C from cells equals the row-level product.
    C = np.column_stack([prep.X, np.eye(len(prep.levels["dept"]))[prep.codes["dept"]]])
    assert np.allclose(prep.CtC, C.T @ C)
    assert np.allclose(prep.Cty, C.T @ prep.y)
    assert np.allclose(prep.unit_C, np.eye(len(prep.levels["s"]))[prep.codes["s"]].T @ C)
    assert prep.size_count.sum() == len(prep.levels["s"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_marginal_loglik_equals_dense_normal(tiny: pd.DataFrame, seed: int) -> None:
    prep = ib.prepare_crossed(tiny)
    rng = np.random.default_rng(seed)
    sds = {"s": rng.uniform(0.1, 1.0), "d": 0.5, "dept": rng.uniform(0.05, 1.0)}
    sigma_e = rng.uniform(0.5, 1.5)
    b_d = rng.normal(0, 0.5, len(prep.levels["d"]))
    value = ib.marginal_loglik(prep, sigma_e, sds, b_d).eval(mode="FAST_COMPILE")
    assert value == pytest.approx(dense_loglik(prep, sds, sigma_e, b_d), rel=1e-10, abs=1e-8)


def test_marginal_model_logp_matches_dense(tiny: pd.DataFrame) -> None:
    """The whole model's log density = priors of the sampled variables + dense marginal."""
    from scipy.stats import halfnorm, norm

    prep = ib.prepare_crossed(tiny)
    model = ib.marginal_model(prep)
    point = model.initial_point()
    rng = np.random.default_rng(5)
    b_d = rng.normal(0, 0.4, len(prep.levels["d"]))
    sds = {"s": 0.3, "d": 0.7, "dept": 0.2}
    point.update(
        {
            "sigma_e_log__": np.log(0.9),
            "sigma_s_log__": np.log(sds["s"]),
            "sigma_d_log__": np.log(sds["d"]),
            "sigma_dept_log__": np.log(sds["dept"]),
            "b_d": b_d,
        }
    )
    got = model.compile_logp(jacobian=False)(point)
    expected = (
        dense_loglik(prep, sds, 0.9, b_d)
        + halfnorm.logpdf(0.9)
        + sum(halfnorm.logpdf(v) for v in sds.values())
        + norm.logpdf(b_d, scale=sds["d"]).sum()
    )
    assert got == pytest.approx(expected, rel=1e-10)


def test_builders_compile(tiny: pd.DataFrame) -> None:
    prep = ib.prepare_crossed(tiny)
    advi = ib.advi_model(prep)
    assert np.isfinite(advi.compile_logp()(advi.initial_point()))
    assert {"b_s", "b_d", "b_dept", "beta", "sigma_e"} <= set(advi.named_vars)
    marg = ib.marginal_model(prep, centered=False)
    assert np.isfinite(marg.compile_logp()(marg.initial_point()))
    assert "z_d" in marg.named_vars and "b_s" not in marg.named_vars
    assert ib.hyperparameters(prep) == ["beta", "sigma_e", "sigma_s", "sigma_d", "sigma_dept"]


def test_validation(tiny: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="data"):
        ib.prepare_crossed([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        ib.prepare_crossed(tiny.iloc[:0])
    with pytest.raises(ValueError, match="missing"):
        ib.prepare_crossed(tiny, groups=("s", "d", "nope"))
    with pytest.raises(ValueError, match="numeric"):
        ib.prepare_crossed(tiny.assign(y="x"))
    with pytest.raises(ValueError, match="infinite"):
        ib.prepare_crossed(tiny.assign(y=np.nan))
    with pytest.raises(ValueError, match="at least two"):
        ib.prepare_crossed(tiny, groups=("s",))
    with pytest.raises(ValueError, match="more than one role"):
        ib.prepare_crossed(tiny, fixed=("s",))
    with pytest.raises(ValueError, match="groups"):
        ib.prepare_crossed(tiny, groups="s")
    with pytest.raises(ValueError, match="centered"):
        ib.marginal_model(tiny, centered="yes")  # type: ignore[arg-type]
    assert ib.DEFAULT_PRIORS.sigma == bayes.SigmaPrior("halfnormal", 1.0)
    with pytest.raises(ValueError, match="model"):
        ib.fit_advi("not a model", seed=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        ib.fit_advi(ib.advi_model(tiny), seed=-1)


@pytest.mark.slow
def test_nuts_recovers_parameters_and_effects() -> None:
    from analysis.bayes import count_divergences, sample

    # Enough rows per level to pin the SDs down roughly.
    medium, true_effects = simulate_crossed(seed=7, n=3000, n_s=150, n_d=60, n_dept=8)
    prep = ib.prepare_crossed(medium)
    model = ib.marginal_model(prep)
    idata = sample(model, seed=3, draws=300, tune=300, chains=2)
    assert count_divergences(idata) == 0
    ib.recover_effects(prep, idata, seed=4)
    summary = ib.posterior_summary(prep, idata)
    truth = {"s": 0.4, "d": 0.6, "Residual": 1.0}
    for name, value in truth.items():
        assert summary.sds.loc[name, "mean"] == pytest.approx(value, rel=0.25), name
    assert summary.fixed.loc["service1", "mean"] == pytest.approx(-0.2, abs=0.1)
    # Recovered student effects agree with the simulated ones better than zero does.
    for g, min_corr in (("s", 0.6), ("d", 0.8)):
        est = summary.ranef[g]["mean"].to_numpy()
        assert np.corrcoef(est, true_effects[g])[0, 1] > min_corr, g
    # Predictions: unseen levels get zero; seen rows use the effects.
    new = medium.iloc[:5].copy()
    new["s"] = new["s"].cat.add_categories([999])
    new.loc[new.index[0], "s"] = 999
    pred = summary.predict(new)
    assert pred.shape == (5,)
    fixed_only = summary.predict(new, include_random=False)
    d_eff = summary.ranef["d"]["mean"]
    dept_eff = summary.ranef["dept"]["mean"]
    row = new.iloc[0]
    expected = fixed_only[0] + d_eff[row["d"]] + dept_eff[row["dept"]]
    assert pred[0] == pytest.approx(expected)


def test_recovered_block_matches_conditional_regression(tiny: pd.DataFrame) -> None:
    """With the SDs fixed, the block draws' mean is the GLS posterior mean (dense check)."""
    import arviz as az

    prep = ib.prepare_crossed(tiny)
    n_d = len(prep.levels["d"])
    b_d = np.linspace(-0.3, 0.3, n_d)
    draws = 400
    post = {
        "sigma_e": np.full((1, draws), 0.8),
        "sigma_s": np.full((1, draws), 0.5),
        "sigma_d": np.full((1, draws), 0.6),
        "sigma_dept": np.full((1, draws), 0.4),
        "b_d": np.tile(b_d, (1, draws, 1)),
    }
    idata = az.from_dict({"posterior": post}, dims={"b_d": ["d"]})
    ib.recover_effects(prep, idata, seed=9)
    A = np.eye(len(prep.levels["s"]))[prep.codes["s"]]
    C = np.column_stack([prep.X, np.eye(len(prep.levels["dept"]))[prep.codes["dept"]]])
    V = 0.8**2 * np.eye(prep.n_obs) + 0.5**2 * A @ A.T
    prior_prec = np.diag(np.r_[1 / 2.0**2, 1 / 1.0**2, np.full(C.shape[1] - 2, 1 / 0.4**2)])
    mu0 = np.r_[3.0, np.zeros(C.shape[1] - 1)]
    Vi = np.linalg.inv(V)
    P = C.T @ Vi @ C + prior_prec
    mean = np.linalg.solve(P, C.T @ Vi @ (prep.y - b_d[prep.codes["d"]]) + prior_prec @ mu0)
    got = idata.posterior["beta"].values.reshape(draws, -1).mean(axis=0)
    se = np.sqrt(np.diag(np.linalg.inv(P))[:2] / draws)
    assert np.all(np.abs(got - mean[:2]) < 5 * se)
    # Student conditional means given the block posterior mean, vs the direct formula.
    summary = ib.posterior_summary(prep, idata)
    resid = prep.y - b_d[prep.codes["d"]] - C @ mean
    direct = 0.5**2 * A.T @ resid / (0.8**2 + prep.unit_n * 0.5**2)
    assert np.allclose(summary.ranef["s"]["mean"], direct, atol=0.05)


def test_advi_runs_and_tracks_loss(tiny: pd.DataFrame) -> None:
    prep = ib.prepare_crossed(tiny)
    result = ib.fit_advi(ib.advi_model(prep), n=300, seed=2, draws=50)
    assert result.loss.shape == (300,)
    assert np.all(np.isfinite(result.loss))
    # The negative ELBO falls from its start.
    assert result.loss[-50:].mean() < result.loss[:50].mean()
    summary = ib.posterior_summary(prep, result.idata)
    assert set(summary.ranef) == {"s", "d", "dept"}
    assert summary.sds.shape == (4, 2)


def test_effects_by_method_joins_common_levels() -> None:
    estimates = {
        "A": {"s": pd.Series([1.0, 2.0, 3.0], index=[1, 2, 3])},
        "B": {"s": pd.Series([10.0, 30.0], index=["1", "3"])},
    }
    table = ib.effects_by_method(estimates, "s")
    assert list(table.index) == ["1", "3"]
    assert table.loc["3", "A"] == 3.0 and table.loc["3", "B"] == 30.0
    with pytest.raises(ValueError, match="no factor"):
        ib.effects_by_method(estimates, "d")


def test_plots_return_figures() -> None:
    import matplotlib.pyplot as plt

    loss = np.linspace(1000.0, 10.0, 400)
    fig = bplots.plot_loss(loss, window=50)
    assert fig.axes[0].get_yscale() == "log"
    assert len(fig.axes[0].lines) == 2  # raw and running mean
    with pytest.raises(ValueError, match="loss"):
        bplots.plot_loss(np.array([]))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=20), "y": rng.normal(size=20)})
    fig2 = bplots.plot_effect_comparison({"s": frame, "d": frame}, [("x", "y"), ("y", "x")])
    assert len(fig2.axes) == 4
    fig3 = plot_residual_histogram(
        {"a": rng.normal(size=50), "b": rng.normal(size=50)}, bins=10, title="held out"
    )
    assert len(fig3.axes[0].patches) == 2 * 10 and fig3.axes[0].get_title() == "held out"
    assert [t.get_text()[:5] for t in fig3.axes[0].get_legend().get_texts()] == ["a (RM", "b (RM"]
    plt.close("all")


# --------------------------------------------------------------------------------------------
# Chapter 9 writes both models in PyMC where the reader sees them; they must stay the
# package's builders (same free variables, same log density at random points).
# --------------------------------------------------------------------------------------------

CHAPTER_9 = Path(__file__).resolve().parents[1] / "book" / "09_insteval_bayes.ipynb"


def chapter_model(marker: str, prep: ib.CrossedData) -> pm.Model:
    """Run chapter 9's model cell (the code cell containing ``marker``) on ``prep``."""
    import nbformat

    nb = nbformat.read(CHAPTER_9, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"chapter 9 has {len(cells)} code cells with {marker!r}"
    namespace = {"pm": pm, "pt": pt, "crossed": ib, "prep": prep}
    exec(compile(cells[0], f"<{CHAPTER_9.name}: {marker}>", "exec"), namespace)
    model = namespace[marker.removeprefix("as ").rstrip(":")]
    assert isinstance(model, pm.Model)
    return model


def test_chapter_crossed_model_is_advi_model(tiny: pd.DataFrame) -> None:
    prep = ib.prepare_crossed(tiny)
    model = chapter_model("as crossed_model:", prep)
    assert_same_model(model, ib.advi_model(prep))
    # the same variables in the same order, so ADVI and its seeds see the same vector
    assert [v.name for v in model.free_RVs] == [v.name for v in ib.advi_model(prep).free_RVs]


def test_chapter_marginal_model_is_marginal_model(tiny: pd.DataFrame) -> None:
    prep = ib.prepare_crossed(tiny)
    model = chapter_model("as marginal_model:", prep)
    assert_same_model(model, ib.marginal_model(prep))
    assert [v.name for v in model.free_RVs] == [v.name for v in ib.marginal_model(prep).free_RVs]
