"""Benchmark NUTS on InstEval: the marginalised model against the straightforward one.

Both models are fitted to the book's 80 % training split of InstEval
(``y ~ service + (1|s) + (1|d) + (1|dept)``) with nutpie, 4 chains of 1000 draws after 1000
warm-up draws, on 2 cores:

* ``marginal`` -- :func:`analysis.bayes.crossed.marginal_model`: students, fixed effects and
  departments integrated out analytically, 1,128 instructor effects and four SDs sampled;
  fixed effects and department effects drawn afterwards from their exact conditional
  (:func:`analysis.bayes.crossed.recover_effects`, timed as ``recover_s``);
* ``full`` (only with ``--full``, it takes a few minutes) -- the straightforward non-centred
  model with every level a parameter (:func:`analysis.bayes.crossed.advi_model`).

For each it reports compile seconds (numba compilation by nutpie), sampling seconds, the
smallest bulk ESS over the hyperparameters (``beta``, ``sigma_*``) and over every parameter
including the effects, ESS per second of sampling, the largest r-hat and the divergences, with
the machine (CPU count and model). Results are printed and written to
``bench/results/insteval_nuts.csv``. The machine may be shared: timings vary between runs.

With ``--seeds S1 S2 ...`` it instead samples the marginalised model once per seed, with the
settings chapter 9 uses (``--draws 2000 --tune 2000``), and writes the smallest bulk ESS, the
largest r-hat (and the variables they belong to) and the divergences of each seed to
``bench/results/insteval_nuts_seeds.csv``: how wide the margin of chapter 9's checks
(r-hat at most 1.01, bulk ESS at least 400) is over seeds.

Run with ``.venv/bin/python bench/bench_insteval_nuts.py [--full] [--seed N]``, or
``... --draws 2000 --tune 2000 --seeds 1 2 3 4 5``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import pandas as pd

from analysis import bayes
from analysis.bayes import crossed as ib
from analysis.book.reproducibility import machine_info
from analysis.datasets.insteval import load_insteval, split_insteval

RESULTS = Path(__file__).resolve().parent / "results"


def run(kind: str, prep: ib.CrossedData, seed: int, settings: bayes.SamplerSettings) -> dict:
    """Compile and sample one model; return one result row."""
    model = ib.marginal_model(prep) if kind == "marginal" else ib.advi_model(prep)
    start = time.perf_counter()
    idata = bayes.sample(model, seed=seed, settings=settings)
    total = time.perf_counter() - start
    sampling = float(idata.posterior.attrs["sampling_seconds"])
    recover = 0.0
    if kind == "marginal":
        t0 = time.perf_counter()
        ib.recover_effects(prep, idata, seed=seed + 1)
        recover = time.perf_counter() - t0
    hyper = bayes.diagnostics(idata, ib.hyperparameters(prep))
    effects = [f"b_{g}" for g in prep.groups if f"b_{g}" in idata.posterior]
    ess = bayes.az.ess(idata, var_names=effects, method="bulk").to_dataset()
    min_ess_all = min(float(hyper["ess_bulk"].min()), *(float(ess[v].min()) for v in effects))
    min_ess_hyper = float(hyper["ess_bulk"].min())
    compile_s = bayes.compile_seconds(model)
    machine = machine_info()
    return {
        "model": kind,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "cores": settings.cores,
        "compile_s": compile_s if compile_s is not None else total - sampling,
        "sampling_s": sampling,
        "recover_s": recover,
        "total_s": total + recover,
        "min_ess_bulk_hyper": min_ess_hyper,
        "min_ess_bulk_all": min_ess_all,
        "ess_hyper_per_s": min_ess_hyper / sampling,
        "max_r_hat": float(hyper["r_hat"].max()),
        "divergences": bayes.count_divergences(idata),
        "machine": f"{machine['cpu_count']} CPUs, {machine['cpu']}",
    }


def seed_margin(
    prep: ib.CrossedData, seeds: list[int], settings: bayes.SamplerSettings
) -> pd.DataFrame:
    """Sample the marginalised model once per seed; write and return the diagnostics."""
    model = ib.marginal_model(prep)
    machine = machine_info()
    rows = []
    for seed in seeds:
        idata = bayes.sample(model, seed=seed, settings=settings)
        ib.recover_effects(prep, idata, seed=seed + 1)  # beta is drawn after sampling
        hyper = bayes.diagnostics(idata, ib.hyperparameters(prep))
        rows.append(
            {
                "seed": seed,
                "chains": settings.chains,
                "draws": settings.draws,
                "tune": settings.tune,
                "sampling_s": float(idata.posterior.attrs["sampling_seconds"]),
                "min_ess_bulk": float(hyper["ess_bulk"].min()),
                "min_ess_variable": str(hyper["ess_bulk"].idxmin()),
                "max_r_hat": float(hyper["r_hat"].max()),
                "max_r_hat_variable": str(hyper["r_hat"].idxmax()),
                "divergences": bayes.count_divergences(idata),
                "machine": f"{machine['cpu_count']} CPUs, {machine['cpu']}",
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["date"] = dt.date.today().isoformat()
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "insteval_nuts_seeds.csv", index=False, float_format="%.4g")
    print(table.to_string(index=False))
    return table


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the benchmark and write the CSV; return the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--full", action="store_true", help="also time the straightforward model")
    parser.add_argument("--seeds", type=int, nargs="+", help="margin over seeds (see above)")
    args = parser.parse_args(argv)
    settings = bayes.SamplerSettings(
        draws=args.draws, tune=args.tune, chains=args.chains, cores=2, engine="nutpie"
    )
    train, _ = split_insteval(load_insteval())
    prep = ib.prepare_crossed(train)
    machine = machine_info()
    print(f"Machine: {machine['cpu_count']} CPUs, {machine['cpu']}", flush=True)
    if args.seeds:
        return seed_margin(prep, args.seeds, settings)
    rows = []
    for kind in ["marginal", "full"] if args.full else ["marginal"]:
        row = run(kind, prep, args.seed, settings)
        print(
            f"{kind}: compile {row['compile_s']:.1f} s, sampling {row['sampling_s']:.1f} s "
            f"({row['chains']} x {row['draws']}), min ESS_bulk (hyper) "
            f"{row['min_ess_bulk_hyper']:.0f}, {row['ess_hyper_per_s']:.1f} ESS/s, "
            f"max r-hat {row['max_r_hat']:.3f}, {row['divergences']} divergences",
            flush=True,
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table["date"] = dt.date.today().isoformat()
    table.to_csv(RESULTS / "insteval_nuts.csv", index=False, float_format="%.4g")
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
