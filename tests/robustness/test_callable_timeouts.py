"""Callables cannot hang a run: ``call_timeout`` fails a slow call, one Ctrl-C stops a hung one.

The timeout scenarios run pytest through ``pytester`` and read the JSON report; the interrupt
scenarios run pytest in a subprocess and send it SIGINT while a sync model hangs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

# A model that hangs on sample 1 of every item (until the test process ends) and answers at
# once otherwise; ``amodel`` is its async twin. Hung threads must be abandoned, never joined.
_MODELS = """
import asyncio
import threading

import pytest
from pytest_hotmess.sampling.context import current_sample

FOREVER = threading.Event()


def model(*_):
    if current_sample.get() == 1:
        FOREVER.wait()
    return "a"


async def amodel(*_):
    if current_sample.get() == 1:
        await asyncio.sleep(3600)
    return "a"
"""


def _tests(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    report = json.loads((pytester.path / "out.json").read_text())
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


@pytest.fixture
def models(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hung_models=_MODELS)


@pytest.mark.parametrize("which", ["model", "amodel"], ids=["sync", "async"])
def test_a_call_over_the_marker_timeout_fails_the_test_naming_item_and_sample(
    pytester: pytest.Pytester, models: None, which: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        from hung_models import model, amodel

        @pytest.mark.coherence(call_timeout=0.3)
        def test_hangs(resample):
            resample({which}, item="q1", target="a", samples=3)
        """
    )
    started = time.monotonic()
    result = pytester.runpytest("--hotmess-json", "out.json", "--hotmess-concurrency", "1")
    assert time.monotonic() - started < 20
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*model call failed for item 'q1', sample 1: CallTimeoutError: no answer within "
            "call_timeout=0.3s*"
        ]
    )
    test = _tests(pytester)["test_hangs"]
    assert test["verdict"] == "error"
    assert (test["calls"]["made"], test["calls"]["failed"]) == (2, 1)


@pytest.mark.parametrize("which", ["model", "amodel"], ids=["sync", "async"])
def test_with_on_error_invalid_a_timed_out_call_is_an_invalid_outcome(
    pytester: pytest.Pytester, models: None, which: str
) -> None:
    pytester.makepyfile(
        f"""
        from hung_models import model, amodel

        def test_hangs(resample):
            items = resample.map({which}, ["x", "y"], targets=["a", "a"], samples=3,
                                 on_error="invalid")
            assert [item.invalid for item in items] == [1, 1]
            assert [item.k for item in items] == [3, 3]
        """
    )
    result = pytester.runpytest(
        "--hotmess-json", "out.json", "--hotmess-call-timeout", "0.3", "--hotmess-concurrency", "2"
    )
    result.assert_outcomes(passed=1)
    test = _tests(pytester)["test_hangs"]
    assert (test["calls"]["made"], test["calls"]["failed"]) == (6, 2)
    assert [item["invalid"] for item in test["items"]] == [1, 1]


def test_a_hung_sync_thread_is_abandoned_and_the_others_keep_going(
    pytester: pytest.Pytester, models: None
) -> None:
    """Concurrency 1: the hung thread is replaced, so the later samples are still drawn."""
    pytester.makepyfile(
        """
        from hung_models import model

        def test_hangs(resample):
            items = resample.map(model, range(4), samples=3, on_error="invalid")
            assert [item.invalid for item in items] == [1, 1, 1, 1]
        """
    )
    started = time.monotonic()
    result = pytester.runpytest("--hotmess-call-timeout", "0.2", "--hotmess-concurrency", "1")
    result.assert_outcomes(passed=1)
    assert time.monotonic() - started < 20  # four hung calls, each abandoned after 0.2 s


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("ini", "hotmess_call_timeout = 0.3"),
        ("yaml", "defaults:\n  call_timeout: 0.3\n"),
        ("yaml-rule", "thresholds:\n  - match: '*'\n    call_timeout: 0.3\n"),
    ],
)
def test_the_timeout_comes_from_ini_and_hotmess_yaml(
    pytester: pytest.Pytester, models: None, where: str, expected: str
) -> None:
    if where == "ini":
        pytester.makeini(f"[pytest]\n{expected}\n")
    else:
        (pytester.path / "hotmess.yaml").write_text(expected)
    pytester.makepyfile(
        """
        from hung_models import model

        def test_hangs(resample):
            resample(model, item="q1", target="a", samples=3)
        """
    )
    result = pytester.runpytest("--hotmess-concurrency", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*sample 1: CallTimeoutError: no answer within call_timeout=0.3s*"]
    )


