"""Estimate many items at once with the vectorised kernels (the per-item split, batched).

``resample.record``, ``map``, each sequential look and the judge hand all the items they have
to :func:`estimate_many`, which groups them by what a kernel call must share and makes one
call per group:

- categorical items: one ``(N, C)`` count matrix per loss and estimator (Brier pads rows with
  zero columns, which changes no sum; other losses group by C, which KL's smoothing reads),
  into ``Loss.count_terms``;
- binary and numeric items: one ``(N, K)`` matrix per K; vector, coverage and distribution
  items one ``(N, K, D)`` array per K and D, into ``Loss.batch_sample_terms``.

Every figure equals ``decompose.estimate_item``'s for the same item (to rounding; the tests
hold them to 1e-12). What stays per item in Python: validation (``outcomes.prepare_item``, or
``counting.count_labels`` for string answers), KL's bootstrap correction (each item resamples
its own atoms, ``losses.KLLoss``), and ``sample_terms`` of a registered loss that does not
override ``batch_sample_terms``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .counting import CountedItem
from .decompose import ItemEstimate, estimate_of
from .losses import LOSSES, BrierLoss, Terms
from .outcomes import ItemError, PreparedItem

__all__ = ["estimate_many"]

Pending = PreparedItem | CountedItem
"""An item validated and waiting for its numbers."""


def estimate_many(items: Sequence[Pending]) -> list[ItemEstimate | ItemError]:
    """Each item's estimate, in order; an item whose loss overflowed gets its ``ItemError``."""
    out: list[ItemEstimate | ItemError | None] = [None] * len(items)
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(_group_key(item), []).append(index)
    for key, members in groups.items():
        chosen = [items[i] for i in members]
        if key[0] == "categorical":
            terms = _count_group(chosen)
        else:
            terms = _sample_group([item for item in chosen if isinstance(item, PreparedItem)])
        for index, estimate in zip(members, _estimates(chosen, terms), strict=True):
            out[index] = estimate
    done = [estimate for estimate in out if estimate is not None]
    assert len(done) == len(items)
    return done


def _group_key(item: Pending) -> tuple[object, ...]:
    if isinstance(item, CountedItem):
        return ("categorical", item.loss, item.estimator, _width(item.loss, len(item.counts)))
    if item.kind == "categorical":
        assert item.counts is not None
        width = _width(item.loss, item.counts.shape[0])
        return ("categorical", item.loss, item.estimator, width)
    assert item.samples is not None
    return (item.kind, item.loss, item.estimator, item.samples.shape)


def _width(loss: str, columns: int) -> int:
    """The count columns an item's group must share: any for Brier, whose sums zero columns
    do not change; exactly its own for every other loss (KL's smoothing reads C)."""
    return 0 if type(LOSSES[loss]) is BrierLoss else columns


def _count_group(items: Sequence[Pending]) -> Terms:
    rows: list[Sequence[int]] = []
    targets: list[int] = []
    for item in items:
        if isinstance(item, CountedItem):
            rows.append(item.counts)
        else:
            assert item.counts is not None
            rows.append(item.counts.tolist())
        targets.append(-1 if item.target_index is None else item.target_index)
    padding = [0] * max(len(row) for row in rows)  # a row with fewer columns ends in zeros
    counts = np.array([[*row, *padding[len(row) :]] for row in rows], dtype=np.float64)
    first = items[0]
    loss = LOSSES[first.loss]
    return loss.count_terms(counts, np.asarray(targets, dtype=np.int64), first.estimator)


def _sample_group(prepared: Sequence[PreparedItem]) -> Terms:
    first = prepared[0]
    assert first.samples is not None
    samples = np.stack([item.samples for item in prepared if item.samples is not None])
    shape = first.samples.shape[1:]  # () for binary and numeric, (D,) otherwise
    targets = np.full((len(prepared), *shape), np.nan)
    for row, item in enumerate(prepared):
        if item.target_values is not None:
            targets[row] = item.target_values
    loss = LOSSES[first.loss]
    error, bias, variance = loss.batch_sample_terms(samples, targets, first.estimator)
    if first.kind == "coverage":  # the mean over checks, not the sum
        width = shape[0]
        return error / width, bias / width, variance / width
    return error, bias, variance


def _estimates(items: Sequence[Pending], terms: Terms) -> list[ItemEstimate | ItemError]:
    error, bias, variance = terms
    targeted = np.asarray([item.has_target for item in items], dtype=bool)
    finite = np.isfinite(variance) & (~targeted | (np.isfinite(error) & np.isfinite(bias)))
    out: list[ItemEstimate | ItemError] = []
    rows = zip(
        items, error.tolist(), bias.tolist(), variance.tolist(), finite.tolist(), strict=True
    )
    for item, e, b, v, ok in rows:
        if not ok:
            out.append(ItemError(item.item_id, "the loss overflowed; rescale the outcomes"))
        else:
            out.append(estimate_of(item, e, b, v))
    return out
