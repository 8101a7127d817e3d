import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import mixed as mixed_cli
from analysis.datasets.archers import simulate_archers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fresh_csv(tmp_path_factory) -> Path:
    """A CSV that is not one of the book's, with other column names."""
    rng = np.random.default_rng(42)
    school = np.repeat([f"s{i:02d}" for i in range(12)], 8)
    effect = dict(zip(sorted(set(school)), rng.normal(0, 5, 12), strict=True))
    df = pd.DataFrame({
        "score": 50 + np.array([effect[s] for s in school]) + rng.normal(0, 2, school.size),
        "arm": np.tile(["control", "treated"], school.size // 2),
        "school": school,
    })
    path = tmp_path_factory.mktemp("cli") / "schools.csv"
    df.to_csv(path, index=False)
    return path


def test_register_adds_command_without_heavy_imports():
    code = ("import argparse, sys; from analysis.cli import mixed as mixed_cli; "
            "p = argparse.ArgumentParser(); s = p.add_subparsers(); mixed_cli.register(s); "
            "print('statsmodels' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
    parser = argparse.ArgumentParser()
    mixed_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fit-mixed", "x.csv", "--fixed", "a", "b", "--group", "g"])
    assert args.fixed == ["a", "b"] and args.group == "g" and args.func is mixed_cli.run


def test_json_output_on_a_fresh_csv(fresh_csv, capsys):
    status = mixed_cli.main([str(fresh_csv), "--response", "score", "--fixed", "arm",
                             "--group", "school", "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_obs"] == 96 and out["n_groups"] == 12 and out["method"] == "REML"
    assert set(out["fixed"]) == {"Intercept", "arm[T.treated]"}
    assert out["fixed"]["Intercept"]["se"] > 0
    assert out["sd_group"] > 0 and out["sd_resid"] > 0
    ci = out["profile_ci"]
    for name in ("sd_group", "sd_resid"):
        assert ci[name]["lower"] < ci[name]["estimate"] < ci[name]["upper"]
    assert len(out["blups"]) == 12
    assert abs(sum(out["blups"].values())) < 1e-6  # conditional modes sum to zero here


def test_text_output(fresh_csv, capsys):
    assert mixed_cli.main([str(fresh_csv), "--response", "score", "--fixed",
                           "--group", "school"]) == 0
    out = capsys.readouterr().out
    assert "Random effects:" in out and "Profile-likelihood 95% intervals" in out


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        ("Distance,Bow,Name\n1,Northwood,a\n2,Northwood,b\n", ["--group", "Team"],
         "missing column"),
        ("Distance,Bow,Name\nfar,Northwood,a\nnear,Southwood,b\n", [], "must be numeric"),
        ("Distance,Bow,Name\n1,Northwood,a\n2,Southwood,a\n3,Northwood,a\n", [],
         "at least two groups"),
        ("", [], "empty"),
        ("Distance,Bow,Name\n", [], "empty"),
    ],
)
def test_errors_exit_nonzero_without_traceback(tmp_path, capsys, content, argv, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert mixed_cli.main([str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_file(tmp_path, capsys):
    assert mixed_cli.main([str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_subprocess_reports_error_cleanly(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("y,g\n1,a\n")
    run = subprocess.run([sys.executable, "-m", "analysis.cli.mixed", str(path), "--response",
                          "y", "--fixed", "--group", "g"], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "at least two groups" in run.stderr


def test_python_m_analysis_entry_point(tmp_path):
    from analysis.__main__ import COMMAND_MODULES

    if "analysis.cli.mixed" not in COMMAND_MODULES:
        pytest.skip("analysis.cli.mixed is not yet listed in analysis.__main__.COMMAND_MODULES")
    exp = simulate_archers(6, 3, seed=1)
    path = tmp_path / "a.csv"
    exp.data.to_csv(path, index=False)
    run = subprocess.run([sys.executable, "-m", "analysis", "fit-mixed", str(path), "--json"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n_groups"] == 6
