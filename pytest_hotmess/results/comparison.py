"""Typed baseline comparison: per-test and pooled paired changes, and the regressions found."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from ..stats.compare import Change
from .plain_record import PlainRecord

__all__ = [
    "BucketChange",
    "Comparison",
    "Regression",
    "TestComparison",
    "TotalComparison",
    "VerdictPair",
]


@dataclasses.dataclass(frozen=True)
class VerdictPair(PlainRecord):
    current: str | None
    baseline: str | None


@dataclasses.dataclass(frozen=True)
class BucketChange(PlainRecord):
    """The paired changes over one difficulty bucket's items (the current run's bucket of
    each item, the baseline's where the current item has none)."""

    bucket: str
    items_paired: int = 0
    figures: dict[str, Change] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TestComparison(PlainRecord):
    """One test present in both runs: item pairing and the change of each figure."""

    __test__: ClassVar[bool] = False

    nodeid: str
    verdict: VerdictPair = dataclasses.field(default_factory=lambda: VerdictPair(None, None))
    items_current: int = 0
    items_baseline: int = 0
    items_paired: int = 0
    items_only_current: list[str] = dataclasses.field(default_factory=list)
    items_only_baseline: list[str] = dataclasses.field(default_factory=list)
    items_unestimated: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    figures: dict[str, Change] = dataclasses.field(default_factory=dict)
    buckets: list[BucketChange] = dataclasses.field(default_factory=list)
    """Per difficulty bucket (easy, medium, hard; only those with paired items)."""

    def bucket(self, name: str) -> BucketChange | None:
        return next((b for b in self.buckets if b.bucket == name), None)


@dataclasses.dataclass(frozen=True)
class TotalComparison(PlainRecord):
    items_paired: int = 0
    figures: dict[str, Change] = dataclasses.field(default_factory=dict)
    buckets: list[BucketChange] = dataclasses.field(default_factory=list)
    """Per difficulty bucket, every test's paired items pooled."""


@dataclasses.dataclass(frozen=True)
class Comparison(PlainRecord):
    """This run against a baseline (current - baseline), test by test and pooled."""

    OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"baseline_path"})

    confidence: float
    method: str = "delta"
    tests: list[TestComparison] = dataclasses.field(default_factory=list)
    tests_only_current: list[str] = dataclasses.field(default_factory=list)
    tests_only_baseline: list[str] = dataclasses.field(default_factory=list)
    total: TotalComparison = dataclasses.field(default_factory=TotalComparison)
    baseline_path: str | None = None


@dataclasses.dataclass(frozen=True)
class Regression(PlainRecord):
    """A fail rule violated: the lower bound of a figure's increase exceeds the tolerance."""

    OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"bucket"})

    nodeid: str
    figure: str
    tolerance: float
    change: float
    low: float
    high: float
    current: float | None
    baseline: float | None
    message: str
    bucket: str | None = None
    """The difficulty bucket of a ``FIGURE@BUCKET:TOL`` rule (None: all paired items)."""
