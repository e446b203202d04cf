"""A run's pooled aggregate from its items read back in bounded passes, to the same last bit.

``aggregate_one_loss`` and ``ranges.unclipped`` over a run's million items hold every column,
its targeted and weighted copies and the interval's terms at once (~170 bytes an item at the
end of the run). Here the items come a range at a time (``Reader``, e.g. from a spill file,
``stats.spilled``): a first pass counts them, carries ``unclipped``'s Python sums and copies
the targeted items to a scratch file; each numpy sum is then taken in the order ``np.sum``
adds a whole array (``_pairwise``: its halving tree, the leaves summed by ``np.sum`` itself),
and the interval's expansion in the chunks ``skew._expansion`` takes. Every figure is the one
the whole-array code gives, to the last bit; ``unclipped``'s sums too on Python 3.10-3.11
(from 3.12 ``sum`` compensates within each call: they may then differ in the last bits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from . import skew
from .aggregate import (
    DEFAULT_INTERVAL,
    Aggregate,
    _check_confidence,
    _clip,
    aggregate,
    aggregate_one_loss,
)
from .columns import ItemColumns
from .ranges import unclipped
from .skew import (
    _BINOMIAL,
    _LAYOUT,
    RatioTerms,
    TermMoments,
    _products,
    _shape,
    calibrated_ratio_search,
    is_approximate,
)
from .spilled import SpilledRows

__all__ = ["Pooled", "Reader", "pooled_aggregate"]

Reader = Callable[[int, int], ItemColumns]
"""``read(start, stop)``: the pooled items ``start`` to ``stop`` (in their order) as columns."""

LEAF: Final = 1 << 15
"""Items read at once (a few MB of temporaries); runs up to this size are aggregated whole."""

_BLOCK: Final = 128
"""numpy halves only arrays longer than this (``PW_BLOCKSIZE``); shorter ones it adds whole."""

_TARGETED: Final = np.dtype([("w", "<f8"), ("e", "<f8"), ("b", "<f8"), ("v", "<f8")])


@dataclasses.dataclass(frozen=True)
class Pooled:
    """``aggregate_one_loss``'s aggregate and losses, and ``unclipped``'s figures when the
    totals show them (one loss and an error), else none."""

    aggregate: Aggregate
    losses: list[str]
    unclipped: dict[str, float]


def pooled_aggregate(read: Reader, n: int, *, confidence: float) -> Pooled:
    """The figures of ``aggregate_one_loss`` (default interval) and ``unclipped`` over ``n``
    items, holding a bounded number of them in memory at a time."""
    confidence = _check_confidence(confidence)
    if n <= LEAF:
        columns = read(0, n)
        agg, losses = aggregate_one_loss(columns, confidence=confidence)
        shown = len(losses) <= 1 and agg.error is not None
        return Pooled(agg, losses, unclipped(columns) if shown else {})
    scan = _Scan(read, n)
    try:
        return scan.pooled(confidence)
    finally:
        scan.close()


class _Scan:
    """The first pass's counts and Python sums, and the targeted items in scratch files."""

    def __init__(self, read: Reader, n: int) -> None:
        self.read, self.n = read, n
        self.targeted = SpilledRows(_TARGETED)
        """Items with a target: weight, error, bias, variance."""
        self.kept = {name: SpilledRows(np.float64) for name in "wev"}
        """Those with a positive weight (the interval's items), one contiguous column each."""
        self.k_min: int | None = None
        self.k_max: int | None = None
        self.invalid = 0
        names: set[str] = set()
        # ``ranges.unclipped``'s sums: Python's, in item order, carried from range to range
        sums: dict[str, Any] = dict.fromkeys(("w_t", "wb_t", "we_t", "wv_t", "w", "wv"), 0)
        bounds = [np.inf, -np.inf, np.inf, -np.inf]  # min and max of v, then of e (kept items)
        for start in range(0, n, LEAF):
            columns = read(start, min(start + LEAF, n))
            names.update(columns.losses)
            if len(columns):
                low, high = int(np.min(columns.k)), int(np.max(columns.k))
                self.k_min = low if self.k_min is None else min(self.k_min, low)
                self.k_max = high if self.k_max is None else max(self.k_max, high)
            self.invalid += int(np.sum(columns.invalid))
            t = columns.targeted
            w, e, b, v = columns.weight[t], columns.error[t], columns.bias[t], columns.variance[t]
            sums["w_t"] = sum(w.tolist(), sums["w_t"])
            sums["wb_t"] = sum((w * b).tolist(), sums["wb_t"])
            sums["we_t"] = sum((w * e).tolist(), sums["we_t"])
            sums["wv_t"] = sum((w * v).tolist(), sums["wv_t"])
            sums["w"] = sum(columns.weight.tolist(), sums["w"])
            sums["wv"] = sum((columns.weight * columns.variance).tolist(), sums["wv"])
            rows = np.empty(len(w), dtype=_TARGETED)
            rows["w"], rows["e"], rows["b"], rows["v"] = w, e, b, v
            self.targeted.append(rows)
            keep = w > 0
            for name, column in (("w", w[keep]), ("e", e[keep]), ("v", v[keep])):
                self.kept[name].append(column)
            if keep.any():
                bounds = [
                    min(bounds[0], float(np.min(v[keep]))),
                    max(bounds[1], float(np.max(v[keep]))),
                    min(bounds[2], float(np.min(e[keep]))),
                    max(bounds[3], float(np.max(e[keep]))),
                ]
        self.losses = sorted(names)
        self.sums = sums
        self.same = bounds[1] - bounds[0] == 0 and bounds[3] - bounds[2] == 0
        """Every kept item alike: the expansion's terms are exactly 0 (``skew._expansion``)."""

    def close(self) -> None:
        self.targeted.close()
        for column in self.kept.values():
            column.close()

    def pooled(self, confidence: float) -> Pooled:
        n, n_targeted = self.n, len(self.targeted)
        if len(self.losses) > 1:  # as ``aggregate_one_loss``: only the counts are defined
            counts = dataclasses.replace(
                aggregate([], confidence=confidence),
                items=n,
                targeted_items=n_targeted,
                k_min=self.k_min,
                k_max=self.k_max,
                invalid=self.invalid,
            )
            return Pooled(counts, self.losses, {})
        w_sum, wv_sum = _pairwise(self._all_sums, n)
        total = float(w_sum)
        variance = _clip(float(wv_sum / total), 0.0) if total > 0 else None
        figures: dict[str, Any] = {}
        if n_targeted:
            figures = self._targeted_figures(confidence)
        agg = Aggregate(
            items=n,
            targeted_items=n_targeted,
            k_min=self.k_min,
            k_max=self.k_max,
            invalid=self.invalid,
            error=figures.get("error"),
            bias=figures.get("bias"),
            variance=variance,
            incoherence=figures.get("incoherence"),
            incoherence_low=figures.get("low"),
            incoherence_high=figures.get("high"),
            confidence=confidence,
            interval_method=DEFAULT_INTERVAL,
            interval_approximate=figures.get("approximate", False),
            effective_items=figures.get("effective_items"),
            interval_skewness=figures.get("skewness"),
        )
        return Pooled(agg, self.losses, self._unclipped() if agg.error is not None else {})

    def _all_sums(self, start: int, stop: int) -> NDArray[np.float64]:
        columns = self.read(start, stop)
        w, v = columns.weight, columns.variance
        return np.asarray([np.sum(w), np.sum(w * v)])

    def _targeted_sums(self, start: int, stop: int) -> NDArray[np.float64]:
        rows = self.targeted.read(start, stop)
        w, e, b, v = (np.ascontiguousarray(rows[name]) for name in "webv")
        return np.asarray([np.sum(w), np.sum(w * e), np.sum(w * b), np.sum(w * v)])

    def _targeted_figures(self, confidence: float) -> dict[str, Any]:
        """``aggregate``'s figures over the items with a target (there are some)."""
        w_sum, we_sum, wb_sum, wv_sum = _pairwise(self._targeted_sums, len(self.targeted))
        total = float(w_sum)
        figures: dict[str, Any] = {}
        if total > 0:
            figures["error"] = float(we_sum / total)
            figures["bias"] = _clip(float(wb_sum / total), 0.0)
        error_sum = float(we_sum)
        if not error_sum > 0:
            return figures
        figures["incoherence"] = _clip(float(wv_sum) / error_sum, 0.0, 1.0)
        kept = self._kept_figures(confidence)
        bounds = kept.get("bounds")
        ratio = float(wv_sum) / error_sum
        figures["approximate"] = bounds is not None and is_approximate(len(self.kept["w"]), ratio)
        if bounds is not None:
            figures["low"], figures["high"] = _clip(bounds[0], 0.0, 1.0), _clip(bounds[1], 0.0, 1.0)
        figures["effective_items"] = kept.get("effective_items")
        figures["skewness"] = kept.get("skewness")
        return figures

    def _kept_figures(self, confidence: float) -> dict[str, Any]:
        """The interval, effective items and skewness over the targeted items with a positive
        weight: ``ratio_hall_interval``, ``effective_items`` and ``ratio_skewness``."""
        items = _KeptItems(self.kept, self.same)
        wv_sum, we_sum, square = items.wv_sum, items.we_sum, items.square
        figures: dict[str, Any] = {}
        total = float(we_sum)
        if total > 0 and float(square) > 0:
            figures["effective_items"] = total * total / float(square)
        if items.n < 2 or not total > 0:
            return figures
        center = np.asarray([wv_sum / we_sum])
        mean0, coefficients, magnitudes = items.expansion(center)
        if items.n >= 3:
            mean, sums = items.moments(center)
            moments = TermMoments(float(items.n), mean, *sums.T)
            _, sd, gamma = _shape(moments)
            figures["skewness"] = float(gamma[0]) if float(sd[0]) > 0 else None
        w, e, v = (self.kept[name].mapped() for name in "wev")
        terms = _PassedTerms(
            float(items.n), center, mean0, np.asarray([we_sum / items.w_sum]),
            coefficients, magnitudes, v[None, :], e[None, :], w, np.arange(1), items,
        )  # fmt: skip
        _, low, high = calibrated_ratio_search(terms, (1.0 - confidence) / 2.0)
        figures["bounds"] = (float(low[0]), float(high[0]))
        return figures

    def _unclipped(self) -> dict[str, float]:
        """``ranges.unclipped`` from the first pass's sums."""
        sums, out = self.sums, {}
        if sums["w_t"] > 0 and (bias := sums["wb_t"] / sums["w_t"]) < 0:
            out["bias"] = bias
        if sums["w"] > 0 and (variance := sums["wv"] / sums["w"]) < 0:
            out["variance"] = variance
        if sums["we_t"] > 0:
            ratio = sums["wv_t"] / sums["we_t"]
            if np.isfinite(ratio) and not 0.0 <= ratio <= 1.0:
                out["incoherence"] = ratio
        return out


