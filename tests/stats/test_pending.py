"""Intervals solved in batches (issue #19): bitwise what each suite gives alone.

A run solves the intervals of many tests in one search (``stats.pending``); every report
must show the bounds judging the tests one by one gives, to the last bit, whatever else is in
the batch: suites that re-centre their expansion (v affine in e), identical items, heavy
skew, unbounded sides, several sizes, weights and confidences in one batch.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import ItemEstimate
from pytest_hotmess.stats.difficulty import DifficultyColumns, figures_of
from pytest_hotmess.stats.pending import PendingInterval, solve_intervals
from pytest_hotmess.stats.skew import ratio_hall_interval


def _suite(rng: np.random.Generator, kind: int, n: int) -> tuple[NDArray[np.float64], ...]:
    e = rng.uniform(0.0, 1.0, n)
    if kind == 0:
        v = e * rng.uniform(0.2, 1.0, n)
    elif kind == 1:  # v affine in e: the expansion cancels near the slope, re-centred
        v = 0.5 * e + 0.01
    elif kind == 2:  # identical items: the terms vanish at every theta
        v, e = np.full(n, 0.3), np.full(n, 0.6)
    elif kind == 3:  # near 0 or 1 per item: strong skew
        v = e * rng.beta(0.3, 0.3, n)
    else:  # a rare large error
        e = rng.exponential(1.0, n)
        v = e * rng.uniform(0.0, 1.0, n)
    return v, e


def _alone(suite: PendingInterval) -> tuple[float, float]:
    bounds = ratio_hall_interval(suite.variances, suite.errors, suite.weights, suite.confidence)
    assert bounds is not None
    return bounds


def test_a_batch_gives_each_suite_its_own_bounds_to_the_last_bit() -> None:
    rng = np.random.default_rng(7)
    suites = []
    for index in range(300):
        n = (3, 5, 20, 50)[index % 4]
        v, e = _suite(rng, index % 5, n)
        w = np.ones(n) if index % 3 else np.linspace(0.5, 2.0, n)
        suites.append(PendingInterval(v, e, w, (0.95, 0.8)[index // 4 % 2]))
    batched = solve_intervals(suites)
    alone = [_alone(s) for s in suites]
    differ = [
        (i, b, a)
        for i, (b, a) in enumerate(zip(batched, alone, strict=True))
        if not all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(b, a, strict=True))
    ]
    assert differ == []
    # the batch held every kind of search: re-centred, unbounded and ordinary rows
    assert any(math.isinf(high) or math.isinf(low) for low, high in batched)
    assert len({(len(s.variances), s.confidence) for s in suites}) == 8


def test_a_pending_interval_survives_its_plain_round_trip() -> None:
    rng = np.random.default_rng(3)
    v, e = _suite(rng, 0, 9)
    suite = PendingInterval(v, e, np.linspace(1.0, 3.0, 9), 0.9)
    again = PendingInterval.from_plain(json.loads(json.dumps(suite.to_plain())))
    assert again.solve() == suite.solve() == _alone(suite)


def _estimates(rng: np.random.Generator, n: int) -> list[ItemEstimate]:
    v, e = _suite(rng, 3, n)
    common: dict[str, Any] = {
        "kind": "categorical", "loss": "brier", "estimator": "unbiased", "k": 10,
        "invalid": 0, "weight": 1.0, "target": "A", "counts": None, "outcomes": None,
    }  # fmt: skip
    return [
        ItemEstimate(
            id=f"q{i}", error=float(e[i]), bias=float(e[i] - v[i]), variance=float(v[i]), **common
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 2, 30])
def test_a_deferred_aggregate_settles_to_the_eager_one(n: int) -> None:
    estimates = _estimates(np.random.default_rng(n), n)
    eager = aggregate(estimates)
    deferred = aggregate(estimates, defer_interval=True)
    if n < 2:  # nothing for Hall's search to solve: the delta interval, at once
        assert deferred.pending is None and deferred == eager
        return
    assert deferred.pending is not None
    assert deferred.incoherence_low is None and deferred.incoherence_high is None
    assert deferred.interval_approximate == eager.interval_approximate
    assert deferred.settled() == eager
    assert dataclasses.replace(deferred, pending=None) != eager  # the bounds were missing


def test_deferred_buckets_settle_to_the_eager_ones() -> None:
    rng = np.random.default_rng(11)
    n = 31
    v, e = _suite(rng, 0, n)
    columns = DifficultyColumns(
        bucket=np.asarray([i % 3 for i in range(n)], dtype=np.int64),
        targeted=np.ones(n, dtype=bool),
        weight=np.ones(n),
        error=e,
        bias=e - v,
        variance=v,
        difficulty=np.arange(n, dtype=np.float64),
    )
    eager = figures_of(columns, confidence=0.95)
    deferred = figures_of(columns, confidence=0.95, defer_interval=True)
    pending = [f.pending for f in deferred]
    assert all(p is not None for p in pending)
    solved = iter(solve_intervals([p for p in pending if p is not None]))
    for before, after in zip(eager, deferred, strict=True):
        low, high = next(solved)
        filled = dataclasses.replace(
            after,
            incoherence_low=min(max(low, 0.0), 1.0),
            incoherence_high=min(max(high, 0.0), 1.0),
            pending=None,
        )
        assert filled == before
