"""Moments and backfitting for large crossed designs (analysis.models.large)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.datasets.insteval import simulate_crossed
from analysis.models.crossed import fit_crossed
from analysis.models.large import backfit, fit_large, moment_estimates

GROUPS = ["s", "d", "dept"]


@pytest.fixture(scope="module")
def design() -> pd.DataFrame:
    data = simulate_crossed(seed=2026, n_students=500, n_instructors=80, per_student=12)
    # numeric 0/1 service, integer-coded groups: the layout a Parquet data set has
    return data.assign(**{c: data[c].astype("int64") for c in ["service", *GROUPS]})


@pytest.fixture(scope="module")
def reml(design: pd.DataFrame):
    return fit_crossed(
        design.assign(service=design["service"].astype("category")), "y", ["service"], GROUPS
    )


@pytest.mark.parametrize(("solver", "tol"), [("backfitting", 1e-11), ("cg", 1e-12)])
def test_both_solvers_at_reml_sds_reproduce_the_reml_fit(design, reml, solver, tol):
    fit = backfit(design, "y", ["service"], GROUPS, reml.sds, tol=tol, solver=solver)
    assert fit.converged and fit.method == f"given+{solver}"
    assert (
        np.max(np.abs(fit.fixed["estimate"].to_numpy() - reml.fixed["estimate"].to_numpy())) < 1e-6
    )
    for g in GROUPS:
        modes = reml.ranef[g]["mode"]
        ours = fit.ranef[g]["mode"].reindex(modes.index)
        assert np.max(np.abs(ours.to_numpy() - modes.to_numpy())) < 1e-6, g
    assert fit.history[-1] < 1e-6 and fit.history[0] > fit.history[-1]


def test_conjugate_gradients_need_far_fewer_passes_than_backfitting(tmp_path):
    from analysis.datasets.large import write_crossed_parquet

    truth = write_crossed_parquet(
        tmp_path / "h.parquet", 100_000, seed=8, n_users=2_000, n_items=400
    )
    data = pd.read_parquet(truth.path)
    sds = pd.Series(truth.sds)
    exact = backfit(data, "y", ["x"], ["user", "item"], sds, tol=1e-13, solver="cg")
    slow = backfit(data, "y", ["x"], ["user", "item"], sds, tol=1e-6, solver="backfitting")
    assert exact.converged and slow.converged
    assert exact.sweeps < slow.sweeps / 5
    # backfitting's small change per sweep is not a small error: it stops short
    gap = abs(slow.fixed["estimate"].iloc[0] - exact.fixed["estimate"].iloc[0])
    assert gap > 10 * 1e-6


def test_a_zero_sd_gives_zero_effects_with_either_solver(design):
    sds = pd.Series({"s": 0.3, "d": 0.0, "dept": 0.2, "Residual": 1.0})
    for solver in ("cg", "backfitting"):
        fit = backfit(design, "y", ["service"], GROUPS, sds, solver=solver, tol=1e-10)
        assert fit.converged and (fit.ranef["d"]["mode"] == 0).all(), solver
    with pytest.raises(ValueError, match="solver must be one of"):
        backfit(design, "y", [], GROUPS, sds, solver="newton")


def test_moments_agree_with_reml_within_sampling_error(design, reml):
    sds = moment_estimates(design, "y", ["service"], GROUPS)
    assert list(sds.index) == [*GROUPS, "Residual"]
    for name, tol in {"s": 0.05, "d": 0.1, "dept": 0.15, "Residual": 0.02}.items():
        assert abs(sds[name] - reml.sds[name]) < tol, name


def test_moments_recover_the_truth_on_a_large_design():
    rng = np.random.default_rng(7)
    n, n_u, n_i = 400_000, 20_000, 5_000
    u = rng.integers(0, n_u, n)
    weight = np.exp(rng.normal(0.0, 1.5, n_i))  # heavy-tailed item popularity
    i = rng.choice(n_i, size=n, p=weight / weight.sum())
    truth = {"u": 0.6, "i": 0.9, "Residual": 1.2}
    y = (
        2.0
        + rng.normal(0, truth["u"], n_u)[u]
        + rng.normal(0, truth["i"], n_i)[i]
        + rng.normal(0, truth["Residual"], n)
    )
    sds = moment_estimates(pd.DataFrame({"y": y, "u": u, "i": i}), "y", [], ["u", "i"])
    for name, value in truth.items():
        assert sds[name] == pytest.approx(value, rel=0.05), name


def test_dask_and_pandas_give_the_same_fit(design):
    dd = pytest.importorskip("dask.dataframe")
    # The same iterates, partition by partition: thirty sweeps are enough to compare.
    ours = fit_large(design, "y", ["service"], GROUPS, max_sweeps=30, solver="backfitting")
    theirs = fit_large(
        dd.from_pandas(design, npartitions=3),
        "y",
        ["service"],
        GROUPS,
        max_sweeps=30,
        solver="backfitting",
    )
    assert ours.method == "moments+backfitting" and ours.sweeps == theirs.sweeps == 30
    pd.testing.assert_series_equal(ours.sds, theirs.sds, rtol=1e-10)
    assert np.allclose(ours.fixed["estimate"], theirs.fixed["estimate"], atol=1e-10)
    d_ours = ours.ranef["d"]["mode"]
    d_theirs = theirs.ranef["d"]["mode"].reindex(d_ours.index.astype("int64"))
    assert np.allclose(d_ours.to_numpy(), d_theirs.to_numpy(), atol=1e-10)
    # the one document of every fit (FitResult's), the same for both, and valid JSON
    doc, doc_dask = ours.to_dict(), theirs.to_dict()
    assert doc["kind"] == "large" and doc["method"] == "moments+backfitting"
    assert doc["extras"]["iterations"] == doc_dask["extras"]["iterations"] == 30
    assert doc["sigma"] == pytest.approx(ours.sds["Residual"], rel=1e-12)
    sdcor = {row["grp"]: row["sdcor"] for row in doc["varcorr"]}
    assert sdcor == pytest.approx({k: float(v) for k, v in theirs.sds.items()}, rel=1e-10)
    assert doc["n_groups"] == doc_dask["n_groups"] == {g: design[g].nunique() for g in GROUPS}
    assert len(doc["ranef"]) == sum(design[g].nunique() for g in GROUPS)
    json.dumps(doc, allow_nan=False)
    # conjugate gradients: the same solution, whatever the partitioning
    cg_pandas = fit_large(design, "y", ["service"], GROUPS, tol=1e-12)
    cg_dask = fit_large(dd.from_pandas(design, npartitions=3), "y", ["service"], GROUPS, tol=1e-12)
    assert cg_pandas.converged and cg_dask.converged
    assert np.allclose(cg_pandas.fixed["estimate"], cg_dask.fixed["estimate"], atol=1e-9)


def test_parquet_path_is_read_with_dask(design, tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "design.parquet"
    design.to_parquet(path)
    fit = fit_large(path, "y", ["service"], GROUPS, max_sweeps=5)
    assert fit.n_obs == len(design) and fit.sweeps == 5


def test_bad_input_is_refused_clearly(design):
    with pytest.raises(ValueError, match="nope"):
        moment_estimates(design, "y", ["nope"], GROUPS)
    with pytest.raises(ValueError, match="has 1 level"):
        moment_estimates(design.assign(one=0), "y", [], ["s", "one"])
    with pytest.raises(ValueError, match="must be numeric"):
        moment_estimates(design.assign(y="a"), "y", [], GROUPS)
    with pytest.raises(ValueError, match="missing"):
        moment_estimates(design.assign(y=np.nan), "y", [], GROUPS)
    with pytest.raises(ValueError, match="rescale it"):
        moment_estimates(design.assign(y=design["y"] * 1e298), "y", [], GROUPS)
    with pytest.raises(ValueError, match="two roles"):
        moment_estimates(design, "y", ["s"], GROUPS)
    with pytest.raises(ValueError, match="sds lacks"):
        backfit(design, "y", [], GROUPS, pd.Series({"s": 1.0, "Residual": 1.0}))
    sds = pd.Series({"s": 1.0, "d": 1.0, "dept": 1.0, "Residual": 1.0})
    with pytest.raises(ValueError, match=r"sds\['d'\] must not be negative"):
        backfit(design, "y", [], GROUPS, sds.where(sds.index != "d", -1.0))
    with pytest.raises(ValueError, match="residual SD"):
        backfit(design, "y", [], GROUPS, sds.where(sds.index != "Residual", 0.0))
    with pytest.raises(ValueError, match="response column 'y' must be numeric"):
        moment_estimates(design.assign(y=design["y"] > 0), "y", [], GROUPS)  # not booleans
    with pytest.raises(ValueError, match="pandas or Dask"):
        moment_estimates({"y": [1.0]}, "y", [], GROUPS)
    for solver in ("cg", "backfitting"):
        fit = backfit(
            design,
            "y",
            ["service"],
            GROUPS,
            pd.Series({"s": 0.5, "d": 0.8, "dept": 0.3, "Residual": 1.0}),
            max_sweeps=2,
            solver=solver,
        )
        assert not fit.converged and fit.sweeps == 2, solver


def test_generator_is_deterministic_whatever_the_chunking_and_fits_back(tmp_path):
    pytest.importorskip("pyarrow")
    from analysis.datasets.large import write_crossed_parquet

    a = write_crossed_parquet(
        tmp_path / "a.parquet", 150_000, seed=3, n_users=3_000, n_items=800, chunk_rows=40_000
    )
    b = write_crossed_parquet(
        tmp_path / "b.parquet", 150_000, seed=3, n_users=3_000, n_items=800, chunk_rows=1_000_000
    )
    assert not list(tmp_path.glob("*.partial"))  # written under a temporary name, renamed
    left, right = pd.read_parquet(a.path), pd.read_parquet(b.path)
    pd.testing.assert_frame_equal(left, right)
    assert len(left) == 150_000 and left["user"].max() < 3_000
    counts = left["user"].value_counts()
    assert counts.max() > 10 * counts.median()  # heavy-tailed activity
    sds = moment_estimates(left, "y", ["x"], ["user", "item"])
    assert sds["user"] == pytest.approx(a.sds["user"], rel=0.1)
    assert sds["item"] == pytest.approx(a.sds["item"], rel=0.15)
    assert sds["Residual"] == pytest.approx(a.sds["Residual"], rel=0.02)
    with pytest.raises(ValueError, match="does not exist"):
        write_crossed_parquet(tmp_path / "no" / "c.parquet", 10, seed=1)


def test_fit_large_command(tmp_path, capsys):
    import json

    from analysis.cli import main

    data = simulate_crossed(seed=5, n_students=200, n_instructors=40, per_student=8)
    path = tmp_path / "d.csv"
    data.assign(service=data["service"].astype(int)).to_csv(path, index=False)
    status = main(
        [
            "fit-large",
            str(path),
            "--response",
            "y",
            "--fixed",
            "service",
            "--groups",
            "s",
            "d",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["method"] == "moments+cg" and out["converged"]
    assert [row["grp"] for row in out["varcorr"]] == ["s", "d", "Residual"]
    assert out["criterion"] is None and out["AIC"] is None  # moments: no likelihood
    assert out["extras"]["solver"] == "cg" and out["extras"]["iterations"] > 0
    assert out["n_obs"] == len(data) and "n" not in out  # the name every command uses
    assert (
        main(["fit-large", str(tmp_path / "missing.parquet"), "--response", "y", "--groups", "s"])
        == 2
    )
    assert "fit-large: error: no such file or folder" in capsys.readouterr().err
    assert main(["fit-large", str(path), "--response", "nope", "--groups", "s"]) == 2
    assert f"fit-large: error: {path} has no column(s) ['nope']" in capsys.readouterr().err
    one = tmp_path / "one.csv"
    data.assign(s=0).to_csv(one, index=False)
    assert main(["fit-large", str(one), "--response", "y", "--groups", "s", "d"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        "fit-large: error: grouping column 's' has 1 level: a variance between groups needs at "
        "least two (lme4 refuses this too)\n"
    )
