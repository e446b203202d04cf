"""Typed per-test analyses: incoherence against reasoning length, and ensemble projections.

They mirror what ``stats.length.length_analysis`` and ``stats.ensemble.ensemble_projection``
compute (field for field, in the same order) so the JSON report keeps its shape.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from .plain_record import PlainRecord, Shape

__all__ = [
    "Change",
    "EnsembleAnalysis",
    "EnsembleMethod",
    "EnsembleRow",
    "LengthAnalysis",
    "LengthBucket",
    "Overthinking",
    "RatioSummary",
    "SkippedItem",
    "SlopeEstimate",
]


@dataclasses.dataclass(frozen=True)
class Change(PlainRecord):
    """A paired change of a ratio of sums (``stats.compare.ratio_change``) with its interval."""

    current: float | None
    baseline: float | None
    change: float | None
    low: float | None
    high: float | None
    items: int = 0
    method: str = "delta"
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class SkippedItem(PlainRecord):
    """An item an analysis left out, and why."""

    id: str
    reason: str


@dataclasses.dataclass(frozen=True)
class RatioSummary(PlainRecord):
    """Weighted mean error and variance and the ratio-of-sums incoherence of a group of items."""

    items: int
    error: float | None
    variance: float | None
    incoherence: float | None
    low: float | None
    high: float | None


@dataclasses.dataclass(frozen=True)
class LengthBucket(PlainRecord):
    bucket: int
    length_min: float
    length_max: float
    length: float
    items: int
    error: float | None
    variance: float | None
    incoherence: float | None
    low: float | None
    high: float | None


@dataclasses.dataclass(frozen=True)
class SlopeEstimate(PlainRecord):
    """Incoherence per doubling of length, with its interval."""

    slope: float | None
    low: float | None
    high: float | None
    unit: str
    incoherence_at_centre: float | None
    centre_length: float | None
    items: int
    df: int
    note: str | None


@dataclasses.dataclass(frozen=True)
class Overthinking(PlainRecord):
    """Incoherence of each item's short half of samples against its long half."""

    NESTED: ClassVar[dict[str, tuple[Shape, Any]]] = {
        "items_skipped": ("list", SkippedItem),
        "short": ("one", RatioSummary),
        "long": ("one", RatioSummary),
        "change": ("one", Change),
    }

    items: int
    items_without_outcomes: list[str]
    items_skipped: list[SkippedItem]
    short: RatioSummary | None
    long: RatioSummary | None
    change: Change | None


@dataclasses.dataclass(frozen=True)
class LengthAnalysis(PlainRecord):
    NESTED: ClassVar[dict[str, tuple[Shape, Any]]] = {
        "buckets": ("list", LengthBucket),
        "slope": ("one", SlopeEstimate),
        "overthinking": ("one", Overthinking),
    }

    covariate: str | None
    confidence: float
    items: int
    items_used: int
    items_unestimated: list[str]
    items_without_target: list[str]
    items_without_length: list[str]
    buckets: list[LengthBucket]
    slope: SlopeEstimate | None
    overthinking: Overthinking | None
    note: str | None


@dataclasses.dataclass(frozen=True)
class EnsembleRow(PlainRecord):
    """Projected figures of an ensemble of m samples."""

    m: int
    error: float | None
    bias: float | None
    variance: float | None
    incoherence: float | None
    low: float | None
    high: float | None
    note: str | None


@dataclasses.dataclass(frozen=True)
class EnsembleMethod(PlainRecord):
    NESTED: ClassVar[dict[str, tuple[Shape, Any]]] = {
        "excluded": ("list", SkippedItem),
        "rows": ("list", EnsembleRow),
    }

    items: int
    excluded: list[SkippedItem]
    rows: list[EnsembleRow]


@dataclasses.dataclass(frozen=True)
class EnsembleAnalysis(PlainRecord):
    NESTED: ClassVar[dict[str, tuple[Shape, Any]]] = {
        "averaging": ("one", EnsembleMethod),
        "majority": ("one", EnsembleMethod),
    }

    ms: list[int]
    confidence: float
    items: int
    items_without_target: list[str]
    averaging: EnsembleMethod
    majority: EnsembleMethod
