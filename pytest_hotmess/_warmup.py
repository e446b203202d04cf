"""Import what judging needs on a background thread while a test's samples are in flight.

A coherence test that calls a real model spends most of its wall time waiting for answers,
and judging it afterwards needs numpy and ``scipy.special`` (Student t quantiles), whose
imports take about 0.3 s. Started when the ``resample`` fixture is set up, the imports run
while the main thread waits on the network, and judging finds them loaded.

Only third-party packages that never import pytest_hotmess are imported here, so this thread
and the main thread cannot wait on each other's import locks. A failed import is left to the
main thread, which then imports the module itself and reports the error with its traceback.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["MODULES", "start", "wait"]

MODULES = ("numpy", "scipy.special")

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> None:
    """Start importing :data:`MODULES` once per process, unless they are loaded already."""
    global _thread
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
