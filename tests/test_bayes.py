"""Tests of analysis.bayes: input checks, the models' densities, recovery of known parameters."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import bayes, quiet
from analysis.bayes import sampling
from analysis.datasets.archers import simulate_archers
from analysis.plots import bayes as bplots

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


# --- the package's surface ------------------------------------------------------------------

#: What ``analysis.bayes`` exports: chapters, tests, benchmarks and the InstEval and online
#: modules import these names from the package, whichever module defines them.
PUBLIC_NAMES = (
    "Engine",
    "HYPERPARAMETERS",
    "SamplerSettings",
    "DEFAULT_SETTINGS",
    "SigmaPrior",
    "Priors",
    "DEFAULT_PRIORS",
    "nutpie_available",
    "fixed_effects_model",
    "mixed_model",
    "Structure",
    "random_slopes_model",
    "posterior_agreement",
    "sample",
    "gibbs_mixed_model",
    "compile_seconds",
    "posterior_predictive",
    "diagnostics",
    "count_divergences",
    "convergence_summary",
    "compare_samplers",
    "information_ratio",
    "posterior_means",
    "draws_of",
)

#: The modules ``analysis.bayes`` is cut into (by concept), which its ``__init__`` re-exports.
CONCEPT_MODULES = ("priors", "sampling", "archers", "gibbs", "slopes", "summaries")


def test_the_package_exports_the_same_public_names():
    assert list(bayes.__all__) == list(PUBLIC_NAMES)
    namespace = {}
    exec("from analysis.bayes import *", namespace)
    assert set(PUBLIC_NAMES) <= set(namespace)


def test_every_public_name_comes_from_exactly_one_concept_module():
    import importlib

    homes = {}
    for name in CONCEPT_MODULES:
        module = importlib.import_module(f"analysis.bayes.{name}")
        for public in module.__all__:
            assert public not in homes, f"{public} is in {homes.get(public)} and {name}"
            assert hasattr(module, public), f"analysis.bayes.{name} lacks {public}"
            homes[public] = name
    assert set(PUBLIC_NAMES) <= set(homes), sorted(set(PUBLIC_NAMES) - set(homes))
    for public in PUBLIC_NAMES:
        module = importlib.import_module(f"analysis.bayes.{homes[public]}")
        assert getattr(bayes, public) is getattr(module, public), public


def _sources_using_the_package():
    """The code of every module, benchmark, script, test and chapter of the repository."""
    import json

    root = Path(__file__).resolve().parents[1]
    for folder in ("analysis", "bench", "scripts", "tests"):
        for path in sorted((root / folder).rglob("*.py")):
            yield path.relative_to(root), path.read_text()
    for path in sorted((root / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        yield path.relative_to(root), "\n".join(lines)


def test_every_name_the_repository_reads_from_the_package_exists():
    """``from analysis.bayes import x`` and ``bayes.x`` (after ``from analysis import bayes``)."""
    import ast

    submodules = {p.stem for p in Path(bayes.__file__).parent.glob("*.py")}
    missing = []
    for path, code in _sources_using_the_package():
        tree = ast.parse(code)
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "analysis.bayes":
                missing += [
                    f"{path}: {a.name}"
                    for a in node.names
                    if a.name not in submodules and not hasattr(bayes, a.name)
                ]
            elif isinstance(node, ast.ImportFrom) and node.module == "analysis":
                aliases |= {a.asname or a.name for a in node.names if a.name == "bayes"}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.name == "analysis.bayes" and a.asname}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr not in submodules
                and not hasattr(bayes, node.attr)
            ):
                missing.append(f"{path}: {node.value.id}.{node.attr}")
    assert not missing, missing


@pytest.mark.parametrize("name", ["__init__", *CONCEPT_MODULES])
def test_each_module_silences_pytensor_before_importing_it(name):
    """Each module imports analysis.quiet before any of PyMC, PyTensor, ArviZ, nutpie."""
    import ast

    path = Path(bayes.__file__).with_name(f"{name}.py")
    imported = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            imported.append(node.module or "")
    assert imported and imported[0] == "analysis.quiet", imported


# --- input checks ---------------------------------------------------------------------------


def _data():
    return simulate_archers(3, 2, seed=1).data


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.drop(columns="Bow"), "missing column"),
        (lambda d: d.iloc[0:0], "empty"),
        (
            lambda d: d.assign(Distance=np.where(np.arange(len(d)) == 0, np.nan, d["Distance"])),
            "finite",
        ),
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
    with pytest.raises(ValueError, match="effect_sd"):
        bayes.Priors(effect_sd=0.0)
    with pytest.raises(ValueError, match="sigma must be a SigmaPrior"):
        bayes.Priors(sigma=5.0)  # type: ignore[arg-type]
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
    pri = bayes.Priors(group_sd=bayes.SigmaPrior("exponential", 10.0))
    mu, tau, sa, se = 160.0, -8.0, 12.0, 4.0
    alpha = np.array([5.0, -3.0, 10.0, -20.0])
    common = (
        stats.norm.logpdf(mu, pri.intercept_mean, pri.intercept_sd)
        + stats.norm.logpdf(tau, 0, pri.effect_sd)
        + stats.halfnorm.logpdf(se, scale=pri.sigma.scale)
        + stats.expon.logpdf(sa, scale=10.0)
        + _hand_loglik(data, mu, tau, alpha, se)
    )
    centred = bayes.mixed_model(data, centered=True, priors=pri)
    point = {
        "mu": mu,
        "tau": tau,
        "sigma_a_log__": np.log(sa),
        "sigma_e_log__": np.log(se),
        "archer_mean": mu + alpha,
    }
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
        (
            bayes.SigmaPrior("halfstudentt", 7.0),
            lambda x: np.log(2) + stats.t.logpdf(x, df=3, scale=7.0),
        ),
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
    np.testing.assert_allclose(bplots._sigma_prior_pdf(prior, x), np.exp(logpdf(x)), rtol=1e-8)
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
        assert len([m for m in sampling._NUTPIE_CACHE if m is model]) == 1


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
    exp = simulate_archers(40, 1, seed=11, mean=165.0, bow_effect=-10.0, archer_sd=4.0, shot_sd=5.0)
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
    out = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == "", out.stderr


def test_import_prints_nothing():
    _run_quietly("import analysis.bayes\nimport pytensor.tensor.blas\n")


@pytest.mark.slow
def test_sampling_prints_nothing():
    _run_quietly(
        "import analysis.bayes as b\n"
        "from analysis.datasets.archers import simulate_archers\n"
        "m = b.mixed_model(simulate_archers(5, 2, seed=1).data)\n"
        "b.sample(m, seed=1, draws=100, tune=100, chains=2)\n"
        "b.sample(m, seed=1, draws=100, tune=100, chains=2, engine='pymc')\n"
    )


def test_blas_flags_point_at_a_real_library_or_are_explicitly_empty():
    import pytensor

    flags = pytensor.config.blas__ldflags
    if quiet.BLAS_LDFLAGS is not None:
        assert flags == quiet.BLAS_LDFLAGS
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


def test_gibbs_sampler_recovers_the_truth_and_compares_with_nuts(small, centred_fit):
    gibbs = bayes.gibbs_mixed_model(small.data, seed=5, draws=1500, tune=300, chains=2)
    again = bayes.gibbs_mixed_model(small.data, seed=5, draws=1500, tune=300, chains=2)
    assert np.array_equal(gibbs.posterior["tau"].values, again.posterior["tau"].values)
    post = gibbs.posterior
    assert post["alpha"].shape == (2, 1500, 30)
    for name, truth in {
        "tau": small.bow_effect,
        "sigma_e": small.shot_sd,
        "sigma_a": small.archer_sd,
    }.items():
        lo, hi = np.quantile(post[name].to_numpy(), [0.005, 0.995])
        assert lo < truth < hi, (name, lo, hi, truth)
    _, nuts = centred_fit
    table = bayes.compare_samplers({"NUTS": nuts, "Gibbs": gibbs})
    assert list(table.index) == list(bayes.HYPERPARAMETERS)
    assert abs(table.loc["tau", "NUTS mean"] - table.loc["tau", "Gibbs mean"]) < 0.5
    assert (table.filter(like="ESS/s") > 0).all().all()
    assert bayes.count_divergences(gibbs) == 0


def test_centred_gibbs_sampler_mixes_where_the_uncentred_one_crawls():
    # Informative archers (information ratio n sigma_a^2 / sigma_e^2 = 10 * 400 / 25 = 160):
    # the regime in which the uncentred sampler's mu crawls along a ridge.
    exp = simulate_archers(40, 5, seed=3, **TRUTH)
    runs = {
        form: bayes.gibbs_mixed_model(
            exp.data, seed=4, draws=800, tune=200, chains=2, centered=form == "centred"
        )
        for form in ("centred", "uncentred")
    }
    assert runs["centred"].posterior.attrs["parameterisation"] == "centred"
    centred = bayes.diagnostics(runs["centred"])
    uncentred = bayes.diagnostics(runs["uncentred"])
    assert centred.loc["mu", "ess_bulk"] > 0.5 * 1600 and centred["r_hat"].max() < 1.02
    assert uncentred.loc["mu", "ess_bulk"] < 0.05 * centred.loc["mu", "ess_bulk"]
    post = runs["centred"].posterior
    for name, truth in {
        "mu": exp.mean,
        "tau": exp.bow_effect,
        "sigma_e": exp.shot_sd,
        "sigma_a": exp.archer_sd,
    }.items():
        lo, hi = np.quantile(post[name].to_numpy(), [0.005, 0.995])
        assert lo < truth < hi, (name, lo, hi, truth)
    # alpha is recorded as the effect (archer mean minus mu), as in the uncentred sampler
    raw = exp.data.groupby("Name", observed=True)["Distance"].mean().to_numpy()
    alpha = post["alpha"].mean(("chain", "draw")).to_numpy()
    assert np.corrcoef(alpha, raw)[0, 1] > 0.99 and abs(alpha.mean()) < 5


def test_compare_samplers_charges_compilation_when_asked(small, centred_fit):
    _, nuts = centred_fit
    gibbs = bayes.gibbs_mixed_model(small.data, seed=5, draws=300, tune=100, chains=2)
    assert nuts.posterior.attrs["compile_seconds"] >= 0
    plain = bayes.compare_samplers({"NUTS": nuts, "Gibbs": gibbs})
    charged = bayes.compare_samplers({"NUTS": nuts, "Gibbs": gibbs}, count_compile=True)
    seconds = nuts.posterior.attrs["sampling_seconds"] + nuts.posterior.attrs["compile_seconds"]
    assert charged.attrs["seconds"]["NUTS"] == pytest.approx(seconds)
    assert charged.attrs["seconds"]["Gibbs"] == gibbs.posterior.attrs["sampling_seconds"]
    assert (charged["NUTS ESS/s"] <= plain["NUTS ESS/s"]).all()
    assert charged["Gibbs ESS/s"].equals(plain["Gibbs ESS/s"])
    assert charged["NUTS ESS"].equals(plain["NUTS ESS"])


def test_gibbs_sampler_rejects_bad_arguments(small):
    with pytest.raises(ValueError, match="seed"):
        bayes.gibbs_mixed_model(small.data, seed=-1)
    with pytest.raises(ValueError, match="variance_shape"):
        bayes.gibbs_mixed_model(small.data, seed=1, variance_shape=0.0)
    with pytest.raises(ValueError, match="centered"):
        bayes.gibbs_mixed_model(small.data, seed=1, centered="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one run"):
        bayes.compare_samplers({})


# --- Random intercepts and slopes for any data set -------------------------------------------


def _panel(n_groups=5, n_days=4, seed=3):
    rng = np.random.default_rng(seed)
    group = np.repeat([f"g{k}" for k in range(n_groups)], n_days)
    days = np.tile(np.arange(n_days, dtype=float), n_groups)
    y = 250 + 10 * days + rng.normal(0, 20, group.size)
    return pd.DataFrame({"y": y, "x": days, "g": group})


def _slope_priors(lkj_eta: float = 2.0) -> bayes.Priors:
    def hn(scale: float) -> bayes.SigmaPrior:
        return bayes.SigmaPrior("halfnormal", scale)

    return bayes.Priors(
        intercept_mean=250.0,
        intercept_sd=100.0,
        effect_sd=40.0,
        group_sd=hn(30.0),
        slope_sd=hn(8.0),
        sigma=hn(25.0),
        lkj_eta=lkj_eta,
    )


def test_slope_priors_scale_with_the_data_and_are_validated():
    data = _panel()
    pri = bayes.Priors.from_data(data, "y", "x")
    sy, sx = data["y"].std(ddof=0), data["x"].std(ddof=0)
    assert pri.intercept_mean == pytest.approx(data["y"].mean())
    assert pri.intercept_sd == pytest.approx(2.5 * sy)
    assert pri.effect_sd == pytest.approx(2.5 * sy / sx)
    assert {pri.group_sd.family, pri.slope_sd.family, pri.sigma.family} == {"halfnormal"}
    assert pri.group_sd.scale == pytest.approx(sy) and pri.sigma.scale == pytest.approx(sy)
    assert pri.slope_sd.scale == pytest.approx(sy / sx) and pri.lkj_eta == 2.0
    assert list(pri.table().index)[:3] == ["intercept", "other fixed effects", "residual SD"]
    with pytest.raises(ValueError, match="must both vary"):
        bayes.Priors.from_data(data.assign(x=1.0), "y", "x")
    with pytest.raises(ValueError, match="intercept_sd must be positive"):
        bayes.Priors(intercept_sd=0.0)
    with pytest.raises(ValueError, match="same family"):
        bayes.random_slopes_model(
            data,
            response="y",
            slope="x",
            group="g",
            priors=bayes.Priors(slope_sd=bayes.SigmaPrior("exponential", 1.0)),
        )
    with pytest.raises(ValueError, match="lkj_eta"):
        bayes.Priors(lkj_eta=float("nan"))


@pytest.mark.parametrize(
    ("kwargs", "mutate", "message"),
    [
        ({"structure": "diagonal"}, None, "structure must be one of"),
        ({}, lambda d: d.drop(columns="x"), "x"),
        ({}, lambda d: d.assign(g="only"), "at least two levels"),
        ({}, lambda d: d.assign(y="fast"), "must be numeric"),
        ({}, lambda d: d.assign(x=np.nan), "predictor column .x. has missing"),
        ({}, lambda d: d.iloc[:0], "empty"),
    ],
)
def test_random_slopes_model_rejects_bad_input(kwargs, mutate, message):
    data = _panel()
    if mutate is not None:
        data = mutate(data)
    with pytest.raises(ValueError, match=message):
        bayes.random_slopes_model(data, response="y", slope="x", group="g", **kwargs)


def test_independent_slopes_model_density_matches_the_formula():
    data = _panel()
    pri = _slope_priors()
    model = bayes.random_slopes_model(
        data, response="y", slope="x", group="g", structure="independent", priors=pri
    )
    b0, b1, s0, s1, sigma = 240.0, 12.0, 20.0, 5.0, 18.0
    z0 = np.array([0.5, -1.0, 0.2, 1.5, -0.3])
    z1 = np.array([-0.4, 0.8, 1.1, -1.2, 0.0])
    codes = pd.factorize(data["g"], sort=True)[0]
    mean = b0 + s0 * z0[codes] + (b1 + s1 * z1[codes]) * data["x"].to_numpy()
    expected = (
        stats.norm.logpdf(b0, 250, 100)
        + stats.norm.logpdf(b1, 0, 40)
        + stats.halfnorm.logpdf(sigma, scale=25)
        + stats.halfnorm.logpdf(s0, scale=30)
        + stats.halfnorm.logpdf(s1, scale=8)
        + stats.norm.logpdf(z0).sum()
        + stats.norm.logpdf(z1).sum()
        + stats.norm.logpdf(data["y"], mean, sigma).sum()
    )
    point = {
        "Intercept": b0,
        "x": b1,
        "sigma_log__": np.log(sigma),
        "1|g_sigma_log__": np.log(s0),
        "1|g_offset": z0,
        "x|g_sigma_log__": np.log(s1),
        "x|g_offset": z1,
    }
    got = model.compile_logp(jacobian=False)(point)
    assert got == pytest.approx(expected, rel=1e-8)

    intercept_only = bayes.random_slopes_model(
        data, response="y", slope="x", group="g", structure="intercept", priors=pri
    )
    assert "x|g_sigma" not in intercept_only.named_vars
    assert {"1|g_sigma", "1|g", "Intercept", "x", "sigma"} <= set(intercept_only.named_vars)


def test_bambi_builds_the_independent_model_with_the_same_density():
    import bambi as bmb

    data = _panel()
    pri = bayes.Priors.from_data(data, "y", "x")
    ours = bayes.random_slopes_model(
        data, response="y", slope="x", group="g", structure="independent", priors=pri
    )
    bm = bmb.Model("y ~ x + (x | g)", data, priors=pri.to_bambi("x", "g"), center_predictors=False)
    bm.build()
    theirs = bm.backend.model
    assert sorted(v.name for v in ours.free_RVs) == sorted(v.name for v in theirs.free_RVs)
    rng = np.random.default_rng(5)
    for _ in range(3):
        point = {
            "Intercept": rng.normal(250, 10),
            "x": rng.normal(10, 3),
            "sigma_log__": rng.normal(3, 0.2),
            "1|g_sigma_log__": rng.normal(3, 0.2),
            "1|g_offset": rng.normal(size=5),
            "x|g_sigma_log__": rng.normal(1.5, 0.2),
            "x|g_offset": rng.normal(size=5),
        }
        # Bambi shapes its offsets (groups, 1) or (groups,) depending on the version
        their_point = {k: np.reshape(v, theirs.initial_point()[k].shape) for k, v in point.items()}
        assert ours.compile_logp()(point) == pytest.approx(
            theirs.compile_logp()(their_point), rel=1e-10
        )


def test_correlated_model_draws_effects_with_the_lkj_correlation():
    data = _panel(n_groups=3)
    pri = _slope_priors(lkj_eta=3.0)
    model = bayes.random_slopes_model(data, response="y", slope="x", group="g", priors=pri)
    import pymc as pm

    names = ["rho", "1|g_sigma", "x|g_sigma", "1|g", "x|g"]
    rho, s0, s1, b0, b1 = pm.draw([model[v] for v in names], draws=4000, random_seed=11)
    # (rho + 1) / 2 ~ Beta(eta, eta)
    assert stats.kstest((rho + 1) / 2, stats.beta(3.0, 3.0).cdf).pvalue > 0.001
    # b = L z: the standardised slope is rho times the standardised intercept plus noise
    u0 = b0 / s0[:, None]
    u1 = b1 / s1[:, None]
    w = (u1 - rho[:, None] * u0) / np.sqrt(1 - rho[:, None] ** 2)
    for v in (u0, w):
        assert abs(v.mean()) < 0.05 and abs(v.std() - 1) < 0.05
    assert abs(np.corrcoef(u0.ravel(), w.ravel())[0, 1]) < 0.05
    # the SDs have their HalfNormal priors
    assert stats.kstest(s0, stats.halfnorm(scale=30).cdf).pvalue > 0.001
    assert stats.kstest(s1, stats.halfnorm(scale=8).cdf).pvalue > 0.001


def _posterior(values, seed=0):
    from arviz_base import from_dict

    rng = np.random.default_rng(seed)
    return from_dict({"posterior": {k: v + rng.normal(0, 1, (4, 500)) for k, v in values.items()}})


def test_posterior_agreement_measures_differences_in_monte_carlo_errors():
    a = _posterior({"m": 0.0, "s": 5.0}, seed=1)
    b = _posterior({"m": 0.0, "s": 5.0}, seed=2)
    c = _posterior({"m": 1.0, "s": 5.0}, seed=3)
    same = bayes.posterior_agreement(a, b, ["m", "s"])
    assert (same["z"].abs() < 4).all()
    mcse = 1 / np.sqrt(2000)  # independent draws of SD 1
    assert same["mcse_1"].to_numpy() == pytest.approx([mcse, mcse], rel=0.2)
    shifted = bayes.posterior_agreement(a, c, ["m"])
    assert shifted.loc["m", "difference"] == pytest.approx(1.0, abs=0.15)
    assert shifted.loc["m", "z"] > 20
    with pytest.raises(ValueError, match="lacks"):
        bayes.posterior_agreement(a, b, ["m", "tau"])
    with pytest.raises(ValueError, match="at least one"):
        bayes.posterior_agreement(a, b, [])


def test_assert_same_model_accepts_a_copy_and_refuses_another_parameterisation():
    from analysis.bayes.equivalence import assert_same_model
    from analysis.datasets.archers import fifty_archers

    data = fifty_archers().data
    assert_same_model(bayes.mixed_model(data), bayes.mixed_model(data))
    with pytest.raises(AssertionError, match="free variables"):
        assert_same_model(bayes.mixed_model(data), bayes.mixed_model(data, centered=False))
    wider = bayes.Priors(sigma=bayes.SigmaPrior("halfnormal", 50.0))
    with pytest.raises(AssertionError, match="log densities"):
        assert_same_model(bayes.mixed_model(data), bayes.mixed_model(data, priors=wider))


# --- the chapters' models are the package's builders -------------------------------------------

BOOK = Path(__file__).resolve().parents[1] / "book"


def _chapter_function(notebook: str, name: str, namespace: dict) -> object:
    """Run the chapter's code cell that defines ``name`` in ``namespace`` and return it."""
    import nbformat

    nb = nbformat.read(BOOK / notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source]
    assert len(cells) == 1, f"{notebook}: expected one cell defining {name}, got {len(cells)}"
    exec(compile(cells[0].source, f"{notebook}:{name}", "exec"), namespace)
    return namespace[name]


