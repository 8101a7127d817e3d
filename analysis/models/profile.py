r"""Profile-likelihood confidence intervals for the SDs of a fitted mixed model.

statsmodels has no counterpart of lme4's ``profile(fit)`` and ``confint(fit)``; this module
supplies both, for every fitter of the book that has a deviance function, *on the fit itself*:

* :class:`analysis.models.mixed.MixedFit` (statsmodels, ``y ~ X beta + (1 | g)``): the
  closed-form likelihood the fit was computed with
  (:class:`analysis.models.likelihood.RandomInterceptLikelihood`, kept on the fit);
* :class:`analysis.models.crossed.CrossedFit` (crossed or nested random intercepts, chapter 8's
  InstEval model): the fit's own profiled criterion
  (:class:`analysis.models.crossed.ProfiledDeviance`, kept on the fit);
* mixedlm's ``LmerResult`` (:func:`analysis.models.lmer.fit_lmer`, any lme4 formula): the ML
  deviance in terms of SDs, correlations and sigma that :mod:`analysis.models.lmer` builds from
  the fit's model matrices.

Nothing is fitted twice: no statsmodels or mixedlm fit is repeated, except the one ML refit of
a REML mixedlm fit that lme4 makes too (for the other two fitters the ML refit is a few
evaluations of the function already held).

Which likelihood is profiled
----------------------------
lme4's ``profile()`` (which ``confint()`` calls) first refits a REML fit by maximum
likelihood (``refitML``) and profiles the **ML deviance**. We do the same, so the intervals
match lme4's and are centred on the ML estimates, not the REML ones. For a parameter
:math:`s` (an SD, a correlation, or :math:`\sigma`) the profiled deviance is

.. math::

    d(s) = \min_{\text{other parameters},\ \beta} -2 \log L, \qquad
    \zeta(s) = \operatorname{sign}(s - \hat s)\sqrt{d(s) - d(\hat s)},

and the 95% interval holds the values with :math:`d(s) - d(\hat s) \le \chi^2_{1}(0.95)`;
its ends are the roots of :math:`\zeta(s) = \pm\sqrt{\chi^2_1(0.95)}`, found by secant
steps kept inside a bracket (:math:`\zeta` is nearly linear, so two or three steps suffice;
lme4 interpolates a spline through its profile instead, so the two differ in the last
digits). If the deviance at an SD of 0 is still
below the threshold, the lower end is 0, as in lme4. For the one-way model the inner
minimisation is one-dimensional (:class:`~analysis.models.likelihood.RandomInterceptLikelihood`);
for crossed fits it runs over the other SDs and :math:`\sigma` with BOBYQA (``nlopt``, as lme4's
``profile`` uses), warm-started from the nearest point already profiled.

The results use lme4's vocabulary: :func:`confint` has one row per row of
``as.data.frame(VarCorr(fit))`` (columns ``grp``, ``var1``, ``var2``; the residual last),
indexed by the parameter names of lme4's ``confint(fit, oldNames = FALSE)``
(``sd_(Intercept)|Name``, ``sigma``).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.models.likelihood import RandomInterceptLikelihood
from analysis.models.results import CONFINT_COLUMNS
from analysis.validation import check_level, check_positive, check_positive_int

__all__ = [
    "CONFINT_COLUMNS",
    "profile",
    "confint",
    "profiler",
    "Profiler",
]


@dataclass(frozen=True)
class _Parameter:
    """One profiled parameter: lme4's name, its ``VarCorr`` row, and its kind."""

    name: str
    grp: str
    var1: str
    var2: str
    kind: str  # "sd", "cor" or "sigma"


