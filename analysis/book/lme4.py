"""The one comparison with lme4: any of the book's fits beside lme4's numbers for the same model.

lme4's numbers are committed under ``data/reference/`` by the R scripts in ``scripts/``, in
three layouts (one per script). :func:`lme4_reference` reads any of them by model name into
one layout, and the fits of the book -- statsmodels' random-intercept fit
(:class:`analysis.models.mixed.MixedFit`), the crossed REML fitter
(:class:`analysis.models.crossed.CrossedFit`) and mixedlm's fits
(:func:`analysis.models.lmer.fit_lmer`) -- are read into the same layout, lme4's own
``as.data.frame`` vocabulary: fixed effects (``term``, ``estimate``, ``std_error``), variance
components (``grp``, ``var1``, ``var2``, ``sdcor``), conditional modes (``grpvar``, ``term``,
``grp``, ``condval``, ``condsd``) and profile intervals (``parm``, ``lower``, ``upper``).
:func:`compare_with_lme4` sets the two side by side; chapters show that table and the tests
assert on it, so there is one comparison, not one per chapter.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.models.results import result_of

__all__ = [
    "REFERENCES",
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

#: Where each model's lme4 numbers are: the file under ``data/reference`` and its key there
#: (``None``: the file holds one model). Models not listed are looked up in ``lme4_lmer.json``.
REFERENCES: dict[str, tuple[str, str | None]] = {
    "archers_50": ("archers_lme4.json", "archers_50"),
    "archers_50_unbalanced": ("archers_lme4.json", "archers_50_unbalanced"),
    "archers_50_crossed": ("archers_50_crossed_lme4.json", None),
    "insteval": ("insteval_lme4.json", None),
}

_VARCORR = ["grp", "var1", "var2", "sdcor"]
_RANEF = ["grpvar", "term", "grp", "condval", "condsd"]


@cache
def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _reference_dir() -> Path:
    from analysis.book.reproducibility import book_root

    return book_root() / "data" / "reference"


def lme4_reference(name: str, folder: str | Path | None = None) -> dict[str, Any]:
    """Return lme4's numbers for model ``name`` in one layout, whatever file holds them.

    Parameters
    ----------
    name
        A key of :data:`REFERENCES`, or of ``lme4_lmer.json`` (``"sleepstudy"``, ...).
    folder
        The reference folder (default ``data/reference`` of the book).

    Returns
    -------
    dict
        ``formula``, ``reml``, ``fixed``, ``varcorr``, ``ranef`` and ``profile`` (DataFrames
        in lme4's vocabulary; ``profile`` is ``None`` where lme4 was not profiled),
        ``criterion`` (the REML criterion of a REML fit, else the deviance) and ``raw`` (the
        file's own record).

    Raises
    ------
    ValueError
        If no reference file knows ``name``.
    """
    root = Path(folder) if folder is not None else _reference_dir()
    file, key = REFERENCES.get(name, ("lme4_lmer.json", name))
    records = _read(root / file)
    raw = records if key is None else records.get(key)
    if not isinstance(raw, dict) or "fixed" not in raw:
        known = sorted(
            set(REFERENCES)
            | {
                k
                for k, v in _read(root / "lme4_lmer.json").items()
                if isinstance(v, dict) and "formula" in v
            }
        )
        raise ValueError(f"no lme4 reference {name!r}; known: {known}")
    return reference_from_record(raw)


def reference_from_record(raw: dict[str, Any]) -> dict[str, Any]:
    """Read one model's record, as any of the R scripts in ``scripts/`` writes it.

    The layout of :func:`lme4_reference`; for records that are not committed (the tests rerun
    lme4 on fresh data).
    """
    if "varcorr" in raw:  # scripts/lme4_lmer.R
        reml = bool(raw["REML"])
        ref = {
            "formula": raw["formula"],
            "reml": reml,
            "fixed": pd.DataFrame(raw["fixed"]).rename(columns={"se": "std_error"})[
                ["term", "estimate", "std_error"]
            ],
            "varcorr": pd.DataFrame(raw["varcorr"]).fillna("")[_VARCORR],
            "ranef": pd.DataFrame(raw["ranef"]).astype({"grp": str})[_RANEF],
            "criterion": float(raw["reml_criterion"] if reml else raw["ml"]["deviance"]),
            "profile": None,
        }
        if "profile_ci" in raw:
            pc = raw["profile_ci"]
            ref["profile"] = pd.DataFrame(
                {"parm": pc["parameter"], "lower": pc["lower"], "upper": pc["upper"]}
            )
    elif "sd_group" in raw:  # scripts/lme4_reference.R: Distance ~ Bow + (1 | Name)
        group = raw["formula"].split("|")[1].strip(" )")
        ranef = pd.Series(raw["ranef"])
        ref = {
            "formula": raw["formula"],
            "reml": bool(raw["REML"]),
            "fixed": pd.DataFrame(
                [(t, v["estimate"], v["se"]) for t, v in raw["fixed"].items()],
                columns=["term", "estimate", "std_error"],
            ),
            "varcorr": _one_intercept_varcorr({group: raw["sd_group"]}, raw["sd_resid"]),
            "ranef": pd.DataFrame(
                {
                    "grpvar": group,
                    "term": "(Intercept)",
                    "grp": [str(k) for k in ranef.index],
                    "condval": ranef.to_numpy(float),
                    "condsd": pd.Series(raw["ranef_sd"]).reindex(ranef.index).to_numpy(float),
                }
            ),
            "criterion": float(raw["reml_criterion"] if raw["REML"] else raw["ml_deviance"]),
            "profile": pd.DataFrame(
                {
                    "parm": [f"sd_(Intercept)|{group}", "sigma"],
                    "lower": [
                        raw["profile_ci"]["sd_group"]["lower"],
                        raw["profile_ci"]["sd_resid"]["lower"],
                    ],
                    "upper": [
                        raw["profile_ci"]["sd_group"]["upper"],
                        raw["profile_ci"]["sd_resid"]["upper"],
                    ],
                }
            ),
        }
    else:  # scripts/lme4_insteval.R: crossed random intercepts
        sds = dict(raw["sds"])
        sigma = sds.pop("Residual")
        ref = {
            "formula": raw["formula"],
            "reml": bool(raw["reml"]),
            "fixed": pd.DataFrame(raw["fixed"]).rename(columns={"se": "std_error"})[
                ["term", "estimate", "std_error"]
            ],
            "varcorr": _one_intercept_varcorr(sds, sigma),
            "ranef": pd.concat(
                [
                    pd.DataFrame(
                        {
                            "grpvar": g,
                            "term": "(Intercept)",
                            "grp": [str(v) for v in block["level"]],
                            "condval": block["mode"],
                            "condsd": block["cond_sd"],
                        }
                    )
                    for g, block in raw["ranef"].items()
                ],
                ignore_index=True,
            ),
            "criterion": float(raw["criterion"]),
            "profile": None,
        }
    ref["raw"] = raw
    return ref


def _one_intercept_varcorr(sds: dict[str, float], sigma: float) -> pd.DataFrame:
    rows = [(g, "(Intercept)", "", float(sd)) for g, sd in sds.items()]
    rows.append(("Residual", "", "", float(sigma)))
    return pd.DataFrame(rows, columns=_VARCORR)


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


def _profile_in_lme4_terms(profile: pd.DataFrame, fit: Any) -> pd.DataFrame:
    """Accept mixedlm's ``profile_frame`` or :func:`analysis.models.profile.profile_ci`."""
    if "parm" in profile.columns:
        return profile[["parm", "lower", "upper"]]
    group = result_of(fit).varcorr["grp"].iloc[0]
    names = {"sd_group": f"sd_(Intercept)|{group}", "sd_resid": "sigma"}
    return pd.DataFrame(
        {
            "parm": [names[str(i)] for i in profile.index],
            "lower": profile["lower"].to_numpy(float),
            "upper": profile["upper"].to_numpy(float),
        }
    )


def _varcorr_label(row: pd.Series) -> str:
    if row["var2"]:
        return f"cor {row['var1']}, {row['var2']} | {row['grp']}"
    if row["var1"]:
        return f"SD {row['var1']} | {row['grp']}"
    return "sigma"


def compare_with_lme4(
    name: str | dict[str, Any],
    fit: Any,
    *,
    profile: pd.DataFrame | None = None,
    modes: bool = False,
) -> pd.DataFrame:
    """Set a fit beside lme4's numbers for the same model: one row per quantity.

    Parameters
    ----------
    name
        The reference model (see :func:`lme4_reference`), or a reference already read
        (:func:`reference_from_record`).
    fit
        A fit of the same model: a ``MixedFit``, a ``CrossedFit`` or a mixedlm fit.
    profile
        Profile intervals of the fit (mixedlm's :func:`analysis.models.lmer.profile_frame` or
        :func:`analysis.models.profile.profile_ci`), compared with lme4's ``confint``.
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
    if _reml(fit) != ref["reml"]:
        raise ValueError(
            f"the fit is {'REML' if _reml(fit) else 'ML'}, lme4's {ref['formula']!r} is not"
        )
    rows: list[tuple[str, float, float]] = []
    mine = fixef_frame(fit).set_index("term")
    missing = sorted(set(ref["fixed"]["term"]) - set(mine.index))
    if missing:
        raise ValueError(f"the fit has no fixed effect(s) {missing} (lme4 names)")
    for _, row in ref["fixed"].iterrows():
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
        ref["varcorr"], on=["grp", "var1", "var2"], how="right", suffixes=("_py", "_lme4")
    )
    if vc["sdcor_py"].isna().any():
        raise ValueError(f"the fit lacks variance components of lme4's {name!r}")
    for _, row in vc.iterrows():
        rows.append((_varcorr_label(row), float(row["sdcor_py"]), float(row["sdcor_lme4"])))
    rows.append(("REML criterion" if ref["reml"] else "deviance", criterion(fit), ref["criterion"]))
    if profile is not None and ref["profile"] is not None:
        prof = _profile_in_lme4_terms(profile, fit).set_index("parm")
        for _, row in ref["profile"].iterrows():
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
            ref["ranef"], on=["grpvar", "term", "grp"], how="right", suffixes=("_py", "_lme4")
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
#: and their SEs, SDs and correlations 1e-4, criterion 1e-3, conditional modes and their SDs
#: 1e-3, profile bounds 0.01.
TOLERANCES: dict[str, float] = {
    "fixed": 1e-4,
    "sd": 1e-4,
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
    if quantity.startswith(("SD ", "cor ")) or quantity == "sigma":
        return "sd"
    if quantity in ("REML criterion", "deviance"):
        return "criterion"
    if quantity.startswith("conditional"):
        return "modes"
    raise ValueError(f"unknown quantity {quantity!r}")


def assert_matches_lme4(table: pd.DataFrame, **tolerances: float) -> None:
    """Raise an AssertionError naming every row of ``table`` that differs from lme4 too much.

    Parameters
    ----------
    table
        A :func:`compare_with_lme4` table.
    **tolerances
        Replacements for :data:`TOLERANCES` (e.g. ``sd=1e-3`` where lme4's optimizer stops
        short of the optimum on a flat criterion), each to be justified where it is used.
    """
    unknown = set(tolerances) - set(TOLERANCES)
    if unknown:
        raise ValueError(f"unknown tolerance(s) {sorted(unknown)}; known: {list(TOLERANCES)}")
    limits = TOLERANCES | tolerances
    kinds = table["quantity"].map(kind_of_quantity)
    too_far = table[~(table["difference"].abs() <= kinds.map(limits))]
    if len(too_far):
        raise AssertionError(
            "differences from lme4 beyond tolerance:\n" + too_far.to_string(index=False)
        )
