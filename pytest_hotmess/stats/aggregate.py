"""Aggregate item estimates into a suite's figures, with intervals and one-sided gates.

Incoherence is a ratio of sums, sum w v / sum w e over items with a target (docs/statistics.md,
'What is measured'), so
its uncertainty comes from the spread of items, never of samples within an item:

- ``hall`` (default): every theta whose D(theta) = weighted mean of (v - theta e) passes the
  calibrated skew-corrected one-sided test of ``stats.skew`` both ways (a Fieller-type
  inversion), so the interval and the incoherence gate are one test; it covered best under
  skew (``python -m benchmarks.validity``);
- ``delta``: linearise the ratio, d_i = w_i (v_i - I e_i) / mean(w e); SE = sd(d) / sqrt(N);
  two-sided t quantile with N - 1 degrees of freedom;
- ``bootstrap``: ``scipy.stats.bootstrap`` over items (paired, BCa), seeded. When the data
  are degenerate (every d_i equal, or a resample without error) it falls back to the delta
  interval and ``interval_method`` says ``"delta"``.

Gates test a weighted mean against 0 one-sidedly with the same calibrated skew-corrected test
(docs/statistics.md, 'Gates'):
``gate_incoherence`` tests D = weighted mean of (v_i - tau e_i), which is unbiased per item,
and ``gate_mean`` the weighted mean of any per-item figure minus its threshold. Items with
zero weight carry no information and are left out of every interval and gate (they still
count in ``items``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bootstrap import paired_bca_interval
from .columns import ItemColumns
from .decompose import ItemEstimate
from .pending import PendingInterval
from .skew import (
    calibrated_bounds,
    effective_items,
    is_approximate,
    ratio_hall_interval,
    ratio_skewness,
)

__all__ = [
    "DEFAULT_INTERVAL",
    "INTERVAL_METHODS",
    "Aggregate",
    "GateDecision",
    "GateVerdict",
    "aggregate",
    "aggregate_one_loss",
    "gate_incoherence",
    "gate_mean",
    "one_sided_mean_test",
    "ratio_delta_interval",
]

GateVerdict = Literal["pass", "fail", "inconclusive"]
INTERVAL_METHODS: Final = ("hall", "delta", "bootstrap")
DEFAULT_INTERVAL: Final = "hall"


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """A suite's figures; every number is a Python builtin and ``None`` where undefined.

    ``error``, ``bias`` and ``incoherence`` are over items with a target; ``variance`` is over
    all items (variance-only items count there), so error = bias + variance holds for the
    aggregate only when every item has a target. ``bias`` and ``variance`` are clipped at 0,
    ``incoherence`` and its interval to [0, 1], for display; the gates use unclipped values.

    ``interval_approximate`` marks an interval that may cover less than its stated level
    (``stats.skew.is_approximate``: fewer than 20 items, or an unclipped estimate above 0.875,
    where suites missing the rare bias-heavy items look coherent with too narrow an
    interval); ``effective_items`` = (sum w e)^2 / sum (w e)^2 says how many items carry the
    error and ``interval_skewness`` is the skewness of the ratio's linearised terms.
    """

    items: int
    targeted_items: int
    k_min: int | None
    k_max: int | None
    invalid: int
    error: float | None
    bias: float | None
    variance: float | None
    incoherence: float | None
    incoherence_low: float | None
    incoherence_high: float | None
    confidence: float
    interval_method: str
    interval_approximate: bool = False
    effective_items: float | None = None
    interval_skewness: float | None = None
    pending: PendingInterval | None = None
    """The default interval left to solve (``aggregate(defer_interval=True)``): the bounds are
    None until ``with_interval`` gives them."""

    def to_dict(self) -> dict[str, object]:
        out = dataclasses.asdict(dataclasses.replace(self, pending=None))  # no array copies
        del out["pending"]
        return out

    def with_interval(self, bounds: tuple[float, float]) -> Aggregate:
        """The aggregate with its pending interval's (unclipped) ``bounds`` filled in."""
        low, high = _clip(bounds[0], 0.0, 1.0), _clip(bounds[1], 0.0, 1.0)
        return dataclasses.replace(self, incoherence_low=low, incoherence_high=high, pending=None)

    def settled(self) -> Aggregate:
        """The aggregate with its pending interval solved now (itself when none is)."""
        return self if self.pending is None else self.with_interval(self.pending.solve())


@dataclasses.dataclass(frozen=True)
class GateDecision:
    """A one-sided test of a weighted mean ``D <= 0``.

    ``statistic`` is the estimate of D; ``low`` and ``high`` are its one-sided lower and upper
    confidence bounds, each at the requested confidence (``-inf``/``inf`` with fewer than two
    weighted items, where nothing can be decided).
    """

    verdict: GateVerdict
    statistic: float
    low: float
    high: float


# ----------------------------------------------------------------------------------------
# array-level building blocks


def _check_confidence(confidence: float) -> float:
    value = float(confidence)
    if not 0.0 < value < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return value


def _weights(weights: ArrayLike, n: int) -> NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"expected {n} weights, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    return w


