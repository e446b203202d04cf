"""The losses: one class per loss, and the registry every other module reads.

A loss says which outcome kinds it fits and how to split its expected value over K samples
into error, bias and variance (docs/statistics.md, 'Losses'). Adding a loss means writing one
subclass of :class:`Loss` and decorating it with :func:`register_loss`; the marker, hotmess.yaml,
kind inference and the decomposition all read :data:`LOSSES`.

Two hooks carry the math, both returning ``(error, bias, variance)`` arrays with NaN error and
bias where an item has no target:

- :meth:`Loss.count_terms` for categorical items, from answer counts (vectorised over items);
- :meth:`Loss.sample_terms` for the other kinds, from one item's samples (numeric and binary
  samples have shape ``(K,)``, vector, coverage and distribution samples ``(K, D)``; vector
  losses are summed over the D coordinates; coverage's mean over checks is the kind's rule,
  applied by the caller).

:meth:`Loss.batch_sample_terms` takes N such items of one shape at once (``stats.batch``
calls it); by default it calls ``sample_terms`` item by item, and the built-in losses override
it with array code that gives the same numbers.
"""

from __future__ import annotations

import math
from typing import ClassVar, Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from .kinds import KINDS, Estimator, Kind
from .kl_bootstrap import KL_BOOTSTRAP_MAX_K, bootstrap_expectation

__all__ = [
    "KL_DELTA",
    "LOSSES",
    "BrierLoss",
    "KLLoss",
    "Loss",
    "SquaredLoss",
    "Terms",
    "default_loss",
    "register_loss",
    "selectable_losses",
    "squared_terms",
]

KL_DELTA: Final = 1e-12
"""Smoothing added to every probability before taking logs (docs/statistics.md, 'Losses')."""

Terms = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
"""(error, bias, variance), one entry per item."""


