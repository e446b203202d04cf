"""Live sampling progress on an interactive terminal, updated in place (silent elsewhere)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["LiveProgress"]


class LiveProgress:
    """``calls done/planned, rate, failures`` on one line, redrawn at most every ``interval_s``.

    ``write`` must draw on the real terminal (capture suspended); ``advance`` may be called from
    any thread, ``refresh`` only from the thread that owns the terminal.
    """

    def __init__(
        self,
        label: str,
        planned: int,
        write: Callable[[str], None],
        *,
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.planned = planned
        self.done = 0
        self.failed = 0
        self._write = write
        self._interval = interval_s
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._lock = threading.Lock()
        self._drawn = False

    def advance(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += int(failed)

    def line(self) -> str:
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = self.done / elapsed
        text = f"hotmess {self.label}: {self.done}/{self.planned} calls, {rate:.1f}/s"
        if self.failed:
            text += f", {self.failed} failed"
        return text

    def refresh(self) -> None:
        now = self._clock()
        if now - self._last_draw < self._interval:
            return
        self._last_draw = now
        self._drawn = True
        self._write("\r" + self.line() + "\x1b[K")

    def close(self) -> None:
        """Erase the line so the normal pytest output continues cleanly."""
        if self._drawn:
            self._write("\r\x1b[K")
