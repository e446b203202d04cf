"""Every test that used the plugin appears in every report, with a verdict that agrees with pytest.

"Used the plugin": marked ``coherence``, or asking for ``resample`` or ``hotmess_model``. Each
scenario runs pytest through ``pytester`` as a user would (serially and under ``-n 2``) and reads
the JSON report, the JUnit XML (``xunit1``: per-case properties) and the terminal table.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

XDIST = pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])


def _run(pytester: pytest.Pytester, xdist: bool, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "-p",
        "no:randomly",
        "--hotmess-json",
        "out.json",
        "--hotmess-json-detail",  # the items' counts, which one test checks
        "samples",
        "--junitxml",
        "out.xml",
        "-o",
        "junit_family=xunit1",
        *(["-n", "2"] if xdist else []),
        *args,
    )


def _json_tests(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    report = json.loads((pytester.path / "out.json").read_text())
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


def _junit_cases(pytester: pytest.Pytester) -> dict[str, tuple[str, dict[str, str]]]:
    """Each test case by name: its pytest outcome as JUnit shows it, and its properties."""
    root = ET.parse(pytester.path / "out.xml").getroot()
    cases: dict[str, tuple[str, dict[str, str]]] = {}
    for case in root.iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome = next(
            (tag for tag in ("error", "failure", "skipped") if case.find(tag) is not None),
            "passed",
        )
        cases[f"{case.get('classname')}::{case.get('name')}"] = (outcome, props)
    return cases


def _case(pytester: pytest.Pytester, name: str) -> tuple[str, dict[str, str]]:
    return _junit_cases(pytester)[f"test_cases::{name}"]


def _table_verdict(result: pytest.RunResult, name: str) -> str:
    rows = [line for line in result.outlines if line.startswith(f"test_cases.py::{name} ")]
    assert len(rows) == 1, (name, result.stdout.str())
    return rows[0].split()[-1]


# -- a run budget spent before the test drew anything ---------------------------------------------

_AFTER_THE_BUDGET = """
import pytest

@pytest.mark.coherence(max_incoherence=0.9)
def test_a_spends(resample):
    resample.map(lambda q: "a", ["q1", "q2"], targets=["a", "a"], samples=2)

def test_b_unmarked(resample):
    resample.map(lambda q: "a", ["q1", "q2"], targets=["a", "a"], samples=2)

def test_c_unmarked_model(resample, hotmess_model):
    resample.map(hotmess_model, ["What is 2+2?"], samples=2)
"""


def test_an_unmarked_test_refused_by_a_spent_budget_is_in_every_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_cases=_AFTER_THE_BUDGET)
    result = _run(pytester, False, "--hotmess-max-run-calls", "4")
    result.assert_outcomes(passed=3)
    tests = _json_tests(pytester)
    assert set(tests) == {"test_a_spends", "test_b_unmarked", "test_c_unmarked_model"}
    assert (tests["test_a_spends"]["verdict"], tests["test_a_spends"]["calls"]["made"]) == (
        "no-errors",
        4,
    )
    for name in ("test_b_unmarked", "test_c_unmarked_model"):
        test = tests[name]
        assert (test["outcome"], test["verdict"], test["items"]) == ("passed", "ungated", []), name
        assert test["calls"]["made"] == 0
        assert test["stopped_by"] == "run call budget of 4 calls used up"
        assert test["message"].startswith(
            "no samples recorded: run call budget of 4 calls used up before it drew any"
        )
        outcome, props = _case(pytester, name)
        assert outcome == "passed"
        assert props["hotmess.verdict"] == "ungated"
        assert props["hotmess.stopped_by"] == "run call budget of 4 calls used up"
        assert _table_verdict(result, name) == "ungated"
        result.stdout.fnmatch_lines([f"stopped early test_cases.py::{name}: run call budget*"])
    budget_case = _junit_cases(pytester)["hotmess::budget"]
    assert budget_case[0] == "skipped"
    message = ET.parse(pytester.path / "out.xml").getroot().find(".//testcase[@name='budget']")
    assert message is not None
    skipped = message.find("skipped")
    assert skipped is not None
    assert "in 2 tests" in skipped.get("message", "")
    for name in ("test_b_unmarked", "test_c_unmarked_model"):
        assert f"test_cases.py::{name}: run call budget" in skipped.get("message", "")


_MANY_AFTER_THE_BUDGET = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_unmarked(resample, n):
    resample.map(lambda q: "a", ["q1", "q2"], targets=["a", "a"], samples=2)
"""


