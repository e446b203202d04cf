"""``python -m benchmarks.kl_bias``: bias of the KL split's estimators at small K.

For categorical answers drawn from a known distribution p (target: the first answer), the
population KL split is the plug-in split at p itself: error (1 - p_y) L, variance
-log Z(p). Error is estimated without bias by every estimator, so the relative bias of the
incoherence V/E (and of the ratio of sums over many such items) is the relative bias of the
variance estimate, and bias = error - variance is off by minus the same amount.

Each cell is an expectation over the multinomial distribution of the K answers: exact
(every composition of K with its probability) where there are at most ``EXACT`` of them,
otherwise the mean over ``DRAWS`` seeded draws, whose Monte Carlo standard error ``--detail``
prints. "Worst" is the largest |relative bias| over the distributions.
The estimators compared: ``plugin``, ``jackknife``, pseudo-counts on the seen answers
(Krichevsky-Trofimov 1/2, Laplace 1), the bootstrap bias correction ``bootstrap``, and the
default ``unbiased``, which is ``bootstrap`` up to K = 5 and ``jackknife`` above.
Docs: docs/statistics.md, 'KL at small K'.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from pytest_hotmess.stats.losses import KLLoss

__all__ = ["DISTRIBUTIONS", "ESTIMATORS", "KS", "cell", "main", "reliable_k"]

EXACT = 20_000
DRAWS = 2_000
KS: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 15, 20, 30)
DISTRIBUTIONS: dict[str, tuple[float, ...]] = {
    "(.3,.6,.1,0)": (0.3, 0.6, 0.1, 0.0),
    "(.9,.05,.05,0)": (0.9, 0.05, 0.05, 0.0),
    "(.6,.4)": (0.6, 0.4),
    "(.2,.8)": (0.2, 0.8),
    "(.5,.5) tie": (0.5, 0.5),
    "(.5,.3,.2)": (0.5, 0.3, 0.2),
    "(.4,.3,.2,.1)": (0.4, 0.3, 0.2, 0.1),
    "near-uniform 4": (0.26, 0.25, 0.25, 0.24),
    "near-uniform 6": (0.18, 0.17, 0.17, 0.16, 0.16, 0.16),
    "(.55,.05x9)": (0.55, *(0.05,) * 9),
    "(.97,.03)": (0.97, 0.03),
    "(.95,.01x5)": (0.95, *(0.01,) * 5),
    "(.05,.95)": (0.05, 0.95),
}
_KL = KLLoss()


def _variance(estimator: str) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    def run(counts: NDArray[np.float64]) -> NDArray[np.float64]:
        targets = np.zeros(counts.shape[0], dtype=np.int64)
        return _KL.count_terms(counts, targets, estimator)[2]  # type: ignore[arg-type]

    return run


def _pseudo(a: float) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """Plug-in variance after adding ``a`` to the count of every answer seen."""

    def run(counts: NDArray[np.float64]) -> NDArray[np.float64]:
        smoothed = counts + a * (counts > 0)
        p = smoothed / smoothed.sum(axis=1, keepdims=True)
        log_hi, log_lo = _KL._smoothing_logs(counts.shape[1])
        variance = _KL._count_variance(p, log_hi, log_hi - log_lo)
        return np.where(counts.max(axis=1) == counts.sum(axis=1), 0.0, variance)

    return run


ESTIMATORS: dict[str, Callable[[NDArray[np.float64]], NDArray[np.float64]]] = {
    "plugin": _variance("plugin"),
    "jackknife": _variance("jackknife"),
    "KT 1/2": _pseudo(0.5),
    "Laplace 1": _pseudo(1.0),
    "bootstrap": _variance("bootstrap"),
    "unbiased (default)": _variance("unbiased"),
}
BOOTSTRAP_UP_TO = 10
"""The bootstrap column stops here: it costs a resample enumeration per answer pattern, and
from K = 6 the default no longer uses it."""


def _population(p: Sequence[float]) -> tuple[float, float]:
    """(error, variance) of the population split: the plug-in split at p itself."""
    counts = np.asarray([p], dtype=np.float64) * 1e6
    error, _, variance = _KL.count_terms(counts, np.zeros(1, dtype=np.int64), "plugin")
    return float(error[0]), float(variance[0])


def _answers(
    p: Sequence[float], k: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Count vectors of K answers and their probabilities; exact when small enough."""
    from scipy.special import gammaln

    probs = np.asarray(p, dtype=np.float64)
    support = np.flatnonzero(probs > 0)
    s = support.size
    if math.comb(k + s - 1, s - 1) <= EXACT:
        rows = []
        for bars in combinations(range(k + s - 1), s - 1):
            edges = (-1, *bars, k + s - 1)
            rows.append([edges[i + 1] - edges[i] - 1 for i in range(s)])
        some = np.asarray(rows, dtype=np.float64)
        log_w = gammaln(k + 1.0) - gammaln(some + 1.0).sum(axis=1)
        log_w += (some * np.log(probs[support])[None, :]).sum(axis=1)
        counts = np.zeros((some.shape[0], probs.size))
        counts[:, support] = some
        return counts, np.exp(log_w), True
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(k, probs, size=DRAWS).astype(np.float64)
    counts, times = np.unique(drawn, axis=0, return_counts=True)
    return counts, times / DRAWS, False


