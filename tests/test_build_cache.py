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
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    log = result.stdout + result.stderr
    assert "Executing notebook" not in log, "an unchanged chapter was executed again"
