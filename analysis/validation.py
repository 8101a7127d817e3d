"""Argument checks shared by the package: each raises a ``ValueError`` naming the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd


def check_positive_int(
    name: str, value: object, *, minimum: int = 1, maximum: int | None = None
) -> int:
    """Return ``value`` as an ``int`` if it is a whole number from ``minimum`` to ``maximum``.

    Parameters
    ----------
    name
        The argument's name, used in the error message.
    value
        The value to check. Booleans and non-integral floats are rejected.
    minimum
        The smallest value allowed (1 by default; 2 for, say, a number of folds).
    maximum
        The largest value allowed, if any.

    Raises
    ------
    ValueError
        If ``value`` is not a whole number from ``minimum`` to ``maximum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return int(value)


def check_nonnegative_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` if it is a whole number of at least 0.

    Raises
    ------
    ValueError
        If ``value`` is not a non-negative whole number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return int(value)


def check_seed(value: object, name: str = "seed") -> int:
    """Return a random seed as an ``int``: a whole number of at least 0 (not a bool).

    Raises
    ------
    ValueError
        If ``value`` is not a non-negative whole number; the message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_level(level: object, name: str = "level") -> float:
    """Return a probability strictly between 0 and 1 (a confidence level, or a test's alpha).

    Raises
    ------
    ValueError
        If ``level`` is not a number strictly between 0 and 1 (a bool is not a number here).
    """
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


def check_finite(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number.

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is a finite number of at least 0 (e.g. an SD).

    Raises
    ------
    ValueError
        If ``value`` is negative, infinite, NaN or not a number.
    """
    x = check_finite(name, value)
    if x < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return x


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is a finite number greater than 0 (a scale, a step).

    Raises
    ------
    ValueError
        If ``value`` is not a finite number (the message of :func:`check_finite`), or is 0 or
        negative.
    """
    x = check_finite(name, value)
    if x <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return x


def check_interval(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    closed: Literal["neither", "left", "right", "both"] = "neither",
) -> float:
    """Return ``value`` as a ``float`` if it is a finite number in an interval.

    Parameters
    ----------
    name
        The argument's name, used in the error message.
    value
        The value to check.
    low, high
        The interval's ends.
    closed
        Which ends belong to the interval: ``"neither"`` (the default, as for a share strictly
        between 0 and 1), ``"left"``, ``"right"`` or ``"both"`` (as for a correlation in
        [-1, 1]).

    Raises
    ------
    ValueError
        If ``value`` is not a finite number, or lies outside the interval; the message writes
        the interval with its brackets.
    """
    x = check_finite(name, value)
    low_ok = x >= low if closed in ("left", "both") else x > low
    high_ok = x <= high if closed in ("right", "both") else x < high
    if not (low_ok and high_ok):
        left = "[" if closed in ("left", "both") else "("
        right = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {value!r}")
    return x


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a ``bool`` if it is ``True`` or ``False`` (a NumPy bool too).

    A switch such as ``reml`` or ``centered`` is refused when given a number or a string, so
    that ``"False"`` (a true string) does not silently switch it on.

    Raises
    ------
    ValueError
        If ``value`` is not a boolean.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` as a ``str`` if it is one of ``choices`` (an engine, a family...).

    Parameters
    ----------
    name
        The argument's name, used in the error message.
    value
        The value to check.
    choices
        The allowed names.

    Raises
    ------
    ValueError
        If ``value`` is not one of ``choices``; the message (``unknown NAME VALUE: ...``)
        lists them.
    """
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name} {value!r}: {name} must be one of {listed}")
    return str(value)


def finite_array(
    name: str, values: object, *, ndim: int | None = 1, min_size: int = 1
) -> np.ndarray:
    """Return ``values`` as a float array of finite numbers, checking its shape and size.

    Parameters
    ----------
    name
        The argument's name, used in the error message.
    values
        Numbers (a list, an array, a Series).
    ndim
        The number of dimensions required; ``None`` accepts any.
    min_size
        The fewest values required.

    Returns
    -------
    numpy.ndarray
        The values as floats.

    Raises
    ------
    ValueError
        If ``values`` are not numbers, have another number of dimensions, hold fewer than
        ``min_size`` values, or hold a missing or infinite value.
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must hold numbers") from err
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D sequence of numbers, got {array.ndim}-D")
    if array.size < min_size:
        raise ValueError(f"{name} must hold at least {min_size} value(s), got {array.size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has missing or infinite values")
    return array


