"""Fit a crossed random-intercept model with statsmodels' ``MixedLM``, for the benchmarks.

statsmodels has no crossed random effects as such: the documented way is one group holding
every row, with each grouping factor a variance component (``vc_formula``). This script fits
``response ~ fixed`` with one variance component per grouping column that way, by REML, under
an address-space limit (so that a fit that needs more memory than the limit fails with a
``MemoryError`` instead of taking the machine down), and prints one JSON line: the SDs, the
criterion, the fit time. The benchmarks run it under a wall-time limit.

Run: ``python bench/statsmodels_crossed.py DATA.csv --response y --fixed service --groups s d
dept [--memory-gb 10]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--response", required=True)
    parser.add_argument("--fixed", nargs="*", default=[])
    parser.add_argument("--groups", nargs="+", required=True)
    parser.add_argument(
        "--memory-gb",
        type=float,
        default=10.0,
        help="address-space limit of this process (default 10 GB)",
    )
    args = parser.parse_args(argv)
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import statsmodels.formula.api as smf

    data = pd.read_csv(args.csv)
    for g in args.groups:
        data[g] = data[g].astype(str)
    for f in args.fixed:
        if data[f].nunique() <= 2 and set(data[f].unique()) <= {0, 1}:
            data[f] = data[f].astype(str)
    data["one_group"] = 1
    rhs = " + ".join(args.fixed) or "1"
    vc = {g: f"0 + C({g})" for g in args.groups}
    start = time.perf_counter()
    try:
        model = smf.mixedlm(
            f"{args.response} ~ {rhs}", data, groups="one_group", re_formula="0", vc_formula=vc
        )
        result = model.fit(reml=True)
    except MemoryError:
        print(
            json.dumps(
                {
                    "status": f"MemoryError under a {args.memory_gb:g} GB limit",
                    "seconds": time.perf_counter() - start,
                }
            )
        )
        return 3
    seconds = time.perf_counter() - start
    sds = {
        name: float(np.sqrt(v)) for name, v in zip(model.exog_vc.names, result.vcomp, strict=True)
    }
    sds["Residual"] = float(np.sqrt(result.scale))
    print(
        json.dumps(
            {
                "status": "ok",
                "seconds": seconds,
                "sds": sds,
                "reml_criterion": float(-2 * result.llf),
                "converged": bool(result.converged),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
