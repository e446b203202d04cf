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
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from .aggregate import DEFAULT_INTERVAL, ratio_delta_interval
from .decompose import ItemEstimate
from .pending import PendingInterval
from .skew import is_approximate, ratio_hall_interval, t_quantile

__all__ = [
    "BUCKETS",
    "DIFFICULTY_SOURCES",
    "Bucket",
    "BucketFigures",
    "DifficultyColumns",
    "DifficultyError",
    "DifficultySlope",
    "DifficultySource",
    "assign_buckets",
    "bucket_figures",
    "check_difficulty",
    "difficulty_slope",
    "figures_of",
    "slope_of",
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
    pending: PendingInterval | None = None
    """The interval left to solve (``figures_of(defer_interval=True)``); bounds None till then."""


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
    plain = [value for value in difficulties.values() if type(value) is float]
    if len(plain) == len(difficulties) and all(map(math.isfinite, plain)):  # measured errors
        index = _tertiles(plain)
        return {item: BUCKETS[i] for item, i in zip(difficulties, index, strict=True)}
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
    index = _tertiles([float(checked[item]) for item in numbers_])
    return {item: BUCKETS[i] for item, i in zip(numbers_, index, strict=True)}


def _tertiles(values: Sequence[float]) -> list[int]:
    """Each number's bucket index: floor(3 (r - 1/2) / n) of its average rank r among n.

    Plain Python on a test's few numbers (a stable sort, then one pass over runs of equal
    numbers): the same float operations numpy's version made, without its per-call cost.
    """
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)
    index = [0] * n
    start = 0
    while start < n:
        end = start + 1
        first = values[order[start]]
        while end < n and values[order[end]] == first:
            end += 1
        average_rank = start + (end - start + 1) / 2.0  # 1-based average rank of the run
        bucket = min(max(math.floor(3.0 * (average_rank - 0.5) / n), 0), 2)
        for position in range(start, end):
            index[order[position]] = bucket
        start = end
    return index


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class _Estimated(Protocol):
    """What the figures read of an item: an ``ItemEstimate`` or an estimated item record."""

    @property
    def id(self) -> str: ...
    @property
    def error(self) -> float | None: ...
    @property
    def bias(self) -> float | None: ...
    @property
    def variance(self) -> float | None: ...
    @property
    def weight(self) -> float | None: ...


@dataclasses.dataclass(frozen=True)
class DifficultyColumns:
    """A test's estimated items as arrays, in their order: what the figures and the slope read.

    ``bucket`` is the index in ``BUCKETS`` (-1: no bucket); ``error`` and ``bias`` are NaN
    where ``targeted`` is False; ``difficulty`` is the item's number (NaN for a label or none).
    """

    bucket: NDArray[np.int64]
    targeted: NDArray[np.bool_]
    error: NDArray[np.float64]
    bias: NDArray[np.float64]
    variance: NDArray[np.float64]
    weight: NDArray[np.float64]
    difficulty: NDArray[np.float64]

    @classmethod
    def of(
        cls,
        items: Iterable[_Estimated],
        buckets: Mapping[str, str],
        difficulties: Mapping[str, object] | None = None,
    ) -> DifficultyColumns:
        """The columns of ``items`` with a variance (estimated); a missing weight is 1."""
        rank: dict[str, int] = {name: index for index, name in enumerate(BUCKETS)}
        given = difficulties or {}
        rows = [
            (
                rank.get(buckets.get(i.id, ""), -1),
                i.error,
                i.bias,
                i.variance,
                1.0 if i.weight is None else i.weight,
                number if type(number := given.get(i.id)) is float else _number(number),
            )
            for i in items
            if i.variance is not None
        ]
        error = np.asarray([r[1] if r[1] is not None else math.nan for r in rows], np.float64)
        return cls(
            bucket=np.asarray([r[0] for r in rows], dtype=np.int64),
            targeted=np.asarray([r[1] is not None for r in rows], dtype=np.bool_),
            error=error,
            bias=np.asarray([math.nan if r[2] is None else r[2] for r in rows], np.float64),
            variance=np.asarray([r[3] for r in rows], dtype=np.float64),
            weight=np.asarray([r[4] for r in rows], dtype=np.float64),
            difficulty=np.asarray([r[5] for r in rows], dtype=np.float64),
        )


