"""Benchmark crossed random effects at scale: where exact REML stops, and moments + CG on Dask.

Two measurements, each run in a fresh process under GNU ``time`` so that its wall time and
peak memory (the resident set of the largest process: for a Dask cluster, the largest of the
client and its worker processes) are its own:

* **reml**: ``y ~ x + (1|user) + (1|item)`` fitted exactly by REML on users x items designs
  whose numbers of levels grow with the rows (a user per 10 rows, an item per 200), by the
  package's crossed fitter (``fit-crossed``), by mixedlm (``lmer``) and by lme4 (``Rscript``),
  each with a time limit: a run that does not finish in it is recorded as such.
* **scale**: the same model by moments and conjugate gradients (``fit-large``) on Parquet
  files of 10^5 ... 10^8 rows (100,000 users x 20,000 items, heavy-tailed activity), read
  partition by partition by Dask on a local cluster of 1 and of 2 worker processes. The
  moment estimates are recorded beside the true SDs of the simulation.

The data are written once to ``--data-dir`` (default ``/tmp/bench_large``) and reused. The
results are printed with the machine named and written to ``bench/results/large_reml.csv``
and ``bench/results/large_scale.csv``; the chapter on scale plots them.

* **three factors** (``--three-factors``): the 200,000-row design with 10,000 x 5,000 x 2,000
  uniformly crossed levels, by the package's REML fitter, mixedlm, lme4 and moments + CG
  (``bench/results/large_three_factors.csv``).
* **moments**: exact REML and moments on 20 replications of the chapter's million-rating
  design (``MILLION_DESIGN``): the spread of their difference is the sampling error the
  chapter compares its own difference with (``bench/results/large_moments.csv``).

Run: ``.venv/bin/python bench/bench_large.py [--max-rows 1e8] [--skip-reml] [--skip-scale]
[--replications N]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analysis.book.reproducibility import machine_info, rscript_with_lme4
from analysis.datasets.large import MILLION_DESIGN, write_crossed_parquet

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TIME = shutil.which("time") or "/usr/bin/time"

#: Rows of the exact-REML runs, and of the moments + CG runs.
REML_ROWS = (10_000, 30_000, 100_000, 300_000, 1_000_000)
SCALE_ROWS = (100_000, 1_000_000, 10_000_000, 100_000_000)

R_FIT = """
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
groups <- args[-1]
for (g in groups) d[[g]] <- factor(d[[g]])
form <- reformulate(c("x", sprintf("(1 | %s)", groups)), response = "y")
t <- system.time(f <- lmer(form, data = d, REML = TRUE))
cat(sprintf('{"fit_seconds": %.4f}\\n', t[["elapsed"]]))
"""


def timed(cmd: list[str], limit: float) -> dict[str, object]:
    """Run ``cmd`` under GNU time; return wall seconds, peak RSS (MB), stdout, and status."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        # A session of its own, so that a run over the limit is stopped with everything it
        # started (R, worker processes), not just the `time` process around it.
        proc = subprocess.Popen(
            [TIME, "-f", "%e %M", "-o", out.name, *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {
                "status": f"not finished in {limit:.0f} s",
                "wall_seconds": float("nan"),
                "peak_mb": float("nan"),
                "stdout": "",
            }
        fields = out.read().split()
    wall, rss = (
        (float(fields[-2]), float(fields[-1]) / 1024)
        if len(fields) >= 2
        else (float("nan"), float("nan"))
    )
    last = (stderr.strip().splitlines() or [""])[-1]  # the commands' one-line error message
    status = "ok" if proc.returncode == 0 else f"failed ({last[-300:]})"
    return {"status": status, "wall_seconds": wall, "peak_mb": rss, "stdout": stdout}


def sds_of(document: dict[str, object]) -> dict[str, float]:
    """The SDs of a command's JSON document by group (``Residual`` too): its ``varcorr`` rows."""
    rows = document.get("varcorr", [])
    return {r["grp"]: r["sdcor"] for r in rows if not r["var2"]}  # type: ignore[union-attr]


def last_json(text: str) -> dict[str, object]:
    """The last line of ``text`` that parses as a JSON object ({} if none)."""
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def exact_runs(csv: Path, groups: list[str]) -> dict[str, list[str]]:
    """The commands fitting ``y ~ x + (1|g) ...`` exactly by REML: the package, mixedlm, lme4."""
    py = [sys.executable, "-m", "analysis"]
    terms = " + ".join(f"(1 | {g})" for g in groups)
    runs = {
        "package (fit-crossed)": [
            *py,
            "fit-crossed",
            str(csv),
            "--response",
            "y",
            "--fixed",
            "x",
            "--groups",
            *groups,
            "--json",
            "--timings",
        ],
        "mixedlm (lmer)": [
            *py,
            "lmer",
            str(csv),
            "--formula",
            f"y ~ x + {terms}",
            "--json",
            "--timings",
        ],
    }
    lme4 = rscript_with_lme4()
    if lme4:
        runs["lme4"] = [lme4, "-e", R_FIT, str(csv), *groups]
    return runs


def bench_reml(data_dir: Path, limit: float, max_rows: int) -> pd.DataFrame:
    """Exact REML by three programs on growing designs."""
    rows = []
    for n in (r for r in REML_ROWS if r <= max_rows):
        users, items = n // 10, n // 200
        csv = data_dir / f"reml_{n}.csv"
        if not csv.exists():
            truth = write_crossed_parquet(
                data_dir / f"reml_{n}.parquet", n, seed=20_000 + n, n_users=users, n_items=items
            )
            pd.read_parquet(truth.path).to_csv(csv, index=False)
        for program, cmd in exact_runs(csv, ["user", "item"]).items():
            result = timed(cmd, limit)
            fit_s = last_json(str(result["stdout"])).get("fit_seconds", float("nan"))
            rows.append(
                {
                    "rows": n,
                    "users": users,
                    "items": items,
                    "program": program,
                    "status": result["status"],
                    "wall_seconds": result["wall_seconds"],
                    "fit_seconds": fit_s,
                    "peak_mb": result["peak_mb"],
                }
            )
            print(
                f"  REML {n:>9,} rows  {program:<22} {result['status']:<8} "
                f"{result['wall_seconds']:8.1f} s  {result['peak_mb']:8.0f} MB",
                flush=True,
            )
    return pd.DataFrame(rows)


def bench_scale(data_dir: Path, limit: float, max_rows: int) -> pd.DataFrame:
    """Moments + conjugate gradients on Dask, 1 and 2 workers, growing Parquet files."""
    rows = []
    for n in (r for r in SCALE_ROWS if r <= max_rows):
        path = data_dir / f"scale_{n}.parquet"
        if not path.exists():
            write_crossed_parquet(path, n, seed=30_000, chunk_rows=1_000_000)
        for workers in (1, 2):
            cmd = [
                sys.executable,
                "-m",
                "analysis",
                "fit-large",
                str(path),
                "--response",
                "y",
                "--fixed",
                "x",
                "--groups",
                "user",
                "item",
                "--workers",
                str(workers),
                "--json",
                "--timings",
            ]
            result = timed(cmd, limit)
            fit = last_json(str(result["stdout"]))
            sds = sds_of(fit)
            extras = fit.get("extras") or {}
            iterations = extras.get("iterations", float("nan"))  # type: ignore[union-attr]
            rows.append(
                {
                    "rows": n,
                    "workers": workers,
                    "status": result["status"],
                    "wall_seconds": result["wall_seconds"],
                    "fit_seconds": fit.get("fit_seconds", float("nan")),
                    "iterations": iterations,
                    "peak_mb": result["peak_mb"],
                    "user_sd": sds.get("user", float("nan")),
                    "item_sd": sds.get("item", float("nan")),
                    "residual_sd": sds.get("Residual", float("nan")),
                }
            )
            print(
                f"  moments+CG {n:>12,} rows  {workers} worker(s)  {result['status']:<8} "
                f"{result['wall_seconds']:8.1f} s  {result['peak_mb']:8.0f} MB  "
                f"{iterations} iterations",
                flush=True,
            )
    return pd.DataFrame(rows)


#: The three-factor design of the architecture issue: 200,000 rows, uniformly crossed.
THREE_FACTORS = {"rows": 200_000, "levels": (10_000, 5_000, 2_000)}


def bench_three_factors(
    data_dir: Path, limit: float, only: list[str] | None = None
) -> pd.DataFrame:
    """Exact REML by four programs, and moments + CG, on 10,000 x 5,000 x 2,000 crossed levels.

    statsmodels' ``MixedLM`` fits crossed factors as variance components of one group with
    dense design blocks, here 200,000 x 17,000 numbers (27 GB); it runs under the address-space
    limit of ``bench/statsmodels_crossed.py`` (10 GB) and its failure is recorded. ``only``
    runs the programs whose label contains one of its strings.
    """
    import numpy as np

    n = THREE_FACTORS["rows"]
    levels = THREE_FACTORS["levels"]
    csv = data_dir / "three_factors.csv"
    if not csv.exists():
        rng = np.random.default_rng(50_000)
        codes = [rng.integers(0, q, n) for q in levels]
        effects = [rng.normal(0.0, sd, q) for sd, q in zip((0.5, 0.7, 0.3), levels, strict=True)]
        x = rng.standard_normal(n)
        y = 1.0 + 0.5 * x + sum(e[c] for e, c in zip(effects, codes, strict=True))
        y = y + rng.standard_normal(n)
        frame = pd.DataFrame({"y": y, "x": x, "g1": codes[0], "g2": codes[1], "g3": codes[2]})
        frame.to_csv(csv, index=False)
    groups = ["g1", "g2", "g3"]
    runs = exact_runs(csv, groups)
    runs["statsmodels (MixedLM, variance components)"] = [
        sys.executable,
        str(ROOT / "bench" / "statsmodels_crossed.py"),
        str(csv),
        "--response",
        "y",
        "--fixed",
        "x",
        "--groups",
        *groups,
    ]
    runs["package (fit-large, moments + CG)"] = [
        sys.executable,
        "-m",
        "analysis",
        "fit-large",
        str(csv),
        "--response",
        "y",
        "--fixed",
        "x",
        "--groups",
        *groups,
        "--json",
    ]
    if only:
        runs = {p: c for p, c in runs.items() if any(o in p for o in only)}
    rows = []
    for program, cmd in runs.items():
        result = timed(cmd, limit)
        note = last_json(str(result["stdout"])).get("status")
        if note and note != "ok":
            result["status"] = f"failed ({note})"
        rows.append(
            {
                "rows": n,
                "levels": " x ".join(f"{q:,}" for q in levels),
                "program": program,
                "status": result["status"],
                "wall_seconds": result["wall_seconds"],
                "peak_mb": result["peak_mb"],
            }
        )
        print(
            f"  three factors {program:<34} {result['status'][:60]:<8} "
            f"{result['wall_seconds']:8.1f} s  {result['peak_mb']:8.0f} MB",
            flush=True,
        )
    return pd.DataFrame(rows)


def bench_moments(data_dir: Path, replications: int) -> pd.DataFrame:
    """Exact REML and moments on replications of the chapter's million-rating design.

    The spread of the difference between the two estimates over replications is the sampling
    error against which the chapter judges the difference in its own data set.
    """
    from analysis.models.crossed import fit_crossed
    from analysis.models.large import moment_estimates

    rows = []
    design = dict(MILLION_DESIGN)
    n_rows = design.pop("n_rows")
    for rep in range(replications):
        truth = write_crossed_parquet(
            data_dir / "million_rep.parquet", n_rows, seed=40_000 + rep, **design
        )
        frame = pd.read_parquet(truth.path)
        reml = fit_crossed(frame, "y", ["x"], ["user", "item"]).sds
        moments = moment_estimates(frame, "y", ["x"], ["user", "item"])
        for group in reml.index:
            rows.append(
                {
                    "replication": rep,
                    "group": group,
                    "reml": float(reml[group]),
                    "moments": float(moments[group]),
                    "truth": truth.sds[group],
                }
            )
    table = pd.DataFrame(rows)
    spread = (
        table.assign(diff=table["moments"] - table["reml"])
        .groupby("group")
        .agg(reml_sd=("reml", "std"), moments_sd=("moments", "std"), diff_sd=("diff", "std"))
    )
    print("  REML and moments over", replications, "replications of", f"{n_rows:,} rows:")
    print(spread.to_string(float_format=lambda v: f"{v:.4f}"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench_large"))
    parser.add_argument("--max-rows", type=float, default=1e8)
    parser.add_argument("--reml-limit", type=float, default=600, help="seconds per REML run")
    parser.add_argument("--scale-limit", type=float, default=3600, help="seconds per run")
    parser.add_argument("--skip-reml", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--three-factors",
        action="store_true",
        help="also the 200,000-row 10,000 x 5,000 x 2,000 design (slow)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        metavar="PROGRAM",
        help="three-factor design: run only these programs (substrings of "
        "their labels) and replace their rows in the results",
    )
    parser.add_argument(
        "--replications",
        type=int,
        default=20,
        help="replications of the million-rating design (0: skip)",
    )
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    machine = f"{info['cpu_count']} CPUs, {info['cpu']}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    print(f"Crossed random effects at scale on {machine}, {stamp}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.skip_reml:
        reml = bench_reml(args.data_dir, args.reml_limit, int(args.max_rows))
        reml.assign(date=stamp, machine=machine).to_csv(RESULTS / "large_reml.csv", index=False)
    if args.three_factors:
        three = bench_three_factors(args.data_dir, args.reml_limit, args.only).assign(
            date=stamp, machine=machine
        )
        path = RESULTS / "large_three_factors.csv"
        if args.only and path.exists():
            kept = pd.read_csv(path)
            three = pd.concat(
                [kept[~kept["program"].isin(three["program"])], three], ignore_index=True
            )
        three.to_csv(path, index=False)
    if args.replications > 0:
        moments = bench_moments(args.data_dir, args.replications)
        moments.assign(date=stamp, machine=machine).to_csv(
            RESULTS / "large_moments.csv", index=False
        )
    if not args.skip_scale:
        scale = bench_scale(args.data_dir, args.scale_limit, int(args.max_rows))
        defaults = inspect.signature(write_crossed_parquet).parameters
        scale.assign(
            date=stamp,
            machine=machine,
            true_user_sd=defaults["user_sd"].default,
            true_item_sd=defaults["item_sd"].default,
            true_residual_sd=defaults["noise_sd"].default,
        ).to_csv(RESULTS / "large_scale.csv", index=False)
        two = scale[scale["workers"] == 2].set_index("rows")["wall_seconds"]
        if len(two) > 1:
            print(
                "seconds per million rows (2 workers):",
                ", ".join(f"{n:,}: {1e6 * s / n:.2f}" for n, s in two.items()),
            )


if __name__ == "__main__":
    main()
