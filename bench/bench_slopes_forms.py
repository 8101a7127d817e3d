"""Centred or non-centred? Chapter 6c's random-slope model sampled in both forms.

Chapter 6b's rule of thumb compares how precisely one group's data determine its effect with
how widely the groups vary. For the sleepstudy subjects the ratios lie between 6b's clear
cases, where the rule says: run both and keep the one that mixes better. This script does
that for chapter 6c's correlated model (``analysis.bayes.random_slopes_model``, non-centred:
``b_j = L z_j``) and the same model written centred (``b_j ~ MvNormal(0, L L^T)``), with the
book's sampler settings (nutpie, 4 chains of 1000 draws after 1000 warm-up draws), over
several seeds, and records divergences, the largest r-hat, the smallest bulk ESS over the
scalar parameters (fixed effects, the SDs, the correlation) and over the subject effects, and
the seconds of sampling (without compilation).

Run it with ``.venv/bin/python bench/bench_slopes_forms.py``; results are printed and written
to ``bench/results/slopes_forms.csv``, which chapter 6c reads.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (before PyMC and PyTensor are imported)

# isort: split

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm

from analysis import bayes
from analysis.book.reproducibility import machine_info
from analysis.datasets.files import data_dir

RESULTS = Path(__file__).resolve().parent / "results"
SCALARS = ["Intercept", "Days", "sigma", "1|Subject_sigma", "Days|Subject_sigma", "rho"]


def centred_model(sleep: pd.DataFrame, priors: bayes.Priors) -> pm.Model:
    """Chapter 6c's correlated model with the subject effects drawn directly (centred)."""
    codes, levels = pd.factorize(sleep["Subject"].astype(str), sort=True)
    days = sleep["Days"].to_numpy(float)
    coords = {"Subject": list(levels), "effect": ["Intercept", "Days"]}
    with pm.Model(coords=coords) as model:
        beta0 = pm.Normal("Intercept", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        beta1 = pm.Normal("Days", mu=0.0, sigma=priors.effect_sd)
        sigma = pm.HalfNormal("sigma", sigma=priors.sigma.scale)
        sd_dist = pm.HalfNormal.dist(
            sigma=np.array([priors.group_sd.scale, priors.slope_sd.scale]), shape=2
        )
        chol, corr, sds = pm.LKJCholeskyCov(
            "chol_Subject", n=2, eta=priors.lkj_eta, sd_dist=sd_dist, compute_corr=True
        )
        b = pm.MvNormal("b_Subject", mu=np.zeros(2), chol=chol, dims=("Subject", "effect"))
        pm.Deterministic("1|Subject_sigma", sds[0])
        pm.Deterministic("Days|Subject_sigma", sds[1])
        pm.Deterministic("rho", corr[0, 1])
        b0 = pm.Deterministic("1|Subject", b[:, 0], dims="Subject")
        b1 = pm.Deterministic("Days|Subject", b[:, 1], dims="Subject")
        mu = beta0 + b0[codes] + beta1 * days + b1[codes] * days
        pm.Normal("Reaction", mu=mu, sigma=sigma, observed=sleep["Reaction"].to_numpy(float))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[61, 62, 63])
    args = parser.parse_args()
    sleep = pd.read_csv(data_dir() / "sleepstudy.csv", dtype={"Subject": str})
    priors = bayes.Priors.from_data(sleep, response="Reaction", slope="Days")
    models = {
        "non-centred": bayes.random_slopes_model(
            sleep, response="Reaction", slope="Days", group="Subject", priors=priors
        ),
        "centred": centred_model(sleep, priors),
    }
    rows = []
    for seed in args.seeds:
        for form, model in models.items():
            idata = bayes.sample(model, seed=seed)
            scalars = bayes.diagnostics(idata, SCALARS)
            effects = bayes.az.ess(idata, var_names=["1|Subject", "Days|Subject"], method="bulk")
            rows.append(
                {
                    "form": form,
                    "seed": seed,
                    "divergences": int(scalars.attrs["divergences"]),
                    "max_r_hat": float(scalars["r_hat"].max()),
                    "min_ess_scalars": float(scalars["ess_bulk"].min()),
                    "worst_scalar": str(scalars["ess_bulk"].idxmin()),
                    "min_ess_effects": float(
                        min(float(effects[v].min()) for v in ("1|Subject", "Days|Subject"))
                    ),
                    "sampling_seconds": float(idata.posterior.attrs["sampling_seconds"]),
                }
            )
            print(rows[-1], flush=True)
    out = pd.DataFrame(rows)
    info = machine_info()
    out["machine"] = f"{info['cpu']} ({info['cpu_count']} cores)"
    out["date"] = dt.date.today().isoformat()
    RESULTS.mkdir(exist_ok=True)
    out.to_csv(RESULTS / "slopes_forms.csv", index=False)
    print(out.to_string(index=False))


if __name__ == "__main__":
    main()
