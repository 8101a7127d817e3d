"""The ``fit-crossed`` command: a crossed random-intercept model fitted by REML to any CSV.

``python -m analysis fit-crossed PATH.csv --response y --fixed service --groups s d dept --json``
prints the fixed effects with standard errors, the standard deviations, the REML criterion and
the conditional mode (with its conditional SD) of every level of every grouping factor.

Registering the command imports nothing heavy; pandas and the fitter load when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run", "main"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``fit-crossed`` command to an ``argparse`` sub-parser collection.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers``.

    Returns
    -------
    argparse.ArgumentParser
        The command's parser.
    """
    parser = subparsers.add_parser(
        "fit-crossed",
        help="fit y ~ fixed + (1|g1) + (1|g2) + ... by REML (crossed random intercepts)",
        description=(
            "Fit a linear mixed model with one random intercept per grouping column (the "
            "groupings may be crossed) by REML, or ML with --ml, as lme4's lmer would, and "
            "print fixed effects, standard deviations, the criterion and conditional modes."
        ),
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument("--response", required=True, help="numeric response column")
    parser.add_argument(
        "--fixed",
        nargs="*",
        default=[],
        metavar="COLUMN",
        help="fixed-effect columns (an intercept is always included); text columns are "
        "treatment-coded against their first level",
    )
    parser.add_argument(
        "--groups",
        nargs="+",
        required=True,
        metavar="COLUMN",
        help="grouping columns, each with its own random intercept",
    )
    parser.add_argument(
        "--factors",
        nargs="*",
        default=None,
        metavar="COLUMN",
        help="numeric fixed-effect columns to treat as factors (default: any fixed column "
        "holding only 0/1 values is treated as a factor, as InstEval's service is in lme4)",
    )
    parser.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--top",
        type=int,
        default=5,
        metavar="K",
        help="without --json, how many levels per group to show at each end (default 5)",
    )


def _error(message: str) -> int:
    print(f"fit-crossed: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run the command; return 0 on success, 2 (with a message on stderr) on bad input."""
    import numpy as np
    import pandas as pd

    from analysis.models.crossed import fit_crossed

    try:
        data = pd.read_csv(args.csv)
    except FileNotFoundError:
        return _error(f"no such file: {args.csv}")
    except pd.errors.EmptyDataError:
        return _error(f"{args.csv} is empty (no header row)")
    except (pd.errors.ParserError, UnicodeDecodeError, IsADirectoryError) as exc:
        return _error(f"could not read {args.csv} as CSV: {exc}")
    if args.top < 0:
        return _error(f"--top must not be negative, got {args.top}")
    try:
        columns = [args.response, *args.fixed, *args.groups]
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ValueError(
                f"{args.csv} has no column(s) {missing}; its columns are {list(data.columns)}"
            )
        if len(data) == 0:
            raise ValueError(f"{args.csv} has a header but no data rows")
        factors = args.factors
        if factors is None:
            factors = [
                c
                for c in args.fixed
                if pd.api.types.is_numeric_dtype(data[c])
                and set(pd.unique(data[c].dropna())) <= {0, 1}
            ]
        for col in factors:
            if col not in args.fixed:
                raise ValueError(f"--factors column {col!r} is not one of --fixed {args.fixed}")
            data[col] = pd.Categorical(data[col])
        fit = fit_crossed(data, args.response, args.fixed, args.groups, reml=not args.ml)
    except ValueError as exc:
        return _error(str(exc))
    except (ArithmeticError, np.linalg.LinAlgError) as exc:
        # Numerical failures (an overflowing response, a singular system) are the data's
        # problem, reported as such rather than as a traceback.
        return _error(f"the fit failed numerically ({exc}); check the response's scale and "
                      "that every grouping column varies")
    values = [fit.criterion, *fit.sds.to_numpy(), *fit.fixed.to_numpy().ravel()]
    if not np.all(np.isfinite(values)):
        return _error("the fit produced non-finite estimates; check the response's scale")
    warnings = []
    if fit.singular:
        warnings.append("boundary (singular) fit: some standard deviation is estimated as 0")
    if fit.optimizer_status == "maxeval reached":
        warnings.append("the optimizer stopped at its evaluation limit: the fit may not have "
                        "converged")
    for message in warnings:
        print(f"fit-crossed: warning: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps(fit.to_dict(), allow_nan=False))
        return 0
    _print_text(fit, args.top)
    return 0


def _print_text(fit: Any, top: int) -> None:
    import pandas as pd

    kind = "REML" if fit.reml else "ML"
    print(f"Linear mixed model fitted by {kind}: {fit.n_obs} rows, response {fit.response}")
    print(
        f"{fit.criterion_name}: {fit.criterion:.4f}   ({fit.n_evals} evaluations, "
        f"{fit.fit_seconds:.2f} s)"
    )
    print("\nFixed effects:")
    print(fit.fixed.to_string(float_format=lambda v: f"{v:.6g}"))
    print("\nStandard deviations:")
    print(fit.sds.to_string(float_format=lambda v: f"{v:.6g}"))
    for group, frame in fit.ranef.items():
        ordered = frame.sort_values("mode")
        shown = (
            ordered
            if len(ordered) <= 2 * top
            else pd.concat([ordered.head(top), ordered.tail(top)])
        )
        print(f"\nConditional modes of {group} ({len(frame)} levels; lowest and highest):")
        print(shown.to_string(float_format=lambda v: f"{v:.4f}"))


def main(argv: list[str] | None = None) -> int:
    """Run ``fit-crossed`` on its own: ``python -m analysis.cli.crossed PATH.csv ...``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.cli.crossed")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
