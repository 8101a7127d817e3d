"""Benchmark the ``glmer`` command against lme4's glmer and mixedlm's glmer, whole processes.

Two designs, the same logistic model fitted by three programs, each a fresh process timed from
the shell with GNU ``time`` (wall seconds and peak resident memory), reading the CSV file and
printing its estimates:

* **VerbAgg** (lme4's data set, ``data/verbagg.csv``: 7,584 rows, 316 subjects crossed with 24
  items): ``r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)``;
* **a simulated binary design** of ``--rows`` rows (10^6 by default) with two crossed factors
  (2,000 users x 500 items, seeded, :func:`simulate_binary_crossed`):
  ``y ~ x + (1 | a) + (1 | b)``.

The programs: ``python -m analysis glmer ... --json`` (this package: mixedlm's first stage,
then the Newton guard and lme4's Hessian SEs, every conditional mode with its SD in the JSON),
``Rscript`` with lme4's ``glmer`` (Laplace, default settings, fixed effects, SEs, logLik and
``ranef(condVar = TRUE)``), and mixedlm's own ``glmer`` (Laplace, default settings, its own
formula parser, fixed effects and logLik). A run over ``--limit`` seconds is stopped and
recorded as such. VerbAgg is run ``--repeats`` times (medians); the large design once.

The machine is shared (2 cores, other jobs): the load average before and after each design is
recorded with the CPU model, and timings vary from run to run. Results go to
``bench/results/glmer.csv`` (VerbAgg) and ``bench/results/glmer_binary_<rows>.csv``.

Run: ``.venv/bin/python bench/bench_glmer.py [--repeats N] [--rows N] [--limit S]
[--mixedlm-limit S] [--skip-large] [--skip-verbagg]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from bench_large import last_json, timed

from analysis.book.reproducibility import machine_info, rscript_with_lme4
from analysis.validation import check_positive_int, check_seed

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VERBAGG = ROOT / "data" / "verbagg.csv"
VERBAGG_FORMULA = "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"
LARGE_FORMULA = "y ~ x + (1 | a) + (1 | b)"
#: Seed of the simulated binary design.
LARGE_SEED = 2606
OWN = "analysis glmer"

R_FIT = """
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
for (g in strsplit(args[3], ",")[[1]]) d[[g]] <- factor(d[[g]])
t <- system.time(f <- glmer(as.formula(args[2]), data = d, family = binomial))
re <- as.data.frame(ranef(f, condVar = TRUE))
cat(toJSON(list(fit_seconds = t[["elapsed"]], loglik = as.numeric(logLik(f)),
                intercept = unname(fixef(f)[1]),
                se_intercept = unname(sqrt(diag(as.matrix(vcov(f))))[1]),
                n_modes = nrow(re)), auto_unbox = TRUE, digits = NA), "\\n")
"""

MIXEDLM_FIT = """
import json, sys, time, warnings
import pandas as pd, mixedlm
from mixedlm.families.binomial import Binomial
data = pd.read_csv(sys.argv[1])
for g in sys.argv[3].split(","):
    data[g] = data[g].astype(str)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fit = mixedlm.glmer(sys.argv[2], data, family=Binomial())
print(json.dumps({"fit_seconds": time.perf_counter() - start,
                  "loglik": float(fit.logLik().value), "intercept": float(fit.beta[0])}))