def _number(value: object) -> float:
    """A difficulty's number, NaN for a label or none (a bucket's range spans numbers only)."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _weighted_mean(values: NDArray[np.float64], weights: NDArray[np.float64]) -> float | None:
    total = float(np.add.reduce(weights))
    return float(np.add.reduce(weights * values)) / total if total > 0 else None


def _clip(value: float | None, low: float, high: float = math.inf) -> float | None:
    return None if value is None else min(max(value, low), high)


def _intervals(
    groups: Sequence[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]],
    confidence: float,
) -> list[tuple[float, float] | None]:
    """The aggregate's default interval (Hall, else delta) of each bucket's (v, e, w): the one
    place the buckets meet ``stats.skew``, so that one batched call could take all three."""
    out = []
    for v, e, w in groups:
        bounds = ratio_hall_interval(v, e, w, confidence)
        out.append(bounds if bounds is not None else ratio_delta_interval(v, e, w, confidence))
    return out


@dataclasses.dataclass(frozen=True)
class _Part:
    """One bucket's figures but its interval, and the (v, e, w) the interval is taken over."""

    items: int
    targeted_items: int
    error: float | None
    bias: float | None
    variance: float | None
    incoherence: float | None
    ratio: float | None
    """Unclipped incoherence (whether the interval is approximate)."""
    difficulty_min: float | None
    difficulty_max: float | None
    interval_data: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None


def _part(c: DifficultyColumns, index: int) -> _Part | None:
    """``aggregate.aggregate``'s figures over the items of bucket ``index`` (None: empty).

    Each sum is numpy's over the bucket's items (``np.add.reduce``, what ``np.sum`` calls),
    taken once where two figures share it: the same bits as one ``np.sum`` per figure.
    """
    add = np.add.reduce
    inside = c.bucket == index
    count = int(np.count_nonzero(inside))
    if not count:
        return None
    targeted = inside & c.targeted
    n_targeted = int(np.count_nonzero(targeted))
    spread = c.difficulty[inside]
    spread = spread[~np.isnan(spread)]
    error = bias = incoherence = ratio = None
    data = None
    mass_v = total = None
    if n_targeted:
        w, e, v = c.weight[targeted], c.error[targeted], c.variance[targeted]
        total = float(add(w))
        error_sum = float(add(w * e))
        mass_v = float(add(w * v))
        if total > 0:
            error = error_sum / total
            bias = _clip(float(add(w * c.bias[targeted])) / total, 0.0)
        if error_sum > 0:
            ratio = mass_v / error_sum
            incoherence = _clip(ratio, 0.0, 1.0)
            keep = w > 0
            data = (v, e, w) if keep.all() else (v[keep], e[keep], w[keep])
    if n_targeted == count and total is not None and mass_v is not None:
        variance = mass_v / total if total > 0 else None  # the same items: the same sums
    else:
        variance = _weighted_mean(c.variance[inside], c.weight[inside])
    return _Part(
        items=count,
        targeted_items=n_targeted,
        error=error,
        bias=bias,
        variance=_clip(variance, 0.0),
        incoherence=incoherence,
        ratio=ratio,
        difficulty_min=float(np.minimum.reduce(spread)) if spread.size else None,
        difficulty_max=float(np.maximum.reduce(spread)) if spread.size else None,
        interval_data=data,
    )


