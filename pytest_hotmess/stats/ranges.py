"""Figures outside their valid range: flagged per item, and the unclipped aggregate kept.

Finite-K estimators are unbiased (or nearly so) on average, so a single item's estimate can
fall outside the range the true figure lies in: a negative bias, a variance above the error,
a negative error. Reports flag such items instead of hiding them, and where an aggregate is
clipped for display (bias and variance at 0, incoherence to [0, 1]) they keep the unclipped
value next to it (docs/statistics.md, 'Aggregation and weights').
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .columns import ItemColumns
from .decompose import ItemEstimate

__all__ = ["out_of_range", "unclipped"]


def out_of_range(error: float | None, bias: float | None, variance: float | None) -> list[str]:
    """Which of an item's figures lie outside their valid range, e.g. ``["bias<0"]``."""
    flags = []
    if error is not None and error < 0:
        flags.append("error<0")
    if bias is not None and bias < 0:
        flags.append("bias<0")
    if variance is not None and variance < 0:
        flags.append("variance<0")
    if error is not None and variance is not None and variance > error:
        flags.append("variance>error")
    return flags


def _weighted_mean(weights: NDArray[np.float64], values: NDArray[np.float64]) -> float | None:
    # Python's sum over the products, in item order: the figures these sums gave item by item
    total = sum(weights.tolist())
    return sum((weights * values).tolist()) / total if total > 0 else None


def unclipped(items: Sequence[ItemEstimate] | ItemColumns) -> dict[str, float]:
    """The aggregate figures that display clipping changes, by name, at their unclipped value.

    Same formulas as ``aggregate``: bias over the items with a target, variance over all,
    incoherence sum w v / sum w e. Only figures outside their display range appear.
    """
    columns = ItemColumns.of(items)
    targeted = columns.targeted
    weight = columns.weight[targeted]
    out: dict[str, float] = {}
    bias = _weighted_mean(weight, columns.bias[targeted])
    if bias is not None and bias < 0:
        out["bias"] = bias
    variance = _weighted_mean(columns.weight, columns.variance)
    if variance is not None and variance < 0:
        out["variance"] = variance
    error_sum = sum((weight * columns.error[targeted]).tolist())
    if error_sum > 0:
        ratio = sum((weight * columns.variance[targeted]).tolist()) / error_sum
        if math.isfinite(ratio) and not 0.0 <= ratio <= 1.0:
            out["incoherence"] = ratio
    return out
