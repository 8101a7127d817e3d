"""One result vocabulary: every fitter's result in lme4's layouts (analysis.models.results)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import lme4_reference
from analysis.datasets.archers import fifty_archers
from analysis.models.crossed import fit_crossed
from analysis.models.large import fit_large
from analysis.models.lmer import fit_lmer
from analysis.models.mixed import fit_random_intercept
from analysis.models.results import (
    FIXED_COLUMNS,
    RANEF_COLUMNS,
    VARCORR_COLUMNS,
    FitResult,
    result_of,
)

ARCHERS = fifty_archers().data


@pytest.fixture(scope="module")
def fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "statsmodels": fit_random_intercept(ARCHERS),
            "crossed": fit_crossed(ARCHERS, "Distance", ["Bow"], ["Name"]),
            "mixedlm": fit_lmer("Distance ~ Bow + (1 | Name)", ARCHERS),
            # the large-data fitter takes numeric columns: the dummy under lme4's name
            "large": fit_large(
                ARCHERS.assign(BowSouthwood=(ARCHERS["Bow"] == "Southwood").astype(float)),
                "Distance",
                ["BowSouthwood"],
                ["Name"],
            ),
        }


@pytest.mark.parametrize("kind", ["statsmodels", "crossed", "mixedlm", "large"])
def test_every_fitter_reads_into_the_same_layout(fits, kind):
    result = result_of(fits[kind])
    assert isinstance(result, FitResult) and result.kind == kind
    assert list(result.fixed.columns) == FIXED_COLUMNS
    assert list(result.varcorr.columns) == VARCORR_COLUMNS
    assert list(result.ranef.columns) == RANEF_COLUMNS
    assert list(result.fixed["term"]) == ["(Intercept)", "BowSouthwood"]  # lme4's names
    assert result.n_obs == len(ARCHERS) and len(result.ranef) == ARCHERS["Name"].nunique()
    assert result_of(result) is result


def test_the_likelihood_fitters_agree_with_each_other_and_with_lme4(fits):
    ref = lme4_reference("archers_50")
    results = [result_of(fits[k]) for k in ("statsmodels", "crossed", "mixedlm")]
    for result in results:
        assert result.reml and result.singular is False
        np.testing.assert_allclose(result.fixed["estimate"], ref.fixed["estimate"], atol=1e-4)
        assert result.criterion == pytest.approx(ref.criterion, abs=1e-3)
        assert result.loglik == pytest.approx(-result.criterion / 2)
    sds = [r.varcorr.set_index("grp")["sdcor"] for r in results]
    for other in sds[1:]:
        pd.testing.assert_series_equal(sds[0], other, atol=1e-4, check_exact=False)


def test_moments_have_no_likelihood_and_json_says_so(fits):
    result = result_of(fits["large"])
    assert result.criterion is None and result.loglik is None
    text = json.dumps(result.to_dict(), allow_nan=False)  # never NaN in the document
    doc = json.loads(text)
    assert doc["criterion"] is None and doc["ranef"][0]["condsd"] is None


def test_summary_prints_the_numbers(fits):
    result = result_of(fits["mixedlm"])
    text = result.summary()
    tau = result.fixed.set_index("term").loc["BowSouthwood", "estimate"]
    assert "REML criterion" in text and f"{tau:.5g}" in text and "Residual" in text


def test_an_unknown_object_is_refused_by_type():
    with pytest.raises(TypeError, match="not a fit of the book: builtins.dict"):
        result_of({"fixed": None})
