"""Small helpers for the chapters themselves."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["glue"]


def glue(name: str, value: object, *, display: bool = False) -> None:
    """Store ``value`` under ``name`` for myst-nb's ``{glue:text}`` role.

    NumPy scalars are turned into plain Python numbers first: myst-nb formats the ``text/plain``
    representation, and since NumPy 2 that reads ``np.float64(1.5)``, which a format spec such
    as ``:.2f`` cannot parse.

    Parameters
    ----------
    name
        The key used in the prose, e.g. ``{glue:text}`naive_p:.3f```.
    value
        A number, string or other object to glue.
    display
        Whether to also display the value in the cell's output.
    """
    from myst_nb import glue as _glue

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not np.isfinite(value):
        raise ValueError(f"glue {name!r}: value is not finite ({value!r})")
    _glue(name, value, display=display)