class _KeptItems:
    """The interval's items (targeted, positive weight) in their files, and the passes over
    them that ``skew`` makes over whole arrays: sums, the expansion, moments at given thetas."""

    def __init__(self, kept: dict[str, SpilledRows], same: bool) -> None:
        self.kept, self.same, self.n = kept, same, len(kept["w"])

        def sums(start: int, stop: int) -> NDArray[np.float64]:
            w, e, v = self.read(start, stop)
            we = w * e
            return np.asarray([np.sum(w * v), np.sum(w * e), np.sum(w), np.sum(we * we)])

        self.wv_sum, self.we_sum, self.w_sum, self.square = _pairwise(sums, self.n)
        self.mean_e = self.we_sum / self.w_sum
        self.mean_w = float(self.w_sum / self.n)  # float(np.mean(w))

    def read(self, start: int, stop: int) -> tuple[NDArray[np.float64], ...]:
        return tuple(self.kept[name].read(start, stop) for name in "wev")

    def _leaf(self, points: int) -> int:
        """Items a pass reads at once: (points, items) temporaries stay near a LEAF's."""
        return max(LEAF // max(points, 1), _BLOCK)

    def _centred(
        self, start: int, stop: int, theta: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """w, e and x = v - theta e (a row per theta) of items ``start`` to ``stop``."""
        w, e, v = self.read(start, stop)
        return w, e, v[None, :] - theta[:, None] * e[None, :]

    def means(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """D(theta) = sum w (v - theta e) / sum w at each theta (``skew._power_sums``)."""

        def sums(start: int, stop: int) -> NDArray[np.float64]:
            w, _, x = self._centred(start, stop, theta)
            result: NDArray[np.float64] = np.sum(w * x, axis=-1)
            return result

        result: NDArray[np.float64] = _pairwise(sums, self.n, self._leaf(len(theta))) / self.w_sum
        return result

    def _terms(
        self, start: int, stop: int, theta: NDArray[np.float64], mean: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """d = w (x - D) / mean(w) at each theta, and the centred terms b of e."""
        w, e, x = self._centred(start, stop, theta)
        return w * (x - mean[:, None]) / self.mean_w, w * (e - self.mean_e) / self.mean_w

    def moments(
        self, theta: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """D(theta) and the sums of d^2, d^3, d^4 (theta, 3) from the items
        (``skew._term_moments``)."""
        mean = self.means(theta)

        def sums(start: int, stop: int) -> NDArray[np.float64]:
            d, _ = self._terms(start, stop, theta, mean)
            square = d * d
            parts = [np.sum(square, axis=-1), np.sum(square * d, axis=-1)]
            return np.stack([*parts, np.sum(np.square(square), axis=-1)], axis=1)

        return mean, _pairwise(sums, self.n, self._leaf(len(theta)))

    def expansion(
        self, center: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """D(center) and the (1, 5, 3) coefficients and magnitudes of ``RatioTerms`` around
        it, in the chunks of ``skew._expansion``."""
        mean0 = self.means(center)
        coefficients, magnitudes = np.zeros((1, 15)), np.zeros((1, 15))
        if not self.same:  # every item alike: the terms are exactly 0 (``skew._expansion``)
            for start in range(0, self.n, skew._CHUNK):
                c, b = self._terms(start, start + skew._CHUNK, center, mean0)
                products = _products(c, b[None, :])
                coefficients[:, _LAYOUT] += np.sum(products, axis=-1) * _BINOMIAL
                magnitudes[:, _LAYOUT] += np.sum(np.abs(products), axis=-1) * np.abs(_BINOMIAL)
        return mean0, coefficients.reshape(1, 5, 3), magnitudes.reshape(1, 5, 3)


@dataclasses.dataclass
class _PassedTerms(RatioTerms):
    """``RatioTerms`` whose fallbacks (re-centring, moments from the items) make bounded
    passes over the items' files instead of reading ``v`` and ``e`` whole."""

    items: _KeptItems | None = None

    def take(self, rows: NDArray[np.intp]) -> RatioTerms:
        taken = super().take(rows)
        fields = {f.name: getattr(taken, f.name) for f in dataclasses.fields(RatioTerms)}
        return _PassedTerms(**fields, items=self.items)

    def _items_expansion(
        self, row: int, center: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        assert self.items is not None
        return self.items.expansion(center)

    def _items_moments(
        self, row: int, theta: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        assert self.items is not None
        return self.items.moments(theta)


def _pairwise(
    leaf_sums: Callable[[int, int], NDArray[np.float64]], n: int, leaf: int | None = None
) -> NDArray[np.float64]:
    """Sums over items [0, n) added in ``np.sum``'s order for a length-n array.

    numpy sums a contiguous array pairwise: the first half (a multiple of 8 items) and the
    rest, recursively, down to blocks it adds in a fixed unrolled order. Halving the same way
    down to ranges of at most ``leaf`` items and summing each with ``np.sum`` itself walks the
    same tree: ``leaf_sums(start, stop)`` gives a range's sums (several figures at once)."""
    leaf = max(LEAF if leaf is None else leaf, _BLOCK)
    if n <= leaf:
        return leaf_sums(0, n)
    half = n // 2
    half -= half % 8
    low = _pairwise(leaf_sums, half, leaf)
    return low + _pairwise(lambda a, b: leaf_sums(half + a, half + b), n - half, leaf)
