"""OpenAIChatModel against a real local HTTP server: requests, answers, retries, errors, loops."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from _client_fixtures import async_transport, make_client, open_fds, run, settled_fds  # noqa: F401 (a fixture)
from _fake_llm_server import OPENAI_PATH, FakeLLMServer, Reply, answer_text

from pytest_hotmess.models.clients import ModelAPIError, OpenAIChatModel
from pytest_hotmess.sampling.completion import Completion, Model
from pytest_hotmess.sampling.context import sample_scope

KEY = "sk-test-openai-key"


def make_model(server: FakeLLMServer, **overrides: Any) -> OpenAIChatModel:
    settings = {"model": "gpt-test", "base_url": server.openai_base_url, "api_key": KEY}
    return make_client(OpenAIChatModel, **settings | overrides)


# -- requests and answers ----------------------------------------------------------------------


def test_is_a_model_and_maps_parameters_and_answer(server: FakeLLMServer) -> None:
    model = make_model(
        server, params={"temperature": 1.0, "top_p": 0.9, "max_tokens": 50}, name="local"
    )
    assert isinstance(model, Model)
    assert model.name == "local"
    completion = model(
        "What is 2+2?",
        temperature=0.2,
        seed=7,
        stop=["\n"],
        system="Answer briefly.",
        reasoning_effort="low",
    )
    (seen,) = server.requests
    assert seen.path == OPENAI_PATH
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is 2+2?"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "seed": 7,
        "stop": ["\n"],
        "reasoning_effort": "low",
    }
    assert completion.text == answer_text(seen.body, 0)
    assert completion.model == "gpt-test-served"
    assert completion.finish_reason == "stop"
    assert completion.input_tokens == 5  # words in the system and user messages
    assert completion.reasoning_tokens == 5
    assert completion.output_tokens == len(completion.text.split()) + 5
    assert completion.latency_s is not None and 0 < completion.latency_s < 5
    model.close()


def test_message_list_prompt_and_none_removes_a_default(server: FakeLLMServer) -> None:
    model = make_model(server, params={"temperature": 1.0, "seed": 3})
    messages = (
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    )
    completion = model(messages, seed=None)
    (seen,) = server.requests
    assert seen.body["messages"] == [dict(message) for message in messages]
    assert seen.body["temperature"] == 1.0
    assert "seed" not in seen.body
    assert completion.text == "again#0"
    model.close()


def test_no_key_means_no_auth_header(server: FakeLLMServer) -> None:
    model = make_model(server, api_key=None)
    model("hi")
    assert "authorization" not in server.requests[0].headers
    model.close()


def test_bad_prompts_and_n_are_rejected_before_any_request(server: FakeLLMServer) -> None:
    model = make_model(server)
    with pytest.raises(ValueError, match="n_per_request"):
        model("hi", n=3)
    with pytest.raises(TypeError, match="prompt"):
        model(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="role"):
        model([{"content": "no role"}])
    assert server.requests == []


@pytest.mark.usefixtures("async_transport")
def test_async_call_matches_sync_call(server: FakeLLMServer) -> None:
    model = make_model(server)
    sync = model("same question")
    server.reset()
    asynchronous = run(model.acall("same question"))
    assert asynchronous.text == sync.text == "same question#0"
    assert (asynchronous.model, asynchronous.finish_reason) == (sync.model, sync.finish_reason)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    model.close()


def test_content_parts_and_reordered_choices_are_read(server: FakeLLMServer) -> None:
    body = {
        "model": "m",
        "choices": [
            {"index": 1, "message": {"content": "second"}, "finish_reason": "length"},
            {
                "index": 0,
                "message": {"content": [{"type": "text", "text": "fir"}, {"text": "x"}]},
                "finish_reason": "stop",
            },
        ],
    }
    server.script(Reply(body=body))
    completion = make_model(server)("hi")
    assert (completion.text, completion.finish_reason) == ("fir", "stop")
    assert completion.input_tokens is None and completion.output_tokens is None


# -- retries ------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out(server: FakeLLMServer) -> None:
    # backoff_base is huge: only an honoured Retry-After explains a wait of about 0.3 s.
    model = make_model(server, backoff_base=60.0, backoff_max=2.0)
    server.script(Reply(429, headers={"Retry-After": "0.3"}))
    start = time.monotonic()
    completion = model("hi")
    elapsed = time.monotonic() - start
    assert completion.text == "hi#0"
    assert server.count() == 2
    assert 0.28 <= elapsed < 1.5
    model.close()


@pytest.mark.usefixtures("async_transport")
def test_a_long_retry_after_is_capped_by_backoff_max(server: FakeLLMServer) -> None:
    model = make_model(server, backoff_max=0.05)
    server.script(Reply(429, headers={"Retry-After": "100"}))
    start = time.monotonic()
    assert run(model.acall("hi")).text == "hi#0"
    assert time.monotonic() - start < 1.0
    assert server.count() == 2


@pytest.mark.usefixtures("async_transport")
def test_5xx_are_retried_sync_and_async(server: FakeLLMServer) -> None:
    model = make_model(server, max_attempts=3)
    server.script(Reply(500), Reply(503))
    assert model("hi").text == "hi#0"
    assert server.count() == 3
    server.reset()
    server.script(Reply(502), Reply(500))
    assert run(model.acall("hi")).text == "hi#0"
    assert server.count() == 3
    model.close()


def test_exhausted_retries_raise_a_clear_error(server: FakeLLMServer) -> None:
    model = make_model(server, max_attempts=3)
    server.script(Reply(503), Reply(503), Reply(503), Reply(503))
    with sample_scope("item-17", 4), pytest.raises(ModelAPIError) as caught:
        model("hi")
    error = caught.value
    assert isinstance(error, RuntimeError)
    assert (error.status, error.attempts, error.item) == (503, 3, "item-17")
    assert error.provider_message == "scripted failure 503 (scripted)"
    message = str(error)
    for part in ("openai", "'gpt-test'", "3 attempts", "HTTP 503", "scripted failure 503"):
        assert part in message
    assert "item-17" in message
    assert server.count() == 3
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.usefixtures("async_transport")
def test_async_exhausted_retries(server: FakeLLMServer) -> None:
    model = make_model(server, max_attempts=2)
    server.script(Reply(429, headers={"Retry-After": "0"}), Reply(429))

    async def call() -> Completion:
        with sample_scope("q9", 0):
            return await model.acall("hi")

    with pytest.raises(ModelAPIError, match=r"after 2 attempts: HTTP 429.*\(item 'q9'\)"):
        run(call())
    assert server.count() == 2


def test_400_is_not_retried_and_shows_the_provider_message(server: FakeLLMServer) -> None:
    body = {"error": {"message": "Unsupported value: 'temperature'", "type": "invalid_request"}}
    server.script(Reply(400, body=body))
    model = make_model(server, max_attempts=5)
    with pytest.raises(ModelAPIError) as caught:
        model("hi", temperature=9)
    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert "Unsupported value: 'temperature' (invalid_request)" in str(caught.value)
    assert server.count() == 1


def test_plain_text_error_bodies_are_shown(server: FakeLLMServer) -> None:
    server.script(Reply(404, raw=b"model 'nope' not found", content_type="text/plain"))
    with pytest.raises(
        ModelAPIError, match=r"HTTP 404 \(POST .*\); provider says: model 'nope' not"
    ):
        make_model(server)("hi")


def test_slow_answer_times_out_and_is_retried(server: FakeLLMServer) -> None:
    model = make_model(server, timeout=0.2, max_attempts=2)
    server.script(Reply(delay_s=0.6))
    start = time.monotonic()
    assert model("hi").text.startswith("hi#")
    assert time.monotonic() - start < 2.0
    assert server.count() == 2
    model.close()


@pytest.mark.usefixtures("async_transport")
def test_timeouts_exhausted_raise_without_hanging(server: FakeLLMServer) -> None:
    model = make_model(server, timeout=0.2, max_attempts=2)
    server.script(Reply(delay_s=0.6), Reply(delay_s=0.6))
    start = time.monotonic()
    with pytest.raises(ModelAPIError, match="ReadTimeout") as caught:
        run(model.acall("hi"))
    assert time.monotonic() - start < 2.0
    assert caught.value.status is None and caught.value.attempts == 2


def test_dropped_connection_is_retried(server: FakeLLMServer) -> None:
    server.script(Reply(drop_connection=True))
    model = make_model(server)
    assert model("hi").text == "hi#0"
    assert server.count() == 2
    model.close()


def test_connection_refused_is_retried_then_reported(server: FakeLLMServer) -> None:
    model = make_model(server, max_attempts=2)
    server.stop()
    with pytest.raises(ModelAPIError, match="ConnectError") as caught:
        model("hi")
    assert caught.value.status is None and caught.value.attempts == 2
    assert caught.value.__context__ is None


def test_malformed_json_on_200_is_a_clear_error_without_retry(server: FakeLLMServer) -> None:
    server.script(Reply(raw=b'{"choices": [', content_type="application/json"))
    with pytest.raises(ModelAPIError) as caught:
        make_model(server, max_attempts=4)("hi")
    assert caught.value.status == 200 and caught.value.attempts == 1
    assert "malformed JSON" in str(caught.value) and '{"choices": [' in str(caught.value)
    assert server.count() == 1


@pytest.mark.usefixtures("async_transport")
def test_wrong_content_type_on_200_is_a_clear_error_without_retry(server: FakeLLMServer) -> None:
    server.script(Reply(raw=b"<html>login</html>", content_type="text/html"))
    with pytest.raises(ModelAPIError, match=r"content-type 'text/html'.*base_url.*<html>"):
        run(make_model(server, max_attempts=4).acall("hi"))
    assert server.count() == 1


def test_an_answer_without_choices_is_a_clear_error(server: FakeLLMServer) -> None:
    server.script(Reply(body={"object": "chat.completion", "choices": []}))
    with pytest.raises(ModelAPIError, match="no 'choices'"):
        make_model(server)("hi")


def test_redirect_is_not_followed(server: FakeLLMServer) -> None:
    server.script(Reply(307, raw=b"", headers={"Location": "https://elsewhere.invalid/v1"}))
    with pytest.raises(ModelAPIError, match=r"HTTP 307.*redirects are not followed"):
        make_model(server)("hi")
    assert server.count() == 1


# -- event loops and pools ---------------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
def test_one_model_serves_many_event_loops(server: FakeLLMServer) -> None:
    model = make_model(server)
    before = open_fds()
    texts = [run(model.acall(f"loop {index}")).text for index in range(5)]
    assert texts == [f"loop {index}#0" for index in range(5)]
    # Each loop's pool was closed by that loop's shutdown: no connection is left behind.
    assert settled_fds(before) <= before

    results: list[str] = []
    errors: list[BaseException] = []

    def in_thread(index: int) -> None:
        try:
            results.append(run(model.acall(f"thread {index}")).text)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=in_thread, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert sorted(results) == [f"thread {index}#0" for index in range(4)]
    model.close()


@pytest.mark.usefixtures("async_transport")
def test_a_loop_that_outlived_its_pool_gets_a_new_one(server: FakeLLMServer) -> None:
    model = make_model(server)

    async def twice() -> list[str]:
        first = await model.acall("a")
        await model.aclose()
        second = await model.acall("b")
        await model.aclose()
        return [first.text, second.text]

    assert run(twice()) == ["a#0", "b#0"]


@pytest.mark.usefixtures("async_transport")
def test_context_managers_close_pools(server: FakeLLMServer) -> None:
    before = open_fds()
    with make_model(server) as model:
        model("hi")

    async def use() -> None:
        async with make_model(server) as other:
            await other.acall("hi")

    run(use())
    assert settled_fds(before) <= before


def test_repr_names_the_model_not_the_key(server: FakeLLMServer) -> None:
    model = make_model(server)
    assert repr(model) == (
        f"OpenAIChatModel(name='openai:gpt-test', model='gpt-test', "
        f"base_url='{server.openai_base_url}')"
    )


def test_injected_transports_carry_the_calls() -> None:
    # The transport is swappable (issue #8): no server and no network, only the mock.
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = {"model": "mock", "choices": [{"index": 0, "message": {"content": "mocked"}}]}
        return httpx.Response(200, json=answer)

    model = OpenAIChatModel(
        model="m",
        base_url="http://mock.invalid/v1",
        api_key=KEY,
        transport=httpx.MockTransport(handler),
    )
    assert model("hi").text == "mocked"
    assert run(model.acall("hi")).text == "mocked"
    assert [request.url.path for request in seen] == ["/v1/chat/completions"] * 2
    assert all(request.headers["authorization"] == f"Bearer {KEY}" for request in seen)

    made: list[httpx.AsyncBaseTransport] = []

    def factory() -> httpx.AsyncBaseTransport:
        made.append(httpx.MockTransport(handler))
        return made[-1]

    per_loop = OpenAIChatModel(
        model="m", base_url="http://mock.invalid/v1", async_transport_factory=factory
    )
    assert [run(per_loop.acall(str(index))).text for index in range(3)] == ["mocked"] * 3
    assert len(made) == 3  # one transport per event loop


def test_a_sync_only_transport_refuses_async_calls() -> None:
    class SyncOnly(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(500)

    model = OpenAIChatModel(model="m", base_url="http://mock.invalid/v1", transport=SyncOnly())
    with pytest.raises(TypeError, match="does not support async"):
        run(model.acall("hi"))
