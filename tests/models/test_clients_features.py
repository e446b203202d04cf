"""Client features real endpoints need, against a real local server: custom headers, Azure
OpenAI, anthropic_version, streaming (SSE), tool calls, log-probabilities and ``params:``."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from _client_fixtures import (  # noqa: F401 (async_transport is a fixture)
    CHOSEN,
    async_transport,
    run,
    track,
)
from _fake_llm_server import FakeLLMServer, Reply, answer_text

from pytest_hotmess import distribution_from_logprobs
from pytest_hotmess.models.clients import ModelAPIError, ModelConfigError, model_from_spec
from pytest_hotmess.models.http import ChatModelBase
from pytest_hotmess.models.record_key import identity_of
from pytest_hotmess.models.recording import Recording, RecordingModel
from pytest_hotmess.sampling.completion import Completion, TokenLogprob, ToolCall
from pytest_hotmess.sampling.context import sample_scope

GATEWAY_TOKEN = "gw-PLANTED-header-secret-0123456789"
KEY = "sk-features-PLANTED-key-0123456789"


def _model(server: FakeLLMServer, provider: str, **spec: Any) -> ChatModelBase:
    base_url = {
        "openai": server.openai_base_url,
        "anthropic": server.anthropic_base_url,
        "azure": server.url,
    }[provider]
    full = {"provider": provider, "model": "m", "base_url": base_url, "max_attempts": 1, **spec}
    environ = {"GATEWAY_TOKEN": GATEWAY_TOKEN, "MY_KEY": KEY, "ORG": "org-42"}
    model = model_from_spec(full, entry="e", environ=environ, http_transport=CHOSEN["transport"])
    assert isinstance(model, ChatModelBase)
    return track(model)


def _both(model: ChatModelBase, prompt: str = "q", **params: Any) -> list[Completion]:
    """The same call, sync and async (on the transport ``async_transport`` chose)."""
    return [model(prompt, **params), run(model.acall(prompt, **params))]


# -- headers ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_custom_headers_reach_the_server_with_values_from_the_environment(
    server: FakeLLMServer, provider: str
) -> None:
    headers = {
        "OpenAI-Organization": {"env": "ORG"},
        "X-Gateway-Auth": "Bearer ${GATEWAY_TOKEN}",
        "anthropic-beta": "tools-2024-04-04",
    }
    model = _model(server, provider, headers=headers)
    _both(model)
    for seen in server.requests:
        assert seen.headers["openai-organization"] == "org-42"
        assert seen.headers["x-gateway-auth"] == f"Bearer {GATEWAY_TOKEN}"
        assert seen.headers["anthropic-beta"] == "tools-2024-04-04"
    assert model.header_names == ("OpenAI-Organization", "X-Gateway-Auth", "anthropic-beta")
    assert GATEWAY_TOKEN not in repr(model) and GATEWAY_TOKEN not in repr(vars(model))


@pytest.mark.usefixtures("async_transport")
def test_header_values_echoed_in_errors_are_redacted(server: FakeLLMServer) -> None:
    model = _model(server, "openai", headers={"X-Gateway-Auth": "${GATEWAY_TOKEN}"})
    echo = {"error": {"message": f"bad gateway token {GATEWAY_TOKEN}"}}
    server.script(Reply(403, body=echo), Reply(403, body=echo))
    for call in (lambda: model("q"), lambda: run(model.acall("q"))):
        with pytest.raises(ModelAPIError) as caught:
            call()
        shown = f"{caught.value}\n{caught.value!r}\n{vars(caught.value)!r}"
        assert GATEWAY_TOKEN[3:15] not in shown and "[REDACTED]" in shown


def test_header_values_never_reach_recordings_or_their_keys(
    server: FakeLLMServer, tmp_path: Any
) -> None:
    model = _model(server, "openai", headers={"X-Gateway-Auth": "${GATEWAY_TOKEN}"})
    store = Recording()
    recorder = RecordingModel(model, store)
    with sample_scope("q", 0):
        recorder("hello")
    assert server.requests[0].headers["x-gateway-auth"] == GATEWAY_TOKEN  # sent, not recorded
    text = store.save(tmp_path / "rec.jsonl").read_text(encoding="utf-8")
    assert GATEWAY_TOKEN not in text and "X-Gateway-Auth" not in text
    assert GATEWAY_TOKEN not in repr(identity_of(model))


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Authorization": "Bearer sk-literal-in-the-file"}, "carries a credential"),
        ({"X-Api-Key": "literal"}, "carries a credential"),
        ({"X-Org": {"env": "UNSET_VARIABLE"}}, "UNSET_VARIABLE is not set"),
        ({"X-Org": "${EMPTY}"}, "EMPTY is empty"),
        ({"X-Org": 3}, "expected a string or {env: NAME}"),
        ({"X-Org": {"env": "ORG", "other": 1}}, "expected a string or {env: NAME}"),
        ({"Bad Name": "x"}, "not a valid HTTP header name"),
        ({"X-Org": "a\nb"}, "control or non-ASCII"),
        (["X-Org"], "'headers' must be a mapping"),
    ],
)
def test_bad_headers_are_refused_naming_the_header_never_the_value(
    headers: Any, problem: str
) -> None:
    spec = {"provider": "openai", "model": "m", "headers": headers}
    with pytest.raises(ModelConfigError) as caught:
        model_from_spec(spec, entry="gw", environ={"ORG": "o", "EMPTY": " "})
    message = str(caught.value)
    assert "model entry 'gw'" in message and problem in message
    assert "sk-literal" not in message and "literal" not in message.replace("literal'", "")


def test_a_header_may_not_replace_the_key_header() -> None:
    spec = {"provider": "openai", "model": "m", "api_key_env": "K", "headers": {}}
    spec["headers"] = {"authorization": "Bearer ${K}"}
    with pytest.raises(ModelConfigError, match="not both"):
        model_from_spec(spec, environ={"K": "sk-x"})


def test_a_credential_header_from_the_environment_replaces_the_key(server: FakeLLMServer) -> None:
    model = _model(server, "openai", headers={"Authorization": "Bearer ${GATEWAY_TOKEN}"})
    model("q")
    assert server.requests[0].headers["authorization"] == f"Bearer {GATEWAY_TOKEN}"


# -- params: and SDK-only arguments ----------------------------------------------------------


def test_params_mapping_is_merged_into_the_body_as_in_hotmess_yaml(server: FakeLLMServer) -> None:
    model = _model(server, "openai", temperature=0.5, params={"user": "u1", "temperature": 0.7})
    model("q")
    body = server.requests[0].body
    assert "params" not in body
    assert (body["user"], body["temperature"]) == ("u1", 0.7)  # later keys win, as in the file


@pytest.mark.parametrize("nested", [True, False])
def test_extra_headers_is_refused_pointing_to_headers(nested: bool) -> None:
    value = {"X-Org": "o"}
    spec: dict[str, Any] = {"provider": "openai", "model": "m"}
    spec.update({"params": {"extra_headers": value}} if nested else {"extra_headers": value})
    with pytest.raises(ModelConfigError) as caught:
        model_from_spec(spec, entry="gw")
    assert "SDK argument" in str(caught.value) and "'headers:'" in str(caught.value)


# -- Azure and anthropic_version -------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
def test_azure_posts_to_the_deployment_with_api_key_and_api_version(
    server: FakeLLMServer,
) -> None:
    model = _model(
        server,
        "azure",
        model="gpt-4o",
        deployment="my deploy",
        api_version="2024-06-01",
        api_key_env="MY_KEY",
    )
    answers = _both(model, "hi")
    assert [a.text for a in answers] == ["hi#0", "hi#1"]
    assert answers[0].model == "my deploy-served"
    for seen in server.requests:
        assert seen.path == "/openai/deployments/my%20deploy/chat/completions"
        assert seen.query == {"api-version": "2024-06-01"}
        assert seen.headers["api-key"] == KEY
        assert "authorization" not in seen.headers
    identity = identity_of(model)
    assert identity.provider == "azure" and "my%20deploy" in str(identity.base_url)
    assert "2024-06-01" in str(identity.base_url)


def test_azure_deployment_defaults_to_the_model_and_needs_a_base_url(
    server: FakeLLMServer,
) -> None:
    _model(server, "azure", model="gpt-4o-mini")("q")
    assert server.requests[0].path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert server.requests[0].query["api-version"]
    with pytest.raises(ModelConfigError, match="base_url is required"):
        model_from_spec({"provider": "azure", "model": "m"}, entry="az")


def test_azure_404_names_the_deployment(server: FakeLLMServer) -> None:
    server.script(Reply(404))
    with pytest.raises(ModelAPIError) as caught:
        _model(server, "azure", deployment="nope")("q")
    message = str(caught.value)
    assert "/openai/deployments/nope/chat/completions?api-version=" in message
    assert "no deployment 'nope'" in message


@pytest.mark.parametrize(
    ("key", "provider"), [("anthropic_version", "openai"), ("deployment", "anthropic")]
)
def test_provider_only_settings_are_refused_elsewhere(key: str, provider: str) -> None:
    with pytest.raises(ModelConfigError, match=f"'{key}' applies to provider"):
        model_from_spec({"provider": provider, "model": "m", key: "x"}, entry="e")


def test_anthropic_version_is_sent(server: FakeLLMServer) -> None:
    _model(server, "anthropic")("q")
    _model(server, "anthropic", anthropic_version="2099-01-01")("q")
    assert [r.headers["anthropic-version"] for r in server.requests] == [
        "2023-06-01",
        "2099-01-01",
    ]


# -- streaming -------------------------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_streamed_answer_is_assembled_with_its_usage(
    server: FakeLLMServer, provider: str
) -> None:
    plain = _both(_model(server, provider), "tell me more")
    server.reset()
    streamed = _both(_model(server, provider, stream=True), "tell me more")
    assert [c.text for c in streamed] == [c.text for c in plain]
    for completion in streamed:
        assert completion.input_tokens == 3
        assert completion.output_tokens == 3
        assert completion.finish_reason in ("stop", "end_turn")
        assert completion.model == "m-served"
    assert all(r.body["stream"] is True for r in server.requests)
    assert all(r.headers["accept"] == "text/event-stream" for r in server.requests)
    if provider == "openai":
        assert all(r.body["stream_options"] == {"include_usage": True} for r in server.requests)


@pytest.mark.usefixtures("async_transport")
def test_a_batched_stream_hands_each_sample_its_choice(server: FakeLLMServer) -> None:
    model = _model(server, "openai", stream=True, n_per_request=3)
    texts = []
    for sample in range(6):  # a batch of 3 sync calls, then one of 3 async calls
        with sample_scope("item", sample):
            texts.append(model("q").text if sample < 3 else run(model.acall("q")).text)
    user = {"messages": [{"role": "user", "content": "q"}]}
    assert texts == [answer_text(user, i) for i in range(6)]
    assert server.count() == 2


@pytest.mark.parametrize(
    ("provider", "raw", "expected"),
    [
        ("openai", b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n', "[DONE]"),
        (
            "anthropic",
            b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n',
            "message_stop",
        ),
    ],
)
def test_a_stream_cut_short_is_retried_then_reported(
    server: FakeLLMServer, provider: str, raw: bytes, expected: str
) -> None:
    model = _model(server, provider, stream=True, max_attempts=2, backoff_base=0.001)
    cut = Reply(200, raw=raw, content_type="text/event-stream")
    server.script(cut, cut)
    with pytest.raises(ModelAPIError, match=re.escape(f"ended before its {expected}")) as caught:
        model("q")
    assert caught.value.attempts == 2


def test_an_error_event_in_a_stream_is_the_providers_message(server: FakeLLMServer) -> None:
    event = (
        b'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error",'
        b'"message":"prompt is too long"}}\n\n'
    )
    server.script(Reply(200, raw=event, content_type="text/event-stream"))
    with pytest.raises(ModelAPIError) as caught:
        _model(server, "anthropic", stream=True, max_attempts=3)("q")
    assert caught.value.attempts == 1  # an invalid request is not retried
    assert caught.value.provider_message == "prompt is too long (invalid_request_error)"


def test_a_stream_is_bounded_by_max_response_bytes(server: FakeLLMServer) -> None:
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"x" * 500 + b'"}}]}\n\n'
    server.script(
        Reply(200, raw=chunk * 100 + b"data: [DONE]\n\n", content_type="text/event-stream")
    )
    with pytest.raises(ModelAPIError, match="larger than max_response_bytes"):
        _model(server, "openai", stream=True, max_response_bytes=10_000)("q")


# -- tool calls and structured output ---------------------------------------------------------

OPENAI_TOOLS = [{"type": "function", "function": {"name": "answer", "parameters": {}}}]
ANTHROPIC_TOOLS = [{"name": "answer", "input_schema": {"type": "object"}}]


@pytest.mark.usefixtures("async_transport")
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_tool_calls_become_records_and_a_tools_only_answer_is_not_empty(
    server: FakeLLMServer, provider: str, stream: bool
) -> None:
    tools = OPENAI_TOOLS if provider == "openai" else ANTHROPIC_TOOLS
    model = _model(server, provider, stream=stream, params={"tools": tools})
    for index, completion in enumerate(_both(model, "capital?")):
        (call,) = completion.tool_calls
        assert call.name == "answer"
        assert call.arguments == {"answer": f"capital?#{index}"}
        assert call.id
        assert json.loads(completion.text) == [
            {"name": "answer", "arguments": {"answer": f"capital?#{index}"}}
        ]


def test_tool_call_arguments_that_are_not_json_stay_a_string(server: FakeLLMServer) -> None:
    message = {
        "role": "assistant",
        "content": "Calling.",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{not json"}}],
    }
    server.script(Reply(200, body={"choices": [{"index": 0, "message": message}]}))
    completion = _model(server, "openai")("q")
    assert completion.tool_calls == (ToolCall("f", "{not json", "c"),)
    assert completion.text == "Calling."  # text when there is some


# -- log-probabilities ------------------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
@pytest.mark.parametrize("stream", [False, True])
def test_logprobs_are_parsed(server: FakeLLMServer, stream: bool) -> None:
    model = _model(server, "openai", stream=stream, params={"logprobs": True, "top_logprobs": 3})
    for completion in _both(model, "q"):
        assert completion.logprobs is not None
        (token,) = completion.logprobs
        assert token.token == completion.text and token.logprob == -0.25
        assert [t.token for t in token.top_logprobs] == [completion.text, "B", " A"]
    assert _model(server, "openai")("q").logprobs is None


def _with_logprobs(*positions: TokenLogprob) -> Completion:
    return Completion(text="".join(p.token for p in positions), logprobs=positions)


def test_distribution_from_logprobs_reads_the_answer_position() -> None:
    answer = TokenLogprob(
        " B",
        math.log(0.6),
        (
            TokenLogprob(" B", math.log(0.6)),
            TokenLogprob("A", math.log(0.2)),
            TokenLogprob(" A", math.log(0.1)),
            TokenLogprob("Z", math.log(0.05)),
        ),
    )
    completion = _with_logprobs(TokenLogprob("Answer:", -0.01), answer)
    got = distribution_from_logprobs(completion, choices=["A", "B", "C", "D"])
    assert got == pytest.approx({"A": 0.3 / 0.9, "B": 0.6 / 0.9, "C": 0.0, "D": 0.0})
    raw = distribution_from_logprobs(completion, choices=["A", "B", "C", "D"], normalize=False)
    assert raw == pytest.approx({"A": 0.3, "B": 0.6, "C": 0.0, "D": 0.0})


def test_distribution_from_logprobs_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="no log-probabilities"):
        distribution_from_logprobs(Completion(text="A"), choices=["A", "B"])
    with pytest.raises(ValueError, match="no answer token"):
        distribution_from_logprobs(_with_logprobs(TokenLogprob("Q", -1.0)), choices=["A", "B"])


def test_completions_with_tool_calls_and_logprobs_survive_a_recording(tmp_path: Any) -> None:
    completion = Completion(
        text="B",
        tool_calls=(ToolCall("f", {"a": [1, 2]}, "id1"),),
        logprobs=(TokenLogprob("B", -0.1, (TokenLogprob("B", -0.1), TokenLogprob("A", -2.5))),),
    )
    assert Completion.from_dict(json.loads(json.dumps(completion.to_dict()))) == completion
    assert set(Completion(text="x").to_dict()) == {
        "text", "model", "finish_reason", "input_tokens", "output_tokens",
        "reasoning_tokens", "latency_s",
    }  # fmt: skip


# -- errors that help -------------------------------------------------------------------------


def test_anthropic_base_url_with_v1_is_named_in_a_404(server: FakeLLMServer) -> None:
    model = track(
        model_from_spec(
            {
                "provider": "anthropic",
                "model": "m",
                "base_url": f"{server.url}/v1",
                "api_key_env": "MY_KEY",
                "max_attempts": 1,
            },
            environ={"MY_KEY": KEY},
        )
    )
    with pytest.raises(ModelAPIError) as caught:
        model("q")  # type: ignore[operator]
    message = str(caught.value)
    assert f"POST {server.url}/v1/v1/messages" in message
    assert "giving /v1/v1/messages" in message and "drop the /v1" in message
    assert KEY not in message


def test_openai_base_url_without_v1_is_named_in_a_404(server: FakeLLMServer) -> None:
    model = _model(server, "openai", base_url=server.url)
    with pytest.raises(ModelAPIError, match=r"POST .*/chat/completions\).*does not end in /v1"):
        model("q")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_names_its_variable(server: FakeLLMServer, status: int) -> None:
    server.script(Reply(status))
    with pytest.raises(ModelAPIError) as caught:
        _model(server, "openai", api_key_env="MY_KEY")("q")
    assert "the key from environment variable MY_KEY" in str(caught.value)
    assert KEY not in str(caught.value)


def test_no_key_sent_is_said_on_401_and_on_a_gateway_500(server: FakeLLMServer) -> None:
    server.script(Reply(401), Reply(500))
    model = _model(server, "openai")
    with pytest.raises(ModelAPIError, match=r"HTTP 401.*no API key was sent: name the"):
        model("q")
    with pytest.raises(ModelAPIError, match=r"HTTP 500.*no API key was sent; some gateways"):
        model("q")
    server.script(Reply(500))
    with pytest.raises(ModelAPIError) as caught:
        _model(server, "openai", api_key_env="MY_KEY")("q")
    assert "hint" not in str(caught.value)


def test_requests_and_hints_survive_pickling(server: FakeLLMServer) -> None:
    import pickle

    server.script(Reply(404))
    with pytest.raises(ModelAPIError) as caught:
        _model(server, "openai")("q")
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == str(caught.value) and again.hint and again.request


def test_a_stream_of_the_wrong_shape_is_a_clear_error(server: FakeLLMServer) -> None:
    events = (
        b'event: content_block_start\ndata: {"type":"content_block_start","index":"x",'
        b'"content_block":{}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    server.script(Reply(200, raw=events, content_type="text/event-stream"))
    with pytest.raises(ModelAPIError, match="malformed event stream"):
        _model(server, "anthropic", stream=True)("q")


def test_record_keys_hold_what_changes_the_answer_and_never_headers(
    server: FakeLLMServer,
) -> None:
    params = {"tools": OPENAI_TOOLS, "logprobs": True, "top_logprobs": 2}
    model = _model(
        server, "openai", stream=True, params=params, headers={"X-Auth": "${GATEWAY_TOKEN}"}
    )
    identity = identity_of(model)
    assert {"stream", "tools", "logprobs", "top_logprobs"} <= set(identity.params)
    assert "headers" not in identity.params and GATEWAY_TOKEN not in repr(identity)
    plain = identity_of(_model(server, "openai", headers={"X-Auth": "${GATEWAY_TOKEN}"}))
    assert plain == identity_of(_model(server, "openai"))  # headers never change the key