class Profiler:
    r"""The ML deviance of a fit, profiled one parameter at a time.

    Made by :func:`profiler`; :func:`profile` and :func:`confint` use it. It holds the ML
    estimates ``estimates`` (where every :math:`\zeta` is 0), the minimum ML deviance
    ``deviance``, and :meth:`profiled`, the deviance minimised over the other parameters with
    one held at a value.
    """

    parameters: list[_Parameter]
    estimates: np.ndarray
    deviance: float
    #: A length for the first bracket of a parameter estimated as 0 (the response's SD).
    scale: float
    #: Absolute and relative tolerances of the interval ends.
    xtol: float = 1e-10
    rtol: float = 4 * np.finfo(float).eps

    def limits(self) -> contextlib.AbstractContextManager[object]:
        """Return the context the profile runs in (the crossed fitter's one BLAS thread)."""
        return contextlib.nullcontext()

    def profiled(self, j: int, value: float) -> float:  # pragma: no cover - abstract
        """Return the ML deviance minimised over all but parameter ``j``, held at ``value``."""
        raise NotImplementedError

    # -- intervals --------------------------------------------------------------------------
    def interval(self, j: int, level: float) -> tuple[float, float]:
        """Return the profile interval of parameter ``j`` at confidence ``level``."""
        crit = float(stats.chi2.ppf(level, 1))
        z = math.sqrt(crit)
        est = float(self.estimates[j])
        kind = self.parameters[j].kind
        memo: dict[float, float] = {est: 0.0}  # the profile is lowest at the estimate

        def delta(s: float) -> float:
            if s not in memo:
                memo[s] = self.profiled(j, s) - self.deviance
            return memo[s]

        def g(s: float) -> float:  # > 0 outside the interval
            return delta(s) - crit

        def zeta(s: float, target: float) -> float:
            # The ends are roots of zeta - target: zeta is nearly linear in the parameter,
            # so the root search needs few steps (each one a minimisation)
            return math.copysign(math.sqrt(max(delta(s), 0.0)), s - est) - target

        def root(a: float, b: float, target: float) -> float:
            return _secant_root(lambda s: zeta(s, target), a, b, self.xtol, self.rtol)

        if kind == "cor":
            return _cor_interval(g, est, self.xtol)
        if est <= 0:  # boundary estimate: the interval starts at 0
            hi = max(self.scale, 1e-8)
            while g(hi) < 0:
                hi *= 2.0
            return 0.0, root(0.0, hi, z)
        outward = self._bracket(est, 1.0, z, zeta, kind)
        if outward is None:  # pragma: no cover - only the lower side can reach 0
            raise RuntimeError("no upper end of the profile interval")
        upper = root(*outward, z)
        inner_outer = self._bracket(est, -1.0, z, zeta, kind)
        if inner_outer is None:
            return 0.0, upper  # the deviance at an SD of 0 is within the threshold
        return root(*inner_outer, -z), upper

    @staticmethod
    def _bracket(
        est: float,
        direction: float,
        z: float,
        zeta: Callable[[float, float], float],
        kind: str,
    ) -> tuple[float, float] | None:
        r"""Return ``(a, b)`` holding the end on one side, or ``None`` for an SD's end at 0.

        Steps out from the estimate, each step the linear extrapolation of :math:`\zeta` to
        the target with a fifth to spare (1.5 to 4 times the last), so that the bracket is
        usually found in one or two profile points.
        """
        inner, step = est, 0.05 * est
        for _ in range(200):
            outer = est + direction * step
            if outer <= 0:  # the lower end lies below a twentieth of the estimate or at 0
                if kind == "sd":
                    if direction * zeta(0.0, 0.0) <= z:
                        return None
                    return 0.0, inner
                outer = inner / 2.0  # sigma > 0: halve towards 0
            value = direction * zeta(outer, 0.0)
            if value > z:
                return (inner, outer) if inner < outer else (outer, inner)
            inner = outer
            growth = 1.2 * z / value if value > 0 else 4.0
            step = abs(outer - est) * min(max(growth, 1.5), 4.0)
        raise RuntimeError("no end of the profile interval within 200 steps")

    def curve(self, j: int, n_points: int, zeta_max: float) -> pd.DataFrame:
        r"""Return the profile of parameter ``j`` on a grid of :math:`|\zeta| \le` ``zeta_max``."""
        est = float(self.estimates[j])
        kind = self.parameters[j].kind
        lower, upper = self.interval(j, float(stats.chi2.cdf(zeta_max**2, 1)))
        grid = np.linspace(lower, upper, n_points)
        dev = np.array(
            [self.profiled(j, float(s)) if s > 0 or kind != "sigma" else np.nan for s in grid]
        )
        delta = np.maximum(dev - self.deviance, 0.0)
        return pd.DataFrame(
            {
                "value": grid,
                "deviance": dev,
                "delta": delta,
                "zeta": np.sign(grid - est) * np.sqrt(delta),
            }
        )


