"""pytest plugin: store the notebooks nbval executed in the book's execution cache.

``make test`` runs every chapter under nbval (the check that each notebook runs from top to
bottom) and then builds the book strictly. Without this plugin the build executes every
chapter a second time. With it, each notebook whose cells all passed under nbval is written,
with the outputs nbval collected, into the jupyter-cache that myst-nb reads
(``_build/.jupyter_cache``); the build then finds every chapter in the cache and executes
none. A notebook with a failing or skipped cell is not cached, so the build executes it
itself and reports the error there too.

nbval runs each notebook in a kernel started in the notebook's own folder, as the book build
does (``run_in_temp: false`` in ``_config.yml``), so the outputs are the ones the build would
have produced. Load it with ``-p nbval_cache`` and ``_ext`` on ``PYTHONPATH`` (the Makefile
does).

It also sets ``PYTENSOR_FLAGS`` for the kernels nbval starts, as ``_ext/quiet_kernels.py`` does
for the book build, so that a chapter importing PyMC before the package prints no BLAS warning.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

#: Where myst-nb keeps executed notebooks (jupyter-book's default, relative to the book root).
CACHE_DIR = Path("_build") / ".jupyter_cache"

_started: dict[str, float] = {}
_failed: set[str] = set()
_files: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Choose PyTensor's BLAS in the environment the kernels inherit (analysis.quiet)."""
    from analysis.quiet import configure_pytensor_blas

    configure_pytensor_blas()


def _is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Copy each executed cell's outputs into the notebook nbval read."""
    outcome = yield
    if not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    key = str(item.parent.fspath)
    _files[key] = item.parent
    _started.setdefault(key, time.perf_counter())
    if report.failed or report.skipped:
        _failed.add(key)
        return
    if call.when == "call":
        cell = item.cell
        cell.outputs = list(item.test_outputs or [])
        count = sum(1 for c in item.parent.nb.cells if c.get("execution_count")) + 1
        cell.execution_count = count
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = count


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Cache every notebook whose cells all passed."""
    if not _files:
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    root = Path(session.config.rootpath)
    cache = get_cache(str(root / CACHE_DIR))
    for key, nbfile in _files.items():
        if key in _failed:
            continue
        nb = nbfile.nb
        seconds = time.perf_counter() - _started[key]
        cache.cache_notebook_bundle(
            CacheBundleIn(nb, key, data={"execution_seconds": seconds}),
            check_validity=False,
            overwrite=True,
        )