class Loss:
    """One loss: its name, the outcome kinds it fits, and its bias/variance split.

    ``default_for`` lists the kinds whose items use this loss when none is named (each kind
    has exactly one default). ``selectable`` says whether a marker or hotmess.yaml may name
    it. ``vectors_are_distributions`` makes kind inference read float vectors as probability
    vectors when this loss is named.
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[Kind, ...]]
    default_for: ClassVar[tuple[Kind, ...]] = ()
    selectable: ClassVar[bool] = True
    vectors_are_distributions: ClassVar[bool] = False

    def count_terms(
        self, counts: NDArray[np.float64], target_index: NDArray[np.int64], estimator: Estimator
    ) -> Terms:
        """Split of N categorical items from their (N, C) answer counts (target -1: none)."""
        raise ValueError(f"loss {self.name!r} does not fit categorical outcomes")

    def sample_terms(
        self, samples: NDArray[np.float64], target: NDArray[np.float64], estimator: Estimator
    ) -> tuple[float, float, float]:
        """Split of one non-categorical item from its samples; a NaN target means none."""
        raise ValueError(f"loss {self.name!r} does not fit sampled outcomes")

    def batch_sample_terms(
        self, samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
    ) -> Terms:
        """Split of N items of one shape: ``samples`` (N, K) or (N, K, D), ``targets`` (N,) or
        (N, D), NaN for none. This default is the per-item path; override it to vectorise."""
        terms = [self.sample_terms(s, t, estimator) for s, t in zip(samples, targets, strict=True)]
        e, b, v = (np.asarray(column, dtype=np.float64) for column in zip(*terms, strict=True))
        return e, b, v

    def __repr__(self) -> str:
        return f"<loss {self.name!r}>"


_L = TypeVar("_L", bound=type[Loss])

LOSSES: Final[dict[str, Loss]] = {}
"""Every loss by name, in registration order (the order error messages list them in)."""


def register_loss(cls: _L) -> _L:
    """Class decorator: add one instance of ``cls`` to :data:`LOSSES` under ``cls.name``."""
    name = cls.name
    if name in LOSSES:
        raise ValueError(f"a loss named {name!r} is already registered")
    unknown = [kind for kind in (*cls.kinds, *cls.default_for) if kind not in KINDS]
    if unknown or not cls.kinds or not set(cls.default_for) <= set(cls.kinds):
        raise ValueError(f"loss {name!r}: kinds {cls.kinds} / default_for {cls.default_for}")
    taken = [kind for kind in cls.default_for if _default_or_none(kind) is not None]
    if taken:
        raise ValueError(f"loss {name!r}: {', '.join(taken)} already have a default loss")
    LOSSES[name] = cls()
    return cls


def _default_or_none(kind: Kind) -> Loss | None:
    return next((loss for loss in LOSSES.values() if kind in loss.default_for), None)


def default_loss(kind: Kind) -> Loss:
    """The loss an item of ``kind`` uses when none is named."""
    loss = _default_or_none(kind)
    if loss is None:  # pragma: no cover - every kind has a default below
        raise LookupError(f"no default loss for {kind} outcomes")
    return loss


def selectable_losses() -> tuple[str, ...]:
    """The names a marker or hotmess.yaml may give as ``loss``."""
    return tuple(name for name, loss in LOSSES.items() if loss.selectable)


# ----------------------------------------------------------------------------------------
# shared pieces


def _hits(
    counts: NDArray[np.float64], target_index: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """K per item, the count of the target answer, and whether there is a target."""
    k = counts.sum(axis=1)
    has_target = target_index >= 0
    rows = np.arange(counts.shape[0])
    hit = counts[rows, np.where(has_target, target_index, 0)]
    return k, hit, has_target


def squared_terms(
    samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
) -> Terms:
    """Squared-error split of N scalar items: ``samples`` (N, K), ``targets`` (N,), NaN = none.

    Unbiased: variance with ddof=1, bias = (mean - t)^2 - variance / K; jackknife equals it.
    """
    k = samples.shape[1]
    mean = samples.mean(axis=1)
    squares = ((samples - mean[:, None]) ** 2).sum(axis=1)
    error = ((samples - targets[:, None]) ** 2).mean(axis=1)
    offset = (mean - targets) ** 2
    if estimator == "plugin":
        variance = squares / k
        return error, offset, variance
    variance = squares / (k - 1)
    return error, offset - variance / k, variance


def _summed_squared_terms(
    samples: NDArray[np.float64], target: NDArray[np.float64], estimator: Estimator
) -> tuple[float, float, float]:
    """Squared split of one item: a scalar per sample, or a vector summed over coordinates."""
    if samples.ndim == 1:
        e, b, v = squared_terms(samples[None, :], target.reshape(1), estimator)
        return float(e[0]), float(b[0]), float(v[0])
    e, b, v = squared_terms(samples.T, target, estimator)  # rows = coordinates
    return float(np.sum(e)), float(np.sum(b)), float(np.sum(v))


def _batch_summed_squared_terms(
    samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
) -> Terms:
    """``_summed_squared_terms`` of N items at once: (N, K) scalars or (N, K, D) vectors."""
    if samples.ndim == 2:
        return squared_terms(samples, targets, estimator)
    n, k, d = samples.shape
    rows = np.ascontiguousarray(samples.transpose(0, 2, 1)).reshape(n * d, k)
    e, b, v = squared_terms(rows, targets.reshape(n * d), estimator)
    return e.reshape(n, d).sum(axis=1), b.reshape(n, d).sum(axis=1), v.reshape(n, d).sum(axis=1)


def _logsumexp(a: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    """log(sum(exp(a))) along ``axis`` without overflow (all entries here are finite)."""
    top = a.max(axis=axis, keepdims=True)
    total = np.log(np.exp(a - top).sum(axis=axis)) + np.squeeze(top, axis=axis)
    return np.asarray(total, dtype=np.float64)


def _use_bootstrap(estimator: Estimator, k: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which items take the bootstrap correction: all under ``bootstrap``; under ``unbiased``
    those with K <= KL_BOOTSTRAP_MAX_K, where it is less biased than the jackknife."""
    if estimator == "bootstrap":
        return np.ones(k.shape, dtype=bool)
    if estimator == "unbiased":
        return np.asarray(k <= KL_BOOTSTRAP_MAX_K)
    return np.zeros(k.shape, dtype=bool)


