r"""Bayesian archer models in PyMC, and NUTS sampling with the settings in one place.

The archer model of the book is

.. math::

    Y_{ijk} = \mu + \tau\,\mathbb{1}(i = \text{Southwood}) + \alpha_j + \varepsilon_{ijk},
    \qquad \varepsilon_{ijk} \sim N(0, \sigma_e^2).

Two Bayesian readings of :math:`\alpha_j` are built here:

* :func:`fixed_effects_model` -- every :math:`\alpha_j` gets a Normal prior with a *fixed*
  standard deviation :math:`\sigma_a` chosen by the analyst: the prior expresses our
  uncertainty about each archer, and nothing is learned about a population of archers.
* :func:`mixed_model` -- :math:`\alpha_j \sim N(0, \sigma_a^2)` with a prior on
  :math:`\sigma_a`, which becomes a parameter to estimate (the Bayesian mixed model), in a
  *centred* or a *non-centred* form.

Every model names its variables the same way: ``mu``, ``tau``, ``sigma_e``, ``alpha`` (dims
``archer``), and, for the mixed model, ``sigma_a``. :data:`HYPERPARAMETERS` lists the
scalar parameters a convergence check should cover.

Sampling goes through :func:`sample`, which uses nutpie (a Rust NUTS implementation running a
numba-compiled log density) when it is installed and PyMC's own NUTS otherwise. The compiled
nutpie model is cached per :class:`pymc.Model`, so sampling the same model again (another seed,
more draws) does not pay the compilation again.

Importing this module first imports :mod:`analysis.book.quiet`, which silences the known-harmless
start-up noise of PyTensor, ArviZ and PyMC (see there for exactly what and why).
"""

from __future__ import annotations

import analysis.book.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

import importlib.util
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from pymc.backends.arviz import patch_nutpie_idata
from scipy import stats
from xarray import DataTree

from analysis.datasets.archers import BOWS
from analysis.validation import (
    check_finite,
    check_level,
    check_positive_int,
    check_seed,
    numeric_response,
    require_columns,
)

__all__ = [
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
    "posterior_mode",
]

Engine = Literal["nutpie", "pymc"]

#: The scalar parameters of the archer models, in the order tables show them.
HYPERPARAMETERS: tuple[str, ...] = ("mu", "tau", "sigma_a", "sigma_e")


def nutpie_available() -> bool:
    """Return whether nutpie can be imported."""
    return importlib.util.find_spec("nutpie") is not None


# --------------------------------------------------------------------------------------------
# Sampler settings
# --------------------------------------------------------------------------------------------


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
        if self.engine not in ("nutpie", "pymc"):
            raise ValueError(f"engine must be 'nutpie' or 'pymc', got {self.engine!r}")

    def resolved_engine(self) -> Engine:
        """Return the engine that will actually run (nutpie only if it is installed)."""
        if self.engine == "nutpie" and not nutpie_available():
            return "pymc"
        return self.engine


#: The book's default: 4 chains of 1000 draws after 1000 warm-up draws, 2 cores, nutpie.
DEFAULT_SETTINGS = SamplerSettings()


# --------------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------------

_SIGMA_FAMILIES = ("halfnormal", "halfcauchy", "halfstudentt", "exponential", "gamma", "uniform")


@dataclass(frozen=True)
class SigmaPrior:
    """A prior for a standard deviation, given by a family and a scale in metres.

    Attributes
    ----------
    family
        ``"halfnormal"`` (scale = SD of the underlying Normal), ``"halfcauchy"`` (scale),
        ``"halfstudentt"`` (scale, 3 degrees of freedom), ``"exponential"`` (scale = mean,
        i.e. rate ``1/scale``), ``"gamma"`` (shape 2 and mean ``scale``: a zero-avoiding
        prior, whose density vanishes at 0) or ``"uniform"`` (on ``[0, scale]``).
    scale
        The scale in metres, positive.
    """

    family: str = "halfnormal"
    scale: float = 50.0

    def __post_init__(self) -> None:
        if self.family not in _SIGMA_FAMILIES:
            raise ValueError(f"family must be one of {_SIGMA_FAMILIES}, got {self.family!r}")
        if check_finite("scale", self.scale) <= 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}")

    def label(self) -> str:
        """Return a short human-readable name such as ``"HalfNormal(50)"``."""
        names = {
            "halfnormal": "HalfNormal({:g})",
            "halfcauchy": "HalfCauchy({:g})",
            "halfstudentt": "HalfStudentT(3, {:g})",
            "exponential": "Exponential(mean {:g})",
            "gamma": "Gamma(2, mean {:g})",
            "uniform": "Uniform(0, {:g})",
        }
        return names[self.family].format(self.scale)

    def _arguments(self, scale: Any) -> tuple[str, dict[str, Any]]:
        """Return PyMC's (and Bambi's) distribution name and parameters at ``scale``."""
        return {
            "halfnormal": ("HalfNormal", {"sigma": scale}),
            "halfcauchy": ("HalfCauchy", {"beta": scale}),
            "halfstudentt": ("HalfStudentT", {"nu": 3.0, "sigma": scale}),
            "exponential": ("Exponential", {"lam": 1.0 / scale}),
            "gamma": ("Gamma", {"alpha": 2.0, "beta": 2.0 / scale}),
            "uniform": ("Uniform", {"lower": 0.0, "upper": scale}),
        }[self.family]

    def build(self, name: str) -> Any:
        """Create the random variable ``name`` in the current model context."""
        dist, kwargs = self._arguments(float(self.scale))
        return getattr(pm, dist)(name, **kwargs)

    def dist(self, scales: np.ndarray | None = None) -> Any:
        """Return an unnamed distribution of this family (e.g. the ``sd_dist`` of an LKJ prior).

        ``scales`` replaces the scale by a vector of scales, one per component.
        """
        scale = float(self.scale) if scales is None else np.asarray(scales, dtype=float)
        dist, kwargs = self._arguments(scale)
        shape = None if scales is None else np.shape(scale)
        return getattr(pm, dist).dist(**kwargs, shape=shape)

    def to_bambi(self) -> Any:
        """Return the same prior as a ``bambi.Prior``."""
        import bambi as bmb

        dist, kwargs = self._arguments(float(self.scale))
        return bmb.Prior(dist, **kwargs)


