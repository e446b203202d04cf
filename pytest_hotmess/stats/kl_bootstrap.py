"""Bootstrap bias correction of the plug-in KL variance (docs/statistics.md, 'Estimators').

KL has no unbiased variance estimator: the plug-in one is low at small K because the most
frequent answer's share is overestimated. The bootstrap correction 2 V(x) - E*[V(x*)], with
x* K draws with replacement from the item's own samples, has the smallest worst-case bias of
the estimators compared by ``python -m benchmarks.kl_bias`` up to K = 5; from K = 6 the
jackknife has.

E* is exact where it is cheap: an item's K samples fall into m distinct values ("atoms")
with counts n, a resample is a multinomial draw of K over them, and there are
C(K + m - 1, m - 1) such draws. Up to :data:`EXACT_LIMIT` of them are enumerated with their
multinomial probabilities; beyond that E* is the mean of :data:`DRAWS` resamples seeded from
the counts themselves, so the same samples always give the same estimate.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable
from itertools import combinations
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DRAWS",
    "EXACT_LIMIT",
    "KL_BOOTSTRAP_MAX_K",
    "KL_RELIABLE_K",
    "bootstrap_expectation",
    "resample_counts",
]

EXACT_LIMIT: Final = 20_000
"""Most resample compositions enumerated exactly; more are drawn (:data:`DRAWS`)."""

KL_BOOTSTRAP_MAX_K: Final = 5
"""Up to this K the bootstrap correction has the smaller worst-case bias, above it the
jackknife (``python -m benchmarks.kl_bias``): ``unbiased`` under KL switches here."""

KL_RELIABLE_K: Final = 30
"""From this K on, the bootstrap KL variance's bias stays within 5% of the incoherence for every
answer distribution of ``python -m benchmarks.kl_bias``; below it, reports carry a note."""

DRAWS: Final = 4_000
"""Resamples drawn when exact enumeration is too large."""

Plugin = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""The plug-in variance of many resamples, each given as counts over the item's atoms."""


@functools.lru_cache(maxsize=64)
def _compositions(k: int, m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every way to put k draws into m atoms (stars and bars), shape (count, m), and the log
    of each one's multinomial coefficient. Cached: the items of a test share their K."""
    from scipy.special import gammaln

    bars = np.asarray(list(combinations(range(k + m - 1), m - 1)), dtype=np.int64)
    bars = bars.reshape(-1, m - 1)
    rows = bars.shape[0]
    edges = np.concatenate([np.full((rows, 1), -1), bars, np.full((rows, 1), k + m - 1)], axis=1)
    draws = (np.diff(edges, axis=1) - 1).astype(np.float64)
    log_coefficient = gammaln(k + 1.0) - gammaln(draws + 1.0).sum(axis=1)
    draws.setflags(write=False)
    log_coefficient.setflags(write=False)
    return draws, log_coefficient


def resample_counts(counts: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every bootstrap resample of ``counts`` (m atoms, K draws) and its probability.

    Exact (all compositions, multinomial probabilities) up to :data:`EXACT_LIMIT`; otherwise
    :data:`DRAWS` resamples of equal weight from a generator seeded by the counts.
    """
    n = np.asarray(counts, dtype=np.float64)
    k, m = round(float(n.sum())), n.shape[0]
    p = n / k
    if math.comb(k + m - 1, m - 1) <= EXACT_LIMIT:
        draws, log_coefficient = _compositions(k, m)
        return draws, np.exp(log_coefficient + draws @ np.log(p))
    seed = zlib.crc32(np.asarray(n, dtype=np.int64).tobytes())
    draws = np.random.default_rng(seed).multinomial(k, p, size=DRAWS).astype(np.float64)
    return draws, np.full(DRAWS, 1.0 / DRAWS)


def bootstrap_expectation(counts: NDArray[np.float64], plugin: Plugin) -> float:
    """E* of the plug-in variance over resamples of one item whose atoms have ``counts``."""
    draws, weights = resample_counts(counts)
    return float(np.dot(weights, plugin(draws)))
