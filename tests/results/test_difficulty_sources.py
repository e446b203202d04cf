"""Which difficulty a test's items get: the sources in order, the first covering every item with
a target, and the record built from it."""

from __future__ import annotations

import pytest

from pytest_hotmess.results.difficulty import RUN_SOURCE_NOTE, difficulty_for, reference_errors
from pytest_hotmess.results.records import ItemRecord, TestRecord


def _item(item_id: str, error: float | None, variance: float) -> ItemRecord:
    bias = None if error is None else error - variance
    return ItemRecord(
        id=item_id, kind="categorical", loss="brier", estimator="unbiased", k=4, weight=1.0,
        error=error, bias=bias, variance=variance, target=None if error is None else "A",
    )  # fmt: skip


ITEMS = [_item("a", 0.5, 0.5), _item("b", 1.0, 0.25), _item("c", 2.0, 0.0)]
LABELS = {"a": "easy", "b": "medium", "c": "hard"}
NUMBERS = {"a": 3.0, "b": 1.0, "c": 2.0}
REFERENCE = {"a": 1.5, "b": 0.1, "c": 0.7}


def _source(sources: dict[str, dict[str, float | str]]) -> tuple[str, dict[str, str | None]]:
    record, items = difficulty_for(ITEMS, sources, confidence=0.95)
    assert record is not None
    return record.difficulty_source, {item.id: item.bucket for item in items}


def test_the_dataset_comes_first() -> None:
    sources = {"dataset": LABELS, "given": NUMBERS, "reference": REFERENCE}
    assert _source(sources) == ("dataset", LABELS)


def test_a_dataset_that_misses_an_item_gives_way_to_the_given_values() -> None:
    partial = {"a": "hard", "b": "hard"}
    # given numbers 3, 1, 2: ranks 3, 1, 2 -> hard, easy, medium
    assert _source({"dataset": partial, "given": NUMBERS, "reference": REFERENCE}) == (
        "given",
        {"a": "hard", "b": "easy", "c": "medium"},
    )


def test_then_the_baselines_errors_then_the_runs_own() -> None:
    # reference errors 1.5, 0.1, 0.7 -> hard, easy, medium
    got = _source({"given": {"a": 1.0}, "reference": REFERENCE})
    assert got == ("reference", {"a": "hard", "b": "easy", "c": "medium"})
    record, items = difficulty_for(ITEMS, {"reference": {"a": 1.0}}, confidence=0.95)
    assert record is not None and record.difficulty_source == "run"
    assert record.note == RUN_SOURCE_NOTE
    # the run's errors 0.5, 1, 2 -> easy, medium, hard; each item keeps its difficulty
    assert [(i.difficulty, i.bucket) for i in items] == [
        (0.5, "easy"), (1.0, "medium"), (2.0, "hard"),
    ]  # fmt: skip


def test_only_items_with_a_target_must_be_covered() -> None:
    items = [*ITEMS, _item("v", None, 0.3)]  # variance-only: not in incoherence
    record, marked = difficulty_for(items, {"dataset": LABELS}, confidence=0.95)
    assert record is not None and record.difficulty_source == "dataset"
    assert marked[-1].bucket is None and marked[-1].difficulty is None
    assert [b.items for b in record.buckets] == [1, 1, 1]


def test_no_item_with_a_target_no_record() -> None:
    items = [_item("v", None, 0.3)]
    assert difficulty_for(items, {"dataset": {"v": "easy"}}, confidence=0.95) == (None, items)


def test_the_record_carries_the_scale_the_buckets_and_the_slope() -> None:
    record, _ = difficulty_for(ITEMS, {"dataset": LABELS}, confidence=0.9)
    assert record is not None
    assert (record.scale, record.confidence) == ("label", 0.9)
    assert [b.bucket for b in record.buckets] == ["easy", "medium", "hard"]
    assert [b.incoherence for b in record.buckets] == pytest.approx([1.0, 0.25, 0.0])
    assert record.slope is not None and record.slope.slope is not None
    numbers, _ = difficulty_for(ITEMS, {"given": NUMBERS}, confidence=0.9)
    assert numbers is not None and numbers.scale == "tertile"
    assert [(b.difficulty_min, b.difficulty_max) for b in numbers.buckets] == [
        (1.0, 1.0), (2.0, 2.0), (3.0, 3.0),
    ]  # fmt: skip


def test_the_record_survives_its_plain_form() -> None:
    record, items = difficulty_for(ITEMS, {"given": NUMBERS}, confidence=0.95)
    test = TestRecord(nodeid="t", items=items, difficulty=record)
    plain = test.to_plain()
    assert plain["items"][0]["difficulty"] == 3.0 and plain["items"][0]["bucket"] == "hard"
    assert "bucket" not in TestRecord(nodeid="t", items=ITEMS).to_plain()["items"][0]
    assert TestRecord.from_plain(plain) == test


def test_reference_errors_are_the_baseline_items_with_an_error() -> None:
    baseline = TestRecord(nodeid="t", items=[*ITEMS, _item("v", None, 0.2)])
    assert reference_errors(baseline) == {"a": 0.5, "b": 1.0, "c": 2.0}
    assert reference_errors(None) == {}