def ratio_delta_interval(
    variances: ArrayLike, errors: ArrayLike, weights: ArrayLike, confidence: float
) -> tuple[float, float] | None:
    """Delta-method interval for sum w v / sum w e (unclipped); None when undefined.

    Undefined means fewer than two items or no error at all.
    """
    confidence = _check_confidence(confidence)
    v = np.asarray(variances, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    w = _weights(weights, v.shape[0])
    n = v.shape[0]
    mean_we = float(np.mean(w * e)) if n else 0.0
    if n < 2 or not mean_we > 0:
        return None
    ratio = float(np.sum(w * v) / np.sum(w * e))
    d = w * (v - ratio * e) / mean_we
    se = float(np.std(d, ddof=1)) / math.sqrt(n)
    from scipy.special import stdtrit  # on first use: importing scipy.special costs ~0.2 s

    q = float(stdtrit(n - 1, 0.5 + confidence / 2.0))
    return ratio - q * se, ratio + q * se


def one_sided_mean_test(
    values: ArrayLike, weights: ArrayLike, confidence: float
) -> tuple[float, float, float]:
    """Weighted mean of ``values`` with its skew-corrected one-sided lower and upper bounds.

    The weighted mean is a ratio of sums, linearised like the incoherence:
    d_i = w_i (x_i - mean) / mean(w), SE = sd(d) / sqrt(N), t quantile at ``confidence`` on
    each side, with Hall's correction for the skewness of d and the small-sample calibration
    of ``stats.skew.calibrated_bounds`` (without skew or heavy tails these are the t bounds
    with N - 1 df). Fewer than two items give infinite bounds.
    """
    confidence = _check_confidence(confidence)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {x.shape}")
    w = _weights(weights, x.shape[0])
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    keep = w > 0
    x, w = x[keep], w[keep]
    n = x.shape[0]
    if n == 0:
        raise ValueError("a mean needs at least one item with positive weight")
    mean = float(np.sum(w * x) / np.sum(w))
    if n < 2:
        return mean, -math.inf, math.inf
    _, low, high = calibrated_bounds(x, w, 1.0 - confidence)
    return mean, float(low), float(high)


def _decide(mean: float, low: float, high: float) -> GateDecision:
    verdict: GateVerdict = "pass" if high < 0 else "fail" if low > 0 else "inconclusive"
    return GateDecision(verdict=verdict, statistic=mean, low=low, high=high)


# ----------------------------------------------------------------------------------------
# gates


def gate_incoherence(
    items: Sequence[ItemEstimate], max_incoherence: float, *, confidence: float
) -> GateDecision:
    """One-sided test of "incoherence <= max_incoherence" over the items with a target.

    Tests D = weighted mean_i (v_i - tau e_i) <= 0: pass when the upper bound on D is below 0,
    fail when the lower bound is above 0, otherwise inconclusive. A suite without any error
    (incoherence undefined) cannot fail: it is inconclusive.
    """
    tau = float(max_incoherence)
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"max_incoherence must be within [0, 1], got {max_incoherence!r}")
    targeted = [i for i in items if i.has_target]
    if not targeted:
        raise ValueError("an incoherence gate needs at least one item with a target")
    e = np.asarray([i.error for i in targeted], dtype=np.float64)
    v = np.asarray([i.variance for i in targeted], dtype=np.float64)
    w = np.asarray([i.weight for i in targeted], dtype=np.float64)
    mean, low, high = one_sided_mean_test(v - tau * e, w, confidence)
    if not float(np.sum(w * e)) > 0:
        return GateDecision(verdict="inconclusive", statistic=mean, low=low, high=high)
    return _decide(mean, low, high)


def gate_mean(
    values: Sequence[float], weights: Sequence[float], threshold: float, *, confidence: float
) -> GateDecision:
    """One-sided test of "weighted mean of values <= threshold" (error, bias, variance gates).

    ``statistic``, ``low`` and ``high`` are about D = weighted mean - threshold.
    """
    limit = float(threshold)
    if not math.isfinite(limit):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    mean, low, high = one_sided_mean_test(values, weights, confidence)
    return _decide(mean - limit, low - limit, high - limit)


# ----------------------------------------------------------------------------------------
# aggregate


def _weighted_mean(values: NDArray[np.float64], weights: NDArray[np.float64]) -> float | None:
    total = float(np.sum(weights))
    if not total > 0:
        return None
    return float(np.sum(weights * values) / total)


def _clip(value: float | None, low: float, high: float = math.inf) -> float | None:
    return None if value is None else min(max(value, low), high)


def _bootstrap_interval(
    v: NDArray[np.float64],
    e: NDArray[np.float64],
    w: NDArray[np.float64],
    confidence: float,
    n_resamples: int,
    seed: int | None,
) -> tuple[float, float] | None:
    """BCa bootstrap over items of sum w v / sum w e; None when it cannot give an interval."""

    def ratio(wv: NDArray[np.float64], we: NDArray[np.float64], axis: int = -1) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(wv, axis=axis) / np.sum(we, axis=axis)

    ratio_all = float(np.sum(w * v) / np.sum(w * e))
    d = w * (v - ratio_all * e)
    if float(np.ptp(d)) <= 1e-12 * max(1.0, float(np.max(np.abs(d)))):
        return None  # every resample gives the same ratio: BCa is undefined
    return paired_bca_interval(
        (w * v, w * e),
        ratio,
        confidence=confidence,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )


def aggregate(
    items: Sequence[ItemEstimate] | ItemColumns,
    *,
    confidence: float = 0.95,
    interval: str = DEFAULT_INTERVAL,
    n_resamples: int = 2000,
    seed: int | None = None,
    defer_interval: bool = False,
) -> Aggregate:
    """Combine item estimates: weighted means, ratio-of-sums incoherence and its interval.

    Each item was estimated with its own K; items, not samples, are weighted. Deterministic
    for a given ``seed``. ``items`` may be their columns (``ItemColumns``), read once.
    ``defer_interval`` leaves the default interval to be solved later, with other suites'
    (``pending``; ``stats.pending``); other methods are computed at once.
    """
    confidence = _check_confidence(confidence)
    if interval not in INTERVAL_METHODS:
        raise ValueError(f"interval must be one of {', '.join(INTERVAL_METHODS)}, got {interval!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int, got {n_resamples!r}")
    columns = ItemColumns.of(items)
    n = len(columns)
    targeted = columns.targeted
    n_targeted = int(np.count_nonzero(targeted))
    w_all, v_all = columns.weight, columns.variance
    error: float | None = None
    bias: float | None = None
    incoherence: float | None = None
    low: float | None = None
    high: float | None = None
    method = interval
    approximate = False
    n_eff: float | None = None
    skewness: float | None = None
    pending: PendingInterval | None = None
    if n_targeted:
        w = w_all[targeted]
        e = columns.error[targeted]
        b = columns.bias[targeted]
        v = v_all[targeted]
        error = _weighted_mean(e, w)
        bias = _clip(_weighted_mean(b, w), 0.0)
        error_sum = float(np.sum(w * e))
        if error_sum > 0:
            incoherence = _clip(float(np.sum(w * v)) / error_sum, 0.0, 1.0)
            keep = w > 0
            bounds = None
            if interval == "bootstrap" and int(np.sum(keep)) >= 2:
                bounds = _bootstrap_interval(
                    v[keep], e[keep], w[keep], confidence, n_resamples, seed
                )
                if bounds is None:
                    method = "delta"
            defer = defer_interval and interval == "hall" and int(np.sum(keep)) >= 2
            if defer:  # ratio_hall_interval would give bounds: >= 2 items, error_sum > 0
                pending = PendingInterval(v[keep], e[keep], w[keep], confidence)
            elif bounds is None and interval == "hall":
                bounds = ratio_hall_interval(v[keep], e[keep], w[keep], confidence)
            if bounds is None and pending is None:
                bounds = ratio_delta_interval(v[keep], e[keep], w[keep], confidence)
            n_eff = effective_items(e[keep], w[keep])
            skewness = ratio_skewness(v[keep], e[keep], w[keep])
            ratio = float(np.sum(w * v)) / error_sum
            has_interval = bounds is not None or pending is not None
            approximate = has_interval and is_approximate(int(np.sum(keep)), ratio)
            if bounds is not None:
                low, high = _clip(bounds[0], 0.0, 1.0), _clip(bounds[1], 0.0, 1.0)
    return Aggregate(
        items=n,
        targeted_items=n_targeted,
        k_min=int(np.min(columns.k)) if n else None,
        k_max=int(np.max(columns.k)) if n else None,
        invalid=int(np.sum(columns.invalid)),
        error=error,
        bias=bias,
        variance=_clip(_weighted_mean(v_all, w_all), 0.0) if n else None,
        incoherence=incoherence,
        incoherence_low=low,
        incoherence_high=high,
        confidence=confidence,
        interval_method=method,
        interval_approximate=approximate,
        effective_items=n_eff,
        interval_skewness=skewness,
        pending=pending,
    )


def aggregate_one_loss(
    estimates: Sequence[ItemEstimate] | ItemColumns,
    *,
    confidence: float,
    defer_interval: bool = False,
) -> tuple[Aggregate, list[str]]:
    """Aggregate items that share one loss; with several, only the counts are defined.

    Error, bias and variance are in the units of their loss (Brier, KL in nats, squared
    distance), so a sum across losses means nothing.
    """
    columns = ItemColumns.of(estimates)
    losses = list(columns.losses)
    if len(losses) <= 1:
        agg = aggregate(columns, confidence=confidence, defer_interval=defer_interval)
        return agg, losses
    counts_only = dataclasses.replace(
        aggregate([], confidence=confidence),
        items=len(columns),
        targeted_items=int(np.count_nonzero(columns.targeted)),
        k_min=int(np.min(columns.k)),
        k_max=int(np.max(columns.k)),
        invalid=int(np.sum(columns.invalid)),
    )
    return counts_only, losses