def _secant_root(
    f: Callable[[float], float], a: float, b: float, xtol: float, rtol: float
) -> float:
    r"""Return a root of ``f`` in the bracket ``[a, b]`` by safeguarded secant steps.

    Each step is the secant through the last two points (bisection if that leaves the
    bracket); the search stops when the next secant step would move less than
    ``xtol + rtol * |x|``. For a nearly linear function (:math:`\zeta` of a profile) that
    takes two or three evaluations from the bracket, fewer than
    :func:`scipy.optimize.brentq`, whose stopping rule waits for the bracket itself to
    shrink; here each evaluation is a minimisation.
    """
    fa, fb = f(a), f(b)
    if fa == 0:
        return float(a)
    if fb == 0:
        return float(b)
    if fa * fb > 0:
        raise ValueError("the root is not bracketed")
    lo, hi, f_lo = min(a, b), max(a, b), fa if a < b else fb
    x_prev, f_prev, x_cur, f_cur = a, fa, b, fb
    for _ in range(200):
        x = x_cur - f_cur * (x_cur - x_prev) / (f_cur - f_prev) if f_cur != f_prev else lo
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
        if x in (lo, hi, x_cur):  # no float left between: the root is found to rounding
            return float(x)
        fx = f(x)
        if fx == 0:
            return float(x)
        if (fx > 0) == (f_lo > 0):
            lo, f_lo = x, fx
        else:
            hi = x
        next_step = abs(fx * (x - x_cur) / (fx - f_cur)) if fx != f_cur else np.inf
        if next_step <= xtol + rtol * abs(x) or hi - lo <= xtol + rtol * abs(x):
            return float(x)
        x_prev, f_prev, x_cur, f_cur = x_cur, f_cur, x, fx
    raise RuntimeError("the root search did not converge in 200 steps")


def _cor_interval(g: Callable[[float], float], est: float, xtol: float) -> tuple[float, float]:
    """Interval of a correlation: search outwards to ±1 in steps, as lme4's edges allow."""
    ends = []
    for direction in (-1.0, 1.0):
        edge = direction * (1.0 - 1e-8)
        inner, step, end = est, 0.05, direction
        for _ in range(60):
            outer = est + direction * step
            if direction * (outer - edge) >= 0:
                outer = edge
            if g(outer) > 0:
                a, b = sorted((inner, outer))
                end = float(optimize.brentq(g, a, b, xtol=xtol))
                break
            if outer == edge:
                end = direction
                break
            inner, step = outer, step * 2.0
        ends.append(float(end))
    return ends[0], ends[1]


class _OneWayProfiler(Profiler):
    """The one-way random-intercept model, through its closed-form likelihood."""

    def __init__(
        self, lik: RandomInterceptLikelihood, group: str, response_scale: float = 1.0
    ) -> None:
        self.lik = lik
        self.ml = lik.fit(reml=False)
        self.parameters = [
            _Parameter(f"sd_(Intercept)|{group}", group, "(Intercept)", "", "sd"),
            _Parameter("sigma", "Residual", "", "", "sigma"),
        ]
        self.estimates = np.array([self.ml.sd_group, self.ml.sd_resid])
        self.deviance = self.ml.deviance
        self.scale = float(lik.y.std())
        self.response_scale = float(response_scale)

    def profiled(self, j: int, value: float) -> float:
        if j == 0:
            return self.lik.profile_sd_group(value, self.ml.sd_resid)
        return self.lik.profile_sd_resid(value, self.ml.sd_group)


