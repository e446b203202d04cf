"""numpy and scipy.special, imported on a thread while the first samples are drawn.

Every sampled test needs numpy for its estimates and ``scipy.special`` for its interval as soon
as drawing ends. Imported there, they add about half a second to the run's critical path; the
model calls before it mostly wait on the network, and an import made meanwhile costs them
little. The thread starts once per process, only if something is left to import; an import that
fails is left to the code that needs the module, which reports it as before.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["MODULES", "preload_numbers"]

MODULES = ("numpy", "scipy.special")
"""Imported in this order (scipy.special imports numpy)."""

_started = threading.Event()
_lock = threading.Lock()


def preload_numbers() -> threading.Thread | None:
    """Start importing :data:`MODULES` on a daemon thread (the first time only); the thread."""
    with _lock:
        if _started.is_set():
            return None
        _started.set()
    if all(name in sys.modules for name in MODULES):
        return None
    thread = threading.Thread(target=_import_all, name="pytest-hotmess-preload", daemon=True)
    thread.start()
    return thread


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the code that needs it imports it again and reports the error
            return
