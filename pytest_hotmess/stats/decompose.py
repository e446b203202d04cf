"""Per-item bias/variance split of the expected loss (docs/statistics.md, 'Estimators').

``estimate_item`` takes one item's K outcomes and hands them to its loss (``losses.LOSSES``);
the vectorised cores (``categorical_terms``, ``numeric_terms``, ``distribution_kl_terms``)
take many items at once and loop over nothing, so a benchmark of 100,000 items x 30 samples
costs a few array passes.

Estimators:

- ``plugin``: the paper's split (variance low by (K-1)/K for finite K);
- ``unbiased`` (default): the U-statistic variance (ddof=1; for one-hot Brier the chance
  that two distinct samples disagree), bias = error - variance;
- ``jackknife``: the jackknife bias correction of the plug-in variance. For Brier and squared
  losses it coincides with ``unbiased`` exactly (the plug-in variance is a degree-2
  V-statistic), so it is computed as such. For KL there is no closed-form unbiased variance,
  so ``unbiased`` with KL means ``jackknife``.

``error == bias + variance`` holds for every kind and estimator up to float rounding.

KL smoothing floor: after smoothing (delta = 1e-12) even a perfectly right sample has KL loss
-log((1+delta)/(1+C*delta)), about (C-1)*delta. Error and bias are reported relative to that
floor (it is subtracted from both; the variance is unchanged), so a model that is always
right has error exactly 0, which the reports read as "no errors". The shift is ~1e-12 and
does not show in any reported digit. Identical samples have exactly zero variance.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .counting import CountedItem
from .kinds import NOTHING, Estimator, Kind, LossName
from .losses import KL_DELTA, LOSSES, KLLoss, Loss, Terms, squared_terms
from .outcomes import ItemError, PreparedItem, check_estimator, prepare_item

__all__ = [
    "KL_DELTA",
    "ItemEstimate",
    "categorical_terms",
    "distribution_kl_terms",
    "estimate_item",
    "estimate_of",
    "numeric_terms",
]


@dataclasses.dataclass(frozen=True)
class ItemEstimate:
    """One item's split of its expected loss; every field is a plain Python builtin.

    ``error`` and ``bias`` are ``None`` for a variance-only item (no target). Per-item bias
    may be negative (unbiased numeric estimates); only aggregates are clipped for display.
    ``k`` counts the samples that entered the estimate (invalid outcomes included for
    categorical, binary and coverage items, where they count as wrong answers).
    """

    id: str
    kind: Kind
    loss: LossName
    estimator: Estimator
    k: int
    invalid: int
    weight: float
    error: float | None
    bias: float | None
    variance: float
    target: object
    counts: dict[str, int] | None
    outcomes: list[object] | None

    @property
    def has_target(self) -> bool:
        """Whether the item enters error, bias and incoherence (not only variance)."""
        return self.error is not None

    def to_dict(self) -> dict[str, object]:
        """Plain builtins keyed by field name (JSON-ready; ``None`` where undefined, never NaN)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "loss": self.loss,
            "estimator": self.estimator,
            "k": self.k,
            "invalid": self.invalid,
            "weight": self.weight,
            "error": self.error,
            "bias": self.bias,
            "variance": self.variance,
            "target": _copy_json(self.target),
            "counts": None if self.counts is None else dict(self.counts),
            "outcomes": None if self.outcomes is None else _copy_json(self.outcomes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemEstimate:
        """Rebuild an estimate from ``to_dict`` output (e.g. read back from a JSON report)."""
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in data]
        unknown = sorted(set(data) - set(names))
        if missing or unknown:
            raise ValueError(
                f"not an item estimate: missing {missing or 'nothing'}, "
                f"unknown {unknown or 'nothing'}"
            )
        return cls(**{name: data[name] for name in names})


def _copy_json(value: object) -> object:
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    return value


# ----------------------------------------------------------------------------------------
# vectorised cores


def _k_checked(k: NDArray[np.float64]) -> None:
    if np.any(k < 2):
        raise ValueError(f"every item needs K >= 2 samples for a variance; found K={int(k.min())}")


def _fitting(loss: str, kind: Kind) -> Loss:
    """The registered loss ``loss``, which must fit ``kind``; the error lists those that do."""
    found = LOSSES.get(loss)
    if found is None or kind not in found.kinds:
        fitting = [repr(name) for name, each in LOSSES.items() if kind in each.kinds]
        raise ValueError(f"loss {loss!r} does not fit {kind} outcomes; use {' or '.join(fitting)}")
    return found


def categorical_terms(
    counts: ArrayLike,
    target_index: ArrayLike,
    estimator: Estimator = "unbiased",
    *,
    loss: LossName = "brier",
    delta: float = KL_DELTA,
) -> Terms:
    """Error, bias and variance of N categorical items from their answer counts.

    ``counts`` has shape (N, C): the C columns are the possible answers (zero counts allowed;
    with KL, C enters the smoothing). ``target_index`` has shape (N,); a negative index means
    no target, and gives NaN error and bias. K may differ between rows.
    """
    check_estimator(estimator)
    n = np.asarray(counts)
    if n.ndim != 2 or n.shape[1] < 1:
        raise ValueError(f"counts must have shape (N, C), got {n.shape}")
    if not np.issubdtype(n.dtype, np.integer) or np.any(n < 0):
        raise ValueError("counts must be non-negative integers")
    n = n.astype(np.float64)
    target = np.asarray(target_index, dtype=np.int64)
    if target.shape != (n.shape[0],):
        raise ValueError(f"target_index must have shape ({n.shape[0]},), got {target.shape}")
    if np.any(target >= n.shape[1]):
        raise ValueError("a target index is outside the count columns")
    _k_checked(n.sum(axis=1))
    chosen = _fitting(loss, "categorical")
    if isinstance(chosen, KLLoss) and delta != chosen.delta:
        chosen = KLLoss(delta)
    return chosen.count_terms(n, target, estimator)


