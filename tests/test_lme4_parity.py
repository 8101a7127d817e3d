"""Compare the package's fits with lme4's, stored in data/reference/archers_lme4.json."""

import json
import subprocess
from pathlib import Path

import pytest

from analysis.book.reproducibility import rscript_with_lme4
from analysis.datasets.files import read_archers
from analysis.models.mixed import fit_random_intercept
from analysis.models.profile import profile_ci

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "reference" / "archers_lme4.json"
SCRIPT = ROOT / "scripts" / "lme4_reference.R"
DATASETS = ["archers_50", "archers_50_unbalanced"]
#: lme4 term names -> statsmodels term names.
TERMS = {"(Intercept)": "Intercept", "BowSouthwood": "Bow[T.Southwood]"}


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def reference() -> dict:
    return _load(REFERENCE)


@pytest.fixture(scope="module", params=DATASETS)
def case(request, reference):
    ref = reference[request.param]
    data = read_archers(ROOT / "data" / ref["file"])
    return ref, data, fit_random_intercept(data), profile_ci(data)


def test_fixed_effects_and_ses(case):
    ref, _, fit, _ = case
    assert set(TERMS[t] for t in ref["fixed"]) == set(fit.fixed.index)
    for term, vals in ref["fixed"].items():
        row = fit.fixed.loc[TERMS[term]]
        assert row["estimate"] == pytest.approx(vals["estimate"], abs=1e-3)
        assert row["se"] == pytest.approx(vals["se"], abs=1e-3)


def test_sds_and_criterion(case):
    ref, _, fit, _ = case
    assert fit.n_obs == ref["n_obs"] and fit.n_groups == ref["n_groups"]
    assert fit.sd_group == pytest.approx(ref["sd_group"], abs=1e-3)
    assert fit.sd_resid == pytest.approx(ref["sd_resid"], abs=1e-3)
    assert -2 * fit.loglik == pytest.approx(ref["reml_criterion"], abs=1e-3)


def test_profile_intervals(case):
    ref, _, _, ci = case
    # Our profile is centred on the ML refit, as lme4's is.
    assert ci.loc["sd_group", "estimate"] == pytest.approx(ref["ml_sd_group"], abs=1e-3)
    assert ci.loc["sd_resid", "estimate"] == pytest.approx(ref["ml_sd_resid"], abs=1e-3)
    for name in ("sd_group", "sd_resid"):
        for end in ("lower", "upper"):
            assert ci.loc[name, end] == pytest.approx(ref["profile_ci"][name][end], abs=0.01)


def test_blups_and_conditional_sds(case):
    ref, _, fit, _ = case
    assert set(ref["ranef"]) == set(fit.blups.index)
    for name, value in ref["ranef"].items():
        assert fit.blups[name] == pytest.approx(value, abs=1e-3)
        assert fit.blup_sd[name] == pytest.approx(ref["ranef_sd"][name], abs=1e-3)


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
    run = subprocess.run([exe, str(SCRIPT), str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    fresh = _load(tmp_path / "archers_lme4.json")
    for key in DATASETS:
        _close(fresh[key], reference[key], key)
