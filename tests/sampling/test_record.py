"""``resample.record``'s per-item checks, on the fast path and off it."""

from __future__ import annotations

import math
from collections import deque

import pytest

from pytest_hotmess.sampling.resampler import Resampler
from pytest_hotmess.sampling.resampler import TestState as State
from pytest_hotmess.stats.kinds import INVALID


def _resample() -> tuple[Resampler, State]:
    state = State(nodeid="t::x", samples=4, concurrency=1)
    return Resampler(state), state


@pytest.mark.parametrize(
    "outcomes", [["a", "b", None, "a"], ("a", "b", None, "a"), deque(["a", "b", None, "a"])]
)
def test_any_sequence_of_outcomes_is_taken_none_as_invalid(outcomes: object) -> None:
    resample, state = _resample()
    result = resample.record(outcomes, item="q", target="a")  # type: ignore[arg-type]
    assert result.outcomes == ("a", "b", INVALID, "a") and result.invalid == 1
    assert result.covariates == ({}, {}, {}, {})
    estimate = result.estimate
    assert estimate is not None and estimate.counts == {"a": 2, "b": 1, "<invalid>": 1}
    assert state.items == [result] and state.used


@pytest.mark.parametrize("outcomes", ["abc", b"ab", {"a": 1}, 3])
def test_one_outcome_is_refused_and_noted_as_the_tests_error(outcomes: object) -> None:
    resample, state = _resample()
    with pytest.raises(TypeError, match="outcomes must be a sequence") as raised:
        resample.record(outcomes, item="q")  # type: ignore[arg-type]
    assert state.error is raised.value and state.items == []


@pytest.mark.parametrize("weight", [math.nan, math.inf, -1.0, True, "1"])
def test_a_bad_weight_is_refused(weight: object) -> None:
    resample, state = _resample()
    with pytest.raises(ValueError, match="weights must be finite numbers >= 0") as raised:
        resample.record(["a", "b"], item="q", weight=weight)  # type: ignore[arg-type]
    assert state.error is raised.value and state.items == []


@pytest.mark.parametrize("weight", [0.0, 2.5, 3])
def test_a_good_weight_is_kept(weight: float) -> None:
    resample, _ = _resample()
    estimate = resample.record(["a", "b"], item="q", weight=weight).estimate
    assert estimate is not None and estimate.weight == weight


def test_a_duplicate_id_is_refused_once_the_first_is_kept() -> None:
    resample, state = _resample()
    resample.record(["a", "b"], item="q")
    with pytest.raises(ValueError, match="already used"):
        resample.record(["a", "b"], item="q")
    assert [item.id for item in state.items] == ["q"]
    resample.record([1.0, 2.0], item="r")  # numeric: estimated at once, the same id check
    with pytest.raises(ValueError, match="already used"):
        resample.record([1.0, 2.0], item="r")
    assert [item.id for item in state.items] == ["q", "r"]
