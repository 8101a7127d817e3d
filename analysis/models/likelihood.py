r"""The one-way random-intercept likelihood in closed form: the package's only copy of it.

The model ``y ~ X beta + (1 | g)`` of chapters 4, 5 and 7. statsmodels' ``MixedLM`` fits it
(chapters 4-5), but the book also needs what statsmodels does not give: lme4's REML criterion
and fixed-effect standard errors (:mod:`analysis.models.mixed`), profiles of the ML deviance
(:mod:`analysis.models.profile`), and a fit fast enough to repeat over thousands of simulated
units (:mod:`analysis.models.online`). All three use this class. The crossed fitter of
chapter 8 (:mod:`analysis.models.crossed`) reaches the same numbers on a one-way design by its
own algorithm (the Schur complement the chapter teaches); the tests check the two against
each other and against lme4.

Write :math:`\theta = \sigma_a/\sigma_e` and, for group :math:`j` of size :math:`n_j`,
:math:`c_j = \theta^2/(1 + n_j\theta^2)`. By the Woodbury identity the group's covariance
:math:`\sigma_e^2(I + \theta^2 \mathbf{1}\mathbf{1}^\top)` has inverse
:math:`\sigma_e^{-2}(I - c_j \mathbf{1}\mathbf{1}^\top)` and log-determinant
:math:`n_j\log\sigma_e^2 + \log(1 + n_j\theta^2)`. Hence, with :math:`W` the block matrix of
the :math:`I - c_j\mathbf{1}\mathbf{1}^\top`, the GLS estimate
:math:`\hat\beta = (X^\top W X)^{-1} X^\top W y` depends on :math:`\theta` only, and

.. math::

    -2\log L = N\log(2\pi\sigma_e^2) + \sum_j \log(1 + n_j\theta^2) + Q(\theta)/\sigma_e^2,
    \qquad Q(\theta) = r^\top r - \sum_j c_j \Big(\sum_{i \in j} r_i\Big)^2,

with :math:`r = y - X\hat\beta`. The REML criterion adds
:math:`\log\det(X^\top W X / \sigma_e^2) - p\log(2\pi)`. Everything costs :math:`O(Np^2)`,
balanced design or not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.validation import check_nonnegative, check_positive

__all__ = ["RandomInterceptLikelihood", "MLFit"]

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class MLFit:
    """Maximum-likelihood estimates of the two SDs and the minimum ML deviance."""

    sd_group: float
    sd_resid: float
    deviance: float


class RandomInterceptLikelihood:
    """The (restricted) likelihood of a one-way random-intercept model, in closed form.

    Parameters
    ----------
    y
        Response, length ``N``.
    x
        Fixed-effects design, shape ``(N, p)`` of full column rank.
    groups
        Group label of each observation, length ``N``.
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, groups: Sequence[Any] | np.ndarray):
        self.y = np.asarray(y, dtype=float)
        self.x = np.asarray(x, dtype=float)
        if self.x.ndim == 1:
            self.x = self.x[:, None]
        if self.y.ndim != 1 or self.x.shape[0] != self.y.size:
            raise ValueError("y must be 1-D and x must have one row per observation")
        codes, levels = pd.factorize(pd.Series(np.asarray(groups)), sort=True)
        if codes.size != self.y.size:
            raise ValueError("groups must have one label per observation")
        self.levels = list(levels)
        self.codes = codes
        self.n_obs = self.y.size
        self.n_fixed = self.x.shape[1]
        self.n_groups = len(levels)
        self.group_sizes = np.bincount(codes, minlength=self.n_groups).astype(float)
        self._xtx = self.x.T @ self.x
        self._xty = self.x.T @ self.y
        # Column sums of X and sums of y within each group.
        self._sx = np.vstack(
            [
                np.bincount(codes, weights=self.x[:, k], minlength=self.n_groups)
                for k in range(self.n_fixed)
            ]
        ).T
        self._sy = np.bincount(codes, weights=self.y, minlength=self.n_groups)
        if np.linalg.matrix_rank(self.x) < self.n_fixed:
            raise ValueError("the fixed-effects design x is rank deficient")

    @classmethod
    def from_model(cls, model: Any) -> RandomInterceptLikelihood:
        """Build from a statsmodels ``MixedLM`` (random intercept only)."""
        return cls(np.asarray(model.endog), np.asarray(model.exog), np.asarray(model.groups))

    # -- pieces that depend on theta only ---------------------------------------------------
    def _gls(self, theta: float) -> tuple[float, float, np.ndarray]:
        """Return ``(Q, log det(I + theta^2 Z Z'), X'WX)`` at ``theta``."""
        t2 = theta * theta
        c = t2 / (1.0 + self.group_sizes * t2)
        xwx = self._xtx - (self._sx * c[:, None]).T @ self._sx
        xwy = self._xty - self._sx.T @ (c * self._sy)
        beta = np.linalg.solve(xwx, xwy)
        r = self.y - self.x @ beta
        rs = np.bincount(self.codes, weights=r, minlength=self.n_groups)
        q = float(r @ r - np.sum(c * rs * rs))
        logdet = float(np.sum(np.log1p(self.group_sizes * t2)))
        return q, logdet, xwx

    def beta(self, sd_group: float, sd_resid: float) -> np.ndarray:
        """GLS estimate of the fixed effects at the given SDs."""
        theta = sd_group / sd_resid
        t2 = theta * theta
        c = t2 / (1.0 + self.group_sizes * t2)
        xwx = self._xtx - (self._sx * c[:, None]).T @ self._sx
        xwy = self._xty - self._sx.T @ (c * self._sy)
        return np.linalg.solve(xwx, xwy)

    def fixed_cov(self, sd_group: float, sd_resid: float) -> np.ndarray:
        r"""Covariance of the GLS fixed effects, :math:`\sigma_e^2 (X^\top W X)^{-1}`.

        This is the matrix lme4's ``vcov()`` reports: it treats the SDs as known.
        """
        theta = sd_group / sd_resid
        t2 = theta * theta
        c = t2 / (1.0 + self.group_sizes * t2)
        xwx = self._xtx - (self._sx * c[:, None]).T @ self._sx
        return sd_resid * sd_resid * np.linalg.inv(xwx)

    def modes(self, sd_group: float, sd_resid: float) -> tuple[np.ndarray, np.ndarray]:
        r"""Conditional modes (BLUPs) of the group effects and their conditional SDs.

        With :math:`r = y - X\hat\beta` at the given SDs, group :math:`j`'s mode is
        :math:`c_j \sum_{i \in j} r_i` and its conditional variance :math:`\sigma_e^2 c_j`
        (what lme4's ``ranef(fit, condVar = TRUE)`` reports), in the order of ``levels``.
        """
        theta = sd_group / sd_resid
        t2 = theta * theta
        c = t2 / (1.0 + self.group_sizes * t2)
        r = self.y - self.x @ self.beta(sd_group, sd_resid)
        rs = np.bincount(self.codes, weights=r, minlength=self.n_groups)
        return c * rs, sd_resid * np.sqrt(c)

    def deviance(self, sd_group: float, sd_resid: float, reml: bool = False) -> float:
        r"""Return :math:`-2\log L` (ML) or lme4's REML criterion, with β at its GLS optimum.

        Parameters
        ----------
        sd_group
            :math:`\sigma_a \ge 0`.
        sd_resid
            :math:`\sigma_e > 0`.
        reml
            Return the REML criterion instead of the ML deviance.
        """
        check_positive("sd_resid", sd_resid)
        check_nonnegative("sd_group", sd_group)
        q, logdet, xwx = self._gls(sd_group / sd_resid)
        s2 = sd_resid * sd_resid
        if not reml:
            return self.n_obs * (_LOG_2PI + math.log(s2)) + logdet + q / s2
        sign, logdet_x = np.linalg.slogdet(xwx)
        m = self.n_obs - self.n_fixed
        return (
            m * _LOG_2PI
            + self.n_obs * math.log(s2)
            + logdet
            + (logdet_x - self.n_fixed * math.log(s2))
            + q / s2
        )

    def _theta_deviance(self, theta: float, reml: bool) -> tuple[float, float]:
        """Deviance with sigma_e profiled out; returns ``(deviance, sd_resid)``."""
        q, logdet, xwx = self._gls(theta)
        m = self.n_obs - self.n_fixed if reml else self.n_obs
        s2 = q / m
        dev = m * (_LOG_2PI + math.log(s2)) + logdet + m
        if reml:
            dev += np.linalg.slogdet(xwx)[1]
        return dev, math.sqrt(s2)

    def fit(self, reml: bool = False) -> MLFit:
        r"""Minimise the ML deviance (or the REML criterion) over both SDs.

        The residual SD is profiled out in closed form; the ratio :math:`\theta` is found by
        a bounded scalar search, with the boundary :math:`\theta = 0` checked too.
        """
        # Search log(theta) over a wide bracket; theta = 0 is checked separately.
        res = optimize.minimize_scalar(
            lambda u: self._theta_deviance(math.exp(u), reml)[0],
            bounds=(math.log(1e-6), math.log(1e4)),
            method="bounded",
            options={"xatol": 1e-10, "maxiter": 1000},
        )
        theta = math.exp(res.x)
        dev, sd_e = self._theta_deviance(theta, reml)
        dev0, sd_e0 = self._theta_deviance(0.0, reml)
        if dev0 <= dev:
            theta, dev, sd_e = 0.0, dev0, sd_e0
        return MLFit(sd_group=theta * sd_e, sd_resid=sd_e, deviance=float(dev))

    # -- profiles ---------------------------------------------------------------------------
    def profile_sd_group(self, sd_group: float, start: float) -> float:
        r"""ML deviance minimised over :math:`\sigma_e` (and β) with :math:`\sigma_a` fixed."""

        def f(u: float) -> float:
            return self.deviance(sd_group, math.exp(u))

        centre = math.log(start)
        res = optimize.minimize_scalar(
            f,
            bounds=(centre - 4.0, centre + 4.0),
            method="bounded",
            options={"xatol": 1e-10, "maxiter": 1000},
        )
        return float(res.fun)

    def profile_sd_resid(self, sd_resid: float, start: float) -> float:
        r"""ML deviance minimised over :math:`\sigma_a` (and β) with :math:`\sigma_e` fixed."""

        def f(u: float) -> float:
            return self.deviance(math.exp(u), sd_resid)

        centre = math.log(max(start, 1e-8 * sd_resid))
        res = optimize.minimize_scalar(
            f,
            bounds=(centre - 8.0, centre + 6.0),
            method="bounded",
            options={"xatol": 1e-10, "maxiter": 1000},
        )
        return float(min(res.fun, self.deviance(0.0, sd_resid)))
