"""General lme4-formula models through `mixedlm`, viewed the way lme4 prints them.

Why a library: ``mixedlm`` (a Rust port of lme4) fits any lme4 formula (random slopes
``(x | g)``, uncorrelated terms ``(x || g)``, nesting ``g1/g2``, crossed factors) with lme4's
algorithm, and matches lme4 to about 1e-4 on the reference models of ``scripts/lme4_lmer.R``
(``tests/test_lmer.py`` checks it). The book uses its result object, ``LmerResult``, as it is;
this module adds only what the book needs on top:

* **checks before fitting** that lme4 makes and mixedlm 1.3.0 does not: a grouping factor
  with one level, or with as many levels as observations, is refused (the variance would not
  be identifiable from the residual), as are missing columns and missing values;
* **lme4's names and tables**: ``BowSouthwood`` where mixedlm says ``Bow.1``;
  :func:`fixef_frame`, :func:`varcorr_frame` and :func:`ranef_frame` give the rows of lme4's
  ``coef(summary(fit))``, ``as.data.frame(VarCorr(fit))`` and
  ``as.data.frame(ranef(fit, condVar = TRUE))``;
* **profile intervals of the variance parameters**, :func:`profile_frame`. mixedlm 1.3.0
  profiles the fixed effects only; lme4's ``confint(fit, method = "profile")`` also profiles
  every standard deviation, correlation and sigma. :func:`profile_frame` does that the way
  lme4's ``devfun2`` does: the ML deviance as a function of the SDs, correlations and sigma
  (fixed effects profiled out), minimised over the other parameters at each value of one, and
  the interval where the signed root of the deviance change stays within the normal quantile.
  The deviance is computed from the model matrices mixedlm builds (``getME``), with dense
  linear algebra on the random-effect dimension, so it refuses models with more than
  :data:`MAX_PROFILE_RANDOM` random effects;
* :func:`formula_of` and :func:`group_sizes`, which :func:`analysis.models.results.result_of`
  reads (with the tables above) into the one result of every fit, the command line's too. The
  comparison with lme4's own numbers is :func:`analysis.book.lme4.compare_with_lme4`.
"""

from __future__ import annotations

import contextlib
import re
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse, stats

from analysis.models.formula import Formula, Node, build_design, parse_formula
from analysis.validation import (
    SINGULAR_TOL,
    check_bool,
    check_fixed_dimension,
    check_fixed_factor_levels,
    check_grouping_levels,
    check_level,
    check_response_scale,
    numeric_response,
    require_rows,
)

__all__ = [
    "MAX_PROFILE_RANDOM",
    "LmerContext",
    "fit_lmer",
    "lmer_context",
    "grouping_columns",
    "lme4_term_name",
    "fixef_frame",
    "varcorr_frame",
    "ranef_frame",
    "profile_frame",
    "refit_ml",
    "lme4_parameter_names",
    "is_singular",
    "lrt",
    "formula_of",
    "group_sizes",
]

#: Largest number of random effects :func:`profile_frame` will profile (dense q x q algebra).
MAX_PROFILE_RANDOM = 2000


@dataclass(frozen=True, eq=False)
class LmerContext:
    """What :func:`fit_lmer` knows of a fit that mixedlm's result does not keep.

    mixedlm's result is used as it is (not wrapped, not patched); :func:`lmer_context` finds
    this record for it, for as long as the result lives.

    Attributes
    ----------
    formula
        The formula as the user typed it.
    data
        The rows fitted, for refits (lme4's ``refitML``, profiles) and lme4's term names.
    groups
        mixedlm's name of each grouping factor to lme4's, with whether its level labels are
        reversed (lme4 labels the inner factor of ``a/b`` as ``b:a``).
    dropped
        Fixed-effect columns dropped as linearly dependent, as lme4 drops them.
    terms
        The safe column names the formula front end gave mixedlm, to lme4's names (for a
        formula with transformations only).
    """

    formula: str
    data: pd.DataFrame
    groups: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    terms: Mapping[str, str] | None = None


#: id(fit) -> its LmerContext, each entry removed when its fit is collected.
_CONTEXTS: dict[int, LmerContext] = {}


def _remember(fit: Any, context: LmerContext) -> Any:
    """Record ``context`` for ``fit`` until the fit is collected; return the fit."""
    key = id(fit)
    _CONTEXTS[key] = context
    weakref.finalize(fit, _CONTEXTS.pop, key, None)
    return fit


def lmer_context(fit: Any) -> LmerContext | None:
    """Return what :func:`fit_lmer` recorded of ``fit``, or ``None`` for any other fit."""
    return _CONTEXTS.get(id(fit))


_BAR = re.compile(r"\(([^()|]*?)\s*(\|\|?)\s*([^()]+?)\)")
_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")


