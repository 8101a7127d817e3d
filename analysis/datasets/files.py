"""Where the book's data live, and reading and writing the archer CSV files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from analysis.datasets.archers import BOWS
from analysis.validation import require_columns

__all__ = ["ARCHER_COLUMNS", "data_dir", "read_archers", "write_archers"]

#: Columns of an archer CSV, in order.
ARCHER_COLUMNS: tuple[str, str, str] = ("Distance", "Bow", "Name")


def data_dir(*, create: bool = False) -> Path:
    """Return the book's ``data/`` folder.

    The folder is found from the environment variable ``MIXED_BOOK_DATA`` if set, otherwise
    by walking up from the current directory to the folder holding ``_toc.yml`` (the book's
    root), so chapters find it whether run from ``book/`` or from the root.

    Parameters
    ----------
    create
        Create the folder if it is missing. Only writers ask for that: reading never creates
        folders, wherever it runs.

    Returns
    -------
    pathlib.Path
        The data folder.
    """
    env = os.environ.get("MIXED_BOOK_DATA")
    if env:
        path = Path(env)
    else:
        here = Path.cwd().resolve()
        root = next((p for p in (here, *here.parents) if (p / "_toc.yml").is_file()), here)
        path = root / "data"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_archers(data: pd.DataFrame, name: str) -> Path:
    """Write archer data to ``data/<name>.csv`` with columns Distance, Bow, Name.

    Parameters
    ----------
    data
        Frame with at least the columns ``Distance``, ``Bow`` and ``Name``.
    name
        File stem, e.g. ``"archers_3"``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    require_columns(data, ARCHER_COLUMNS)
    if not name or "/" in name or name.endswith(".csv"):
        raise ValueError(f"name must be a bare file stem such as 'archers_3', got {name!r}")
    path = data_dir(create=True) / f"{name}.csv"
    data.loc[:, list(ARCHER_COLUMNS)].to_csv(path, index=False, float_format="%.10g")
    return path


def read_archers(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an archer CSV back with the book's column types.

    ``Bow`` becomes a categorical with Northwood first; ``Name`` a categorical in order of
    first appearance.

    Parameters
    ----------
    path
        A CSV file with columns Distance, Bow, Name.

    Returns
    -------
    pandas.DataFrame
        The data.
    """
    data = pd.read_csv(path)
    require_columns(data, ARCHER_COLUMNS, argname=str(path))
    unknown = set(data["Bow"]) - set(BOWS)
    if unknown:
        raise ValueError(f"{path}: unknown bow(s) {sorted(unknown)}; expected {list(BOWS)}")
    data["Bow"] = pd.Categorical(data["Bow"], categories=list(BOWS))
    data["Name"] = pd.Categorical(data["Name"], categories=list(pd.unique(data["Name"])))
    return data