def _distribution_bootstrap(log_f: NDArray[np.float64]) -> float:
    """Bootstrap mean of one item's plug-in KL variance; ``log_f`` (K, C) smoothed log samples.

    Identical samples are one atom, so one-hot samples give exactly the categorical result.
    """
    atoms, counts = np.unique(log_f, axis=0, return_counts=True)
    if atoms.shape[0] < 2:
        return 0.0

    def plugin(draws: NDArray[np.float64]) -> NDArray[np.float64]:
        mean_log = draws @ atoms / draws.sum(axis=1, keepdims=True)
        variance = np.maximum(-_logsumexp(mean_log, axis=1), 0.0)
        return np.where((draws > 0).sum(axis=1) == 1, 0.0, variance)

    return bootstrap_expectation(counts.astype(np.float64), plugin)


# ----------------------------------------------------------------------------------------
# the losses


@register_loss
class BrierLoss(Loss):
    """Brier score: squared distance between probability vectors (one-hot for answers)."""

    name = "brier"
    kinds = ("categorical", "distribution")
    default_for = ("categorical", "distribution")

    def count_terms(
        self, counts: NDArray[np.float64], target_index: NDArray[np.int64], estimator: Estimator
    ) -> Terms:
        # One-hot Brier: error = 2(1 - p_y); plug-in variance = 1 - sum p_c^2; the unbiased one
        # is (K^2 - sum n_c^2) / (K(K-1)), written on counts so it is exact for integer data.
        k, hit, has_target = _hits(counts, target_index)
        error = np.where(has_target, 2.0 * (1.0 - hit / k), np.nan)
        disagreeing_pairs = k * k - (counts * counts).sum(axis=1)
        if estimator == "plugin":
            variance = disagreeing_pairs / (k * k)
        else:
            variance = disagreeing_pairs / (k * (k - 1.0))
        return error, error - variance, variance

    def sample_terms(
        self, samples: NDArray[np.float64], target: NDArray[np.float64], estimator: Estimator
    ) -> tuple[float, float, float]:
        return _summed_squared_terms(samples, target, estimator)

    def batch_sample_terms(
        self, samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
    ) -> Terms:
        return _batch_summed_squared_terms(samples, targets, estimator)


@register_loss
class SquaredLoss(Loss):
    """Squared error; for vectors the squared Euclidean distance (summed over coordinates).

    The only loss of its kinds, so it is implied by the kind and never named in a marker.
    """

    name = "squared"
    kinds = ("binary", "numeric", "vector", "coverage")
    default_for = ("binary", "numeric", "vector", "coverage")
    selectable = False

    def sample_terms(
        self, samples: NDArray[np.float64], target: NDArray[np.float64], estimator: Estimator
    ) -> tuple[float, float, float]:
        return _summed_squared_terms(samples, target, estimator)

    def batch_sample_terms(
        self, samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
    ) -> Terms:
        return _batch_summed_squared_terms(samples, targets, estimator)


