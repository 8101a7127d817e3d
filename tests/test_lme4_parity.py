"""The one comparison with lme4 (analysis.book.lme4), and the archer fits it vouches for.

lme4's numbers are committed in ``data/reference/`` by the R scripts in ``scripts/``; the
tolerances are those of :data:`analysis.book.lme4.TOLERANCES` (fixed effects, SDs and
correlations 1e-4, criterion and conditional modes 1e-3, profile bounds 0.01).
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import (
    REFERENCE_FILES,
    TOLERANCES,
    assert_matches_lme4,
    compare_with_lme4,
    kind_of_quantity,
    lme4_reference,
    read_reference,
    reference_from_record,
)
from analysis.book.reproducibility import rscript_with_lme4
from analysis.datasets.files import read_archers
from analysis.models.crossed import fit_crossed
from analysis.models.mixed import fit_random_intercept
from analysis.models.profile import confint

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "reference" / "archers_lme4.json"
SCRIPT = ROOT / "scripts" / "lme4_reference.R"
DATASETS = ["archers_50", "archers_50_unbalanced"]


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def reference() -> dict:
    return _load(REFERENCE)["fits"]


@pytest.fixture(scope="module", params=DATASETS)
def case(request):
    ref = lme4_reference(request.param)
    data = read_archers(ROOT / "data" / ref.data)
    fit = fit_random_intercept(data)
    return request.param, data, fit, confint(fit)


def test_statsmodels_fit_and_profile_match_lme4(case):
    name, _, fit, ci = case
    table = compare_with_lme4(name, fit, profile=ci, modes=True)
    kinds = set(table["quantity"].map(kind_of_quantity))
    assert kinds == set(TOLERANCES) - {"cor"}  # every kind (no correlation in this model)
    assert (table["quantity"] == "BowSouthwood estimate").any()  # lme4's term names
    assert_matches_lme4(table)
    # a 'parm' column (mixedlm's profile_frame) reads as confint's index of lme4 names
    as_column = ci.reset_index().rename(columns={"parameter": "parm"})
    pd.testing.assert_frame_equal(compare_with_lme4(name, fit, profile=as_column), table.iloc[:-2])
    with pytest.raises(ValueError, match="parm"):
        compare_with_lme4(name, fit, profile=ci.rename_axis(None))


def test_profile_is_centred_on_the_ml_refit_as_lme4s(case):
    name, _, _, ci = case
    ml = lme4_reference(name).ml_refit
    assert ci.loc["sd_(Intercept)|Name", "estimate"] == pytest.approx(ml.sd("Name"), abs=1e-4)
    assert ci.loc["sigma", "estimate"] == pytest.approx(ml.sd("Residual"), abs=1e-4)


def test_crossed_fitter_matches_lme4_on_the_same_archers():
    data = read_archers(ROOT / "data" / "archers_50.csv")
    fit = fit_crossed(data, "Distance", ["Bow"], ["Name"])
    assert_matches_lme4(fit, "archers_50_crossed", modes=True)


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


def test_every_reference_file_reads_into_one_layout(reference):
    for file in REFERENCE_FILES:
        whole = read_reference(file)
        assert set(whole) == {"generated_by", "R_version", "lme4_version", "fits", "extras"}
        for name in whole["fits"]:
            ref = lme4_reference(name, file)
            assert list(ref.fixed.columns)[:3] == ["term", "estimate", "std_error"]
            assert list(ref.varcorr.columns) == ["grp", "var1", "var2", "sdcor"]
            assert list(ref.ranef.columns) == ["grpvar", "term", "grp", "condval", "condsd"]
            assert ref.method in {"REML", "ML"} and ref.n_obs > 0
            assert np.isfinite(ref.loglik)
    raw = reference["archers_50"]
    again = reference_from_record(raw)
    assert again.varcorr["sdcor"].tolist() == raw["varcorr"]["sdcor"]
    assert again.varcorr["grp"].iloc[-1] == "Residual" and np.isfinite(again.criterion)
    assert isinstance(again.profile, pd.DataFrame) and len(again.profile) == 2


def _close(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
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
    fresh = _load(tmp_path / "archers_lme4.json")["fits"]
    for key in DATASETS:
        _close(fresh[key], reference[key], key)
