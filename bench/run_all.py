"""Run every benchmark of the book, one after the other, and print a summary.

The benchmarks (each a script in this folder, each writing its own CSV in ``bench/results/``):

* ``bench_book.py``: clean execution of each chapter, a clean book build, a no-change rebuild
  and a one-chapter rebuild;
* ``bench_archer_nuts.py``: the archer hierarchical model with nutpie and PyMC's NUTS;
* ``bench_insteval_reml.py``: the InstEval REML fit against lme4 (when R has lme4);
* ``bench_large.py``: exact REML (package, mixedlm, lme4) on growing users x items designs,
  and moments + conjugate gradients on Dask from 10^5 to 10^8 rows (about an hour);
* ``bench_insteval_nuts.py --full``: the InstEval posterior with NUTS, the fast and the
  straightforward model;
* ``bench_insteval_advi.py``: ADVI on InstEval over seeds and lengths (about 25 minutes);
* ``bench_slopes_forms.py``: the random-slope model centred and non-centred, over seeds;
* ``bench_glmer.py``: the ``glmer`` command against lme4 and mixedlm on VerbAgg and a
  simulated million-row crossed binary design (lme4 takes several minutes there).

Run with ``.venv/bin/python bench/run_all.py`` on an otherwise idle machine; it takes several
minutes. Pass script names to run only some, e.g. ``bench/run_all.py bench_book.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from analysis.book.reproducibility import machine_info, read_benchmarks

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_book.py",
    "bench_archer_nuts.py",
    "bench_insteval_reml.py",
    "bench_insteval_nuts.py",
    "bench_large.py",
    "bench_insteval_advi.py",
    "bench_slopes_forms.py",
    "bench_glmer.py",
]
#: Arguments per script: chapter 9 quotes both InstEval NUTS models, so time both.
ARGUMENTS = {"bench_insteval_nuts.py": ["--full"]}


def main(argv: list[str]) -> int:
    """Run the named (default: all) benchmark scripts and print every results table."""
    chosen = argv or SCRIPTS
    unknown = [s for s in chosen if s not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {SCRIPTS}", file=sys.stderr)
        return 2
    machine = machine_info()
    print(f"Machine: {machine['cpu_count']} CPUs, {machine['cpu']}; Python {machine['python']}")
    status = 0
    for script in chosen:
        path = HERE / script
        if not path.is_file():
            print(f"== {script}: not present, skipped")
            continue
        print(f"== {script}", flush=True)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(path), *ARGUMENTS.get(script, [])], cwd=HERE.parent
        )
        print(f"== {script}: exit {result.returncode} after {time.perf_counter() - start:.0f} s")
        status = status or result.returncode
    for name, table in read_benchmarks(HERE / "results").items():
        print(f"\n{name}.csv\n{table.to_string(index=False)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
