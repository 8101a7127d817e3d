"""The ``lmer`` command: any lme4-formula linear mixed model fitted to a CSV file.

``python -m analysis lmer DATA.csv --formula "Reaction ~ Days + (Days | Subject)" --profile
--json`` prints the fixed effects with standard errors, every standard deviation and
correlation, sigma, the REML criterion (or the deviance with ``--ml``), the log-likelihood,
AIC and BIC, the singular-fit flag, every conditional mode with its conditional SD and, with
``--profile``, lme4's profile-likelihood intervals. The fit is mixedlm's
(:mod:`analysis.models.lmer`).

Text columns named in the formula are factors. Registering the command imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

__all__ = ["register", "run", "main"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``lmer`` command to an ``argparse`` sub-parser collection.

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
        "lmer",
        help="fit any lme4 formula, e.g. 'y ~ x + (1 + x | g)' (random slopes, nesting, ...)",
        description=(
            "Fit a linear mixed model given by an lme4 formula by REML (or ML with --ml) and "
            "print what lme4's summary, VarCorr, ranef and confint would."
        ),
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", help="CSV file with a header row")
    parser.add_argument("--formula", required=True, help='lme4 formula, e.g. "y ~ x + (1 + x | g)"')
    parser.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    parser.add_argument(
        "--profile", action="store_true", help="add profile-likelihood 95%% intervals"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _error(message: str) -> int:
    print(f"lmer: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run the command; return 0 on success, 2 (with a message on stderr) on bad input."""
    import numpy as np
    import pandas as pd

    from analysis.models.lmer import fit_lmer, summary_dict

    try:
        data = pd.read_csv(args.csv)
    except FileNotFoundError:
        return _error(f"no such file: {args.csv}")
    except pd.errors.EmptyDataError:
        return _error(f"{args.csv} is empty (no header row)")
    except (pd.errors.ParserError, UnicodeDecodeError, IsADirectoryError) as exc:
        return _error(f"could not read {args.csv} as CSV: {exc}")
    if len(data) == 0:
        return _error(f"{args.csv} has a header but no data rows")
    for col in data.columns:  # identifiers such as subject numbers are labels, not numbers
        if data[col].dtype == object:
            data[col] = data[col].astype(str)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = fit_lmer(args.formula, data, reml=not args.ml)
            summary = summary_dict(fit, profile=args.profile)
    except ValueError as exc:
        return _error(str(exc))
    except (RuntimeError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return _error(f"the fit failed ({exc}); check the response's scale and the formula")
    for w in caught:
        print(f"lmer: warning: {w.message}", file=sys.stderr)
    try:
        text = json.dumps(summary, allow_nan=False)
    except ValueError:
        return _error("the fit produced non-finite estimates; check the response's scale")
    if args.json:
        print(text)
    else:
        _print_text(summary)
    return 0


def _print_text(summary: dict[str, Any]) -> None:
    import pandas as pd

    crit = "REML criterion" if "reml_criterion" in summary else "deviance"
    value = summary.get("reml_criterion", summary.get("deviance"))
    print(f"Linear mixed model fit by {summary['method']}: {summary['formula']}")
    print(
        f"{crit}: {value:.4f}   logLik {summary['loglik']:.4f}   AIC {summary['AIC']:.2f}"
        f"   BIC {summary['BIC']:.2f}"
    )
    if summary["singular"]:
        print("boundary (singular) fit: see help('isSingular')")
    print("\nRandom effects:")
    print(
        pd.DataFrame(summary["varcorr"]).to_string(index=False, float_format=lambda v: f"{v:.6g}")
    )
    groups = ", ".join(f"{k}, {v}" for k, v in summary["n_groups"].items())
    print(f"Number of obs: {summary['n_obs']}, groups: {groups}")
    print("\nFixed effects:")
    print(pd.DataFrame(summary["fixed"]).to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    if "profile" in summary:
        print(f"\nProfile-likelihood intervals ({summary['profile']['level']:.0%}):")
        print(
            pd.DataFrame(summary["profile"]["intervals"]).to_string(
                index=False, float_format=lambda v: f"{v:.4f}"
            )
        )


def main(argv: list[str] | None = None) -> int:
    """Run ``lmer`` on its own: ``python -m analysis.cli.lmer DATA.csv --formula ...``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.cli.lmer")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
