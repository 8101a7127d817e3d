"""Hostile input, second round (issue 25): each case through ``python -m analysis``.

Every error is one line ``COMMAND: error: ...`` on stderr naming the column, term or argument,
with exit status 2 and no traceback; nothing else reaches stdout than the result. lme4's
answers come from ``scripts/lme4_hostile.R`` (``data/reference/hostile_lme4.json``), which
also holds the data those answers are about.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.book.lme4 import lme4_reference, read_reference
from analysis.models.ols import fit_ols
from analysis.models.results import lme4_parm

TESTS = Path(__file__).resolve().parent
#: The package the subprocesses run: the one this test imported.
PACKAGE_ROOT = Path(analysis.__file__).resolve().parents[1]
REFERENCE = read_reference("hostile_lme4.json")


def run(*argv: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m analysis ARGV`` in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs["capture_output"] = True
    return subprocess.run(
        [sys.executable, "-m", "analysis", *argv],
        cwd=cwd,
        env=env,
        text=True,
        timeout=300,
        check=False,
        **kwargs,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, command: str, *words: str) -> str:
    """Check an error: status 2, nothing on stdout, one line on stderr holding ``words``."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def reference_frame(case: str) -> pd.DataFrame:
    """The data lme4 was given for ``case``."""
    fits = REFERENCE["fits"]
    recorded = fits[case]["extras"] if case in fits else REFERENCE["extras"][case]
    return pd.DataFrame(recorded["data"])


@pytest.fixture(scope="module")
def archers(tmp_path_factory) -> Path:
    """Twelve archers, eight shots each, two bows: a small fit-mixed file."""
    rng = np.random.default_rng(2025)
    names = np.repeat([f"a{i:02d}" for i in range(12)], 8)
    bow = np.tile(["North", "South"], 48)
    skill = dict(zip(sorted(set(names)), rng.normal(0, 20, 12), strict=True))
    distance = (
        160
        + np.array([skill[n] for n in names])
        - 8 * (bow == "South")
        + rng.normal(0, 5, names.size)
    )
    folder = tmp_path_factory.mktemp("archers")
    pd.DataFrame({"Distance": distance.round(2), "Bow": bow, "Name": names}).to_csv(
        folder / "archers.csv", index=False
    )
    return folder


# --------------------------------------------------------------------------------------------
# 1. fit-mixed at 1e80: BLUPs and their SDs scale exactly
# --------------------------------------------------------------------------------------------


def test_fit_mixed_blups_scale_exactly_at_1e80(archers):
    data = pd.read_csv(archers / "archers.csv")
    data.assign(Distance=data["Distance"] * 1e80).to_csv(archers / "huge.csv", index=False)
    plain = run("fit-mixed", "archers.csv", "--json", cwd=archers)
    huge = run("fit-mixed", "huge.csv", "--json", cwd=archers)
    assert plain.returncode == huge.returncode == 0, huge.stderr
    assert "overflow" not in huge.stderr
    a, b = json.loads(plain.stdout), json.loads(huge.stdout)
    assert [r["grp"] for r in b["ranef"]] == [r["grp"] for r in a["ranef"]]
    for key in ("condval", "condsd"):  # the BLUPs and their SDs
        assert None not in [r[key] for r in b["ranef"]]
        ratio = np.array([r[key] for r in b["ranef"]]) / np.array([r[key] for r in a["ranef"]])
        np.testing.assert_allclose(ratio, 1e80, rtol=1e-6)
    assert b["varcorr"][0]["sdcor"] == pytest.approx(a["varcorr"][0]["sdcor"] * 1e80, rel=1e-6)


# --------------------------------------------------------------------------------------------
# 2. lmer: rank-deficient design, one-level factor
# --------------------------------------------------------------------------------------------


