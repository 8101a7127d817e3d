"""Priors of the Bayesian models, in the units of the data: one class for every model.

:class:`SigmaPrior` is a prior for a standard deviation (a family and a scale);
:class:`Priors` gathers the priors of a model's fixed effects and SDs, and
:data:`DEFAULT_PRIORS` holds the archer models' weakly informative defaults.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm

from analysis.validation import check_choice, check_finite, check_positive, numeric_response

__all__ = ["SigmaPrior", "Priors", "DEFAULT_PRIORS"]

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
        check_choice("family", self.family, _SIGMA_FAMILIES)
        check_positive("scale", self.scale)

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
        :math:`\tau`, InstEval's ``service``, a population slope).
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
            check_positive(name, getattr(self, name))
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