class _PsiProfiler(Profiler):
    r"""A deviance as a function of :math:`\psi` (SDs, correlations, sigma), profiled by BOBYQA.

    Each profile point minimises the deviance over the other elements of :math:`\psi`, from
    the solutions at the nearest values already profiled (or the ML estimates). BOBYQA stops
    at a relative change of ``ftol_rel`` in the deviance or ``xtol_rel`` in the parameters:
    the defaults move the interval ends of lme4's Penicillin and Pastes models by less than
    1e-10 against tolerances a hundred times tighter, at half the evaluations.
    """

    def __init__(
        self,
        deviance: Callable[[np.ndarray], float],
        parameters: list[_Parameter],
        estimates: np.ndarray,
        scale: float,
        ftol_rel: float = 1e-12,
        xtol_rel: float = 1e-6,
    ) -> None:
        self.function = deviance
        self.parameters = parameters
        self.estimates = np.asarray(estimates, dtype=float)
        self.deviance = float(deviance(self.estimates))
        self.scale = float(scale)
        self.ftol_rel = ftol_rel
        self.xtol_rel = xtol_rel
        #: Ends to about 1e-7 of their value: far below any difference that matters (lme4's
        #: spline interpolation is good to about 1e-5), and each step of the root search is a
        #: minimisation here.
        self.xtol = 1e-12 * self.scale
        self.rtol = 1e-7
        self.n_points = 0
        self._solutions: dict[int, dict[float, np.ndarray]] = {}

    def _bounds(self, index: list[int]) -> tuple[np.ndarray, np.ndarray]:
        kinds = [self.parameters[i].kind for i in index]
        lower = np.array([-1.0 + 1e-8 if k == "cor" else 0.0 for k in kinds])
        upper = np.array([1.0 - 1e-8 if k == "cor" else np.inf for k in kinds])
        lower[[k == "sigma" for k in kinds]] = 1e-10 * self.scale
        return lower, upper

    def profiled(self, j: int, value: float) -> float:
        import nlopt

        others = [i for i in range(len(self.estimates)) if i != j]
        if not others:
            psi = self.estimates.copy()
            psi[j] = value
            return float(self.function(psi))
        known = self._solutions.setdefault(j, {float(self.estimates[j]): self.estimates[others]})
        # Start from the solutions at the two nearest values profiled, extrapolated linearly.
        near = sorted(known, key=lambda v: abs(v - value))[:2]
        start = known[near[0]].copy()
        if len(near) == 2 and near[0] != near[1]:
            slope = (known[near[0]] - known[near[1]]) / (near[0] - near[1])
            start = start + slope * (value - near[0])
        lower, upper = self._bounds(others)
        start = np.clip(start, lower, upper)
        psi = self.estimates.copy()
        psi[j] = value

        def objective(free: np.ndarray, grad: np.ndarray) -> float:
            psi[others] = free
            return float(self.function(psi))

        opt = nlopt.opt(nlopt.LN_BOBYQA, len(others))
        opt.set_lower_bounds(lower)
        opt.set_upper_bounds(upper)
        opt.set_min_objective(objective)
        opt.set_ftol_rel(self.ftol_rel)
        opt.set_xtol_rel(self.xtol_rel)
        opt.set_maxeval(5000)
        spread = np.maximum(np.abs(self.estimates[others]), 1e-3 * self.scale)
        step = 0.002 * spread
        step = np.minimum(step, np.where(np.isfinite(upper), (upper - lower) / 4, np.inf))
        opt.set_initial_step(step)
        free = np.asarray(opt.optimize(start), dtype=float)
        best = float(opt.last_optimum_value())
        known[float(value)] = free
        self.n_points += 1
        return best


# ---------------------------------------------------------------------------------------------
# One profiler per kind of fit
# ---------------------------------------------------------------------------------------------


def _crossed_profiler(fit: Any) -> _PsiProfiler:
    """Profile a :class:`~analysis.models.crossed.CrossedFit` on its own criterion."""
    from analysis.models.crossed import _blas_limits

    problem = fit.profiled_deviance
    if problem is None:
        raise ValueError("this CrossedFit does not hold its criterion; refit it with fit_crossed")
    with _blas_limits(1):  # as the fit: one BLAS thread for the small dense factorisations
        return _crossed_profiler_from(fit, problem)