def cell(p: Sequence[float], k: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per estimator, the relative bias of the variance (= of the incoherence) and its MC SE."""
    _, variance = _population(p)
    counts, weights, exact = _answers(p, k, seed)
    out = {}
    for name, estimate in ESTIMATORS.items():
        if name == "bootstrap" and k > BOOTSTRAP_UP_TO:
            continue
        values = estimate(counts)
        mean = float(np.dot(weights, values))
        se = 0.0
        if not exact:
            spread = float(np.dot(weights, (values - mean) ** 2))
            se = math.sqrt(spread / DRAWS) / variance
        out[name] = ((mean - variance) / variance, se)
    return out


def reliable_k(worst: dict[int, float], limit: float = 0.05) -> int | None:
    """The smallest K of the grid from which the worst |relative bias| stays within ``limit``."""
    found = None
    for k in sorted(worst, reverse=True):
        if worst[k] > limit:
            break
        found = k
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kl_bias", description=__doc__)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--detail", action="store_true", help="print every distribution's row")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    names = list(ESTIMATORS)
    worst: dict[str, dict[int, float]] = {name: {} for name in names}
    lines = []
    for k in KS:
        rows = {}
        for index, (label, p) in enumerate(DISTRIBUTIONS.items()):
            rows[label] = cell(p, k, seed=args.seed + 1000 * k + index)
        for name in names:
            if name in rows[next(iter(rows))]:
                worst[name][k] = max(abs(r[name][0]) for r in rows.values())
        cells = []
        for name in names:
            if name not in rows[next(iter(rows))]:
                cells.append("-")
                continue
            biases = [r[name][0] for r in rows.values()]
            top = max(range(len(biases)), key=lambda i: abs(biases[i]))
            mean_abs = sum(abs(b) for b in biases) / len(biases)
            cells.append(f"{biases[top]:+6.1%} / {mean_abs:5.1%}")
        lines.append(f"| {k:>2} | " + " | ".join(cells) + " |")
        if args.detail:
            for label, r in rows.items():
                detail = " | ".join(
                    f"{r[n][0]:+6.1%} ±{r[n][1]:.1%}" if n in r else "-" for n in names
                )
                lines.append(f"|    {label} | {detail} |")
    print("Relative bias of the KL incoherence (= of the variance), worst / mean |bias| over")
    print(f"{len(DISTRIBUTIONS)} answer distributions (target: the first answer):\n")
    print("|  K | " + " | ".join(names) + " |")
    print("|---:|" + "|".join("---:" for _ in names) + "|")
    print("\n".join(lines))
    print()
    for name in names:
        top = max(worst[name])
        k0 = reliable_k(worst[name]) if top == KS[-1] else None
        where = f"K >= {k0}" if k0 is not None else f"no K <= {top}"
        print(f"{name}: worst |bias| <= 5% of the incoherence at {where}")
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
