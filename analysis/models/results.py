"""One result vocabulary for every fit of the book: lme4's ``as.data.frame`` layouts.

The fitters return their own result objects: statsmodels' random-intercept fit wrapped in
:class:`analysis.models.mixed.MixedFit`, the crossed REML fitter's
:class:`analysis.models.crossed.CrossedFit`, the large-data fitter's
:class:`analysis.models.large.LargeFit`, mixedlm's ``LmerResult`` from
:func:`analysis.models.lmer.fit_lmer` and :class:`analysis.models.glmer.GlmerFit`. Each keeps what
only it knows (a statsmodels result, a profiled deviance, a Dask history). What every reader of a
fit needs -- the comparison with lme4, the command line, a chapter's table -- is the same small set
of numbers, and :func:`result_of` reads any fit into it, in one place: a :class:`FitResult` with

- ``fixed``: lme4's ``coef(summary(fit))`` -- ``term`` (lme4's names, e.g. ``BowSouthwood``),
  ``estimate``, ``std_error``;
- ``varcorr``: lme4's ``as.data.frame(VarCorr(fit))`` -- ``grp``, ``var1``, ``var2``, ``sdcor``
  (SDs, correlations in rows with a ``var2``; the residual row last, where there is one);
- ``ranef``: lme4's ``as.data.frame(ranef(fit, condVar = TRUE))`` -- ``grpvar``, ``term``,
  ``grp``, ``condval``, ``condsd``;
- ``criterion`` (the REML criterion of a REML fit, else the deviance), ``loglik``, ``reml``,
  ``n_obs``, ``singular``, ``family`` and ``link``, AIC and BIC;
- optional interval estimates, ``confint`` (lme4's VarCorr rows with ``estimate``, ``lower``,
  ``upper``) and ``fixed_confint``, added by :func:`with_intervals` from a table in lme4's
  ``confint`` names;
- ``extras``: what only one fitter reports (dropped columns, iterations, quadrature points);
- :meth:`FitResult.to_dict` (one JSON document) and :meth:`FitResult.summary` (one printout,
  as lme4's ``summary``), which the command line prints for every command.

A fit of a type it does not know is refused with a ``TypeError`` naming the type: the types are
checked, not guessed from their attributes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CONFINT_COLUMNS",
    "FIXED_COLUMNS",
    "VARCORR_COLUMNS",
    "RANEF_COLUMNS",
    "FitResult",
    "intercepts_formula",
    "json_records",
    "lme4_parm",
    "result_of",
    "with_intervals",
]

FIXED_COLUMNS = ["term", "estimate", "std_error"]
VARCORR_COLUMNS = ["grp", "var1", "var2", "sdcor"]
CONFINT_COLUMNS = ["grp", "var1", "var2", "estimate", "lower", "upper"]
RANEF_COLUMNS = ["grpvar", "term", "grp", "condval", "condsd"]


def _clean(value: object) -> object:
    """Return a JSON-ready scalar: NumPy numbers as Python ones, NaN and infinities as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Return a frame's rows as JSON-ready dicts (NumPy scalars as Python, NaN as None)."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column.dtype):  # column at a time: InstEval's modes
            values = column.to_numpy(dtype=float)
            cells = values.tolist()
            if not np.isfinite(values).all():
                cells = [v if math.isfinite(v) else None for v in cells]
        else:
            cells = [_clean(v) for v in column.tolist()]
        columns.append(cells)
    names = [str(name) for name in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


@dataclass(frozen=True)
class FitResult:
    """The numbers every fit of the book reports, in lme4's vocabulary.

    Attributes
    ----------
    kind
        Which fitter produced it (``"statsmodels"``, ``"crossed"``, ``"large"``,
        ``"mixedlm"``, ``"glmer"``).
    method
        ``"REML"``, ``"ML"``, the large-data method's name (``"moments+cg"``) or the GLMM's
        approximation (``"Laplace"``, ``"adaptive Gauss-Hermite (nAGQ = 9)"``).
    n_obs
        Number of observations.
    fixed, varcorr, ranef
        The fixed effects, variance components and conditional modes (module docstring).
    criterion
        The REML criterion of a REML fit, the deviance of an ML fit (``None`` where the method
        has none).
    loglik
        The (restricted) log-likelihood, ``None`` where the method has none.
    singular
        lme4's ``isSingular`` where the fitter reports it, else ``None``.
    converged
        Whether the optimiser reported success, where the fitter says, else ``None``.
    formula
        The model as an lme4 formula (``None`` if unknown).
    family, link
        The response distribution and link (``"gaussian"``, ``"identity"`` for a linear mixed
        model).
    n_groups
        Levels per grouping factor (``None``: counted from ``ranef``).
    df
        Number of parameters behind AIC and BIC (``None``: the fixed effects plus the rows
        of ``varcorr``, lme4's count for a linear mixed model).
    confint
        Interval estimates of the variance components, ``None`` if none were computed:
        lme4's VarCorr rows with their intervals, columns :data:`CONFINT_COLUMNS`
        (``grp``, ``var1``, ``var2``, ``estimate``, ``lower``, ``upper``).
    fixed_confint
        Intervals of the fixed effects, columns ``term``, ``estimate``, ``lower``, ``upper``,
        or ``None``.
    level
        Confidence level of both interval tables.
    confint_method
        How the intervals were computed (one sentence, printed with them).
    extras
        What only one fitter or command reports (JSON-ready values): mixedlm's dropped
        columns, the crossed fitter's evaluations, the large-data fitter's iterations and
        history, the GLMM's quadrature points and negative binomial shape, ...
    """

    kind: str
    method: str
    n_obs: int
    fixed: pd.DataFrame
    varcorr: pd.DataFrame
    ranef: pd.DataFrame
    criterion: float | None
    loglik: float | None
    singular: bool | None = None
    converged: bool | None = None
    formula: str | None = None
    family: str = "gaussian"
    link: str = "identity"
    n_groups: dict[str, int] | None = None
    df: int | None = None
    confint: pd.DataFrame | None = None
    fixed_confint: pd.DataFrame | None = None
    level: float | None = None
    confint_method: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def reml(self) -> bool:
        """Whether the fit is by REML."""
        return self.method == "REML"

    @property
    def linear(self) -> bool:
        """Whether the model is a linear mixed model (Gaussian response, identity link)."""
        return self.family == "gaussian"

    @property
    def criterion_name(self) -> str:
        """``"REML criterion"`` for a REML fit, else ``"deviance"``."""
        return "REML criterion" if self.reml else "deviance"

    @property
    def sigma(self) -> float | None:
        """The residual SD (``None`` for families without one)."""
        residual = self.varcorr.loc[self.varcorr["grp"] == "Residual", "sdcor"]
        return float(residual.iloc[0]) if len(residual) else None

    @property
    def group_sizes(self) -> dict[str, int]:
        """Levels per grouping factor, as lme4's ``ngrps``."""
        if self.n_groups is not None:
            return {str(k): int(v) for k, v in self.n_groups.items()}
        counts = self.ranef.groupby("grpvar", sort=False)["grp"].nunique()
        return {str(k): int(v) for k, v in counts.items()}

    @property
    def n_params(self) -> int | None:
        """Parameters counted by AIC and BIC (``None`` without a likelihood)."""
        if self.loglik is None:
            return None
        return int(self.df) if self.df is not None else len(self.fixed) + len(self.varcorr)

    @property
    def aic(self) -> float | None:
        """lme4's AIC, ``-2 logLik + 2 df`` (of the REML log-likelihood for a REML fit)."""
        n = self.n_params
        return None if n is None else -2.0 * float(self.loglik) + 2.0 * n  # type: ignore[arg-type]

    @property
    def bic(self) -> float | None:
        """lme4's BIC, ``-2 logLik + df log(n)``."""
        n = self.n_params
        if n is None:
            return None
        return -2.0 * float(self.loglik) + n * math.log(self.n_obs)  # type: ignore[arg-type]

    def fixed_table(self) -> pd.DataFrame:
        """Return the fixed effects with lme4's test statistic.

        ``t_value`` for a linear mixed model (lme4 gives no p-value there), ``z_value`` and
        ``p_value`` (normal reference) for a generalized one, as lme4's ``coef(summary())``.
        """
        table = self.fixed[FIXED_COLUMNS].copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = table["estimate"].to_numpy(float) / table["std_error"].to_numpy(float)
        if self.linear:
            table["t_value"] = stat
        else:
            from scipy import special

            table["z_value"] = stat
            table["p_value"] = 2.0 * special.ndtr(-np.abs(stat))
        return table

    def to_dict(self) -> dict[str, Any]:
        """Return the result as one JSON-ready document (NaN and infinities as ``None``).

        Keys, in order: ``kind``, ``formula``, ``family``, ``link``, ``method``, ``n_obs``,
        ``n_groups``, ``fixed`` (records of :meth:`fixed_table`), ``varcorr``, ``sigma``,
        ``criterion_name``, ``criterion``, ``loglik``, ``df``, ``AIC``, ``BIC``,
        ``singular``, ``converged``, ``confint`` (``None``, or ``level``, ``method``,
        ``varcorr`` and ``fixed`` records), ``extras`` and ``ranef`` (records).
        """
        confint = None
        if self.confint is not None or self.fixed_confint is not None:
            confint = {
                "level": _clean(self.level),
                "method": self.confint_method,
                "varcorr": [] if self.confint is None else json_records(self.confint),
                "fixed": [] if self.fixed_confint is None else json_records(self.fixed_confint),
            }
        return {
            "kind": self.kind,
            "formula": self.formula,
            "family": self.family,
            "link": self.link,
            "method": self.method,
            "n_obs": int(self.n_obs),
            "n_groups": self.group_sizes,
            "fixed": json_records(self.fixed_table()),
            "varcorr": json_records(self.varcorr),
            "sigma": _clean(self.sigma),
            "criterion_name": self.criterion_name if self.criterion is not None else None,
            "criterion": _clean(self.criterion),
            "loglik": _clean(self.loglik),
            "df": self.n_params,
            "AIC": _clean(self.aic),
            "BIC": _clean(self.bic),
            "singular": self.singular,
            "converged": self.converged,
            "confint": confint,
            "extras": _json_ready(self.extras),
            "ranef": json_records(self.ranef),
        }

    def summary(self, top: int = 0) -> str:
        """Return the printout of the fit, in the shape of lme4's ``summary``.

        Parameters
        ----------
        top
            How many conditional modes to show at each end of every grouping factor (the
            lowest and the highest); 0 shows none.

        Returns
        -------
        str
            The model and method; criterion, log-likelihood, AIC, BIC; the variance
            components; the fixed effects; the intervals, when computed; the conditional
            modes (``top`` > 0); and the fitter's extras.
        """
        return "\n".join(_summary_lines(self, top))


def _json_ready(value: Any) -> Any:
    """Return ``value`` (dicts, lists, scalars) with NumPy scalars as Python, NaN as None."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_ready(v) for v in value.tolist()]
    return _clean(value)


def _number(value: float) -> str:
    return "NaN" if not math.isfinite(value) else f"{value:.6g}"


def _table(frame: pd.DataFrame) -> list[str]:
    """Return a frame as indented text lines, each column under its name.

    Text is left-aligned; numbers are right-aligned with six significant digits; ``None`` is
    left blank (NaN is printed as ``NaN``).
    """
    columns = []
    for name in frame.columns:
        values = frame[name].tolist()
        numeric = all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            for v in values
            if v is not None
        )
        cells = ["" if v is None else _number(float(v)) if numeric else str(v) for v in values]
        width = max([len(str(name)), *(len(c) for c in cells)])
        align = str.rjust if numeric else str.ljust
        columns.append([align(str(name), width), *(align(c, width) for c in cells)])
    return ["  " + "  ".join(row).rstrip() for row in zip(*columns, strict=True)]


def _varcorr_text(varcorr: pd.DataFrame) -> pd.DataFrame:
    rows: list[tuple[Any, ...]] = []
    for row in varcorr.itertuples(index=False):
        sd = float(row.sdcor)
        if row.var2:
            rows.append((row.grp, f"{row.var1} : {row.var2}", None, None, sd))
        else:
            rows.append((row.grp, row.var1 or "", sd * sd, sd, None))
    columns = ["Groups", "Name", "Variance", "Std.Dev.", "Corr"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)  # None stays blank
    return frame if varcorr["var2"].astype(bool).any() else frame.drop(columns="Corr")


def _summary_lines(result: FitResult, top: int) -> list[str]:
    if not result.linear:
        how = f"Generalized linear mixed model fit by maximum likelihood ({result.method})"
    elif result.method in ("REML", "ML"):
        how = f"Linear mixed model fit by {'REML' if result.reml else 'maximum likelihood'}"
    else:
        how = f"Linear mixed model fit by {result.method}"
    lines = [f"{how} [{result.kind}]"]
    if not result.linear:
        shape = result.extras.get("nb_theta")
        theta = "" if shape is None else f", negative binomial shape (theta) {_number(shape)}"
        lines.append(f" Family: {result.family} ( {result.link} ){theta}")
    if result.formula:
        lines.append(f"Formula: {result.formula}")
    if result.criterion is not None:
        lines.append(f"{result.criterion_name} at convergence: {result.criterion:.4f}")
    if result.loglik is not None:
        lines.append(
            f"logLik {result.loglik:.4f}   AIC {result.aic:.2f}   BIC {result.bic:.2f}"
            f"   df {result.n_params}"
        )
    if result.singular:
        lines.append("boundary (singular) fit: see help('isSingular')")
    if result.converged is False:
        lines.append("the optimiser did not report convergence")
    lines += ["", "Random effects:", *_table(_varcorr_text(result.varcorr))]
    groups = "; ".join(f"{g}, {n}" for g, n in result.group_sizes.items())
    lines.append(f"Number of obs: {result.n_obs}, groups: {groups}")
    fixed = result.fixed_table().rename(
        columns={
            "term": "",
            "estimate": "Estimate",
            "std_error": "Std. Error",
            "t_value": "t value",
            "z_value": "z value",
            "p_value": "Pr(>|z|)",
        }
    )
    lines += ["", "Fixed effects:", *_table(fixed)]
    if result.confint is not None or result.fixed_confint is not None:
        level = f"{result.level:.0%} " if result.level is not None else ""
        lines += ["", f"{level}intervals: {result.confint_method or ''}".rstrip()]
        if result.confint is not None:
            lines += _table(result.confint)
        if result.fixed_confint is not None:
            lines += _table(result.fixed_confint)
    if top > 0 and len(result.ranef):
        for (grpvar, term), frame in result.ranef.groupby(["grpvar", "term"], sort=False):
            ordered = frame.sort_values("condval", kind="stable")
            if len(ordered) > 2 * top:
                ordered = pd.concat([ordered.head(top), ordered.tail(top)])
                which = f"the {top} lowest and {top} highest"
            else:
                which = "all"
            lines += [
                "",
                f"Conditional modes of {term} | {grpvar} ({len(frame)} levels; {which}):",
                *_table(ordered[["grp", "condval", "condsd"]]),
            ]
    shown = {
        k: v
        for k, v in result.extras.items()
        if k != "nb_theta"
        and (isinstance(v, (str, int, float, bool)) or (isinstance(v, list) and 0 < len(v) <= 10))
    }
    if shown:
        lines += ["", "Details:"]
        for key, value in shown.items():
            if isinstance(value, float):
                value = _number(value)
            elif isinstance(value, list):
                value = ", ".join(_number(v) if isinstance(v, float) else str(v) for v in value)
            lines.append(f"  {key}: {value}")
    return lines


def _statsmodels_term(name: str) -> str:
    """Return lme4's name of a statsmodels term (``Bow[T.Southwood]`` -> ``BowSouthwood``)."""
    if name == "Intercept":
        return "(Intercept)"
    if "[T." in name and name.endswith("]"):
        column, level = name[:-1].split("[T.", 1)
        return f"{column}{level}"
    return name


def _fixed(terms: list[str], estimate: Any, std_error: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "term": terms,
            "estimate": np.asarray(estimate, dtype=float),
            "std_error": np.asarray(std_error, dtype=float),
        }
    )


