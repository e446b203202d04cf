"""Are samples fetched together in one request independent? A permutation test over items.

With ``n_per_request > 1`` several samples of an item come from one request. The bias/variance
split assumes the K samples are independent draws; a gateway that sends a whole batch to one
backend, or a server that reuses one seed per request, makes samples of a batch agree more
than samples of different batches, and the measured variance falls.

The statistic is the number of agreeing pairs of samples within batches, summed over the
test's items (answers agree when equal; numbers and vectors by squared distance, where
fewer is "more alike": the statistic is then minus the within-batch squared distances).
Under independence the samples of an item are exchangeable, so permuting the batch labels
within each item gives the statistic's null distribution. The p-value is the share of
:data:`PERMUTATIONS` seeded permutations (plus the observed one) at least as extreme
(docs/statistics.md, 'Batched samples').
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["LEVEL", "PERMUTATIONS", "BatchTest", "batch_dependence"]

PERMUTATIONS: Final = 999
LEVEL: Final = 0.01
"""A batch test with a p-value below this warns that batched samples are not independent."""


@dataclasses.dataclass(frozen=True)
class BatchTest:
    """The result of the permutation test over the items that had two or more batches."""

    items: int
    batches: int
    within_agreement: float | None
    """Share of agreeing pairs within batches (categorical outcomes; None for numbers)."""
    across_agreement: float | None
    """Share of agreeing pairs across batches of the same item."""
    p_value: float

    @property
    def dependent(self) -> bool:
        return self.p_value < LEVEL


def _similarity(outcomes: Sequence[object]) -> tuple[NDArray[np.float64], bool] | None:
    """Pairwise similarity of one item's samples and whether they are answers (equal or not);
    None when they cannot be compared."""
    try:
        values = np.asarray(outcomes, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if (
        values is not None
        and values.ndim in (1, 2)
        and not all(isinstance(o, (bool, np.bool_)) for o in outcomes)
    ):
        flat = values.reshape(len(outcomes), -1)
        if not np.all(np.isfinite(flat)):
            return None
        gaps = ((flat[:, None, :] - flat[None, :, :]) ** 2).sum(axis=2)
        return -gaps, False
    if not all(isinstance(o, Hashable) for o in outcomes):
        return None
    codes: dict[object, int] = {}
    labels = np.asarray([codes.setdefault(o, len(codes)) for o in outcomes])
    return (labels[:, None] == labels[None, :]).astype(np.float64), True


def _within(similarity: NDArray[np.float64], batch: NDArray[np.int64]) -> float:
    same = batch[:, None] == batch[None, :]
    np.fill_diagonal(same, False)
    return float(similarity[same].sum()) / 2.0


def batch_dependence(
    items: Sequence[tuple[Sequence[object], Sequence[int]]], *, seed: int = 0
) -> BatchTest | None:
    """Test ``(outcomes, batch ids)`` per item; None when no item has two batches of >= 2.

    Items whose samples all share one batch, or sit in batches of one, carry no information
    and are left out.
    """
    usable: list[tuple[NDArray[np.float64], NDArray[np.int64], bool]] = []
    for outcomes, batches in items:
        if len(outcomes) != len(batches) or len(outcomes) < 3:
            continue
        batch = np.asarray(batches, dtype=np.int64)
        _, sizes = np.unique(batch, return_counts=True)
        if sizes.size < 2 or sizes.max() < 2:
            continue
        compared = _similarity(outcomes)
        if compared is None:
            continue
        usable.append((compared[0], batch, compared[1]))
    if not usable:
        return None
    rng = np.random.default_rng(seed)
    observed = 0.0
    permuted = np.zeros(PERMUTATIONS)
    for similarity, batch, _ in usable:
        observed += _within(similarity, batch)
        # every permutation of this item's batch labels at once: (P, K) labels, (P, K, K) pairs
        labels = rng.permuted(np.tile(batch, (PERMUTATIONS, 1)), axis=1)
        same = labels[:, :, None] == labels[:, None, :]
        permuted += (same * similarity[None, :, :]).sum(axis=(1, 2))
        permuted -= float(np.trace(similarity))
    permuted /= 2.0
    extreme = 1 + int(np.sum(permuted >= observed - 1e-9 * max(1.0, abs(observed))))
    within_rate, across_rate = _agreement(usable)
    return BatchTest(
        items=len(usable),
        batches=sum(int(np.unique(b).size) for _, b, _ in usable),
        within_agreement=within_rate,
        across_agreement=across_rate,
        p_value=extreme / (PERMUTATIONS + 1),
    )


def _agreement(
    usable: Sequence[tuple[NDArray[np.float64], NDArray[np.int64], bool]],
) -> tuple[float | None, float | None]:
    """Agreement rates within and across batches, when every item's outcomes are answers."""
    if not all(is_answer for _, _, is_answer in usable):
        return None, None
    within = across = within_pairs = across_pairs = 0.0
    for similarity, batch, _ in usable:
        same = batch[:, None] == batch[None, :]
        np.fill_diagonal(same, False)
        other = batch[:, None] != batch[None, :]
        within += float(similarity[same].sum())
        within_pairs += float(same.sum())
        across += float(similarity[other].sum())
        across_pairs += float(other.sum())
    return (
        within / within_pairs if within_pairs else None,
        across / across_pairs if across_pairs else None,
    )
