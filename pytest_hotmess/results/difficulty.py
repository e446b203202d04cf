"""One test's figures by item difficulty: pick the difficulty source, bucket, and record.

Sources are tried in order (docs/statistics.md, 'Difficulty'): the dataset's
``metadata.difficulty``, the user's ``difficulty=``, the item's error in the baseline of
``--hotmess-compare`` (matched by node id and item id), and the item's own error in this run.
The first that covers every item with a target is the test's one source. The record is built
where the test ran (an xdist worker reads the baseline too), so every report, JUnit
properties included, shows the same figures under ``-n 2`` as under ``-n 0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..stats.difficulty import (
    DIFFICULTY_SOURCES,
    BucketFigures,
    DifficultyColumns,
    assign_buckets,
    figures_of,
    slope_of,
)
from .records import BucketRecord, DifficultyRecord, ItemRecord, TestRecord
from .settle import PendingBound

__all__ = ["RUN_SOURCE_NOTE", "difficulty_deferred", "difficulty_for", "reference_errors"]

RUN_SOURCE_NOTE = (
    "difficulty is each item's own error in this run, which couples difficulty with the "
    "measured error; give metadata.difficulty, difficulty= or --hotmess-compare for a better one"
)


def _covered(items: Sequence[ItemRecord]) -> list[str]:
    """The items a source must cover: those with an estimate and a target."""
    return [item.id for item in items if item.variance is not None and item.error is not None]


def difficulty_for(
    items: Sequence[ItemRecord],
    sources: Mapping[str, Mapping[str, float | str]],
    *,
    confidence: float,
) -> tuple[DifficultyRecord | None, list[ItemRecord]]:
    """The test's difficulty record and its items with ``difficulty`` and ``bucket`` set.

    ``sources`` maps ``dataset``, ``given`` and ``reference`` to item id -> difficulty; the
    run's own errors are the last resort. None (items unchanged) when no item has a target.
    """
    record, marked, _ = difficulty_deferred(items, sources, confidence=confidence, defer=False)
    return record, marked


def difficulty_deferred(
    items: Sequence[ItemRecord],
    sources: Mapping[str, Mapping[str, float | str]],
    *,
    confidence: float,
    defer: bool,
) -> tuple[DifficultyRecord | None, list[ItemRecord], list[PendingBound]]:
    """``difficulty_for``, and with ``defer`` the buckets' intervals left pending
    (``results.settle``): their bounds are None in the record until they are settled."""
    needed = _covered(items)
    if not needed:
        return None, list(items), []
    ids = {item.id for item in items}
    run = {item.id: float(item.error) for item in items if item.error is not None}
    for source in DIFFICULTY_SOURCES:
        values = run if source == "run" else sources.get(source) or {}
        if all(item in values for item in needed):
            chosen = {k: v for k, v in values.items() if k in ids}
            return _record(items, source, chosen, confidence, defer)
    raise AssertionError("the run's own errors cover every item with a target")


def _record(
    items: Sequence[ItemRecord],
    source: str,
    values: Mapping[str, float | str],
    confidence: float,
    defer: bool,
) -> tuple[DifficultyRecord, list[ItemRecord], list[PendingBound]]:
    buckets = assign_buckets(values)
    columns = DifficultyColumns.of(items, buckets, values)  # the estimated items' figures
    labelled = any(isinstance(v, str) for v in values.values())
    figures = figures_of(columns, confidence=confidence, defer_interval=defer)
    record = DifficultyRecord(
        difficulty_source=source,
        scale="label" if labelled else "tertile",
        confidence=confidence,
        buckets=[BucketRecord(**_shown(f)) for f in figures],
        slope=slope_of(columns, confidence=confidence),
        note=RUN_SOURCE_NOTE if source == "run" else None,
    )
    pending = [
        PendingBound(index, f.pending) for index, f in enumerate(figures) if f.pending is not None
    ]
    marked = [_marked(item, values.get(item.id), buckets.get(item.id)) for item in items]
    return record, marked, pending


def _shown(figures: BucketFigures) -> dict[str, Any]:
    """A bucket's figures as its record has them (the pending interval is the run's)."""
    fields = dict(vars(figures))
    del fields["pending"]
    return fields


def _marked(item: ItemRecord, difficulty: float | str | None, bucket: str | None) -> ItemRecord:
    """The item with its difficulty and bucket: a copy of its fields (a frozen dataclass
    keeps them in ``__dict__``, as ``copy.copy`` copies them) with those two set, without
    ``dataclasses.replace``'s walk over the fields and ``__init__``, which cost more than the
    rest of a test's buckets."""
    if item.difficulty == difficulty and item.bucket == bucket:
        return item
    marked: ItemRecord = object.__new__(ItemRecord)
    fields = marked.__dict__
    fields.update(item.__dict__)
    fields["difficulty"] = difficulty
    fields["bucket"] = bucket
    return marked


def reference_errors(baseline: TestRecord | None) -> dict[str, float]:
    """Item id -> error of the baseline's items with an error (a reference difficulty)."""
    if baseline is None:
        return {}
    return {item.id: float(item.error) for item in baseline.items if item.error is not None}
