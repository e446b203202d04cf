"""How a judged test's record reaches the run (issue #19): handed over as it is in a single
process, as plain data from an xdist worker; what the reports pytest keeps still hold after."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_hotmess.plugin.run import RUN_KEY
from pytest_hotmess.results.records import TestRecord

SUITE = """
import random
import pytest

@pytest.mark.coherence(max_incoherence=0.99, max_incoherence_slope=5.0, confidence=0.9)
def test_letters(resample):
    for i in range(12):
        rng = random.Random(i)
        outcomes = rng.choices("ABCD", weights=[6, 2, 1, 1], k=6)
        lengths = [{"output_tokens": rng.randint(20, 2000)} for _ in outcomes]
        resample.record(outcomes, target="A", item=f"q{i}", covariates=lengths)

@pytest.mark.coherence(max_variance=0.9)
def test_numbers(resample):
    for i in range(6):
        rng = random.Random(100 + i)
        resample.record([rng.gauss(0, 1) for _ in range(5)], item=f"n{i}")

@pytest.mark.coherence(max_incoherence=0.01)
def test_fails_its_gate(resample):
    for i in range(8):
        rng = random.Random(200 + i)
        resample.record(rng.choices("ab", k=4), target="a", item=f"f{i}", difficulty=i % 3)

@pytest.mark.coherence(max_incoherence=0.5)
def test_draws_nothing(resample):
    pass

def test_plain():
    pass
"""

_SUMMARY = {"nodeid", "verdict", "message"}


def _call_reports(recorder: pytest.HookRecorder) -> list[pytest.TestReport]:
    return [r for r in recorder.getreports("pytest_runtest_logreport") if r.when == "call"]


@pytest.mark.parametrize("args", [(), ("--hotmess-details", "--hotmess-html", "page.html")])
def test_a_handed_over_record_is_what_the_plain_round_trip_gives(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    """In one process the run keeps the record it was handed; it must equal the record an
    xdist controller rebuilds from the plain payload (so every report agrees)."""
    pytester.makepyfile(test_suite=SUITE)
    recorder = pytester.inline_run("-p", "no:randomly", "--hotmess-json", "out.json", *args)
    run = recorder.getcalls("pytest_sessionfinish")[0].session.config.stash[RUN_KEY]
    assert len(run.records) == 4
    shown = bool(args)
    for record in run.records.values():
        # the plain form the record travels in under xdist (items left out, as the run does)
        plain = dataclasses.replace(record, outcome=None).to_plain()
        rebuilt = TestRecord.from_plain(plain).with_outcome(record.outcome)
        assert rebuilt == record
        assert record.items == []
        assert (record.length is not None) == (shown and record.nodeid.endswith("letters"))
        if not shown:  # the buckets are in the spool; no report at the end shows them
            assert record.difficulty is None
    if shown:
        gate = next(r for r in run.records.values() if r.nodeid.endswith("gate"))
        assert gate.difficulty is not None and gate.difficulty.difficulty_source == "given"
    assert run._handed == {}  # nothing handed over is left behind


@pytest.mark.parametrize("xdist", [False, True])
def test_the_reports_pytest_keeps_hold_the_summary_only(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    args = ["-n", "2"] if xdist else ["-p", "no:xdist"]
    recorder = pytester.inline_run("-p", "no:randomly", "--hotmess-json", "out.json", *args)
    reports = [r for r in _call_reports(recorder) if hasattr(r, "hotmess")]
    assert len(reports) == 4
    for report in reports:
        assert set(report.hotmess) == _SUMMARY and report.hotmess["nodeid"] == report.nodeid
        assert not hasattr(report, "hotmess_covariates")
    verdicts = {r.nodeid.split("::")[1]: r.hotmess["verdict"] for r in reports}
    assert verdicts["test_fails_its_gate"] == "fail" and verdicts["test_letters"] == "pass"


@pytest.mark.parametrize(
    ("args", "carried"),
    [
        ((), False),  # no JUnit XML: nothing reads them
        (("--junitxml", "j.xml"), False),  # xunit2: they go to the suite
        (("--junitxml", "j.xml", "-o", "junit_family=xunit1"), True),
    ],
)
def test_tests_carry_hotmess_properties_only_into_a_junit_xml_that_has_them(
    pytester: pytest.Pytester, args: tuple[str, ...], carried: bool
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    recorder = pytester.inline_run("-p", "no:randomly", "-p", "no:xdist", *args)
    for report in recorder.getreports("pytest_runtest_logreport"):
        names = [str(name) for name, _ in report.user_properties]
        ours = [name for name in names if name.startswith("hotmess.")]
        gated = report.nodeid.endswith(("letters", "numbers", "gate", "nothing"))
        assert bool(ours) == (carried and gated and report.when != "setup"), report.nodeid
        if ours:
            assert "hotmess.verdict" in ours and len(ours) == len(set(ours))
