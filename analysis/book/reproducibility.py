"""What the book was built with: package versions, the machine, and benchmark results."""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "book_root",
    "locked_versions",
    "machine_info",
    "package_versions",
    "read_benchmarks",
    "benchmark_table",
    "BENCHMARK_TITLES",
    "compare_glued",
    "rscript_with_lme4",
]


def book_root() -> Path:
    """Return the book's root folder (the one holding ``_toc.yml``), searching up from here."""
    here = Path.cwd().resolve()
    for path in (here, *here.parents):
        if (path / "_toc.yml").is_file():
            return path
    raise FileNotFoundError("no _toc.yml in the current folder or above: run from the book")


def locked_versions(lock_file: str | os.PathLike[str]) -> dict[str, str]:
    """Read exact pins (``name==version``) from a lock file, keyed by canonical name."""
    pins: dict[str, str] = {}
    for line in Path(lock_file).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{lock_file}: not an exact pin: {line!r}")
            pins[canonicalize_name(name)] = version
    return pins


def package_versions(
    distribution: str = "analysis", lock_file: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Installed versions of a distribution's direct dependencies, extras included.

    Parameters
    ----------
    distribution
        The installed distribution whose requirements are listed (default: this package).
    lock_file
        If given, a lock file of exact pins; its version of each package is added as the
        column ``locked``.

    Returns
    -------
    pandas.DataFrame
        Indexed by package name, with columns ``required`` (the range asked for), ``extra``
        (the optional-dependency group, or ``""``) and ``installed`` (the version found, or
        ``None`` if missing), plus ``locked`` when ``lock_file`` is given.
    """
    rows = []
    for text in metadata.requires(distribution) or []:
        req = Requirement(text)
        extra = ""
        if req.marker is not None:
            found = re.search(r'extra\s*==\s*"([^"]+)"', str(req.marker))
            extra = found.group(1) if found else ""
        try:
            installed: str | None = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            installed = None
        rows.append({"package": req.name, "required": str(req.specifier), "extra": extra,
                     "installed": installed})
    table = pd.DataFrame(rows).set_index("package")
    if lock_file is not None:
        pins = locked_versions(lock_file)
        table["locked"] = [pins.get(canonicalize_name(name)) for name in table.index]
    return table


def machine_info() -> dict[str, str | int]:
    """Describe the machine: Python version, platform, CPU model and count."""
    cpu = platform.processor() or "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if found:
            cpu = found.group(1).strip()
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count() or 0,
    }


def read_benchmarks(folder: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read every benchmark CSV in ``folder``, keyed by file stem (newest first by name).

    The by-products of ``bench_book.py`` (``glued_*.csv``, every number a chapter glued, and
    ``environment_*.csv``, the package versions) are records for comparing two runs, not
    benchmark results, and are left out. Returns an empty dict when the folder does not exist.
    """
    path = Path(folder)
    if not path.is_dir():
        return {}
    return {
        p.stem: pd.read_csv(p)
        for p in sorted(path.glob("*.csv"), reverse=True)
        if not p.stem.startswith(("glued", "environment"))
    }


#: What each benchmark file in ``bench/results`` measures (the caption of its table).
BENCHMARK_TITLES: dict[str, str] = {
    "archer_nuts": "NUTS on the archer model, centred and non-centred (bench_archer_nuts.py)",
    "book": "Executing each chapter (bench_book.py)",
    "book_new_chapters": "Executing the chapters added last: random slopes (5a, 5b, 6c: at most "
    "60 s each) and scale (10: at most 90 s) (bench_book.py)",
    "insteval_nuts": "NUTS on the InstEval model, marginalised and full (bench_insteval_nuts.py)",
    "insteval_nuts_seeds": "Chapter 9's NUTS run over further seeds (bench_insteval_nuts.py)",
    "insteval_reml": "REML on InstEval: this package against lme4 (bench_insteval_reml.py)",
    "large_reml": "Exact REML on growing users x items designs (bench_large.py)",
    "large_scale": "Moments and conjugate gradients on Dask, 1 and 2 workers (bench_large.py)",
    "large_moments": "REML and moments on 20 replications of a million ratings (bench_large.py)",
    "large_three_factors": "200,000 rows, 10,000 x 5,000 x 2,000 crossed levels (bench_large.py)",
}

#: Columns that say where and when a benchmark ran; constant ones move to the caption.
_PROVENANCE_COLUMNS = ("machine", "date", "timestamp", "cpu_model", "cpu_count")


def benchmark_table(
    name: str, frame: pd.DataFrame, digits: int = 4
) -> pd.io.formats.style.Styler:
    """Return one benchmark's results as a labelled, readable table.

    The caption names what the benchmark measures (:data:`BENCHMARK_TITLES`, else the file
    name) and, when every row shares them, the machine and date, which are then dropped from
    the columns; numbers get ``digits`` significant digits (:func:`analysis.book.show_table`)
    and the row index is hidden.

    Parameters
    ----------
    name
        The file stem, e.g. ``"insteval_reml"``.
    frame
        Its rows, as :func:`read_benchmarks` returns them.
    digits
        Significant digits for the numbers.

    Returns
    -------
    pandas.io.formats.style.Styler
        The table, for display.
    """
    from analysis.book import show_table

    table = frame.copy()
    where = []
    for col in _PROVENANCE_COLUMNS:
        if col in table and table[col].nunique(dropna=False) == 1:
            value = table[col].iloc[0]
            if col == "timestamp":
                value = str(value)[:10]
            where.append(f"{col.replace('_', ' ')} {value}")
            table = table.drop(columns=col)
    caption = BENCHMARK_TITLES.get(name, f"bench/results/{name}.csv")
    if where:
        caption += f" [{'; '.join(where)}]"
    return show_table(table, digits, caption=caption).hide(axis="index")


@functools.cache
def rscript_with_lme4() -> str | None:
    """Return the path of ``Rscript`` if R can load lme4 and jsonlite, else ``None``.

    The lme4 cross-checks (tests and benchmarks) run only where this returns a path; the
    answer is computed once per process.
    """
    exe = shutil.which("Rscript")
    if exe is None:
        return None
    probe = subprocess.run(
        [exe, "-e", "quit(status = !(requireNamespace('lme4', quietly = TRUE) && "
                    "requireNamespace('jsonlite', quietly = TRUE)))"],
        capture_output=True, timeout=120, check=False,
    )
    return exe if probe.returncode == 0 else None


def _as_number(text: object) -> float | None:
    """Parse a glued value's text as a number, or return ``None`` if it is not one."""
    try:
        value = float(str(text).strip().strip("'\""))
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def compare_glued(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compare the values two builds glued into the prose, number by number.

    Parameters
    ----------
    before, after
        Tables with columns ``chapter``, ``name`` and ``value`` (the text of each glued
        value), as ``bench/bench_book.py`` writes them.

    Returns
    -------
    pandas.DataFrame
        One row per value glued in both builds, indexed by ``chapter`` and ``name``, with
        ``before``, ``after`` (the texts), ``numeric`` (both parse as numbers), ``relative``
        (``|after - before| / max(|before|, 1e-12)`` for numbers, else NaN) and ``same``
        (identical text). Values glued by only one build are left out;
        ``attrs["only_before"]`` and ``attrs["only_after"]`` count them.
    """
    for name, table in (("before", before), ("after", after)):
        missing = {"chapter", "name", "value"} - set(table.columns)
        if missing:
            raise ValueError(f"{name} lacks columns {sorted(missing)}")
    left = before.set_index(["chapter", "name"])["value"].astype(str)
    right = after.set_index(["chapter", "name"])["value"].astype(str)
    both = left.index.intersection(right.index)
    rows = []
    for key in both:
        a, b = left.loc[key], right.loc[key]
        x, y = _as_number(a), _as_number(b)
        numeric = x is not None and y is not None
        relative = abs(y - x) / max(abs(x), 1e-12) if numeric else np.nan
        rows.append({"chapter": key[0], "name": key[1], "before": a, "after": b,
                     "numeric": numeric, "relative": relative, "same": a == b})
    table = pd.DataFrame(
        rows, columns=["chapter", "name", "before", "after", "numeric", "relative", "same"]
    ).set_index(["chapter", "name"])
    table.attrs["only_before"] = int(len(left.index.difference(right.index)))
    table.attrs["only_after"] = int(len(right.index.difference(left.index)))
    return table
