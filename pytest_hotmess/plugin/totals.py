"""The run's record at session end: every test's record pooled, the run described, compared.

One typed ``RunRecord`` is what every report reads (terminal, JUnit, JSON, baseline, HTML).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..config.marker import DEFAULT_CONFIDENCE
from ..config.settings import Settings

if TYPE_CHECKING:
    from ..results.comparison import Comparison, Regression
    from ..results.records import RunRecord, TestRecord

__all__ = ["run_record"]


def run_record(
    settings: Settings,
    tests: list[TestRecord],
    *,
    transport: str,
    baseline: tuple[Path, RunRecord] | None,
) -> RunRecord:
    """The run's totals, metadata and (with a baseline) its comparison and regressions."""
    from ..reports.json_report import created_now
    from ..results.record import pooled_totals
    from ..results.records import RunInfo, RunRecord

    confidence = settings.confidence or DEFAULT_CONFIDENCE
    comparison, found = _compare(settings, tests, baseline)
    info = RunInfo(
        plugin_version=__version__,
        transport=transport,
        model=settings.model or "sim",
        seed=settings.seed,
        record=settings.record,
        replay=settings.replay,
    )
    return RunRecord(
        plugin_version=__version__,
        created=created_now(),
        run=info,
        tests=tests,
        totals=pooled_totals(tests, confidence=confidence),
        comparison=comparison,
        regressions=found,
    )


def _compare(
    settings: Settings, tests: list[TestRecord], baseline: tuple[Path, RunRecord] | None
) -> tuple[Comparison | None, list[Regression] | None]:
    if baseline is None or not tests:
        return None, None
    from ..results.compare_runs import compare_runs, find_regressions
    from ..results.records import RunRecord
    from ..stats.compare import parse_fail_rules

    path, before = baseline
    comparison = compare_runs(
        RunRecord(tests=tests), before, seed=settings.seed, baseline_path=str(path)
    )
    rules = parse_fail_rules(list(settings.compare_fail))
    return comparison, find_regressions(comparison, rules)