def test_under_xdist_every_test_a_workers_budget_share_refused_is_in_every_report(
    pytester: pytest.Pytester,
) -> None:
    # 2 calls for the run: one per worker, so whichever test runs first on a worker spends its
    # share and every later test there draws nothing (at least 6 - 2 of them)
    pytester.makepyfile(test_cases=_MANY_AFTER_THE_BUDGET)
    result = _run(pytester, True, "--hotmess-max-run-calls", "2")
    result.assert_outcomes(passed=6)
    tests = _json_tests(pytester)
    names = [f"test_unmarked[{n}]" for n in range(6)]
    assert set(tests) == set(names)
    cases = _junit_cases(pytester)
    empty = [name for name in names if not tests[name]["items"]]
    assert len(empty) >= 4, tests
    assert sum(tests[name]["calls"]["made"] for name in names) == 2
    for name in names:
        test = tests[name]
        assert (test["outcome"], test["verdict"]) == ("passed", "ungated"), name
        assert test["stopped_by"] is not None and "run call budget" in test["stopped_by"]
        outcome, props = cases[f"test_cases::{name}"]
        assert (outcome, props["hotmess.verdict"]) == ("passed", "ungated"), name
        assert "run call budget" in props["hotmess.stopped_by"]
        assert _table_verdict(result, name) == "ungated"
    for name in empty:
        assert tests[name]["message"].startswith("no samples recorded: run call budget")
    assert cases["hotmess::budget"][0] == "skipped"


# -- a test that asks for the fixture but never samples -------------------------------------------

_NEVER_SAMPLES = """
import pytest

def test_requests_resample(resample):
    pass

def test_requests_the_model(hotmess_model):
    assert callable(hotmess_model)

@pytest.mark.coherence(max_incoherence=0.9)
def test_marked_never_samples(resample):
    pass

def test_plain():
    pass
"""


