"""Intervals solved in batches of tests (issue #19): every report shows what judging one test
at a time shows.

The run leaves the incoherence intervals of tests that pass to be solved 64 tests at a time
(``results.settle``; under xdist on the controller, from what the workers send); the JUnit
families that carry per-case properties (``xunit1``) need them during the call, so there each
test is solved at once. The two runs of one suite must write the same figures, to the last
bit, also when the run is interrupted before its end.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

SUITE = """
import random
import pytest

COUNT = {count}

@pytest.mark.coherence(max_incoherence=0.97)
@pytest.mark.parametrize("index", range(COUNT))
def test_suite(resample, index):
    if index == {interrupt_at}:
        raise KeyboardInterrupt
    rng = random.Random(index)
    for item in range(6 + index % 20):
        k = rng.choice([4, 10])
        outcomes = rng.choices("ABCD", weights=[rng.randint(1, 9), 2, 1, 1], k=k)
        resample.record(outcomes, target="A", item=f"q{{item}}", difficulty=item % 7)

@pytest.mark.coherence(max_incoherence=0.01)
def test_fails(resample):
    for item in range(8):
        resample.record(random.Random(item).choices("ab", k=5), target="a", item=f"f{{item}}")
"""

_EAGER = ("--junitxml", "cases.xml", "-o", "junit_family=xunit1")
"""Per-case JUnit properties: intervals solved during each test's call."""


def _report(pytester: pytest.Pytester, *args: str, count: int = 70, interrupt_at: int = -1) -> Any:
    pytester.makepyfile(test_settle=SUITE.format(count=count, interrupt_at=interrupt_at))
    pytester.runpytest_subprocess("-p", "no:randomly", "--hotmess-json", "out.json", *args)
    return json.loads((pytester.path / "out.json").read_text())


def _bounds(report: Any) -> dict[str, Any]:
    """Each test's interval and its buckets' intervals, by node id."""
    out = {}
    for test in report["tests"]:
        buckets = (test.get("difficulty") or {}).get("buckets", [])
        out[test["nodeid"]] = (
            test["totals"]["incoherence_low"],
            test["totals"]["incoherence_high"],
            test["totals"]["interval_approximate"],
            [(b["incoherence_low"], b["incoherence_high"]) for b in buckets],
        )
    return out


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_batched_intervals_are_those_solved_one_test_at_a_time(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    batched = _report(pytester, *workers)  # under xdist the controller solves them
    eager = _report(pytester, *_EAGER)
    assert len(batched["tests"]) == 71  # more than one batch of 64, and the rest at the end
    found, expected = _bounds(batched), _bounds(eager)
    assert found == expected
    # every test has its interval (and most buckets theirs: one item has none)
    for low, high, approximate, _ in found.values():
        assert low is not None and high is not None and approximate is not None
    solved = [bucket for *_, buckets in found.values() for bucket in buckets]
    assert sum(low is not None for low, _ in solved) > 150
    failing = next(t for t in batched["tests"] if t["nodeid"].endswith("test_fails"))
    low, high = failing["totals"]["incoherence_low"], failing["totals"]["incoherence_high"]
    assert failing["verdict"] == "fail"
    assert f"[{low:.4g}, {high:.4g}]" in failing["message"]  # solved before the message


def test_an_interrupted_run_reports_its_waiting_tests_solved(pytester: pytest.Pytester) -> None:
    whole = _bounds(_report(pytester, count=70))
    cut = _report(pytester, count=70, interrupt_at=40)
    found = _bounds(cut)
    assert len(found) == 40  # tests 0-39 ran, none of them in a full batch yet
    assert found == {nodeid: whole[nodeid] for nodeid in found}
