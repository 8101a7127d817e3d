"""Command line of the ``analysis`` package: ``python -m analysis COMMAND ...``.

Each command lives in its own module, which provides ``register(subparsers)``; registering
must stay cheap (no heavy imports) so that ``--help`` is instant. The module imports what it
needs when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Command modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "analysis.cli.mixed",
    "analysis.cli.crossed",
    "analysis.cli.large",
    "analysis.cli.lmer",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Fit the book's models to any CSV file.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
