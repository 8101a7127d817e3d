r"""Profile-likelihood confidence intervals for the SDs of a random-intercept model.

statsmodels has no counterpart of lme4's ``confint(fit)``; this module supplies one for the
one-way random-intercept model ``y ~ X beta + (1 | g)``.

Which likelihood is profiled
----------------------------
lme4's ``profile()`` (which ``confint()`` calls) first refits a REML fit by maximum
likelihood (``refitML``) and profiles the **ML deviance**. We do the same, so the intervals
match lme4's and are centred on the ML estimates, not the REML ones. For a parameter
:math:`s` (:math:`\sigma_a` or :math:`\sigma_e`) the profiled deviance is

.. math::

    d(s) = \min_{\text{other SD},\ \beta} -2 \log L, \qquad
    \zeta(s) = \operatorname{sign}(s - \hat s)\sqrt{d(s) - d(\hat s)},

and the 95% interval holds the values with :math:`d(s) - d(\hat s) \le \chi^2_{1}(0.95)`;
its ends are found with :func:`scipy.optimize.brentq`. If the deviance at :math:`\sigma_a = 0`
is still below the threshold, the lower end for :math:`\sigma_a` is 0, as in lme4.

The likelihood itself, in closed form, is
:class:`analysis.models.likelihood.RandomInterceptLikelihood`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.models.likelihood import MLFit, RandomInterceptLikelihood
from analysis.models.mixed import build_model
from analysis.validation import check_level

__all__ = ["profile_ci", "profile_curves", "likelihood_from_data"]


def likelihood_from_data(
    data: pd.DataFrame,
    response: str = "Distance",
    fixed: str | Sequence[str] = ("Bow",),
    group: str = "Name",
) -> RandomInterceptLikelihood:
    """Build the closed-form likelihood of ``response ~ fixed + (1 | group)`` from a frame.

    The design matrix is statsmodels' (treatment coding, first level as baseline).
    """
    return RandomInterceptLikelihood.from_model(build_model(data, response, fixed, group))


def _profile_function(lik: RandomInterceptLikelihood, ml: MLFit, which: str):  # type: ignore[no-untyped-def]
    if which == "sd_group":
        return lambda s: lik.profile_sd_group(s, ml.sd_resid)
    if which == "sd_resid":
        return lambda s: lik.profile_sd_resid(s, ml.sd_group)
    raise ValueError(f"which must be 'sd_group' or 'sd_resid', got {which!r}")


def _interval(
    lik: RandomInterceptLikelihood, ml: MLFit, which: str, level: float
) -> tuple[float, float]:
    prof = _profile_function(lik, ml, which)
    crit = float(stats.chi2.ppf(level, 1))
    est = ml.sd_group if which == "sd_group" else ml.sd_resid

    def g(s: float) -> float:
        return prof(s) - ml.deviance - crit

    if est <= 0:  # boundary estimate: the interval starts at 0
        lower = 0.0
        hi = max(lik.y.std(), 1e-8)
        while g(hi) < 0:
            hi *= 2.0
        return lower, float(optimize.brentq(g, 0.0, hi, xtol=1e-10))
    hi = est * 1.2
    for _ in range(200):
        if g(hi) > 0:
            break
        hi *= 1.5
    upper = float(optimize.brentq(g, est, hi, xtol=1e-10))
    if which == "sd_group" and g(0.0) <= 0:
        return 0.0, upper
    lo = est / 1.2
    for _ in range(200):
        if g(lo) > 0:
            break
        lo /= 1.5
    lower = float(optimize.brentq(g, lo, est, xtol=1e-10))
    return lower, upper


def profile_ci(
    data: pd.DataFrame,
    response: str = "Distance",
    fixed: str | Sequence[str] = ("Bow",),
    group: str = "Name",
    level: float = 0.95,
) -> pd.DataFrame:
    r"""Profile-likelihood confidence intervals for the group SD and the residual SD.

    The equivalent of lme4's ``confint(fit, parm = c(".sig01", ".sigma"))``: the ML
    deviance is profiled (as lme4 does, even for a REML fit; see the module docstring), and
    each end is where the profiled deviance exceeds its minimum by the
    :math:`\chi^2_1` quantile at ``level``.

    Parameters
    ----------
    data, response, fixed, group
        The data and column roles, as for :func:`analysis.models.mixed.fit_random_intercept`.
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Indexed ``["sd_group", "sd_resid"]`` with columns ``estimate`` (the ML estimate,
        where the profile is lowest), ``lower`` and ``upper``.
    """
    level = check_level(level)
    lik = likelihood_from_data(data, response, fixed, group)
    ml = lik.fit(reml=False)
    rows = {}
    for which, est in (("sd_group", ml.sd_group), ("sd_resid", ml.sd_resid)):
        lower, upper = _interval(lik, ml, which, float(level))
        rows[which] = {"estimate": est, "lower": lower, "upper": upper}
    return pd.DataFrame.from_dict(rows, orient="index")


def profile_curves(
    data: pd.DataFrame,
    response: str = "Distance",
    fixed: str | Sequence[str] = ("Bow",),
    group: str = "Name",
    n_points: int = 41,
    zeta_max: float = 2.8,
) -> pd.DataFrame:
    r"""Profiled ML deviance of each SD on a grid, for plotting.

    Parameters
    ----------
    data, response, fixed, group
        The data and column roles.
    n_points
        Grid points per parameter.
    zeta_max
        The grid spans the values where :math:`|\zeta|` is at most about this.

    Returns
    -------
    pandas.DataFrame
        Long format with columns ``parameter`` (``"sd_group"``/``"sd_resid"``), ``value``,
        ``deviance`` (profiled ML deviance), ``delta`` (deviance minus its minimum) and
        ``zeta`` (signed square root of ``delta``).
    """
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 3:
        raise ValueError(f"n_points must be an integer of at least 3, got {n_points!r}")
    if not zeta_max > 0:
        raise ValueError(f"zeta_max must be positive, got {zeta_max!r}")
    lik = likelihood_from_data(data, response, fixed, group)
    ml = lik.fit(reml=False)
    level = float(stats.chi2.cdf(zeta_max**2, 1))
    frames = []
    for which, est in (("sd_group", ml.sd_group), ("sd_resid", ml.sd_resid)):
        lower, upper = _interval(lik, ml, which, level)
        prof = _profile_function(lik, ml, which)
        grid = np.linspace(lower, upper, n_points)
        dev = np.array([prof(float(s)) if s > 0 or which == "sd_group" else np.nan for s in grid])
        delta = np.maximum(dev - ml.deviance, 0.0)
        frames.append(
            pd.DataFrame(
                {
                    "parameter": which,
                    "value": grid,
                    "deviance": dev,
                    "delta": delta,
                    "zeta": np.sign(grid - est) * np.sqrt(delta),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
