"""``python -m analysis COMMAND ...``: the package's command line, :mod:`analysis.cli`.

``python -m analysis --help`` lists the commands (``fit-mixed``, ``fit-crossed``,
``fit-large``, ``lmer`` and ``glmer``, as registered in :mod:`analysis.cli`);
``python -m analysis COMMAND --help`` their options.
"""

from __future__ import annotations

from analysis.cli import main, run

__all__ = ["main"]

if __name__ == "__main__":
    run()
