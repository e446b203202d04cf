"""Many items' figures as columns: what aggregating reads of each item, one array per figure.

The aggregate, its unclipped figures and the run's pooled totals read the same few numbers of
every item: k, invalid, weight, error, bias, variance, whether it has a target, and its loss.
Read into arrays once, every later pass is an array operation instead of a walk over item
objects; the run's kept items (``results/kept.py``) are columns already and skip even the read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .decompose import ItemEstimate

__all__ = ["ItemColumns"]


@dataclasses.dataclass(frozen=True)
class ItemColumns:
    """One entry per item in each array, in the items' order.

    ``error`` and ``bias`` are 0 where the item has no target (``targeted`` is False); no
    figure reads them there. ``losses`` are the items' distinct losses, sorted.
    """

    k: NDArray[np.int64]
    invalid: NDArray[np.int64]
    weight: NDArray[np.float64]
    error: NDArray[np.float64]
    bias: NDArray[np.float64]
    variance: NDArray[np.float64]
    targeted: NDArray[np.bool_]
    losses: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.k.shape[0])

    @classmethod
    def of(cls, items: Sequence[ItemEstimate] | ItemColumns) -> ItemColumns:
        """The columns of these estimates (columns are returned as they are)."""
        if isinstance(items, ItemColumns):
            return items
        targeted = [item.has_target for item in items]
        return cls(
            k=np.asarray([item.k for item in items], dtype=np.int64),
            invalid=np.asarray([item.invalid for item in items], dtype=np.int64),
            weight=np.asarray([item.weight for item in items], dtype=np.float64),
            error=np.asarray(
                [item.error if t else 0.0 for item, t in zip(items, targeted, strict=True)],
                dtype=np.float64,
            ),
            bias=np.asarray(
                [item.bias if t else 0.0 for item, t in zip(items, targeted, strict=True)],
                dtype=np.float64,
            ),
            variance=np.asarray([item.variance for item in items], dtype=np.float64),
            targeted=np.asarray(targeted, dtype=np.bool_),
            losses=tuple(sorted({item.loss for item in items})),
        )
