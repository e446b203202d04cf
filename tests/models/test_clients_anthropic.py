"""AnthropicMessagesModel against a real local HTTP server."""

from __future__ import annotations

from typing import Any

import pytest
from _client_fixtures import async_transport, make_client, run  # noqa: F401 (a fixture)
from _fake_llm_server import ANTHROPIC_PATH, FakeLLMServer, Reply, answer_text

from pytest_hotmess.models.clients import AnthropicMessagesModel, ModelAPIError
from pytest_hotmess.sampling.completion import Model
from pytest_hotmess.sampling.context import sample_scope

KEY = "sk-ant-test-key"


def make_model(server: FakeLLMServer, **overrides: Any) -> AnthropicMessagesModel:
    settings = {"model": "claude-test", "base_url": server.anthropic_base_url, "api_key": KEY}
    return make_client(AnthropicMessagesModel, **settings | overrides)


def test_maps_parameters_headers_and_answer(server: FakeLLMServer) -> None:
    model = make_model(server, params={"temperature": 1.0})
    assert isinstance(model, Model)
    assert model.name == "anthropic:claude-test"
    completion = model("Pick A or B.", system="Be brief.", stop="\n\n", seed=11, top_p=0.5)
    (seen,) = server.requests
    assert seen.path == ANTHROPIC_PATH
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    assert seen.body == {
        "model": "claude-test",
        "messages": [{"role": "user", "content": "Pick A or B."}],
        "system": "Be brief.",
        "temperature": 1.0,
        "top_p": 0.5,
        "stop_sequences": ["\n\n"],
        "max_tokens": 1024,  # required by the API: the default when not given
    }  # seed: the Messages API has none, so it is not sent
    assert completion.text == answer_text(seen.body, 0)  # the two text blocks, joined
    assert completion.model == "claude-test-served"
    assert completion.finish_reason == "end_turn"
    assert completion.input_tokens == 6
    assert completion.output_tokens == len(completion.text.split())
    assert completion.reasoning_tokens is None
    assert completion.latency_s is not None and completion.latency_s > 0
    model.close()


@pytest.mark.usefixtures("async_transport")
def test_thinking_budget_and_text_without_thinking_blocks(server: FakeLLMServer) -> None:
    model = make_model(server)
    completion = run(model.acall("Think first.", thinking=2048))
    (seen,) = server.requests
    assert seen.path == ANTHROPIC_PATH  # the async path sends the same headers as the sync one
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    body = seen.body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 2048 + 1024  # must exceed the thinking budget
    assert completion.text == "Think first.#0"
    assert "SECRET-THOUGHT" not in completion.text

    server.reset()
    model("Again.", thinking={"type": "enabled", "budget_tokens": 100}, max_tokens=300)
    body = server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 100}
    assert body["max_tokens"] == 300


def test_system_messages_in_the_prompt_move_to_the_top_level(server: FakeLLMServer) -> None:
    model = make_model(server, params={"system": "Default rules."})
    model(
        [
            {"role": "system", "content": "From the prompt."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "bye"},
        ]
    )
    body = server.requests[0].body
    assert body["system"] == "Default rules.\n\nFrom the prompt."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_prompts_the_api_would_reject_fail_early(server: FakeLLMServer) -> None:
    model = make_model(server)
    with pytest.raises(ValueError, match="only system messages"):
        model([{"role": "system", "content": "x"}])
    with pytest.raises(ValueError, match="one sample per request"):
        model("hi", n=2)
    with pytest.raises(ValueError, match="thinking"):
        model("hi", thinking=True)
    assert server.requests == []


def test_overloaded_529_is_retried(server: FakeLLMServer) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.script(Reply(529, body=overloaded), Reply(429, headers={"retry-after": "0"}))
    assert make_model(server)("hi").text == "hi#0"
    assert server.count() == 3


@pytest.mark.usefixtures("async_transport")
def test_invalid_request_is_reported_with_the_provider_message(server: FakeLLMServer) -> None:
    error_body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: 99999 > 8192"},
    }
    server.script(Reply(400, body=error_body))

    async def call() -> None:
        with sample_scope("item-3", 0):
            await make_model(server).acall("hi", max_tokens=99999)

    with pytest.raises(ModelAPIError) as caught:
        run(call())
    error = caught.value
    assert (error.status, error.attempts, error.item) == (400, 1, "item-3")
    assert error.provider_message == "max_tokens: 99999 > 8192 (invalid_request_error)"
    assert str(error) == (
        "anthropic model 'claude-test' failed after 1 attempt: HTTP 400 "
        f"(POST {server.url}/v1/messages); provider says: "
        "max_tokens: 99999 > 8192 (invalid_request_error) (item 'item-3')"
    )


def test_an_answer_without_content_is_a_clear_error(server: FakeLLMServer) -> None:
    server.script(Reply(body={"type": "message", "stop_reason": "end_turn"}))
    with pytest.raises(ModelAPIError, match="no 'content' list"):
        make_model(server)("hi")


def test_reasoning_tokens_are_read_when_reported(server: FakeLLMServer) -> None:
    body = {
        "content": [{"type": "text", "text": "ok"}],
        "usage": {"input_tokens": 3, "output_tokens": 40, "reasoning_tokens": 31},
    }
    server.script(Reply(body=body))
    completion = make_model(server)("hi")
    assert (completion.text, completion.output_tokens, completion.reasoning_tokens) == (
        "ok",
        40,
        31,
    )
    assert completion.model is None and completion.finish_reason is None
