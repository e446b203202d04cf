"""Sampling progress in every kind of run: a live line, plain log lines, xdist workers summed.

* An interactive terminal without ``-q``: one line redrawn in place (``LiveProgress``).
* Not a terminal (CI logs) or ``-q``: a plain line at most every ``--hotmess-progress-interval``
  seconds, none while sampling is shorter than a few seconds (``PlainProgress``).
* Under xdist: workers' output never reaches the user, and xdist only relays whole test reports.
  So each worker writes its counts to a small file in a folder the controller made and named
  in ``workerinput``; a daemon thread on the controller reads the folder about once a second
  and prints one summed line on the same schedule. Files, not a message channel: nothing to
  add to xdist's protocol, and a worker that dies leaves at worst a stale file.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..reports.progress import (
    LiveProgress,
    PlainProgress,
    ProgressFile,
    Throttle,
    aggregate_line,
    read_progress,
)

if TYPE_CHECKING:
    from ..sampling.draw import ProgressSink  # draw imports asyncio: not at plugin load

__all__ = ["PROGRESS_DIR_KEY", "RunProgress"]

PROGRESS_DIR_KEY = "hotmess_progress_dir"
"""The ``workerinput`` key naming the folder a worker writes its progress file to."""


class RunProgress:
    """One run's progress output: which sink each test samples into, and the xdist poller."""

    def __init__(self, config: pytest.Config, interval_s: float, *, is_worker: bool) -> None:
        self.config = config
        self.is_worker = is_worker
        self.throttle = Throttle(interval_s)
        self._folder: Path | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _write(self, text: str, *, in_place: bool) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            return
        show: Callable[[str], Any] = (
            (lambda t: terminal.write(t, flush=True)) if in_place else terminal.write_line
        )
        if capture is not None:
            with capture.global_and_fixture_disabled():
                show(text)
        else:
            show(text)

    def sink_factory(self, name: str) -> Callable[[int], ProgressSink] | None:
        """How a test's sampling reports progress here; None when nobody would see it."""
        if self.is_worker:
            workerinput: dict[str, Any] = getattr(self.config, "workerinput", {})
            folder, worker = workerinput.get(PROGRESS_DIR_KEY), workerinput.get("workerid", "gw")
            if not folder:
                return None
            return lambda planned: ProgressFile(Path(folder), str(worker), name, planned)
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            return None
        if getattr(terminal, "isatty", False) and self.config.get_verbosity() >= 0:
            return lambda planned: LiveProgress(
                name, planned, lambda t: self._write(t, in_place=True)
            )
        return lambda planned: PlainProgress(
            name, planned, lambda t: self._write(t, in_place=False), self.throttle
        )

    # -- the xdist controller ---------------------------------------------------------------

    def configure_node(self, workerinput: dict[str, Any]) -> None:
        """Give a starting worker the progress folder; start reading it (controller only)."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="hotmess-progress-"))
            self._thread = threading.Thread(target=self._poll, name="hotmess-progress", daemon=True)
            self._thread.start()
        workerinput[PROGRESS_DIR_KEY] = str(self._folder)

    def _poll(self) -> None:
        assert self._folder is not None
        period = min(1.0, self.throttle.interval_s / 2)
        while not self._stop.wait(period):
            states = [s for s in read_progress(self._folder) if s.active]
            if not states:
                continue
            started = self.throttle.clock() - max(s.elapsed_s for s in states)
            line = aggregate_line(states)
            if line is not None and self.throttle.take(started):
                self._write(line, in_place=False)

    def stop(self) -> None:
        """Stop reading and remove the folder (controller; idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