def numeric_terms(
    samples: ArrayLike, targets: ArrayLike, estimator: Estimator = "unbiased"
) -> Terms:
    """Squared-error split of N numeric items with K samples each.

    ``samples`` has shape (N, K), ``targets`` shape (N,); a NaN target means no target and
    gives NaN error and bias. ``jackknife`` equals ``unbiased`` here.
    """
    check_estimator(estimator)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (N, K), got {x.shape}")
    t = np.asarray(targets, dtype=np.float64)
    if t.shape != (x.shape[0],):
        raise ValueError(f"targets must have shape ({x.shape[0]},), got {t.shape}")
    _k_checked(np.asarray([float(x.shape[1])]))
    return squared_terms(x, t, estimator)


def distribution_kl_terms(
    samples: ArrayLike,
    targets: ArrayLike,
    estimator: Estimator = "plugin",
    *,
    delta: float = KL_DELTA,
) -> Terms:
    """KL split of N items whose K samples are probability vectors over C classes.

    ``samples`` has shape (N, K, C); ``targets`` shape (N, C), one-hot or soft (a row of NaN
    means no target). error = mean_k KL(t || f_k), bias = KL(t || fbar) with fbar the
    normalised geometric mean, variance = mean_k KL(fbar || f_k) (= -log of the geometric
    mean's normaliser). Error and bias are measured from the smoothing floor (see the module
    docstring). ``unbiased`` and ``jackknife`` both give the jackknife variance.
    """
    check_estimator(estimator)
    f = np.asarray(samples, dtype=np.float64)
    if f.ndim != 3:
        raise ValueError(f"samples must have shape (N, K, C), got {f.shape}")
    t = np.asarray(targets, dtype=np.float64)
    if t.shape != (f.shape[0], f.shape[2]):
        raise ValueError(f"targets must have shape ({f.shape[0]}, {f.shape[2]}), got {t.shape}")
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    _k_checked(np.asarray([float(f.shape[1])]))
    return KLLoss(delta).distribution_terms(f, t, estimator)


# ----------------------------------------------------------------------------------------
# one item


def _terms(item: PreparedItem) -> tuple[float, float, float]:
    """Hand a prepared item to its loss; coverage is the mean over its checks, not the sum."""
    loss = LOSSES[item.loss]
    if item.kind == "categorical":
        assert item.counts is not None
        index = -1 if item.target_index is None else item.target_index
        counts = item.counts[None, :].astype(np.float64)
        e, b, v = loss.count_terms(counts, np.asarray([index], dtype=np.int64), item.estimator)
        return float(e[0]), float(b[0]), float(v[0])
    assert item.samples is not None
    goal = item.target_values
    if item.samples.ndim == 1:  # binary, numeric: one number per sample
        target = np.asarray(np.nan if goal is None else float(goal))
        return loss.sample_terms(item.samples, target, item.estimator)
    width = item.samples.shape[1]
    target = np.full(width, np.nan) if goal is None else goal
    error, bias, variance = loss.sample_terms(item.samples, target, item.estimator)
    if item.kind == "coverage":
        return error / width, bias / width, variance / width
    return error, bias, variance


def estimate_item(
    outcomes: Sequence[object],
    target: object = NOTHING,
    *,
    item_id: str = "item",
    kind: Kind | None = None,
    loss: LossName | None = None,
    estimator: Estimator = "unbiased",
    weight: float = 1.0,
    labels: Sequence[object] | None = None,
) -> ItemEstimate:
    """Split one item's expected loss into bias and variance from its K outcomes.

    ``labels`` optionally lists every possible answer of a categorical or distribution item
    (e.g. all options of a multiple-choice question): unobserved ones show with count 0 and
    enter KL's smoothing. Errors name the item and the problem (see ``outcomes``).
    """
    item = prepare_item(
        outcomes,
        target,
        item_id=item_id,
        kind=kind,
        loss=loss,
        estimator=estimator,
        weight=weight,
        labels=labels,
    )
    error, bias, variance = _terms(item)
    numbers = (error, bias, variance) if item.has_target else (variance,)
    if not all(math.isfinite(x) for x in numbers):
        raise ItemError(item_id, "the loss overflowed; rescale the outcomes")
    return estimate_of(item, error, bias, variance)


def estimate_of(
    item: PreparedItem | CountedItem, error: float, bias: float, variance: float
) -> ItemEstimate:
    """A validated item's estimate from its terms (error and bias only with a target): the one
    constructor for the per-item path and the batched one (``stats/batch.py``)."""
    kind: Kind
    if isinstance(item, CountedItem):  # string answers, only counted
        kind, outcomes = "categorical", None
        counts: dict[str, int] | None = dict(zip(item.names, item.counts, strict=True))
    else:
        kind, counts, outcomes = item.kind, item.counts_json, item.outcomes_json
    return ItemEstimate(
        id=item.item_id,
        kind=kind,
        loss=item.loss,
        estimator=item.estimator,
        k=item.k,
        invalid=item.invalid,
        weight=item.weight,
        error=error if item.has_target else None,
        bias=bias if item.has_target else None,
        variance=variance,
        target=item.target_json,
        counts=counts,
        outcomes=outcomes,
    )
