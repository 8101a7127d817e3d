"""Benchmark the book itself: clean execution of each chapter, and whole-book builds.

Measures, on this machine:

* the wall time of executing each chapter from scratch in a fresh kernel (nbclient);
* a clean build of the whole book (``jupyter-book build . -W --keep-going``) in a temporary
  copy of the repository with an empty execution cache;
* a rebuild with nothing changed (the execution cache answers, nothing is executed);
* a rebuild after changing one code cell of one chapter (only that chapter re-executes).

Every number a chapter glues into its prose is recorded too (``bench/results/glued.csv``), so
that a change of library versions can be checked number by number: run the script once with
the old environment on an old checkout (``--root`` and ``--label``) and once with the new one,
and compare the two files (the reproducibility appendix does).

Run with ``.venv/bin/python bench/bench_book.py`` (add ``--skip-build`` to time chapters only).
Results are printed with the machine named and written to ``bench/results/book.csv``; with
``--label L``, to ``book_L.csv`` and ``glued_L.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pandas as pd
import yaml
from nbclient import NotebookClient

from analysis.book.reproducibility import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


#: The MIME prefix under which myst-nb's ``glue`` stores a value in a cell's outputs.
GLUE_MIME = "application/papermill.record/"


def chapters(root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").is_file()]


def glued_values(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Every value an executed notebook glued, as the text myst-nb would format."""
    values: dict[str, str] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get(GLUE_MIME + "text/plain")
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if text is not None and name:
                values[name] = text
    return values


def time_chapter(path: Path, timeout: int = 1800) -> tuple[float, dict[str, str]]:
    """Execute one chapter in a fresh kernel, from its own folder.

    Returns
    -------
    tuple
        The seconds it took, and the values it glued (see :func:`glued_values`).
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start, glued_values(nb)


def environment() -> pd.DataFrame:
    """Python's version and those of the libraries whose change moves the book's numbers."""
    from importlib import metadata

    rows = [{"package": "python", "version": sys.version.split()[0]}]
    for name in (
        "numpy",
        "scipy",
        "pandas",
        "statsmodels",
        "pymc",
        "pytensor",
        "arviz",
        "nutpie",
        "numba",
        "bambi",
        "mixedlm",
        "jupyter-book",
    ):
        try:
            rows.append({"package": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            rows.append({"package": name, "version": ""})
    return pd.DataFrame(rows)


def _build(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-W", "--keep-going"],
        cwd=root,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def time_builds() -> list[dict[str, object]]:
    """Time a clean build, a no-change rebuild and a one-chapter-change rebuild."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "book"
        tracked = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.split()
        for name in tracked:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
        rows.append({"what": "build: clean (all chapters executed)", "seconds": _build(copy)})
        rows.append({"what": "build: rebuild, nothing changed", "seconds": _build(copy)})
        first = chapters()[0].relative_to(ROOT)
        nb = nbformat.read(copy / first, as_version=4)
        code = next(c for c in nb.cells if c.cell_type == "code")
        code.source += "\n# benchmark edit"
        nbformat.write(nb, copy / first)
        rows.append({"what": f"build: rebuild after editing {first.name}", "seconds": _build(copy)})
    return rows


def main() -> None:
    """Run the benchmark, print the table and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="time chapters only")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="checkout whose chapters to run (default: this one)"
    )
    parser.add_argument("--label", default="", help="suffix of the result files")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=RESULTS,
        help="folder for the result files (default: bench/results)",
    )
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=[],
        metavar="STEM",
        help="chapters to leave out, e.g. appendix_reproducibility (which "
        "reads the files a stack comparison is writing)",
    )
    args = parser.parse_args()
    machine = machine_info()
    rows: list[dict[str, object]] = []
    glued: list[dict[str, object]] = []
    for path in chapters(args.root):
        if path.stem in args.exclude:
            continue
        seconds, values = time_chapter(path)
        rows.append({"what": f"chapter: {path.stem}", "seconds": seconds})
        glued.extend({"chapter": path.stem, "name": k, "value": v} for k, v in values.items())
        print(f"{path.stem}: {seconds:.1f} s, {len(values)} glued values", flush=True)
    if not args.skip_build:
        rows.extend(time_builds())
    table = pd.DataFrame(rows)
    table["seconds"] = table["seconds"].round(1)
    table["date"] = dt.date.today().isoformat()
    table["machine"] = f"{machine['cpu_count']} CPUs, {machine['cpu']}"
    print(f"Machine: {table['machine'].iloc[0]}; Python {machine['python']}")
    print(table[["what", "seconds"]].to_string(index=False))
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"_{args.label}" if args.label else ""
    table.to_csv(out / f"book{suffix}.csv", index=False)
    pd.DataFrame(glued, columns=["chapter", "name", "value"]).to_csv(
        out / f"glued{suffix}.csv", index=False
    )
    environment().to_csv(out / f"environment{suffix}.csv", index=False)
    print(f"written to {out / f'book{suffix}.csv'}, glued{suffix}.csv, environment{suffix}.csv")


if __name__ == "__main__":
    main()