"""


def simulate_binary_crossed(
    n: int, n_a: int = 2000, n_b: int = 500, *, seed: int = LARGE_SEED
) -> pd.DataFrame:
    """Simulate ``y ~ x + (1 | a) + (1 | b)`` binary data: users ``a`` crossed with items ``b``.

    Logit of success ``-0.5 + 0.4 x + a_i + b_j`` with SDs 0.8 and 0.5, ``x`` standard normal,
    levels drawn uniformly.
    """
    n = check_positive_int("n", n)
    rng = np.random.default_rng(check_seed(seed))
    a = rng.integers(0, n_a, n)
    b = rng.integers(0, n_b, n)
    x = rng.standard_normal(n)
    eta = -0.5 + 0.4 * x + rng.normal(0, 0.8, n_a)[a] + rng.normal(0, 0.5, n_b)[b]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": np.round(x, 6), "a": a, "b": b})


def commands(csv: Path, formula: str, groups: list[str]) -> dict[str, list[str]]:
    """The three programs' command lines for one design."""
    runs = {
        OWN: [
            sys.executable,
            "-m",
            "analysis",
            "glmer",
            str(csv),
            "--formula",
            formula,
            "--family",
            "binomial",
            "--json",
        ],
    }
    lme4 = rscript_with_lme4()
    if lme4:
        runs["lme4 glmer"] = [lme4, "-e", R_FIT, str(csv), formula, ",".join(groups)]
    runs["mixedlm glmer"] = [sys.executable, "-c", MIXEDLM_FIT, str(csv), formula, ",".join(groups)]
    return runs


def run_design(
    name: str,
    csv: Path,
    formula: str,
    groups: list[str],
    repeats: int,
    limit: float,
    mixedlm_limit: float | None = None,
) -> pd.DataFrame:
    """Time every program on one design; one row per program (medians over repeats)."""
    rows = []
    load_before = os.getloadavg()[0]
    for program, cmd in commands(csv, formula, groups).items():
        cap = mixedlm_limit if (program == "mixedlm glmer" and mixedlm_limit) else limit
        runs = [timed(cmd, cap) for _ in range(repeats)]
        ok = [r for r in runs if r["status"] == "ok"]
        out = last_json(str(ok[-1]["stdout"])) if ok else {}
        loglik = out.get("loglik")
        intercept = out.get("intercept")
        if program == OWN and ok:
            fixed = out.get("fixed", [{}])
            intercept = fixed[0].get("estimate") if fixed else None
        rows.append(
            {
                "design": name,
                "program": program,
                "status": "ok" if len(ok) == len(runs) else runs[-1]["status"],
                "repeats": len(runs),
                "wall_seconds": statistics.median(r["wall_seconds"] for r in ok) if ok else np.nan,
                "wall_seconds_all": " ".join(f"{r['wall_seconds']:.2f}" for r in runs),
                "peak_mb": statistics.median(r["peak_mb"] for r in ok) if ok else np.nan,
                "loglik": loglik,
                "intercept": intercept,
            }
        )
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    lme4 = frame.loc[frame["program"] == "lme4 glmer", "wall_seconds"]
    frame["ratio_to_lme4"] = frame["wall_seconds"] / (lme4.iloc[0] if len(lme4) else np.nan)
    info = machine_info()
    frame["machine"] = f"{info['cpu']} ({info['cpu_count']} cores)"
    frame["load_before"] = round(load_before, 2)
    frame["load_after"] = round(os.getloadavg()[0], 2)
    frame["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return frame


def main() -> None:
    """Run the benchmark and write the CSV files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--limit", type=float, default=2400.0, help="seconds per run")
    parser.add_argument(
        "--mixedlm-limit",
        type=float,
        default=None,
        help="seconds per mixedlm run (default: --limit)",
    )
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-verbagg", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.skip_verbagg:
        frame = run_design(
            "VerbAgg (7,584 rows, 316 x 24)",
            VERBAGG,
            VERBAGG_FORMULA,
            ["id", "item"],
            args.repeats,
            args.limit,
        )
        frame.to_csv(RESULTS / "glmer.csv", index=False)
        print(frame.to_string(index=False))
    if not args.skip_large:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "binary_crossed.csv"
            simulate_binary_crossed(args.rows).to_csv(csv, index=False)
            frame = run_design(
                f"simulated binary ({args.rows:,} rows, 2,000 x 500)",
                csv,
                LARGE_FORMULA,
                ["a", "b"],
                1,
                args.limit,
                args.mixedlm_limit,
            )
        frame.to_csv(RESULTS / f"glmer_binary_{args.rows}.csv", index=False)
        print(frame.to_string(index=False))


if __name__ == "__main__":
    main()
