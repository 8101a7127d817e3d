"""Benchmark the command line's exit: :func:`analysis.cli.run` against :func:`analysis.cli.main`.

``python -m analysis`` ends through :func:`analysis.cli.run`, which freezes every object out
of the garbage collector before the interpreter exits (:func:`gc.freeze`), so that the
interpreter's last collections do not walk pandas', SciPy's and the fit's objects. This script
measures what that saves on a whole command: ``fit-crossed`` on InstEval (73,421 ratings,
``y ~ service + (1|s) + (1|d) + (1|dept)``), the same command run two ways, alternating in one
run so that both meet the same machine:

* ``run``: ``python -m analysis fit-crossed ...`` (what a user types);
* ``main``: ``python -c "...; sys.exit(main(sys.argv[1:]))" fit-crossed ...`` (the same
  command, exiting without the freeze).

Both print the same JSON document (checked). Wall time and peak memory come from GNU ``time``;
results are printed (medians and their ratio) and written to ``bench/results/cli_exit.csv``.

Run: ``.venv/bin/python bench/bench_cli_exit.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

import pandas as pd
from bench_insteval_reml import GROUPS, RESULTS
from bench_large import timed

from analysis.book.reproducibility import machine_info
from analysis.datasets.insteval import insteval_path

ARGS = ["fit-crossed", "--response", "y", "--fixed", "service", "--groups", *GROUPS, "--json"]
VARIANTS = {
    "run()": [sys.executable, "-m", "analysis"],
    "main()": [
        sys.executable,
        "-c",
        "import sys; from analysis.cli import main; sys.exit(main(sys.argv[1:]))",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="runs of each variant")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds allowed per run")
    args = parser.parse_args()
    csv = str(insteval_path())
    argv = [ARGS[0], csv, *ARGS[1:]]
    info = machine_info()
    load_before = os.getloadavg()[0]
    rows, outputs = [], {}
    for repeat in range(args.repeats):
        for variant, prefix in VARIANTS.items():
            run = timed([*prefix, *argv], args.limit)
            outputs.setdefault(variant, run["stdout"])
            if run["stdout"] != outputs[variant] or run["stdout"] != outputs["run()"]:
                raise SystemExit(f"{variant}: the command printed another document")
            rows.append(
                {
                    "method": variant,
                    "repeat": repeat,
                    "status": run["status"],
                    "command_s": run["wall_seconds"],
                    "peak_mb": run["peak_mb"],
                }
            )
            print(f"{variant:6s} {repeat}: {run['wall_seconds']:.2f} s", flush=True)
    table = pd.DataFrame(rows)
    table.insert(0, "timestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    table["cpu_count"] = info["cpu_count"]
    table["cpu_model"] = info["cpu"]
    table["load_before"] = round(load_before, 2)
    table["load_after"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "cli_exit.csv", index=False)
    medians = table.groupby("method")["command_s"].median()
    print(
        f"{info['cpu']} ({info['cpu_count']} CPUs), load {load_before:.2f} before: "
        f"fit-crossed on InstEval, median of {args.repeats}: run() {medians['run()']:.2f} s, "
        f"main() {medians['main()']:.2f} s, ratio {medians['run()'] / medians['main()']:.3f}"
    )


if __name__ == "__main__":
    main()
