"""Bounds a test's record leaves to solve, and records settled in batches.

A test whose interval bounds nothing decides at once (its gate passes; no JUnit property shows
them during the call) is judged with its intervals pending (``stats.pending``): the run
collects such records and ``settle`` solves the intervals of many tests in one search before
any report reads them. The bounds are bitwise those judging the tests one by one would give.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from ..stats.pending import PendingInterval, solve_intervals
from .records import TestRecord

__all__ = ["PendingBound", "settle", "settle_plain"]


@dataclasses.dataclass(frozen=True)
class PendingBound:
    """An interval of a test's record still to solve: its totals' (``bucket`` None) or its
    difficulty bucket ``bucket``'s (an index into ``record.difficulty.buckets``)."""

    bucket: int | None
    interval: PendingInterval

    def to_plain(self) -> dict[str, Any]:
        return {"bucket": self.bucket, **self.interval.to_plain()}

    @staticmethod
    def from_plain(data: Mapping[str, Any]) -> PendingBound:
        bucket = data.get("bucket")
        return PendingBound(
            None if bucket is None else int(bucket), PendingInterval.from_plain(data)
        )


def _clipped(bounds: tuple[float, float]) -> tuple[float, float]:
    """The bounds as the records show them: clipped to [0, 1], as ``stats.aggregate`` does."""
    low, high = bounds
    return min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)


def _solved(
    batch: Sequence[tuple[Any, Sequence[PendingBound]]],
) -> list[list[tuple[PendingBound, tuple[float, float]]]]:
    """Every pending bound of the batch solved in one call (clipped), grouped back by test."""
    flat = [bound.interval for _, bounds in batch for bound in bounds]
    solved = iter(solve_intervals(flat))
    return [[(bound, _clipped(next(solved))) for bound in bounds] for _, bounds in batch]


def settle(batch: Sequence[tuple[TestRecord, Sequence[PendingBound]]]) -> list[TestRecord]:
    """The records with their pending bounds filled in, in order."""
    out = []
    for (record, _), filled in zip(batch, _solved(batch), strict=True):
        for bound, (low, high) in filled:
            if bound.bucket is None:
                totals = dataclasses.replace(
                    record.totals, incoherence_low=low, incoherence_high=high
                )
                record = dataclasses.replace(record, totals=totals)
                continue
            difficulty = record.difficulty
            assert difficulty is not None, "a bucket's bound needs the test's difficulty record"
            buckets = list(difficulty.buckets)
            buckets[bound.bucket] = dataclasses.replace(
                buckets[bound.bucket], incoherence_low=low, incoherence_high=high
            )
            record = dataclasses.replace(
                record, difficulty=dataclasses.replace(difficulty, buckets=buckets)
            )
        out.append(record)
    return out


def settle_plain(batch: Sequence[tuple[MutableMapping[str, Any], Sequence[PendingBound]]]) -> None:
    """Fill in the pending bounds of records in their plain form (from xdist workers), in place."""
    for (plain, _), filled in zip(batch, _solved(batch), strict=True):
        for bound, (low, high) in filled:
            where = (
                plain["totals"]
                if bound.bucket is None
                else plain["difficulty"]["buckets"][bound.bucket]
            )
            where["incoherence_low"], where["incoherence_high"] = low, high