def _formula_columns(formula: str) -> tuple[str, list[str], list[str]]:
    """Return the response, every column the formula names, and the grouping factors."""
    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula must be a string like 'y ~ x + (1 | g)', got {formula!r}")
    lhs, rhs = formula.split("~", 1)
    response = lhs.strip()
    if not _NAME.fullmatch(response):
        raise ValueError(f"the formula's response must be one column name, got {response!r}")
    bars = _BAR.findall(rhs)
    if not bars:
        raise ValueError(
            f"formula {formula!r} has no random-effect term such as (1 | g): "
            "fit it with ordinary least squares instead"
        )
    groups: list[str] = []
    for _, _, grouping in bars:
        for part in re.split(r"[/:]", grouping):
            name = part.strip()
            if name and name not in groups:
                groups.append(name)
    names = [n for n in _NAME.findall(rhs) if not re.fullmatch(r"[0-9.]+", n)]
    columns = [response] + [n for n in dict.fromkeys(names) if n != response]
    return response, columns, groups


def grouping_columns(formula: str) -> list[str]:
    """Return the columns an lme4 formula groups by (``g`` of ``(x | g)``, both of ``a/b``).

    Raises
    ------
    ValueError
        If ``formula`` is not an lme4 formula with a random-effect term.
    """
    parsed = parse_formula(formula)  # linear time; says what is wrong and where
    if _needs_front_end(parsed):
        return list(dict.fromkeys(name for bar in parsed.random for name in bar.grouping))
    return _formula_columns(formula)[2]


def _needs_front_end(parsed: Formula) -> bool:
    """Whether a formula uses more than column names: a transformation, ``I()``, arithmetic.

    Such formulas are evaluated by :func:`analysis.models.formula.build_design` (the front end
    ``glmer`` shares) and handed to mixedlm as plain numeric columns.
    """

    def plain(node: Node) -> bool:
        if node.kind == "name":
            return True
        if node.kind == "paren":
            return all(plain(a) for a in node.args)
        if node.kind == "binary" and node.value in ("+", ":", "*", "/", "-"):
            return all(plain(a) for a in node.args)
        return node.kind == "number" and node.value in ("0", "1")

    if parsed.response.kind != "name" or parsed.offsets:
        return True
    if any(not plain(v) for term in parsed.fixed for v in term):
        return True
    return any(not plain(bar.expr) for bar in parsed.random)


def _slope_columns(formula: str) -> list[str]:
    """Return the columns named left of a bar, ``x`` of ``(1 + x | g)``."""
    names: list[str] = []
    for terms, _, _ in _BAR.findall(formula.split("~", 1)[1]):
        names += [n for n in _NAME.findall(terms) if not re.fullmatch(r"[0-9.]+", n)]
    return list(dict.fromkeys(names))


def _grouping_levels(data: pd.DataFrame, formula: str) -> dict[str, int]:
    """Count the levels of every grouping factor, interactions (``a:b``, ``a/b``) included."""
    _, _, _ = _formula_columns(formula)
    counts: dict[str, int] = {}
    for _, _, grouping in _BAR.findall(formula.split("~", 1)[1]):
        parts = [p.strip() for p in grouping.split("/")]
        for k in range(len(parts)):  # a/b means a + a:b
            factors = [f.strip() for p in parts[: k + 1] for f in p.split(":")]
            label = ":".join(factors)
            counts[label] = int(data[factors].drop_duplicates().shape[0])
    return counts


def _lme4_group_names(formula: str) -> dict[str, tuple[str, bool]]:
    """Map mixedlm's grouping-factor names to lme4's, with whether level labels reverse.

    lme4 expands a nested ``a/b`` to ``a + b:a`` and labels the inner factor's levels
    ``bLevel:aLevel``; mixedlm calls it ``a:b`` with levels ``aLevel/bLevel``. An explicit
    interaction ``a:b`` keeps its name in both (levels ``aLevel:bLevel`` in lme4).
    """
    names: dict[str, tuple[str, bool]] = {}
    for _, _, grouping in _BAR.findall(formula.split("~", 1)[1]):
        parts = [p.strip() for p in grouping.split("/")]
        for k in range(1, len(parts)):
            inner = [f.strip() for p in parts[: k + 1] for f in p.split(":")]
            names[":".join(inner)] = (":".join(reversed(inner)), True)
    return names


def _groups(fit: Any) -> Mapping[str, tuple[str, bool]]:
    context = lmer_context(fit)
    return context.groups if context is not None else {}


def _terms(fit: Any) -> Mapping[str, str] | None:
    context = lmer_context(fit)
    return context.terms if context is not None else None


def _group_name(fit: Any, name: str) -> str:
    return _groups(fit).get(name, (name, False))[0]


