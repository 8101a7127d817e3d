"""Ordinary least squares helpers that return tidy tables.

These wrap :mod:`statsmodels` formulas; they exist so that chapters print compact, consistent
tables and can pull out single numbers (an estimate, a p-value) by name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.regression.linear_model import RegressionResultsWrapper

from analysis.validation import require_columns

__all__ = ["coef_table", "fit_ols", "balanced_archer_se", "SOUTHWOOD_TERM"]

#: The name statsmodels gives the Southwood coefficient under treatment coding.
SOUTHWOOD_TERM = "Bow[T.Southwood]"


def fit_ols(data: pd.DataFrame, formula: str) -> RegressionResultsWrapper:
    """Fit an OLS model from an R-style formula.

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
        If ``data`` is empty or lacks a column that the formula names as a plain variable.
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise ValueError(f"formula must be a string like 'y ~ x', got {formula!r}")
    variables = {
        token.strip()
        for side in formula.split("~")
        for token in side.replace("*", "+").replace(":", "+").split("+")
        if token.strip().isidentifier()
    }
    require_columns(data, sorted(variables))
    if len(data) == 0:
        raise ValueError("data is empty")
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
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
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
    if shots_per_archer < 1:
        raise ValueError(f"shots_per_archer must be at least 1, got {shots_per_archer!r}")
    return float(residual_sd * np.sqrt(2.0 / shots_per_archer))