@register_loss
class KLLoss(Loss):
    """KL divergence from the target to each sample, on probabilities smoothed by ``delta``.

    Error and bias are measured from the smoothing floor, so an always-right model has error 0.
    There is no unbiased variance estimator, so ``unbiased`` means the least biased one in
    ``python -m benchmarks.kl_bias`` at the item's K: ``bootstrap`` (see :mod:`.kl_bootstrap`)
    up to K = ``KL_BOOTSTRAP_MAX_K``, ``jackknife`` above.
    """

    name = "kl"
    kinds = ("categorical", "distribution")
    vectors_are_distributions = True

    def __init__(self, delta: float = KL_DELTA) -> None:
        self.delta = delta

    def count_terms(
        self, counts: NDArray[np.float64], target_index: NDArray[np.int64], estimator: Estimator
    ) -> Terms:
        # Smoothed one-hot samples have entries hi or lo, so mean_k log f_k[c] = log_lo + p_c * L
        # with L = log_hi - log_lo: the geometric mean only needs the counts. Measured from the
        # smoothing floor (-log_hi), the error is (1 - p_y) * L, exactly 0 when always right.
        k, hit, has_target = _hits(counts, target_index)
        log_hi, log_lo = self._smoothing_logs(counts.shape[1])
        spread = log_hi - log_lo
        p = counts / k[:, None]
        error = np.where(has_target, (1.0 - hit / k) * spread, np.nan)
        variance = self._count_variance(p, log_hi, spread)
        if estimator != "plugin":
            loo = self._count_leave_one_out(counts, k, spread, log_lo)
            jackknife = k * variance - (k - 1.0) * loo
            boot = _use_bootstrap(estimator, k)
            if np.any(boot):
                corrected = 2.0 * variance - self._count_bootstrap(counts, log_hi, spread, boot)
                variance = np.where(boot, corrected, jackknife)
            else:
                variance = jackknife
        unanimous = p.max(axis=1) == 1.0
        variance = np.where(unanimous, 0.0, variance)
        return error, error - variance, variance

    def sample_terms(
        self, samples: NDArray[np.float64], target: NDArray[np.float64], estimator: Estimator
    ) -> tuple[float, float, float]:
        e, b, v = self.distribution_terms(samples[None], target[None], estimator)
        return float(e[0]), float(b[0]), float(v[0])

    def batch_sample_terms(
        self, samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
    ) -> Terms:
        return self.distribution_terms(samples, targets, estimator)

    def _smoothing_logs(self, columns: int) -> tuple[float, float]:
        """log of a smoothed one-hot's high and low entries: (1+d)/(1+Cd) and d/(1+Cd)."""
        delta = self.delta
        if not delta > 0:
            raise ValueError(f"delta must be > 0, got {delta!r}")
        log_norm = math.log1p(columns * delta)
        return math.log1p(delta) - log_norm, math.log(delta) - log_norm

    @staticmethod
    def _count_variance(
        p: NDArray[np.float64], log_hi: float, spread: float
    ) -> NDArray[np.float64]:
        """Plug-in KL variance -log Z, with log Z = log_lo + logsumexp_c(p_c L).

        Written around the most frequent answer, log Z = log_hi + (p_max - 1) L +
        log1p(sum over the other columns of exp((p_c - p_max) L)), which keeps full precision
        when the samples nearly agree (Z is then within 1e-12 of 1).
        """
        top = p.argmax(axis=1)
        rows = np.arange(p.shape[0])
        p_max = p[rows, top]
        others = np.exp((p - p_max[:, None]) * spread)
        others[rows, top] = 0.0
        log_z = log_hi + (p_max - 1.0) * spread + np.log1p(others.sum(axis=1))
        result: NDArray[np.float64] = np.maximum(-log_z, 0.0)  # >= 0 by AM-GM; clip rounding
        return result

    @classmethod
    def _count_bootstrap(
        cls,
        counts: NDArray[np.float64],
        log_hi: float,
        spread: float,
        rows: NDArray[np.bool_],
    ) -> NDArray[np.float64]:
        """Per item (of ``rows``), the bootstrap mean of the plug-in variance over resamples
        of its answers."""
        out = np.zeros(counts.shape[0])
        for row, n in enumerate(counts):
            seen = np.flatnonzero(n > 0)
            if not rows[row] or seen.size < 2:
                continue  # unanimous: every resample has variance 0

            def plugin(
                draws: NDArray[np.float64], seen: NDArray[np.intp] = seen
            ) -> NDArray[np.float64]:
                p = np.zeros((draws.shape[0], counts.shape[1]))
                p[:, seen] = draws / draws.sum(axis=1, keepdims=True)
                variance = cls._count_variance(p, log_hi, spread)
                return np.where(p.max(axis=1) == 1.0, 0.0, variance)

            out[row] = bootstrap_expectation(n[seen], plugin)
        return out

    @staticmethod
    def _count_leave_one_out(
        n: NDArray[np.float64], k: NDArray[np.float64], spread: float, log_lo: float
    ) -> NDArray[np.float64]:
        """Mean over the K samples of the plug-in KL variance with that sample left out.

        Leaving out a sample of class j only lowers n_j by one, so there are C distinct
        leave-one-out values per item, weighted by p_j. Each is -(log_lo + logsumexp_c(u_c -
        [c=j] a)) with u = n L/(K-1), a = L/(K-1). The sum over c != j is taken as total - e_j
        except for the largest column, where that subtraction would cancel catastrophically;
        there the masked sum is computed directly.
        """
        step = spread / (k - 1.0)
        u = n * step[:, None]
        top = u.argmax(axis=1)
        rows = np.arange(n.shape[0])
        u_max = u[rows, top]
        scaled = np.exp(u - u_max[:, None])
        total = scaled.sum(axis=1)
        without = total[:, None] - scaled
        masked = scaled.copy()
        masked[rows, top] = 0.0
        without[rows, top] = masked.sum(axis=1)
        lowered = scaled * np.exp(-step)[:, None]
        log_z = log_lo + u_max[:, None] + np.log(without + lowered)
        leave_one_out = np.maximum(-log_z, 0.0)
        share = n / k[:, None]
        result: NDArray[np.float64] = np.where(share > 0, share * leave_one_out, 0.0).sum(axis=1)
        return result

    def distribution_terms(
        self, samples: NDArray[np.float64], targets: NDArray[np.float64], estimator: Estimator
    ) -> Terms:
        """KL split of N items of K probability vectors: ``samples`` (N, K, C), ``targets`` (N, C).

        error = mean_k KL(t || f_k), bias = KL(t || fbar) with fbar the normalised geometric
        mean, variance = mean_k KL(fbar || f_k) (= -log of the geometric mean's normaliser).
        """
        delta = self.delta
        if not delta > 0:
            raise ValueError(f"delta must be > 0, got {delta!r}")
        f, t = samples, targets
        k = f.shape[1]
        log_norm = math.log1p(f.shape[2] * delta)
        log_f = np.log(f + delta) - log_norm
        log_t = np.log(t + delta) - log_norm
        # error = mean_k KL(t || f_k) - KL(t || smoothed t): measured from the smoothing floor,
        # so samples equal to the target give exactly 0. Terms with t_c = 0 vanish.
        error = (t[:, None, :] * (log_t[:, None, :] - log_f)).sum(axis=2).mean(axis=1)
        # mean log taken as an offset from the first sample: identical samples reproduce it
        mean_log = log_f[:, 0, :] + (log_f - log_f[:, :1, :]).mean(axis=1)
        variance = np.maximum(-_logsumexp(mean_log, axis=1), 0.0)
        if estimator == "bootstrap" or (estimator == "unbiased" and k <= KL_BOOTSTRAP_MAX_K):
            boot = [_distribution_bootstrap(rows) for rows in log_f]
            variance = 2.0 * variance - np.asarray(boot, dtype=np.float64)
        elif estimator != "plugin":  # jackknife; unbiased above KL_BOOTSTRAP_MAX_K
            loo_mean_log = (k * mean_log[:, None, :] - log_f) / (k - 1)
            loo = np.maximum(-_logsumexp(loo_mean_log, axis=2), 0.0).mean(axis=1)
            variance = k * variance - (k - 1) * loo
        identical = np.all(f == f[:, :1, :], axis=(1, 2))
        variance = np.where(identical, 0.0, variance)
        return error, error - variance, variance