def _crossed_profiler_from(fit: Any, problem: Any) -> _PsiProfiler:
    import nlopt

    from analysis.models.crossed import _blas_limits

    k = len(fit.groups)
    # lme4's refitML (and, for an ML fit, a polish of its optimum to the profile's tolerance):
    # the ML deviance with sigma profiled out, from the fit's own theta.
    opt = nlopt.opt(nlopt.LN_BOBYQA, k)
    opt.set_lower_bounds(np.zeros(k))
    opt.set_upper_bounds(np.full(k, np.inf))
    opt.set_min_objective(lambda t, grad: problem.criterion(t, reml=False))
    opt.set_ftol_rel(1e-15)
    opt.set_xtol_rel(1e-9)
    opt.set_maxeval(10_000)
    theta0 = np.asarray(fit.theta, dtype=float)
    opt.set_initial_step(np.maximum(0.02 * theta0, 1e-3))
    theta = np.asarray(opt.optimize(theta0), dtype=float)
    parts = problem.parts(theta)
    if parts is None:  # pragma: no cover - the fit's optimum is positive definite
        raise np.linalg.LinAlgError("the ML refit left the positive-definite region")
    sigma = math.sqrt(parts[2] / problem.n)
    parameters = [_Parameter(f"sd_(Intercept)|{g}", g, "(Intercept)", "", "sd") for g in fit.groups]
    parameters.append(_Parameter("sigma", "Residual", "", "", "sigma"))

    def deviance(psi: np.ndarray) -> float:
        s = float(psi[-1])
        return problem.ml_deviance(np.asarray(psi[:-1]) / s, s)

    prof = _PsiProfiler(deviance, parameters, np.append(theta * sigma, sigma), scale=sigma)
    prof.limits = lambda: _blas_limits(1)  # type: ignore[method-assign]
    return prof


class _LmerProfiler(_PsiProfiler):
    """A mixedlm fit, through :mod:`analysis.models.lmer`'s deviance of SDs and correlations."""

    def __init__(self, fit: Any) -> None:
        from analysis.models import lmer

        fit_ml = lmer.refit_ml(fit)
        dev = lmer._Deviance(fit_ml)
        psi_hat = lmer._ml_estimates(dev, fit_ml)
        rows = lmer.varcorr_frame(fit).fillna("")
        names = lmer.lme4_parameter_names(fit, dev.names())
        if len(rows) != len(names):  # pragma: no cover - both list the same terms
            raise ValueError("the fit's variance components do not match its parameters")
        parameters = [
            _Parameter(name, str(r.grp), str(r.var1), str(r.var2), kind)
            for name, r, kind in zip(names, rows.itertuples(index=False), dev.kinds(), strict=True)
        ]
        self.lmer_deviance = dev

        def deviance(psi: np.ndarray) -> float:
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                return float(dev(np.asarray(psi, dtype=float)))

        super().__init__(deviance, parameters, psi_hat, scale=float(psi_hat[-1]))

    def intervals(self, level: float) -> list[tuple[float, float]]:
        """Return the intervals of :func:`analysis.models.lmer.profile_frame` (its search)."""
        from analysis.models import lmer

        with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            rows = lmer._profile_rows(self.lmer_deviance, self.estimates, self.deviance, level)
        return [(float(lo), float(hi)) for _, lo, hi in rows]


def profiler(fit: Any) -> Profiler:
    """Return the profiler of a fit: its ML deviance, estimates and profiled deviance.

    Parameters
    ----------
    fit
        A :class:`~analysis.models.mixed.MixedFit`, a
        :class:`~analysis.models.crossed.CrossedFit`, or mixedlm's ``LmerResult`` from
        :func:`analysis.models.lmer.fit_lmer`.

    Raises
    ------
    TypeError
        For any other object, naming its type.
    ValueError
        If the fit does not hold the function it was computed with, or a mixedlm model is too
        large to profile (:data:`analysis.models.lmer.MAX_PROFILE_RANDOM`).
    """
    from analysis.models.crossed import CrossedFit
    from analysis.models.mixed import MixedFit

    if isinstance(fit, MixedFit):
        lik = fit.likelihood
        if lik is None:  # a fit built by hand: its statsmodels model holds the design
            if fit.model is None:
                raise ValueError("this MixedFit holds neither its likelihood nor its model")
            lik = RandomInterceptLikelihood.from_model(fit.model)
        return _OneWayProfiler(lik, fit.group, fit.likelihood_scale)
    if isinstance(fit, CrossedFit):
        return _crossed_profiler(fit)
    try:
        from mixedlm.models.lmer import LmerResult
    except ImportError:  # pragma: no cover - mixedlm is a dependency
        LmerResult = ()  # type: ignore[assignment]  # noqa: N806
    if isinstance(fit, LmerResult):
        return _LmerProfiler(fit)
    raise TypeError(
        "profile and confint take a MixedFit, a CrossedFit or a mixedlm LmerResult, got "
        f"{type(fit).__module__}.{type(fit).__name__}"
    )


