"""Benchmark NUTS on the fifty-archer hierarchical model: nutpie against PyMC's own sampler.

For each engine and each parameterisation (centred, non-centred) the script samples the
Bayesian mixed model of :mod:`analysis.bayes` on :func:`analysis.datasets.archers.fifty_archers`
with 4 chains of 1000 draws after 1000 warm-up draws, on 2 cores, and reports

* compile seconds (nutpie: numba compilation of the log density, timed separately;
  PyMC: C compilation inside ``pm.sample``, taken as total minus PyMC's own sampling time;
  PyTensor caches it on disk, so it is short when the same graph was compiled before),
* sampling seconds (wall time of sampling alone),
* the smallest bulk ESS over all sampled quantities (hyperparameters and archer effects)
  and that ESS per second of sampling, and divergences.

Run it with ``.venv/bin/python bench/bench_archer_nuts.py``; results are printed and written
to ``bench/results/archer_nuts.csv``. Timings on a shared machine vary from run to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd

from analysis import bayes  # noqa: I001  (imports analysis.quiet before PyMC)
from analysis.book.reproducibility import machine_info
from analysis.datasets.archers import fifty_archers

RESULTS = Path(__file__).resolve().parent / "results"


def run(engine: str, centered: bool, seed: int, settings: bayes.SamplerSettings) -> dict:
    """Sample once and return one result row."""
    data = fifty_archers().data
    model = bayes.mixed_model(data, centered=centered)
    start = time.perf_counter()
    idata = bayes.sample(model, seed=seed, engine=engine, settings=settings)  # type: ignore[arg-type]
    total = time.perf_counter() - start
    sampling = float(idata.posterior.attrs["sampling_seconds"])
    compile_s = bayes.compile_seconds(model) if engine == "nutpie" else total - sampling
    free = ["mu", "tau", "sigma_a", "sigma_e", "alpha"]
    ess = bayes.az.ess(idata, var_names=free, method="bulk")
    min_ess = float(min(float(ess[v].min()) for v in free))
    hyper = bayes.diagnostics(idata)
    return {
        "engine": engine,
        "form": "centred" if centered else "non-centred",
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "cores": settings.cores,
        "compile_s": compile_s,
        "sampling_s": sampling,
        "total_s": total,
        "min_ess_bulk": min_ess,
        "min_ess_bulk_hyper": float(hyper["ess_bulk"].min()),
        "ess_per_s": min_ess / sampling,
        "max_r_hat": float(hyper["r_hat"].max()),
        "divergences": bayes.count_divergences(idata),
    }


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the benchmark and write the CSV; return the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--engines", nargs="+", default=["nutpie", "pymc"], choices=["nutpie", "pymc"]
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "archer_nuts.csv")
    args = parser.parse_args(argv)

    settings = bayes.SamplerSettings(draws=1000, tune=1000, chains=4, cores=2)
    machine = f"{os.cpu_count()} CPUs, {machine_info()['cpu']}"
    print(f"Machine: {machine} (shared with other jobs: timings are indicative)")
    rows = []
    for engine in args.engines:
        if engine == "nutpie" and not bayes.nutpie_available():
            print("nutpie is not installed; skipping it")
            continue
        for centered in (True, False):
            row = run(engine, centered, args.seed, settings)
            row["machine"] = machine
            rows.append(row)
            print(
                f"{engine:7s} {row['form']:12s} compile {row['compile_s']:6.1f} s"
                f"  sampling {row['sampling_s']:6.2f} s  total {row['total_s']:6.1f} s"
                f"  min bulk ESS {row['min_ess_bulk']:7.0f}"
                f" (hyper {row['min_ess_bulk_hyper']:6.0f})"
                f"  ESS/s {row['ess_per_s']:8.0f}  divergences {row['divergences']}",
                flush=True,
            )
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table["date"] = dt.date.today().isoformat()
    table.to_csv(args.out, index=False, float_format="%.4g")
    print(f"Wrote {args.out}")
    return table


if __name__ == "__main__":
    main()
