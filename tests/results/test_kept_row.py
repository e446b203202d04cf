"""A run without a report that shows items keeps their figures without item records (#19).

``kept_row`` must give exactly what ``item_record(result).kept_plain()`` gives, for every
outcome kind, invalid and ``None`` outcomes, weights and items without a target (an item
without an estimate is not kept); and a run that keeps its items that way must pool the same
totals, and keep the same records, as one that writes the JSON report.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_hotmess.results.record import item_record, kept_row
from pytest_hotmess.sampling.resampler import ItemResult, Resampler
from pytest_hotmess.sampling.resampler import TestState as State
from pytest_hotmess.stats.kinds import INVALID


def _items() -> list[ItemResult]:
    state = State(nodeid="t", samples=4, concurrency=1)
    record = Resampler(state).record
    record(["A", "B", "A", None, INVALID], item="labels", target="A", weight=2.5)
    record(["A", "A", "A"], item="same", target="A")
    record(["x", "y"], item="no-target")
    record([0.5, 1.5, 2.0, 0.25], item="numeric", target=1.0, kind="numeric")
    record([True, False, True], item="binary", target=True, kind="binary")
    record([[0.1, 0.9], [0.3, 0.7]], item="vector", target=[0.0, 1.0], kind="vector")
    record([None, None, INVALID], item="all-invalid", target="A")
    state.estimates()
    return list(state.items)


def test_kept_row_is_what_the_item_record_keeps() -> None:
    items = _items()
    assert sum(1 for i in items if i.invalid) >= 2
    for result in items:
        assert result.estimate is not None
        assert kept_row(result) == item_record(result).kept_plain(), result.id
    unestimated = ItemResult("failed", "A", ("A",), ({},), None, problem="a call failed")
    assert kept_row(unestimated) is None  # not kept, as the run leaves it out of its columns


SUITE = """
import pytest

@pytest.mark.coherence(max_incoherence=0.99)
@pytest.mark.parametrize("index", range(5))
def test_suite(resample, index):
    for item in range(7 + index):
        k = 3 + (index + item) % 5
        answers = ["A" if (index * item + s) % 3 else "BCD"[(item + s) % 3] for s in range(k)]
        if item % 4 == 0:
            answers[0] = None  # an invalid outcome
        resample.record(answers, item=f"q{item}", target="A", weight=1 + item % 3)
    resample.record(["x", "y", "x"], item="no-target")
"""


def test_a_run_without_reports_pools_what_a_json_run_pools(pytester: pytest.Pytester) -> None:
    from pytest_hotmess.plugin.run import RUN_KEY

    pytester.makepyfile(test_lean_suite=SUITE)

    def run(*extra: str) -> Any:
        recorder = pytester.inline_run("-p", "no:randomly", *extra)
        recorder.assertoutcome(passed=5)
        return recorder.getcalls("pytest_sessionfinish")[0].session.config.stash[RUN_KEY]

    lean, full = run(), run("--hotmess-json", "out.json")  # the JSON report needs the items
    assert not lean.item_records and full.item_records
    # plain forms: each inline run imports the records' classes anew
    totals = lean.result.totals.to_plain()
    assert totals == full.result.totals.to_plain()
    assert totals["error"] is not None and totals["invalid"] > 0 and totals["items"] == 50
    assert [t.to_plain() for t in lean.tests()] == [t.to_plain() for t in full.tests()]
