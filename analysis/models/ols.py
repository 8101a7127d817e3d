"""Ordinary least squares helpers that return tidy tables.

These wrap :mod:`statsmodels` formulas; they exist so that chapters print compact, consistent
tables and can pull out single numbers (an estimate, a p-value) by name.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.regression.linear_model import RegressionResultsWrapper

from analysis.validation import check_level, check_positive, require_columns, require_rows

__all__ = ["coef_table", "fit_ols", "balanced_archer_se", "SOUTHWOOD_TERM"]

#: The name statsmodels gives the Southwood coefficient under treatment coding.
SOUTHWOOD_TERM = "Bow[T.Southwood]"


#: Functions a formula of :func:`fit_ols` may call (patsy's own; no Python beyond them).
SAFE_FORMULA_CALLS = frozenset(
    {"C", "I", "Q", "Treatment", "Sum", "Diff", "Poly", "Helmert", "center", "standardize"}
)


def check_formula(formula: str, columns: object) -> None:
    """Refuse a formula that would make patsy run Python code beyond column arithmetic.

    patsy evaluates every term of a formula as Python (``I(__import__('os')...)`` would
    run), so :func:`fit_ols` accepts only: column names, numbers, the operators
    ``+ - * / : ~ ^ **`` and parentheses, commas, the functions of
    :data:`SAFE_FORMULA_CALLS`, and quoted names only inside ``Q('...')``. Attribute access
    (``np.log``), indexing, keyword arguments and other strings are refused.

    Raises
    ------
    ValueError
        Naming the part of the formula that is not allowed.
    """
    known = {str(c) for c in columns} | SAFE_FORMULA_CALLS  # type: ignore[attr-defined]
    text = re.sub(r"""Q\((['"])[^'"\\]*\1\)""", " 0 ", formula)
    bad = re.search(r"[^\w\s+\-*/:~^(),.]", text)
    if bad:
        raise ValueError(
            f"formula {formula!r}: {bad.group()!r} is not allowed (only column names, numbers, "
            "operators and the functions C, I and Q; a name with spaces goes in Q('...'))"
        )
    text = re.sub(r"\b\d+\.?\d*(e[+-]?\d+)?|\.\d+", " 0 ", text)
    if "." in text:
        raise ValueError(f"formula {formula!r}: attribute access ('.') is not allowed")
    for name in re.findall(r"[A-Za-z_]\w*", text):
        if name not in known:
            raise ValueError(
                f"formula {formula!r} names {name!r}, which is neither a column of the data "
                f"nor one of the functions {sorted(SAFE_FORMULA_CALLS)}"
            )


def fit_ols(data: pd.DataFrame, formula: str) -> RegressionResultsWrapper:
    """Fit an OLS model from an R-style formula.

    The formula goes to patsy, which evaluates its terms as Python code; so that a formula
    from a file or a user cannot run code, it is first checked by :func:`check_formula`
    (column names, numbers, operators and patsy's ``C``, ``I``, ``Q`` and contrasts only).

    Parameters
    ----------
    data
        The data; every variable named in ``formula`` must be a column.
    formula
        A formula such as ``"Distance ~ Bow + Name"``.

    Returns
    -------
    statsmodels RegressionResultsWrapper
        The fitted model.

    Raises
    ------
    ValueError
        If ``data`` is empty or lacks a column that the formula names as a plain variable,
        or if the formula holds more than column arithmetic (see :func:`check_formula`).
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula must be a string like 'y ~ x', got {formula!r}")
    if isinstance(data, pd.DataFrame):
        check_formula(formula, data.columns)
    variables = {
        token.strip()
        for side in formula.split("~")
        for token in side.replace("*", "+").replace(":", "+").split("+")
        if token.strip().isidentifier()
    }
    require_columns(data, sorted(variables))
    require_rows(data)
    return smf.ols(formula, data=data).fit()


def coef_table(result: RegressionResultsWrapper, alpha: float = 0.05) -> pd.DataFrame:
    """Return the coefficients of a fitted model as a tidy table.

    Parameters
    ----------
    result
        A fitted statsmodels regression.
    alpha
        1 minus the confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed by term, with columns ``estimate``, ``se``, ``t``, ``p``, ``ci_low`` and
        ``ci_high``.
    """
    alpha = check_level(alpha, "alpha")
    ci = result.conf_int(alpha=alpha)
    table = pd.DataFrame(
        {
            "estimate": result.params,
            "se": result.bse,
            "t": result.tvalues,
            "p": result.pvalues,
            "ci_low": ci.iloc[:, 0],
            "ci_high": ci.iloc[:, 1],
        }
    )
    table.index.name = "term"
    return table


def balanced_archer_se(residual_sd: float, shots_per_archer: int) -> float:
    r"""Closed-form SE of an archer contrast in a balanced archer design.

    With every archer shooting ``n`` times in all, the difference between two archers' means
    has variance :math:`\sigma^2 (1/n + 1/n)`, so every treatment-coded archer coefficient has
    the same standard error :math:`\hat\sigma \sqrt{2/n}`.

    Parameters
    ----------
    residual_sd
        The residual standard error :math:`\hat\sigma`.
    shots_per_archer
        Shots per archer over both bows, :math:`n`.

    Returns
    -------
    float
        The standard error.
    """
    n = check_positive("shots_per_archer", shots_per_archer)
    return float(residual_sd * np.sqrt(2.0 / n))
