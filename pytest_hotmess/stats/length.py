"""Incoherence against reasoning length: length buckets, a slope, and the overthinking split.

The paper groups questions by their mean reasoning length and finds that longer reasoning
goes with more incoherent errors. This module answers the same question for a test's items,
from a per-sample length covariate (``reasoning_tokens`` when any sample reports a positive
count, else ``output_tokens``, or any covariate named by the caller). Samples without the
covariate are ignored for lengths; items where no sample has it are listed, not dropped.

Three views, all over items with a target (variance-only items are listed apart):

- **buckets**: items sorted by their mean length, split into equal-size buckets (sizes differ
  by at most one); each bucket's incoherence is the ratio of sums with the delta interval of
  ``aggregate.ratio_delta_interval`` (clipped to [0, 1] for display, like the report).
- **slope**: incoherence modelled as I(x) = alpha + beta (x - x0) in x = log(mean length),
  fitted by the estimating equations sum_i w_i (v_i - I(x_i) e_i) (1, x_i) = 0. That is the
  weighted least-squares fit of v_i / e_i on x_i with weights w_i e_i, so items with more error
  count more, items without error count nothing, and with beta = 0 it is exactly the ratio of
  sums. Centring x0 at the error-weighted mean of x makes alpha the suite's incoherence. The
  interval is the heteroscedasticity-robust sandwich (HC1) with a t quantile on N - 2 degrees
  of freedom; items are the unit of resampling, as everywhere. Reported per doubling of
  length (beta * ln 2).
- **overthinking**: within each item, samples shorter than that item's median length
  against those at or above it; each half is re-estimated as an item with its own k (the
  ``unbiased`` estimator does not depend on k in expectation, which makes the halves
  comparable; with ``plugin`` a half with fewer samples looks less variable). The change
  long - short is a paired ratio change over items (``compare.ratio_change``). This needs
  every sample's outcome next to its length: ``ItemInput.from_result`` keeps them; a JSON
  record keeps them only for numeric, vector, coverage and distribution items without
  invalid outcomes (categorical and binary records keep counts only, which lose the order),
  so such items are listed under ``items_without_outcomes``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .aggregate import ratio_delta_interval
from .compare import Change, ratio_change
from .decompose import ItemEstimate, estimate_item
from .kinds import NOTHING, Estimator, Kind, LossName
from .skipped import SkippedItem

__all__ = [
    "LENGTH_COVARIATES",
    "ItemInput",
    "LengthAnalysis",
    "LengthBin",
    "Overthinking",
    "RatioSummary",
    "ResultLike",
    "SkippedItem",
    "Slope",
    "choose_length_covariate",
    "incoherence_slope",
    "items_from_record",
    "items_from_results",
    "length_analysis",
]

LENGTH_COVARIATES: Final = ("reasoning_tokens", "output_tokens")
"""Covariates tried in order when the caller names none."""

_OUTCOME_KINDS: Final = ("numeric", "vector", "coverage", "distribution")
"""Kinds whose JSON record keeps per-sample outcomes in sample order."""


class ResultLike(Protocol):
    """What ``ItemInput.from_result`` reads (``_resample.ItemResult`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def target(self) -> Any: ...
    @property
    def outcomes(self) -> tuple[Any, ...]: ...
    @property
    def covariates(self) -> tuple[dict[str, float], ...]: ...
    @property
    def estimate(self) -> ItemEstimate | None: ...


@dataclasses.dataclass(frozen=True)
class RatioSummary:
    """Weighted mean error and variance of a group of items, and its ratio-of-sums incoherence
    with the delta interval (incoherence and interval clipped to [0, 1] for display)."""

    items: int
    error: float | None
    variance: float | None
    incoherence: float | None
    low: float | None
    high: float | None


@dataclasses.dataclass(frozen=True)
class LengthBin:
    """One length bucket: its number (from 1, shortest first), the range and geometric mean
    of its items' mean lengths, and its ``RatioSummary`` figures."""

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
class Slope:
    """Incoherence per doubling of length, with its interval (None where undefined, and
    ``note`` says why); ``incoherence_at_centre`` is the fit at the error-weighted mean
    length ``centre_length``."""

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
class Overthinking:
    """Each item's samples shorter than its median length against those at or above it."""

    items: int
    items_without_outcomes: list[str]
    items_skipped: list[SkippedItem]
    short: RatioSummary | None
    long: RatioSummary | None
    change: Change | None


@dataclasses.dataclass(frozen=True)
class LengthAnalysis:
    """Incoherence against length for one test: buckets, slope and the overthinking split.

    ``covariate`` is None when no sample reports a length; ``note`` says why a view is empty.
    """

    covariate: str | None
    confidence: float
    items: int
    items_used: int
    items_unestimated: list[str]
    items_without_target: list[str]
    items_without_length: list[str]
    buckets: list[LengthBin]
    slope: Slope | None
    overthinking: Overthinking | None
    note: str | None


@dataclasses.dataclass(frozen=True)
class ItemInput:
    """One item for the length analysis: its split, its per-sample covariates, and (for the
    overthinking split) its per-sample outcomes in the same order as the covariates.

    ``variance`` is ``None`` for an item that could not be estimated; ``error`` is ``None``
    for a variance-only item. ``target`` is ``NOTHING`` when there is none.
    """

    id: str
    error: float | None
    variance: float | None
    covariates: tuple[Mapping[str, Any], ...]  # per-sample name -> number, checked on use
    weight: float = 1.0
    outcomes: tuple[Any, ...] | None = None
    target: Any = NOTHING
    kind: Kind | None = None
    loss: LossName | None = None
    estimator: Estimator = "unbiased"

    @classmethod
    def from_result(cls, result: ResultLike) -> ItemInput:
        """From a ``resample`` result: keeps every outcome next to its covariates."""
        estimate = result.estimate
        return cls(
            id=str(result.id),
            error=None if estimate is None else estimate.error,
            variance=None if estimate is None else estimate.variance,
            covariates=tuple(result.covariates),
            weight=1.0 if estimate is None else estimate.weight,
            outcomes=tuple(result.outcomes),
            target=result.target,
            kind=None if estimate is None else estimate.kind,
            loss=None if estimate is None else estimate.loss,
            estimator="unbiased" if estimate is None else estimate.estimator,
        )

    @classmethod
    def from_record(cls, item: Mapping[str, Any]) -> ItemInput:
        """From one item of a JSON report file (a dict at that edge only); outcomes only where
        the record keeps them in order."""
        covariates = tuple(item.get("covariates") or ())
        kind = item.get("kind")
        raw = item.get("outcomes")
        outcomes: tuple[Any, ...] | None = None
        if kind in _OUTCOME_KINDS and isinstance(raw, list) and len(raw) == len(covariates):
            outcomes = tuple(raw)
        target = item.get("target")
        return cls(
            id=str(item["id"]),
            error=_finite_or_none(item.get("error")),
            variance=_finite_or_none(item.get("variance")),
            covariates=covariates,
            weight=_weight(item.get("weight")),
            outcomes=outcomes,
            target=NOTHING if target is None else target,
            kind=kind,
            loss=item.get("loss"),
            estimator=item.get("estimator") or "unbiased",
        )


def items_from_results(results: Sequence[ResultLike]) -> list[ItemInput]:
    """``ItemInput.from_result`` over a test's results."""
    return [ItemInput.from_result(r) for r in results]


def items_from_record(test: Mapping[str, Any]) -> list[ItemInput]:
    """``ItemInput.from_record`` over the items of one test record of a JSON report."""
    return [ItemInput.from_record(item) for item in test.get("items") or ()]


def _weight(value: Any) -> float:
    """An item's weight from a record; reports written before weights existed mean 1."""
    weight = _finite_or_none(value)
    return 1.0 if weight is None else weight


def _finite_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _length_value(row: Mapping[str, Any], name: str) -> float:
    """A sample's length, or NaN when missing, not a number, or negative."""
    value = row.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else math.nan


def choose_length_covariate(items: Sequence[ItemInput], covariate: str | None = None) -> str | None:
    """The covariate to use: the caller's, else the first of ``LENGTH_COVARIATES`` that any
    sample reports as positive (non-reasoning models report 0 reasoning tokens), else None."""
    if covariate is not None:
        if not isinstance(covariate, str) or not covariate:
            raise ValueError(f"covariate must be a non-empty name, got {covariate!r}")
        return covariate
    for name in LENGTH_COVARIATES:
        if any(_length_value(row, name) > 0 for item in items for row in item.covariates):
            return name
    return None


def _check_confidence(confidence: float) -> float:
    value = float(confidence)
    if not 0.0 < value < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return value


# ----------------------------------------------------------------------------------------
# the slope


def incoherence_slope(
    variances: ArrayLike,
    errors: ArrayLike,
    weights: ArrayLike,
    lengths: ArrayLike,
    *,
    confidence: float = 0.95,
) -> Slope:
    """Change of incoherence per doubling of length, with a sandwich t interval.

    Fits I(x) = alpha + beta (x - x0), x = log(length), by sum w (v - I(x) e) (1, x) = 0.
    ``incoherence_at_centre`` is alpha and ``centre_length`` exp x0; numbers are None when
    undefined (fewer than 3 items, no error, or no spread of length among items with error).
    """
    confidence = _check_confidence(confidence)
    v, e, w, length = (
        np.asarray(x, dtype=np.float64) for x in (variances, errors, weights, lengths)
    )
    n_all = v.shape[0]
    if any(x.shape != (n_all,) for x in (e, w, length)):
        raise ValueError("variances, errors, weights and lengths must have equal length")
    if np.any(length <= 0) or not np.all(np.isfinite(length)):
        raise ValueError("lengths must be positive and finite")
    keep = w > 0
    v, e, w, x = v[keep], e[keep], w[keep], np.log(length[keep])
    n = v.shape[0]
    undefined = Slope(
        slope=None,
        low=None,
        high=None,
        unit="incoherence per doubling of length",
        incoherence_at_centre=None,
        centre_length=None,
        items=n,
        df=max(n - 2, 0),
        note=None,
    )
    error_mass = w * e
    total = float(np.sum(error_mass))
    if not total > 0:
        return dataclasses.replace(undefined, note="no error: incoherence is undefined")
    centre = float(np.sum(error_mass * x) / total)
    z = x - centre
    spread = float(np.sum(error_mass * z * z))
    alpha = float(np.sum(w * v) / total)
    centred = dataclasses.replace(
        undefined,
        incoherence_at_centre=_finite_or_none(alpha),
        centre_length=_finite_or_none(math.exp(centre)),
    )
    if n < 3 or not spread > 1e-12 * total:
        return dataclasses.replace(centred, note="needs at least 3 items whose lengths differ")
    beta = float(np.sum(w * v * z) / spread)
    residual = w * (v - (alpha + beta * z) * e)
    meat = float(np.sum((residual * z) ** 2)) * n / (n - 2)
    se = math.sqrt(meat) / spread
    from scipy.special import stdtrit  # on first use: importing scipy.special costs ~0.2 s

    q = float(stdtrit(n - 2, 0.5 + confidence / 2.0))
    per_doubling = math.log(2.0)
    return dataclasses.replace(
        centred,
        slope=_finite_or_none(beta * per_doubling),
        low=_finite_or_none((beta - q * se) * per_doubling),
        high=_finite_or_none((beta + q * se) * per_doubling),
    )


# ----------------------------------------------------------------------------------------
# buckets


def _clip01(value: float) -> float | None:
    """Clipped to [0, 1] for display; None for NaN (as the JSON report has always shown it)."""
    return _finite_or_none(min(max(value, 0.0), 1.0))


def _ratio_summary(
    v: NDArray[np.float64], e: NDArray[np.float64], w: NDArray[np.float64], confidence: float
) -> RatioSummary:
    """Weighted mean error and variance, and the ratio-of-sums incoherence with its interval."""
    total_w = float(np.sum(w))
    total_e = float(np.sum(w * e))
    keep = w > 0
    bounds = ratio_delta_interval(v[keep], e[keep], w[keep], confidence)
    return RatioSummary(
        items=int(v.shape[0]),
        error=_finite_or_none(float(np.sum(w * e)) / total_w) if total_w > 0 else None,
        variance=_finite_or_none(float(np.sum(w * v)) / total_w) if total_w > 0 else None,
        incoherence=_clip01(float(np.sum(w * v)) / total_e) if total_e > 0 else None,
        low=None if bounds is None else _clip01(bounds[0]),
        high=None if bounds is None else _clip01(bounds[1]),
    )


def _buckets(
    lengths: NDArray[np.float64],
    v: NDArray[np.float64],
    e: NDArray[np.float64],
    w: NDArray[np.float64],
    buckets: int,
    confidence: float,
) -> list[LengthBin]:
    order = np.argsort(lengths, kind="stable")
    out = []
    for index, part in enumerate(np.array_split(order, min(buckets, order.shape[0])), start=1):
        summary = _ratio_summary(v[part], e[part], w[part], confidence)
        part_lengths = lengths[part]
        out.append(
            LengthBin(
                bucket=index,
                length_min=float(part_lengths.min()),
                length_max=float(part_lengths.max()),
                length=float(np.exp(np.mean(np.log(part_lengths)))),
                **dataclasses.asdict(summary),
            )
        )
    return out


# ----------------------------------------------------------------------------------------
# the overthinking split


def _half_estimate(item: ItemInput, picks: NDArray[np.intp], half: str) -> ItemEstimate:
    assert item.outcomes is not None
    return estimate_item(
        [item.outcomes[int(i)] for i in picks],
        item.target,
        item_id=f"{item.id} ({half})",
        kind=item.kind,
        loss=item.loss,
        estimator=item.estimator,
        weight=item.weight,
    )


def _split_item(
    item: ItemInput, sample_lengths: NDArray[np.float64]
) -> tuple[ItemEstimate, ItemEstimate] | str:
    """The item's short and long halves, or why it cannot be split."""
    assert item.outcomes is not None
    if len(item.outcomes) != sample_lengths.shape[0]:
        return "outcomes and covariates differ in number"
    known = np.flatnonzero(np.isfinite(sample_lengths))
    median = float(np.median(sample_lengths[known])) if known.size else math.nan
    short = known[sample_lengths[known] < median]
    long = known[sample_lengths[known] >= median]
    if short.size < 2 or long.size < 2:
        return "fewer than 2 samples on one side of the median length"
    try:
        return _half_estimate(item, short, "short"), _half_estimate(item, long, "long")
    except (ValueError, TypeError) as exc:
        return f"a half cannot be estimated: {exc}"


def _overthinking(
    items: Sequence[ItemInput],
    sample_lengths: Sequence[NDArray[np.float64]],
    confidence: float,
) -> Overthinking:
    halves: list[tuple[ItemEstimate, ItemEstimate]] = []
    skipped: list[SkippedItem] = []
    without_outcomes: list[str] = []
    for item, lengths in zip(items, sample_lengths, strict=True):
        if item.outcomes is None:
            without_outcomes.append(item.id)
            continue
        split = _split_item(item, lengths)
        if isinstance(split, str):
            skipped.append(SkippedItem(item.id, split))
        else:
            halves.append(split)
    if not halves:
        return Overthinking(0, without_outcomes, skipped, None, None, None)
    w = np.asarray([s.weight for s, _ in halves], dtype=np.float64)
    e_short = np.asarray([s.error for s, _ in halves], dtype=np.float64)
    v_short = np.asarray([s.variance for s, _ in halves], dtype=np.float64)
    e_long = np.asarray([lg.error for _, lg in halves], dtype=np.float64)
    v_long = np.asarray([lg.variance for _, lg in halves], dtype=np.float64)
    return Overthinking(
        items=len(halves),
        items_without_outcomes=without_outcomes,
        items_skipped=skipped,
        short=_ratio_summary(v_short, e_short, w, confidence),
        long=_ratio_summary(v_long, e_long, w, confidence),
        change=ratio_change(
            w * v_long, w * e_long, w * v_short, w * e_short, confidence=confidence
        ),
    )


# ----------------------------------------------------------------------------------------
# the analysis


def length_analysis(
    items: Sequence[ItemInput],
    buckets: int = 4,
    confidence: float = 0.95,
    *,
    covariate: str | None = None,
) -> LengthAnalysis:
    """Incoherence by length bucket, its slope over log length, and the overthinking split.

    Numbers are None where undefined, never NaN; see the module docstring.
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise ValueError(f"buckets must be a positive int, got {buckets!r}")
    confidence = _check_confidence(confidence)
    name = choose_length_covariate(items, covariate)
    empty = LengthAnalysis(
        covariate=name,
        confidence=confidence,
        items=len(items),
        items_used=0,
        items_unestimated=[i.id for i in items if i.variance is None],
        items_without_target=[i.id for i in items if i.variance is not None and i.error is None],
        items_without_length=[],
        buckets=[],
        slope=None,
        overthinking=None,
        note=None,
    )
    if name is None:
        note = "no sample reports a length (" + " or ".join(LENGTH_COVARIATES) + ")"
        return dataclasses.replace(empty, note=note)
    used: list[ItemInput] = []
    sample_lengths: list[NDArray[np.float64]] = []
    for item in items:
        if item.variance is None or item.error is None:
            continue
        lengths = np.asarray([_length_value(row, name) for row in item.covariates])
        finite = lengths[np.isfinite(lengths)]
        if finite.size == 0 or not float(finite.mean()) > 0:
            empty.items_without_length.append(item.id)
            continue
        used.append(item)
        sample_lengths.append(lengths)
    if not used:
        return dataclasses.replace(empty, note=f"no item with a target has a positive {name}")
    mean_length = np.asarray([float(np.nanmean(x)) for x in sample_lengths])
    v = np.asarray([i.variance for i in used], dtype=np.float64)
    e = np.asarray([i.error for i in used], dtype=np.float64)
    w = np.asarray([i.weight for i in used], dtype=np.float64)
    return dataclasses.replace(
        empty,
        items_used=len(used),
        buckets=_buckets(mean_length, v, e, w, buckets, confidence),
        slope=incoherence_slope(v, e, w, mean_length, confidence=confidence),
        overthinking=_overthinking(used, sample_lengths, confidence),
    )
