"""NUTS sampling with the settings in one place: nutpie when installed, PyMC otherwise.

Every sampling call of the book goes through :func:`sample` with a
:class:`SamplerSettings` (by default :data:`DEFAULT_SETTINGS`). nutpie (a Rust NUTS
implementation running a numba-compiled log density) is used when it is installed; the
compiled model is cached per :class:`pymc.Model`, so sampling the same model again
(another seed, more draws) does not pay the compilation again (see :func:`compile_seconds`).
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

import importlib.util
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any, Literal

import pymc as pm
from pymc.backends.arviz import patch_nutpie_idata
from xarray import DataTree

from analysis.validation import check_choice, check_level, check_positive_int, check_seed

__all__ = [
    "Engine",
    "SamplerSettings",
    "DEFAULT_SETTINGS",
    "nutpie_available",
    "sample",
    "compile_seconds",
    "posterior_predictive",
]

#: The NUTS implementations :func:`sample` can run.
Engine = Literal["nutpie", "pymc"]


def nutpie_available() -> bool:
    """Return whether nutpie can be imported."""
    return importlib.util.find_spec("nutpie") is not None


@dataclass(frozen=True)
class SamplerSettings:
    """How NUTS is run: every sampling call in the book uses one of these.

    Attributes
    ----------
    draws
        Kept draws per chain.
    tune
        Warm-up (adaptation) draws per chain, discarded.
    chains
        Independent chains (at least 2 for r-hat).
    cores
        Chains run in parallel. PyMC's own sampler runs chains one after another unless told,
        so this is passed explicitly; 2 matches the book's build machine.
    target_accept
        Target acceptance probability of NUTS' step-size adaptation (raise it towards 1 to
        take smaller steps when there are divergences).
    engine
        ``"nutpie"`` or ``"pymc"``. If nutpie is requested but not installed, :func:`sample`
        falls back to ``"pymc"``.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    target_accept: float = 0.8
    engine: Engine = "nutpie"

    def __post_init__(self) -> None:
        check_positive_int("draws", self.draws)
        check_positive_int("tune", self.tune)
        check_positive_int("chains", self.chains)
        check_positive_int("cores", self.cores)
        check_level(self.target_accept, "target_accept")
        check_choice("engine", self.engine, ("nutpie", "pymc"))

    def resolved_engine(self) -> Engine:
        """Return the engine that will actually run (nutpie only if it is installed)."""
        if self.engine == "nutpie" and not nutpie_available():
            return "pymc"
        return self.engine


#: The book's default: 4 chains of 1000 draws after 1000 warm-up draws, 2 cores, nutpie.
DEFAULT_SETTINGS = SamplerSettings()


# Compiled nutpie models, one per PyMC model object, so that a model sampled twice is
# compiled once. Keyed weakly: the entry disappears with the model.
_NUTPIE_CACHE: weakref.WeakKeyDictionary[pm.Model, Any] = weakref.WeakKeyDictionary()
# Seconds spent compiling each cached model, for benchmarks and the chapter's narrative.
_COMPILE_SECONDS: weakref.WeakKeyDictionary[pm.Model, float] = weakref.WeakKeyDictionary()


def _compiled_nutpie(model: pm.Model) -> Any:
    """Return the nutpie-compiled form of ``model``, compiling it on first use."""
    compiled = _NUTPIE_CACHE.get(model)
    if compiled is None:
        import nutpie

        start = time.perf_counter()
        compiled = nutpie.compile_pymc_model(model)
        _COMPILE_SECONDS[model] = time.perf_counter() - start
        _NUTPIE_CACHE[model] = compiled
    return compiled


def compile_seconds(model: pm.Model) -> float | None:
    """Return the seconds nutpie took to compile ``model``, or ``None`` if not compiled."""
    return _COMPILE_SECONDS.get(model)