def test_lmer_json_stays_json_for_a_rank_deficient_design(tmp_path):
    ref = lme4_reference("rank_deficient", "hostile_lme4.json")
    reference_frame("rank_deficient").drop(columns=["f", "k"], errors="ignore").to_csv(
        tmp_path / "rank.csv", index=False
    )
    result = run("lmer", "rank.csv", "--formula", "y ~ x + x2 + (1 | g)", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # nothing but the document on stdout
    dropped = out["extras"]["dropped_columns"]
    assert len(dropped) == ref.extras["n_dropped"] == 1
    assert dropped == [ref.extras["dropped"]] == ["x2"]  # lme4 keeps the first
    assert out["criterion"] == pytest.approx(ref.criterion, rel=1e-6)
    estimates = {row["term"]: row["estimate"] for row in out["fixed"]}
    assert estimates == pytest.approx(
        dict(zip(ref.fixed["term"], ref.fixed["estimate"], strict=True)), rel=1e-5
    )
    notes = [line for line in result.stderr.splitlines() if "rank deficient" in line]
    assert len(notes) == 1 and notes[0].startswith("lmer: warning: ")
    assert dropped[0] in notes[0]
    assert "rank deficient" in ref.extras["messages"]  # lme4 says so too


def test_lmer_refuses_a_one_level_factor_as_lme4_does(tmp_path):
    assert "2 or more levels" in REFERENCE["extras"]["one_level_factor"]["error"]
    reference_frame("one_level_factor").to_csv(tmp_path / "one.csv", index=False)
    result = run("lmer", "one.csv", "--formula", "y ~ f + (1 | g)", cwd=tmp_path)
    assert_one_line_error(result, "lmer", "'f'", "one level")


# --------------------------------------------------------------------------------------------
# 3. A constant response is refused, with a message that says so
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("lmer", ["--formula", "y ~ 1 + (1 | g)"]),
        ("fit-mixed", ["--response", "y", "--fixed", "--group", "g"]),
    ],
)
def test_a_constant_response_is_refused(tmp_path, command, options):
    assert REFERENCE["extras"]["constant_response"]["remlcrit_is_finite"] is False  # lme4: -Inf
    reference_frame("constant_response").to_csv(tmp_path / "const.csv", index=False)
    result = run(command, "const.csv", *options, cwd=tmp_path)
    line = assert_one_line_error(result, command, "'y'", "constant")
    assert "math domain" not in line


# --------------------------------------------------------------------------------------------
# 4 and 9. fit-large on Parquet: every file checked, levels re-coded densely
# --------------------------------------------------------------------------------------------


def crossed_frame(seed: int, n: int = 240, users: int = 12, items: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.integers(0, users, n)
    i = rng.integers(0, items, n)
    y = rng.normal(0, 1, users)[u] + rng.normal(0, 0.7, items)[i] + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "user": u.astype(np.int64), "item": i.astype(np.int64)})


def test_fit_large_refuses_float_codes_in_the_second_parquet_file(tmp_path):
    data = crossed_frame(1)
    folder = tmp_path / "parts"
    folder.mkdir()
    data.iloc[:120].to_parquet(folder / "a.parquet")
    second = data.iloc[120:].astype({"user": float})
    second.iloc[0, second.columns.get_loc("user")] = 3.5
    second.to_parquet(folder / "b.parquet")
    result = run("fit-large", "parts", "--response", "y", "--groups", "user", "item", cwd=tmp_path)
    assert_one_line_error(result, "fit-large", "'user'", "3.5")


def test_fit_large_recodes_sparse_and_huge_codes_densely(tmp_path):
    data = crossed_frame(2)
    dense = tmp_path / "dense.parquet"
    data.to_parquet(dense)
    sparse = data.assign(user=data["user"] * 1000)
    sparse.loc[sparse["user"] == 0, "user"] = 700_000_000_000  # would ask for terabytes
    sparse.to_parquet(tmp_path / "sparse.parquet")
    argv = ["--response", "y", "--groups", "user", "item", "--json"]
    a = run("fit-large", "dense.parquet", *argv, cwd=tmp_path)
    b = run("fit-large", "sparse.parquet", *argv, cwd=tmp_path)
    assert a.returncode == b.returncode == 0, b.stderr
    fa, fb = json.loads(a.stdout), json.loads(b.stdout)
    users = [r["grp"] for r in fb["ranef"] if r["grpvar"] == "user"]
    assert len(users) == fb["n_groups"]["user"] == data["user"].nunique()
    assert "700000000000" in users
    sds_a = {r["grp"]: r["sdcor"] for r in fa["varcorr"]}
    sds_b = {r["grp"]: r["sdcor"] for r in fb["varcorr"]}
    for key in ("user", "item", "Residual"):
        assert sds_b[key] == pytest.approx(sds_a[key], rel=1e-9)