def _level_label(fit: Any, group: str, level: str) -> str:
    lme4_name, reverse = _groups(fit).get(group, (group, False))
    parts = level.split("/")
    return ":".join(reversed(parts) if reverse else parts)


def fit_lmer(formula: str, data: pd.DataFrame, *, reml: bool = True) -> Any:
    """Fit an lme4-formula linear mixed model with mixedlm, after lme4's own checks.

    Parameters
    ----------
    formula
        An lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data
        The data; every column the formula names must exist and have no missing values.
    reml
        REML (the default, as lme4) or maximum likelihood.

    Returns
    -------
    mixedlm.models.lmer.LmerResult
        mixedlm's result object, unwrapped.

    Raises
    ------
    ValueError
        For ``data`` not a non-empty DataFrame, a missing column, missing values, a grouping
        factor with one level or with one observation per level, a non-numeric response, or
        ``reml`` not a bool.
    RuntimeError
        If mixedlm fails to fit.
    """
    reml = check_bool("reml", reml)
    require_rows(data)
    parsed = parse_formula(formula)  # linear time; says what is wrong and where
    if _needs_front_end(parsed):
        return _fit_lmer_design(formula, data, reml=reml)
    response, columns, _ = _formula_columns(formula)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"the formula names columns not in the data: {missing}")
    used = data[columns]
    has_na = [c for c in columns if used[c].isna().any()]
    if has_na:
        raise ValueError(f"columns {has_na} have missing values; drop or impute them first")
    y = numeric_response(used, response)  # numeric, finite, not too large to square
    if y.size and np.ptp(y) == 0:
        raise ValueError(
            f"the response {response!r} is constant (every value is {y[0]:g}): the residual "
            "SD is 0 and the REML criterion -Inf, so there is nothing to fit"
        )
    n = len(used)
    _, _, groups = _formula_columns(formula)
    for label, levels in _grouping_levels(used, formula).items():
        check_grouping_levels(label, levels, n, kind="grouping factor")
    fixed_part = set(_NAME.findall(_BAR.sub(" ", formula.split("~", 1)[1])))
    coefficients: dict[str, int] = {}
    for col in columns[1:]:
        if col in groups:
            continue
        column = used[col]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            if not np.all(np.isfinite(column.to_numpy(dtype=float))):
                raise ValueError(f"column {col!r} has infinite values")
            n_coef = 1
        else:  # a factor: lme4's contrasts need two levels
            levels = (
                column.cat.remove_unused_categories().cat.categories
                if isinstance(column.dtype, pd.CategoricalDtype)
                else pd.unique(column)
            )
            check_fixed_factor_levels(col, list(levels))
            n_coef = len(levels) - 1
        if col in fixed_part:
            coefficients[col] = n_coef
    if coefficients:
        check_fixed_dimension(n, coefficients, reml=reml)
    notes = [
        f"the random-effect column {col!r} is constant, so its term duplicates the random "
        "intercept and the fit cannot tell the two apart (lme4 warns that it is unable to "
        "evaluate the scaled gradient)"
        for col in _slope_columns(formula)
        if col in used
        and pd.api.types.is_numeric_dtype(used[col])
        and not pd.api.types.is_bool_dtype(used[col])
        and np.ptp(used[col].to_numpy(float)) == 0
    ]
    frame = used.copy()
    for col in frame.columns:
        if frame[col].dtype == bool:
            frame[col] = frame[col].astype(str)
    fit, dropped = _run_mixedlm(
        formula,
        frame,
        reml=reml,
        formula=formula,
        dropped_of=lambda fit: _dropped_columns(formula, frame, fit),
        notes=notes,
    )
    context = LmerContext(formula, frame, _lme4_group_names(formula), tuple(dropped))
    return _remember(fit, context)


def _run_mixedlm(
    fit_formula: str,
    frame: pd.DataFrame,
    *,
    reml: bool,
    formula: str,
    dropped_of: Any,
    notes: list[str],
) -> tuple[Any, list[str]]:
    """Fit with mixedlm and report as lme4 does; return the fit and the dropped columns.

    A rank-deficient design is a warning naming the dropped columns (lme4: a message, here the
    columns lme4 drops), never text that mixedlm prints on stdout; mixedlm's other warnings are
    passed on, the ``notes`` warned after them, a singular fit warned as lme4 warns it.
    """
    import mixedlm

    control = mixedlm.lmerControl(check_rankX="warning+drop.cols")
    try:
        with warnings.catch_warnings(record=True) as caught, _lme4_rank_check():
            warnings.simplefilter("always")
            fit = mixedlm.lmer(fit_formula, frame, REML=reml, control=control)
    except (ValueError, np.linalg.LinAlgError, ArithmeticError) as err:
        raise RuntimeError(f"mixedlm could not fit {formula!r}: {err}") from err
    dropped: list[str] = []
    for w in caught:
        message = str(w.message)
        if "rank deficient" in message:
            dropped = dropped_of(fit)
            notes.append(
                f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
                f"column(s): {dropped}"
            )
        elif "singular" not in message.lower():
            warnings.warn(f"mixedlm: {message}", RuntimeWarning, stacklevel=3)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    if not np.all(np.isfinite(fit.theta)) or not np.isfinite(fit.sigma):
        raise RuntimeError(f"mixedlm's fit of {formula!r} did not give finite estimates")
    if bool(fit.isSingular()):
        warnings.warn("boundary (singular) fit: see help('isSingular')", UserWarning, stacklevel=3)
    return fit, dropped