def intercepts_formula(response: str, fixed: Sequence[str], groups: Sequence[str]) -> str:
    """Return lme4's formula of random intercepts: ``y ~ service + (1 | s) + (1 | d)``.

    Parameters
    ----------
    response
        The response column.
    fixed
        The fixed-effect columns (none: ``1``, the intercept alone).
    groups
        The grouping columns, one random intercept each.
    """
    terms = [*(fixed or ["1"]), *(f"(1 | {g})" for g in groups)]
    return f"{response} ~ {' + '.join(terms)}"


def _intercept_varcorr(sds: dict[str, float], sigma: float | None) -> pd.DataFrame:
    rows = [(str(g), "(Intercept)", "", float(sd)) for g, sd in sds.items()]
    if sigma is not None:
        rows.append(("Residual", "", "", float(sigma)))
    return pd.DataFrame(rows, columns=VARCORR_COLUMNS)


def _intercept_ranef(effects: dict[str, pd.DataFrame], value: str, sd: str | None) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "grpvar": str(group),
                "term": "(Intercept)",
                "grp": [str(v) for v in frame.index],
                "condval": frame[value].to_numpy(float),
                "condsd": frame[sd].to_numpy(float) if sd and sd in frame else np.nan,
            }
        )
        for group, frame in effects.items()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RANEF_COLUMNS)


