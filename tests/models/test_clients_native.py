"""What the endpoint adds around the native pool: content decoding, fallbacks, error names.

Each test runs on both async backends (``async_backend``), so the native path is checked
against httpx's behaviour for the same server answers.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest
from _client_fixtures import async_backend, make_client, run  # noqa: F401 (a fixture)
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models import http as _http
from pytest_hotmess.models.clients import ModelAPIError, OpenAIChatModel

KEY = "sk-test-native-key"


def _answer(text: str) -> bytes:
    body = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    return json.dumps(body).encode()


def _model(server: FakeLLMServer, **overrides: Any) -> OpenAIChatModel:
    settings = {"model": "m", "base_url": server.openai_base_url, "api_key": KEY}
    return make_client(OpenAIChatModel, **settings | overrides)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the standard says
        ("deflate", lambda raw: zlib.compress(raw)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda raw: raw),
    ],
)
@pytest.mark.usefixtures("async_backend")
def test_compressed_answers_are_decoded(server: FakeLLMServer, encoding: str, encode: Any) -> None:
    server.script(Reply(raw=encode(_answer("café")), headers={"Content-Encoding": encoding}))
    completion = run(_model(server).acall("q"))
    assert completion.text == "café"
    # the request asked for what the endpoint can decode
    assert "gzip" in server.requests[-1].headers["accept-encoding"]


@pytest.mark.usefixtures("async_backend")
def test_a_corrupt_compressed_answer_is_a_clear_error_without_retry(
    server: FakeLLMServer,
) -> None:
    server.script(Reply(raw=b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(ModelAPIError, match="DecodingError") as caught:
        run(_model(server).acall("q"))
    assert caught.value.attempts == 1 and server.count() == 1
    assert KEY not in str(caught.value)


@pytest.mark.usefixtures("async_backend")
def test_the_key_travels_only_on_the_request(server: FakeLLMServer) -> None:
    model = _model(server)
    run(model.acall("q"))
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    endpoint = model._endpoint
    assert KEY not in repr(vars(endpoint)) and KEY not in repr(model)
    if endpoint._native is not None:
        assert KEY.encode() not in endpoint._native.head
        assert KEY not in repr(vars(endpoint._native))


@pytest.mark.parametrize(
    "settings",
    [
        {"api_key": "sk-line\nbreak"},  # a key the native pool refuses to put on the wire
        {"base_url": "http://user:pw@127.0.0.1:9/v1"},  # user info: not for the native pool
    ],
)
def test_what_the_native_pool_cannot_send_is_left_to_httpx(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setattr(_http, "ASYNC_BACKEND", "native")
    model = _model(server, **settings)
    assert model._endpoint._native is None
    default = _model(server)
    assert default._endpoint._native is not None  # the same settings otherwise go native


_PROXY_VARIABLES = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy",
)  # fmt: skip


@pytest.mark.parametrize(
    ("environment", "native"),
    [
        ({}, True),
        ({"NO_PROXY": "example.com"}, True),  # exemptions alone configure no proxy
        ({"HTTPS_PROXY": "http://127.0.0.1:9"}, True),  # a proxy for another scheme
        ({"HTTP_PROXY": "http://127.0.0.1:9"}, False),
        ({"ALL_PROXY": "http://127.0.0.1:9"}, False),
        ({"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}, True),  # host exempt
        ({"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "example.com"}, False),
    ],
)
def test_a_proxy_for_the_endpoint_sends_async_calls_through_httpx(
    server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    native: bool,
) -> None:
    monkeypatch.setattr(_http, "ASYNC_BACKEND", "auto")
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert (_model(server)._endpoint._native is not None) is native  # server.url is plain http


@pytest.mark.usefixtures("async_backend")
def test_connection_refused_reads_as_httpx_would() -> None:
    model = make_client(
        OpenAIChatModel,
        model="m",
        base_url="http://127.0.0.1:9/v1",
        api_key=KEY,
        max_attempts=2,
    )
    with pytest.raises(ModelAPIError, match="ConnectError") as caught:
        run(model.acall("q"))
    assert caught.value.attempts == 2 and KEY not in str(caught.value)


@pytest.mark.usefixtures("async_backend")
def test_an_error_with_an_empty_compressed_body_keeps_its_status(server: FakeLLMServer) -> None:
    # A 429 that declares gzip but sends no body is still a 429: waited out and retried.
    headers = {"Content-Encoding": "gzip", "Retry-After": "0"}
    server.script(Reply(status=429, raw=b"", headers=headers))
    completion = run(_model(server, max_attempts=2).acall("q"))
    assert completion.text and server.count() == 2


def test_on_the_native_path_an_undecodable_error_body_does_not_hide_the_status(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (httpx gives up with a DecodingError here: it cannot read the status of such an answer)
    monkeypatch.setattr(_http, "ASYNC_BACKEND", "native")
    server.script(Reply(status=503, raw=b"broken", headers={"Content-Encoding": "gzip"}))
    completion = run(_model(server, max_attempts=2).acall("q"))
    assert completion.text and server.count() == 2


def test_every_path_sends_the_same_user_agent(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents = []
    for backend in ("native", "httpx"):
        monkeypatch.setattr(_http, "ASYNC_BACKEND", backend)
        model = _model(server)
        run(model.acall("q"))
        agents.append(server.requests[-1].headers["user-agent"])
    model("q")  # sync: httpx.Client
    agents.append(server.requests[-1].headers["user-agent"])
    assert agents == [_http.USER_AGENT] * 3 and _http.USER_AGENT.startswith("pytest-hotmess/")


@pytest.mark.parametrize(("value", "native"), [("httpx", False), ("Native", True), ("auto", True)])
def test_the_environment_variable_chooses_the_async_backend(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, value: str, native: bool
) -> None:
    monkeypatch.setattr(_http, "ASYNC_BACKEND", "native" if not native else "httpx")
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOTMESS_ASYNC_BACKEND", value)
    assert (_model(server)._endpoint._native is not None) is native


def test_a_bad_backend_variable_names_itself(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTMESS_ASYNC_BACKEND", "aiohttp")
    with pytest.raises(ValueError, match="HOTMESS_ASYNC_BACKEND must be auto, native or httpx"):
        _model(server)