def _fit_lmer_design(formula: str, data: pd.DataFrame, *, reml: bool) -> Any:
    """Fit a formula with transformations through the shared front end (log(y), I(x - 40))."""
    design = build_design(formula, data)
    if design.trials is not None:
        raise ValueError("a cbind(successes, failures) response is binomial: use glmer")
    if design.offset is not None:
        raise ValueError(
            "offset() terms are not supported by lmer here; subtract the offset "
            "from the response instead"
        )
    y = np.asarray(design.y, dtype=float)
    name = design.response_name
    check_response_scale(name, float(np.max(np.abs(y))) if y.size else 0.0)
    if y.size and np.ptp(y) == 0:
        raise ValueError(
            f"the response {name!r} is constant (every value is {y[0]:g}): the "
            "residual SD is 0 and the REML criterion -Inf, so there is nothing to fit"
        )
    for term in design.random:
        check_grouping_levels(term.group, term.n_levels, design.n_obs, kind="grouping factor")
    frame, safe_formula, names = design.frame()

    def dropped_of(fit: Any) -> list[str]:
        kept = set(fit.getME("fixef_names"))
        return [names[c] for c in names if c.startswith("x") and c not in kept]

    fit, dropped = _run_mixedlm(
        safe_formula, frame, reml=reml, formula=formula, dropped_of=dropped_of, notes=[]
    )
    groups = {safe: (lme4_name, False) for safe, lme4_name in names.items() if safe.startswith("g")}
    # the data as given: a refit (profiles refit by ML) goes through the same front end
    return _remember(fit, LmerContext(formula, data, groups, tuple(dropped), names))


def _term_name(fit: Any, name: str, data: pd.DataFrame | None) -> str:
    """lme4's name of a term of ``fit`` (the front end's name where it built the columns)."""
    terms = _terms(fit)
    if terms is not None and name in terms:
        return terms[name]
    return lme4_term_name(name, data)


