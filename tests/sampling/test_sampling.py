"""The sync sampler on its own: concurrency bound, order, context, stopping and budgets."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import pytest

from pytest_hotmess.sampling.budget import Budget
from pytest_hotmess.sampling.context import current_item, current_sample
from pytest_hotmess.sampling.draw import NOT_DRAWN, Call, draw_sync

caller_tag: contextvars.ContextVar[str] = contextvars.ContextVar("caller_tag", default="unset")


def _calls(fn: Any, items: int, k: int) -> list[Call]:
    return [Call(item_id=f"item{i}", fn=fn, args=(i,), kwargs={}, k=k) for i in range(items)]


class _InFlight:
    """Counts calls in flight and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, prompt: int) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.002)
        with self.lock:
            self.now -= 1
        return f"{prompt}:{current_item.get()}:{current_sample.get()}:{caller_tag.get()}"


def test_every_sample_is_drawn_once_within_the_bound_and_sees_the_callers_context() -> None:
    model = _InFlight()
    token = caller_tag.set("from-caller")
    try:
        draws = draw_sync(_calls(model, items=12, k=5), concurrency=4, stop_on_error=False)
    finally:
        caller_tag.reset(token)
    assert model.most == 4  # 60 calls of 2 ms: the four workers overlap, never a fifth
    for i, draw in enumerate(draws):
        assert draw.errors == [None] * 5
        assert draw.values == [f"{i}:item{i}:{s}:from-caller" for s in range(5)]


def test_a_failure_stops_new_samples_and_keeps_those_drawn() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def model(prompt: int) -> int:
        with lock:
            started.append(prompt)
        if prompt == 1:
            raise ValueError("boom")
        return prompt

    draws = draw_sync(_calls(model, items=50, k=2), concurrency=1, stop_on_error=True)
    # one worker, item-major order: item 0 twice, then item 1 fails and nothing else starts
    assert started == [0, 0, 1]
    assert draws[0].values == [0, 0]
    assert isinstance(draws[1].errors[0], ValueError)
    assert draws[1].values[1] is NOT_DRAWN and draws[2].values == [NOT_DRAWN, NOT_DRAWN]


def test_outcome_exceptions_stop_the_draw_even_when_failures_are_outcomes() -> None:
    def model(prompt: int) -> int:
        if prompt == 0:
            pytest.skip("no model today")
        return prompt

    draws = draw_sync(_calls(model, items=20, k=1), concurrency=1, stop_on_error=False)
    assert isinstance(draws[0].errors[0], pytest.skip.Exception)
    assert all(draw.values == [NOT_DRAWN] for draw in draws[1:])


def test_the_budget_bounds_the_calls_started() -> None:
    budget = Budget(max_calls=7)
    draws = draw_sync(
        _calls(lambda prompt: prompt, items=10, k=3),
        concurrency=3,
        stop_on_error=False,
        budget=budget,
    )
    drawn = sum(value is not NOT_DRAWN for draw in draws for value in draw.values)
    assert drawn == 7 and budget.usage.calls == 7
    assert budget.exhausted is not None and "7 calls" in budget.exhausted
