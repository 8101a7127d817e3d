r"""Random-intercept mixed models: fitting, lme4-style tables, BLUPs and shrinkage.

The model of chapters 4 and 5 is the one-way random-intercept model

.. math::

    y_{i} = x_i^\top \beta + \alpha_{g(i)} + \varepsilon_i, \qquad
    \alpha_j \sim N(0, \sigma_a^2), \quad \varepsilon_i \sim N(0, \sigma_e^2),

written ``Distance ~ Bow + (1 | Name)`` in lme4's notation. :func:`fit_random_intercept`
fits it with statsmodels' ``MixedLM`` and returns a :class:`MixedFit`, whose printout
follows lme4's ``summary()``. The shrinkage helpers express each archer's prediction (the
conditional mode, or BLUP) as a shrunken version of that archer's own mean residual.

Why :class:`MixedFit` and not statsmodels' result object alone: statsmodels stays the fitting
path chapters 4 and 5 teach, but the book promises lme4's numbers, and statsmodels differs from
lme4 in three places. Its fixed-effect standard errors come from the full Hessian (lme4's,
used here, from :math:`\hat\sigma_e^2 (X^\top W X)^{-1}`), its log-likelihood lacks lme4's REML
constants, and at a boundary optimum (a zero group SD) its optimiser stops short or fails. The
closed-form likelihood (:mod:`analysis.models.likelihood`) supplies those three; the statsmodels
result stays available as ``MixedFit.result``. For comparisons across fits the one shared view
is :mod:`analysis.book.lme4`.

statsmodels is imported inside the functions that fit, so importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.models.likelihood import RandomInterceptLikelihood
from analysis.validation import (
    SINGULAR_TOL,
    check_bool,
    check_fixed_dimension,
    check_fixed_factor_levels,
    check_grouping_levels,
    check_level,
    check_nonnegative,
    check_positive,
    finite_array,
    numeric_response,
    require_columns,
    require_rows,
)

if TYPE_CHECKING:  # pragma: no cover
    from statsmodels.regression.mixed_linear_model import MixedLM

__all__ = [
    "MixedFit",
    "fit_random_intercept",
    "build_model",
    "prepare_data",
    "variance_components",
    "fixed_effects_table",
    "lme4_summary",
    "icc",
    "shrinkage_factor",
    "shrinkage_table",
    "fixed_group_estimates",
]


@dataclass(frozen=True)
class MixedFit:
    r"""A fitted random-intercept model, in the terms an lme4 user expects.

    Attributes
    ----------
    fixed
        Fixed effects indexed by term, with columns ``estimate``, ``se``, ``z``, ``p``,
        ``ci_low`` and ``ci_high`` (Wald intervals at ``level``). The standard errors are lme4's,
        from :math:`\hat\sigma_e^2 (X^\top W X)^{-1}` at the estimated SDs.
    sd_group
        Estimated SD of the group (random-intercept) effects, :math:`\hat\sigma_a`.
    sd_resid
        Estimated residual SD, :math:`\hat\sigma_e`.
    blups
        Conditional modes (BLUPs) of the group effects, indexed by group level.
    blup_sd
        Conditional SDs of the group effects given the data and the estimated parameters
        (what lme4's ``ranef(fit, condVar = TRUE)`` reports), indexed by group level.
    group_sizes
        Number of observations per group level.
    n_obs
        Number of observations used.
    n_groups
        Number of group levels.
    reml
        Whether the variance components were estimated by REML.
    loglik
        The maximised log-likelihood (the REML log-likelihood for a REML fit), with lme4's
        constants, so that ``-2 * loglik`` equals lme4's ``REMLcrit``/``deviance``.
    response
        Name of the response column.
    fixed_terms
        Names of the fixed-effect columns.
    group
        Name of the grouping column.
    result
        The statsmodels ``MixedLMResults`` object, or ``None`` for a singular fit statsmodels
        could not compute (the estimates then come from the closed-form criterion).
    model
        The statsmodels ``MixedLM`` model (design matrices, groups). For a response beyond
        :data:`RESCALE_ABOVE` in size, ``result`` and ``model`` are those of the response
        divided by a power of two (see :func:`fit_random_intercept`).
    level
        Confidence level of the Wald intervals in ``fixed``.
    likelihood
        The closed-form likelihood the estimates were computed with
        (:class:`analysis.models.likelihood.RandomInterceptLikelihood`, built once from
        ``model``); profiles (:func:`analysis.models.profile.confint`) reuse it.
    likelihood_scale
        What the response was divided by before ``likelihood`` was built (1.0 unless the
        response was beyond :data:`RESCALE_ABOVE`): SDs of ``likelihood`` times this are SDs
        of the response.
    """

    fixed: pd.DataFrame
    sd_group: float
    sd_resid: float
    blups: pd.Series
    blup_sd: pd.Series
    group_sizes: pd.Series
    n_obs: int
    n_groups: int
    reml: bool
    loglik: float
    response: str
    fixed_terms: tuple[str, ...]
    group: str
    result: Any
    model: Any = None
    level: float = 0.95
    likelihood: RandomInterceptLikelihood | None = field(default=None, repr=False, compare=False)
    likelihood_scale: float = 1.0

    @property
    def singular(self) -> bool:
        """Whether the fit is on the boundary (lme4's "boundary (singular) fit").

        lme4's ``isSingular`` test with its default tolerance: the relative SD
        ``sd_group / sd_resid`` below :data:`analysis.validation.SINGULAR_TOL`.
        """
        return bool(self.sd_group < SINGULAR_TOL * self.sd_resid)

    def summary(self) -> str:
        """Return the lme4-style printout (see :func:`lme4_summary`)."""
        return lme4_summary(self)

    def __str__(self) -> str:
        return self.summary()


def _as_names(fixed: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(fixed, str):
        return (fixed,) if fixed else ()
    names = tuple(fixed)
    if not all(isinstance(x, str) and x for x in names):
        raise ValueError(
            f"fixed must be a column name or a sequence of column names, got {fixed!r}"
        )
    return names


def prepare_data(
    data: pd.DataFrame,
    response: str = "Distance",
    fixed: str | Sequence[str] = ("Bow",),
    group: str = "Name",
) -> pd.DataFrame:
    """Check the columns for a random-intercept fit and return the rows and columns it uses.

    Parameters
    ----------
    data
        The data.
    response
        The numeric response column.
    fixed
        Columns entering as fixed effects (numeric columns as slopes, others as factors).
    group
        The grouping column whose levels get random intercepts.

    Returns
    -------
    pandas.DataFrame
        A copy holding only the used columns, with the group as a string column.

    Raises
    ------
    ValueError
        If ``data`` is not a non-empty DataFrame, a column is missing or repeated, the
        response is not numeric or not finite, a used column has missing values, or the
        group has fewer than two levels.
    """
    fixed_names = _as_names(fixed)
    for arg, value in (("response", response), ("group", group)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{arg} must be a column name, got {value!r}")
    used = [response, *fixed_names, group]
    if len(set(used)) != len(used):
        raise ValueError(f"response, fixed and group must name different columns, got {used}")
    require_columns(data, used)
    require_rows(data)
    sub = data.loc[:, used].copy()
    missing = [c for c in used if sub[c].isna().any()]
    if missing:
        raise ValueError(f"column(s) {missing} have missing values; drop or fill them first")
    y = numeric_response(sub, response)  # numeric, finite, within LARGEST_RESPONSE
    sub[group] = sub[group].astype(str)
    check_grouping_levels(group, sub[group].nunique(), len(sub), kind="group column")
    if np.ptp(y) == 0:
        raise ValueError(
            f"response column {response!r} is constant (every value is {y[0]:g}): there is no "
            "variation to split between groups and residual"
        )
    coefficients: dict[str, int] = {}
    for name in fixed_names:
        column = sub[name]
        coefficients[name] = 1
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            levels = (
                column.cat.remove_unused_categories().cat.categories
                if isinstance(column.dtype, pd.CategoricalDtype)
                else pd.unique(column)
            )
            check_fixed_factor_levels(name, list(levels))
            coefficients[name] = len(levels) - 1
            continue
        if not np.all(np.isfinite(column.to_numpy(float))):
            raise ValueError(f"fixed-effect column {name!r} has infinite values")
        if name == "Intercept":
            raise ValueError(
                "numeric fixed-effect column 'Intercept' has the name statsmodels gives the "
                "model's intercept, so the two cannot be told apart: rename the column"
            )
    if coefficients:
        check_fixed_dimension(len(sub), coefficients)
    return sub.reset_index(drop=True)


def _quote(name: str) -> str:
    """Return ``name`` as patsy reads a column: quoted unless a plain (non-keyword) name."""
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"Q({name!r})"


def _unquote(term: str) -> str:
    """Return a design column's name with patsy's quoting removed: ``Q('class')`` -> ``class``."""
    return re.sub(r"""Q\((['"])(.*?)\1\)""", lambda m: m.group(2), term)


#: Responses larger than this in absolute value (or smaller than its inverse) are fitted
#: divided by a power of two, then the estimates multiplied back: statsmodels' BLUPs and the
#: conditional variances square and multiply the response's scale and overflow from about
#: 1e77 (a power of two is exact in binary, so nothing is lost by it).
RESCALE_ABOVE = 1e50


def build_model(
    data: pd.DataFrame,
    response: str = "Distance",
    fixed: str | Sequence[str] = ("Bow",),
    group: str = "Name",
) -> MixedLM:
    """Return the (unfitted) statsmodels ``MixedLM`` for ``response ~ fixed + (1 | group)``.

    Parameters are as for :func:`prepare_data`, which checks them.

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLM
        The model; its ``exog``, ``endog`` and ``groups`` hold the design.
    """
    import statsmodels.formula.api as smf

    fixed_names = _as_names(fixed)
    sub = prepare_data(data, response, fixed_names, group)
    rhs = " + ".join(_quote(c) for c in fixed_names) or "1"
    formula = f"{_quote(response)} ~ {rhs}"
    return smf.mixedlm(formula, sub, groups=sub[group])


def fixed_effects_table(
    names: Sequence[str], estimates: np.ndarray, se: np.ndarray, level: float = 0.95
) -> pd.DataFrame:
    """Return fixed effects with Wald statistics and intervals, one row per term.

    Parameters
    ----------
    names
        The terms (statsmodels' names, e.g. ``Bow[T.Southwood]``).
    estimates, se
        Estimates and their standard errors.
    level
        Confidence level of the Wald intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed by term, columns ``estimate``, ``se``, ``z``, ``p``, ``ci_low``, ``ci_high``.
    """
    level = check_level(level)
    est = np.asarray(estimates, dtype=float)
    se = np.asarray(se, dtype=float)
    z = est / se
    q = stats.norm.ppf(0.5 + level / 2)
    return pd.DataFrame(
        {
            "estimate": est,
            "se": se,
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
            "ci_low": est - q * se,
            "ci_high": est + q * se,
        },
        index=pd.Index(list(names), name="term"),
    )


def fit_random_intercept(
    data: pd.DataFrame,
    response: str = "Distance",
    fixed: str | Sequence[str] = ("Bow",),
    group: str = "Name",
    reml: bool = True,
    level: float = 0.95,
) -> MixedFit:
    """Fit ``response ~ fixed + (1 | group)`` with statsmodels' MixedLM.

    A response larger than :data:`RESCALE_ABOVE` (or smaller than its inverse) is fitted
    divided by a power of two and the estimates multiplied back, exactly: at such scales the
    BLUPs and their SDs would overflow.

    Parameters
    ----------
    data
        The data, one row per observation.
    response
        The numeric response column.
    fixed
        Fixed-effect columns (numeric ones enter as slopes, others as treatment-coded
        factors with the first level as baseline, as in R).
    group
        The grouping column; each level gets a random intercept.
    reml
        Estimate the variance components by REML (lme4's default) rather than ML.
    level
        Confidence level of the Wald intervals of the fixed effects.

    Returns
    -------
    MixedFit
        The fit.

    Raises
    ------
    ValueError
        For bad input (see :func:`prepare_data`) or if the optimiser does not converge.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    reml = check_bool("reml", reml)
    level = check_level(level)
    fixed_names = _as_names(fixed)
    scale = _response_scale(prepare_data(data, response, fixed_names, group)[response])
    if scale != 1.0:
        scaled = data.loc[:, [response, *fixed_names, group]].copy()
        scaled[response] = scaled[response].astype(float) / scale
        fit = fit_random_intercept(scaled, response, fixed_names, group, reml, level)
        return _rescaled(fit, scale)
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    model = build_model(data, response, fixed_names, group)
    lik = RandomInterceptLikelihood.from_model(model)
    # statsmodels' optimiser stops at a gradient tolerance that can leave the SDs a few
    # thousandths away from the optimum on unbalanced data; starting it at the optimum of the
    # closed-form criterion (analysis.models.likelihood) lets it confirm convergence there instead.
    exact = lik.fit(reml=bool(reml))
    labels = [str(x) for x in model.group_labels]
    sizes = pd.Series(lik.group_sizes, index=pd.Index(labels, name=group), name="n")
    if exact.sd_group == 0:
        # The optimum is on the boundary (lme4: "boundary (singular) fit"). statsmodels'
        # optimiser cannot reach it (it stops short with convergence warnings, or fails on a
        # singular matrix when started there), so its fit is kept only as the model object and
        # the estimates are the exact optimum of the closed-form criterion, as lme4 reports it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = model.fit(reml=bool(reml))
            except (np.linalg.LinAlgError, ValueError):
                result = None
        sd_group, sd_resid = 0.0, exact.sd_resid
        estimates = lik.beta(0.0, sd_resid)
        blups = pd.Series(0.0, index=sizes.index, name="blup")
        warnings.warn(
            f"boundary (singular) fit: the SD of the {group!r} effects is estimated as 0 "
            "(lme4 says the same; see help('isSingular'))",
            UserWarning,
            stacklevel=2,
        )
    else:
        # statsmodels' optimiser stops at a gradient tolerance that can leave the SDs a few
        # thousandths away from the optimum on unbalanced data; starting it at the optimum of
        # the closed-form criterion lets it confirm convergence there instead.
        theta = exact.sd_group / exact.sd_resid
        start = MixedLMParams.from_components(
            fe_params=lik.beta(exact.sd_group, exact.sd_resid), cov_re=np.array([[theta**2]])
        )
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", category=ConvergenceWarning, message=".*(boundary|Hessian).*"
            )
            result = model.fit(reml=bool(reml), start_params=start)
        if not result.converged:
            raise ValueError("the mixed model did not converge; check the data")
        sd_group = float(math.sqrt(max(float(np.asarray(result.cov_re)[0, 0]), 0.0)))
        sd_resid = float(math.sqrt(result.scale))
        estimates = np.asarray(result.fe_params, dtype=float)
        blups = pd.Series(
            [float(np.asarray(result.random_effects[k])[0]) for k in model.group_labels],
            index=sizes.index,
            name="blup",
        )
    var_a, var_e = sd_group**2, sd_resid**2
    cond_var = var_a * var_e / (var_e + sizes.to_numpy(float) * var_a)
    blup_sd = pd.Series(np.sqrt(cond_var), index=sizes.index, name="blup_sd")
    loglik = -0.5 * lik.deviance(sd_group, sd_resid, reml=bool(reml))
    # Standard errors as lme4 computes them, from sigma_e^2 (X'WX)^{-1} at the estimates;
    # statsmodels' bse_fe comes from the full Hessian and differs slightly when unbalanced.
    se = np.sqrt(np.diag(lik.fixed_cov(sd_group, sd_resid)))
    return MixedFit(
        fixed=fixed_effects_table([_unquote(n) for n in model.exog_names], estimates, se, level),
        sd_group=sd_group,
        sd_resid=sd_resid,
        blups=blups,
        blup_sd=blup_sd,
        group_sizes=sizes,
        n_obs=int(model.nobs),
        n_groups=len(labels),
        reml=bool(reml),
        loglik=float(loglik),
        response=response,
        fixed_terms=fixed_names,
        group=group,
        result=result,
        model=model,
        level=level,
        likelihood=lik,
    )


def _response_scale(y: pd.Series) -> float:
    """Return the power of two to divide the response by (1.0: none), see RESCALE_ABOVE."""
    largest = float(np.max(np.abs(y.to_numpy(float))))
    if 1 / RESCALE_ABOVE <= largest <= RESCALE_ABOVE:
        return 1.0
    return float(2.0 ** math.floor(math.log2(largest)))


def _rescaled(fit: MixedFit, scale: float) -> MixedFit:
    """Return a fit of ``y / scale`` as the fit of ``y``: estimates times ``scale``.

    The log-likelihood of ``y`` is that of ``y / scale`` minus ``m log(scale)``, with ``m``
    the number of observations (ML) or of residual contrasts, ``n - p`` (REML).
    """
    fixed = fit.fixed.copy()
    for column in ("estimate", "se", "ci_low", "ci_high"):
        fixed[column] = fixed[column] * scale
    m = fit.n_obs - (len(fixed) if fit.reml else 0)
    return dataclasses.replace(
        fit,
        fixed=fixed,
        sd_group=fit.sd_group * scale,
        sd_resid=fit.sd_resid * scale,
        blups=fit.blups * scale,
        blup_sd=fit.blup_sd * scale,
        loglik=fit.loglik - m * math.log(scale),
        likelihood_scale=fit.likelihood_scale * scale,
    )


def variance_components(fit: MixedFit) -> pd.DataFrame:
    """Return lme4's variance-components table: Groups, Name, Variance, Std.Dev.

    Parameters
    ----------
    fit
        A fitted model.

    Returns
    -------
    pandas.DataFrame
        Two rows: the group's ``(Intercept)`` and the ``Residual``.
    """
    return pd.DataFrame(
        {
            "Groups": [fit.group, "Residual"],
            "Name": ["(Intercept)", ""],
            "Variance": [fit.sd_group**2, fit.sd_resid**2],
            "Std.Dev.": [fit.sd_group, fit.sd_resid],
        }
    )


def lme4_summary(fit: MixedFit, digits: int = 4) -> str:
    """Format a fit the way lme4's ``summary()`` does: random effects, then fixed effects.

    Parameters
    ----------
    fit
        A fitted model.
    digits
        Decimals shown.

    Returns
    -------
    str
        The printout.
    """
    rhs = " + ".join(fit.fixed_terms) or "1"
    method = "REML" if fit.reml else "maximum likelihood"
    crit = "REML criterion at convergence" if fit.reml else "deviance"
    vc = variance_components(fit)
    fe = fit.fixed.loc[:, ["estimate", "se", "z"]].rename(
        columns={"estimate": "Estimate", "se": "Std. Error", "z": "z value"}
    )
    lines = [
        f"Linear mixed model fit by {method} (statsmodels MixedLM)",
        f"Formula: {fit.response} ~ {rhs} + (1 | {fit.group})",
        f"{crit}: {-2 * fit.loglik:.{digits}f}",
        "",
        "Random effects:",
        vc.to_string(index=False, float_format=lambda v: f"{v:.{digits}f}"),
        f"Number of obs: {fit.n_obs}, groups:  {fit.group}, {fit.n_groups}",
        "",
        "Fixed effects:",
        fe.to_string(float_format=lambda v: f"{v:.{digits}f}"),
    ]
    return "\n".join(lines)


def icc(fit: MixedFit) -> float:
    r"""Intra-class correlation :math:`\sigma_a^2 / (\sigma_a^2 + \sigma_e^2)`.

    The correlation between two observations of the same group, and the share of the
    variance (given the fixed effects) that lies between groups.
    """
    va, ve = fit.sd_group**2, fit.sd_resid**2
    return float(va / (va + ve))


def shrinkage_factor(
    sd_group: float, sd_resid: float, n: int | float | np.ndarray | pd.Series
) -> Any:
    r"""Shrinkage factor :math:`k = \sigma_a^2 / (\sigma_a^2 + \sigma_e^2 / n)`.

    A group with ``n`` observations has BLUP equal to ``k`` times its mean residual from
    the fixed part of the model. ``k`` rises towards 1 as ``n`` grows.

    Parameters
    ----------
    sd_group
        :math:`\sigma_a`.
    sd_resid
        :math:`\sigma_e`, positive.
    n
        Observations per group: a number, array or Series (kept as a Series).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        The factor(s), shaped like ``n``.
    """
    va = check_nonnegative("sd_group", sd_group) ** 2
    ve = check_positive("sd_resid", sd_resid) ** 2
    arr = finite_array("n", n, ndim=None, min_size=0)
    if np.any(arr <= 0):
        raise ValueError(f"n must hold positive group sizes, got {n!r}")
    k = va / (va + ve / arr)
    if isinstance(n, pd.Series):
        return pd.Series(k, index=n.index, name="k")
    if np.ndim(k) == 0:
        return float(k)
    return k


def fixed_group_estimates(fit: MixedFit, data: pd.DataFrame) -> pd.Series:
    """Group effects estimated as fixed effects (OLS with one intercept per group), centred.

    Fits ``response ~ 0 + C(group) + fixed`` by least squares and subtracts the mean of
    the group intercepts, so the estimates sum to zero like the random effects do.

    Parameters
    ----------
    fit
        The mixed fit (supplies the column roles).
    data
        The data it was fitted to.

    Returns
    -------
    pandas.Series
        Centred fixed-effect estimates, indexed like ``fit.blups``.
    """
    sub = prepare_data(data, fit.response, fit.fixed_terms, fit.group)
    codes = pd.Categorical(sub[fit.group], categories=list(fit.blups.index))
    dummies = pd.get_dummies(codes, dtype=float).to_numpy()
    exog = np.asarray(fit.model.exog, dtype=float)
    # Columns of the mixed model's design other than its intercept, in the same row order.
    names = list(fit.model.exog_names)
    keep = [i for i, nm in enumerate(names) if nm != "Intercept"]
    if len(sub) != fit.model.nobs:
        raise ValueError("data does not match the fitted model (different number of rows)")
    design = np.column_stack([dummies, exog[:, keep]]) if keep else dummies
    y = sub[fit.response].to_numpy(float)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    effects = coef[: dummies.shape[1]]
    return pd.Series(effects - effects.mean(), index=fit.blups.index, name="fixed")


def shrinkage_table(fit: MixedFit) -> pd.DataFrame:
    r"""Per-group shrinkage: size, mean residual, BLUP and the shrinkage factor.

    For group :math:`j` with :math:`n_j` observations, the mean residual from the fixed part,
    :math:`\bar r_j = \overline{(y - X\hat\beta)}_j`, is the group's own estimate of its
    effect; the BLUP is :math:`k_j \bar r_j` with :math:`k_j` from :func:`shrinkage_factor`.

    Parameters
    ----------
    fit
        A fitted model.

    Returns
    -------
    pandas.DataFrame
        Indexed by group level, columns ``n``, ``raw`` (mean residual), ``blup``,
        ``k`` (theoretical factor), ``k_observed`` (``blup / raw``) and ``blup_sd``.
    """
    model = fit.model
    y = np.asarray(model.endog, dtype=float)
    x = np.asarray(model.exog, dtype=float)
    resid = y - x @ fit.fixed["estimate"].to_numpy()
    codes = pd.Categorical(
        pd.Series(model.groups).astype(str), categories=list(fit.blups.index)
    ).codes
    n = np.bincount(codes, minlength=fit.n_groups).astype(float)
    raw = np.bincount(codes, weights=resid, minlength=fit.n_groups) / n
    k = shrinkage_factor(fit.sd_group, fit.sd_resid, n)
    blup = fit.blups.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        k_obs = np.where(raw != 0, blup / raw, np.nan)
    return pd.DataFrame(
        {
            "n": n.astype(int),
            "raw": raw,
            "blup": blup,
            "k": k,
            "k_observed": k_obs,
            "blup_sd": fit.blup_sd.to_numpy(),
        },
        index=fit.blups.index,
    )


# -- The uncertainty of a predicted group effect (chapter 5) --------------------------------------

__all__ += ["prediction_errors", "prediction_error_sds"]


def prediction_error_sds(
    x: np.ndarray, codes: np.ndarray, n_groups: int, sd_group: float, sd_resid: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Conditional and full prediction-error SDs of the group effects, from Henderson's MME.

    With :math:`\lambda = \sigma_e^2/\sigma_a^2`, :math:`c_j = 1/(n_j + \lambda)` and
    :math:`s_j` the column sums of :math:`X` in group :math:`j`, the random-effect block of
    :math:`\sigma_e^2 C^{-1}` has diagonal
    :math:`\sigma_e^2 [c_j + c_j^2 s_j^\top (X^\top W X)^{-1} s_j]`; the first term alone is the
    conditional variance given :math:`\hat\beta` (lme4's ``condVar``).
    """
    if sd_group == 0.0:
        zeros = np.zeros(n_groups)
        return zeros, zeros.copy()
    n = np.bincount(codes, minlength=n_groups).astype(float)
    c = 1.0 / (n + (sd_resid / sd_group) ** 2)
    sums = np.vstack(
        [np.bincount(codes, weights=x[:, k], minlength=n_groups) for k in range(x.shape[1])]
    ).T
    xwx = x.T @ x - (sums * c[:, None]).T @ sums
    lever = np.einsum("jk,kl,jl->j", sums, np.linalg.inv(xwx), sums)
    var_e = sd_resid * sd_resid
    return np.sqrt(var_e * c), np.sqrt(var_e * (c + c * c * lever))


def prediction_errors(fit: MixedFit) -> pd.DataFrame:
    r"""Two uncertainties of each predicted group effect: conditional SD and prediction-error SD.

    The *conditional SD* is the SD of :math:`\alpha_j` given the data with the fixed effects
    held at :math:`\hat\beta` (lme4's ``ranef(fit, condVar = TRUE)``, ``MixedFit.blup_sd``).
    It is the right scale for differences between groups, :math:`\alpha_j - \alpha_k`, from
    which :math:`\hat\beta` cancels, but not for :math:`\alpha_j` itself: the prediction
    :math:`\hat\alpha_j` also inherits the error of :math:`\hat\beta`. The *prediction-error SD*,
    :math:`\sqrt{\operatorname{Var}(\hat\alpha_j - \alpha_j)}`, counts both; it is the
    random-effect block of :math:`\hat\sigma_e^2 C^{-1}`, with :math:`C` the coefficient matrix of
    Henderson's mixed-model equations (whose fixed-effect block is the fixed effects' covariance).
    Both plug in the estimated SDs (they are EBLUP variances).

    Parameters
    ----------
    fit
        A random-intercept fit from :func:`fit_random_intercept`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``fit.blups``, columns ``n``, ``blup``, ``cond_sd`` and ``pev_sd``.

    Examples
    --------
    >>> from analysis.datasets.archers import fifty_archers  # doctest: +SKIP
    >>> fit = fit_random_intercept(fifty_archers().data)  # doctest: +SKIP
    >>> prediction_errors(fit)[["cond_sd", "pev_sd"]].iloc[0].round(2).tolist()  # doctest: +SKIP
    [1.15, 3.49]
    """
    if not isinstance(fit, MixedFit) or fit.model is None:
        raise ValueError("prediction_errors needs a MixedFit from fit_random_intercept")
    x = np.asarray(fit.model.exog, dtype=float)
    labels = pd.Series(np.asarray(fit.model.groups)).astype(str)
    codes = pd.Categorical(labels, categories=list(fit.blups.index)).codes
    if np.any(codes < 0):
        raise ValueError("the fit's groups do not match its predicted effects")
    cond_sd, pev_sd = prediction_error_sds(x, codes, fit.n_groups, fit.sd_group, fit.sd_resid)
    return pd.DataFrame(
        {
            "n": fit.group_sizes.to_numpy(int),
            "blup": fit.blups.to_numpy(float),
            "cond_sd": cond_sd,
            "pev_sd": pev_sd,
        },
        index=fit.blups.index,
    )
