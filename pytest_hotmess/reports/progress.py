"""Sampling progress: a live line on a terminal, plain lines in logs, counts shared by workers.

On an interactive terminal one line is redrawn in place. Elsewhere (CI logs, ``-q``) a plain line
is printed at most every ``interval_s`` seconds, and none while sampling is shorter than a few
seconds. Under xdist each worker writes its counts to a small file that the controller reads and
sums (:class:`ProgressFile`, :func:`read_progress`, :func:`aggregate_line`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "QUIET_S",
    "LiveProgress",
    "PlainProgress",
    "ProgressFile",
    "Throttle",
    "WorkerProgress",
    "aggregate_line",
    "format_eta",
    "read_progress",
]

QUIET_S = 3.0
"""Sampling shorter than this prints no plain progress line (nor would a reader want one)."""


def format_eta(seconds: float) -> str:
    """``12s``, ``3m05s``, ``1h02m``: short enough for a log line."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _counts(done: int, planned: int, elapsed: float, failed: int) -> str:
    rate = done / max(elapsed, 1e-9)
    text = f"{done}/{planned} calls, {rate:.1f}/s"
    if done and planned > done:
        text += f", ETA {format_eta((planned - done) / rate)}"
    if failed:
        text += f", {failed} failed"
    return text


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
        elapsed = self._clock() - self._started
        return f"hotmess {self.label}: {_counts(self.done, self.planned, elapsed, self.failed)}"

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


class Throttle:
    """When the last plain line was printed, shared by every test of a run: lines stay at most
    ``interval_s`` apart however many tests sample."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.quiet_s = min(QUIET_S, interval_s)
        self.clock = clock
        self._last = float("-inf")
        self._lock = threading.Lock()

    def take(self, started: float) -> bool:
        """True (and the slot is taken) when a line begun at ``started`` may print now."""
        now = self.clock()
        with self._lock:
            if now - started < self.quiet_s or now - self._last < self.interval_s:
                return False
            self._last = now
            return True


class PlainProgress:
    """``hotmess TEST: done/planned calls, rate, ETA`` as plain lines, for logs and ``-q``."""

    def __init__(
        self, label: str, planned: int, write_line: Callable[[str], None], throttle: Throttle
    ) -> None:
        self.label = label
        self.planned = planned
        self.done = 0
        self.failed = 0
        self._write_line = write_line
        self._throttle = throttle
        self._started = throttle.clock()
        self._printed = False
        self._lock = threading.Lock()

    def advance(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += int(failed)

    def line(self) -> str:
        elapsed = self._throttle.clock() - self._started
        return f"hotmess {self.label}: {_counts(self.done, self.planned, elapsed, self.failed)}"

    def refresh(self) -> None:
        if self._throttle.take(self._started):
            self._printed = True
            self._write_line(self.line())

    def close(self) -> None:
        """A last line with the total time, only when the reader was told about this sampling."""
        if self._printed:
            elapsed = self._throttle.clock() - self._started
            calls = "call" if self.done == 1 else "calls"
            self._write_line(f"hotmess {self.label}: {self.done} {calls} in {elapsed:.1f}s")


@dataclasses.dataclass(frozen=True)
class WorkerProgress:
    """What one xdist worker is sampling now, as it wrote it to its progress file."""

    worker: str
    label: str
    done: int
    planned: int
    failed: int
    elapsed_s: float
    active: bool


class ProgressFile:
    """A worker's progress sink: its counts in ``folder/<worker>.json``, rewritten at most every
    ``every_s`` seconds (by rename, so the controller never reads half a file)."""

    def __init__(
        self,
        folder: Path,
        worker: str,
        label: str,
        planned: int,
        *,
        every_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = folder / f"{worker}.json"
        self._worker, self.label, self.planned = worker, label, planned
        self.done = 0
        self.failed = 0
        self._every = every_s
        self._clock = clock
        self._started = clock()
        self._last = float("-inf")
        self._lock = threading.Lock()

    def advance(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += int(failed)

    def _write(self, active: bool) -> None:
        state = WorkerProgress(
            self._worker,
            self.label,
            self.done,
            self.planned,
            self.failed,
            self._clock() - self._started,
            active,
        )
        temp = self._path.with_suffix(".tmp")
        try:
            temp.write_text(json.dumps(dataclasses.asdict(state)), encoding="utf-8")
            os.replace(temp, self._path)
        except OSError:
            pass  # progress is a courtesy: never fail sampling over it

    def refresh(self) -> None:
        now = self._clock()
        if now - self._last >= self._every:
            self._last = now
            self._write(active=True)

    def close(self) -> None:
        self._write(active=False)


def read_progress(folder: Path) -> list[WorkerProgress]:
    """Every worker's last written state; unreadable files are skipped (a worker is writing)."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(WorkerProgress(**json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return found


def aggregate_line(states: Sequence[WorkerProgress]) -> str | None:
    """One line over the workers sampling now: summed counts and rate, ETA of the slowest."""
    active = [s for s in states if s.active and s.planned]
    if not active:
        return None
    done = sum(s.done for s in active)
    planned = sum(s.planned for s in active)
    rate = sum(s.done / max(s.elapsed_s, 1e-9) for s in active)
    etas = [
        (s.planned - s.done) / (s.done / max(s.elapsed_s, 1e-9))
        for s in active
        if s.done and s.planned > s.done
    ]
    failed = sum(s.failed for s in active)
    text = f"hotmess: {done}/{planned} calls on {len(active)} worker"
    text += "s" if len(active) != 1 else ""
    text += f", {rate:.1f}/s"
    if etas:
        text += f", ETA {format_eta(max(etas))}"
    if failed:
        text += f", {failed} failed"
    names = ", ".join(f"{s.worker} {s.label} {s.done}/{s.planned}" for s in active)
    return f"{text} ({names})"
