"""lmer's fast path: crossed and nested random intercepts fitted by the package's own fitter,
checked against mixedlm and lme4 on the same formulas."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import lme4_reference
from analysis.book.reproducibility import book_root
from analysis.models.fast_path import crossed_route, fit_crossed_route
from analysis.models.lmer import fit_lmer
from analysis.models.results import result_of

ROOT = book_root()
REFS = {
    name: lme4_reference(name, "lme4_lmer.json")
    for name in ["penicillin", "pastes", "archers_intercept", "sleepstudy"]
}


def _data(name):
    data = pd.read_csv(ROOT / "data" / REFS[name].data)
    for col in data.columns:
        if data[col].dtype == object or col in {"Subject", "plate", "sample", "batch", "cask"}:
            data[col] = data[col].astype(str)
    return data


@pytest.mark.parametrize("name", ["penicillin", "pastes", "archers_intercept"])
def test_fast_path_matches_mixedlm_and_lme4(name):
    formula, data = REFS[name].formula, _data(name)
    route = crossed_route(formula, data)
    assert route is not None
    fast = fit_crossed_route(route)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = result_of(fit_lmer(formula, data))
    pd.testing.assert_frame_equal(fast.fixed, slow.fixed, atol=1e-4, check_exact=False)
    merged = fast.varcorr.merge(slow.varcorr, on=["grp", "var1", "var2"])
    assert len(merged) == len(slow.varcorr)
    np.testing.assert_allclose(merged["sdcor_x"], merged["sdcor_y"], rtol=1e-4)
    assert fast.criterion == pytest.approx(slow.criterion, abs=1e-3)
    modes = fast.ranef.merge(slow.ranef, on=["grpvar", "term", "grp"])
    assert len(modes) == len(slow.ranef)
    np.testing.assert_allclose(modes["condval_x"], modes["condval_y"], atol=1e-3)
    ref = lme4_reference(name)
    assert fast.criterion == pytest.approx(ref.criterion, abs=1e-3)
    np.testing.assert_allclose(
        fast.fixed.set_index("term").loc[ref.fixed["term"], "estimate"],
        ref.fixed["estimate"],
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "formula",
    [
        "Reaction ~ Days + (Days | Subject)",  # a random slope
        "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",  # a slope, uncorrelated
        "Reaction ~ 0 + Days + (1 | Subject)",  # no intercept
    ],
)
def test_other_structures_stay_with_mixedlm(formula):
    data = _data("sleepstudy")
    assert crossed_route(formula, data) is None


def test_fast_path_result_reports_lme4s_summary_numbers():
    """The fast path's result prints what lme4's summary prints, as every fit's result does."""
    formula, data = REFS["penicillin"].formula, _data("penicillin")
    result = fit_crossed_route(crossed_route(formula, data))
    doc = result.to_dict()
    assert doc["kind"] == "crossed" and doc["method"] == "REML"
    assert doc["criterion_name"] == "REML criterion"
    ref = REFS["penicillin"]
    assert doc["n_groups"] == ref.group_sizes == {"plate": 24, "sample": 6}
    assert doc["df"] == ref.n_params == 4  # intercept, two SDs and sigma
    assert doc["AIC"] == pytest.approx(ref.aic, abs=1e-2)
    assert doc["BIC"] == pytest.approx(ref.bic, abs=1e-2)
    assert doc["loglik"] == pytest.approx(ref.loglik, abs=1e-3)
    assert doc["sigma"] == pytest.approx(ref.sigma, rel=1e-4)
    assert doc["formula"] == formula == ref.formula  # the user's, not the route's column names
    json.dumps(doc, allow_nan=False)
