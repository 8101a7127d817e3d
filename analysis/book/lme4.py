"""The one comparison with lme4: any of the book's fits beside lme4's numbers for the same model.

lme4's numbers are committed under ``data/reference/`` by the R scripts in ``scripts/``, all in
one layout (``scripts/lme4_common.R``): a file is ``{"fits": {name: record}, "extras": {...}}``
and a record is the vocabulary of :class:`analysis.models.results.FitResult`, column by column
-- fixed effects (``term``, ``estimate``, ``std_error``, ``statistic``), variance components
(``grp``, ``var1``, ``var2``, ``sdcor``, as ``as.data.frame(VarCorr(fit))``), conditional modes
(``grpvar``, ``term``, ``grp``, ``condval``, ``condsd``), ``criterion`` (the REML criterion of a
REML fit, else -2 log-likelihood), ``loglik``, ``n_obs``, ``singular``, ``method``, ``AIC``,
``BIC`` -- with what one script adds (profile intervals, an ML refit, prediction-error SDs, ...)
under ``extras``. :func:`lme4_reference` reads one record into an :class:`Lme4Reference` (a
``FitResult`` with the formula, the profile intervals and the extras), and
:func:`read_reference` one whole file (its file-level ``extras``: anova tables and the like).
The fits of the book are read into the same vocabulary by
:func:`analysis.models.results.result_of`; :func:`compare_with_lme4` sets the two side by side
and :func:`assert_matches_lme4` asserts on that table, so there is one comparison, not one per
chapter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.models.results import FitResult, result_of
from analysis.validation import require_columns

__all__ = [
    "REFERENCE_FILES",
    "Lme4Reference",
    "read_reference",
    "lme4_reference",
    "reference_from_record",
    "fixef_frame",
    "varcorr_frame",
    "ranef_frame",
    "criterion",
    "compare_with_lme4",
    "TOLERANCES",
    "kind_of_quantity",
    "assert_matches_lme4",
]

#: The files :func:`lme4_reference` searches for a fit name, in this order (the first file with
#: the name wins: ``archers_50`` is the record of ``archers_lme4.json``, not of
#: ``archers_pev_lme4.json``, which fits the same model).
REFERENCE_FILES: tuple[str, ...] = (
    "archers_lme4.json",
    "lme4_lmer.json",
    "archers_50_crossed_lme4.json",
    "insteval_lme4.json",
    "insteval_dept_lme4.json",
    "sleepstudy_centring_lme4.json",
    "archers_pev_lme4.json",
    "archers_singular_lme4.json",
    "glmer_lme4.json",
    "hostile_lme4.json",
)

_FIXED = ["term", "estimate", "std_error"]
_VARCORR = ["grp", "var1", "var2", "sdcor"]
_RANEF = ["grpvar", "term", "grp", "condval", "condsd"]


@dataclass(frozen=True)
class Lme4Reference(FitResult):
    """lme4's numbers for one model: a :class:`FitResult` (``kind="lme4"``) and the rest.

    The formula, ``df`` (``attr(logLik(fit), "df")``), ``n_groups`` (``ngrps``) and ``extras``
    (what the script recorded besides: ``ml_refit``, ``pev_sd``, ``seconds``, ...) are
    :class:`FitResult`'s fields, so AIC and BIC are computed as for every fit.

    Attributes
    ----------
    name
        The fit's name in its file.
    data
        The CSV the model was fitted to (as the script names it), ``None`` if not recorded.
    profile
        ``confint(fit, method = "profile")`` as ``parm``, ``lower``, ``upper`` (lme4's
        ``oldNames = FALSE`` names), ``None`` where lme4 was not profiled.
    record
        The whole record as written.
    """

    name: str = ""
    data: str | None = None
    profile: pd.DataFrame | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def ml_refit(self) -> Lme4Reference:
        """The record of ``refitML(fit)``, where the script wrote one."""
        if "ml_refit" not in self.extras:
            raise KeyError(f"lme4's {self.name!r} has no ML refit recorded")
        return reference_from_record(self.extras["ml_refit"], f"{self.name} (ML refit)")

    def sd(self, grp: str, var1: str = "(Intercept)") -> float:
        """Return one SD of :attr:`varcorr` (``sd("Residual")`` is sigma)."""
        vc = self.varcorr
        if grp == "Residual":
            rows = vc[vc["grp"] == "Residual"]
        else:
            rows = vc[(vc["grp"] == grp) & (vc["var1"] == var1) & (vc["var2"] == "")]
        if len(rows) != 1:
            raise KeyError(f"lme4's {self.name!r} has no SD {var1!r} | {grp!r}")
        return float(rows["sdcor"].iloc[0])


@cache
def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _reference_dir() -> Path:
    from analysis.book.reproducibility import book_root

    return book_root() / "data" / "reference"


def read_reference(file: str | Path, folder: str | Path | None = None) -> dict[str, Any]:
    """Return one reference file as written: ``fits`` (name -> record), ``extras`` and versions.

    Parameters
    ----------
    file
        A file name under the reference folder (``"glmer_lme4.json"``) or a path.
    folder
        The reference folder (default ``data/reference`` of the book).
    """
    root = Path(folder) if folder is not None else _reference_dir()
    return _read((root / file).resolve())


def lme4_reference(
    name: str, file: str | Path | None = None, *, folder: str | Path | None = None
) -> Lme4Reference:
    """Return lme4's numbers for the fit ``name``.

    Parameters
    ----------
    name
        The fit's name in its file (``"archers_50"``, ``"sleepstudy"``, ``"insteval"``, ...).
    file
        The file that holds it (a name under ``folder`` or a path); by default the first of
        :data:`REFERENCE_FILES` that has a fit of that name.
    folder
        The reference folder (default ``data/reference`` of the book).

    Returns
    -------
    Lme4Reference

    Raises
    ------
    ValueError
        If no reference file has a fit ``name``.
    """
    files = [file] if file is not None else list(REFERENCE_FILES)
    for candidate in files:
        fits = read_reference(candidate, folder)["fits"]
        if name in fits:
            return reference_from_record(fits[name], name)
    known = sorted({k for f in files for k in read_reference(f, folder)["fits"]})
    raise ValueError(f"no lme4 reference {name!r}; known: {known}")


def reference_from_record(record: dict[str, Any], name: str = "") -> Lme4Reference:
    """Read one record, as ``scripts/lme4_common.R`` writes it, into an :class:`Lme4Reference`.

    For records that are not committed (the tests rerun lme4 on fresh data).
    """
    fixed = pd.DataFrame(record["fixed"])
    fixed = fixed[_FIXED + (["statistic"] if "statistic" in fixed else [])]
    varcorr = pd.DataFrame(record["varcorr"])[_VARCORR]
    varcorr["sdcor"] = varcorr["sdcor"].astype(float)  # null (a NaN correlation) as NaN
    ranef = pd.DataFrame(record["ranef"], columns=_RANEF).astype(
        {"grpvar": str, "term": str, "grp": str, "condval": float, "condsd": float}
    )
    extras = dict(record.get("extras") or {})
    profile = None
    if "profile" in extras:
        p = extras["profile"]
        profile = pd.DataFrame({"parm": p["parm"], "lower": p["lower"], "upper": p["upper"]})
    return Lme4Reference(
        kind="lme4",
        method=str(record["method"]),
        n_obs=int(record["n_obs"]),
        fixed=fixed,
        varcorr=varcorr,
        ranef=ranef,
        criterion=float(record["criterion"]),
        loglik=float(record["loglik"]),
        singular=bool(record["singular"]),
        converged=bool(record["converged"]),
        name=name,
        formula=str(record["formula"]),
        df=int(record["df"]),
        n_groups={str(k): int(v) for k, v in (record.get("ngrps") or {}).items()} or None,
        data=record.get("data"),
        profile=profile,
        extras=extras,
        record=record,
    )


# ---------------------------------------------------------------------------------------------
# The book's fits in lme4's vocabulary: analysis.models.results reads every fitter's result
# ---------------------------------------------------------------------------------------------


def fixef_frame(fit: Any) -> pd.DataFrame:
    """Return a fit's fixed effects, lme4's term names: ``term``, ``estimate``, ``std_error``."""
    return result_of(fit).fixed


def varcorr_frame(fit: Any) -> pd.DataFrame:
    """Return a fit's SDs (and correlations) as lme4's ``as.data.frame(VarCorr(fit))``."""
    return result_of(fit).varcorr


def ranef_frame(fit: Any) -> pd.DataFrame:
    """Return a fit's conditional modes and SDs as lme4's ``as.data.frame(ranef(fit))``."""
    return result_of(fit).ranef


def criterion(fit: Any) -> float:
    """Return a fit's REML criterion (REML fits) or deviance (ML fits), lme4's numbers."""
    value = result_of(fit).criterion
    if value is None:
        raise ValueError("this fit has no likelihood criterion (a method of moments fit)")
    return float(value)


def _reml(fit: Any) -> bool:
    return result_of(fit).reml


def _profile_in_lme4_terms(profile: pd.DataFrame) -> pd.DataFrame:
    """Return a profile's ``lower`` and ``upper`` indexed by lme4's parameter names.

    Accepts :func:`analysis.models.profile.confint` (index ``parameter``) and frames with a
    ``parm`` column (mixedlm's :func:`analysis.models.lmer.profile_frame`).
    """
    if "parm" in profile.columns:
        frame = profile.set_index("parm")
    elif profile.index.name == "parameter":
        frame = profile
    else:
        raise ValueError(
            "profile must name lme4's parameters in a 'parm' column or an index named "
            "'parameter' (as confint(fit) does)"
        )
    require_columns(frame, ["lower", "upper"], argname="profile")
    return frame[["lower", "upper"]].rename_axis("parm")


def _varcorr_label(row: pd.Series) -> str:
    if row["var2"]:
        return f"cor {row['var1']}, {row['var2']} | {row['grp']}"
    if row["var1"]:
        return f"SD {row['var1']} | {row['grp']}"
    return "sigma"


def compare_with_lme4(
    name: str | Lme4Reference,
    fit: Any,
    *,
    profile: pd.DataFrame | None = None,
    modes: bool = False,
) -> pd.DataFrame:
    """Set a fit beside lme4's numbers for the same model: one row per quantity.

    Parameters
    ----------
    name
        The reference model's name (see :func:`lme4_reference`), or a reference already read
        (:func:`lme4_reference`, :func:`reference_from_record`).
    fit
        A fit of the same model: a ``MixedFit``, a ``CrossedFit`` or a mixedlm fit.
    profile
        Profile intervals of the fit, compared with lme4's ``confint``: the frame of
        :func:`analysis.models.profile.confint` (indexed by lme4's parameter names), or one
        with a ``parm`` column of those names (mixedlm's
        :func:`analysis.models.lmer.profile_frame`).
    modes
        Add two rows: the largest difference over all conditional modes, and over their
        conditional SDs (the ``python`` and ``lme4`` cells of these rows are empty).

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity``, ``python``, ``lme4`` and ``difference`` (python minus lme4).

    Raises
    ------
    ValueError
        If the fit is not of the reference's kind (REML against ML), or a term, variance
        component or level of the reference is missing from the fit.
    """
    ref = lme4_reference(name) if isinstance(name, str) else name
    if not isinstance(ref, Lme4Reference):
        raise TypeError(f"not an lme4 reference: {type(ref).__name__} (see lme4_reference)")
    if _reml(fit) != ref.reml:
        raise ValueError(
            f"the fit is {'REML' if _reml(fit) else 'ML'}, lme4's {ref.formula!r} is not"
        )
    rows: list[tuple[str, float, float]] = []
    mine = fixef_frame(fit).set_index("term")
    missing = sorted(set(ref.fixed["term"]) - set(mine.index))
    if missing:
        raise ValueError(f"the fit has no fixed effect(s) {missing} (lme4 names)")
    for _, row in ref.fixed.iterrows():
        rows.append(
            (
                f"{row['term']} estimate",
                float(mine.loc[row["term"], "estimate"]),
                float(row["estimate"]),
            )
        )
        rows.append(
            (
                f"{row['term']} SE",
                float(mine.loc[row["term"], "std_error"]),
                float(row["std_error"]),
            )
        )
    vc = varcorr_frame(fit).merge(
        ref.varcorr, on=["grp", "var1", "var2"], how="right", suffixes=("_py", "_lme4")
    )
    if vc["sdcor_py"].isna().any():
        raise ValueError(f"the fit lacks variance components of lme4's {name!r}")
    for _, row in vc.iterrows():
        rows.append((_varcorr_label(row), float(row["sdcor_py"]), float(row["sdcor_lme4"])))
    rows.append(
        ("REML criterion" if ref.reml else "deviance", criterion(fit), float(ref.criterion))
    )
    if profile is not None and ref.profile is not None:
        prof = _profile_in_lme4_terms(profile)
        for _, row in ref.profile.iterrows():
            if row["parm"] in prof.index:
                rows.append(
                    (
                        f"{row['parm']} 2.5%",
                        float(prof.loc[row["parm"], "lower"]),
                        float(row["lower"]),
                    )
                )
                rows.append(
                    (
                        f"{row['parm']} 97.5%",
                        float(prof.loc[row["parm"], "upper"]),
                        float(row["upper"]),
                    )
                )
    table = pd.DataFrame(rows, columns=["quantity", "python", "lme4"])
    table["difference"] = table["python"] - table["lme4"]
    if modes:
        both = ranef_frame(fit).merge(
            ref.ranef, on=["grpvar", "term", "grp"], how="right", suffixes=("_py", "_lme4")
        )
        if both["condval_py"].isna().any():
            raise ValueError(f"the fit lacks conditional modes of lme4's {name!r}")
        n = len(both)
        extra = pd.DataFrame(
            {
                "quantity": [
                    f"conditional modes ({n:,}), largest difference",
                    f"conditional SDs ({n:,}), largest difference",
                ],
                "python": np.nan,
                "lme4": np.nan,
                "difference": [
                    float(np.max(np.abs(both["condval_py"] - both["condval_lme4"]))),
                    float(np.max(np.abs(both["condsd_py"] - both["condsd_lme4"]))),
                ],
            }
        )
        table = pd.concat([table, extra], ignore_index=True)
    return table


#: The agreement the book asks of every fit against lme4 (absolute differences): fixed effects
#: and their SEs, SDs (``sd``) and correlations (``cor``) 1e-4, criterion 1e-3, conditional
#: modes and their SDs 1e-3, profile bounds 0.01.
TOLERANCES: dict[str, float] = {
    "fixed": 1e-4,
    "sd": 1e-4,
    "cor": 1e-4,
    "criterion": 1e-3,
    "modes": 1e-3,
    "profile": 0.01,
}


def kind_of_quantity(quantity: str) -> str:
    """Return which of :data:`TOLERANCES` applies to a row of :func:`compare_with_lme4`."""
    if quantity.endswith(("2.5%", "97.5%")):
        return "profile"
    if quantity.endswith((" estimate", " SE")):
        return "fixed"
    if quantity.startswith("cor "):
        return "cor"
    if quantity.startswith("SD ") or quantity == "sigma":
        return "sd"
    if quantity in ("REML criterion", "deviance"):
        return "criterion"
    if quantity.startswith("conditional"):
        return "modes"
    raise ValueError(f"unknown quantity {quantity!r}")


def assert_matches_lme4(
    table: pd.DataFrame | Any,
    reference: str | Lme4Reference | None = None,
    *,
    profile: pd.DataFrame | None = None,
    modes: bool = False,
    **tolerances: float,
) -> pd.DataFrame:
    """Raise an AssertionError naming every quantity that differs from lme4 too much.

    Either ``assert_matches_lme4(fit, reference)`` -- the fit and lme4's reference (a name or
    an :class:`Lme4Reference`), compared by :func:`compare_with_lme4` with ``profile`` and
    ``modes`` -- or ``assert_matches_lme4(table)`` on a :func:`compare_with_lme4` table.

    Parameters
    ----------
    table
        A fit (with ``reference``) or a :func:`compare_with_lme4` table (without).
    reference
        lme4's reference for the fit.
    profile, modes
        Passed to :func:`compare_with_lme4` (with ``reference`` only).
    **tolerances
        Replacements for :data:`TOLERANCES` (e.g. ``sd=1e-3`` where lme4's optimizer stops
        short of the optimum on a flat criterion), each to be justified where it is used.

    Returns
    -------
    pandas.DataFrame
        The comparison table.
    """
    unknown = set(tolerances) - set(TOLERANCES)
    if unknown:
        raise ValueError(f"unknown tolerance(s) {sorted(unknown)}; known: {list(TOLERANCES)}")
    if reference is not None:
        table = compare_with_lme4(reference, table, profile=profile, modes=modes)
    elif profile is not None or modes:
        raise ValueError("profile and modes need a fit and its reference")
    limits = TOLERANCES | tolerances
    kinds = table["quantity"].map(kind_of_quantity)
    too_far = table[~(table["difference"].abs() <= kinds.map(limits))]
    if len(too_far):
        raise AssertionError(
            "differences from lme4 beyond tolerance:\n" + too_far.to_string(index=False)
        )
    return table
