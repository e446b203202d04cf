"""JUnit XML for coherence tests: properties valid for the junit family, and run-level cases.

pytest's ``xunit1`` (and ``legacy``) family allows ``<properties>`` inside a ``<testcase>``;
its default ``xunit2`` follows the junit-10 schema, which allows them only on the
``<testsuite>``. So under ``xunit2`` each test's ``hotmess.*`` figures become suite properties
named ``<node id>::hotmess.<name>``. What fails the run without failing a test (a regression
against the baseline) becomes a failing test case ``hotmess::regressions`` that CI test
reporters count; budget stops, which do not change the exit status, a skipped case
``hotmess::budget``. Pure: records in, names and values out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..results.records import RunRecord, RunTotals, TestRecord
from .difficulty import difficulty_properties

__all__ = [
    "PER_CASE_FAMILIES",
    "RunCase",
    "bucket_properties",
    "family_note",
    "run_cases",
    "suite_properties",
    "testcase_properties",
]

PER_CASE_FAMILIES = frozenset({"xunit1", "legacy"})
"""The junit families whose schema allows properties inside a test case."""

_TOTALS = (
    "error",
    "bias",
    "variance",
    "incoherence",
    "incoherence_low",
    "incoherence_high",
    "interval_approximate",
)


def _text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def testcase_properties(record: TestRecord) -> list[tuple[str, str]]:
    """``hotmess.*`` properties of one test case, in a stable order."""
    totals = record.totals
    props = [
        ("hotmess.items", _text(totals.items)),
        ("hotmess.samples", _text(record.samples)),
        ("hotmess.loss", _text(record.loss)),
        ("hotmess.estimator", _text(record.estimator)),
    ]
    props += [(f"hotmess.{name}", _text(getattr(totals, name))) for name in _TOTALS]
    props.append(("hotmess.verdict", _text(record.verdict)))
    props += [(f"hotmess.{name}", _text(value)) for name, value in record.thresholds.items()]
    if record.confidence is not None:
        props.append(("hotmess.confidence", _text(record.confidence)))
    props += [(f"hotmess.note.{note.code}", note.message) for note in record.notes]
    props += [(f"hotmess.{name}_unclipped", _text(v)) for name, v in totals.clipped.items()]
    props += difficulty_properties(record.difficulty)
    if record.calls is not None and record.calls.retried:
        props.append(("hotmess.calls.retried", _text(record.calls.retried)))
    if record.stopped_by is not None:
        props.append(("hotmess.stopped_by", record.stopped_by))
    if record.verdict == "error":  # sampling failed: say why and what it cost
        calls = record.calls
        props.append(("hotmess.error", (record.message or "sampling failed").splitlines()[0]))
        props.append(("hotmess.calls", _text(calls.made if calls else None)))
        props.append(("hotmess.calls_failed", _text(calls.failed if calls else None)))
    return props


def suite_properties(
    totals: RunTotals, tests: Sequence[TestRecord] = (), *, per_case: bool = True
) -> list[tuple[str, str]]:
    """The run's pooled ``hotmess.*`` totals for the test suite element.

    Without ``per_case`` (the ``xunit2`` family), each test's properties follow, named
    ``<node id>::hotmess.<name>``, since its test case cannot carry them.
    """
    props = [("hotmess.tests", _text(totals.tests)), ("hotmess.items", _text(totals.items))]
    props += [(f"hotmess.{name}", _text(getattr(totals, name))) for name in _TOTALS]
    for verdict, count in sorted(totals.verdicts.items()):
        props.append((f"hotmess.verdict.{verdict}", str(count)))
    if not per_case:
        for record in tests:
            props += [(f"{record.nodeid}::{n}", v) for n, v in testcase_properties(record)]
    return props


def bucket_properties(run: RunRecord) -> list[tuple[str, str]]:
    """Suite properties of the difficulty buckets: each test's paired change per bucket and
    figure (``<node id>::hotmess.compare.<bucket>.<figure>``, with ``_low``/``_high``), the
    pooled ones (``hotmess.compare.<bucket>.<figure>``), and with ``--hotmess-models`` the
    model and difficulty table (``hotmess.model.<model>.<bucket>.<figure>``)."""
    props: list[tuple[str, str]] = []
    comparison = run.comparison
    if comparison is not None:
        scopes = [(f"{t.nodeid}::", t.buckets) for t in comparison.tests]
        for prefix, buckets in [*scopes, ("", comparison.total.buckets)]:
            for entry in buckets:
                name = f"{prefix}hotmess.compare.{entry.bucket}"
                props.append((f"{name}.items", _text(entry.items_paired)))
                for figure, change in entry.figures.items():
                    props.append((f"{name}.{figure}", _text(change.change)))
                    props.append((f"{name}.{figure}_low", _text(change.low)))
                    props.append((f"{name}.{figure}_high", _text(change.high)))
    for row in run.by_model or []:
        name = f"hotmess.model.{row.model}.{row.bucket or 'none'}"
        props.append((f"{name}.items", _text(row.totals.items)))
        props += [(f"{name}.{figure}", _text(getattr(row.totals, figure))) for figure in _TOTALS]
    return props


def family_note(family: str) -> str | None:
    """The terminal's note when the junit family cannot carry per-test properties."""
    if family in PER_CASE_FAMILIES:
        return None
    return (
        f"pytest-hotmess: junit_family={family} allows no properties inside a test case; "
        "each coherence test's hotmess.* figures are written as test suite properties named "
        "'<node id>::hotmess.<name>' (set junit_family=xunit1 to have them on each test case)"
    )


@dataclasses.dataclass(frozen=True)
class RunCase:
    """A test case that stands for the run itself: what CI reporters should count."""

    name: str
    """The case's name under class ``hotmess`` (node id ``hotmess::<name>``)."""
    outcome: str
    """``failed`` (counted as a failure) or ``skipped`` (counted, run stays green)."""
    message: str
    details: str


def run_cases(run: RunRecord) -> list[RunCase]:
    """``hotmess::regressions`` when a fail rule found regressions; ``hotmess::budget`` on stops."""
    cases = []
    if run.regressions:
        count = len(run.regressions)
        lines = [f"REGRESSION {r.message}" for r in run.regressions]
        where = run.comparison.baseline_path if run.comparison is not None else None
        head = f"{count} regression{'s' if count != 1 else ''} against the baseline"
        message = f"{head} {where}" if where else head
        cases.append(RunCase("regressions", "failed", message, "\n".join(lines)))
    stopped = [t for t in run.tests if t.stopped_by is not None]
    if stopped:
        count = len(stopped)
        lines = [f"{t.nodeid}: {t.stopped_by}" for t in stopped]
        message = (
            f"sampling stopped early by a budget in {count} test{'s' if count != 1 else ''}; "
            "decided with the samples drawn"
        )
        cases.append(RunCase("budget", "skipped", message, "\n".join(lines)))
    return cases