def result_of(fit: Any) -> FitResult:
    """Read any fit of the book into the one vocabulary (:class:`FitResult`).

    Parameters
    ----------
    fit
        A :class:`~analysis.models.mixed.MixedFit`, :class:`~analysis.models.crossed.CrossedFit`,
        :class:`~analysis.models.large.LargeFit`, :class:`~analysis.models.glmer.GlmerFit` or
        mixedlm ``LmerResult``, or a :class:`FitResult` (returned as it is).

    Returns
    -------
    FitResult
        The fit's numbers in lme4's layouts.

    Raises
    ------
    TypeError
        For an object of any other type.
    """
    if isinstance(fit, FitResult):
        return fit
    # A fit's class is defined in a module that is loaded already (it made the fit): the types
    # are checked without importing the other fitters (statsmodels, Dask, mixedlm take seconds)
    MixedFit = _loaded_class("analysis.models.mixed", "MixedFit")  # noqa: N806
    CrossedFit = _loaded_class("analysis.models.crossed", "CrossedFit")  # noqa: N806
    LargeFit = _loaded_class("analysis.models.large", "LargeFit")  # noqa: N806
    GlmerFit = _loaded_class("analysis.models.glmer", "GlmerFit")  # noqa: N806
    LmerResult = _loaded_class("mixedlm.models.lmer", "LmerResult")  # noqa: N806
    if isinstance(fit, MixedFit):
        table = fit.fixed
        ranef = pd.DataFrame(
            {
                "grpvar": fit.group,
                "term": "(Intercept)",
                "grp": [str(v) for v in fit.blups.index],
                "condval": fit.blups.to_numpy(float),
                "condsd": fit.blup_sd.reindex(fit.blups.index).to_numpy(float),
            }
        )
        return FitResult(
            kind="statsmodels",
            method="REML" if fit.reml else "ML",
            n_obs=int(fit.n_obs),
            fixed=_fixed(
                [_statsmodels_term(str(t)) for t in table.index], table["estimate"], table["se"]
            ),
            varcorr=_intercept_varcorr({fit.group: fit.sd_group}, fit.sd_resid),
            ranef=ranef,
            criterion=float(-2.0 * fit.loglik),
            loglik=float(fit.loglik),
            singular=bool(fit.singular),
            formula=f"{fit.response} ~ {' + '.join(fit.fixed_terms) or '1'} + (1 | {fit.group})",
            n_groups={str(fit.group): int(fit.n_groups)},
        )
    if isinstance(fit, CrossedFit):
        sds = fit.sds.drop("Residual")
        criterion = float(fit.criterion)
        return FitResult(
            kind="crossed",
            method="REML" if fit.reml else "ML",
            n_obs=int(fit.n_obs),
            fixed=_fixed(list(fit.fixed.index), fit.fixed["estimate"], fit.fixed["se"]),
            varcorr=_intercept_varcorr(sds.to_dict(), float(fit.sds["Residual"])),
            ranef=_intercept_ranef(fit.ranef, "mode", "cond_sd"),
            criterion=criterion,
            loglik=-criterion / 2.0,
            singular=bool(fit.singular),
            converged=fit.optimizer_status != "maxeval reached",
            formula=intercepts_formula(fit.response, list(fit.design.terms), fit.groups),
            extras={
                "n_evals": int(fit.n_evals),
                "optimizer_status": str(fit.optimizer_status),
                "theta": [float(t) for t in fit.theta],
            },
        )
    if isinstance(fit, LargeFit):
        sds = fit.sds.drop("Residual", errors="ignore")
        sigma = float(fit.sds["Residual"]) if "Residual" in fit.sds else None
        se = fit.fixed["se"] if "se" in fit.fixed else np.full(len(fit.fixed), np.nan)
        return FitResult(
            kind="large",
            method=str(fit.method),
            n_obs=int(fit.n_obs),
            fixed=_fixed(list(fit.fixed.index), fit.fixed["estimate"], se),
            varcorr=_intercept_varcorr(sds.to_dict(), sigma),
            ranef=_intercept_ranef(fit.ranef, "mode", None),
            criterion=None,
            loglik=None,
            converged=bool(fit.converged),
            extras={"iterations": int(fit.sweeps), "history": [float(h) for h in fit.history]},
        )
    if isinstance(fit, GlmerFit):
        return FitResult(
            kind="glmer",
            method="Laplace" if fit.nagq == 1 else f"adaptive Gauss-Hermite (nAGQ = {fit.nagq})",
            n_obs=int(fit.n_obs),
            fixed=fit.fixed[FIXED_COLUMNS].reset_index(drop=True),
            varcorr=fit.varcorr[VARCORR_COLUMNS].reset_index(drop=True),
            ranef=fit.ranef[RANEF_COLUMNS].reset_index(drop=True),
            criterion=float(fit.deviance),
            loglik=float(fit.loglik),
            singular=bool(fit.singular),
            converged=bool(fit.converged),
            formula=fit.formula,
            family=fit.family,
            link="logit" if fit.family == "binomial" else "log",
            n_groups=dict(fit.n_groups),
            df=int(fit.df),
            extras={
                "nAGQ": int(fit.nagq),
                **({} if fit.nb_shape is None else {"nb_theta": float(fit.nb_shape)}),
                "loglik_normalized": float(fit.loglik_normalized),
                "separation": list(fit.separation),
                "engine": fit.engine,
                "polish_gain": float(fit.polish_gain),
                "warnings": list(fit.messages),
            },
        )
    if isinstance(fit, LmerResult):
        from analysis.models import lmer

        reml = bool(fit.REML)
        criterion = float(fit.REMLcrit() if reml else fit.deviance)
        context = lmer.lmer_context(fit)
        return FitResult(
            kind="mixedlm",
            method="REML" if reml else "ML",
            n_obs=int(fit.getME("n")) if _has_me(fit, "n") else int(len(fit.fitted())),
            fixed=lmer.fixef_frame(fit)[FIXED_COLUMNS],
            varcorr=lmer.varcorr_frame(fit)[VARCORR_COLUMNS],
            ranef=lmer.ranef_frame(fit)[RANEF_COLUMNS],
            criterion=criterion,
            loglik=-criterion / 2.0,
            singular=lmer.is_singular(fit),
            converged=bool(fit.converged),
            formula=lmer.formula_of(fit),
            n_groups=lmer.group_sizes(fit),
            extras={
                "dropped_columns": list(context.dropped if context is not None else ()),
                "optimizer_message": str(fit.message),
            },
        )
    raise TypeError(f"not a fit of the book: {type(fit).__module__}.{type(fit).__name__}")


