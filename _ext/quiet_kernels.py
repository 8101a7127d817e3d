"""Sphinx extension: the chapters' kernels inherit the book's choice of BLAS for PyTensor.

:mod:`analysis.quiet` points PyTensor at the system BLAS (so that it does not print
"could not link to a BLAS installation", with the build's paths) by setting ``PYTENSOR_FLAGS``
before PyTensor is imported. A chapter that imports PyMC, Bambi or ArviZ before the package
(third-party imports come first) would import PyTensor too early for that, so the same
setting is made here, in the build's own environment, which every kernel the build starts
inherits. ``_ext/nbval_cache.py`` does the same for ``make test``'s nbval run. A user's own
choice (``blas__ldflags`` in ``PYTENSOR_FLAGS`` or a ``.pytensorrc``) is left alone.
"""

from __future__ import annotations

from typing import Any


def configure_environment(*_: Any) -> None:
    """Set ``PYTENSOR_FLAGS`` in this process's environment (see the module docstring)."""
    from analysis.quiet import configure_pytensor_blas

    configure_pytensor_blas()  # idempotent: a second call sees the flag and leaves it


def setup(app: Any) -> dict[str, Any]:
    """Configure the environment as soon as the configuration is read."""
    app.connect("config-inited", configure_environment)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
