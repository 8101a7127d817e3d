"""Benchmark the book itself: clean execution of each chapter, and whole-book builds.

Measures, on this machine:

* the wall time of executing each chapter from scratch in a fresh kernel (nbclient);
* a clean build of the whole book (``jupyter-book build . -W --keep-going``) in a temporary
  copy of the repository with an empty execution cache;
* a rebuild with nothing changed (the execution cache answers, nothing is executed);
* a rebuild after changing one code cell of one chapter (only that chapter re-executes).

Run with ``.venv/bin/python bench/bench_book.py`` (add ``--skip-build`` to time chapters only).
Results are printed with the machine named and written to ``bench/results/book.csv``.
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

from analysis.reproducibility import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def chapters() -> list[Path]:
    """The notebooks of the table of contents, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


def time_chapter(path: Path, timeout: int = 1800) -> float:
    """Execute one chapter in a fresh kernel, from its own folder, and return the seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def _build(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-W", "--keep-going"],
        cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def time_builds() -> list[dict[str, object]]:
    """Time a clean build, a no-change rebuild and a one-chapter-change rebuild."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "book"
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True,
                                 capture_output=True, text=True).stdout.split()
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
    args = parser.parse_args()
    machine = machine_info()
    rows = [{"what": f"chapter: {p.stem}", "seconds": time_chapter(p)} for p in chapters()]
    if not args.skip_build:
        rows.extend(time_builds())
    table = pd.DataFrame(rows)
    table["seconds"] = table["seconds"].round(1)
    table["date"] = dt.date.today().isoformat()
    table["machine"] = f"{machine['cpu_count']} CPUs, {machine['cpu']}"
    print(f"Machine: {table['machine'].iloc[0]}; Python {machine['python']}")
    print(table[["what", "seconds"]].to_string(index=False))
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "book.csv", index=False)
    print(f"written to {RESULTS / 'book.csv'}")


if __name__ == "__main__":
    main()
