"""JUnit XML properties for coherence tests and for the test suite (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["suite_properties", "testcase_properties"]

_TOTALS = ("error", "bias", "variance", "incoherence", "incoherence_low", "incoherence_high")


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def testcase_properties(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``hotmess.*`` properties of one test case, in a stable order."""
    totals = record["totals"]
    props = [
        ("hotmess.items", _text(totals.get("items"))),
        ("hotmess.samples", _text(record.get("samples"))),
        ("hotmess.loss", _text(record.get("loss"))),
        ("hotmess.estimator", _text(record.get("estimator"))),
    ]
    props += [(f"hotmess.{name}", _text(totals.get(name))) for name in _TOTALS]
    props.append(("hotmess.verdict", _text(record.get("verdict"))))
    props += [(f"hotmess.{name}", _text(value)) for name, value in record["thresholds"].items()]
    if record.get("confidence") is not None:
        props.append(("hotmess.confidence", _text(record["confidence"])))
    return props


def suite_properties(totals: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run's pooled ``hotmess.*`` totals for the test suite element."""
    props = [
        ("hotmess.tests", _text(totals.get("tests"))),
        ("hotmess.items", _text(totals.get("items"))),
    ]
    props += [(f"hotmess.{name}", _text(totals.get(name))) for name in _TOTALS]
    for verdict, count in sorted(totals.get("verdicts", {}).items()):
        props.append((f"hotmess.verdict.{verdict}", str(count)))
    return props
