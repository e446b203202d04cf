"""Ratio intervals asked for now and solved later: many suites in one search.

The default (calibrated Hall) interval of a test's incoherence is a root search whose cost is
mostly numpy's per-call overhead, paid again for each suite. A run that only shows the bounds
in its reports (nothing decides on them) keeps each suite's items as a ``PendingInterval`` and
solves a batch of them together (``solve_intervals``): suites of the same size, weights and
confidence are rows of one search. ``stats.skew``'s rows never share an evaluation, so a
suite's bounds are bitwise those ``ratio_hall_interval`` gives it alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .skew import ratio_calibrated_bounds

__all__ = ["PendingInterval", "solve_intervals"]


@dataclasses.dataclass(frozen=True, eq=False)
class PendingInterval:
    """One ratio sum w v / sum w e whose default interval is still to be solved.

    The items are those the interval is taken over (positive weight, with a target): at least
    two, with a positive error sum, so ``ratio_hall_interval`` would give bounds, not None.
    """

    variances: NDArray[np.float64]
    errors: NDArray[np.float64]
    weights: NDArray[np.float64]
    confidence: float

    def solve(self) -> tuple[float, float]:
        """The unclipped bounds now (what a batch of one gives)."""
        return solve_intervals([self])[0]

    def to_plain(self) -> dict[str, Any]:
        """Builtins (lists of floats, exact through JSON and execnet) for an xdist report."""
        return {
            "variances": self.variances.tolist(),
            "errors": self.errors.tolist(),
            "weights": self.weights.tolist(),
            "confidence": self.confidence,
        }

    @staticmethod
    def from_plain(data: Mapping[str, Any]) -> PendingInterval:
        return PendingInterval(
            np.asarray(data["variances"], dtype=np.float64),
            np.asarray(data["errors"], dtype=np.float64),
            np.asarray(data["weights"], dtype=np.float64),
            float(data["confidence"]),
        )


def solve_intervals(pending: Sequence[PendingInterval]) -> list[tuple[float, float]]:
    """Each suite's unclipped (low, high), in order: one search per (size, weights, confidence).

    Bitwise what ``ratio_hall_interval(v, e, w, confidence)`` gives each suite alone.
    """
    groups: dict[tuple[int, bytes, float], list[int]] = {}
    for index, suite in enumerate(pending):
        key = (suite.variances.shape[0], suite.weights.tobytes(), suite.confidence)
        groups.setdefault(key, []).append(index)
    out: list[tuple[float, float]] = [(0.0, 0.0)] * len(pending)
    for (_, _, confidence), members in groups.items():
        v = np.stack([pending[i].variances for i in members])
        e = np.stack([pending[i].errors for i in members])
        w = pending[members[0]].weights
        _, low, high = ratio_calibrated_bounds(v, e, w, (1.0 - confidence) / 2.0)
        for row, index in enumerate(members):
            out[index] = (float(low[row]), float(high[row]))
    return out
