"""Incoherence by item difficulty: difficulty buckets, per-bucket figures and their slope.

The paper finds that scale makes models more coherent on easy items but not on hard ones; a
test's aggregate hides that. Each item gets a difficulty (docs/statistics.md, 'Difficulty'):

- a **label** ``easy``, ``medium`` or ``hard`` (any case) is its own bucket; any other text is
  an error naming the item and the value;
- a **number** (a dataset's number, a user's ``difficulty=``, an item's reference error) is
  ranked among the test's numbers, ties sharing their average rank (``rankdata``'s
  ``average``); the item of rank r among n goes to bucket floor(3 (r - 1/2) / n), so buckets
  are tertiles, equal values always share a bucket, and sizes are symmetric (n = 4: 1, 2, 1).
  When every number is equal, every item is ``medium``.

A test mixing labels and numbers is an error (there is no rank between "hard" and 0.3).

Each bucket's figures are the test aggregate's (``aggregate.aggregate``, default interval)
over the bucket's items. The **slope** is the change of incoherence per bucket step
(easy = 0, medium = 1, hard = 2, the bucket's rank, not the raw numbers, so labels and
numbers read alike): I(x) = alpha + beta (x - x0) fitted over items by the estimating
equations sum_i w_i (v_i - I(x_i) e_i) (1, x_i) = 0, the same fit and HC1 sandwich t interval
(N - 2 degrees of freedom) as the length slope (``length.incoherence_slope``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import numpy as np

from .aggregate import aggregate
from .decompose import ItemEstimate
from .skew import t_quantile

__all__ = [
    "BUCKETS",
    "DIFFICULTY_SOURCES",
    "Bucket",
    "BucketFigures",
    "DifficultyError",
    "DifficultySlope",
    "DifficultySource",
    "assign_buckets",
    "bucket_figures",
    "check_difficulty",
    "difficulty_slope",
]

Bucket = Literal["easy", "medium", "hard"]
BUCKETS: Final[tuple[Bucket, Bucket, Bucket]] = ("easy", "medium", "hard")
"""The buckets, easiest first; a bucket's index is its rank in the slope."""

DifficultySource = Literal["dataset", "given", "reference", "run"]
DIFFICULTY_SOURCES: Final = ("dataset", "given", "reference", "run")
"""Where a test's difficulties came from, in the order they are tried: the dataset's
``metadata.difficulty``, the user's ``difficulty=``, the baseline's error, this run's error."""

SLOPE_UNIT: Final = "incoherence per bucket step (easy=0, medium=1, hard=2)"


class DifficultyError(ValueError):
    """A difficulty that cannot be bucketed: the message names the item and the value."""


@dataclasses.dataclass(frozen=True)
class BucketFigures:
    """One bucket's figures, as the test aggregate's over its items (None where undefined):
    error, bias and variance are weighted means; incoherence the ratio of sums, its interval
    from the aggregate's default method (clipped to [0, 1] for display). ``difficulty_min``
    and ``difficulty_max`` span the numbers that fell in the bucket (None for labels)."""

    bucket: str
    items: int
    targeted_items: int
    error: float | None
    bias: float | None
    variance: float | None
    incoherence: float | None
    incoherence_low: float | None
    incoherence_high: float | None
    interval_method: str | None
    interval_approximate: bool | None
    difficulty_min: float | None
    difficulty_max: float | None


@dataclasses.dataclass(frozen=True)
class DifficultySlope:
    """Incoherence per bucket step (easy=0, medium=1, hard=2) with its two-sided interval and
    standard error; None where undefined, and ``note`` says why."""

    slope: float | None
    low: float | None
    high: float | None
    se: float | None
    unit: str
    items: int
    df: int
    note: str | None