def _loaded_class(module: str, name: str) -> type | tuple[()]:
    """Return class ``name`` of ``module`` if the module is loaded, else ``()`` (matches nothing).

    An object of a class is made by the class's module, so a module that is not loaded has
    made no object to check.
    """
    import sys

    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else ()


def _has_me(fit: Any, name: str) -> bool:
    try:
        fit.getME(name)
    except Exception:  # noqa: BLE001 - mixedlm raises various errors for unknown names
        return False
    return True


def lme4_parm(grp: str, var1: str, var2: str) -> str:
    """Return lme4's ``confint`` name of a VarCorr row (``sd_Days|Subject``, ``sigma``)."""
    if grp == "Residual":
        return "sigma"
    if var2:
        return f"cor_{var2}.{var1}|{grp}"
    return f"sd_{var1}|{grp}"


def with_intervals(
    result: FitResult,
    intervals: pd.DataFrame,
    level: float,
    method: str,
    estimates: dict[str, float] | None = None,
) -> FitResult:
    """Return ``result`` with interval estimates named as lme4's ``confint`` names them.

    Parameters
    ----------
    result
        The fit.
    intervals
        Columns ``parm`` (``sd_<term>|<group>``, ``cor_<term2>.<term1>|<group>``, ``sigma``,
        or a fixed-effect term), ``lower`` and ``upper``; rows of parameters the fit does not
        have are ignored.
    level
        Their confidence level.
    method
        How they were computed, one sentence.
    estimates
        Point estimates by ``parm`` when they differ from the fit's (a profile on the ML
        deviance of a REML fit); default: the fit's own.

    Returns
    -------
    FitResult
        With :attr:`FitResult.confint` (VarCorr rows) and :attr:`FitResult.fixed_confint`.
    """
    by_parm = intervals.set_index("parm")[["lower", "upper"]]
    estimates = estimates or {}
    rows = []
    for row in result.varcorr.itertuples(index=False):
        names = [lme4_parm(row.grp, row.var1, row.var2)]
        base = re.sub(r"\.\d+$", "", str(row.grp))  # lme4 names (x || g)'s terms g, g.1, ...
        names.append(lme4_parm(base, row.var1, row.var2))
        parm = next((n for n in names if n in by_parm.index), None)
        if parm is not None:
            lower, upper = by_parm.loc[parm]
            estimate = estimates.get(parm, row.sdcor)
            rows.append((row.grp, row.var1, row.var2, estimate, lower, upper))
    confint = pd.DataFrame(rows, columns=CONFINT_COLUMNS).astype(
        {"estimate": float, "lower": float, "upper": float}
    )
    fixed = result.fixed[result.fixed["term"].isin(by_parm.index)]
    fixed_confint = pd.DataFrame(
        {
            "term": fixed["term"].to_list(),
            "estimate": [
                estimates.get(t, e) for t, e in zip(fixed["term"], fixed["estimate"], strict=True)
            ],
            "lower": by_parm.loc[fixed["term"], "lower"].to_numpy(float),
            "upper": by_parm.loc[fixed["term"], "upper"].to_numpy(float),
        }
    )
    return replace(
        result,
        confint=confint,
        fixed_confint=fixed_confint if len(fixed_confint) else None,
        level=float(level),
        confint_method=method,
    )