def test_chapter_6_archer_model_is_the_package_builders():
    import pymc as pm

    from analysis.bayes.equivalence import assert_same_model

    data = simulate_archers(6, 3, seed=4).data
    namespace = {"np": np, "pd": pd, "pm": pm, "data": data, "priors": bayes.DEFAULT_PRIORS}
    archer_model = _chapter_function("06_bayesian_randomness.ipynb", "archer_model", namespace)
    for centred in (True, False):
        assert_same_model(archer_model(centred=centred), bayes.mixed_model(data, centered=centred))
        for sd in (1.0, 100.0):
            assert_same_model(
                archer_model(sigma_a=sd, centred=centred),
                bayes.fixed_effects_model(data, sigma_a=sd, centered=centred),
            )
    # and the check can fail: a fixed prior SD is not the mixed model
    with pytest.raises(AssertionError):
        assert_same_model(archer_model(sigma_a=1.0), bayes.mixed_model(data))


def test_chapter_6b_mixed_archers_is_the_package_builder():
    import pymc as pm

    from analysis.bayes.equivalence import assert_same_model

    data = simulate_archers(6, 3, seed=4).data
    namespace = {"np": np, "pd": pd, "pm": pm, "bayes": bayes}
    mixed_archers = _chapter_function("06b_nuts_in_practice.ipynb", "mixed_archers", namespace)
    for prior in (
        bayes.SigmaPrior("halfnormal", 50.0),
        bayes.SigmaPrior("gamma", 10.0),
        bayes.SigmaPrior("exponential", 2.0),
    ):
        priors = bayes.DEFAULT_PRIORS.with_group_sd(prior)
        for centred in (True, False):
            assert_same_model(
                mixed_archers(data, centred=centred, priors=priors),
                bayes.mixed_model(data, centered=centred, priors=priors),
            )


def test_forest_plot_names_few_units_and_ranks_many():
    from arviz_base import from_dict

    rng = np.random.default_rng(1)

    def posterior(n_units):
        names = [f"unit {k}" for k in range(n_units)]
        draws = rng.normal(np.arange(n_units), 1.0, (2, 100, n_units))
        return from_dict(
            {"posterior": {"alpha": draws}},
            coords={"archer": names},
            dims={"alpha": ["archer"]},
        )

    few = bplots.plot_effects_forest(posterior(5))
    labels = [t.get_text() for t in few.axes[0].get_yticklabels()]
    assert labels[0] == "unit 4" and len(labels) == 5  # the largest mean on top
    many = bplots.plot_effects_forest(posterior(50))
    labels = [t.get_text() for t in many.axes[0].get_yticklabels()]
    assert labels == ["1", "10", "20", "30", "40", "50"]
    with pytest.raises(ValueError, match="ci_probs"):
        bplots.plot_effects_forest(posterior(5), ci_probs=(0.95, 0.5))
