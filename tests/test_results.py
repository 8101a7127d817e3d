"""One result vocabulary: every fitter's result in lme4's layouts (analysis.models.results)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import lme4_reference
from analysis.book.reproducibility import book_root
from analysis.datasets.archers import fifty_archers
from analysis.models.crossed import fit_crossed
from analysis.models.large import fit_large
from analysis.models.lmer import fit_lmer
from analysis.models.mixed import fit_random_intercept
from analysis.models.results import (
    CONFINT_COLUMNS,
    FIXED_COLUMNS,
    RANEF_COLUMNS,
    VARCORR_COLUMNS,
    FitResult,
    result_of,
    with_intervals,
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


def test_a_glmm_reads_into_the_same_layout_with_lme4s_numbers():
    from analysis.models.glmer import fit_glmer

    ref = lme4_reference("cbpp", "glmer_lme4.json")
    data = pd.read_csv(book_root() / "data" / ref.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = result_of(fit_glmer(ref.formula, data, ref.extras["family"]))
    assert result.kind == "glmer" and (result.family, result.link) == ("binomial", "logit")
    assert list(result.fixed.columns) == FIXED_COLUMNS
    assert list(result.varcorr.columns) == VARCORR_COLUMNS
    assert result.sigma is None  # no residual row in a binomial model
    assert result.group_sizes == ref.group_sizes == {"herd": 15}
    assert result.n_params == ref.n_params
    assert result.aic == pytest.approx(ref.record["AIC"], abs=1e-3)  # lme4's own AIC, as written
    assert result.bic == pytest.approx(ref.record["BIC"], abs=1e-3)
    assert result.criterion == pytest.approx(ref.criterion, abs=1e-3)
    table = result.fixed_table()
    assert list(table.columns) == [*FIXED_COLUMNS, "z_value", "p_value"]  # lme4's for a GLMM
    doc = result.to_dict()
    assert doc["method"] == "Laplace" and doc["extras"]["nAGQ"] == 1
    assert "Family: binomial ( logit )" in result.summary()


def test_linear_fits_report_t_values_without_p_values(fits):
    table = result_of(fits["crossed"]).fixed_table()
    assert list(table.columns) == [*FIXED_COLUMNS, "t_value"]
    np.testing.assert_allclose(table["t_value"], table["estimate"] / table["std_error"])


def test_intervals_by_lme4_name_land_on_their_varcorr_rows():
    profile = lme4_reference("sleepstudy_uncor", "lme4_lmer.json").profile
    data = pd.read_csv(book_root() / "data" / "sleepstudy.csv").astype({"Subject": str})
    result = result_of(fit_lmer("Reaction ~ Days + (Days || Subject)", data))
    with_ci = with_intervals(result, profile, 0.95, "lme4's own")
    ci = with_ci.confint
    assert list(ci.columns) == CONFINT_COLUMNS
    # (Days || Subject) is two lme4 terms, Subject and Subject.1: both named sd_...|Subject
    assert list(ci["grp"]) == ["Subject", "Subject.1", "Residual"]
    expected = dict(zip(profile["parm"], profile["lower"], strict=True))
    assert list(ci["lower"]) == [
        expected["sd_(Intercept)|Subject"],
        expected["sd_Days|Subject"],
        expected["sigma"],
    ]
    np.testing.assert_allclose(ci["estimate"], result.varcorr["sdcor"])
    assert list(with_ci.fixed_confint["term"]) == ["(Intercept)", "Days"]
    doc = with_ci.to_dict()["confint"]
    assert doc["level"] == 0.95 and len(doc["varcorr"]) == 3 and len(doc["fixed"]) == 2
    text = with_ci.summary()
    assert "95% intervals" in text and "lme4's own" in text
    assert result.to_dict()["confint"] is None  # none computed, none reported


def test_summary_shows_the_lowest_and_highest_modes(fits):
    result = result_of(fits["crossed"])
    modes = result.ranef.sort_values("condval")
    text = result.summary(top=2)
    assert "Conditional modes of (Intercept) | Name (50 levels; the 2 lowest and 2 highest)" in text
    for level in [*modes["grp"].head(2), *modes["grp"].tail(2)]:
        assert level in text
    assert modes["grp"].iloc[2] not in text.split("Conditional modes")[1]
    assert "Conditional modes" not in result.summary()  # top=0 shows none


def test_reading_a_fit_imports_no_other_fitter():
    """result_of checks types against loaded modules only: fit-crossed's output does not pay
    for importing statsmodels, Dask or mixedlm (seconds of a command's wall time)."""
    import subprocess
    import sys

    code = (
        "import sys; from analysis.datasets.archers import fifty_archers; "
        "from analysis.models.crossed import fit_crossed; "
        "from analysis.models.results import result_of; "
        "data = fifty_archers().data; "
        "result_of(fit_crossed(data, 'Distance', ['Bow'], ['Name'])).to_dict(); "
        "print([m for m in ('statsmodels', 'dask', 'mixedlm') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=book_root()
    )
    assert out.stdout.strip() == "[]"
