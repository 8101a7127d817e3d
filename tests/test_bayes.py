"""Tests of analysis.bayes: input checks, the models' densities, recovery of known parameters."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import bayes
from analysis.simulate import simulate_archers

TRUTH = dict(mean=165.0, bow_effect=-10.0, archer_sd=20.0, shot_sd=5.0)
FAST = dict(draws=400, tune=400, chains=2)


@pytest.fixture(scope="module")
def small():
    """30 archers x 2 bows x 5 shots: informative enough for the centred form."""
    return simulate_archers(30, 5, seed=7, **TRUTH)


@pytest.fixture(scope="module")
def centred_fit(small):
    model = bayes.mixed_model(small.data, centered=True)
    return model, bayes.sample(model, seed=3, **FAST)


# --- input checks ---------------------------------------------------------------------------


def _data():
    return simulate_archers(3, 2, seed=1).data


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.drop(columns="Bow"), "missing column"),
        (lambda d: d.iloc[0:0], "empty"),
        (lambda d: d.assign(Distance=np.where(np.arange(len(d)) == 0, np.nan, d["Distance"])),
         "finite"),
        (lambda d: d.assign(Distance="far"), "numeric"),
        (lambda d: d.assign(Bow=["Eastwood"] * len(d)), "unknown bow"),
        (lambda d: d.assign(Name=[None] + list(d["Name"].astype(str))[1:]), "missing values"),
    ],
)
@pytest.mark.parametrize("builder", [bayes.fixed_effects_model, bayes.mixed_model])
def test_builders_reject_bad_data(builder, mutate, message):
    with pytest.raises(ValueError, match=message):
        builder(mutate(_data()))


def test_builders_reject_non_frames_and_bad_options():
    with pytest.raises(ValueError, match="DataFrame"):
        bayes.mixed_model([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sigma_a must be positive"):
        bayes.fixed_effects_model(_data(), sigma_a=0.0)
    with pytest.raises(ValueError, match="sigma_a must be a finite"):
        bayes.fixed_effects_model(_data(), sigma_a=float("inf"))
    with pytest.raises(ValueError, match="centered"):
        bayes.mixed_model(_data(), centered="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="priors"):
        bayes.mixed_model(_data(), priors={"sigma_a": 1})  # type: ignore[arg-type]
    one_archer = simulate_archers(1, 3, seed=1).data
    with pytest.raises(ValueError, match="at least two archers"):
        bayes.mixed_model(one_archer)


def test_priors_and_settings_are_validated():
    with pytest.raises(ValueError, match="family"):
        bayes.SigmaPrior("lognormal", 1.0)
    with pytest.raises(ValueError, match="scale must be positive"):
        bayes.SigmaPrior("halfnormal", -1.0)
    with pytest.raises(ValueError, match="tau_sd"):
        bayes.Priors(tau_sd=0.0)
    with pytest.raises(ValueError, match="sigma_e must be a SigmaPrior"):
        bayes.Priors(sigma_e=5.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target_accept"):
        bayes.SamplerSettings(target_accept=1.0)
    with pytest.raises(ValueError, match="draws"):
        bayes.SamplerSettings(draws=0)
    with pytest.raises(ValueError, match="engine"):
        bayes.SamplerSettings(engine="stan")  # type: ignore[arg-type]
    assert bayes.DEFAULT_SETTINGS.cores == 2 and bayes.DEFAULT_SETTINGS.chains == 4


def test_sample_rejects_bad_arguments(centred_fit):
    model, _ = centred_fit
    with pytest.raises(ValueError, match="pymc.Model"):
        bayes.sample("model", seed=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        bayes.sample(model, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chains"):
        bayes.sample(model, seed=1, chains=0)


# --- the models are the ones written down ---------------------------------------------------


def _hand_loglik(data, mu, tau, alpha, sigma_e):
    names = list(data["Name"].cat.categories)
    a = pd.Series(alpha, index=names).loc[data["Name"].astype(str)].to_numpy()
    south = (data["Bow"] == "Southwood").to_numpy()
    return stats.norm.logpdf(data["Distance"], mu + tau * south + a, sigma_e).sum()


def test_mixed_model_densities_match_the_formula_in_both_forms():
    data = simulate_archers(4, 3, seed=2).data
    pri = bayes.Priors(sigma_a=bayes.SigmaPrior("exponential", 10.0))
    mu, tau, sa, se = 160.0, -8.0, 12.0, 4.0
    alpha = np.array([5.0, -3.0, 10.0, -20.0])
    common = (
        stats.norm.logpdf(mu, pri.mu_mean, pri.mu_sd)
        + stats.norm.logpdf(tau, 0, pri.tau_sd)
        + stats.halfnorm.logpdf(se, scale=pri.sigma_e.scale)
        + stats.expon.logpdf(sa, scale=10.0)
        + _hand_loglik(data, mu, tau, alpha, se)
    )
    centred = bayes.mixed_model(data, centered=True, priors=pri)
    point = {"mu": mu, "tau": tau, "sigma_a_log__": np.log(sa), "sigma_e_log__": np.log(se),
             "archer_mean": mu + alpha}
    got = centred.compile_logp(jacobian=False)(point)
    assert got == pytest.approx(common + stats.norm.logpdf(alpha, 0, sa).sum(), rel=1e-8)

    noncentred = bayes.mixed_model(data, centered=False, priors=pri)
    point = {k: v for k, v in point.items() if k != "archer_mean"} | {"z": alpha / sa}
    got = noncentred.compile_logp(jacobian=False)(point)
    assert got == pytest.approx(common + stats.norm.logpdf(alpha / sa).sum(), rel=1e-8)


def test_fixed_effects_model_uses_the_fixed_sd_and_has_no_sigma_a():
    data = simulate_archers(3, 2, seed=4).data
    model = bayes.fixed_effects_model(data, sigma_a=7.0)
    assert "sigma_a" not in model.named_vars
    mu, tau, se = 150.0, 3.0, 6.0
    alpha = np.array([1.0, -2.0, 4.0])
    point = {"mu": mu, "tau": tau, "sigma_e_log__": np.log(se), "archer_mean": mu + alpha}
    expected = (
        stats.norm.logpdf(mu, 150.0, 50.0)
        + stats.norm.logpdf(tau, 0, 25.0)
        + stats.halfnorm.logpdf(se, scale=20.0)
        + stats.norm.logpdf(alpha, 0, 7.0).sum()
        + _hand_loglik(data, mu, tau, alpha, se)
    )
    assert model.compile_logp(jacobian=False)(point) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize(
    "prior, logpdf",
    [
        (bayes.SigmaPrior("halfnormal", 7.0), lambda x: stats.halfnorm.logpdf(x, scale=7.0)),
        (bayes.SigmaPrior("halfcauchy", 7.0), lambda x: stats.halfcauchy.logpdf(x, scale=7.0)),
        (bayes.SigmaPrior("halfstudentt", 7.0),
         lambda x: np.log(2) + stats.t.logpdf(x, df=3, scale=7.0)),
        (bayes.SigmaPrior("exponential", 7.0), lambda x: stats.expon.logpdf(x, scale=7.0)),
        (bayes.SigmaPrior("gamma", 7.0), lambda x: stats.gamma.logpdf(x, a=2.0, scale=3.5)),
        (bayes.SigmaPrior("uniform", 70.0), lambda x: stats.uniform.logpdf(x, scale=70.0)),
    ],
    ids=lambda p: p.family if isinstance(p, bayes.SigmaPrior) else "",
)
def test_sigma_priors_have_the_documented_densities(prior, logpdf):
    import pymc as pm

    with pm.Model():
        rv = prior.build("s")
    x = np.array([0.5, 3.0, 12.0])
    got = np.array([float(pm.logp(rv, v).eval()) for v in x])
    np.testing.assert_allclose(got, logpdf(x), rtol=1e-6)  # PyMC rounds log constants
    np.testing.assert_allclose(bayes._sigma_prior_pdf(prior, x), np.exp(logpdf(x)), rtol=1e-8)
    assert prior.label()


def test_fixed_effects_model_non_centred_form_has_the_same_density():
    data = simulate_archers(3, 2, seed=4).data
    mu, tau, se, sa = 150.0, 3.0, 6.0, 7.0
    alpha = np.array([1.0, -2.0, 4.0])
    centred = bayes.fixed_effects_model(data, sigma_a=sa)
    noncentred = bayes.fixed_effects_model(data, sigma_a=sa, centered=False)
    base = {"mu": mu, "tau": tau, "sigma_e_log__": np.log(se)}
    lc = centred.compile_logp(jacobian=False)(base | {"archer_mean": mu + alpha})
    ln = noncentred.compile_logp(jacobian=False)(base | {"z": alpha / sa})
    # the two differ only by the Jacobian of alpha = sa * z: n_archers * log(sa)
    assert ln - lc == pytest.approx(3 * np.log(sa), rel=1e-6)


# --- sampling ---------------------------------------------------------------------------------


def test_centred_model_recovers_the_truth(small, centred_fit):
    _, idata = centred_fit
    post = idata.posterior
    assert bayes.count_divergences(idata) == 0
    # mu is the mean of the population of archers; thirty archers pin down their own mean,
    # mean + mean(archer effects), not the population's (that differs by sigma_a / sqrt(30)).
    checks = {
        "mu": small.mean + small.archer_effects.mean(),
        "tau": small.bow_effect,
        "sigma_a": small.archer_sd,
        "sigma_e": small.shot_sd,
    }
    for name, truth in checks.items():
        lo, hi = np.quantile(post[name].to_numpy(), [0.005, 0.995])
        assert lo < truth < hi, (name, lo, hi, truth)
    # archer effects are recovered up to the (estimated) overall level
    est = post["alpha"].mean(("chain", "draw")).to_series()
    truth = small.archer_effects - small.archer_effects.mean()
    assert np.corrcoef(est.loc[truth.index], truth)[0, 1] > 0.99
    table = bayes.diagnostics(idata)
    assert list(table.index) == list(bayes.HYPERPARAMETERS)
    assert (table["r_hat"] < 1.02).all()
    assert "observed_data" in idata.children
    assert idata.posterior.attrs["engine"] == ("nutpie" if bayes.nutpie_available() else "pymc")


def test_sample_is_deterministic_for_a_seed_and_reuses_the_compiled_model(centred_fit):
    model, first = centred_fit
    again = bayes.sample(model, seed=3, **FAST)
    other = bayes.sample(model, seed=4, **FAST)
    np.testing.assert_array_equal(first.posterior["mu"], again.posterior["mu"])
    assert not np.array_equal(first.posterior["mu"], other.posterior["mu"])
    if bayes.nutpie_available():
        assert bayes.compile_seconds(model) is not None
        assert len([m for m in bayes._NUTPIE_CACHE if m is model]) == 1


def test_posterior_predictive_matches_observed_shape(centred_fit):
    model, idata = centred_fit
    bayes.posterior_predictive(model, idata, seed=5)
    pp = idata.posterior_predictive["Distance"]
    assert pp.shape[-1] == idata.observed_data["Distance"].shape[0]
    # the replicated data reproduce the observed spread
    assert abs(float(pp.std()) - float(idata.observed_data["Distance"].std())) < 3.0


@pytest.mark.slow
def test_non_centred_model_recovers_the_truth_on_sparse_data():
    # archers differ little relative to shot noise: the regime the non-centred form is for
    exp = simulate_archers(40, 1, seed=11, mean=165.0, bow_effect=-10.0, archer_sd=4.0,
                           shot_sd=5.0)
    idata = bayes.sample(bayes.mixed_model(exp.data, centered=False), seed=2, **FAST)
    assert bayes.count_divergences(idata) <= 2
    for name, truth in {"mu": 165.0, "tau": -10.0, "sigma_e": 5.0}.items():
        lo, hi = np.quantile(idata.posterior[name].to_numpy(), [0.005, 0.995])
        assert lo < truth < hi, (name, lo, hi)


@pytest.mark.slow
def test_pymc_engine_fallback_samples_too(small):
    model = bayes.mixed_model(small.data, centered=True)
    idata = bayes.sample(model, seed=1, engine="pymc", draws=200, tune=300, chains=2)
    assert idata.posterior.attrs["engine"] == "pymc"
    assert idata.posterior["mu"].shape == (2, 200)
    lo, hi = np.quantile(idata.posterior["tau"].to_numpy(), [0.005, 0.995])
    assert lo < small.bow_effect < hi


# --- no noise ---------------------------------------------------------------------------------


def _run_quietly(code):
    out = subprocess.run([sys.executable, "-W", "default", "-c", code],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == "", out.stderr


def test_import_prints_nothing():
    _run_quietly("import analysis.bayes\nimport pytensor.tensor.blas\n")


@pytest.mark.slow
def test_sampling_prints_nothing():
    _run_quietly(
        "import analysis.bayes as b\n"
        "from analysis.simulate import simulate_archers\n"
        "m = b.mixed_model(simulate_archers(5, 2, seed=1).data)\n"
        "b.sample(m, seed=1, draws=100, tune=100, chains=2)\n"
        "b.sample(m, seed=1, draws=100, tune=100, chains=2, engine='pymc')\n"
    )


def test_blas_flags_point_at_a_real_library_or_are_explicitly_empty():
    import pytensor

    flags = pytensor.config.blas__ldflags
    if bayes.analysis.quiet.BLAS_LDFLAGS is not None:
        assert flags == bayes.analysis.quiet.BLAS_LDFLAGS
    if flags.startswith("-l:"):
        import ctypes

        ctypes.CDLL(flags[3:])  # the library the flags name can be loaded


def test_without_a_system_blas_the_choice_is_explicit_and_silent():
    # Pretend the loader finds no BLAS: quiet must say so (empty flags), not leave PyTensor to
    # search and warn, and PyTensor must still compile a matrix product without a word.
    code = (
        "import os, ctypes.util\n"
        "os.environ.pop('PYTENSOR_FLAGS', None)\n"
        "os.environ['PYTENSORRC'] = os.devnull\n"
        "ctypes.util.find_library = lambda name: None\n"
        "import analysis.quiet as q\n"
        "assert q.BLAS_LDFLAGS == '', q.BLAS_LDFLAGS\n"
        "import numpy as np, pytensor, pytensor.tensor as pt\n"
        "assert pytensor.config.blas__ldflags == ''\n"
        "a = pt.matrix('a')\n"
        "f = pytensor.function([a], a @ a)\n"
        "x = np.arange(4.0).reshape(2, 2)\n"
        "assert np.allclose(f(x), x @ x)\n"
    )
    _run_quietly(code)


def test_a_users_own_blas_choice_is_left_alone():
    code = (
        "import os\n"
        "os.environ['PYTENSOR_FLAGS'] = 'blas__ldflags='\n"
        "import analysis.quiet as q\n"
        "assert q.BLAS_LDFLAGS is None\n"
        "assert os.environ['PYTENSOR_FLAGS'] == 'blas__ldflags='\n"
    )
    _run_quietly(code)


def test_posterior_mode_finds_the_peak_of_a_skewed_sample():
    draws = np.random.default_rng(0).gamma(shape=4.0, scale=1.0, size=20_000)
    assert bayes.posterior_mode(draws) == pytest.approx(3.0, abs=0.15)  # (shape - 1) * scale
    assert bayes.posterior_mode(draws) < np.median(draws)
    with pytest.raises(ValueError, match="two finite"):
        bayes.posterior_mode(np.array([1.0, np.nan]))


def test_gibbs_sampler_recovers_the_truth_and_compares_with_nuts(small, centred_fit):
    gibbs = bayes.gibbs_mixed_model(small.data, seed=5, draws=1500, tune=300, chains=2)
    again = bayes.gibbs_mixed_model(small.data, seed=5, draws=1500, tune=300, chains=2)
    assert np.array_equal(gibbs.posterior["tau"].values, again.posterior["tau"].values)
    post = gibbs.posterior
    assert post["alpha"].shape == (2, 1500, 30)
    for name, truth in {"tau": small.bow_effect, "sigma_e": small.shot_sd,
                        "sigma_a": small.archer_sd}.items():
        lo, hi = np.quantile(post[name].to_numpy(), [0.005, 0.995])
        assert lo < truth < hi, (name, lo, hi, truth)
    _, nuts = centred_fit
    table = bayes.compare_samplers({"NUTS": nuts, "Gibbs": gibbs})
    assert list(table.index) == list(bayes.HYPERPARAMETERS)
    assert abs(table.loc["tau", "NUTS mean"] - table.loc["tau", "Gibbs mean"]) < 0.5
    assert (table.filter(like="ESS/s") > 0).all().all()
    assert bayes.count_divergences(gibbs) == 0


def test_gibbs_sampler_rejects_bad_arguments(small):
    with pytest.raises(ValueError, match="seed"):
        bayes.gibbs_mixed_model(small.data, seed=-1)
    with pytest.raises(ValueError, match="variance_shape"):
        bayes.gibbs_mixed_model(small.data, seed=1, variance_shape=0.0)
    with pytest.raises(ValueError, match="at least one run"):
        bayes.compare_samplers({})
