"""The execution cache: rebuilding an unchanged book executes no chapter.

Runs after ``make book`` (as part of ``make test``): a second build of the same sources must
take every chapter from ``_build/.jupyter_cache``. How long that takes is measured by
``bench/bench_book.py``, not here.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]


def test_rebuild_of_an_unchanged_book_executes_nothing():
    if not (ROOT / "_build" / ".jupyter_cache").is_dir():
        pytest.fail("No execution cache in _build: run `make book` first (make test does).")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", ".", "-W", "--keep-going"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    log = result.stdout + result.stderr
    assert "Executing notebook" not in log, "an unchanged chapter was executed again"


WARNING_NAMES = (
    "DeprecationWarning",
    "FutureWarning",
    "PendingDeprecationWarning",
    "MigrationWarning",
)


def test_no_chapter_output_carries_a_deprecation_warning():
    executed = sorted((ROOT / "_build" / "jupyter_execute").rglob("*.ipynb"))
    if not executed:
        pytest.fail("No executed notebooks in _build/jupyter_execute: run `make book` first.")
    import nbformat

    found = []
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                text = out.get("text", "") if out.get("output_type") == "stream" else ""
                text += "".join(str(v) for v in out.get("data", {}).values())
                hits = [w for w in WARNING_NAMES if w in text]
                if hits:
                    found.append(f"{path.name} cell {i}: {hits}")
    assert not found, f"chapter outputs carry warnings: {found}"
