"""Retry policy and pool splitting: pure arithmetic, tested against exact values."""

from __future__ import annotations

import email.utils
import random
import statistics

import httpx
import pytest

from pytest_hotmess.models.http import _Pools, pool_sizes
from pytest_hotmess.models.retry import (
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
    retry_after_from_headers,
)


class _RecordingRng(random.Random):
    """Returns the upper bound of every uniform draw and remembers the bounds asked for."""

    def __init__(self) -> None:
        super().__init__(0)
        self.bounds: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.bounds.append((a, b))
        return b


def test_backoff_cap_doubles_from_base_up_to_max() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_max=30.0)
    caps = [policy.backoff_cap(attempt) for attempt in range(1, 9)]
    assert caps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert policy.backoff_cap(10_000) == 30.0  # no overflow for absurd attempt numbers


def test_delay_is_full_jitter_on_the_cap() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base=0.25, backoff_max=1.5)
    rng = _RecordingRng()
    delays = [policy.delay(attempt, None, rng) for attempt in (1, 2, 3, 4)]
    assert rng.bounds == [(0.0, 0.25), (0.0, 0.5), (0.0, 1.0), (0.0, 1.5)]
    assert delays == [0.25, 0.5, 1.0, 1.5]


def test_full_jitter_is_uniform_on_zero_to_cap() -> None:
    # Attempt 3 with base 0.5: cap c = 2, so delays ~ U(0, 2): mean c/2 = 1, variance
    # c^2/12 = 1/3. With n = 20,000 draws the SE of the mean is sqrt(1/3 / n) = 0.0041 and
    # the SE of the sample variance is sqrt((mu4 - sigma^4) / n) with mu4 = c^4/80 = 0.2,
    # sigma^4 = 1/9: sqrt(0.0889 / n) = 0.0021. Tolerances are 5 SE.
    policy = RetryPolicy(max_attempts=5, backoff_base=0.5, backoff_max=30.0)
    rng = random.Random(20260401)
    delays = [policy.delay(3, None, rng) for _ in range(20_000)]
    assert min(delays) >= 0.0 and max(delays) <= 2.0
    assert statistics.fmean(delays) == pytest.approx(1.0, abs=5 * 0.0041)
    assert statistics.pvariance(delays) == pytest.approx(1 / 3, abs=5 * 0.0021)


def test_retry_after_is_honoured_and_capped_by_backoff_max() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base=10.0, backoff_max=5.0)
    rng = _RecordingRng()
    assert policy.delay(1, 2.5, rng) == 2.5
    assert policy.delay(1, 120.0, rng) == 5.0
    assert policy.delay(1, 0.0, rng) == 0.0
    assert rng.bounds == []  # no jitter when the server said how long to wait


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_attempts": 0}, ValueError),
        ({"max_attempts": 2.0}, TypeError),
        ({"max_attempts": True}, TypeError),
        ({"backoff_base": -1.0}, ValueError),
        ({"backoff_max": float("inf")}, ValueError),
    ],
)
def test_retry_policy_rejects_bad_settings(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 529, 599])
def test_transient_statuses_are_retried(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 408, 409, 422, 600])
def test_other_statuses_are_final(status: int) -> None:
    assert not is_retryable_status(status)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("0.5", 0.5), (" 12 ", 12.0), ("-2", 0.0), ("0", 0.0)],
)
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "inf", "nan", "Foo, 99 Bar 2015"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_retry_after_as_http_date() -> None:
    when = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=when - 30) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=when + 5) == 0.0


def test_retry_after_ms_wins_and_header_names_ignore_case() -> None:
    headers = httpx.Headers({"Retry-After-Ms": "250", "Retry-After": "7"})
    assert retry_after_from_headers(headers) == 0.25
    assert retry_after_from_headers(httpx.Headers({"RETRY-AFTER": "7"})) == 7.0
    assert retry_after_from_headers(httpx.Headers({"retry-after-ms": "x"})) is None
    assert retry_after_from_headers(httpx.Headers({})) is None


@pytest.mark.parametrize(
    ("budget", "per_pool", "sizes"),
    [(64, 2, [2] * 32), (5, 2, [2, 2, 1]), (1, 2, [1]), (10, 4, [4, 4, 2]), (3, 8, [3])],
)
def test_pool_sizes_split_the_budget(budget: int, per_pool: int, sizes: list[int]) -> None:
    assert pool_sizes(budget, per_pool) == sizes
    assert sum(sizes) == budget


def test_pools_grow_only_when_full_and_pick_the_least_busy() -> None:
    made: list[int] = []

    def make(connections: int) -> httpx.Client:
        made.append(connections)
        return httpx.Client()

    pools: _Pools[httpx.Client] = _Pools(make, [2, 2, 1])
    assert [pools.acquire()[0] for _ in range(2)] == [0, 0]
    assert made == [2]  # one client while it has free connections
    assert pools.acquire()[0] == 1
    assert made == [2, 2]
    pools.release(0)
    assert pools.acquire()[0] == 0  # least busy (tie: the first)
    assert pools.acquire()[0] == 1
    assert pools.acquire()[0] == 2  # every pool full: the last one is made
    assert made == [2, 2, 1]
    assert pools.acquire()[0] == 2  # over budget: waits on the least busy, no new client
    assert made == [2, 2, 1]
    clients = pools.take_all()
    assert len(clients) == 3
    for client in clients:
        client.close()
    assert pools.take_all() == []
