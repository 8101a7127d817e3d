"""The ``fit-large`` command: crossed random intercepts by moments and backfitting, at scale.

``python -m analysis fit-large DATA.parquet --response y --fixed x --groups user item --json``
reads a Parquet file or folder with Dask (or a CSV file with pandas), estimates the standard
deviations by the method of moments and the fixed effects and conditional modes by backfitting
(:mod:`analysis.models.large`), and prints the same fields as ``fit-crossed``.

Registering the command imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "main"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``fit-large`` command to an ``argparse`` sub-parser collection."""
    parser = subparsers.add_parser(
        "fit-large",
        help="fit y ~ fixed + (1|g1) + (1|g2) + ... by moments and backfitting (large data)",
        description=(
            "Fit crossed random intercepts to data too large for REML: variance components "
            "by the method of moments, fixed effects and conditional modes by backfitting. "
            "Parquet input is read with Dask, partition by partition."
        ),
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="Parquet file or folder, or CSV file")
    parser.add_argument("--response", required=True, help="numeric response column")
    parser.add_argument("--fixed", nargs="*", default=[], metavar="COLUMN",
                        help="numeric fixed-effect columns (an intercept is always included)")
    parser.add_argument("--groups", nargs="+", required=True, metavar="COLUMN",
                        help="grouping columns (integer codes in Parquet input)")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run on a local Dask cluster of N worker processes (default: "
                             "Dask's threaded scheduler)")
    parser.add_argument("--solver", choices=["cg", "backfitting"], default="cg",
                        help="conjugate gradients (default) or backfitting")
    parser.add_argument("--tol", type=float, default=1e-8,
                        help="tolerance (cg: relative residual; backfitting: change per sweep)")
    parser.add_argument("--max-sweeps", type=int, default=2000,
                        help="iteration limit (one pass over the data each)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _error(message: str) -> int:
    print(f"fit-large: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run the command; return 0 on success, 2 (with a message on stderr) on bad input."""
    import numpy as np
    import pandas as pd

    from analysis.models.large import fit_large

    path = Path(args.data)
    if not path.exists():
        return _error(f"no such file or folder: {args.data}")
    if args.workers < 0:
        return _error(f"--workers must not be negative, got {args.workers}")
    client = None
    try:
        if path.suffix == ".csv":
            data: object = pd.read_csv(path)
        else:
            import dask.dataframe as dd

            data = dd.read_parquet(path, split_row_groups=True)
        if args.workers:
            from dask.distributed import Client, LocalCluster

            client = Client(LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                         dashboard_address=None))
        fit = fit_large(data, args.response, args.fixed, args.groups, tol=args.tol,
                        max_sweeps=args.max_sweeps, solver=args.solver)
    except (ValueError, KeyError, OSError) as exc:
        return _error(str(exc))
    finally:
        if client is not None:
            client.close()
    values = [*fit.sds.to_numpy(), *fit.fixed["estimate"].to_numpy()]
    if not np.all(np.isfinite(values)):
        return _error("the fit produced non-finite estimates; check the response's scale")
    if not fit.converged:
        print(f"fit-large: warning: {args.solver} did not converge in {fit.sweeps} iterations",
              file=sys.stderr)
    if args.json:
        print(json.dumps(fit.to_dict(), allow_nan=False))
        return 0
    print(f"Crossed random intercepts by {fit.method}: {fit.n_obs} rows, response "
          f"{args.response}; {fit.sweeps} iterations, {fit.fit_seconds:.2f} s")
    print("\nFixed effects:")
    print(fit.fixed.to_string(float_format=lambda v: f"{v:.6g}"))
    print("\nStandard deviations:")
    print(fit.sds.to_string(float_format=lambda v: f"{v:.6g}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``fit-large`` on its own: ``python -m analysis.cli.large DATA ...``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.cli.large")
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