def require_rows(data: pd.DataFrame, argname: str = "data", minimum: int = 1) -> None:
    """Raise a ``ValueError`` if ``data`` is not a DataFrame with at least ``minimum`` rows.

    Parameters
    ----------
    data
        The frame to check.
    argname
        The argument's name, used in the error message.
    minimum
        The fewest rows required.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{argname} must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) < minimum:
        if len(data) == 0:
            raise ValueError(f"{argname} is empty: there are no rows")
        raise ValueError(f"{argname} has {len(data)} rows, fewer than the {minimum} needed")


def require_columns(data: pd.DataFrame, columns: Iterable[str], argname: str = "data") -> None:
    """Raise a ``ValueError`` if ``data`` is not a DataFrame holding every one of ``columns``.

    Parameters
    ----------
    data
        The frame to check.
    columns
        Column names that must be present.
    argname
        The argument's name, used in the error message.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{argname} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"{argname} is missing column(s) {missing}; it has {list(map(str, data.columns))}"
        )


#: The largest absolute response the fitters accept: beyond it their sums of squares come close
#: to overflowing a double.
LARGEST_RESPONSE = 1e100


#: lme4's ``isSingular`` tolerance: a fit is on the boundary when a relative SD (an SD divided
#: by the residual SD) is below it.
SINGULAR_TOL = 1e-4


def check_response_scale(response: str, largest: float) -> None:
    """Refuse a response whose largest absolute value exceeds :data:`LARGEST_RESPONSE`.

    Raises
    ------
    ValueError
        Naming the column and the value, and asking to rescale it.
    """
    if not largest <= LARGEST_RESPONSE:
        raise ValueError(
            f"response column {response!r} reaches {largest:.3g}: rescale it (the fit squares "
            "the response, which would overflow)"
        )


def numeric_response(data: pd.DataFrame, response: str, role: str = "response") -> np.ndarray:
    """Return column ``response`` of ``data`` as a float array, checking it can be modelled.

    Parameters
    ----------
    data
        The data.
    response
        The column.
    role
        What the column is, for the error message ("response", "predictor").

    Raises
    ------
    ValueError
        If the column is not numeric (booleans included), holds missing or infinite values,
        or (a response) exceeds :data:`LARGEST_RESPONSE`.
    """
    require_columns(data, [response])
    series = data[response]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise ValueError(f"{role} column {response!r} must be numeric, got {series.dtype}")
    y = series.to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{role} column {response!r} has missing or infinite values")
    if role == "response" and y.size:
        check_response_scale(response, float(np.max(np.abs(y))))
    return y


def check_grouping_levels(
    name: str, n_levels: int, n_obs: int | None = None, *, kind: str = "grouping column"
) -> None:
    """Refuse a grouping factor whose variance cannot be estimated, as lme4 does.

    A grouping factor needs at least two levels, and (given ``n_obs``) fewer levels than
    observations: with one observation per level its variance cannot be told from the
    residual variance.

    Raises
    ------
    ValueError
        Naming the column and saying why.
    """
    if n_levels < 2:
        raise ValueError(
            f"{kind} {name!r} has {n_levels} level: a variance between groups needs at least "
            "two (lme4 refuses this too)"
        )
    if n_obs is not None and n_levels >= n_obs:
        raise ValueError(
            f"{kind} {name!r} has {n_levels} levels for {n_obs} observations: the number of "
            "levels must be less than the number of observations, or the group variance "
            "cannot be told from the residual variance (lme4 refuses this too)"
        )


def check_fixed_factor_levels(term: str, levels: Sequence[object]) -> None:
    """Refuse a fixed-effect factor with one level (it would be confounded with the intercept).

    Raises
    ------
    ValueError
        Naming the column and its only level.
    """
    if len(levels) < 2:
        only = repr(levels[0]) if len(levels) else "none"
        raise ValueError(
            f"fixed-effect column {term!r} has only one level ({only}): it cannot be estimated "
            "apart from the intercept; leave it out"
        )


def check_fixed_dimension(n_obs: int, coefficients: dict[str, int], *, reml: bool = True) -> None:
    """Refuse fixed effects with too many coefficients for the data, naming the largest column.

    Parameters
    ----------
    n_obs
        Observations.
    coefficients
        Coefficients each fixed-effect column needs (1 for a number, levels - 1 for a
        factor); the intercept is counted here.
    reml
        REML needs more observations than coefficients; ML at least as many.

    Raises
    ------
    ValueError
        If there are too many coefficients; the message names the column that needs the
        most, which is usually a text column of labels or of numbers stored as text.
    """
    total = 1 + sum(coefficients.values())
    if total < n_obs or (not reml and total == n_obs):
        return
    worst = max(coefficients, key=lambda c: coefficients[c])
    raise ValueError(
        f"the fixed effects need {total} coefficients for {n_obs} observations: column "
        f"{worst!r} alone needs {coefficients[worst]} (a text column is a factor with one "
        "coefficient per level but the first; is it an identifier, or numbers stored as text?)"
    )


