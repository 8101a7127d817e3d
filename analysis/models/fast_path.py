"""The fast path of ``lmer``: crossed or nested random intercepts go to the package's own fitter.

A user who types lme4's formula for InstEval, ``y ~ service + (1 | s) + (1 | d) + (1 | dept)``,
should not have to know that the package has a faster fitter for exactly that structure. The
``lmer`` command therefore reads every formula with the one formula front end
(:mod:`analysis.models.formula`), and when every random-effect term is a scalar intercept
``(1 | g)`` (crossed, or nested as ``(1 | a/b)``), the response is a plain column of numbers
and there is no offset, it fits the model with :func:`analysis.models.crossed.fit_crossed`
(lme4's profiled REML criterion on a sparse Cholesky factor, a few times faster than mixedlm on
InstEval, ``bench/bench_insteval_reml.py``) instead of mixedlm. Both reach lme4's optimum; the
test suite checks the two against each other and against lme4.

The result is an :class:`analysis.models.results.FitResult` in lme4's names (terms, groups and
levels as the formula front end names them), which the ``lmer`` command prints as it prints
every other fit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.models.formula import Design, build_design
from analysis.models.results import FitResult, result_of

__all__ = ["CrossedRoute", "crossed_route", "fit_crossed_route"]


@dataclass(frozen=True)
class CrossedRoute:
    """A formula with only scalar random intercepts, laid out for the crossed fitter.

    Attributes
    ----------
    design
        The evaluated formula.
    frame
        Columns ``y``, ``x1``, ... (the fixed-effect columns after the intercept) and
        ``g0``, ``g1``, ... (the grouping labels, as text).
    fixed
        The ``x`` column names, in order.
    groups
        The ``g`` column names, in order.
    """

    design: Design
    frame: pd.DataFrame
    fixed: list[str]
    groups: list[str]


def crossed_route(formula: str, data: pd.DataFrame) -> CrossedRoute | None:
    """Return the crossed fitter's layout of a formula, or ``None`` if it needs mixedlm.

    Parameters
    ----------
    formula
        An lme4 formula.
    data
        The data.

    Returns
    -------
    CrossedRoute or None
        ``None`` unless the formula has an intercept, at least one random term, every random
        term is ``(1 | g)`` for a distinct grouping factor, the response is not a ``cbind``,
        there is no offset and the fixed-effect columns are linearly independent.

    Raises
    ------
    ValueError
        If the formula cannot be read or evaluated on the data (the front end's messages).
    """
    design = build_design(formula, data)
    if (
        design.trials is not None
        or design.offset is not None
        or not design.random
        or not design.fixed_names
        or design.fixed_names[0] != "(Intercept)"
    ):
        return None
    if design.X.shape[1] >= design.n_obs or np.linalg.matrix_rank(design.X) < design.X.shape[1]:
        return None  # rank deficient: mixedlm drops the columns lme4 drops, and says so
    seen: set[str] = set()
    for term in design.random:
        if term.names != ["(Intercept)"] or term.group in seen:
            return None
        if not np.all(term.matrix == 1.0):
            return None
        seen.add(term.group)
    columns: dict[str, Any] = {"y": np.asarray(design.y, dtype=float)}
    fixed = [f"x{k}" for k in range(1, len(design.fixed_names))]
    for k, name in enumerate(fixed, start=1):
        columns[name] = np.asarray(design.X[:, k], dtype=float)
    groups = [f"g{t}" for t in range(len(design.random))]
    for name, term in zip(groups, design.random, strict=True):
        labels = np.asarray(term.levels, dtype=object)
        columns[name] = pd.Series(labels[term.codes], dtype=str)
    return CrossedRoute(design, pd.DataFrame(columns), fixed, groups)


def fit_crossed_route(route: CrossedRoute, *, reml: bool = True) -> FitResult:
    """Fit a :class:`CrossedRoute` with the crossed fitter; report it under lme4's names.

    Parameters
    ----------
    route
        From :func:`crossed_route`.
    reml
        REML (default) or maximum likelihood.

    Returns
    -------
    FitResult
        Terms, groups and levels named as the formula front end names them; the formula as
        the user gave it.
    """
    from analysis.models.crossed import fit_crossed

    fit = fit_crossed(route.frame, "y", route.fixed, route.groups, reml=reml)
    result = result_of(fit)
    design = route.design
    term_names = {"(Intercept)": "(Intercept)"} | dict(
        zip(route.fixed, design.fixed_names[1:], strict=True)
    )
    group_names = {g: term.group for g, term in zip(route.groups, design.random, strict=True)}
    fixed = result.fixed.assign(term=result.fixed["term"].map(term_names))
    varcorr = result.varcorr.assign(grp=result.varcorr["grp"].replace(group_names))
    ranef = result.ranef.assign(grpvar=result.ranef["grpvar"].map(group_names))
    # lme4 lists the factors with most levels first: the front end's order
    order = {term.group: k for k, term in enumerate(design.random)}
    varcorr = varcorr.sort_values(
        "grp", key=lambda s: s.map(lambda g: order.get(g, len(order))), kind="stable"
    ).reset_index(drop=True)
    formula = design.formula.text
    return replace(result, fixed=fixed, varcorr=varcorr, ranef=ranef, formula=formula)