def test_the_marker_beats_the_command_line_which_beats_the_file(
    pytester: pytest.Pytester, models: None
) -> None:
    (pytester.path / "hotmess.yaml").write_text("defaults:\n  call_timeout: 100\n")
    pytester.makepyfile(
        """
        import pytest
        from hung_models import model

        @pytest.mark.coherence(call_timeout=0.2)
        def test_marker(resample):
            resample(model, item="q1", target="a", samples=3)

        def test_cli(resample):
            resample(model, item="q2", target="a", samples=3)
        """
    )
    result = pytester.runpytest("--hotmess-call-timeout", "0.3", "--hotmess-concurrency", "1")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*'q1', sample 1*call_timeout=0.2s*"])
    result.stdout.fnmatch_lines(["*'q2', sample 1*call_timeout=0.3s*"])


@pytest.mark.parametrize(
    ("args", "marker", "problem"),
    [
        (["--hotmess-call-timeout", "soon"], "", "--hotmess-call-timeout: expected a number"),
        (["--hotmess-call-timeout", "-1"], "", "--hotmess-call-timeout: expected a number"),
        ([], "call_timeout=-1", "call_timeout must be a number of seconds > 0"),
    ],
)
def test_a_bad_timeout_is_a_usage_error_naming_its_source(
    pytester: pytest.Pytester, args: list[str], marker: str, problem: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.coherence({marker})
        def test_one(resample):
            resample(lambda: "a", target="a", samples=2)
        """
    )
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert problem in result.stderr.str() + result.stdout.str()


def test_a_bad_yaml_timeout_names_file_line_and_key(pytester: pytest.Pytester) -> None:
    (pytester.path / "hotmess.yaml").write_text("defaults:\n  call_timeout: 0\n")
    pytester.makepyfile("def test_one(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*hotmess.yaml:2*defaults.call_timeout*"])


# -- one Ctrl-C stops a hung sync model ------------------------------------------------------


_INTERRUPTED = """
import itertools
import pathlib
import threading

import pytest

HANG = threading.Event()
STARTED = itertools.count()


@pytest.mark.coherence(max_incoherence=0.9)
def test_a_first(resample):
    resample(lambda: "a", target="a", samples=3)


def test_b_hangs(resample):
    def model(_):
        pathlib.Path(f"started-{next(STARTED)}").touch()
        HANG.wait()  # never set: only an interrupt ends this run
        return "a"

    resample.map(model, range(3), samples=3)
"""

# Tells the test when the process that writes the reports (the xdist controller, or the only
# process) has taken in the first test: a file, so that nothing waits on time.
_REPORTED = """
import pathlib

import pytest

WRITES_REPORTS = True


def pytest_configure(config):
    global WRITES_REPORTS
    WRITES_REPORTS = not hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)  # after the plugin's own observer
def pytest_runtest_logreport(report):
    if WRITES_REPORTS and report.nodeid.endswith("::test_a_first") and report.when == "teardown":
        pathlib.Path("first-reported").touch()
"""

_CONCURRENCY = 2


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_one_ctrl_c_stops_a_run_whose_sync_model_hangs_and_writes_the_json(
    pytester: pytest.Pytester, xdist: bool, ctrl_c_reaches_children: None
) -> None:
    pytester.makepyfile(test_interrupted=_INTERRUPTED)
    pytester.makeconftest(_REPORTED)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--hotmess-json", "out.json"]
    args += ["--hotmess-concurrency", str(_CONCURRENCY)]
    if xdist:
        args += ["-n", "1"]
    process = subprocess.Popen(  # its own process group: Ctrl-C reaches xdist workers too
        args,
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # Wait for conditions, not for time: every sampling thread is in the hung call (the
        # pool is full, the test waits on it) and the first test's report has been taken in.
        # The deadline only bounds a run that never gets there.
        deadline = time.monotonic() + 180
        while not (
            len(list(pytester.path.glob("started-*"))) >= _CONCURRENCY
            and (pytester.path / "first-reported").exists()
        ):
            assert process.poll() is None and time.monotonic() < deadline, "never sampled"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)  # one Ctrl-C
        # The model never returns: a run held by its thread would never end, so ending at all
        # is what shows it was not held (how fast is the load's business, not asserted here).
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    text = output.decode(errors="replace")
    assert len(list(pytester.path.glob("started-*"))) == _CONCURRENCY, text  # still hung
    assert process.returncode == pytest.ExitCode.INTERRUPTED, text
    report = json.loads(Path(pytester.path, "out.json").read_text())
    first = next(t for t in report["tests"] if t["nodeid"].endswith("test_a_first"))
    assert (first["verdict"], first["calls"]["made"]) == ("no-errors", 3)
    assert report["exitstatus"] == pytest.ExitCode.INTERRUPTED