def test_fit_large_workers_are_bounded_by_the_machine(tmp_path):
    crossed_frame(3).to_parquet(tmp_path / "d.parquet")
    result = run(
        "fit-large",
        "d.parquet",
        "--response",
        "y",
        "--groups",
        "user",
        "item",
        "--workers",
        "1000000",
        cwd=tmp_path,
    )
    assert_one_line_error(result, "fit-large", "--workers", "cores")


# --------------------------------------------------------------------------------------------
# 5. Numeric-looking labels stay apart (01 and 1 are two groups, as lme4 with text labels)
# --------------------------------------------------------------------------------------------


def _n_groups(out: dict) -> int:
    levels = {r["grp"] for r in out["ranef"] if r["grpvar"] == "g"}
    assert out["n_groups"]["g"] == len(levels)  # the same count in every command
    return len(levels)


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("fit-mixed", ["--response", "y", "--fixed", "--group", "g"]),
        ("fit-crossed", ["--response", "y", "--groups", "g"]),
        ("fit-large", ["--response", "y", "--groups", "g"]),
        ("lmer", ["--formula", "y ~ 1 + (1 | g)"]),
    ],
)
def test_numeric_looking_labels_stay_apart(tmp_path, command, options):
    ref = lme4_reference("numeric_labels", "hostile_lme4.json")
    data = reference_frame("numeric_labels")
    assert {"01", "1"} <= set(data["g"])
    data.to_csv(tmp_path / "labels.csv", index=False)
    result = run(command, "labels.csv", *options, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _n_groups(json.loads(result.stdout)) == ref.group_sizes["g"] == 10
    assert ref.extras["ngroups_as_numbers"] == 5  # what reading the labels as numbers would give


# --------------------------------------------------------------------------------------------
# 6. fit-mixed --level applies to the fixed effects' intervals
# --------------------------------------------------------------------------------------------


def test_fit_mixed_level_applies_to_fixed_effect_intervals(archers):
    result = run("fit-mixed", "archers.csv", "--level", "0.5", "--json", cwd=archers)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["confint"]["level"] == 0.5  # one level: the SDs' and the fixed effects'
    se = {row["term"]: row["std_error"] for row in out["fixed"]}
    assert len(out["confint"]["fixed"]) == len(se) == 2
    for row in out["confint"]["fixed"]:
        half = (row["upper"] - row["lower"]) / 2
        assert half == pytest.approx(0.6744897501960817 * se[row["term"]], rel=1e-9)
    assert len(out["confint"]["varcorr"]) == 2


# --------------------------------------------------------------------------------------------
# 7. lmer on singular fits: profiles as lme4's confint, NaN correlation as null
# --------------------------------------------------------------------------------------------


def test_lmer_profiles_a_singular_fit_as_lme4(tmp_path):
    ref = lme4_reference("singular_profile", "hostile_lme4.json")
    assert ref.singular is True
    reference_frame("singular_profile").to_csv(tmp_path / "sing.csv", index=False)
    result = run(
        "lmer", "sing.csv", "--formula", "y ~ x + (1 | g)", "--profile", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["singular"] is True
    ci = out["confint"]
    ours = {lme4_parm(row["grp"], row["var1"], row["var2"]): row for row in ci["varcorr"]}
    ours |= {row["term"]: row for row in ci["fixed"]}
    lme4 = ref.profile
    for parm, lower, upper in zip(lme4["parm"], lme4["lower"], lme4["upper"], strict=True):
        assert ours[parm]["lower"] == pytest.approx(lower, abs=2e-3), parm
        assert ours[parm]["upper"] == pytest.approx(upper, abs=2e-3), parm
    assert ours["sd_(Intercept)|g"]["lower"] == 0.0


def test_lmer_reports_a_singular_correlated_fit_with_a_null_correlation(tmp_path):
    ref = lme4_reference("singular_correlated", "hostile_lme4.json")
    assert ref.singular is True and ref.extras["correlation_is_nan"] is True
    reference_frame("singular_correlated").to_csv(tmp_path / "sc.csv", index=False)
    result = run("lmer", "sc.csv", "--formula", "y ~ x + (x | g)", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["singular"] is True
    correlations = [row for row in out["varcorr"] if row["var2"]]
    assert len(correlations) == 1 and correlations[0]["sdcor"] is None
    text = run("lmer", "sc.csv", "--formula", "y ~ x + (x | g)", cwd=tmp_path)
    assert text.returncode == 0 and "boundary (singular) fit" in text.stdout


# --------------------------------------------------------------------------------------------
# 8. No tracebacks: keyword column names, infinities, /dev/full, closed pipes, closed stdout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["class", "lambda"])
def test_fit_mixed_accepts_keyword_column_names(archers, name):
    data = pd.read_csv(archers / "archers.csv").rename(columns={"Bow": name})
    data.to_csv(archers / f"{name}.csv", index=False)
    result = run("fit-mixed", f"{name}.csv", "--fixed", name, "--json", cwd=archers)
    assert result.returncode == 0, result.stderr
    assert f"{name}South" in [r["term"] for r in json.loads(result.stdout)["fixed"]]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("fit-mixed", ["--fixed", "x"]),
        ("fit-crossed", ["--response", "Distance", "--fixed", "x", "--groups", "Name"]),
        ("fit-large", ["--response", "Distance", "--fixed", "x", "--groups", "Name"]),
        ("lmer", ["--formula", "Distance ~ x + (1 | Name)"]),
    ],
)
def test_an_infinite_fixed_effect_value_is_one_error_line(archers, command, options):
    data = pd.read_csv(archers / "archers.csv")
    data["x"] = np.linspace(0, 1, len(data))
    data.loc[5, "x"] = np.inf
    data.to_csv(archers / "inf.csv", index=False)
    assert_one_line_error(
        run(command, "inf.csv", *options, cwd=archers), command, "'x'", "infinite"
    )


def test_a_full_disk_is_one_error_line(archers):
    with open("/dev/full", "w") as full:
        result = run(
            "fit-mixed", "archers.csv", "--json", cwd=archers, stdout=full, stderr=subprocess.PIPE
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fit-mixed: error: could not write")


@pytest.mark.parametrize("json_output", [False, True])
def test_a_closed_pipe_is_one_error_line(archers, json_output):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone, as after `| head -c 100`
    try:
        result = run(
            "fit-mixed",
            "archers.csv",
            *(["--json"] if json_output else []),
            cwd=archers,
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "reader closed the pipe" in lines[0], result.stderr


def test_a_closed_stdout_is_an_error_not_silence(archers):
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    result = subprocess.run(
        f"'{sys.executable}' -m analysis fit-mixed archers.csv >&-",
        shell=True,
        cwd=archers,
        env=env,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("fit-mixed: error: standard output is closed")


# --------------------------------------------------------------------------------------------
# Smaller
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ratings.csv.gz", "RATINGS.CSV"])
def test_fit_large_reads_compressed_and_upper_case_csv(tmp_path, name):
    data = crossed_frame(4)
    data.to_csv(tmp_path / "ratings.csv", index=False)
    data.to_csv(tmp_path / name, index=False)
    argv = ["--response", "y", "--groups", "user", "item", "--json"]
    a = run("fit-large", "ratings.csv", *argv, cwd=tmp_path)
    b = run("fit-large", name, *argv, cwd=tmp_path)
    assert a.returncode == b.returncode == 0, b.stderr
    fa, fb = json.loads(a.stdout), json.loads(b.stdout)
    assert (fa.pop("file"), fb.pop("file")) == ("ratings.csv", name)
    assert fb == fa


def test_fit_mixed_names_a_numeric_intercept_column(archers):
    data = pd.read_csv(archers / "archers.csv")
    data["Intercept"] = np.linspace(0, 1, len(data))
    data.to_csv(archers / "icpt.csv", index=False)
    result = run("fit-mixed", "icpt.csv", "--fixed", "Intercept", cwd=archers)
    assert_one_line_error(result, "fit-mixed", "'Intercept'", "rename")
    crossed = run(
        "fit-crossed",
        "icpt.csv",
        "--response",
        "Distance",
        "--fixed",
        "Intercept",
        "--groups",
        "Name",
        "--json",
        cwd=archers,
    )
    assert crossed.returncode == 0
    assert [r["term"] for r in json.loads(crossed.stdout)["fixed"]] == ["(Intercept)", "Intercept"]


def test_lmer_warns_of_a_constant_random_slope_as_lme4_does(tmp_path):
    assert REFERENCE["extras"]["constant_slope"]["warnings"]  # lme4 warns
    reference_frame("constant_slope").to_csv(tmp_path / "k.csv", index=False)
    result = run("lmer", "k.csv", "--formula", "y ~ 1 + (k | g)", cwd=tmp_path)
    notes = [line for line in result.stderr.splitlines() if "'k'" in line]
    assert len(notes) == 1 and notes[0].startswith("lmer: warning: ") and "constant" in notes[0]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("lmer", ["--formula", "y ~ u + (1 | g)"]),
        ("fit-mixed", ["--response", "y", "--fixed", "u", "--group", "g"]),
    ],
)
def test_a_text_column_of_identifiers_is_named_not_blamed_on_the_scale(tmp_path, command, options):
    rng = np.random.default_rng(8)
    pd.DataFrame(
        {
            "y": rng.normal(size=30),
            "g": np.repeat(["a", "b", "c"], 10),
            "u": [f"id{i}" for i in range(30)],
        }
    ).to_csv(tmp_path / "ids.csv", index=False)
    line = assert_one_line_error(run(command, "ids.csv", *options, cwd=tmp_path), command, "'u'")
    assert "scale" not in line and "division" not in line


def test_fit_large_on_dask_workers_writes_no_log_lines(tmp_path):
    crossed_frame(5).to_parquet(tmp_path / "d.parquet")
    result = run(
        "fit-large",
        "d.parquet",
        "--response",
        "y",
        "--groups",
        "user",
        "item",
        "--workers",
        "1",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    json.loads(result.stdout)


def test_fit_crossed_on_a_wide_file_raises_no_performance_warning(tmp_path):
    rng = np.random.default_rng(6)
    n = 240
    columns = {"y": rng.normal(size=n), "g": rng.integers(0, 8, n)}
    columns.update({f"x{k}": rng.integers(0, 2, n) for k in range(110)})
    pd.DataFrame(columns).to_csv(tmp_path / "wide.csv", index=False)
    fixed = [f"x{k}" for k in range(110)]
    result = run(
        "fit-crossed",
        "wide.csv",
        "--response",
        "y",
        "--groups",
        "g",
        "--fixed",
        *fixed,
        "--json",
        cwd=tmp_path,
    )
    assert "fragmented" not in result.stderr and "PerformanceWarning" not in result.stderr


@pytest.mark.parametrize(
    ("command", "options", "data"),
    [
        ("fit-crossed", ["--response", "y", "--groups", "user", "item"], "d.csv"),
        ("fit-large", ["--response", "y", "--groups", "user", "item"], "d.parquet"),
        ("fit-mixed", ["--response", "y", "--fixed", "--group", "user"], "d.csv"),
        ("lmer", ["--formula", "y ~ 1 + (1 | user)", "--engine", "mixedlm"], "d.csv"),
    ],
)
def test_json_is_byte_identical_between_runs(tmp_path, command, options, data):
    frame = crossed_frame(7)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    first = run(command, data, *options, "--json", cwd=tmp_path)
    second = run(command, data, *options, "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert "fit_seconds" not in json.loads(first.stdout)
    timed = run(command, data, *options, "--json", "--timings", cwd=tmp_path)
    assert json.loads(timed.stdout)["fit_seconds"] > 0


def test_fit_ols_refuses_a_formula_that_would_run_python():
    data = pd.DataFrame({"y": [1.0, 2.0, 3.5, 4.0], "x": [0.0, 1.0, 2.0, 3.0]})
    assert fit_ols(data, "y ~ x + I(x ** 2)").params.size == 3
    for formula in ("y ~ I(__import__('os').getcwd())", "y ~ x.real", "y ~ x[0]", "y ~ z"):
        with pytest.raises(ValueError, match="formula"):
            fit_ols(data, formula)


# --- The formula front end that lmer shares with glmer (issue 25, smaller points) -------------


@pytest.fixture(scope="module")
def sleep_csv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sleep")
    data = pd.read_csv(TESTS.parent / "data" / "sleepstudy.csv")
    path = folder / "sleep.csv"
    data.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("size", [4_000, 8_000])
def test_a_long_malformed_formula_fails_at_once(sleep_csv, size):
    import time

    formula = "Reaction ~ Days + " + "(" * (size // 2) + "Days" + " + x" * (size // 8)
    tick = time.perf_counter()
    result = run("lmer", str(sleep_csv), "--formula", formula, cwd=sleep_csv.parent)
    assert time.perf_counter() - tick < 30  # a process start, not a regex's backtracking
    assert_one_line_error(result, "lmer", "parenthes")


def test_an_unclosed_parenthesis_is_named_as_such(sleep_csv):
    result = run(
        "lmer",
        str(sleep_csv),
        "--formula",
        "Reaction ~ Days + (Days | Subject",
        cwd=sleep_csv.parent,
    )
    assert_one_line_error(result, "lmer", "unclosed parenthesis")


def test_lmer_fits_transformations_as_lme4_does(sleep_csv, tmp_path):
    data = pd.read_csv(sleep_csv)
    data["logReaction"] = np.log(data["Reaction"])
    data["logDays1"] = np.log(data["Days"] + 1)
    plain_csv = tmp_path / "plain.csv"
    data.to_csv(plain_csv, index=False)

    def fit(path: Path, formula: str) -> dict:
        result = run("lmer", str(path), "--formula", formula, "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    for transformed, plain in [
        ("log(Reaction) ~ Days + (Days | Subject)", "logReaction ~ Days + (Days | Subject)"),
        ("Reaction ~ log(Days + 1) + (1 | Subject)", "Reaction ~ logDays1 + (1 | Subject)"),
    ]:
        a, b = fit(sleep_csv, transformed), fit(plain_csv, plain)
        assert a["formula"] == transformed
        assert a["criterion"] == pytest.approx(b["criterion"], abs=1e-6)
        np.testing.assert_allclose(
            [r["estimate"] for r in a["fixed"]], [r["estimate"] for r in b["fixed"]], atol=1e-6
        )
    terms = [r["term"] for r in fit(sleep_csv, "Reaction ~ log(Days + 1) + (1 | Subject)")["fixed"]]
    assert terms == ["(Intercept)", "log(Days + 1)"]  # lme4's name of the column


def test_lmer_takes_the_fast_path_for_crossed_intercepts(tmp_path):
    data = pd.read_csv(TESTS.parent / "data" / "penicillin.csv")
    path = tmp_path / "penicillin.csv"
    data.to_csv(path, index=False)
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    result = run("lmer", str(path), "--formula", formula, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    fast = json.loads(result.stdout)
    assert fast["kind"] == "crossed"  # the package's own sparse fitter
    profiled = run("lmer", str(path), "--formula", formula, "--json", "--profile", cwd=tmp_path)
    slow = json.loads(profiled.stdout)  # --profile stays with mixedlm, which profiles
    assert slow["kind"] == "mixedlm" and slow["confint"] is not None
    assert fast["confint"] is None
    assert fast["criterion"] == pytest.approx(slow["criterion"], abs=1e-4)
    for a, b in zip(
        fast["varcorr"], sorted(slow["varcorr"], key=lambda r: r["grp"] == "Residual"), strict=True
    ):
        assert a["grp"] == b["grp"] and a["sdcor"] == pytest.approx(b["sdcor"], rel=1e-4)
