"""Live progress: redrawn in place on a terminal, silent in CI logs and with -q."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_hotmess.reports.progress import (
    LiveProgress,
    PlainProgress,
    ProgressFile,
    Throttle,
    aggregate_line,
    read_progress,
)

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
    assert written == ["\rhotmess t: 4/40 calls, 2.0/s, ETA 18s, 1 failed\x1b[K"]
    now[0] = 102.5
    progress.refresh()  # throttled: within the interval nothing is redrawn
    assert len(written) == 1
    progress.close()
    assert written[-1] == "\r\x1b[K"


LONG_SUITE = """
import time

def model(prompt):
    time.sleep(0.05)
    return "a"

def test_sampling(resample):
    resample.map(model, range(20), targets=["a"] * 20, samples=5)
"""
"""100 calls of 50 ms, two at a time: about 2.5 s of sampling."""

PLAIN_LINE = r"hotmess test_sampling: \d+/100 calls, [\d.]+/s, ETA \d+s"


def test_plain_progress_lines_in_a_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LONG_SUITE)
    result = pytester.runpytest_subprocess(
        "--hotmess-concurrency", "2", "--hotmess-progress-interval", "0.5"
    )
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert re.search(PLAIN_LINE, output), output
    assert re.search(r"hotmess test_sampling: 100 calls in [\d.]+s", output)
    assert "\r" not in output and "\x1b[K" not in output  # nothing drawn in place


def test_plain_progress_lines_at_most_every_interval(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LONG_SUITE)
    result = pytester.runpytest_subprocess(
        "--hotmess-concurrency", "2", "--hotmess-progress-interval", "30"
    )
    result.assert_outcomes(passed=1)
    # about 2.5 s of sampling (more on a busy machine), nothing in its first 3 s, then at most
    # one line per 30 s: never more than one progress line
    assert len(re.findall(PLAIN_LINE, result.stdout.str())) <= 1


def test_plain_progress_lines_with_quiet_on_a_terminal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LONG_SUITE)
    output = _run_on_a_terminal(pytester.path, "-q", "--hotmess-progress-interval", "0.5")
    assert "1 passed" in output
    assert re.search(PLAIN_LINE, output), output
    assert "\x1b[K" not in output


def test_xdist_controller_prints_progress_summed_over_workers(pytester: pytest.Pytester) -> None:
    # two tests of about 4 s each, one per worker: they overlap for most of their sampling
    suite = LONG_SUITE.replace("time.sleep(0.05)", "time.sleep(0.08)")
    pytester.makepyfile(suite + "\n\ndef test_other(resample):\n    test_sampling(resample)\n")
    result = pytester.runpytest_subprocess(
        "-n", "2", "--hotmess-concurrency", "2", "--hotmess-progress-interval", "0.5"
    )
    result.assert_outcomes(passed=2)
    output = result.stdout.str()
    found = re.findall(r"hotmess: (\d+)/(\d+) calls on (\d) workers?, [\d.]+/s, ETA \d+s", output)
    assert found, output
    assert any(workers == "2" and planned == "200" for _, planned, workers in found), found
    assert "(gw0 test_" in output and ", gw1 test_" in output


def test_plain_progress_waits_a_few_seconds_then_keeps_its_interval() -> None:
    now = [0.0]
    throttle = Throttle(10.0, clock=lambda: now[0])
    lines: list[str] = []
    progress = PlainProgress("t", 100, lines.append, throttle)
    for _ in range(20):
        progress.advance(False)
    now[0] = 2.0
    progress.refresh()
    assert lines == []  # under QUIET_S: nothing
    now[0] = 4.0
    progress.refresh()
    assert lines == ["hotmess t: 20/100 calls, 5.0/s, ETA 16s"]
    now[0] = 13.0
    progress.refresh()
    assert len(lines) == 1  # within 10 s of the last line
    now[0] = 14.0
    progress.refresh()
    assert len(lines) == 2
    progress.close()
    assert lines[-1] == "hotmess t: 20 calls in 14.0s"


def test_live_line_has_an_eta() -> None:
    now = [0.0]
    written: list[str] = []
    progress = LiveProgress("t", 100, written.append, interval_s=0.0, clock=lambda: now[0])
    for _ in range(25):
        progress.advance(False)
    now[0] = 5.0
    progress.refresh()
    assert written == ["\rhotmess t: 25/100 calls, 5.0/s, ETA 15s\x1b[K"]


def test_worker_files_are_summed_with_the_slowest_eta(tmp_path: Path) -> None:
    now = [0.0]
    fast = ProgressFile(tmp_path, "gw0", "test_a", 100, every_s=0.0, clock=lambda: now[0])
    slow = ProgressFile(tmp_path, "gw1", "test_b", 100, every_s=0.0, clock=lambda: now[0])
    for _ in range(50):
        fast.advance(False)
    for _ in range(10):
        slow.advance(True)
    now[0] = 10.0
    fast.refresh()
    slow.refresh()
    line = aggregate_line(read_progress(tmp_path))
    assert line == (
        "hotmess: 60/200 calls on 2 workers, 6.0/s, ETA 1m30s, 10 failed "
        "(gw0 test_a 50/100, gw1 test_b 10/100)"
    )
    fast.close()
    slow.close()
    assert aggregate_line(read_progress(tmp_path)) is None
