"""n_per_request: K samples of one request fetched n at a time, equal to unbatched sampling."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from _client_fixtures import make_client, run
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models.clients import ModelAPIError, OpenAIChatModel
from pytest_hotmess.sampling.completion import Completion
from pytest_hotmess.sampling.context import sample_scope


def make_model(server: FakeLLMServer, n: int) -> OpenAIChatModel:
    return make_client(
        OpenAIChatModel,
        model="gpt-test",
        base_url=server.openai_base_url,
        api_key="sk-test",
        max_attempts=2,
        n_per_request=n,
        params={"temperature": 1.0},
    )


def sample_sync(model: OpenAIChatModel, prompt: str, k: int, item: str = "q1") -> list[Completion]:
    out = []
    for index in range(k):
        with sample_scope(item, index):
            out.append(model(prompt))
    return out


async def sample_async(
    model: OpenAIChatModel, prompt: str, k: int, item: str = "q1"
) -> list[Completion]:
    async def one(index: int) -> Completion:
        with sample_scope(item, index):
            return await model.acall(prompt)

    return list(await asyncio.gather(*(one(index) for index in range(k))))


def without_server_values(completion: Completion) -> Completion:
    """Fields the server reports differently per request shape (tokens, timing, batch) blanked."""
    return dataclasses.replace(
        completion, output_tokens=None, reasoning_tokens=None, latency_s=None, batch=None
    )


def test_ten_samples_in_blocks_of_five_make_two_requests(server: FakeLLMServer) -> None:
    batched = sample_sync(make_model(server, 5), "2+2?", 10)
    assert server.count() == 2
    assert [request.body["n"] for request in server.requests] == [5, 5]

    server.reset()  # a fresh sampler: the same stream of draws
    unbatched = sample_sync(make_model(server, 1), "2+2?", 10)
    assert server.count() == 10
    assert all("n" not in request.body for request in server.requests)

    assert [c.text for c in batched] == [f"2+2?#{index}" for index in range(10)]
    assert [without_server_values(c) for c in batched] == [
        without_server_values(c) for c in unbatched
    ]
    assert batched[0].input_tokens == unbatched[0].input_tokens == 1


def test_each_sample_records_its_batch(server: FakeLLMServer) -> None:
    batched = sample_sync(make_model(server, 4), "p", 10)
    assert [c.batch for c in batched] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert [c.covariates()["batch"] for c in batched] == [c.batch for c in batched]
    assert all(c.batch is None for c in sample_sync(make_model(server, 1), "p", 3))


def test_batched_samples_share_the_request_latency(server: FakeLLMServer) -> None:
    batched = sample_sync(make_model(server, 5), "p", 10)
    assert len({c.latency_s for c in batched[:5]}) == 1
    assert len({c.latency_s for c in batched[5:]}) == 1
    # The API reports only the total over all n choices: per-sample counts are unknown.
    assert all(c.output_tokens is None and c.reasoning_tokens is None for c in batched)


def test_concurrent_async_samples_make_two_requests(server: FakeLLMServer) -> None:
    model = make_model(server, 5)
    batched = run(sample_async(model, "2+2?", 10))
    assert server.count() == 2
    # Which block is served first is up to the scheduler; each block is 5 consecutive draws.
    texts = [c.text for c in batched]
    blocks = sorted([texts[:5], texts[5:]])
    assert blocks == [[f"2+2?#{d}" for d in range(5)], [f"2+2?#{d}" for d in range(5, 10)]]


def test_concurrent_threads_make_two_requests(server: FakeLLMServer) -> None:
    model = make_model(server, 5)
    barrier = threading.Barrier(10, timeout=10)

    def one(index: int) -> Completion:
        barrier.wait()
        with sample_scope("q1", index):
            return model("2+2?")

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, range(10)))
    assert server.count() == 2
    assert len({c.text for c in results}) == 10


def test_sample_indices_not_starting_at_block_edges(server: FakeLLMServer) -> None:
    model = make_model(server, 4)
    for index in (5, 6, 7, 9):  # blocks 1, 1, 1, 2
        with sample_scope("q1", index):
            model("p")
    assert server.count() == 2


def test_no_sample_index_means_no_batching(server: FakeLLMServer) -> None:
    model = make_model(server, 5)
    texts = [model("p").text for _ in range(3)]
    assert server.count() == 3
    assert all("n" not in request.body for request in server.requests)
    assert texts == ["p#0", "p#1", "p#2"]


def test_rerunning_the_same_samples_draws_fresh_answers(server: FakeLLMServer) -> None:
    model = make_model(server, 5)
    first = sample_sync(model, "p", 5)
    second = sample_sync(model, "p", 5)
    assert server.count() == 2
    assert [c.text for c in first] == [f"p#{d}" for d in range(5)]
    assert [c.text for c in second] == [f"p#{d}" for d in range(5, 10)]


def test_items_with_the_same_prompt_do_not_share_samples(server: FakeLLMServer) -> None:
    model = make_model(server, 5)
    a = sample_sync(model, "p", 5, item="a")
    b = sample_sync(model, "p", 5, item="b")
    assert server.count() == 2
    assert not {c.text for c in a} & {c.text for c in b}


def test_different_parameters_are_different_batches(server: FakeLLMServer) -> None:
    model = make_model(server, 5)
    for index in range(2):
        with sample_scope("q1", index):
            model("p", temperature=0.1 * (index + 1))
    assert server.count() == 2


def test_one_failed_request_is_shared_by_its_block(server: FakeLLMServer) -> None:
    model = make_model(server, 3)
    server.script(Reply(400, body={"error": {"message": "n too large"}}))
    errors: list[ModelAPIError] = []
    for index in range(3):
        with sample_scope("q1", index), pytest.raises(ModelAPIError) as caught:
            model("p")
        errors.append(caught.value)
    assert server.count() == 1
    assert all("n too large" in str(error) and error.item == "q1" for error in errors)
    assert len({id(error) for error in errors}) == 3  # one error object per sample
    assert all(error.__context__ is None and error.__cause__ is None for error in errors)


def test_a_server_ignoring_n_gives_a_clear_error(server: FakeLLMServer) -> None:
    model = make_model(server, 2)
    one_choice = {"model": "m", "choices": [{"index": 0, "message": {"content": "only"}}]}
    server.script(Reply(body=one_choice))
    with sample_scope("q1", 0):
        assert model("p").text == "only"
    with sample_scope("q1", 1), pytest.raises(ModelAPIError, match="n_per_request=1"):
        model("p")
    assert server.count() == 1


def test_cancelled_owner_hands_the_batch_to_a_waiter(server: FakeLLMServer) -> None:
    model = make_model(server, 2)
    server.script(Reply(delay_s=0.5))  # the owner's request is slow, then it is cancelled

    async def scenario() -> Completion:
        async def sample(index: int) -> Completion:
            with sample_scope("q1", index):
                return await model.acall("p")

        owner = asyncio.ensure_future(sample(0))
        await asyncio.sleep(0.05)
        waiter = asyncio.ensure_future(sample(1))
        await asyncio.sleep(0.05)
        owner.cancel()
        return await waiter

    completion = run(scenario())
    assert completion.text.startswith("p#")
    assert server.count() == 2


def test_a_cancelled_waiter_does_not_cancel_the_batch(server: FakeLLMServer) -> None:
    model = make_model(server, 3)
    server.script(Reply(delay_s=0.3))

    async def scenario() -> list[Completion]:
        async def sample(index: int) -> Completion:
            with sample_scope("q1", index):
                return await model.acall("p")

        owner = asyncio.ensure_future(sample(0))
        await asyncio.sleep(0.05)
        doomed = asyncio.ensure_future(sample(1))
        survivor = asyncio.ensure_future(sample(2))
        await asyncio.sleep(0.05)
        doomed.cancel()
        return [await owner, await survivor]

    results = run(scenario())
    assert [c.text for c in results] == ["p#0", "p#2"]
    assert server.count() == 1


def test_n_per_request_must_be_a_positive_int(server: FakeLLMServer) -> None:
    with pytest.raises(ValueError, match="n_per_request"):
        make_model(server, 0)
    with pytest.raises(TypeError, match="n_per_request"):
        make_model(server, 2.0)  # type: ignore[arg-type]