def sample(
    model: pm.Model,
    *,
    seed: int,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    target_accept: float | None = None,
    progressbar: bool = False,
    engine: Engine | None = None,
    settings: SamplerSettings = DEFAULT_SETTINGS,
) -> DataTree:
    """Sample ``model`` with NUTS, reproducibly and quietly.

    With nutpie (the default when installed) the model is compiled once with numba and the
    compiled model is cached on the :class:`pymc.Model` object, so later calls on the same
    model only sample. This is what ``pm.sample(..., nuts_sampler="nutpie")`` does, minus the
    recompilation on every call; as there, ``observed_data`` is attached to the result.
    Without nutpie, or with ``engine="pymc"``, PyMC's own NUTS runs ``settings.cores`` chains
    in parallel; its convergence log messages are off (use :func:`diagnostics` instead).
    The cache assumes a model is not changed after it was first sampled (build a new model
    instead, as the builders here do).

    Parameters
    ----------
    model
        The PyMC model.
    seed
        Seed of the sampler; the same seed gives the same draws (for a given engine).
    draws, tune, chains, target_accept
        Override the corresponding field of ``settings``.
    progressbar
        Show a progress bar (off by default: chapters print nothing while sampling).
    engine
        Override ``settings.engine``.
    settings
        The sampler settings; :data:`DEFAULT_SETTINGS` by default.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` (with ``diverging``) and ``observed_data``.
        ``posterior.attrs["engine"]`` names the engine that ran and
        ``posterior.attrs["sampling_seconds"]`` the wall time of sampling alone (without
        compilation, for either engine), ``posterior.attrs["compile_seconds"]`` the wall time
        this call spent compiling the model (about 0 when nutpie's compiled model was cached;
        for PyMC's engine, everything but the sampling).

    Raises
    ------
    ValueError
        If ``model`` is not a PyMC model, ``seed`` is not an integer, or a setting is invalid.
    """
    if not isinstance(model, pm.Model):
        raise ValueError(f"model must be a pymc.Model, got {type(model).__name__}")
    seed = check_seed(seed)
    overrides = {
        k: v
        for k, v in {
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "target_accept": target_accept,
            "engine": engine,
        }.items()
        if v is not None
    }
    cfg = replace(settings, **overrides) if overrides else settings
    chosen = cfg.resolved_engine()

    start = time.perf_counter()
    if chosen == "nutpie":
        import nutpie

        compiled = _compiled_nutpie(model)
        paid = time.perf_counter() - start  # ~0 when the compiled model was cached
        start = time.perf_counter()
        idata = nutpie.sample(
            compiled,
            draws=cfg.draws,
            tune=cfg.tune,
            chains=cfg.chains,
            cores=cfg.cores,
            seed=int(seed),
            target_accept=cfg.target_accept,
            progress_bar=progressbar,
            save_warmup=False,
        )
        elapsed = time.perf_counter() - start
        # PyMC's own fix-up of nutpie's result, as pm.sample(nuts_sampler="nutpie") applies it:
        # observed and constant data groups, and the sampling time.
        patch_nutpie_idata(idata, model, sampling_time=elapsed)
    else:
        idata = pm.sample(
            draws=cfg.draws,
            tune=cfg.tune,
            chains=cfg.chains,
            cores=cfg.cores,
            target_accept=cfg.target_accept,
            random_seed=int(seed),
            progressbar=progressbar,
            compute_convergence_checks=False,
            model=model,
        )
        # PyMC times sampling alone (its C compilation comes before); fall back to our clock.
        total = time.perf_counter() - start
        elapsed = float(idata.posterior.attrs.get("sampling_time", total))
        paid = max(total - elapsed, 0.0)
    idata.posterior.attrs["engine"] = chosen
    idata.posterior.attrs["sampling_seconds"] = elapsed
    idata.posterior.attrs["compile_seconds"] = paid
    return idata


def posterior_predictive(model: pm.Model, idata: DataTree, *, seed: int) -> DataTree:
    """Draw from the posterior predictive distribution and add it to ``idata`` (in place).

    Parameters
    ----------
    model
        The model ``idata`` was sampled from.
    idata
        The posterior draws.
    seed
        Seed of the predictive draws.

    Returns
    -------
    xarray.DataTree
        ``idata``, now with a ``posterior_predictive`` group.
    """
    seed = check_seed(seed)
    return pm.sample_posterior_predictive(
        idata, model=model, random_seed=int(seed), extend_inferencedata=True, progressbar=False
    )
