"""The ``fit-mixed`` command: fit a random-intercept model to any CSV file.

``python -m analysis fit-mixed PATH.csv --response Distance --fixed Bow --group Name --json``
prints the fixed effects with standard errors, the two SDs with their profile-likelihood
intervals and the BLUPs by group. Registering the command imports nothing heavy; statsmodels
is imported when the command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

__all__ = ["register", "run", "fit_to_dict", "main"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``fit-mixed`` command to an ``argparse`` sub-parser collection."""
    parser = subparsers.add_parser(
        "fit-mixed",
        help="fit response ~ fixed + (1 | group) by REML, with profile CIs and BLUPs",
        description=(
            "Fit a random-intercept linear mixed model, response ~ fixed + (1 | group), by "
            "REML with statsmodels MixedLM. Prints lme4-style tables, or JSON with --json."
        ),
    )
    parser.add_argument("path", help="CSV file with a header row")
    parser.add_argument("--response", default="Distance", help="numeric response column")
    parser.add_argument(
        "--fixed", nargs="*", default=["Bow"], metavar="COLUMN",
        help="fixed-effect columns (none for an intercept only; default: Bow)",
    )
    parser.add_argument("--group", default="Name", help="grouping column (random intercepts)")
    parser.add_argument("--ml", action="store_true", help="fit by ML instead of REML")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)
    return parser


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def fit_to_dict(fit: Any, ci: Any, path: str = "", level: float = 0.95) -> dict[str, Any]:
    """Turn a :class:`analysis.models.mixed.MixedFit` and its profile CIs into plain JSON data."""
    return {
        "file": path,
        "formula": f"{fit.response} ~ {' + '.join(fit.fixed_terms) or '1'} + (1 | {fit.group})",
        "method": "REML" if fit.reml else "ML",
        "n_obs": fit.n_obs,
        "n_groups": fit.n_groups,
        "loglik": _num(fit.loglik),
        "fixed": {
            str(term): {k: _num(row[k]) for k in ("estimate", "se", "z", "p", "ci_low", "ci_high")}
            for term, row in fit.fixed.iterrows()
        },
        "sd_group": _num(fit.sd_group),
        "sd_resid": _num(fit.sd_resid),
        "profile_ci": {
            "level": level,
            "deviance": "ML (as lme4's confint)",
            **{
                str(name): {k: _num(row[k]) for k in ("estimate", "lower", "upper")}
                for name, row in ci.iterrows()
            },
        },
        "blups": {str(k): _num(v) for k, v in fit.blups.items()},
        "blup_sd": {str(k): _num(v) for k, v in fit.blup_sd.items()},
    }


def run(args: argparse.Namespace) -> int:
    """Run ``fit-mixed``; return 0 on success, 2 (with a message on stderr) on bad input."""
    import numpy as np
    import pandas as pd

    from analysis.models.mixed import fit_random_intercept, lme4_summary
    from analysis.models.profile import profile_ci

    try:
        if not 0 < args.level < 1:
            raise ValueError(f"--level must lie strictly between 0 and 1, got {args.level}")
        try:
            data = pd.read_csv(args.path)
        except FileNotFoundError:
            raise ValueError(f"{args.path}: no such file") from None
        except IsADirectoryError:
            raise ValueError(f"{args.path}: is a directory, not a CSV file") from None
        except pd.errors.EmptyDataError:
            raise ValueError(f"{args.path}: the file is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{args.path}: not a readable CSV file ({exc})") from None
        roles = {"response": args.response, "fixed": tuple(args.fixed), "group": args.group}
        fit = fit_random_intercept(data, reml=not args.ml, **roles)
        ci = profile_ci(data, level=args.level, **roles)
    except ValueError as exc:
        print(f"fit-mixed: error: {exc}", file=sys.stderr)
        return 2
    except np.linalg.LinAlgError as exc:
        print(f"fit-mixed: error: the model cannot be fitted to these data ({exc}); check "
              "for constant or duplicated fixed-effect columns", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(fit_to_dict(fit, ci, args.path, args.level), indent=2))
    else:
        print(lme4_summary(fit))
        print()
        print(f"Profile-likelihood {args.level:.0%} intervals (ML deviance, as lme4's confint):")
        print(ci.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``fit-mixed`` on its own (for tests and for use without ``python -m analysis``)."""
    parser = argparse.ArgumentParser(prog="fit-mixed")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["fit-mixed", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
