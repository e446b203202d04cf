"""The run's kept columns (``results.kept``): what ``add`` keeps of a test's plain items."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_hotmess.results.kept import KeptItems
from pytest_hotmess.results.record import pooled_totals
from pytest_hotmess.results.records import ItemRecord, TestRecord
from pytest_hotmess.stats import pooled, skew
from pytest_hotmess.stats.columns import ItemColumns


def _plain(name: str, error: float | None, variance: float | None, **extra: object) -> dict:
    return ItemRecord(
        id=name,
        kind=None if variance is None else "categorical",
        loss=None if variance is None else "brier",
        estimator="unbiased",
        k=6,
        error=error,
        bias=None if error is None or variance is None else error - variance,
        variance=variance,
        **extra,  # type: ignore[arg-type]
    ).to_plain(samples=False)


def test_add_keeps_one_row_per_estimated_item_with_its_figures() -> None:
    kept = KeptItems()
    kept.add(
        "t::a",
        [
            _plain("1", 0.5, 0.2, weight=2.0, invalid=1, bucket="hard"),
            _plain("2", None, 0.3),  # variance only
            _plain("3", None, None, problem="not estimated"),  # no figures: no row
            _plain("4", 0.1, 0.0, bucket="easy"),
        ],
    )
    kept.add("t::b", [])
    assert kept.rows == {"t::a": (0, 3), "t::b": (3, 3)} and len(kept) == 3
    rows = kept.read(0, 3)
    assert rows["k"].tolist() == [6, 6, 6] and rows["invalid"].tolist() == [1, 0, 0]
    assert rows["weight"].tolist() == [2.0, 1.0, 1.0]
    assert rows["error"].tolist() == [0.5, 0.0, 0.1]
    assert rows["targeted"].tolist() == [True, False, True]
    assert rows["bias"].tolist() == [0.3, 0.0, 0.1] and rows["variance"].tolist() == [0.2, 0.3, 0.0]
    assert kept.losses == ["brier"] and rows["loss"].tolist() == [0, 0, 0]
    assert rows["bucket"].tolist() == [2, -1, 0]  # BUCKETS: easy, medium, hard
    record = TestRecord(nodeid="t::a")
    assert [bucket for bucket, _ in kept.bucketed(record)] == ["hard", None, "easy"]
    assert [row.error for _, row in kept.bucketed(record)] == [0.5, None, 0.1]


def test_pooled_totals_of_tests_without_estimated_items_are_empty() -> None:
    kept = KeptItems()
    kept.add("t::a", [_plain("1", None, None, problem="not estimated")])
    totals = kept.pooled_totals([TestRecord(nodeid="t::a"), TestRecord(nodeid="t::z")], 0.95)
    assert totals.items == 0 and totals.tests == 2 and totals.losses == []
    assert totals.error is None and totals.variance is None and totals.clipped == {}


def test_totals_read_back_in_small_passes_are_the_records_totals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many tests added in another order than the totals read them, one rerun, and passes far
    smaller than the run: the figures of ``record.pooled_totals`` over the full records."""
    monkeypatch.setattr(pooled, "LEAF", 256)
    monkeypatch.setattr(skew, "_CHUNK", 300)
    rng = np.random.default_rng(7)
    tests = []
    for t in range(60):
        items = []
        for i in range(int(rng.integers(0, 60))):
            error = float(rng.gamma(0.4, 0.5))
            variance = error * float(rng.beta(2.0, 3.0))
            items.append(
                ItemRecord(
                    id=str(i),
                    kind="categorical",
                    loss="brier",
                    estimator="unbiased",
                    k=int(rng.integers(4, 12)),
                    invalid=int(rng.integers(0, 2)),
                    error=error if i % 9 else None,
                    bias=(error - variance) * (-0.1 if i % 13 == 0 else 1.0) if i % 9 else None,
                    variance=variance,
                    weight=float(rng.choice([0.0, 1.0, 2.0])),
                )
            )
        tests.append(TestRecord(nodeid=f"t::test[{t}]", items=items))
    kept = KeptItems()
    for test in [*tests[30:], tests[5], *tests[:30]]:  # test 5 twice: the rerun counts once
        kept.add(test.nodeid, (item.to_plain(samples=False) for item in test.items))
    ordered = sorted(tests, key=lambda t: t.nodeid)
    assert len(kept) > pooled.LEAF * 4  # many passes, the tree several levels deep
    got, expected = kept.pooled_totals(ordered, 0.9), pooled_totals(ordered, confidence=0.9)
    assert got.incoherence_low is not None and got.clipped == {}
    assert got == expected
    columns = kept.columns(t.nodeid for t in ordered)
    estimates = [e for t in ordered for item in t.items if (e := item.estimate()) is not None]
    whole = ItemColumns.of(estimates)
    for name in ("k", "invalid", "weight", "error", "bias", "variance", "targeted"):
        assert getattr(columns, name).tolist() == getattr(whole, name).tolist(), name