def check_difficulty(item: str, value: object) -> float | Bucket:
    """One item's difficulty, checked: a bucket for a label, a float for a number.

    Raises ``DifficultyError`` naming the item and the value for any other text, a bool, a
    non-finite number or anything else.
    """
    if isinstance(value, str):
        label = value.strip().lower()
        if label in BUCKETS:
            return label
        raise DifficultyError(
            f"item {item!r}: difficulty {value!r} is not a number or one of {', '.join(BUCKETS)}"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DifficultyError(
            f"item {item!r}: difficulty {value!r} is not a number or one of {', '.join(BUCKETS)}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise DifficultyError(f"item {item!r}: difficulty {value!r} is not a finite number")
    return number


def assign_buckets(difficulties: Mapping[str, object]) -> dict[str, Bucket]:
    """Each item's bucket from its difficulty (item id -> label or number).

    Labels are their own bucket; numbers go by tertiles of rank among the test's items, ties
    sharing their average rank (see the module docstring). Raises ``DifficultyError`` for a bad
    value or a mix of labels and numbers.
    """
    checked = {item: check_difficulty(item, value) for item, value in difficulties.items()}
    labels = [item for item, value in checked.items() if isinstance(value, str)]
    numbers_ = [item for item, value in checked.items() if not isinstance(value, str)]
    if labels and numbers_:
        raise DifficultyError(
            f"difficulties mix labels (item {labels[0]!r}: {difficulties[labels[0]]!r}) and "
            f"numbers (item {numbers_[0]!r}: {difficulties[numbers_[0]]!r}); use one or the other"
        )
    if labels:
        return {item: value for item, value in checked.items() if isinstance(value, str)}
    if not numbers_:
        return {}
    values = np.asarray([checked[item] for item in numbers_], dtype=np.float64)
    n = values.shape[0]
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.concatenate(([0], np.cumsum(counts)[:-1]))
    average_rank = below + (counts + 1) / 2.0  # 1-based average rank of each distinct value
    index = np.floor(3.0 * (average_rank[inverse] - 0.5) / n).astype(np.int64)
    index = np.clip(index, 0, 2)
    return {item: BUCKETS[int(i)] for item, i in zip(numbers_, index, strict=True)}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def bucket_figures(
    estimates: Sequence[ItemEstimate],
    buckets: Mapping[str, str],
    *,
    confidence: float,
    difficulties: Mapping[str, object] | None = None,
) -> list[BucketFigures]:
    """The figures of each bucket in ``BUCKETS`` order (an empty bucket has 0 items).

    Items without a bucket are left out. ``difficulties`` (item id -> value) give each
    bucket's range of numbers.
    """
    out = []
    for name in BUCKETS:
        part = [e for e in estimates if buckets.get(e.id) == name]
        spread = [
            float(v)
            for e in part
            if difficulties is not None
            and isinstance(v := difficulties.get(e.id), numbers.Real)
            and not isinstance(v, bool)
        ]
        if not part:
            out.append(
                BucketFigures(
                    name, 0, 0, None, None, None, None, None, None, None, None, None, None
                )
            )
            continue
        agg = aggregate(part, confidence=confidence)
        has_interval = agg.incoherence_low is not None
        out.append(
            BucketFigures(
                bucket=name,
                items=agg.items,
                targeted_items=agg.targeted_items,
                error=agg.error,
                bias=agg.bias,
                variance=agg.variance,
                incoherence=agg.incoherence,
                incoherence_low=agg.incoherence_low,
                incoherence_high=agg.incoherence_high,
                interval_method=agg.interval_method if has_interval else None,
                interval_approximate=agg.interval_approximate if has_interval else None,
                difficulty_min=min(spread) if spread else None,
                difficulty_max=max(spread) if spread else None,
            )
        )
    return out


def difficulty_slope(
    estimates: Sequence[ItemEstimate], buckets: Mapping[str, str], *, confidence: float
) -> DifficultySlope:
    """Incoherence per bucket step, fitted over the items with a target and a bucket.

    Undefined (None, with a note) with fewer than 3 such items, no error, or all error in one
    bucket.
    """
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    used = [e for e in estimates if e.has_target and e.weight > 0 and buckets.get(e.id) in BUCKETS]
    n = len(used)
    undefined = DifficultySlope(None, None, None, None, SLOPE_UNIT, n, max(n - 2, 0), None)
    v = np.asarray([e.variance for e in used], dtype=np.float64)
    e_ = np.asarray([e.error for e in used], dtype=np.float64)
    w = np.asarray([e.weight for e in used], dtype=np.float64)
    x = np.asarray([BUCKETS.index(buckets[e.id]) for e in used], dtype=np.float64)
    mass = w * e_
    total = float(np.sum(mass))
    if not total > 0:
        return dataclasses.replace(undefined, note="no error: incoherence is undefined")
    z = x - float(np.sum(mass * x)) / total
    spread = float(np.sum(mass * z * z))
    if n < 3 or not spread > 1e-12 * total:
        return dataclasses.replace(
            undefined, note="needs at least 3 items with error in two or more buckets"
        )
    alpha = float(np.sum(w * v)) / total
    beta = float(np.sum(w * v * z)) / spread
    residual = w * (v - (alpha + beta * z) * e_)
    se = math.sqrt(float(np.sum((residual * z) ** 2)) * n / (n - 2)) / spread
    q = t_quantile(n - 2, 0.5 + float(confidence) / 2.0)
    return dataclasses.replace(
        undefined,
        slope=_finite(beta),
        low=_finite(beta - q * se),
        high=_finite(beta + q * se),
        se=_finite(se),
    )
