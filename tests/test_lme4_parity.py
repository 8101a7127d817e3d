"""The one comparison with lme4 (analysis.book.lme4), and the archer fits it vouches for.

lme4's numbers are committed in ``data/reference/`` by the R scripts in ``scripts/``; the
tolerances are those of :data:`analysis.book.lme4.TOLERANCES` (fixed effects, SDs 1e-4,
criterion and conditional modes 1e-3, profile bounds 0.01).
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import (
    TOLERANCES,
    assert_matches_lme4,
    compare_with_lme4,
    kind_of_quantity,
    lme4_reference,
    reference_from_record,
)
from analysis.book.reproducibility import rscript_with_lme4
from analysis.datasets.files import read_archers
from analysis.models.crossed import fit_crossed
from analysis.models.mixed import fit_random_intercept
from analysis.models.profile import profile_ci

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "reference" / "archers_lme4.json"
SCRIPT = ROOT / "scripts" / "lme4_reference.R"
DATASETS = ["archers_50", "archers_50_unbalanced"]


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def reference() -> dict:
    return _load(REFERENCE)


@pytest.fixture(scope="module", params=DATASETS)
def case(request):
    ref = lme4_reference(request.param)
    data = read_archers(ROOT / "data" / ref["raw"]["file"])
    return request.param, data, fit_random_intercept(data), profile_ci(data)


def test_statsmodels_fit_and_profile_match_lme4(case):
    name, _, fit, ci = case
    table = compare_with_lme4(name, fit, profile=ci, modes=True)
    kinds = set(table["quantity"].map(kind_of_quantity))
    assert kinds == set(TOLERANCES)  # every kind of quantity is compared
    assert (table["quantity"] == "BowSouthwood estimate").any()  # lme4's term names
    assert_matches_lme4(table)


def test_profile_is_centred_on_the_ml_refit_as_lme4s(case):
    name, _, _, ci = case
    raw = lme4_reference(name)["raw"]
    assert ci.loc["sd_group", "estimate"] == pytest.approx(raw["ml_sd_group"], abs=1e-4)
    assert ci.loc["sd_resid", "estimate"] == pytest.approx(raw["ml_sd_resid"], abs=1e-4)


def test_crossed_fitter_matches_lme4_on_the_same_archers():
    data = read_archers(ROOT / "data" / "archers_50.csv")
    fit = fit_crossed(data, "Distance", ["Bow"], ["Name"])
    assert_matches_lme4(compare_with_lme4("archers_50_crossed", fit, modes=True))


def test_comparison_catches_a_difference_and_refuses_mismatches():
    data = read_archers(ROOT / "data" / "archers_50.csv")
    fit = fit_random_intercept(data)
    table = compare_with_lme4("archers_50", fit)
    bad = table.assign(difference=np.where(table["quantity"] == "sigma", 2e-4, 0.0))
    with pytest.raises(AssertionError, match="sigma"):
        assert_matches_lme4(bad)
    assert_matches_lme4(bad, sd=1e-3)  # a looser, justified tolerance lets it pass
    with pytest.raises(ValueError, match="unknown tolerance"):
        assert_matches_lme4(table, sds=1.0)
    with pytest.raises(ValueError, match="is not"):
        compare_with_lme4("archers_50", fit_random_intercept(data, reml=False))
    with pytest.raises(ValueError, match="no lme4 reference 'nope'"):
        lme4_reference("nope")
    with pytest.raises(ValueError, match="unknown quantity"):
        kind_of_quantity("something else")
    other = data.assign(Bow=data["Bow"].astype(str).map({"Northwood": "N", "Southwood": "S"}))
    with pytest.raises(ValueError, match="BowSouthwood"):
        compare_with_lme4("archers_50", fit_random_intercept(other))


def test_every_layout_reads_into_one(reference):
    for name in ["archers_50", "sleepstudy", "insteval", "archers_50_crossed", "pastes"]:
        ref = lme4_reference(name)
        assert list(ref["fixed"].columns) == ["term", "estimate", "std_error"]
        assert list(ref["varcorr"].columns) == ["grp", "var1", "var2", "sdcor"]
        assert list(ref["ranef"].columns) == ["grpvar", "term", "grp", "condval", "condsd"]
        assert ref["varcorr"]["grp"].iloc[-1] == "Residual"
        assert np.isfinite(ref["criterion"])
    raw = reference["archers_50"]
    again = reference_from_record(raw)
    assert again["varcorr"]["sdcor"].tolist() == [raw["sd_group"], raw["sd_resid"]]
    assert isinstance(again["profile"], pd.DataFrame) and len(again["profile"]) == 2


def _close(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-6), path
    else:
        assert a == b, path


@pytest.mark.slow
def test_r_script_reproduces_committed_reference(tmp_path, reference):
    exe = rscript_with_lme4()
    if exe is None:
        pytest.skip("Rscript with the lme4 and jsonlite packages is not installed")
    run = subprocess.run(
        [exe, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    fresh = _load(tmp_path / "archers_lme4.json")
    for key in DATASETS:
        _close(fresh[key], reference[key], key)
