"""Any callable is a model: async detection, sample index and seed, SDK answers, recording keys."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_hotmess.models.callable_recording import CallableRecorder
from pytest_hotmess.models.recording import ReplayMissError
from pytest_hotmess.models.recording_store import Recording
from pytest_hotmess.sampling.callables import is_async_callable, sample_seed
from pytest_hotmess.sampling.completion import Completion, Sample
from pytest_hotmess.sampling.resampler import Resampler, SamplingError
from pytest_hotmess.sampling.resampler import TestState as State
from pytest_hotmess.sampling.sdk import adapt_answer


def _decorated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What SDKs do to their methods (openai's ``required_args``): a plain sync wrapper."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


class _AsyncClient:
    """Shaped like ``AsyncOpenAI().chat.completions``: a decorated async ``create``."""

    def __init__(self) -> None:
        self.calls = 0

    @_decorated
    async def create(self, *, prompt: str) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        return f"{prompt}!"


def _state(**kwargs: Any) -> State:
    return State(nodeid="t.py::test_x", samples=4, concurrency=2, **kwargs)


def test_wrapped_and_bound_async_methods_are_async() -> None:
    client = _AsyncClient()
    assert is_async_callable(client.create)
    assert is_async_callable(functools.partial(client.create, prompt="p"))
    assert not is_async_callable(_decorated(lambda: 1))


def test_a_wrapped_async_method_is_sampled_sync_and_async() -> None:
    client = _AsyncClient()
    state = _state()
    resampler = Resampler(state)
    result = resampler(client.create, prompt="q", item="sync")
    assert result.outcomes == ("q!",) * 4

    async def in_async_test() -> Any:
        return await resampler.acall(client.create, prompt="r", item="async")

    assert asyncio.run(in_async_test()).outcomes == ("r!",) * 4
    assert client.calls == 8
    state.close()


def test_a_lambda_returning_a_coroutine_is_awaited_in_an_async_test() -> None:
    client = _AsyncClient()
    state = _state()
    resampler = Resampler(state)

    async def in_async_test() -> Any:
        return await resampler.amap(lambda p: client.create(prompt=p), ["a", "b"])

    assert [r.outcomes for r in asyncio.run(in_async_test())] == [("a!",) * 4, ("b!",) * 4]
    state.close()


def test_declared_sample_index_and_seed_are_passed_and_reproduce() -> None:
    seen: list[tuple[int, int]] = []

    def model(prompt: str, *, sample_index: int, sample_seed: int) -> str:
        seen.append((sample_index, sample_seed))
        return f"{prompt}{sample_seed % 7}"

    def run(seed: int) -> list[tuple[int, int]]:
        seen.clear()
        state = _state(seed=seed)
        Resampler(state).map(model, ["p"], items=["i1"])
        state.close()
        return sorted(seen)

    first = run(seed=5)
    assert [index for index, _ in first] == [0, 1, 2, 3]
    assert first == run(seed=5)  # the same run seed: the same seeds
    assert [s for _, s in first] == [sample_seed(5, "t.py::test_x", "i1", i) for i in range(4)]
    assert len({s for _, s in first}) == 4
    assert run(seed=6) != first
    assert all(0 <= s < 2**31 for _, s in first)


def test_a_seed_given_by_the_caller_wins_and_undeclared_callables_get_nothing() -> None:
    got: list[Any] = []
    state = _state()
    Resampler(state)(lambda **kw: got.append(kw) or "x", sample_seed=1)
    Resampler(state)(lambda *a, **kw: got.append(kw) or "x", item="other")
    assert got[:4] == [{"sample_seed": 1}] * 4
    assert got[4:] == [{}] * 4  # **kwargs does not declare the names: nothing is injected
    state.close()


# -- SDK answers -------------------------------------------------------------------------------


def _ns(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def test_chat_completion_objects_become_completions_with_token_counts() -> None:
    answer = _ns(
        model="m-1",
        choices=[_ns(message=_ns(content="B", role="assistant"), finish_reason="length")],
        usage=_ns(
            prompt_tokens=11,
            completion_tokens=3,
            completion_tokens_details=_ns(reasoning_tokens=2),
        ),
    )
    assert adapt_answer(answer, 0.25) == Completion(
        text="B",
        model="m-1",
        finish_reason="length",
        input_tokens=11,
        output_tokens=3,
        reasoning_tokens=2,
        latency_s=0.25,
    )


def test_messages_and_responses_objects_and_unknown_counts_stay_none() -> None:
    message = _ns(
        model="claude",
        content=[_ns(type="thinking", thinking="x"), _ns(type="text", text="C")],
        stop_reason="end_turn",
        usage=None,
    )
    assert adapt_answer(message) == Completion(text="C", model="claude", finish_reason="end_turn")
    response = _ns(
        output=[],
        output_text="D",
        model="gpt",
        status="completed",
        incomplete_details=None,
        usage=_ns(input_tokens=4, output_tokens=1, output_tokens_details=None),
    )
    completion = adapt_answer(response, 0.5)
    assert completion == Completion(
        text="D",
        model="gpt",
        finish_reason="completed",
        input_tokens=4,
        output_tokens=1,
        latency_s=0.5,
    )
    assert completion.reasoning_tokens is None  # unknown, not 0


def test_plain_answers_are_left_alone() -> None:
    for answer in ("text", 3, [1], {"choices": []}, Sample("a"), None):
        assert adapt_answer(answer) is answer


def test_a_callable_returning_an_sdk_object_is_charged_its_tokens() -> None:
    from pytest_hotmess.sampling.budget import Budget

    answer = _ns(
        model="m",
        choices=[_ns(message=_ns(content="A"), finish_reason="stop")],
        usage=_ns(prompt_tokens=5, completion_tokens=1, completion_tokens_details=None),
    )
    state = _state(budget=Budget())
    result = Resampler(state)(lambda: answer, extract=str.strip)
    assert result.outcomes == ("A",) * 4
    assert result.covariates[0]["input_tokens"] == 5
    assert state.budget is not None and state.budget.usage.input_tokens == 20
    state.close()


# -- recording and replaying a callable --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Question:
    text: str


def _as_text(answer: Any) -> Any:
    return json.dumps(answer, sort_keys=True) if isinstance(answer, dict) else answer


def _recorded(tmp_path: Any, model: Callable[..., Any], *, replaying: bool = False) -> Recording:
    store = Recording(tmp_path / "rec.jsonl")
    state = _state(recorder=CallableRecorder(store, replaying=replaying))
    Resampler(state).map(
        model, [_Question("a"), _Question("b")], items=["qa", "qb"], extract=_as_text
    )
    state.close()
    return store


def test_answers_of_a_callable_are_recorded_then_replayed_with_no_call(tmp_path: Any) -> None:
    calls: list[int] = []

    def model(question: _Question, *, sample_index: int) -> Any:
        calls.append(sample_index)
        if question.text == "a":
            return Sample({"letter": "A", "n": sample_index}, {"length": 3 + sample_index})
        return Completion(text=f"B{sample_index}", input_tokens=2)

    store = _recorded(tmp_path, model)
    assert len(calls) == 8 and len(store) == 8
    store.save()
    loaded = Recording.load(tmp_path / "rec.jsonl")  # the file reads back
    state = _state(recorder=CallableRecorder(loaded, replaying=True))
    results = Resampler(state).map(
        model, [_Question("a"), _Question("b")], items=["qa", "qb"], extract=_as_text
    )
    state.close()
    assert len(calls) == 8  # replay made no call
    assert results[0].outcomes == tuple(_as_text({"letter": "A", "n": i}) for i in range(4))
    assert results[0].covariates == tuple({"length": 3 + i} for i in range(4))
    assert results[1].outcomes == ("B0", "B1", "B2", "B3")
    assert results[1].covariates[0] == {"input_tokens": 2}


def test_replay_misses_name_the_callable_and_changed_inputs(tmp_path: Any) -> None:
    def model(question: _Question) -> str:
        return question.text

    store = _recorded(tmp_path, model)
    state = _state(recorder=CallableRecorder(store, replaying=True))
    with pytest.raises(SamplingError) as raised:
        Resampler(state).map(model, [_Question("changed")], items=["qa"])
    state.close()
    cause = raised.value.__cause__
    assert isinstance(cause, ReplayMissError)
    assert "_inputs.<locals>.model'" in str(cause)
    assert "item 'qa'" in str(cause) and "changed" in str(cause)


def test_inputs_that_cannot_be_keyed_are_refused_before_any_call(tmp_path: Any) -> None:
    calls: list[object] = []

    def model(client: object, prompt: str) -> str:
        calls.append(client)
        return prompt

    state = _state(recorder=CallableRecorder(Recording(), replaying=False))
    resampler = Resampler(state)
    with pytest.raises(
        TypeError, match=r"cannot record .*model: its argument args\[0\] is a object"
    ):
        resampler(model, object(), "p")
    assert calls == []
    result = resampler(model, object(), "p", record_key={"prompt": "p"}, record_model="mine")
    assert result.outcomes == ("p",) * 4
    (entry, *_) = state.recorder.recording  # type: ignore[union-attr]
    assert entry.request["model"] == "mine" and entry.request["params"] == {"key": {"prompt": "p"}}
    resampler(model, object(), "p", item="free", record_key=False)  # opted out: not recorded
    assert len(state.recorder.recording) == 4  # type: ignore[union-attr]
    state.close()


def test_secret_keyword_arguments_never_reach_the_recording(tmp_path: Any) -> None:
    store = Recording(tmp_path / "rec.jsonl")
    state = _state(recorder=CallableRecorder(store, replaying=False))
    Resampler(state)(lambda prompt, api_key: prompt, "p", api_key="sk-SECRET-123")
    state.close()
    assert "sk-SECRET-123" not in store.dumps()
