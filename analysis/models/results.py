"""One result vocabulary for every fit of the book: lme4's ``as.data.frame`` layouts.

The fitters return their own result objects: statsmodels' random-intercept fit wrapped in
:class:`analysis.models.mixed.MixedFit`, the crossed REML fitter's
:class:`analysis.models.crossed.CrossedFit`, the large-data fitter's
:class:`analysis.models.large.LargeFit`, and mixedlm's ``LmerResult`` from
:func:`analysis.models.lmer.fit_lmer`. Each keeps what only it knows (a statsmodels result, a
profiled deviance, a Dask history). What every reader of a fit needs -- the comparison with
lme4, the command line, a chapter's table -- is the same small set of numbers, and
:func:`result_of` reads any fit into it, in one place: a :class:`FitResult` with

- ``fixed``: lme4's ``coef(summary(fit))`` -- ``term`` (lme4's names, e.g. ``BowSouthwood``),
  ``estimate``, ``std_error``;
- ``varcorr``: lme4's ``as.data.frame(VarCorr(fit))`` -- ``grp``, ``var1``, ``var2``, ``sdcor``
  (SDs, correlations in rows with a ``var2``; the residual row last, where there is one);
- ``ranef``: lme4's ``as.data.frame(ranef(fit, condVar = TRUE))`` -- ``grpvar``, ``term``,
  ``grp``, ``condval``, ``condsd``;
- ``criterion`` (the REML criterion of a REML fit, else the deviance), ``loglik``, ``reml``,
  ``n_obs``, ``singular``, and :meth:`FitResult.to_dict` / :meth:`FitResult.summary`.

A fit of a type it does not know is refused with a ``TypeError`` naming the type: the types are
checked, not guessed from their attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FIXED_COLUMNS",
    "VARCORR_COLUMNS",
    "RANEF_COLUMNS",
    "FitResult",
    "json_records",
    "result_of",
]

FIXED_COLUMNS = ["term", "estimate", "std_error"]
VARCORR_COLUMNS = ["grp", "var1", "var2", "sdcor"]
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
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


@dataclass(frozen=True)
class FitResult:
    """The numbers every fit of the book reports, in lme4's vocabulary.

    Attributes
    ----------
    kind
        Which fitter produced it (``"statsmodels"``, ``"crossed"``, ``"large"``,
        ``"mixedlm"``).
    method
        ``"REML"``, ``"ML"`` or the large-data method's name.
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

    @property
    def reml(self) -> bool:
        """Whether the fit is by REML."""
        return self.method == "REML"

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready objects (NaN as ``None``)."""
        return {
            "method": self.method,
            "n_obs": int(self.n_obs),
            "fixed": json_records(self.fixed),
            "varcorr": json_records(self.varcorr),
            "criterion": _clean(self.criterion),
            "loglik": _clean(self.loglik),
            "singular": self.singular,
            "converged": self.converged,
            "ranef": json_records(self.ranef),
        }

    def summary(self) -> str:
        """Return a printout in the shape of lme4's: variance components, then fixed effects."""
        lines = [f"Linear mixed model fit by {self.method}; {self.n_obs:,} observations"]
        if self.criterion is not None:
            label = "REML criterion" if self.reml else "deviance"
            lines.append(f"{label} at convergence: {self.criterion:.4f}")
        lines += ["", "Random effects:"]
        for row in self.varcorr.itertuples(index=False):
            if row.var2:
                lines.append(f"  {row.grp:<12} corr({row.var1}, {row.var2}) {row.sdcor: .4f}")
            else:
                lines.append(f"  {row.grp:<12} {row.var1 or '':<14} SD {row.sdcor:.4f}")
        lines += ["", "Fixed effects:", f"  {'term':<24} {'estimate':>12} {'std. error':>12}"]
        for row in self.fixed.itertuples(index=False):
            lines.append(f"  {row.term:<24} {row.estimate:>12.5g} {row.std_error:>12.5g}")
        return "\n".join(lines)


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
        :class:`~analysis.models.large.LargeFit` or mixedlm ``LmerResult``, or a
        :class:`FitResult` (returned as it is).

    Returns
    -------
    FitResult
        The fit's numbers in lme4's layouts.

    Raises
    ------
    TypeError
        For an object of any other type.
    """
    from analysis.models.crossed import CrossedFit
    from analysis.models.large import LargeFit
    from analysis.models.mixed import MixedFit

    if isinstance(fit, FitResult):
        return fit
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
            singular=bool(getattr(fit, "singular", False)),
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
        )
    try:
        from mixedlm.models.lmer import LmerResult
    except ImportError:  # pragma: no cover - mixedlm is a dependency
        LmerResult = ()  # type: ignore[assignment]  # noqa: N806
    if isinstance(fit, LmerResult):
        from analysis.models import lmer

        reml = bool(fit.REML)
        criterion = float(fit.REMLcrit() if reml else fit.deviance)
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
        )
    raise TypeError(f"not a fit of the book: {type(fit).__module__}.{type(fit).__name__}")


def _has_me(fit: Any, name: str) -> bool:
    try:
        fit.getME(name)
    except Exception:  # noqa: BLE001 - mixedlm raises various errors for unknown names
        return False
    return True
