"""Import what judging needs on a background thread while a test's samples are in flight.

A coherence test that calls a real model spends most of its wall time waiting for answers,
and judging it afterwards needs ``scipy.special`` (Student t quantiles), whose import takes
about 0.2 s. Started when the ``resample`` fixture is set up, that import runs while the main
thread waits on the network, and judging finds it loaded.

numpy itself is imported on the calling thread first. Python's import locks deadlock when one
thread imports a package while another starts from one of its submodules, and they then hand
one side a half-built module: model code doing ``from numpy.linalg import norm`` while this
thread is inside numpy's ``__init__`` would break numpy for the whole run. numpy, the package
scipy.special needs and model code commonly imports submodule-first, is therefore complete
before the thread starts; code importing a private submodule of scipy.special directly, at the
same moment, would still meet that deadlock. A failed import is left to the main thread, which
imports the module itself when it needs it and reports the error there.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["MODULES", "start", "wait"]

MODULES = ("scipy.special",)
"""Imported in the background; what they import must be loaded before (see the docstring)."""

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> None:
    """Load numpy here, then start importing :data:`MODULES` once per process."""
    global _thread
    importlib.import_module("numpy")  # on this thread: see the module docstring
    with _lock:
        if _thread is not None or all(name in sys.modules for name in MODULES):
            return
        _thread = threading.Thread(target=_import_all, name="hotmess-warmup", daemon=True)
        _thread.start()


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread's own import raises it where it matters
            return


def wait() -> None:
    """Let a running warm-up finish, so that no import outlives the pytest run."""
    thread = _thread
    if thread is not None:
        thread.join()