def _independent_columns(x: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Return the columns of ``x`` that lme4 keeps, in order.

    A column is kept unless it is (nearly) a combination of the columns kept before it, as R's
    ``qr`` (LINPACK's limited pivoting) decides with tolerance 1e-7.
    """
    basis = np.zeros((x.shape[0], 0))
    kept = []
    for j in range(x.shape[1]):
        column = np.asarray(x[:, j], dtype=float)
        rest = column - basis @ (basis.T @ column)
        norm = float(np.linalg.norm(rest))
        if norm > tol * max(float(np.linalg.norm(column)), np.finfo(float).tiny):
            kept.append(j)
            basis = np.column_stack([basis, rest / norm])
    return kept


@contextlib.contextmanager
def _lme4_rank_check() -> Any:
    """Make mixedlm drop the columns of a rank-deficient design that lme4 drops.

    mixedlm 1.3.0 keeps the columns a pivoted QR picks first (the largest), so with
    ``x2 = 2 x`` it keeps ``x2``; lme4 keeps columns in their order and drops the later ones
    (``x2``), which changes the estimates and, through the REML determinant, the criterion.
    Within this block mixedlm's check is replaced by one that keeps columns as lme4 does.
    """
    from mixedlm.models import checks

    original = checks.check_rankX

    def in_order(matrices: Any, action: str) -> tuple[np.ndarray, list[int] | None]:
        x = matrices.X
        kept = _independent_columns(np.asarray(x, dtype=float)) if x.shape[1] else []
        if len(kept) == x.shape[1]:
            return x, None
        dropped = sorted(set(range(x.shape[1])) - set(kept))
        warnings.warn(
            f"Fixed-effects design matrix is rank deficient (rank {len(kept)} < "
            f"{x.shape[1]} columns). Dropping columns: {dropped}",
            UserWarning,
            stacklevel=2,
        )
        return x[:, kept], dropped

    checks.check_rankX = in_order
    try:
        yield
    finally:
        checks.check_rankX = original


def _dropped_columns(formula: str, frame: pd.DataFrame, fit: Any) -> list[str]:
    """Return lme4's names of the fixed-effect columns mixedlm dropped as linearly dependent."""
    import mixedlm

    full = list(mixedlm.lFormula(formula, frame).matrices.fixed_names)
    kept = set(fit.getME("fixef_names"))
    return [lme4_term_name(name, frame) for name in full if name not in kept]


def lme4_term_name(name: str, data: pd.DataFrame | None) -> str:
    """Return lme4's name for a mixedlm coefficient: ``Bow.1`` -> ``BowSouthwood``.

    mixedlm names the treatment contrast of level ``k`` of factor ``F`` as ``F.k``; lme4 as
    ``F`` followed by the level's label. Levels are ordered as lme4 orders them (a pandas
    categorical's categories, else the sorted labels). Names without a factor are unchanged.
    """
    if data is None:
        return name
    for part_sep in (":",):
        if part_sep in name:
            return part_sep.join(lme4_term_name(p, data) for p in name.split(part_sep))
    match = re.fullmatch(r"(.+)\.(\d+)", name)
    if not match or match.group(1) not in data.columns:
        return name
    column = data[match.group(1)]
    if pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype):
        return name
    levels = (
        list(column.cat.categories)
        if isinstance(column.dtype, pd.CategoricalDtype)
        else sorted(column.astype(str).unique())
    )
    k = int(match.group(2))
    return f"{match.group(1)}{levels[k]}" if k < len(levels) else name


def _data(fit: Any) -> pd.DataFrame | None:
    context = lmer_context(fit)
    return context.data if context is not None else None


def fixef_frame(fit: Any) -> pd.DataFrame:
    """Return the fixed effects as lme4's ``coef(summary(fit))``: term, estimate, SE, t."""
    names = list(fit.getME("fixef_names"))
    beta = np.asarray(fit.beta, dtype=float)
    se = np.sqrt(np.diag(np.asarray(fit.vcov(), dtype=float)))
    return pd.DataFrame(
        {
            "term": [_term_name(fit, n, _data(fit)) for n in names],
            "estimate": beta,
            "std_error": se,
            "t_value": beta / se,
        }
    )


def varcorr_frame(fit: Any) -> pd.DataFrame:
    """Return the variance components as lme4's ``as.data.frame(VarCorr(fit))``.

    Columns ``grp``, ``var1``, ``var2`` (empty unless the row is a correlation), ``vcov``
    (variance or covariance) and ``sdcor`` (SD or correlation); the residual row last.
    """
    rows = []
    data = _data(fit)
    for group in fit.VarCorr().groups.values():
        names = [_term_name(fit, n, data) for n in group.term_names]
        grp = _group_name(fit, group.name)
        cov = np.asarray(group.cov, dtype=float)
        sd = np.sqrt(np.diag(cov))
        for i, name in enumerate(names):
            # lme4 splits (x || g) into terms g, g.1, g.2, ...
            label = grp if group.corr is not None or i == 0 else f"{grp}.{i}"
            rows.append((label, name, "", cov[i, i], sd[i]))
        if group.corr is not None:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    cor = cov[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan
                    rows.append((grp, names[i], names[j], cov[i, j], cor))
    rows.append(("Residual", "", "", float(fit.sigma) ** 2, float(fit.sigma)))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])


def ranef_frame(fit: Any) -> pd.DataFrame:
    """Return the conditional modes as lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``.

    Columns ``grpvar``, ``term``, ``grp`` (the level), ``condval`` and ``condsd``.
    """
    tidy = fit.tidy(effects="ran_vals")
    data = _data(fit)
    groups = tidy["group"].astype(str).to_list()
    return pd.DataFrame(
        {
            "grpvar": [_group_name(fit, g) for g in groups],
            "term": [_term_name(fit, str(t), data) for t in tidy["term"]],
            "grp": [
                _level_label(fit, g, str(level))
                for g, level in zip(groups, tidy["level"], strict=True)
            ],
            "condval": tidy["estimate"].to_numpy(dtype=float),
            "condsd": tidy["std.error"].to_numpy(dtype=float),
        }
    )


def is_singular(fit: Any, tol: float = SINGULAR_TOL) -> bool:
    """Return whether the fit is on the boundary (a zero SD or a correlation of ±1), as lme4."""
    return bool(fit.isSingular(tol=tol)) if _accepts_tol(fit) else bool(fit.isSingular())


def _accepts_tol(fit: Any) -> bool:
    import inspect

    return "tol" in inspect.signature(fit.isSingular).parameters


# ---------------------------------------------------------------------------------------------
# Profiles of the variance parameters (lme4's devfun2 and confint(method = "profile"))


@dataclass
class _Term:
    group: str
    names: list[str]
    correlated: bool
    theta_index: np.ndarray  # theta indices of the lower-triangular template, column-major
    positions: list[tuple[int, int]]  # (row, column) of each theta entry in the template


