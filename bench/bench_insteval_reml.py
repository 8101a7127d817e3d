"""Benchmark the REML fit of InstEval: the package's own fitter, mixedlm, statsmodels and lme4.

Model: ``y ~ service + (1|s) + (1|d) + (1|dept)`` on the 73,421 ratings cached in
``data/insteval.csv.gz``. Two comparisons, both measured here and now, in the same run:

* **fit**: wall time of the fit alone -- ``analysis.models.crossed.fit_crossed`` and mixedlm's
  ``lmer`` (through ``analysis.models.lmer.fit_lmer``) on the loaded frame in this process,
  statsmodels' and lme4's fit timed inside their own processes;
* **command**: wall time and peak memory (resident set, GNU ``time``) of the whole process from
  the shell, reading the CSV and printing or writing every conditional mode --
  ``python -m analysis fit-crossed ... --json`` against ``python -m analysis lmer ... --json``
  (mixedlm), ``bench/statsmodels_crossed.py`` and ``Rscript scripts/lme4_insteval.R`` (which
  also computes conditional variances and writes JSON).

statsmodels' ``MixedLM`` fits crossed factors only as variance components of one group that
holds every row; its process runs under an address-space limit (``--statsmodels-gb``, 10 GB
by default) and a wall-time limit, and a failure is recorded as such ("MemoryError under a
10 GB limit", "not finished in N s"), not left out.

lme4 is skipped (with a note) when ``Rscript`` with lme4 is not installed. Results are printed
and written to ``bench/results/insteval_reml.csv``. The machine is shared: the load average
before and after is recorded, and timings vary from run to run.

Run: ``.venv/bin/python bench/bench_insteval_reml.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from bench_large import last_json, sds_of, timed

from analysis.book.lme4 import lme4_reference
from analysis.book.reproducibility import machine_info, rscript_with_lme4
from analysis.datasets.insteval import insteval_path, load_insteval
from analysis.models.crossed import fit_crossed

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: The label of the package's own fitter in the results.
OWN = "analysis.models.crossed"
SCRIPT = ROOT / "scripts" / "lme4_insteval.R"
STATSMODELS = ROOT / "bench" / "statsmodels_crossed.py"
GROUPS = ["s", "d", "dept"]


def time_python(csv: Path, limit: float) -> dict[str, object]:
    """Time fit_crossed in this process and the fit-crossed command in a fresh one."""
    data = load_insteval(csv)
    start = time.perf_counter()
    fit = fit_crossed(data, "y", ["service"], GROUPS)
    fit_s = time.perf_counter() - start
    cmd = [
        sys.executable,
        "-m",
        "analysis",
        "fit-crossed",
        str(csv),
        "--response",
        "y",
        "--fixed",
        "service",
        "--groups",
        *GROUPS,
        "--json",
    ]
    run = timed(cmd, limit)
    out = last_json(str(run["stdout"]))
    return {
        "status": run["status"],
        "fit_s": fit_s,
        "command_s": run["wall_seconds"],
        "peak_mb": run["peak_mb"],
        "n_evals": fit.n_evals,
        "criterion": fit.criterion,
        "sd_s": sds_of(out).get("s", float("nan")),
    }


def time_mixedlm(csv: Path, limit: float) -> dict[str, object]:
    """Time mixedlm's fit in this process and the ``lmer`` command in a fresh one."""
    from analysis.models.lmer import fit_lmer, varcorr_frame

    data = load_insteval(csv)
    for col in ("s", "d", "dept", "service"):
        data[col] = data[col].astype(str)
    formula = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
    start = time.perf_counter()
    fit = fit_lmer(formula, data)
    fit_s = time.perf_counter() - start
    sds = varcorr_frame(fit).set_index("grp")["sdcor"]
    run = timed(
        [
            sys.executable,
            "-m",
            "analysis",
            "lmer",
            str(csv),
            "--formula",
            formula,
            "--engine",
            "mixedlm",
            "--json",
        ],
        limit,
    )
    return {
        "status": run["status"],
        "fit_s": fit_s,
        "command_s": run["wall_seconds"],
        "peak_mb": run["peak_mb"],
        "n_evals": int(getattr(fit, "function_evals", -1) or -1),
        "criterion": float(fit.REMLcrit()),
        "sd_s": float(sds["s"]),
    }


def time_lmer_command(csv: Path, limit: float) -> dict[str, object]:
    """Time the ``lmer`` command with lme4's formula: the fast path a user gets by default."""
    formula = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
    run = timed(
        [sys.executable, "-m", "analysis", "lmer", str(csv), "--formula", formula, "--json"], limit
    )
    out = last_json(str(run["stdout"]))
    sds = sds_of(out)
    return {
        "status": run["status"],
        "fit_s": float("nan"),
        "command_s": run["wall_seconds"],
        "peak_mb": run["peak_mb"],
        "n_evals": -1,
        "criterion": float(out.get("criterion") or float("nan")),
        "sd_s": float(sds.get("s", float("nan"))),
    }


