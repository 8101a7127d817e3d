"""Benchmark mean-field ADVI on InstEval over seeds and run lengths (chapter 9's claims).

Chapter 9 fits the straightforward crossed model (:func:`analysis.bayes.crossed.advi_model`)
to the book's training split of InstEval by mean-field ADVI, with one seed and one length.
Whether what that run shows about the variance components (ADVI's SDs against the exact
posterior's) is a property of the method or of that run is a question of several seeds and
lengths, too slow for the chapter: this script answers it.

For every seed it runs one optimisation as long as the last checkpoint (Adam, the chapter's
learning rate) and records the approximation at each checkpoint of ``--checkpoints``: a run
stopped there would have had exactly these parameters, since the steps do not depend on the
total length. At each checkpoint it records, from the variational parameters themselves (no
draws, so no Monte Carlo error):

* for each SD (``s``, ``d``, ``dept``, ``e``), the mean and SD of its log-normal approximation
  (``mean_<g>``, ``sd_<g>``);
* the mean and SD of the intercept and of the service effect;
* ``slope_dept``: the slope of the approximation's department effects on REML's conditional
  modes (the same training split), i.e. how far ADVI pulls them towards zero;
* ``loss``: the mean negative ELBO over the last 1,000 steps before the checkpoint.

Results go to ``bench/results/insteval_advi.csv``, one row per seed and checkpoint, with the
wall time of the run so far and the machine. Run with
``.venv/bin/python bench/bench_insteval_advi.py [--seeds 20261 1 2 3 4]
[--checkpoints 10000 20000 40000 80000]``. The chapter's run is seed 20261 at 10,000 steps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm

from analysis.bayes import crossed as ib
from analysis.book.reproducibility import machine_info
from analysis.datasets.insteval import load_insteval, split_insteval
from analysis.models.crossed import fit_crossed

RESULTS = Path(__file__).resolve().parent / "results"
LEARNING_RATE = 0.01  # the default of analysis.bayes.crossed.fit_advi, used by chapter 9
LOSS_WINDOW = 1000


def summarise(approx: object, prep: ib.CrossedData, reml_dept: np.ndarray) -> dict[str, float]:
    """Moments of the fitted mean-field approximation, from its parameters."""
    ordering = approx.groups[0].ordering
    mean = approx.mean.eval()
    std = approx.std.eval()

    def part(name: str) -> tuple[np.ndarray, np.ndarray]:
        piece = ordering[name][1]
        return mean[piece], std[piece]

    row: dict[str, float] = {}
    lognormal_mean = {}
    for key, name in [("s", "sigma_s"), ("d", "sigma_d"), ("dept", "sigma_dept"), ("e", "sigma_e")]:
        m, s = (float(v[0]) for v in part(f"{name}_log__"))
        lognormal_mean[key] = np.exp(m + s * s / 2)
        row[f"mean_{key}"] = lognormal_mean[key]
        row[f"sd_{key}"] = lognormal_mean[key] * np.sqrt(np.expm1(s * s))
    beta_m, beta_s = part("beta")
    for k, term in enumerate(prep.design.names):
        label = "intercept" if term == "(Intercept)" else term
        row[f"mean_{label}"] = float(beta_m[k])
        row[f"sd_{label}"] = float(beta_s[k])
    # b_dept = sigma_dept * z_dept, independent under the approximation: E[b] = E[sigma] E[z].
    z_mean, _ = part("z_dept")
    dept_means = lognormal_mean["dept"] * z_mean
    row["slope_dept"] = float(np.polyfit(reml_dept, dept_means, 1)[0])
    return row


def run_seed(
    prep: ib.CrossedData, seed: int, checkpoints: list[int], reml_dept: np.ndarray
) -> list[dict[str, object]]:
    """One ADVI optimisation; one result row per checkpoint."""
    rows: list[dict[str, object]] = []
    wanted = set(checkpoints)
    start = time.perf_counter()

    def record(approx: object, loss: np.ndarray, i: int) -> None:
        # PyMC calls callbacks after step i (counting from 1 here, as the trace length).
        if i in wanted:
            row = {
                "seed": seed,
                "iterations": i,
                "loss": float(np.mean(loss[-LOSS_WINDOW:])),
                "seconds": time.perf_counter() - start,
            }
            row.update(summarise(approx, prep, reml_dept))
            rows.append(row)
            print(
                {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True
            )

    with ib.advi_model(prep):
        pm.fit(
            n=max(checkpoints),
            method="advi",
            random_seed=seed,
            progressbar=False,
            obj_optimizer=pm.adam(learning_rate=LEARNING_RATE),
            callbacks=[record],
        )
    return rows


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the benchmark and write the CSV; return the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[20261, 1, 2, 3, 4])
    parser.add_argument(
        "--checkpoints", type=int, nargs="+", default=[10_000, 20_000, 40_000, 80_000]
    )
    parser.add_argument("--out", default=str(RESULTS / "insteval_advi.csv"))
    args = parser.parse_args(argv)
    checkpoints = sorted(args.checkpoints)
    train, _ = split_insteval(load_insteval())
    prep = ib.prepare_crossed(train)
    reml = fit_crossed(train, "y", ["service"], ["s", "d", "dept"])
    reml_dept = reml.ranef["dept"]["mode"].reindex(prep.levels["dept"]).to_numpy()
    machine = machine_info()
    print(f"Machine: {machine['cpu_count']} CPUs, {machine['cpu']}", flush=True)
    rows: list[dict[str, object]] = []
    for seed in args.seeds:
        rows.extend(run_seed(prep, seed, checkpoints, reml_dept))
        table = pd.DataFrame(rows)
        table["learning_rate"] = LEARNING_RATE
        table["machine"] = f"{machine['cpu_count']} CPUs, {machine['cpu']}"
        table["date"] = dt.date.today().isoformat()
        RESULTS.mkdir(exist_ok=True)
        table.to_csv(args.out, index=False, float_format="%.6g")  # after every seed
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
