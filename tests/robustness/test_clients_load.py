"""2,000 async calls at concurrency 64 against the local server: none lost, no fd leaked,
also when one request in ten fails (429, 500, a reset connection, a timeout) and is retried."""

from __future__ import annotations

import asyncio
import time

from _client_fixtures import open_fds, settled_fds
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models.clients import AnthropicMessagesModel, OpenAIChatModel
from pytest_hotmess.models.http import ChatModelBase
from pytest_hotmess.sampling.completion import Completion

REQUESTS = 2_000
CONCURRENCY = 64


async def hammer(model: ChatModelBase, requests: int) -> list[Completion]:
    gate = asyncio.Semaphore(CONCURRENCY)
    in_flight = 0
    peak = 0

    async def one(index: int) -> Completion:
        nonlocal in_flight, peak
        async with gate:
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await model.acall(f"load {index}")  # type: ignore[attr-defined, no-any-return]
            finally:
                in_flight -= 1

    try:
        results = list(await asyncio.gather(*(one(index) for index in range(requests))))
    finally:
        await model.aclose()
    assert peak == CONCURRENCY  # the load really was 64 calls in flight
    return results


def test_two_thousand_calls_at_concurrency_64_lose_nothing_and_leak_nothing() -> None:
    with FakeLLMServer() as server:
        before = open_fds()
        model = OpenAIChatModel(
            model="gpt", base_url=server.openai_base_url, api_key="sk-load", timeout=10.0
        )
        start = time.monotonic()
        results = asyncio.run(asyncio.wait_for(hammer(model, REQUESTS), 120))
        elapsed = time.monotonic() - start
        assert [c.text for c in results] == [f"load {index}#0" for index in range(REQUESTS)]
        assert server.count() == REQUESTS
        bodies = {request.body["messages"][0]["content"] for request in server.requests}
        assert len(bodies) == REQUESTS  # each call reached the server exactly once
        assert settled_fds(before) <= before
    # Not a benchmark, a tripwire: about 3-5 s on the project's 2-core machines.
    assert elapsed < 60


FAULTS = (
    Reply(status=429),
    Reply(status=500),
    Reply(drop_connection=True),
    Reply(delay_s=6.0),  # twice the client's timeout: a read timeout
)


def test_two_thousand_calls_with_one_in_ten_failing_lose_nothing_and_count_nothing_twice() -> None:
    with FakeLLMServer() as server:
        before = open_fds()
        # each fault is followed by nine plain answers: 200 faults over the first 2,000 requests
        script = [
            reply
            for index in range(REQUESTS // 10)
            for reply in (FAULTS[index % len(FAULTS)], *[Reply()] * 9)
        ]
        server.script(*script)
        model = OpenAIChatModel(
            model="gpt",
            base_url=server.openai_base_url,
            api_key="sk-load",
            timeout=3.0,
            max_attempts=8,  # a retry can land on the next fault too
            backoff_base=0.01,
            backoff_max=0.05,
        )
        results = asyncio.run(asyncio.wait_for(hammer(model, REQUESTS), 180))
        # every call got its own prompt's answer; the server drew an answer for each request
        # that timed out (the client never saw it), so each timeout moved its call one draw on
        prompts = [c.text.rsplit("#", 1)[0] for c in results]
        assert prompts == [f"load {index}" for index in range(REQUESTS)]
        draws = [int(c.text.rsplit("#", 1)[1]) for c in results]
        assert sum(draws) == REQUESTS // 10 // len(FAULTS)
        assert server.count() == REQUESTS + REQUESTS // 10  # each fault cost one retry
        answered = [r.body["messages"][0]["content"] for r in server.requests]
        assert sorted(set(answered)) == sorted(f"load {index}" for index in range(REQUESTS))
        assert settled_fds(before) <= before


def test_anthropic_client_under_load_and_across_loops() -> None:
    with FakeLLMServer() as server:
        before = open_fds()
        model = AnthropicMessagesModel(
            model="claude", base_url=server.anthropic_base_url, api_key="sk-load", timeout=10.0
        )
        for _ in range(2):  # a second loop gets fresh pools; the first loop's were closed
            results = asyncio.run(asyncio.wait_for(hammer(model, 300), 60))
            assert [c.text for c in results] == [f"load {index}#0" for index in range(300)]
            server.reset()
        assert settled_fds(before) <= before