class _Deviance:
    """ML deviance of a fitted model as a function of SDs, correlations and sigma."""

    def __init__(self, fit: Any) -> None:
        q = int(fit.getME("q"))
        if q > MAX_PROFILE_RANDOM:
            raise ValueError(
                f"profiling needs dense algebra on the {q} random effects; this module "
                f"profiles at most {MAX_PROFILE_RANDOM}"
            )
        z = sparse.csc_matrix(fit.getME("Z"))
        x = np.asarray(fit.getME("X"), dtype=float)
        y = np.asarray(fit.getME("y"), dtype=float)
        self.n = len(y)
        self.lambdat, self.lind = _lambdat_template(fit)
        self.ztz = (z.T @ z).toarray()
        self.ztx = np.asarray(z.T @ x)
        self.zty = np.asarray(z.T @ y).ravel()
        self.xtx = x.T @ x
        self.xty = x.T @ y
        self.yty = float(y @ y)
        self.terms = self._terms(fit)
        self.n_theta = len(np.asarray(fit.theta))
        coo = self.lambdat.tocoo()  # Lambdat[r, c] = theta[Lind[k]] in CSR data order
        csr_order = np.lexsort((coo.col, coo.row))
        self.lam_rows = coo.col[csr_order]  # Lambda = Lambdat.T
        self.lam_cols = coo.row[csr_order]
        self.q = q

    def _terms(self, fit: Any) -> list[_Term]:
        gp = np.asarray(fit.getME("Gp"), dtype=int)
        cnms = fit.getME("cnms")
        groups = list(fit.VarCorr().groups.values())
        if len(groups) != len(gp) - 1 or len(cnms) != len(groups):
            raise ValueError("profiling supports one random-effect term per grouping factor")
        lam = self.lambdat.T.tocsr()
        data = _data(fit)
        terms = []
        for t, group in enumerate(groups):
            k = len(group.term_names)
            start = gp[t]
            block = lam[start : start + k, start : start + k].tocoo()
            # which theta each template entry holds: read off Lind through Lambdat's layout
            index_of = {}
            lt = self.lambdat
            for row in range(start, start + k):
                for ptr in range(lt.indptr[row], lt.indptr[row + 1]):
                    col = lt.indices[ptr]
                    if start <= col < start + k:
                        # Lambdat[row, col] = Lambda[col, row]
                        index_of[(col - start, row - start)] = self.lind[ptr]
            positions = sorted(index_of, key=lambda rc: (rc[1], rc[0]))
            del block
            terms.append(
                _Term(
                    group=_group_name(fit, group.name),
                    names=[lme4_term_name(n, data) for n in group.term_names],
                    correlated=group.corr is not None and k > 1,
                    theta_index=np.array([index_of[p] for p in positions]),
                    positions=positions,
                )
            )
        return terms

    # parameter vector: per term its SDs then its correlations (lower triangle, column-major),
    # then sigma; names as lme4's confint(oldNames = FALSE)
    def names(self) -> list[str]:
        out = []
        for term in self.terms:
            out += [f"sd_{n}|{term.group}" for n in term.names]
            if term.correlated:
                k = len(term.names)
                for j in range(k):
                    for i in range(j + 1, k):
                        out.append(f"cor_{term.names[i]}.{term.names[j]}|{term.group}")
        return out + ["sigma"]

    def kinds(self) -> list[str]:
        return [n.split("_", 1)[0] if n != "sigma" else "sigma" for n in self.names()]

    def to_theta(self, psi: np.ndarray) -> tuple[np.ndarray, float]:
        sigma = float(psi[-1])
        theta = np.zeros(self.n_theta)
        at = 0
        for term in self.terms:
            k = len(term.names)
            sd = psi[at : at + k]
            at += k
            corr = np.eye(k)
            if term.correlated:
                for j in range(k):
                    for i in range(j + 1, k):
                        corr[i, j] = corr[j, i] = psi[at]
                        at += 1
            cov = corr * np.outer(sd, sd) / sigma**2
            try:
                chol = np.linalg.cholesky(cov + 1e-14 * np.eye(k))
            except np.linalg.LinAlgError:
                w, v = np.linalg.eigh(cov)
                chol = np.linalg.cholesky(v @ np.diag(np.clip(w, 1e-14, None)) @ v.T)
            for idx, (r, c) in zip(term.theta_index, term.positions, strict=True):
                theta[idx] = chol[r, c]
        return theta, sigma

    def __call__(self, psi: np.ndarray) -> float:
        theta, sigma = self.to_theta(psi)
        if sigma <= 0:
            return np.inf
        lam = np.zeros((self.q, self.q))
        lam[self.lam_rows, self.lam_cols] = theta[self.lind]
        a11 = lam.T @ self.ztz @ lam + np.eye(lam.shape[0])
        a12 = lam.T @ self.ztx
        c1 = lam.T @ self.zty
        try:
            l11 = np.linalg.cholesky(a11)
        except np.linalg.LinAlgError:
            return np.inf
        ldl2 = 2.0 * float(np.sum(np.log(np.diag(l11))))
        w = linalg.solve_triangular(l11, np.column_stack([a12, c1]), lower=True)
        rzx, cu = w[:, :-1], w[:, -1]
        rx = self.xtx - rzx.T @ rzx
        rhs = self.xty - rzx.T @ cu
        try:
            beta = np.linalg.solve(rx, rhs)
        except np.linalg.LinAlgError:  # the random effects absorb a fixed effect
            return np.inf
        pwrss = self.yty - float(cu @ cu) - float(rhs @ beta)
        return ldl2 + self.n * np.log(2 * np.pi * sigma**2) + pwrss / sigma**2