def time_statsmodels(csv: Path, limit: float, memory_gb: float) -> dict[str, object]:
    """Run statsmodels' MixedLM (variance components) in a fresh, memory-limited process."""
    run = timed(
        [
            sys.executable,
            str(STATSMODELS),
            str(csv),
            "--response",
            "y",
            "--fixed",
            "service",
            "--groups",
            *GROUPS,
            "--memory-gb",
            str(memory_gb),
        ],
        limit,
    )
    out = last_json(str(run["stdout"]))
    status = str(out.get("status", run["status"]))
    ok = status == "ok"
    return {
        "status": status,
        "fit_s": float(out["seconds"]) if ok else float("nan"),
        "command_s": run["wall_seconds"],
        "peak_mb": run["peak_mb"],
        "n_evals": -1,
        "criterion": float(out["reml_criterion"]) if ok else float("nan"),
        "sd_s": float(out["sds"]["s"]) if ok else float("nan"),
    }


def time_lme4(csv: Path, limit: float) -> dict[str, object]:
    """Run the R reference script on ``csv`` and return its fit and process wall times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lme4.json"
        run = timed(["Rscript", str(SCRIPT), "--csv", str(csv), "--out", str(out)], limit)
        ref = lme4_reference("lme4", out) if run["status"] == "ok" else None
    if ref is None:
        nan = float("nan")
        return {
            "status": run["status"],
            "fit_s": nan,
            "command_s": run["wall_seconds"],
            "peak_mb": run["peak_mb"],
            "n_evals": -1,
            "criterion": nan,
            "sd_s": nan,
        }
    return {
        "status": run["status"],
        "fit_s": float(ref.extras["fit_seconds"]),
        "command_s": run["wall_seconds"],
        "peak_mb": run["peak_mb"],
        "n_evals": int(ref.extras["n_evals"]),
        "criterion": float(ref.criterion),
        "sd_s": ref.sd("s"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=insteval_path())
    parser.add_argument("--repeats", type=int, default=1, help="runs of each (default 1)")
    parser.add_argument("--no-r", action="store_true", help="skip lme4")
    parser.add_argument(
        "--limit",
        type=float,
        default=600.0,
        help="wall-time limit of each process, seconds (default 600)",
    )
    parser.add_argument(
        "--statsmodels-gb",
        type=float,
        default=10.0,
        help="address-space limit of the statsmodels process (default 10 GB)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "insteval_reml.csv")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    load_before = os.getloadavg()[0]
    rows = []
    run_r = not args.no_r and rscript_with_lme4() is not None
    for rep in range(args.repeats):
        rows.append({"method": OWN, "repeat": rep, **time_python(args.csv, args.limit)})
        rows.append({"method": "mixedlm", "repeat": rep, **time_mixedlm(args.csv, args.limit)})
        rows.append(
            {"method": "lmer command", "repeat": rep, **time_lmer_command(args.csv, args.limit)}
        )
        rows.append(
            {
                "method": "statsmodels",
                "repeat": rep,
                **time_statsmodels(args.csv, args.limit, args.statsmodels_gb),
            }
        )
        if run_r:
            rows.append({"method": "lme4", "repeat": rep, **time_lme4(args.csv, args.limit)})
    load_after = os.getloadavg()[0]

    table = pd.DataFrame(rows)
    table.insert(0, "timestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    table["cpu_count"] = os.cpu_count()
    table["cpu_model"] = machine_info()["cpu"]
    table["load_before"] = round(load_before, 2)
    table["load_after"] = round(load_after, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.10g")

    print(
        f"Machine: {os.cpu_count()} CPUs, {machine_info()['cpu']}; "
        f"load average {load_before:.2f} before, {load_after:.2f} after (shared machine)"
    )
    print(f"Data: {args.csv} ; model y ~ service + (1|s) + (1|d) + (1|dept), REML\n")
    summary = table.groupby("method", sort=False)[
        ["fit_s", "command_s", "peak_mb", "n_evals", "criterion"]
    ].median()
    summary["status"] = table.groupby("method", sort=False)["status"].last()
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    if run_r:
        ratio_fit = summary.loc["lme4", "fit_s"] / summary.loc[OWN, "fit_s"]
        ratio_cmd = summary.loc["lme4", "command_s"] / summary.loc[OWN, "command_s"]
        print(f"\nlme4 / {OWN}: fit {ratio_fit:.1f}x, whole command {ratio_cmd:.1f}x")
    else:
        print("\nlme4 not run (Rscript with lme4 not installed, or --no-r)")
    for other in ("mixedlm", "lme4"):
        if other in summary.index and summary.loc[other, "status"] == "ok":
            for mine in (OWN, "lmer command"):
                ratio = summary.loc[mine, "command_s"] / summary.loc[other, "command_s"]
                print(f"{mine} / {other}, whole command: {ratio:.2f}")
    print(f"\nWrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
