"""JUnit XML properties for coherence tests and for the test suite (pure)."""

from __future__ import annotations

from ..results.records import RunTotals, TestRecord

__all__ = ["suite_properties", "testcase_properties"]

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
    if record.calls is not None and record.calls.retried:
        props.append(("hotmess.calls.retried", _text(record.calls.retried)))
    if record.verdict == "error":  # sampling failed: say why and what it cost
        calls = record.calls
        props.append(("hotmess.error", (record.message or "sampling failed").splitlines()[0]))
        props.append(("hotmess.calls", _text(calls.made if calls else None)))
        props.append(("hotmess.calls_failed", _text(calls.failed if calls else None)))
    return props


def suite_properties(totals: RunTotals) -> list[tuple[str, str]]:
    """The run's pooled ``hotmess.*`` totals for the test suite element."""
    props = [("hotmess.tests", _text(totals.tests)), ("hotmess.items", _text(totals.items))]
    props += [(f"hotmess.{name}", _text(getattr(totals, name))) for name in _TOTALS]
    for verdict, count in sorted(totals.verdicts.items()):
        props.append((f"hotmess.verdict.{verdict}", str(count)))
    return props
