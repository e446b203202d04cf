"""The run's results: one record per coherence test, gathered from (possibly remote) reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

__all__ = ["HotmessSession"]


def _final_outcome(previous: str | None, report: pytest.TestReport) -> str:
    """The test's outcome as a user reads it: passed, failed, skipped, xfailed, xpassed, error."""
    if report.when in ("setup", "teardown") and report.failed:
        return "error"
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        return report.outcome
    if report.when == "setup" and report.skipped:
        return "skipped"
    return previous or report.outcome


@dataclasses.dataclass
class HotmessSession:
    """Owns the run's per-test records; reports are built from it at the end."""

    confidence: float = 0.95
    records: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    outcomes: dict[str, str] = dataclasses.field(default_factory=dict)

    def observe(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "hotmess", None)
        if isinstance(payload, Mapping):
            self.records[report.nodeid] = dict(payload)
        if report.nodeid in self.records or payload is not None:
            self.outcomes[report.nodeid] = _final_outcome(self.outcomes.get(report.nodeid), report)

    def tests(self) -> list[dict[str, Any]]:
        """Records in a stable order (by node id), each with its final outcome."""
        return [
            {**self.records[nodeid], "outcome": self.outcomes.get(nodeid)}
            for nodeid in sorted(self.records)
        ]

    def totals(self) -> dict[str, Any]:
        from ..results.record import pooled_totals  # numpy: only once there is something to total

        return pooled_totals(self.tests(), confidence=self.confidence)
