"""Parity of the crossed REML fit with lme4 on InstEval (committed reference and a live rerun)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis.book.lme4 import (
    TOLERANCES,
    assert_matches_lme4,
    kind_of_quantity,
    lme4_reference,
    read_reference,
)
from analysis.book.reproducibility import rscript_with_lme4
from analysis.datasets.insteval import load_insteval, simulate_crossed
from analysis.models.crossed import fit_crossed

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "reference" / "insteval_lme4.json"
SCRIPT = ROOT / "scripts" / "lme4_insteval.R"
GROUPS = ["s", "d", "dept"]


def compare(fit, ref):
    """Assert the fit matches lme4's fit (scripts/lme4_insteval.R) within the tolerances."""
    table = assert_matches_lme4(fit, ref, modes=True)
    assert set(table["quantity"].map(kind_of_quantity)) == {"fixed", "sd", "criterion", "modes"}


@pytest.fixture(scope="module")
def insteval_fit():
    return fit_crossed(load_insteval(), "y", ["service"], GROUPS)


def test_insteval_matches_committed_lme4_reference(insteval_fit):
    ref = lme4_reference("insteval", REFERENCE)
    assert ref.n_obs == insteval_fit.n_obs == 73421
    assert ref.formula == "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
    assert ref.ranef["grpvar"].value_counts().to_dict() == {
        "s": 2972,
        "d": 1128,
        "dept": 14,
    }
    compare(insteval_fit, ref)


needs_lme4 = pytest.mark.skipif(
    rscript_with_lme4() is None, reason="Rscript with lme4 and jsonlite is not installed"
)


@pytest.mark.slow
@needs_lme4
def test_live_lme4_rerun_on_an_insteval_subsample(tmp_path):
    """Rerun lme4 now, on a seeded 15% subsample (a different fit from the committed one)."""
    data = load_insteval()
    sub = data.sample(frac=0.15, random_state=np.random.default_rng(99).integers(2**31))
    csv = tmp_path / "sub.csv"
    sub.to_csv(csv, index=False)
    out = tmp_path / "sub.json"
    subprocess.run(
        ["Rscript", str(SCRIPT), "--csv", str(csv), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    ref = lme4_reference("sub", out)
    fit = fit_crossed(sub, "y", ["service"], GROUPS)
    assert ref.n_obs == len(sub)
    compare(fit, ref)


@needs_lme4
@pytest.mark.parametrize("reml", [True, False])
def test_live_lme4_rerun_on_a_simulated_crossed_design(tmp_path, reml):
    # Eight departments with a clear department effect: with five and a small one, lme4 stops
    # at a worse criterion with a convergence warning, and there is nothing to compare.
    data = simulate_crossed(
        seed=4, n_students=200, n_instructors=40, per_student=8, n_depts=8, sd_dept=0.4
    )
    csv = tmp_path / "sim.csv"
    data.to_csv(csv, index=False)
    out = tmp_path / "sim.json"
    cmd = ["Rscript", str(SCRIPT), "--csv", str(csv), "--out", str(out)]
    subprocess.run(cmd + ([] if reml else ["--ml"]), check=True, capture_output=True, cwd=ROOT)
    ref = lme4_reference("sim", out)
    fit = fit_crossed(data, "y", ["service"], GROUPS, reml=reml)
    assert ref.reml == reml and fit.criterion_name == ("REMLcrit" if reml else "deviance")
    assert fit.criterion <= ref.criterion + 1e-6
    compare(fit, ref)


DEPT_REFERENCE = ROOT / "data" / "reference" / "insteval_dept_lme4.json"


def test_fixed_department_ml_fit_matches_lme4():
    """Chapter 8's middle model, y ~ service + dept + (1|s) + (1|d) by ML, against lme4
    (scripts/lme4_insteval_dept.R): deviance, SDs and all fifteen fixed effects with SEs."""
    model = lme4_reference("additive", DEPT_REFERENCE)
    assert model.n_obs == 73421 and model.method == "ML"
    assert model.formula == "y ~ service + dept + (1 | s) + (1 | d)"
    fit = fit_crossed(load_insteval(), "y", ["service", "dept"], ["s", "d"], reml=False)
    tol = TOLERANCES
    assert fit.n_params == model.n_params == 18
    assert abs(fit.aic - model.aic) < tol["criterion"]
    assert abs(fit.bic - model.bic) < tol["criterion"]
    assert list(fit.fixed.index) == model.fixed["term"].tolist()
    # deviance, SDs and all fifteen fixed effects with SEs (no conditional modes recorded)
    assert_matches_lme4(fit, model)


def test_dept_reference_is_consistent():
    """The committed record's likelihood-ratio test is its own deviance difference, and the
    AIC gap between random and fixed departments is the tie chapter 8 reports."""
    m = {k: lme4_reference(k, DEPT_REFERENCE) for k in ("random", "additive", "interaction")}
    lrt = read_reference(DEPT_REFERENCE)["extras"]["lrt_interaction"]
    assert lrt["df"] == m["interaction"].n_params - m["additive"].n_params == 13
    assert lrt["chisq"] == pytest.approx(m["additive"].criterion - m["interaction"].criterion)
    assert abs(m["random"].aic - m["additive"].aic) < 4
    assert m["additive"].bic - m["random"].bic > 100
