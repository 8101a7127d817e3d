"""Silence the known-harmless noise of PyTensor, PyMC and Dask, narrowly, at its source.

This is the one place where build noise is dealt with. Importing this module (``analysis.book``
and ``analysis.bayes`` do it first) handles exactly these messages and leaves every other
warning and log message alone. It imports none of the libraries concerned, so it is cheap.

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
   This must happen before PyTensor is first imported, since it reads its flags then. A chapter
   that imports PyMC or Bambi before the package would be too late, so the book build
   (``_ext/quiet_kernels.py``) and nbval (``_ext/nbval_cache.py``) set the same flags in the
   environment the chapters' kernels inherit.
2. **PyMC's INFO log lines** ("Auto-assigning NUTS sampler...", "Sampling 4 chains...").
   PyMC attaches its own handler at INFO level when it is imported, unless the ``pymc`` logger
   already has one. If PyMC is imported already we raise its logger to WARNING; if not, we give
   the logger a handler at WARNING level first, which PyMC then keeps. Either way PyMC's real
   warnings still reach the reader.
3. **Dask's shuffle bookkeeping** ("Shuffle ... initialized by task ... executed on worker
   ...", "Shuffle ... deactivated due to stimulus ..."). ``distributed``'s shuffle scheduler
   plugin logs the start and end of every peer-to-peer shuffle at WARNING level, although
   nothing is wrong. A filter on that one logger drops these two messages; its real warnings
   (a shuffle restarted, a failed broadcast) still show.
4. **Dask's slow shutdown on a busy machine** ("Worker process still alive after 4.0 seconds,
   killing"). When a chapter closes its local cluster after its work is done, a worker that
   takes longer than the nanny's grace period to exit (a loaded 2-core build machine) is
   killed, and the nanny says so at WARNING level. Nothing is lost: the results are in. A
   filter on ``distributed.nanny`` drops this one message.

The module is idempotent and cheap after the first import.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import sys
from pathlib import Path

__all__ = [
    "BLAS_LDFLAGS",
    "ROUTINE_SHUFFLE_MESSAGES",
    "SLOW_SHUTDOWN_MESSAGE",
    "configure_pytensor_blas",
    "quiet_dask_shuffle_logs",
    "quiet_pymc_logs",
]


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
    """Keep PyMC's INFO lines out of the output (PyMC's warnings still show).

    If PyMC is imported, its logger is raised from INFO to WARNING. Otherwise the ``pymc``
    logger gets a standard-error handler at WARNING level now; PyMC's import then sets the
    logger to INFO but, finding a handler, adds none of its own, so INFO records reach only
    this handler, which drops them.
    """
    log = logging.getLogger("pymc")
    if "pymc" in sys.modules:
        log.setLevel(logging.WARNING)
        return
    if not any(getattr(h, "_analysis_quiet", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        handler._analysis_quiet = True  # type: ignore[attr-defined]
        log.addHandler(handler)


#: The routine messages of ``distributed``'s shuffle plugin (their format strings) that
#: :func:`quiet_dask_shuffle_logs` drops.
ROUTINE_SHUFFLE_MESSAGES = (
    "Shuffle %s initialized by task %r executed on worker %s",
    "Shuffle %s deactivated due to stimulus '%s'",
)


class _DropRoutineShuffleMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in ROUTINE_SHUFFLE_MESSAGES


#: The start of the nanny's message when it kills a worker slow to exit at shutdown.
SLOW_SHUTDOWN_MESSAGE = "Worker process still alive after "


class _DropSlowShutdownMessage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith(SLOW_SHUTDOWN_MESSAGE) and message.endswith("killing"))


def quiet_dask_shuffle_logs() -> None:
    """Drop Dask's routine shuffle and slow-shutdown messages (nothing else), idempotently."""
    for name, kind in (
        ("distributed.shuffle._scheduler_plugin", _DropRoutineShuffleMessages),
        ("distributed.nanny", _DropSlowShutdownMessage),
    ):
        log = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in log.filters):
            log.addFilter(kind())


#: What :func:`configure_pytensor_blas` chose at import (see its return value).
BLAS_LDFLAGS: str | None = configure_pytensor_blas()
quiet_pymc_logs()
quiet_dask_shuffle_logs()
