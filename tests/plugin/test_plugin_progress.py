"""Live progress: redrawn in place on a terminal, silent in CI logs and with -q."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_hotmess.reports.progress import LiveProgress

SLOW_SUITE = """
import time

def model(prompt):
    time.sleep(0.02)
    return "a"

def test_sampling(resample):
    resample.map(model, range(10), targets=["a"] * 10, samples=5)
"""


def _run_on_a_terminal(path: Path, *args: str) -> str:
    """Run pytest with its stdout on a pseudo-terminal, as a developer's shell would."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "PYTEST_ADDOPTS": "-p no:cacheprovider"}
    with subprocess.Popen(
        [sys.executable, "-m", "pytest", "--hotmess-concurrency", "2", *args],
        cwd=path,
        stdout=secondary,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
        env=env,
    ) as process:
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(primary)
    return b"".join(chunks).decode(errors="replace")


def test_progress_is_drawn_in_place_on_a_terminal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLOW_SUITE)
    output = _run_on_a_terminal(pytester.path)
    assert "1 passed" in output
    assert "\rhotmess test_sampling: " in output
    assert "/50 calls" in output
    assert "\r\x1b[K" in output  # the line is erased when sampling ends


def test_progress_is_silent_with_quiet_on_a_terminal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLOW_SUITE)
    output = _run_on_a_terminal(pytester.path, "-q")
    assert "1 passed" in output
    assert "calls" not in output


def test_progress_is_silent_when_not_a_terminal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SLOW_SUITE)
    result = pytester.runpytest_subprocess("--hotmess-concurrency", "2")
    result.assert_outcomes(passed=1)
    assert "calls" not in result.stdout.str()


def test_live_progress_line_counts_rate_and_failures() -> None:
    written: list[str] = []
    now = [100.0]
    progress = LiveProgress("t", 40, written.append, interval_s=1.0, clock=lambda: now[0])
    for failed in (False, False, True, False):
        progress.advance(failed)
    now[0] = 102.0
    progress.refresh()
    assert written == ["\rhotmess t: 4/40 calls, 2.0/s, 1 failed\x1b[K"]
    now[0] = 102.5
    progress.refresh()  # throttled: within the interval nothing is redrawn
    assert len(written) == 1
    progress.close()
    assert written[-1] == "\r\x1b[K"