def _check_confidence(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def figures_of(
    columns: DifficultyColumns, *, confidence: float, defer_interval: bool = False
) -> list[BucketFigures]:
    """The figures of each bucket in ``BUCKETS`` order (an empty bucket has 0 items): the
    test aggregate's (``aggregate.aggregate``, default interval) over the bucket's items.
    ``defer_interval`` leaves the intervals Hall's search gives to be solved later
    (``pending``), as the aggregate's."""
    confidence = _check_confidence(confidence)
    parts = [_part(columns, index) for index in range(len(BUCKETS))]
    waiting: dict[int, PendingInterval] = {}
    if defer_interval:
        for index, part in enumerate(parts):
            if part is not None and part.interval_data is not None:
                v, e, w = part.interval_data
                if v.shape[0] >= 2:  # ratio_hall_interval's bounds; else delta, at once
                    waiting[index] = PendingInterval(v, e, w, confidence)
    data = [
        p.interval_data
        for index, p in enumerate(parts)
        if p is not None and p.interval_data is not None and index not in waiting
    ]
    found = iter(_intervals(data, confidence))
    out = []
    for index, (name, part) in enumerate(zip(BUCKETS, parts, strict=True)):
        if part is None:
            out.append(
                BucketFigures(
                    name, 0, 0, None, None, None, None, None, None, None, None, None, None
                )
            )
            continue
        pending = waiting.get(index)
        bounds = next(found) if part.interval_data is not None and pending is None else None
        approximate = None  # set with an interval
        has_interval = bounds is not None or pending is not None
        if has_interval and part.interval_data is not None and part.ratio is not None:
            approximate = is_approximate(part.interval_data[0].shape[0], part.ratio)
        out.append(
            BucketFigures(
                bucket=name,
                items=part.items,
                targeted_items=part.targeted_items,
                error=part.error,
                bias=part.bias,
                variance=part.variance,
                incoherence=part.incoherence,
                incoherence_low=None if bounds is None else _clip(bounds[0], 0.0, 1.0),
                incoherence_high=None if bounds is None else _clip(bounds[1], 0.0, 1.0),
                interval_method=DEFAULT_INTERVAL if approximate is not None else None,
                interval_approximate=approximate,
                difficulty_min=part.difficulty_min,
                difficulty_max=part.difficulty_max,
                pending=pending,
            )
        )
    return out


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
    columns = DifficultyColumns.of(estimates, buckets, difficulties)
    return figures_of(columns, confidence=confidence)


def slope_of(columns: DifficultyColumns, *, confidence: float) -> DifficultySlope:
    """Incoherence per bucket step, fitted over the items with a target, a positive weight and
    a bucket (``difficulty_slope`` from a test's columns)."""
    confidence = _check_confidence(confidence)
    c = columns
    add = np.add.reduce  # what np.sum calls, without its wrapper
    used = c.targeted & (c.weight > 0) & (c.bucket >= 0)
    n = int(np.count_nonzero(used))
    df = max(n - 2, 0)
    if n == used.shape[0]:  # every item: the columns as they are (the same values)
        v, e_, w, x = c.variance, c.error, c.weight, c.bucket.astype(np.float64)
    else:
        v, e_, w = c.variance[used], c.error[used], c.weight[used]
        x = c.bucket[used].astype(np.float64)
    mass = w * e_
    total = float(add(mass))
    if not total > 0:
        note = "no error: incoherence is undefined"
        return DifficultySlope(None, None, None, None, SLOPE_UNIT, n, df, note)
    z = x - float(add(mass * x)) / total
    spread = float(add(mass * z * z))
    if n < 3 or not spread > 1e-12 * total:
        note = "needs at least 3 items with error in two or more buckets"
        return DifficultySlope(None, None, None, None, SLOPE_UNIT, n, df, note)
    alpha = float(add(w * v)) / total
    beta = float(add(w * v * z)) / spread
    residual = w * (v - (alpha + beta * z) * e_)
    se = math.sqrt(float(add((residual * z) ** 2)) * n / (n - 2)) / spread
    q = t_quantile(n - 2, 0.5 + confidence / 2.0)
    return DifficultySlope(
        slope=_finite(beta),
        low=_finite(beta - q * se),
        high=_finite(beta + q * se),
        se=_finite(se),
        unit=SLOPE_UNIT,
        items=n,
        df=df,
        note=None,
    )


def difficulty_slope(
    estimates: Sequence[ItemEstimate], buckets: Mapping[str, str], *, confidence: float
) -> DifficultySlope:
    """Incoherence per bucket step, fitted over the items with a target and a bucket.

    Undefined (None, with a note) with fewer than 3 such items, no error, or all error in one
    bucket.
    """
    return slope_of(DifficultyColumns.of(estimates, buckets), confidence=confidence)
