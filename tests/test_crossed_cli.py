"""The fit-crossed command (analysis.cli)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.datasets.insteval import simulate_crossed
from analysis.models.crossed import fit_crossed

ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv):
    return main(["fit-crossed", *argv])


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    data = simulate_crossed(seed=21, n_students=60, n_instructors=15, per_student=5)
    path = tmp_path_factory.mktemp("cli") / "ratings.csv"
    data.to_csv(path, index=False)
    return path, data


def test_json_output_matches_the_fitter(sim_csv, capsys):
    path, data = sim_csv
    argv = [str(path), "--response", "y", "--fixed", "service", "--groups", "s", "d", "dept"]
    assert run_cli([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fit = fit_crossed(data, "y", ["service"], ["s", "d", "dept"])
    assert out["command"] == "fit-crossed" and out["kind"] == "crossed"
    assert out["formula"] == "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
    assert out["criterion_name"] == "REML criterion"
    assert out["n_obs"] == len(data) and "n" not in out  # one name in every command
    assert out["criterion"] == pytest.approx(fit.criterion, rel=1e-12)
    assert [row["term"] for row in out["fixed"]] == ["(Intercept)", "service1"]
    sds = {row["grp"]: row["sdcor"] for row in out["varcorr"]}
    assert sds["d"] == pytest.approx(fit.sds["d"], rel=1e-9)
    assert out["n_groups"] == {"s": 60, "d": 15, "dept": data["dept"].nunique()}
    modes = [row for row in out["ranef"] if row["grpvar"] == "d"]
    assert [row["grp"] for row in modes] == [str(v) for v in fit.ranef["d"].index]
    assert [row["condval"] for row in modes] == pytest.approx(fit.ranef["d"]["mode"].tolist())
    assert out["extras"]["n_evals"] == fit.n_evals


def test_ml_and_text_output(sim_csv, capsys):
    path, _ = sim_csv
    assert run_cli([str(path), "--response", "y", "--groups", "s", "d", "--ml", "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "fit by maximum likelihood" in text and "deviance" in text
    assert "Conditional modes of (Intercept) | s (60 levels; the 2 lowest and 2 highest)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--response", "y", "--groups", "nope"], "no column(s) ['nope']"),
        (["--response", "y", "--fixed", "zzz", "--groups", "s"], "zzz"),
        (["--response", "d", "--groups", "s"], None),  # numeric ids: a valid (odd) model
        (["--response", "y", "--groups", "s", "--top", "-1"], "--top"),
        (["--response", "y", "--groups", "s", "--factors", "d"], "--factors column 'd'"),
    ],
)
def test_column_errors(sim_csv, capsys, argv, message):
    path, _ = sim_csv
    code = run_cli([str(path), *argv])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0
    else:
        assert code == 2
        assert message in err
        assert "Traceback" not in err


def test_non_numeric_response_and_empty_data(tmp_path, capsys):
    text = tmp_path / "text.csv"
    text.write_text("y,g\na,1\nb,2\nc,1\n")
    assert run_cli([str(text), "--response", "y", "--groups", "g"]) == 2
    assert "must be numeric" in capsys.readouterr().err
    header = tmp_path / "header.csv"
    header.write_text("y,g\n")
    assert run_cli([str(header), "--response", "y", "--groups", "g"]) == 2
    assert "no data rows" in capsys.readouterr().err
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    assert run_cli([str(blank), "--response", "y", "--groups", "g"]) == 2
    assert "empty" in capsys.readouterr().err
    assert run_cli([str(tmp_path / "missing.csv"), "--response", "y", "--groups", "g"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_registering_is_cheap_and_errors_have_no_traceback(tmp_path):
    code = (
        "import sys; from analysis.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('pandas', 'numpy', 'scipy', 'nlopt', 'pymc', 'dask') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
    bad = tmp_path / "bad.csv"
    bad.write_text("y,g\n1,1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "fit-crossed",
            str(bad),
            "--response",
            "y",
            "--groups",
            "h",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        f"fit-crossed: error: {bad} has no column(s) ['h']; its columns are ['y', 'g']\n"
    )


def test_python_m_analysis_runs_the_command(sim_csv):
    """Through ``python -m analysis``, the documented entry point."""
    path, _ = sim_csv
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "fit-crossed",
            str(path),
            "--response",
            "y",
            "--fixed",
            "service",
            "--groups",
            "s",
            "d",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert [r["term"] for r in json.loads(proc.stdout)["fixed"]] == ["(Intercept)", "service1"]


def test_cli_fails_cleanly_on_a_response_that_overflows(tmp_path, capsys):
    data = simulate_crossed(seed=3, n_students=30, n_instructors=10, per_student=4)
    path = tmp_path / "huge.csv"
    data.assign(y=data["y"] * 1e298).to_csv(path, index=False)
    status = run_cli(
        [str(path), "--response", "y", "--fixed", "service", "--groups", "s", "d", "--json"]
    )
    out, err = capsys.readouterr()
    assert status == 2 and "fit-crossed: error:" in err
    assert "NaN" not in out and out.strip() == ""


def test_cli_warns_on_a_singular_fit_and_flags_it_in_json(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    data = simulate_crossed(seed=3, n_students=30, n_instructors=10, per_student=4)
    path = tmp_path / "flat.csv"
    data.assign(y=3 + rng.normal(size=len(data))).to_csv(path, index=False)
    status = run_cli([str(path), "--response", "y", "--groups", "s", "d", "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and "boundary (singular) fit" in err
    assert json.loads(out)["singular"] is True


def test_profile_intervals_are_lme4s_confint(capsys):
    """``--profile`` profiles the fit's own ML deviance: lme4's confint on Penicillin."""
    from analysis.book.lme4 import lme4_reference
    from analysis.models.results import lme4_parm

    argv = [str(ROOT / "data" / "penicillin.csv"), "--response", "diameter"]
    assert run_cli([*argv, "--groups", "plate", "sample", "--profile", "--json"]) == 0
    ci = json.loads(capsys.readouterr().out)["confint"]
    assert ci["level"] == 0.95 and ci["fixed"] == []
    ours = {lme4_parm(r["grp"], r["var1"], r["var2"]): r for r in ci["varcorr"]}
    lme4 = lme4_reference("penicillin", "lme4_lmer.json").profile.set_index("parm")
    assert set(ours) == {"sd_(Intercept)|plate", "sd_(Intercept)|sample", "sigma"}
    for parm, row in ours.items():
        assert row["lower"] == pytest.approx(lme4.loc[parm, "lower"], rel=1e-4), parm
        assert row["upper"] == pytest.approx(lme4.loc[parm, "upper"], rel=1e-4), parm


def test_fit_mixed_profiles_the_fit_it_has(monkeypatch, capsys):
    """fit-mixed optimises the likelihood once: its intervals come from the fit, not the data."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    from analysis.models.likelihood import RandomInterceptLikelihood

    calls = {"MixedLM.fit": 0, "likelihood built": 0}
    fit, build = MixedLM.fit, RandomInterceptLikelihood.__init__

    def counted_fit(self, *args, **kwargs):
        calls["MixedLM.fit"] += 1
        return fit(self, *args, **kwargs)

    def counted_build(self, *args, **kwargs):
        calls["likelihood built"] += 1
        build(self, *args, **kwargs)

    monkeypatch.setattr(MixedLM, "fit", counted_fit)
    monkeypatch.setattr(RandomInterceptLikelihood, "__init__", counted_build)
    assert main(["fit-mixed", str(ROOT / "data" / "archers_50.csv"), "--json"]) == 0
    assert calls == {"MixedLM.fit": 1, "likelihood built": 1}  # one fit, profiled as it is
    ci = json.loads(capsys.readouterr().out)["confint"]
    assert [r["grp"] for r in ci["varcorr"]] == ["Name", "Residual"]
    assert all(r["lower"] < r["estimate"] < r["upper"] for r in ci["varcorr"] + ci["fixed"])