def _halfnormal(scale: float) -> Any:
    return field(default_factory=lambda: SigmaPrior("halfnormal", scale))


@dataclass(frozen=True)
class Priors:
    r"""The priors of every Bayesian model of the book, in the units of the data.

    One class serves the archer models (chapter 6), the random-slope models (6c, also
    translated for Bambi by :meth:`to_bambi`) and the InstEval models
    (:mod:`analysis.bayes.crossed`). The defaults are the archer models' weakly informative
    priors on the scale of an archery range: a Northwood mean within 150 ± 100 m, a bow effect
    within ± 50 m, SDs up to about 100 m. :meth:`from_data` scales priors to any data set.

    Attributes
    ----------
    intercept_mean, intercept_sd
        Normal prior of the intercept (the archers' Northwood mean :math:`\mu`).
    effect_sd
        SD of the zero-centred Normal prior of every other fixed effect (the Southwood effect
        :math:`	au`, InstEval's ``service``, a population slope).
    sigma
        Prior of the residual SD (:math:`\sigma_e`).
    group_sd
        Prior of each random-intercept SD (the archer SD :math:`\sigma_a`; each InstEval factor).
    slope_sd
        Prior of a random-slope SD (random-slope models only).
    lkj_eta
        Shape of the LKJ prior on the correlation of random intercept and slope (1: uniform;
        larger values favour correlations near 0). The correlated slope model only.
    """

    intercept_mean: float = 150.0
    intercept_sd: float = 50.0
    effect_sd: float = 25.0
    sigma: SigmaPrior = _halfnormal(20.0)
    group_sd: SigmaPrior = _halfnormal(50.0)
    slope_sd: SigmaPrior = _halfnormal(50.0)
    lkj_eta: float = 2.0

    def __post_init__(self) -> None:
        check_finite("intercept_mean", self.intercept_mean)
        for name in ("intercept_sd", "effect_sd", "lkj_eta"):
            if check_finite(name, getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("sigma", "group_sd", "slope_sd"):
            if not isinstance(getattr(self, name), SigmaPrior):
                raise ValueError(f"{name} must be a SigmaPrior, got {getattr(self, name)!r}")

    def with_group_sd(self, prior: SigmaPrior) -> Priors:
        r"""Return a copy with another prior for the random-intercept SD (:math:`\sigma_a`)."""
        return replace(self, group_sd=prior)

    @classmethod
    def from_data(cls, data: pd.DataFrame, response: str, slope: str) -> Priors:
        """Weakly informative priors scaled by the data, in the spirit of Bambi's defaults.

        The intercept prior is centred on the mean response with 2.5 response SDs; the slope
        prior allows 2.5 response SDs per predictor SD; the SDs get HalfNormal priors with
        the response SD (divided by the predictor SD for the slope) as scale; ``lkj_eta`` is 2.
        The priors let the data speak without allowing absurd values (a reaction time of
        -1000 ms, say).
        """
        y = numeric_response(data, response)
        x = numeric_response(data, slope, role="predictor")
        sy, sx = float(np.std(y)), float(np.std(x))
        if not sy > 0 or not sx > 0:
            raise ValueError(f"{response!r} and {slope!r} must both vary to scale the priors")
        return cls(
            intercept_mean=float(np.mean(y)),
            intercept_sd=2.5 * sy,
            effect_sd=2.5 * sy / sx,
            sigma=SigmaPrior("halfnormal", sy),
            group_sd=SigmaPrior("halfnormal", sy),
            slope_sd=SigmaPrior("halfnormal", sy / sx),
        )

    def table(self) -> pd.DataFrame:
        """Return the priors as a table (parameter, prior), for display."""
        rows = {
            "intercept": f"Normal({self.intercept_mean:.4g}, {self.intercept_sd:.4g})",
            "other fixed effects": f"Normal(0, {self.effect_sd:.4g})",
            "residual SD": self.sigma.label(),
            "random-intercept SD": self.group_sd.label(),
            "random-slope SD": self.slope_sd.label(),
            "correlation": f"LKJ(eta = {self.lkj_eta:g})",
        }
        return pd.DataFrame({"prior": rows}).rename_axis("parameter")

    def to_bambi(self, slope: str, group: str) -> dict[str, Any]:
        """Return these priors as Bambi's ``priors`` argument for ``y ~ x + (x | g)``.

        Bambi (0.21) gives the group-level intercept and slope independent Normal priors: it
        has no LKJ prior, so the correlation and ``lkj_eta`` have no counterpart there.
        """
        import bambi as bmb

        return {
            "Intercept": bmb.Prior("Normal", mu=self.intercept_mean, sigma=self.intercept_sd),
            slope: bmb.Prior("Normal", mu=0.0, sigma=self.effect_sd),
            "sigma": self.sigma.to_bambi(),
            f"1|{group}": bmb.Prior("Normal", mu=0.0, sigma=self.group_sd.to_bambi()),
            f"{slope}|{group}": bmb.Prior("Normal", mu=0.0, sigma=self.slope_sd.to_bambi()),
        }


#: The book's default priors.
DEFAULT_PRIORS = Priors()


# --------------------------------------------------------------------------------------------
# Model builders
# --------------------------------------------------------------------------------------------


def _archer_arrays(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Check archer data and return (distance, southwood indicator, archer index, names)."""
    require_columns(data, ["Distance", "Bow", "Name"])
    if len(data) == 0:
        raise ValueError("data is empty")
    try:
        y = data["Distance"].to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError("data['Distance'] must be numeric") from err
    if not np.all(np.isfinite(y)):
        raise ValueError("data['Distance'] must be finite (no missing or infinite values)")
    if data["Bow"].isna().any():
        raise ValueError("data['Bow'] has missing values")
    bows = data["Bow"].astype(str)
    unknown = sorted(set(bows) - set(BOWS))
    if unknown:
        raise ValueError(f"data['Bow'] has unknown bow(s) {unknown}; expected {list(BOWS)}")
    if data["Name"].isna().any():
        raise ValueError("data['Name'] has missing values")
    names_col = data["Name"].astype(str)
    if isinstance(data["Name"].dtype, pd.CategoricalDtype):
        present = set(names_col)
        names = [str(c) for c in data["Name"].cat.categories if str(c) in present]
    else:
        names = [str(n) for n in pd.unique(names_col)]
    index = pd.Index(names).get_indexer(names_col)
    south = (bows == BOWS[1]).to_numpy(dtype=float)
    return y, south, index.astype(int), names


def _common_parts(
    data: pd.DataFrame, priors: Priors
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    y, south, idx, names = _archer_arrays(data)
    if not isinstance(priors, Priors):
        raise ValueError(f"priors must be a Priors instance, got {type(priors).__name__}")
    coords = {"archer": names, "obs": np.arange(len(y))}
    return coords, y, south, idx


def fixed_effects_model(
    data: pd.DataFrame,
    *,
    sigma_a: float = 50.0,
    centered: bool = True,
    priors: Priors = DEFAULT_PRIORS,
) -> pm.Model:
    r"""Build the Bayesian fixed-effects archer model: a fixed prior SD for every archer.

    .. math::

        \mu \sim N(m_\mu, s_\mu^2),\quad \tau \sim N(0, s_\tau^2),\quad
        \alpha_j \sim N(0, \sigma_a^2)\ \text{with } \sigma_a \text{ fixed},\quad
        \sigma_e \sim p(\sigma_e),\quad
        Y \sim N(\mu + \tau\,\text{south} + \alpha_j, \sigma_e^2).

    In the centred form (default) the archer means :math:`\mu + \alpha_j` are sampled, which
    mixes well when each archer's shots pin their effect down far better than the prior does;
    in the non-centred form ``z_j = \alpha_j / \sigma_a`` is sampled, which suits a prior SD
    that is small next to the noise of an archer's mean (see :func:`mixed_model`). Either way
    :math:`\alpha_j` is recorded as ``alpha``.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``.
    sigma_a
        The fixed prior SD of each archer effect, in metres (positive).
    centered
        Sample the archer means (``True``) or standardised effects ``z`` (``False``).
    priors
        Priors of ``mu`` (the intercept), ``tau`` (``effect_sd``) and ``sigma_e`` (``sigma``);
        ``priors.group_sd`` is not used.

    Returns
    -------
    pymc.Model
        Variables ``mu``, ``tau``, ``sigma_e``, ``alpha`` and ``archer_mean`` (centred) or
        ``z`` (non-centred), all but the first three with dims ``archer``, and the observed
        ``Distance`` (dims ``obs``).

    Raises
    ------
    ValueError
        For missing columns, empty or non-finite data, an unknown bow, a non-positive
        ``sigma_a`` or a non-boolean ``centered``.
    """
    sigma_a = check_finite("sigma_a", sigma_a)
    if sigma_a <= 0:
        raise ValueError(f"sigma_a must be positive, got {sigma_a!r}")
    if not isinstance(centered, (bool, np.bool_)):
        raise ValueError(f"centered must be True or False, got {centered!r}")
    coords, y, south, idx = _common_parts(data, priors)
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        tau = pm.Normal("tau", mu=0.0, sigma=priors.effect_sd)
        sigma_e = priors.sigma.build("sigma_e")
        _archer_effects(mu, sigma_a, centered)
        if centered:
            expected = model["archer_mean"][idx] + tau * south
        else:
            expected = mu + model["alpha"][idx] + tau * south
        pm.Normal("Distance", mu=expected, sigma=sigma_e, observed=y, dims="obs")
    return model


def _archer_effects(mu: Any, sigma_a: Any, centered: bool) -> None:
    """Add the archer effects (``archer_mean`` or ``z``, and ``alpha``) to the current model."""
    if centered:
        archer_mean = pm.Normal("archer_mean", mu=mu, sigma=sigma_a, dims="archer")
        pm.Deterministic("alpha", archer_mean - mu, dims="archer")
    else:
        z = pm.Normal("z", mu=0.0, sigma=1.0, dims="archer")
        pm.Deterministic("alpha", sigma_a * z, dims="archer")


def mixed_model(
    data: pd.DataFrame,
    *,
    centered: bool = True,
    priors: Priors = DEFAULT_PRIORS,
) -> pm.Model:
    r"""Build the Bayesian mixed archer model: archer effects drawn from N(0, σ_a²).

    .. math::

        \alpha_j \sim N(0, \sigma_a^2),\quad \sigma_a \sim p(\sigma_a),\quad
        Y \sim N(\mu + \tau\,\text{south} + \alpha_j, \sigma_e^2),

    with the same priors on :math:`\mu, \tau, \sigma_e` as :func:`fixed_effects_model`.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``; at least two archers.
    centered
        ``True`` for the centred form: the archer means :math:`\mu + \alpha_j \sim N(\mu,
        \sigma_a^2)` are the sampled variables (``archer_mean``), so :math:`\mu` enters only
        their prior. ``False`` for the non-centred form: standard Normal ``z_j`` are sampled
        and :math:`\alpha_j = \sigma_a z_j`. The two define the same posterior but give NUTS
        different geometries: centred suits informative data (many shots per archer),
        non-centred suits sparse data.
    priors
        The priors; ``priors.group_sd`` is the prior of :math:`\sigma_a` (see
        :meth:`Priors.with_group_sd`).

    Returns
    -------
    pymc.Model
        Variables ``mu``, ``tau``, ``sigma_a``, ``sigma_e``, ``alpha`` (dims ``archer``) and
        ``archer_mean`` (centred) or ``z`` (non-centred), and the observed ``Distance``.

    Raises
    ------
    ValueError
        For missing columns, empty or non-finite data, an unknown bow, fewer than two
        archers, or a non-boolean ``centered``.
    """
    if not isinstance(centered, (bool, np.bool_)):
        raise ValueError(f"centered must be True or False, got {centered!r}")
    coords, y, south, idx = _common_parts(data, priors)
    if len(coords["archer"]) < 2:
        raise ValueError(
            "data must hold at least two archers to estimate the archer SD sigma_a, "
            f"got {len(coords['archer'])}"
        )
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        tau = pm.Normal("tau", mu=0.0, sigma=priors.effect_sd)
        sigma_a = priors.group_sd.build("sigma_a")
        sigma_e = priors.sigma.build("sigma_e")
        _archer_effects(mu, sigma_a, centered)
        if centered:
            expected = model["archer_mean"][idx] + tau * south
        else:
            expected = mu + model["alpha"][idx] + tau * south
        pm.Normal("Distance", mu=expected, sigma=sigma_e, observed=y, dims="obs")
    return model


# --------------------------------------------------------------------------------------------
# Random intercepts and slopes, for any data set
# --------------------------------------------------------------------------------------------

#: The three covariance structures :func:`random_slopes_model` builds.
Structure = Literal["correlated", "independent", "intercept"]
_STRUCTURES: tuple[str, ...] = ("correlated", "independent", "intercept")


def _sd_dist(priors: Priors) -> Any:
    """Return the LKJ prior's ``sd_dist``: the intercept and slope SD priors as one vector."""
    if priors.group_sd.family != priors.slope_sd.family:
        raise ValueError(
            "the correlated model needs the same family for the intercept and slope SD priors, "
            f"got {priors.group_sd.family!r} and {priors.slope_sd.family!r}"
        )
    return priors.group_sd.dist(np.array([priors.group_sd.scale, priors.slope_sd.scale]))


def random_slopes_model(
    data: pd.DataFrame,
    *,
    response: str,
    slope: str,
    group: str,
    structure: Structure = "correlated",
    priors: Priors | None = None,
) -> pm.Model:
    r"""Build ``response ~ slope + (slope | group)`` in PyMC, written out by hand.

    .. math::

        y_{ij} \sim N\big(\beta_0 + b_{0j} + (\beta_1 + b_{1j})\,x_{ij},\ \sigma^2\big),
        \qquad (b_{0j}, b_{1j}) \sim N(0, \Sigma),

    always in the non-centred form (standard Normal ``z`` scaled by the SDs), which suits
    groups with few observations. ``structure`` chooses :math:`\Sigma`:

    * ``"correlated"`` -- lme4's ``(x | g)``: :math:`\Sigma = \operatorname{diag}(\sigma_b)
      R \operatorname{diag}(\sigma_b)` with an LKJ prior on :math:`R` (Lewandowski,
      Kurowicka & Joe 2009), through its Cholesky factor: :math:`b_j = L z_j`.
    * ``"independent"`` -- lme4's ``(x || g)``: intercepts and slopes independent. This is
      what Bambi 0.21 builds for ``(x | g)``, with the same variable names, so the two
      posteriors can be compared directly.
    * ``"intercept"`` -- ``(1 | g)``: a random intercept only.

    Parameters
    ----------
    data
        One row per observation.
    response, slope, group
        Column names: the numeric response, the numeric predictor whose slope varies, and
        the grouping factor (levels ordered as sorted strings).
    structure
        ``"correlated"``, ``"independent"`` or ``"intercept"``.
    priors
        The priors; :meth:`Priors.from_data` by default.

    Returns
    -------
    pymc.Model
        Variables ``Intercept``, ``<slope>``, ``sigma``, ``1|<group>_sigma`` and
        ``1|<group>`` (dims ``<group>``); with a random slope also ``<slope>|<group>_sigma``
        and ``<slope>|<group>``; in the correlated model also ``rho``, the correlation of
        intercept and slope. The observed variable is named ``response``.

    Raises
    ------
    ValueError
        For missing or non-numeric columns, fewer than two groups, or an unknown structure.
    """
    if structure not in _STRUCTURES:
        raise ValueError(f"structure must be one of {_STRUCTURES}, got {structure!r}")
    require_columns(data, [response, slope, group])
    if len(data) == 0:
        raise ValueError("data is empty")
    y = numeric_response(data, response)
    x = numeric_response(data, slope, role="predictor")
    if data[group].isna().any():
        raise ValueError(f"data[{group!r}] has missing values")
    codes, levels = pd.factorize(data[group].astype(str), sort=True)
    if len(levels) < 2:
        raise ValueError(f"data[{group!r}] must have at least two levels, got {len(levels)}")
    if priors is None:
        priors = Priors.from_data(data, response, slope)
    coords = {group: [str(v) for v in levels], "effect": ["Intercept", slope]}
    b0_name, b1_name = f"1|{group}", f"{slope}|{group}"
    with pm.Model(coords=coords) as model:
        beta0 = pm.Normal("Intercept", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        beta1 = pm.Normal(slope, mu=0.0, sigma=priors.effect_sd)
        sigma = priors.sigma.build("sigma")
        if structure == "correlated":
            chol, corr, sds = pm.LKJCholeskyCov(
                f"chol_{group}",
                n=2,
                eta=priors.lkj_eta,
                sd_dist=_sd_dist(priors),
                compute_corr=True,
            )
            z = pm.Normal(f"z_{group}", 0.0, 1.0, dims=(group, "effect"))
            effects = pm.math.dot(z, chol.T)  # b_j = L z_j, row by row
            pm.Deterministic(f"{b0_name}_sigma", sds[0])
            pm.Deterministic(f"{b1_name}_sigma", sds[1])
            pm.Deterministic("rho", corr[0, 1])
            b0 = pm.Deterministic(b0_name, effects[:, 0], dims=group)
            b1 = pm.Deterministic(b1_name, effects[:, 1], dims=group)
        else:
            s0 = priors.group_sd.build(f"{b0_name}_sigma")
            z0 = pm.Normal(f"{b0_name}_offset", 0.0, 1.0, dims=group)
            b0 = pm.Deterministic(b0_name, s0 * z0, dims=group)
            b1 = None
            if structure == "independent":
                s1 = priors.slope_sd.build(f"{b1_name}_sigma")
                z1 = pm.Normal(f"{b1_name}_offset", 0.0, 1.0, dims=group)
                b1 = pm.Deterministic(b1_name, s1 * z1, dims=group)
        expected = beta0 + b0[codes] + beta1 * x
        if b1 is not None:
            expected = expected + b1[codes] * x
        pm.Normal(response, mu=expected, sigma=sigma, observed=y)
    return model


def posterior_agreement(
    first: DataTree, second: DataTree, var_names: list[str] | tuple[str, ...]
) -> pd.DataFrame:
    r"""Compare two posteriors of the same quantities, mean by mean, in Monte Carlo error units.

    Two correct samplers of one posterior give means that differ only by Monte Carlo error:
    the difference divided by :math:`\sqrt{\text{MCSE}_1^2 + \text{MCSE}_2^2}` is then
    roughly standard Normal, so values beyond 4 in absolute size mean two different posteriors.

    Parameters
    ----------
    first, second
        Posterior draws holding every variable of ``var_names`` (scalars).
    var_names
        The variables to compare.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable: ``mean_1``, ``mcse_1``, ``mean_2``, ``mcse_2``, ``difference``
        and ``z`` (difference in units of the combined Monte Carlo error).
    """
    names = list(var_names)
    if not names:
        raise ValueError("var_names must name at least one variable")
    for label, idata in (("first", first), ("second", second)):
        missing = [v for v in names if v not in idata.posterior]
        if missing:
            raise ValueError(f"the {label} posterior lacks {missing}")
    parts = []
    for idata in (first, second):
        table = az.summary(idata, var_names=names, kind="all", round_to="none")
        parts.append(table.loc[names, ["mean", "mcse_mean"]].astype(float))
    out = pd.DataFrame(
        {
            "mean_1": parts[0]["mean"],
            "mcse_1": parts[0]["mcse_mean"],
            "mean_2": parts[1]["mean"],
            "mcse_2": parts[1]["mcse_mean"],
        }
    )
    out["difference"] = out["mean_2"] - out["mean_1"]
    out["z"] = out["difference"] / np.sqrt(out["mcse_1"] ** 2 + out["mcse_2"] ** 2)
    return out


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------

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


def gibbs_mixed_model(
    data: pd.DataFrame,
    *,
    seed: int,
    draws: int = 2000,
    tune: int = 500,
    chains: int = 4,
    priors: Priors = DEFAULT_PRIORS,
    variance_shape: float = 1.0,
    variance_scale: float = 1.0,
    centered: bool = False,
) -> DataTree:
    r"""Sample the archer mixed model with a conjugate Gibbs sampler, uncentred or centred.

    The model is :func:`mixed_model`'s, with conjugate priors instead of half-Normal ones on
    the SDs: :math:`\mu \sim N(m_\mu, s_\mu^2)`, :math:`\tau \sim N(0, s_\tau^2)` (from
    ``priors``) and :math:`\sigma_a^2, \sigma_e^2 \sim \text{InvGamma}(a, b)`. Every full
    conditional is then a standard distribution. The two parameterisations of Gelfand, Sahu &
    Carlin (1995) differ in the archer variables the sampler holds.

    *Uncentred* (``centered=False``, the source post's sampler): the effects
    :math:`\alpha_j`, with :math:`Y \sim N(\mu + \tau s + \alpha_j, \sigma_e^2)`. One sweep
    draws, in turn,

    * :math:`(\mu, \tau)` from its Normal conditional (a Bayesian regression of
      :math:`y - \alpha_{j[i]}` on the bow);
    * each :math:`\alpha_j` from :math:`N(m_j, v_j)` with
      :math:`v_j = (n_j/\sigma_e^2 + 1/\sigma_a^2)^{-1}` and
      :math:`m_j = v_j \sum_i (y_i - \mu - \tau s_i)/\sigma_e^2` (the BLUP formula);
    * :math:`\sigma_a^2` from :math:`\text{InvGamma}(a + J/2, b + \sum_j \alpha_j^2/2)`;
    * :math:`\sigma_e^2` from :math:`\text{InvGamma}(a + N/2, b + \text{RSS}/2)`.

    *Centred* (``centered=True``): the archer means :math:`\eta_j = \mu + \alpha_j \sim
    N(\mu, \sigma_a^2)`, with :math:`Y \sim N(\eta_j + \tau s, \sigma_e^2)`, so that
    :math:`\mu` enters only the prior of the :math:`\eta_j`. One sweep draws

    * each :math:`\eta_j` from :math:`N(v_j h_j, v_j)`, :math:`h_j = \sum_i (y_i - \tau
      s_i)/\sigma_e^2 + \mu/\sigma_a^2`;
    * :math:`\tau` from its Normal conditional (a regression of :math:`y - \eta_{j[i]}` on
      the bow);
    * :math:`\mu` from :math:`N(w(\sum_j \eta_j/\sigma_a^2 + m_\mu/s_\mu^2), w)`,
      :math:`w = (J/\sigma_a^2 + 1/s_\mu^2)^{-1}`: the mean of the archer means;
    * :math:`\sigma_a^2` and :math:`\sigma_e^2` as above, with :math:`\alpha_j = \eta_j -
      \mu`.

    In the uncentred form, when each archer's shots pin their mean down (large
    :math:`n\sigma_a^2/\sigma_e^2`), :math:`\mu` given the :math:`\alpha_j` can move only
    by about :math:`\sigma_e/\sqrt N` per sweep, and the chain crawls; in the centred form
    :math:`\mu` given the :math:`\eta_j` moves by about :math:`\sigma_a/\sqrt J`, the size of
    its posterior SD. With sparse data the roles swap.

    Written here, not taken from a library, because chapter 6 teaches it: the uncentred sampler
    is the one the source post describes, and the book compares both with NUTS.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``; at least two archers.
    seed
        Seed of the draws (each chain gets its own stream from it).
    draws, tune, chains
        Kept sweeps per chain, discarded warm-up sweeps per chain, and chains.
    priors
        Priors of :math:`\mu` and :math:`\tau` (the SD priors in it are not used).
    variance_shape, variance_scale
        Shape :math:`a` and scale :math:`b` of the inverse-gamma priors on both variances.
    centered
        Hold the archer means (``True``) or the effects (``False``, the default).

    Returns
    -------
    xarray.DataTree
        ``posterior`` with ``mu``, ``tau``, ``sigma_a``, ``sigma_e`` and ``alpha`` (dims
        ``archer``), named as the PyMC models name them; ``posterior.attrs`` has ``engine``
        (``"gibbs"``), ``parameterisation`` (``"centred"`` or ``"uncentred"``) and
        ``sampling_seconds``.
    """
    seed = check_seed(seed)
    draws = check_positive_int("draws", draws)
    chains = check_positive_int("chains", chains)
    if isinstance(tune, bool) or not isinstance(tune, (int, np.integer)) or tune < 0:
        raise ValueError(f"tune must be a non-negative integer, got {tune!r}")
    a0 = check_finite("variance_shape", variance_shape)
    b0 = check_finite("variance_scale", variance_scale)
    if a0 <= 0 or b0 <= 0:
        raise ValueError("variance_shape and variance_scale must be positive")
    if not isinstance(centered, (bool, np.bool_)):
        raise ValueError(f"centered must be True or False, got {centered!r}")
    coords, y, south, idx = _common_parts(data, priors)
    n_archers = len(coords["archer"])
    if n_archers < 2:
        raise ValueError(f"the mixed model needs at least two archers, got {n_archers}")
    out = {name: np.empty((chains, draws)) for name in ("mu", "tau", "sigma_a", "sigma_e")}
    out["alpha"] = np.empty((chains, draws, n_archers))
    streams = np.random.default_rng(seed).spawn(chains)
    sweep = _centred_sweep if centered else _uncentred_sweep
    start = time.perf_counter()
    for c, rng in enumerate(streams):
        state = _GibbsState(
            s2a=float(np.var(y)),
            s2e=float(np.var(y)),
            mu=float(np.mean(y)),
            alpha=np.zeros(n_archers),
        )
        for it in range(tune + draws):
            sweep(state, y, south, idx, priors, a0, b0, rng)
            if it >= tune:
                k = it - tune
                out["mu"][c, k], out["tau"][c, k] = state.mu, state.tau
                out["sigma_a"][c, k] = np.sqrt(state.s2a)
                out["sigma_e"][c, k] = np.sqrt(state.s2e)
                out["alpha"][c, k] = state.alpha
    elapsed = time.perf_counter() - start
    idata = az.from_dict(
        {"posterior": out}, coords={"archer": coords["archer"]}, dims={"alpha": ["archer"]}
    )
    idata.posterior.attrs["engine"] = "gibbs"
    idata.posterior.attrs["parameterisation"] = "centred" if centered else "uncentred"
    idata.posterior.attrs["sampling_seconds"] = elapsed
    return idata


@dataclass
class _GibbsState:
    """The current values of a Gibbs chain (variances, level, bow effect, archer effects)."""

    s2a: float
    s2e: float
    mu: float
    alpha: np.ndarray
    tau: float = 0.0


def _draw_variances(
    state: _GibbsState, resid: np.ndarray, a0: float, b0: float, rng: np.random.Generator
) -> None:
    """Draw both variances from their inverse-gamma conditionals (``resid``: shot residuals)."""
    state.s2a = (b0 + 0.5 * state.alpha @ state.alpha) / rng.gamma(a0 + 0.5 * state.alpha.size)
    state.s2e = (b0 + 0.5 * resid @ resid) / rng.gamma(a0 + 0.5 * resid.size)


def _uncentred_sweep(
    state: _GibbsState,
    y: np.ndarray,
    south: np.ndarray,
    idx: np.ndarray,
    priors: Priors,
    a0: float,
    b0: float,
    rng: np.random.Generator,
) -> None:
    """One sweep of the uncentred sampler: (mu, tau), the alpha_j, then the variances."""
    n_archers = state.alpha.size
    X = np.column_stack([np.ones(y.size), south])
    prior_mean = np.array([priors.intercept_mean, 0.0])
    prior_prec = np.diag([1.0 / priors.intercept_sd**2, 1.0 / priors.effect_sd**2])
    prec = X.T @ X / state.s2e + prior_prec
    rhs = X.T @ (y - state.alpha[idx]) / state.s2e + prior_prec @ prior_mean
    chol = np.linalg.cholesky(prec)
    beta = np.linalg.solve(prec, rhs) + np.linalg.solve(chol.T, rng.standard_normal(2))
    state.mu, state.tau = float(beta[0]), float(beta[1])
    resid = y - X @ beta
    n_j = np.bincount(idx, minlength=n_archers)
    v = 1.0 / (n_j / state.s2e + 1.0 / state.s2a)
    alpha = v * np.bincount(idx, weights=resid, minlength=n_archers) / state.s2e
    state.alpha = alpha + np.sqrt(v) * rng.standard_normal(n_archers)
    _draw_variances(state, resid - state.alpha[idx], a0, b0, rng)


def _centred_sweep(
    state: _GibbsState,
    y: np.ndarray,
    south: np.ndarray,
    idx: np.ndarray,
    priors: Priors,
    a0: float,
    b0: float,
    rng: np.random.Generator,
) -> None:
    """One sweep of the centred sampler: the archer means, tau, mu, then the variances."""
    n_archers = state.alpha.size
    n_j = np.bincount(idx, minlength=n_archers)
    v = 1.0 / (n_j / state.s2e + 1.0 / state.s2a)
    h = np.bincount(idx, weights=y - state.tau * south, minlength=n_archers) / state.s2e
    eta = v * (h + state.mu / state.s2a) + np.sqrt(v) * rng.standard_normal(n_archers)
    within = y - eta[idx]
    prec_tau = south @ south / state.s2e + 1.0 / priors.effect_sd**2
    mean_tau = (south @ within / state.s2e) / prec_tau
    state.tau = float(mean_tau + rng.standard_normal() / np.sqrt(prec_tau))
    prec_mu = n_archers / state.s2a + 1.0 / priors.intercept_sd**2
    rhs_mu = eta.sum() / state.s2a + priors.intercept_mean / priors.intercept_sd**2
    state.mu = float(rhs_mu / prec_mu + rng.standard_normal() / np.sqrt(prec_mu))
    state.alpha = eta - state.mu
    _draw_variances(state, within - state.tau * south, a0, b0, rng)


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


def count_divergences(idata: DataTree) -> int:
    """Return the number of divergent transitions after warm-up, over all chains.

    Samplers that have no notion of divergence (the Gibbs sampler of
    :func:`gibbs_mixed_model`) record no ``diverging`` statistic; they count 0.
    """
    if "sample_stats" not in idata.children or "diverging" not in idata.sample_stats:
        return 0
    return int(idata.sample_stats["diverging"].sum())


def diagnostics(
    idata: DataTree, var_names: tuple[str, ...] | list[str] | None = None
) -> pd.DataFrame:
    """Return r-hat, bulk and tail ESS of the scalar parameters, and divergences.

    Parameters
    ----------
    idata
        Posterior draws.
    var_names
        Variables to report; by default those of :data:`HYPERPARAMETERS` present.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable, columns ``mean``, ``sd``, ``r_hat``, ``ess_bulk``,
        ``ess_tail``; ``attrs["divergences"]`` holds the divergence count.
    """
    if var_names is None:
        var_names = [v for v in HYPERPARAMETERS if v in idata.posterior]
    table = az.summary(idata, var_names=list(var_names), kind="all", round_to="none")
    table = table[["mean", "sd", "r_hat", "ess_bulk", "ess_tail"]]
    table.attrs["divergences"] = count_divergences(idata)
    return table


# --------------------------------------------------------------------------------------------
# Summaries for the chapters
# --------------------------------------------------------------------------------------------


def convergence_summary(
    idata: DataTree, var_names: tuple[str, ...] | list[str] | None = None
) -> dict[str, float]:
    """Return the few numbers that say whether a run can be trusted.

    Parameters
    ----------
    idata
        Posterior draws.
    var_names
        Variables to cover; by default the hyperparameters present (see :func:`diagnostics`).

    Returns
    -------
    dict
        ``divergences``, ``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, the variable
        with the smallest bulk ESS (``worst``), and ``sampling_seconds``.
    """
    table = diagnostics(idata, var_names)
    return {
        "divergences": table.attrs["divergences"],
        "max_r_hat": float(table["r_hat"].max()),
        "min_ess_bulk": float(table["ess_bulk"].min()),
        "min_ess_tail": float(table["ess_tail"].min()),
        "worst": str(table["ess_bulk"].idxmin()),
        "sampling_seconds": float(idata.posterior.attrs.get("sampling_seconds", np.nan)),
    }


def compare_samplers(
    fits: dict[str, DataTree],
    var_names: tuple[str, ...] | list[str] | None = None,
    *,
    count_compile: bool = False,
) -> pd.DataFrame:
    """Put several samplers' runs of one model side by side: means, r-hat, ESS per second.

    Parameters
    ----------
    fits
        Runs keyed by a label (e.g. ``{"NUTS": ..., "Gibbs": ...}``); each posterior must carry
        ``attrs["sampling_seconds"]`` (as :func:`sample` and :func:`gibbs_mixed_model` set).
    var_names
        Scalar variables to compare; by default :data:`HYPERPARAMETERS`.
    count_compile
        Add each run's ``attrs["compile_seconds"]`` (the compilation :func:`sample` paid for
        that run; a run without it, such as a Gibbs run in NumPy, compiled nothing) to its
        seconds, so that a sampler that must compile its model first is charged for it.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable, with columns ``"<label> mean"``, ``"<label> r_hat"``,
        ``"<label> ESS"`` (bulk) and ``"<label> ESS/s"`` (bulk ESS per second of sampling,
        plus compilation with ``count_compile``) for each run; ``attrs["seconds"]`` holds the
        seconds each run was charged.
    """
    if not fits:
        raise ValueError("fits must name at least one run")
    names = list(var_names) if var_names is not None else list(HYPERPARAMETERS)
    columns: dict[str, pd.Series] = {}
    charged: dict[str, float] = {}
    for label, idata in fits.items():
        seconds = idata.posterior.attrs.get("sampling_seconds")
        if seconds is None or not seconds > 0:
            raise ValueError(f"run {label!r} records no sampling_seconds")
        seconds = float(seconds)
        if count_compile:
            seconds += float(idata.posterior.attrs.get("compile_seconds", 0.0))
        charged[label] = seconds
        table = diagnostics(idata, names)
        columns[f"{label} mean"] = table["mean"]
        columns[f"{label} r_hat"] = table["r_hat"]
        columns[f"{label} ESS"] = table["ess_bulk"]
        columns[f"{label} ESS/s"] = table["ess_bulk"] / seconds
    out = pd.DataFrame(columns)
    out.attrs["seconds"] = charged
    return out


def information_ratio(shots_per_archer: float, sigma_a: float, sigma_e: float) -> float:
    r"""How much more one archer's shots say about their effect than the population does.

    The ratio :math:`n\sigma_a^2/\sigma_e^2` of the precision of an archer's mean of
    :math:`n` shots (:math:`n/\sigma_e^2`) to the precision of the population distribution
    of archer effects (:math:`1/\sigma_a^2`). Large values (the data pin each archer down)
    favour the centred form; values near or below 1 favour the non-centred form.

    Parameters
    ----------
    shots_per_archer
        Shots per archer, :math:`n` (positive).
    sigma_a, sigma_e
        Archer SD and shot SD (positive).

    Returns
    -------
    float
        The ratio.
    """
    for name, value in (
        ("shots_per_archer", shots_per_archer),
        ("sigma_a", sigma_a),
        ("sigma_e", sigma_e),
    ):
        if check_finite(name, value) <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    return float(shots_per_archer * sigma_a**2 / sigma_e**2)


def posterior_means(idata: DataTree, var_name: str = "alpha") -> pd.DataFrame:
    """Return posterior mean, SD and 95% equal-tailed interval of a vector variable.

    Parameters
    ----------
    idata
        Posterior draws.
    var_name
        A variable with one dimension besides chain and draw (e.g. ``alpha`` by archer).

    Returns
    -------
    pandas.DataFrame
        Indexed by that dimension's labels, columns ``mean``, ``sd``, ``lower``, ``upper``.
    """
    if var_name not in idata.posterior:
        raise ValueError(f"var_name {var_name!r} is not in the posterior")
    draws = idata.posterior[var_name]
    dims = [d for d in draws.dims if d not in ("chain", "draw")]
    if len(dims) != 1:
        raise ValueError(f"{var_name} must have exactly one dimension besides chain and draw")
    stacked = draws.stack(sample=("chain", "draw")).transpose(dims[0], "sample").to_numpy()
    index = pd.Index([str(v) for v in draws[dims[0]].to_numpy()], name=dims[0])
    lower, upper = np.quantile(stacked, [0.025, 0.975], axis=1)
    return pd.DataFrame(
        {
            "mean": stacked.mean(axis=1),
            "sd": stacked.std(axis=1, ddof=1),
            "lower": lower,
            "upper": upper,
        },
        index=index,
    )


def posterior_mode(draws: np.ndarray, grid_size: int = 2000) -> float:
    """Return the mode of a scalar's posterior: the peak of a Gaussian kernel density of draws.

    Parameters
    ----------
    draws
        Draws of one scalar (any shape; flattened).
    grid_size
        Points of the grid, between the smallest and largest draw, on which the density is
        evaluated.

    Returns
    -------
    float
        The grid point of highest estimated density.
    """
    x = np.asarray(draws, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError("draws must hold at least two finite values")
    check_positive_int("grid_size", grid_size)
    grid = np.linspace(x.min(), x.max(), grid_size)
    return float(grid[np.argmax(stats.gaussian_kde(x)(grid))])


def draws_of(idata: DataTree, var_name: str) -> np.ndarray:
    """Return all posterior draws of a scalar variable as a flat array."""
    if var_name not in idata.posterior:
        raise ValueError(f"var_name {var_name!r} is not in the posterior")
    return idata.posterior[var_name].to_numpy().ravel()


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
