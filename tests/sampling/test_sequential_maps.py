"""Alpha spending covers the whole test: a second sequential ``map`` spends what is left."""

from __future__ import annotations

import pytest

from pytest_hotmess.sampling.context import current_sample
from pytest_hotmess.sampling.resampler import Resampler
from pytest_hotmess.sampling.resampler import TestState as State

LETTERS = "abcd"


def _state() -> State:
    return State(
        nodeid="test_two_maps",
        samples=5,
        concurrency=4,
        thresholds={"max_incoherence": 0.4},
        max_samples=20,
    )


def _undecided(prompt: str) -> str:
    """One item always right, one always wrong: two items never decide anything."""
    return "a" if prompt == "right" else "b"


def _scattered(prompt: str) -> str:
    """Every answer in turn by sample index: incoherence far above 0.4 on every item."""
    index = current_sample.get()
    return LETTERS[(index + int(prompt[1:])) % 4]


def _second_map(state: State) -> str:
    prompts = [f"q{i}" for i in range(40)]
    Resampler(state).map(_scattered, prompts, targets=["a"] * 40)
    assert state.sequential is not None
    return state.sequential.verdicts["max_incoherence"]


def test_a_second_map_spends_only_the_alpha_the_first_left() -> None:
    state = _state()
    Resampler(state).map(_undecided, ["right", "wrong"], targets=["a", "a"])
    assert state.sequential is not None and state.sequential.samples == 20  # ran every look
    assert state.alpha_spent == pytest.approx(0.05, rel=1e-12)
    plan = state.sequential_plan()
    assert plan is not None and plan.alpha < 1e-9
    # with nothing left to spend, the clear excess of the second map cannot be declared
    assert _second_map(state) == "inconclusive"


def test_a_fresh_test_does_decide_the_second_maps_items() -> None:
    """The control: the same items with the whole alpha fail (so the test above can fail)."""
    state = _state()
    Resampler(state).map(_undecided, ["right", "wrong"], targets=["a", "a"])
    state.alpha_spent = 0.0  # what the second map did before: restart spending
    assert _second_map(state) == "fail"


def test_a_stop_at_an_early_look_leaves_the_rest_for_the_next_map() -> None:
    state = _state()
    Resampler(state).map(_scattered, [f"q{i}" for i in range(40)], targets=["a"] * 40)
    assert state.sequential is not None and state.sequential.samples < 20
    plan = state.sequential_plan()
    assert plan is not None
    assert state.alpha_spent < 0.05
    assert plan.alpha == pytest.approx(0.05 - state.alpha_spent, rel=1e-12)
