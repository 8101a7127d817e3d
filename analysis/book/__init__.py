"""Small helpers for the chapters themselves.

Importing this package first imports :mod:`analysis.quiet` (cheap: it imports nothing
heavy), which silences the known-harmless build noise of PyTensor, PyMC and Dask at its source.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

import analysis.quiet  # noqa: F401  (before anything imports PyTensor)
from analysis.validation import check_interval, check_positive_int

__all__ = ["glue", "glue_all", "format_number", "format_p_value", "show_table", "watermark"]

#: The classes every table from :func:`show_table` carries: the theme's ``table`` (its borders
#: and header rule) and ``book-table`` (``_static/book.css``: cell padding, right-aligned
#: numbers, tabular figures, and a scroll box of its own when a table is wider than the page).
TABLE_CLASSES = "table book-table"

#: Column names read as p-values by :func:`show_table` (besides those it is told about).
P_VALUE_COLUMNS = frozenset({"p", "p-value", "p_value", "P>|z|", "P>|t|", "Pr(>Chisq)", "pvalue"})


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


def glue_all(values: Mapping[str, object], *, prefix: str = "") -> None:
    """Glue every entry of a mapping, each by its kind, so that a hidden cell is a few lines.

    Numbers (Python, NumPy or 0-d arrays) are glued as plain Python numbers and must be finite;
    strings as they are; a pandas Series or a nested mapping is glued entry by entry under
    ``name_key``. Booleans and anything else are refused, since the prose formats what it reads
    with a format spec.

    Parameters
    ----------
    values
        Names (as the prose uses them in ``{glue:text}`name:.2f```) and values.
    prefix
        Put before every name (``prefix + name``).

    Examples
    --------
    >>> glue_all({"sd_a": fit.sd_group, "sd_e": fit.sd_resid})  # doctest: +SKIP
    """
    if not isinstance(values, Mapping):
        raise ValueError(
            f"values must be a mapping from names to values, got {type(values).__name__}"
        )
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"glue names are non-empty strings, got {name!r}")
        key = f"{prefix}{name}"
        if isinstance(value, pd.Series):
            value = value.to_dict()
        if isinstance(value, Mapping):
            glue_all(value, prefix=f"{key}_")
            continue
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"glue {key!r}: a boolean is a lesson to assert, not a number to glue")
        if not isinstance(value, (numbers.Real, str)):
            raise ValueError(
                f"glue {key!r}: expected a number or a string, got {type(value).__name__}"
            )
        glue(key, value)


def watermark(
    packages: Iterable[str] = (
        "numpy",
        "pandas",
        "scipy",
        "statsmodels",
        "pymc",
        "pytensor",
        "arviz",
        "nutpie",
        "bambi",
        "mixedlm",
    ),
) -> str:
    """Return the versions a chapter ran with, for the watermark at its end.

    pymc-examples ends every notebook with the ``watermark`` IPython magic; this does the same
    through the `watermark` package, with the chapter's main packages named, so that a reader
    can tell which versions printed the chapter's numbers.

    Parameters
    ----------
    packages
        Distribution names whose versions to list (those not installed are left out).

    Returns
    -------
    str
        Python's version, the packages' versions and the date the chapter ran.
    """
    from importlib.metadata import PackageNotFoundError, version

    from watermark import watermark as _watermark

    found = []
    for name in packages:
        try:
            found.append(f"{name}: {version(name)}")
        except PackageNotFoundError:
            continue
    stamp = _watermark(python=True, current_date=True, updated=True, iso8601=False, machine=False)
    return stamp.strip() + "\n\n" + "\n".join(found)


def format_number(value: object, digits: int = 4) -> str:
    """Format a number for a table: ``digits`` significant digits, integers as integers.

    Numbers of magnitude 1 or more print in fixed notation with thousands separators (and at
    least their integer digits, so 12,346 rather than 1.235e+04); smaller ones with
    ``digits`` significant digits. Negative zero prints as ``0``; NaN as an empty string;
    integral values (of integer type, or floats with no fractional part below 10^15) as
    integers.

    Parameters
    ----------
    value
        The number (anything else is returned as ``str(value)``).
    digits
        Significant digits (at least 1).

    Returns
    -------
    str
        The formatted number.
    """
    digits = check_positive_int("digits", digits)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return str(value)
    x = float(value)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if isinstance(value, numbers.Integral) or (x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    if abs(x) >= 1:
        decimals = max(digits - len(str(int(abs(x)))), 0)
        text = f"{x:,.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{x:.{digits}g}"
    if float(text.replace(",", "")) == 0.0:
        return "0"
    return text


def format_p_value(value: object) -> str:
    """Format a p-value: three significant digits, and ``< 1e-10`` below that."""
    if not isinstance(value, numbers.Real) or math.isnan(float(value)):
        return format_number(value)
    x = check_interval("p-value", value, 0.0, 1.0, closed="both")
    return "< 1e-10" if x < 1e-10 else format_number(x, 3)


def show_table(
    frame: pd.DataFrame | pd.Series,
    digits: int | dict[str, int] = 4,
    *,
    p_values: Iterable[str] = (),
    caption: str | None = None,
) -> pd.io.formats.style.Styler:
    """Return ``frame`` styled for the page: every number readable, nothing raw.

    Floats get ``digits`` significant digits (per column if a dict), integral numbers print as
    integers, p-value columns (named in ``p_values`` or in :data:`P_VALUE_COLUMNS`) print
    with three digits or as ``< 1e-10``. The data are not changed, only how they print.

    Parameters
    ----------
    frame
        The table (a Series becomes a one-column table).
    digits
        Significant digits for every float column, or a dict from column to digits (columns
        not in it get 4).
    p_values
        Further columns to format as p-values.
    caption
        A caption shown above the table.

    Returns
    -------
    pandas.io.formats.style.Styler
        The styled table; Jupyter and the book display it as HTML.
    """
    table = frame.to_frame() if isinstance(frame, pd.Series) else frame
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame or Series, got {type(frame).__name__}")
    p_cols = set(P_VALUE_COLUMNS) | set(p_values)
    unknown = set(p_values) - set(table.columns)
    if unknown:
        raise ValueError(f"p_values names columns not in the table: {sorted(unknown)}")
    formatters: dict[object, Callable[[object], str]] = {}
    for col in table.columns:
        if col in p_cols:
            formatters[col] = lambda v: html.escape(format_p_value(v))
        elif pd.api.types.is_numeric_dtype(table[col]):
            d = digits.get(col, 4) if isinstance(digits, dict) else digits
            formatters[col] = lambda v, d=d: format_number(v, d)
    styler = table.style.format(formatters).set_table_attributes(f'class="{TABLE_CLASSES}"')
    # Numbers are right-aligned, so that their digits line up (the site's stylesheet,
    # _static/book.css, aligns cells of class "num"; the header of a numeric column follows).
    numeric = [j for j, col in enumerate(table.columns) if col in formatters]
    if numeric:
        styler = styler.set_table_styles(
            [
                {"selector": f"td.col{j}, th.col_heading.col{j}", "props": "text-align: right;"}
                for j in numeric
            ],
            overwrite=False,
        )
    if caption:
        styler = styler.set_caption(caption)
    return styler