def level_effects(
    effects: pd.Series,
    values: pd.Series,
    column: str,
    *,
    default: float = 0.0,
    argname: str = "newdata",
) -> np.ndarray:
    """Look up each row's level effect; a level not seen in the fit gets ``default``.

    New levels are legitimate (they get the mean of their distribution, ``default``), but two
    mistakes are refused rather than turned into silent defaults: a missing level, and a
    column that holds the fitted labels in another type (``"3"`` for ``3``), so that no row
    matches.

    Parameters
    ----------
    effects
        One effect per fitted level, indexed by level.
    values
        The level of each new row.
    column
        The column's name, for the error message.
    default
        The value of a level the fit has not seen.
    argname
        The name of the new data, for the error message.

    Returns
    -------
    numpy.ndarray
        One effect per row.

    Raises
    ------
    ValueError
        On a missing level, or on labels of another type than the fitted ones.
    """
    if values.isna().any():
        raise ValueError(
            f"{argname}: column {column!r} has missing values; a missing level has no effect "
            "to predict with"
        )
    rows = values.astype(object).to_numpy()
    known = pd.Index(effects.index.astype(object))
    idx = known.get_indexer(rows)
    if len(rows) and (idx < 0).all():
        as_text = pd.Index(known.astype(str)).get_indexer(rows.astype(str))
        if (as_text >= 0).any():
            kind_new = pd.api.types.infer_dtype(rows, skipna=True)
            kind_fit = pd.api.types.infer_dtype(known, skipna=True)
            raise ValueError(
                f"{argname}: column {column!r} holds {kind_new} values but the fitted levels "
                f"are {kind_fit}, so no level matches; convert the column"
            )
    return np.where(idx >= 0, effects.to_numpy(dtype=float)[np.maximum(idx, 0)], default)


def column_names(argname: str, value: object) -> list[str]:
    """Return ``value`` as a list of distinct column names.

    Raises
    ------
    ValueError
        If ``value`` is a single string or not a sequence, or repeats a name.
    """
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{argname} must be a list of column names, got {value!r}")
    names = [str(v) for v in value]
    if len(set(names)) != len(names):
        raise ValueError(f"{argname} has repeated column names: {names}")
    return names


def model_columns(
    data: pd.DataFrame,
    response: str,
    fixed: Sequence[str],
    groups: Sequence[str],
    *,
    min_groups: int = 1,
) -> tuple[list[str], list[str]]:
    """Check the columns of a mixed model ``response ~ fixed + (1|g) for g in groups``.

    Parameters
    ----------
    data
        The data frame.
    response, fixed, groups
        Column names of the response, the fixed effects and the grouping factors.
    min_groups
        The fewest grouping factors the model needs.

    Returns
    -------
    tuple of list of str
        The fixed-effect and grouping column names.

    Raises
    ------
    ValueError
        If ``data`` is not a non-empty DataFrame holding every column, a name is repeated or
        plays two roles, or there are fewer than ``min_groups`` grouping factors.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not isinstance(response, str):
        raise ValueError(f"response must be a column name, got {response!r}")
    fixed_list = column_names("fixed", fixed)
    group_list = column_names("groups", groups)
    if len(group_list) < min_groups:
        count = {1: "one", 2: "two", 3: "three"}.get(min_groups, str(min_groups))
        raise ValueError(f"groups must name at least {count} grouping column(s), got {group_list}")
    overlap = ({response} & set(fixed_list + group_list)) | (set(fixed_list) & set(group_list))
    if overlap:
        raise ValueError(f"column(s) {sorted(overlap)} appear in more than one role")
    require_columns(data, [response, *fixed_list, *group_list])
    if len(data) == 0:
        raise ValueError("data is empty")
    return fixed_list, group_list


def available_memory() -> float:
    """Bytes this process can still allocate, as far as the system says; ``inf`` if unknown.

    The smallest of: the kernel's estimate of available memory (``MemAvailable`` in
    ``/proc/meminfo``), what is left under a cgroup (v2) memory limit, and what is left under
    an address-space limit (``ulimit -v``) given the process's current virtual size.
    """
    import resource
    from pathlib import Path

    limits = [math.inf]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(float(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        cgroup = Path("/sys/fs/cgroup")
        high = (cgroup / "memory.max").read_text().strip()
        if high != "max":
            limits.append(float(high) - float((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        size = 0.0
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    size = float(line.split()[1]) * 1024
        except OSError:
            pass
        limits.append(float(soft) - size)
    return max(min(limits), 0.0)


def check_memory(needed: float, what: str, hint: str, limit: float | None = None) -> None:
    """Refuse, before allocating, work that would not fit in memory.

    Parameters
    ----------
    needed
        Estimated bytes the work will allocate.
    what
        What needs them, for the message (e.g. ``"the REML criterion of this design"``).
    hint
        What to do instead, for the message.
    limit
        Bytes allowed; :func:`available_memory` by default.

    Raises
    ------
    ValueError
        If ``needed`` exceeds the limit; the message gives both in GB.
    """
    allowed = available_memory() if limit is None else float(limit)
    if needed > allowed:
        raise ValueError(
            f"{what} needs about {needed / 1e9:.1f} GB of memory, more than the "
            f"{allowed / 1e9:.1f} GB available; {hint}"
        )
