"""The fit-mixed command (analysis.cli)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import build_parser, main
from analysis.datasets.archers import simulate_archers

ROOT = Path(__file__).resolve().parents[1]


def fit_mixed(*argv: str) -> int:
    return main(["fit-mixed", *argv])


@pytest.fixture(scope="module")
def fresh_csv(tmp_path_factory) -> Path:
    """A CSV that is not one of the book's, with other column names."""
    rng = np.random.default_rng(42)
    school = np.repeat([f"s{i:02d}" for i in range(12)], 8)
    effect = dict(zip(sorted(set(school)), rng.normal(0, 5, 12), strict=True))
    df = pd.DataFrame(
        {
            "score": 50 + np.array([effect[s] for s in school]) + rng.normal(0, 2, school.size),
            "arm": np.tile(["control", "treated"], school.size // 2),
            "school": school,
        }
    )
    path = tmp_path_factory.mktemp("cli") / "schools.csv"
    df.to_csv(path, index=False)
    return path


def test_registering_imports_nothing_heavy_and_parses_the_options():
    code = (
        "import sys; from analysis.cli import build_parser; build_parser(); "
        "print([m for m in ('statsmodels', 'pandas', 'numpy') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
    args = build_parser().parse_args(["fit-mixed", "x.csv", "--fixed", "a", "b", "--group", "g"])
    assert args.command == "fit-mixed" and args.path == "x.csv"
    assert args.fixed == ["a", "b"] and args.group == "g"
    defaults = build_parser().parse_args(["fit-mixed", "x.csv"])
    assert (defaults.response, defaults.fixed, defaults.group) == ("Distance", ["Bow"], "Name")
    assert not defaults.ml and not defaults.json and defaults.level == 0.95


def test_json_output_on_a_fresh_csv(fresh_csv, capsys):
    status = fit_mixed(
        str(fresh_csv), "--response", "score", "--fixed", "arm", "--group", "school", "--json"
    )
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["command"] == "fit-mixed" and out["file"] == str(fresh_csv)
    assert out["n_obs"] == 96 and out["n_groups"] == {"school": 12} and out["method"] == "REML"
    assert out["formula"] == "score ~ arm + (1 | school)"
    fixed = {row["term"]: row for row in out["fixed"]}
    assert set(fixed) == {"(Intercept)", "armtreated"}  # lme4's names
    assert fixed["(Intercept)"]["std_error"] > 0
    sds = {row["grp"]: row["sdcor"] for row in out["varcorr"]}
    assert sds["school"] > 0 and sds["Residual"] == out["sigma"] > 0
    ci = out["confint"]
    assert ci["level"] == 0.95 and "profile" in ci["method"]
    assert [row["grp"] for row in ci["varcorr"]] == ["school", "Residual"]
    for row in ci["varcorr"]:
        assert row["lower"] < row["estimate"] < row["upper"]
    for row in ci["fixed"]:  # Wald intervals around the estimates
        assert row["lower"] < fixed[row["term"]]["estimate"] < row["upper"]
    assert len(out["ranef"]) == 12
    assert abs(sum(r["condval"] for r in out["ranef"])) < 1e-6  # modes sum to zero here


def test_text_output(fresh_csv, capsys):
    assert fit_mixed(str(fresh_csv), "--response", "score", "--fixed", "--group", "school") == 0
    out = capsys.readouterr().out
    assert "Random effects:" in out and "95% intervals: SDs by profile likelihood" in out
    assert "Conditional modes" not in out  # none unless --top asks
    argv = ["--response", "score", "--fixed", "arm", "--group", "school", "--top", "2"]
    assert fit_mixed(str(fresh_csv), *argv) == 0
    out = capsys.readouterr().out
    assert "Conditional modes of (Intercept) | school (12 levels; the 2 lowest" in out


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        (
            "Distance,Bow,Name\n1,Northwood,a\n2,Northwood,b\n",
            ["--group", "Team"],
            "has no column(s) ['Team']",
        ),
        ("Distance,Bow,Name\nfar,Northwood,a\nnear,Southwood,b\n", [], "must be numeric"),
        (
            "Distance,Bow,Name\n1,Northwood,a\n2,Southwood,a\n3,Northwood,a\n",
            [],
            "needs at least two",
        ),
        (
            "Distance,Bow,Name\n1e300,Northwood,a\n2,Southwood,b\n3,Northwood,b\n",
            [],
            "response column 'Distance' reaches 1e+300",
        ),
        ("", [], "empty"),
        ("Distance,Bow,Name\n", [], "empty"),
        ("Distance,Bow,Name\n1,Northwood,a\n2,Southwood,b\n", ["--level", "1.5"], "--level"),
    ],
)
def test_errors_exit_2_with_one_line_without_traceback(tmp_path, capsys, content, argv, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert fit_mixed(str(path), *argv) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err and out == ""
    assert err.startswith("fit-mixed: error: ") and err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    assert fit_mixed(str(tmp_path / "nope.csv")) == 2
    assert "no such file" in capsys.readouterr().err


def test_subprocess_reports_error_cleanly(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("y,g\n1,a\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "fit-mixed",
            str(path),
            "--response",
            "y",
            "--fixed",
            "--group",
            "g",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "needs at least two" in run.stderr


def test_python_m_analysis_entry_point(tmp_path):
    exp = simulate_archers(6, 3, seed=1)
    path = tmp_path / "a.csv"
    exp.data.to_csv(path, index=False)
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "fit-mixed", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n_groups"] == {"Name": 6}


def test_help_lists_every_command():
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    for command in ("fit-mixed", "fit-crossed", "fit-large", "lmer", "glmer"):
        assert command in run.stdout
        sub = subprocess.run(
            [sys.executable, "-m", "analysis", command, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        for option in ("--json", "--timings", "--top"):  # every command prints one way
            assert option in sub.stdout
    assert not (ROOT / "analysis" / "cli").exists()  # one module, analysis/cli.py


def test_singular_fit_is_flagged_in_json_and_warned(tmp_path, capsys):
    from analysis.cli import main

    # Every archer has the same mean: no between-archer variation, the group SD is 0.
    rng = np.random.default_rng(4)
    d = rng.normal(0.0, 5.0, (8, 2))
    shots = np.column_stack([d[:, 0], -10 + d[:, 1], -d[:, 0], -10 - d[:, 1]]) + 150.0
    frame = pd.DataFrame(
        {
            "Distance": shots.ravel(),
            "Bow": np.tile(["Northwood", "Southwood"], 16),
            "Name": np.repeat([f"a{i}" for i in range(8)], 4),
        }
    )
    path = tmp_path / "flat.csv"
    frame.to_csv(path, index=False)
    assert main(["fit-mixed", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["singular"] is True and doc["varcorr"][0]["sdcor"] < 1e-4 * doc["sigma"]
    assert "fit-mixed: warning: boundary (singular) fit" in err
    assert main(["fit-mixed", str(tmp_path / "flat.csv"), "--json"]) == 0


def test_the_readme_shows_what_the_command_prints(capsys, monkeypatch):
    """The README's example of the one text report is the command's output (the same lines
    and words; numbers to within 1e-4 of each other, so that another BLAS passes)."""
    import re
    import shlex

    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- cli-example: (.+?) -->\n```text\n(.*?)```", readme, re.S)
    assert match, "the README shows no example output"
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(match.group(1))) == 0
    printed, shown = capsys.readouterr().out.splitlines(), match.group(2).splitlines()
    assert len(printed) == len(shown)
    for ours, theirs in zip(printed, shown, strict=True):
        a, b = ours.split(), theirs.split()
        assert len(a) == len(b), ours
        for x, y in zip(a, b, strict=True):
            try:
                assert float(x) == pytest.approx(float(y), rel=1e-4, abs=1e-8), ours
            except ValueError:
                assert x == y, ours


def test_run_exits_with_mains_status_and_freezes_only_there(monkeypatch, tmp_path, capsys):
    import gc

    import analysis.cli as cli

    frozen = []
    monkeypatch.setattr(cli.gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(cli, "main", lambda: 2)
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 2 and frozen == [True]
    monkeypatch.undo()
    # main() called from other code (as these tests do) leaves the collector alone.
    path = tmp_path / "a.csv"
    simulate_archers(6, 3, seed=1).data.to_csv(path, index=False)
    before = gc.get_freeze_count()
    assert main(["fit-mixed", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_groups"] == {"Name": 6}
    assert gc.get_freeze_count() == before