@XDIST
def test_a_test_that_asks_for_resample_but_never_samples_is_in_every_report(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(test_cases=_NEVER_SAMPLES)
    result = _run(pytester, xdist)
    result.assert_outcomes(passed=3, failed=1)
    tests = _json_tests(pytester)
    assert set(tests) == {
        "test_requests_resample",
        "test_requests_the_model",
        "test_marked_never_samples",
    }
    expected = {
        "test_requests_resample": ("passed", "ungated", "no samples recorded: call the"),
        "test_requests_the_model": ("passed", "ungated", "no samples recorded: call the"),
        "test_marked_never_samples": (
            "failed",
            "fail",
            "coherence test recorded no samples: call the",
        ),
    }
    for name, (outcome, verdict, message) in expected.items():
        test = tests[name]
        assert (test["outcome"], test["verdict"], test["items"]) == (outcome, verdict, []), name
        assert test["message"].startswith(message), name
        junit_outcome, props = _case(pytester, name)
        assert junit_outcome == ("failure" if outcome == "failed" else "passed"), name
        assert props["hotmess.verdict"] == verdict
        assert _table_verdict(result, name) == verdict
    assert "hotmess.verdict" not in _case(pytester, "test_plain")[1]


# -- setup errors after the plugin's fixture was asked for ----------------------------------------

_SETUP_ERRORS = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("the database is down\\nsecond line")

@pytest.mark.coherence(max_incoherence=0.9)
def test_marked_after(resample, broken):
    pass

@pytest.mark.coherence(max_incoherence=0.9)
def test_marked_before(broken, resample):
    pass

def test_unmarked_after(resample, broken):
    pass

def test_unmarked_model_before(broken, hotmess_model):
    pass

def test_plain(broken):
    pass

def test_fine(resample):
    resample.record(["a", "a"], target="a")
"""


@XDIST
def test_a_setup_error_of_a_test_that_used_the_plugin_is_an_error_in_every_report(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(test_cases=_SETUP_ERRORS)
    result = _run(pytester, xdist)
    result.assert_outcomes(passed=1, errors=5)
    tests = _json_tests(pytester)
    errored = [
        "test_marked_after",
        "test_marked_before",
        "test_unmarked_after",
        "test_unmarked_model_before",
    ]
    assert set(tests) == {*errored, "test_fine"}  # test_plain never used the plugin
    for name in errored:
        test = tests[name]
        assert (test["outcome"], test["verdict"], test["items"]) == ("error", "error", []), name
        assert test["message"] == "setup failed: RuntimeError: the database is down"
        assert test["calls"]["made"] == 0
        junit_outcome, props = _case(pytester, name)
        assert junit_outcome == "error"
        assert props["hotmess.verdict"] == "error"
        assert props["hotmess.error"] == "setup failed: RuntimeError: the database is down"
        assert _table_verdict(result, name) == "error"
        result.stdout.fnmatch_lines([f"error test_cases.py::{name}: setup failed: RuntimeError*"])
    assert tests["test_marked_after"]["thresholds"] == {"max_incoherence": 0.9}
    assert (tests["test_fine"]["outcome"], tests["test_fine"]["verdict"]) == ("passed", "ungated")
    assert "hotmess.verdict" not in _case(pytester, "test_plain")[1]
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["totals"]["verdicts"] == {"error": 4, "ungated": 1}


# -- skip, xfail and failure inside the test ------------------------------------------------------

_INSIDE = """
import pytest

def test_skip_after(resample):
    resample.record(["a", "b"], target="a")
    pytest.skip("no more today")

@pytest.mark.coherence(max_incoherence=0.9)
def test_xfail_after(resample):
    resample.record(["a", "b"], target="a")
    pytest.xfail("known to wobble")

@pytest.mark.coherence(max_incoherence=0.9)
def test_fails_before(resample):
    assert False, "the test's own check"
    resample.record(["a", "b"], target="a")

def test_unmarked_fails_before(resample):
    raise ValueError("fixture data missing")

@pytest.mark.coherence(max_incoherence=0.9)
def test_skips_before(resample):
    pytest.skip("no key")
"""


@XDIST
def test_skip_xfail_and_failure_inside_the_test_keep_pytests_outcome_in_every_report(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(test_cases=_INSIDE)
    result = _run(pytester, xdist)
    result.assert_outcomes(skipped=2, xfailed=1, failed=2)
    tests = _json_tests(pytester)
    # skipped before it drew anything: it never used the plugin, pytest's skip is the story
    assert set(tests) == {
        "test_skip_after",
        "test_xfail_after",
        "test_fails_before",
        "test_unmarked_fails_before",
    }
    expected = {
        # name: JSON outcome, verdict, item count, JUnit outcome
        "test_skip_after": ("skipped", "ungated", 1, "skipped"),
        "test_xfail_after": ("xfailed", "fail", 1, "skipped"),
        "test_fails_before": ("failed", "fail", 0, "failure"),
        "test_unmarked_fails_before": ("failed", "ungated", 0, "failure"),
    }
    for name, (outcome, verdict, items, junit_outcome) in expected.items():
        test = tests[name]
        assert (test["outcome"], test["verdict"], len(test["items"])) == (
            outcome,
            verdict,
            items,
        ), name
        case_outcome, props = _case(pytester, name)
        assert (case_outcome, props["hotmess.verdict"]) == (junit_outcome, verdict), name
        assert _table_verdict(result, name) == verdict
    assert tests["test_skip_after"]["calls"]["made"] == 0  # recorded, not called
    assert tests["test_skip_after"]["items"][0]["counts"] == {"a": 1, "b": 1}
    assert tests["test_fails_before"]["message"] == (
        "coherence test recorded no samples: the test failed before it drew any"
    )
    assert tests["test_unmarked_fails_before"]["message"] == (
        "no samples recorded: the test failed before it drew any"
    )
    # the test's own failure is what pytest shows, not the coherence note
    result.stdout.fnmatch_lines(["*AssertionError: the test's own check*"])
