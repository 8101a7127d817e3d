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

from analysis.datasets.archers import simulate_archers
from analysis.validation import check_level, check_positive_int, require_columns

__all__ = ["coef_table", "fit_ols", "balanced_archer_se", "bow_test_power", "SOUTHWOOD_TERM"]

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
    if shots_per_archer < 1:
        raise ValueError(f"shots_per_archer must be at least 1, got {shots_per_archer!r}")
    return float(residual_sd * np.sqrt(2.0 / shots_per_archer))


def bow_test_power(
    formulas: list[str],
    *,
    n_experiments: int,
    n_archers: int,
    shots: int,
    seed: int,
    alpha: float = 0.05,
    **simulate_kwargs: float,
) -> pd.DataFrame:
    """Estimate by simulation how often each model's bow test rejects at level ``alpha``.

    Each replicate simulates a new experiment with
    :func:`analysis.datasets.archers.simulate_archers` (new archers from the same
    population), fits every formula to it and records whether the Southwood coefficient's
    p-value is below ``alpha``.

    Parameters
    ----------
    formulas
        Model formulas that each contain the ``Bow`` factor, e.g. ``"Distance ~ Bow"``.
    n_experiments
        Number of simulated experiments.
    n_archers, shots
        Design of each experiment (see :func:`analysis.datasets.archers.simulate_archers`).
    seed
        Seed from which every replicate's seed is derived (:class:`numpy.random.SeedSequence`).
    alpha
        Significance level of the test.
    **simulate_kwargs
        Passed on to :func:`analysis.datasets.archers.simulate_archers` (e.g. ``bow_effect``).

    Returns
    -------
    pandas.DataFrame
        Indexed by formula, with columns ``power`` (the rejection rate), ``mc_se`` (its Monte
        Carlo standard error) and ``n_experiments``.
    """
    n_experiments = check_positive_int("n_experiments", n_experiments)
    if not formulas:
        raise ValueError("formulas must name at least one model")
    alpha = check_level(alpha, "alpha")
    children = np.random.SeedSequence(seed).spawn(n_experiments)
    rejections = np.zeros((n_experiments, len(formulas)), dtype=bool)
    for r, child in enumerate(children):
        data = simulate_archers(
            n_archers, shots, seed=int(child.generate_state(1)[0]), **simulate_kwargs
        ).data
        for f, formula in enumerate(formulas):
            rejections[r, f] = fit_ols(data, formula).pvalues[SOUTHWOOD_TERM] < alpha
    power = rejections.mean(axis=0)
    return pd.DataFrame(
        {
            "power": power,
            "mc_se": np.sqrt(power * (1 - power) / n_experiments),
            "n_experiments": n_experiments,
        },
        index=pd.Index(formulas, name="model"),
    )