def _unit(prof: Profiler, j: int) -> float:
    """Factor from the profiler's units to the response's (a rescaled MixedFit)."""
    scale = getattr(prof, "response_scale", 1.0)
    return 1.0 if prof.parameters[j].kind == "cor" else scale


def confint(fit: Any, level: float = 0.95) -> pd.DataFrame:
    r"""Profile-likelihood intervals of the SDs (and correlations), as lme4's ``confint(fit)``.

    lme4's ``confint(fit, method = "profile")`` for the variance parameters, computed on the
    deviance function the fit holds (see the module docstring): the ML deviance (a REML fit is
    refitted by ML first, as lme4 does), each end where the profiled deviance exceeds its
    minimum by the :math:`\chi^2_1` quantile at ``level``.

    Parameters
    ----------
    fit
        A :class:`~analysis.models.mixed.MixedFit`, a
        :class:`~analysis.models.crossed.CrossedFit`, or mixedlm's ``LmerResult``.
    level
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        One row per row of lme4's ``as.data.frame(VarCorr(fit))``, the residual last, indexed
        by lme4's parameter names (``sd_(Intercept)|Name``, ``cor_Days.(Intercept)|Subject``,
        ``sigma``), with columns ``grp``, ``var1``, ``var2`` (lme4's row labels), ``estimate``
        (the ML estimate, where the profile is lowest), ``lower`` and ``upper``, on the SD
        scale (correlations for correlation rows).

    Raises
    ------
    TypeError
        If ``fit`` is not one of those types.
    ValueError
        For a bad ``level``.
    """
    level = check_level(level)
    prof = profiler(fit)
    if isinstance(prof, _LmerProfiler):
        ends = prof.intervals(float(level))
    else:
        with prof.limits():
            ends = [prof.interval(j, float(level)) for j in range(len(prof.parameters))]
    rows = []
    for j, (par, (lower, upper)) in enumerate(zip(prof.parameters, ends, strict=True)):
        unit = _unit(prof, j)
        rows.append(
            (par.grp, par.var1, par.var2, prof.estimates[j] * unit, lower * unit, upper * unit)
        )
    return pd.DataFrame(
        rows,
        columns=CONFINT_COLUMNS,
        index=pd.Index([p.name for p in prof.parameters], name="parameter"),
    )


def profile(fit: Any, n_points: int = 41, zeta_max: float = 2.8) -> pd.DataFrame:
    r"""Profiled ML deviance of each SD (and correlation) on a grid, as lme4's ``profile(fit)``.

    Parameters
    ----------
    fit
        A :class:`~analysis.models.mixed.MixedFit`, a
        :class:`~analysis.models.crossed.CrossedFit`, or mixedlm's ``LmerResult``.
    n_points
        Grid points per parameter.
    zeta_max
        The grid spans the values where :math:`|\zeta|` is at most this (its ends are the
        profile interval at that :math:`\zeta`).

    Returns
    -------
    pandas.DataFrame
        Long format, one block per parameter in the order of :func:`confint`: ``parameter``
        (lme4's name), ``grp``, ``var1``, ``var2``, ``value``, ``deviance`` (profiled ML
        deviance), ``delta`` (deviance minus its minimum) and ``zeta`` (signed square root of
        ``delta``).

    Raises
    ------
    TypeError
        If ``fit`` is not one of those types.
    ValueError
        For ``n_points`` below 3 or a non-positive ``zeta_max``.
    """
    _check_grid(n_points, zeta_max)
    prof = profiler(fit)
    frames = []
    for j, par in enumerate(prof.parameters):
        with prof.limits():
            curve = prof.curve(j, n_points, zeta_max)
        unit = _unit(prof, j)
        curve["value"] *= unit
        if unit != 1.0:  # -2 log L of y = c y' is that of y' plus 2 n log c
            curve["deviance"] += 2.0 * prof.lik.n_obs * math.log(unit)  # type: ignore[attr-defined]
        curve.insert(0, "var2", par.var2)
        curve.insert(0, "var1", par.var1)
        curve.insert(0, "grp", par.grp)
        curve.insert(0, "parameter", par.name)
        frames.append(curve)
    return pd.concat(frames, ignore_index=True)


def _check_grid(n_points: int, zeta_max: float) -> None:
    check_positive_int("n_points", n_points, minimum=3)
    check_positive("zeta_max", zeta_max)
