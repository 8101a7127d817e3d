"""Silence the known-harmless start-up noise of PyTensor and PyMC, narrowly.

Importing this module (``analysis.bayes`` does it first) deals with exactly two messages,
each at its source, and leaves every other warning and log message alone:

1. **PyTensor's BLAS warning** ("PyTensor could not link to a BLAS installation"). PyTensor
   looks for a BLAS it can link its C code against and only recognises a few library layouts;
   on Debian's reference BLAS (``libblas3``, which R also uses) its search fails because there
   is no separate ``libcblas``, although the library itself links fine. So, unless the user
   has already chosen (``blas__ldflags`` in ``PYTENSOR_FLAGS`` or a ``.pytensorrc``), we ask
   the dynamic loader for the system BLAS (:func:`ctypes.util.find_library`) and hand PyTensor
   the exact file (``-l:libblas.so.3``), which needs no ``-dev`` package. If the machine has
   no BLAS at all we say so explicitly (empty ``blas__ldflags``): PyTensor then uses NumPy's
   C API for its few BLAS calls. That is an honest choice here, not a hidden degradation: the
   book's models do no matrix products, and nutpie compiles them with numba, which does not
   use PyTensor's C code at all. :data:`BLAS_LDFLAGS` records what was chosen.
   This must happen before PyTensor is first imported, since it reads its flags then.
2. **PyMC's INFO log lines** ("Auto-assigning NUTS sampler...", "Sampling 4 chains..."). PyMC
   attaches its own handler at INFO level; we raise the ``pymc`` logger to WARNING, so PyMC's
   real warnings still reach the reader.

The module is idempotent and cheap after the first import.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import sys
from pathlib import Path

__all__ = ["BLAS_LDFLAGS", "configure_pytensor_blas", "quiet_pymc_logs"]


def _user_chose_blas() -> bool:
    """Return whether the user already set ``blas__ldflags`` for PyTensor."""
    if "blas__ldflags" in os.environ.get("PYTENSOR_FLAGS", ""):
        return True
    rc_files = os.environ.get("PYTENSORRC", str(Path.home() / ".pytensorrc"))
    for name in rc_files.split(os.pathsep):
        try:
            text = Path(name).expanduser().read_text()
        except OSError:
            continue
        if "ldflags" in text:
            return True
    return False


def configure_pytensor_blas() -> str | None:
    """Point PyTensor at the system BLAS, or state that there is none, before it is imported.

    Returns
    -------
    str or None
        The ``blas__ldflags`` value set (``""`` when no BLAS was found), or ``None`` if
        nothing was set because the user already chose, or PyTensor was already imported
        (then its own configuration stands).
    """
    if "pytensor" in sys.modules or _user_chose_blas():
        return None
    lib = ctypes.util.find_library("blas") if sys.platform.startswith("linux") else None
    ldflags = f"-l:{lib}" if lib else ""
    existing = os.environ.get("PYTENSOR_FLAGS", "").strip().strip(",")
    setting = f"blas__ldflags={ldflags}"
    os.environ["PYTENSOR_FLAGS"] = f"{existing},{setting}" if existing else setting
    return ldflags


def quiet_pymc_logs() -> None:
    """Raise the ``pymc`` logger from INFO to WARNING (PyMC's warnings still show)."""
    import pymc  # noqa: F401  (PyMC sets its logger's level on import; we set it after)

    logging.getLogger("pymc").setLevel(logging.WARNING)


#: What :func:`configure_pytensor_blas` chose at import (see its return value).
BLAS_LDFLAGS: str | None = configure_pytensor_blas()
quiet_pymc_logs()

