"""What the book was built with: package versions, the machine, and benchmark results."""

from __future__ import annotations

import functools
import numbers
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
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
    "chapter_labels",
    "column_label",
    "name_chapters",
    "BENCHMARK_TITLES",
    "COLUMN_LABELS",
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
        rows.append(
            {
                "package": req.name,
                "required": str(req.specifier),
                "extra": extra,
                "installed": installed,
            }
        )
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


def chapter_labels(root: str | os.PathLike[str]) -> dict[str, str]:
    """Return the number and title of every chapter, keyed by file stem, as the book shows them.

    Chapters in numbered parts of ``_toc.yml`` are numbered in order across parts, as Jupyter
    Book numbers them; the title is the first level-one heading of the chapter's file.

    Parameters
    ----------
    root
        The book's root folder (holding ``_toc.yml``).

    Returns
    -------
    dict
        File stem (``"09_insteval_bayes"``) to ``"Chapter 13: InstEval, the Bayesian way"``;
        unnumbered pages (appendices) map to their title alone.
    """
    import json

    import yaml

    root = Path(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    labels: dict[str, str] = {}
    number = 0
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            stem = Path(chapter["file"]).name
            title = stem
            for suffix in (".ipynb", ".md"):
                path = root / f"{chapter['file']}{suffix}"
                if not path.is_file():
                    continue
                if suffix == ".ipynb":
                    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                    text = "\n".join(
                        "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
                    )
                else:
                    text = path.read_text(encoding="utf-8")
                found = re.search(r"^#\s+(.+?)\s*$", text, re.M)
                if found:
                    title = found.group(1)
                break
            if part.get("numbered"):
                number += 1
                labels[stem] = f"Chapter {number}: {title}"
            else:
                labels[stem] = title
    return labels


#: What each benchmark file in ``bench/results`` measures (the caption of its table).
#: ``{stem}`` names a chapter by its file; :func:`benchmark_table` writes it as "chapter N".
BENCHMARK_TITLES: dict[str, str] = {
    "archer_nuts": "NUTS on the archer model, centred and non-centred (bench_archer_nuts.py)",
    "book": "Executing each chapter, and building the book (bench_book.py)",
    "book_new_chapters": "Executing the chapters added last: random slopes "
    "({05a_random_slopes}, {05b_sleepstudy}, {06c_bayesian_slopes}: at most 60 s each) and "
    "scale ({10_beyond_one_machine}: at most 90 s) (bench_book.py)",
    "book_beyond_normal": "Executing the chapters of the part beyond the normal "
    "({11_hits_and_misses}, {12_clicks_and_counts}, {13_ordered_ratings}: at most 90 s each) "
    "(bench_book.py)",
    "cli_exit": "The command line's exit: fit-crossed on InstEval ending through run(), which "
    "freezes the garbage collector before exit, and through main() alone (bench_cli_exit.py)",
    "glmer": "Generalized linear mixed models on lme4's VerbAgg: the glmer command against lme4 "
    "and mixedlm, whole processes, median of the repeats (bench_glmer.py)",
    "glmer_binary_100000": "The same on a simulated binary design of 100,000 rows with two "
    "crossed factors (bench_glmer.py)",
    "glmer_binary_1000000": "The same on a simulated binary design of a million rows with two "
    "crossed factors, quoted in {11_hits_and_misses} (bench_glmer.py)",
    "insteval_advi": "ADVI on InstEval over seeds and lengths: the estimates at each checkpoint, "
    "read by {09_insteval_bayes} (bench_insteval_advi.py)",
    "slopes_forms": "The random-slope model of {06c_bayesian_slopes}, centred and non-centred, "
    "over seeds (bench_slopes_forms.py)",
    "insteval_nuts": "NUTS on the InstEval model, marginalised and full (bench_insteval_nuts.py)",
    "insteval_nuts_seeds": "The NUTS run of {09_insteval_bayes} over further seeds "
    "(bench_insteval_nuts.py)",
    "insteval_reml": "REML on InstEval: this package against lme4, median of the repeats "
    "(bench_insteval_reml.py)",
    "large_reml": "Exact REML on growing users x items designs (bench_large.py)",
    "large_scale": "Moments and conjugate gradients on Dask, 1 and 2 workers (bench_large.py)",
    "large_moments": "REML and moments on replications of a million ratings: the estimated "
    "SDs against the truth (bench_large.py)",
    "large_three_factors": "Three crossed factors: each program on one design (bench_large.py)",
}

#: Column headers of the benchmark tables, in words (a column not listed is spelled out from
#: its name: ``fit_seconds`` becomes "Fit seconds", ``_s`` "(s)", ``_mb`` "(MB)").
COLUMN_LABELS: dict[str, str] = {
    "what": "What",
    "seconds": "Seconds",
    "engine": "Sampler",
    "form": "Parametrisation",
    "model": "Model",
    "chains": "Chains",
    "draws": "Draws per chain",
    "tune": "Tuning draws",
    "cores": "Cores",
    "compile_s": "Compile (s)",
    "sampling_s": "Sampling (s)",
    "recover_s": "Recovering effects (s)",
    "total_s": "Total (s)",
    "min_ess_bulk": "Smallest bulk ESS",
    "min_ess_bulk_hyper": "Smallest bulk ESS (hyperparameters)",
    "min_ess_bulk_all": "Smallest bulk ESS (all)",
    "ess_per_s": "ESS per second",
    "ess_hyper_per_s": "ESS per second (hyperparameters)",
    "max_r_hat": "Largest R-hat",
    "max_r_hat_variable": "Variable with the largest R-hat",
    "min_ess_variable": "Variable with the smallest ESS",
    "divergences": "Divergences",
    "seed": "Seed",
    "method": "Program",
    "program": "Program",
    "status": "Status",
    "fit_s": "Fit (s)",
    "command_s": "Whole command (s)",
    "peak_mb": "Peak memory (MB)",
    "n_evals": "Evaluations",
    "criterion": "REML criterion",
    "sd_s": "Student SD",
    "rows": "Rows",
    "users": "Users",
    "items": "Items",
    "levels": "Levels",
    "workers": "Workers",
    "wall_seconds": "Wall time (s)",
    "fit_seconds": "Fit (s)",
    "iterations": "Iterations",
    "user_sd": "User SD",
    "item_sd": "Item SD",
    "residual_sd": "Residual SD",
    "true_user_sd": "True user SD",
    "true_item_sd": "True item SD",
    "true_residual_sd": "True residual SD",
    "machine": "Machine",
    "date": "Date",
    "timestamp": "Date",
    "cpu_count": "CPUs",
    "cpu_model": "CPU",
    "repeats": "Repeats",
    "group": "Factor",
    "truth": "True SD",
    "reml_mean": "REML: mean",
    "reml_sd": "REML: SD over replications",
    "moments_mean": "Moments: mean",
    "moments_sd": "Moments: SD over replications",
    "before": "Before",
    "after": "After",
    "relative": "Relative change",
    "unchanged": "Unchanged",
    "moved": "Moved",
}

#: Columns that say where and when a benchmark ran; constant ones move to the caption.
_PROVENANCE_COLUMNS = ("machine", "date", "timestamp", "cpu_model", "cpu_count")
#: Columns that record the machine's load, not the benchmark: left out of the tables.
_NOISE_COLUMNS = ("load_before", "load_after")
#: A chapter's file stem (``06c_bayesian_slopes``), as benchmark files name chapters.
_CHAPTER_STEM = re.compile(r"\b(\d\d[a-z]?_[a-z0-9_]+?)(?:\.ipynb)?\b")


def column_label(name: object) -> str:
    """Return a benchmark column's header in words (:data:`COLUMN_LABELS`, else spelled out)."""
    text = str(name)
    if text in COLUMN_LABELS:
        return COLUMN_LABELS[text]
    for suffix, unit in (("_seconds", " (s)"), ("_s", " (s)"), ("_mb", " (MB)")):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
            break
    text = text.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def name_chapters(text: str, chapters: Mapping[str, str] | None) -> str:
    """Write the chapter file stems in ``text`` as the book names the chapters.

    ``"chapter: 06c_bayesian_slopes"`` becomes the chapter's label (``"Chapter 10: ..."``); a
    stem elsewhere in a sentence becomes ``"chapter 10"``. Stems not in ``chapters`` stay.
    """
    if not chapters:
        return text
    whole = re.fullmatch(r"chapter:\s*(\S+)", text.strip())
    if whole and whole.group(1) in chapters:
        return chapters[whole.group(1)]

    def short(match: re.Match[str]) -> str:
        label = chapters.get(match.group(1))
        if label is None:
            return match.group(0)
        number = re.match(r"Chapter (\S+):", label)
        return f"chapter {number.group(1)}" if number else label

    return _CHAPTER_STEM.sub(short, text)


def _summarise_repeats(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per program (``method``): median times and memory over the repeats."""
    keep = [c for c in frame.columns if c not in ("repeat", *_NOISE_COLUMNS)]
    table = frame[keep]
    numeric = ["fit_s", "command_s", "peak_mb"]
    first = [c for c in keep if c not in numeric and c != "method"]
    grouped = table.groupby("method", sort=False)
    out = grouped[first].first().join(grouped[[c for c in numeric if c in table]].median())
    out["repeats"] = grouped.size()
    if "n_evals" in out:
        out["n_evals"] = out["n_evals"].where(out["n_evals"] >= 0)
    return out.reset_index()[["method", *[c for c in out.columns]]], ""


def _summarise_large_moments(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One row per factor: the truth, and mean and spread of each estimator's SD."""
    grouped = frame.groupby("group", sort=False)
    out = pd.DataFrame(
        {
            "truth": grouped["truth"].first(),
            "reml_mean": grouped["reml"].mean(),
            "reml_sd": grouped["reml"].std(),
            "moments_mean": grouped["moments"].mean(),
            "moments_sd": grouped["moments"].std(),
        }
    ).reset_index()
    provenance = frame[[c for c in _PROVENANCE_COLUMNS if c in frame]].drop_duplicates()
    for col in provenance:
        out[col] = provenance[col].iloc[0] if provenance[col].nunique() == 1 else None
    n = frame["replication"].nunique() if "replication" in frame else len(frame)
    return out, f"{n} replications"


#: Benchmarks whose raw rows are summarised before display (repeats, replications).
_SUMMARIES = {
    "cli_exit": _summarise_repeats,
    "insteval_reml": _summarise_repeats,
    "large_moments": _summarise_large_moments,
}


def benchmark_table(
    name: str,
    frame: pd.DataFrame,
    digits: int = 4,
    *,
    chapters: Mapping[str, str] | None = None,
) -> pd.io.formats.style.Styler:
    """Return one benchmark's results as a labelled, readable table.

    The caption names what the benchmark measures (:data:`BENCHMARK_TITLES`, else the file
    name). Repeats and replications are summarised (median time of the repeats; mean and
    spread over replications). Every column whose value is the same in all rows (the machine,
    the date, the number of chains...) moves into the caption, a status column that says "ok"
    throughout is left out, chapters are named by number (``chapters``, from
    :func:`chapter_labels`), headers are words (:func:`column_label`), numbers get ``digits``
    significant digits (:func:`analysis.book.show_table`) and the row index is hidden.

    Parameters
    ----------
    name
        The file stem, e.g. ``"insteval_reml"``.
    frame
        Its rows, as :func:`read_benchmarks` returns them.
    digits
        Significant digits for the numbers.
    chapters
        Chapter file stem to label, to name chapters as the book does.

    Returns
    -------
    pandas.io.formats.style.Styler
        The table, for display.
    """
    from analysis.book import format_number, show_table

    table = frame.drop(columns=[c for c in _NOISE_COLUMNS if c in frame])
    notes: list[str] = []
    if name in _SUMMARIES:
        table, note = _SUMMARIES[name](table)
        if note:
            notes.append(note)
    table = table.map(lambda v: name_chapters(v, chapters) if isinstance(v, str) else v)
    if "status" in table and (table["status"].astype(str) == "ok").all():
        table = table.drop(columns="status")
    if len(table) > 1:
        for col in list(table.columns):
            values = table[col]
            if values.nunique(dropna=False) != 1 or values.isna().all():
                continue
            value = values.iloc[0]
            if col == "timestamp":
                value = str(value)[:10]
            shown = format_number(value, digits) if isinstance(value, numbers.Real) else value
            notes.append(f"{column_label(col)}: {shown}")
            table = table.drop(columns=col)
    title = BENCHMARK_TITLES.get(name, f"bench/results/{name}.csv")
    title = title.format_map(_ChapterNames(chapters or {}))
    caption = title + (f" [{'; '.join(notes)}]" if notes else "")
    table = table.rename(columns=column_label)
    return show_table(table, digits, caption=caption).hide(axis="index")


class _ChapterNames(dict):
    """``str.format_map`` helper: ``{stem}`` becomes "chapter N" (or the stem if unknown)."""

    def __init__(self, chapters: Mapping[str, str]) -> None:
        super().__init__()
        self.chapters = chapters

    def __missing__(self, key: str) -> str:
        return name_chapters(key, self.chapters)


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
        [
            exe,
            "-e",
            "quit(status = !(requireNamespace('lme4', quietly = TRUE) && "
            "requireNamespace('jsonlite', quietly = TRUE)))",
        ],
        capture_output=True,
        timeout=120,
        check=False,
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
        rows.append(
            {
                "chapter": key[0],
                "name": key[1],
                "before": a,
                "after": b,
                "numeric": numeric,
                "relative": relative,
                "same": a == b,
            }
        )
    table = pd.DataFrame(
        rows, columns=["chapter", "name", "before", "after", "numeric", "relative", "same"]
    ).set_index(["chapter", "name"])
    table.attrs["only_before"] = int(len(left.index.difference(right.index)))
    table.attrs["only_after"] = int(len(right.index.difference(left.index)))
    return table