def _lambdat_template(fit: Any) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Return ``Lambdat`` with every entry the parameters can fill, and ``Lind``.

    At a singular fit some of theta is 0 and mixedlm's ``Lambdat`` leaves those entries out of
    its sparse structure, which then no longer matches ``Lind``. The template is rebuilt at
    theta = 1, 2, 3, ... instead, each stored value naming its theta (``Lind``).
    """
    lambdat = sparse.csr_matrix(fit.getME("Lambdat")).copy()
    lind = np.asarray(fit.getME("Lind"), dtype=int)
    if lambdat.nnz == len(lind):
        return lambdat, lind
    from mixedlm.estimation.reml import _build_lambda

    marker = np.arange(1.0, len(np.asarray(fit.theta)) + 1.0)
    template = sparse.csr_matrix(_build_lambda(marker, fit.matrices.random_structures).T)
    template.sort_indices()
    return template, np.rint(template.data).astype(int) - 1


def _ml_estimates(dev: _Deviance, fit_ml: Any) -> np.ndarray:
    values = []
    vc = list(fit_ml.VarCorr().groups.values())
    for t, term in enumerate(dev.terms):
        group = vc[t]
        cov = np.asarray(group.cov, dtype=float)
        sd = np.sqrt(np.diag(cov))
        values += list(sd)
        if term.correlated:
            k = len(sd)
            for j in range(k):
                for i in range(j + 1, k):
                    values.append(cov[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else 0.0)
    values.append(float(fit_ml.sigma))
    return np.array(values, dtype=float)


def _profile_rows(
    dev: _Deviance, psi_hat: np.ndarray, d_hat: float, level: float
) -> list[tuple[str, float, float]]:
    """Profile every variance parameter: (name, lower, upper) rows."""
    kinds = dev.kinds()
    bounds = [(-1.0, 1.0) if kind == "cor" else (0.0, np.inf) for kind in kinds]
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for j, name in enumerate(dev.names()):
        others = [i for i in range(len(psi_hat)) if i != j]
        start = {"x": psi_hat[others]}

        def profiled(
            value: float, j: int = j, others: list[int] = others, start: dict = start
        ) -> float:
            def objective(free: np.ndarray) -> float:
                psi = psi_hat.copy()
                psi[j] = value
                psi[others] = free
                return dev(psi)

            box = [
                (
                    max(bounds[i][0], -0.999999) if kinds[i] == "cor" else 1e-10,
                    min(bounds[i][1], 0.999999) if kinds[i] == "cor" else None,
                )
                for i in others
            ]
            # from the last point of the profile (warm) and from the optimum (safe): the
            # better of the two, so that the profile does not depend on the path taken
            best = None
            for x0 in (start["x"], psi_hat[others]):
                res = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=box)
                if best is None or res.fun < best.fun:
                    best = res
            start["x"] = best.x
            return float(best.fun)

        def zeta(value: float, j: int = j, profiled: Any = profiled) -> float:
            change = max(profiled(value) - d_hat, 0.0)
            return float(np.sign(value - psi_hat[j]) * np.sqrt(change))

        lower_edge, upper_edge = bounds[j]
        # how close to an edge a parameter may go: a correlation of exactly ±1 or an SD of
        # exactly 0 is a boundary the deviance can still be evaluated next to
        lo_clamp = lower_edge + 1e-8 if kinds[j] == "cor" else 1e-10
        hi_clamp = upper_edge - 1e-8
        scale = max(abs(psi_hat[j]), 1e-3) if kinds[j] != "cor" else 0.1
        ends = []
        for direction in (-1, 1):
            start["x"] = psi_hat[others]
            inner, step, bound = psi_hat[j], 0.25 * scale, np.nan
            for _ in range(60):
                outer = min(max(psi_hat[j] + direction * step, lo_clamp), hi_clamp)
                at_edge = outer in (lo_clamp, hi_clamp)
                if direction * zeta(outer) >= z:
                    target = direction * z
                    a, b = min(inner, outer), max(inner, outer)
                    fa, fb = zeta(a) - target, zeta(b) - target
                    if fa * fb > 0:  # the optimiser disagreed with itself: keep the bracket end
                        bound = outer
                    else:
                        bound = optimize.brentq(lambda v, t=target: zeta(v) - t, a, b, xtol=1e-7)
                    break
                if at_edge:  # the interval reaches the edge of the parameter space
                    bound = lower_edge if direction < 0 else upper_edge
                    break
                inner, step = outer, step * 2.0
            ends.append(float(bound))
        rows.append((name, ends[0], ends[1]))
    return rows


def lme4_parameter_names(fit: Any, names: list[str]) -> list[str]:
    """Return lme4's parameter names: the formula front end's safe column names mapped back."""
    terms = _terms(fit)
    if not terms:
        return names
    pattern = r"(?<![A-Za-z0-9])(?:x\d+|z\d+_\d+|g\d+)(?![A-Za-z0-9_])"
    return [re.sub(pattern, lambda m: terms.get(m.group(0), m.group(0)), n) for n in names]


def refit_ml(fit: Any) -> Any:
    """Return the ML fit a mixedlm fit is profiled on: itself, or lme4's ``refitML(fit)``.

    Raises
    ------
    ValueError
        For a REML fit not made by :func:`fit_lmer` (the refit needs its data and formula).
    """
    if not fit.REML:
        return fit
    context = lmer_context(fit)
    if context is None:
        raise ValueError(
            "profiling a REML mixedlm fit refits it by ML, which needs a fit made by "
            "analysis.models.lmer.fit_lmer"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_lmer(context.formula, context.data, reml=False)


def profile_frame(fit: Any, level: float = 0.95) -> pd.DataFrame:
    """Return lme4's profile-likelihood intervals for every variance parameter and fixed effect.

    As ``confint(fit, method = "profile", oldNames = FALSE)``: rows ``sd_<term>|<group>``,
    ``cor_<term2>.<term1>|<group>``, ``sigma`` (on the ML deviance, as lme4's ``devfun2``
    refits REML models by ML to profile them), then the fixed effects (mixedlm's own
    profiles).

    Parameters
    ----------
    fit
        A result of :func:`fit_lmer`.
    level
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``parm``, ``lower``, ``upper``.
    """
    level = check_level(level)
    data = _data(fit)
    if data is None:
        raise ValueError("profile_frame needs a fit made by analysis.models.lmer.fit_lmer")
    fit_ml = refit_ml(fit)
    dev = _Deviance(fit_ml)
    psi_hat = _ml_estimates(dev, fit_ml)
    d_hat = dev(psi_hat)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
        # finite differences next to an edge of the parameter space meet inf - inf
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = _profile_rows(dev, psi_hat, d_hat, level)
    try:
        fixed = fit.profile(level=level)
        names = list(fit.getME("fixef_names"))
        for name in names:
            prof = fixed[name]
            rows.append((lme4_term_name(name, data), float(prof.ci_lower), float(prof.ci_upper)))
    except (ValueError, RuntimeError, KeyError) as err:  # pragma: no cover - mixedlm failure
        warnings.warn(f"mixedlm could not profile the fixed effects: {err}", stacklevel=2)
    table = pd.DataFrame(rows, columns=["parm", "lower", "upper"])
    table["parm"] = lme4_parameter_names(fit, list(table["parm"]))
    return table


def lrt(null_fit: Any, alt_fit: Any) -> dict[str, float]:
    """Return the likelihood-ratio test of two nested fits, after ML refits (lme4's anova).

    Returns ``chisq``, ``df`` and ``p`` (the naive chi-square reference: conservative when
    the null puts a variance on its boundary), with the ML ``deviance``, ``AIC`` and ``BIC`` of
    both models as ``deviance_null`` and so on.
    """
    import mixedlm

    result = mixedlm.anova(null_fit, alt_fit)
    return {
        "chisq": float(result.chi_sq[1]),
        "df": int(result.chi_df[1]),
        "p": float(result.p_value[1]),
        "deviance_null": float(result.deviance[0]),
        "deviance_alt": float(result.deviance[1]),
        "AIC_null": float(result.aic[0]),
        "AIC_alt": float(result.aic[1]),
        "BIC_null": float(result.bic[0]),
        "BIC_alt": float(result.bic[1]),
    }


def formula_of(fit: Any) -> str:
    """Return the formula of a fit as the user typed it (mixedlm's own, failing that)."""
    context = lmer_context(fit)
    if context is not None:
        return context.formula
    return str(fit.formula() if callable(fit.formula) else fit.formula)


def group_sizes(fit: Any) -> dict[str, int]:
    """Return the levels of every grouping factor, lme4's ``ngrps`` under lme4's names."""
    return {_group_name(fit, str(k)): int(v) for k, v in fit.ngrps().items()}
