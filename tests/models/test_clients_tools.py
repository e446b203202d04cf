"""The tools pytest users mock and record HTTP with see the plugin's calls: respx intercepts
them, pytest-socket blocks them with a clear error, vcrpy records them to a cassette."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _client_fixtures import TRANSPORTS, needs_transport, run, track
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.models.clients import ModelAPIError, model_from_spec
from pytest_hotmess.models.http import ChatModelBase

KEY = "sk-tools-PLANTED-key"
OPENAI_ANSWER = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "mocked"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}
ANTHROPIC_ANSWER = {
    "content": [{"type": "text", "text": "mocked"}],
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def _from_spec(provider: str, base_url: str, transport: str) -> ChatModelBase:
    spec = {"provider": provider, "model": "m", "base_url": base_url, "api_key_env": "K"}
    model = model_from_spec(spec, entry=provider, environ={"K": KEY}, http_transport=transport)
    assert isinstance(model, ChatModelBase)
    return track(model)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("provider", "base_url", "path", "answer"),
    [
        ("openai", "https://llm.invalid/v1", "/v1/chat/completions", OPENAI_ANSWER),
        ("anthropic", "https://llm.invalid", "/v1/messages", ANTHROPIC_ANSWER),
    ],
)
def test_respx_intercepts_sync_and_async_calls(
    transport: str, provider: str, base_url: str, path: str, answer: dict[str, Any]
) -> None:
    # using="httpx" mocks at the client, under any transport; respx's default (httpcore)
    # mocks httpx's own transport only, checked below.
    needs_transport(transport)
    with respx.mock(using="httpx", assert_all_called=True) as mock:
        route = mock.post(f"https://llm.invalid{path}").mock(
            return_value=httpx.Response(200, json=answer)
        )
        model = _from_spec(provider, base_url, transport)
        assert model("q").text == "mocked"
        assert run(model.acall("q")).text == "mocked"
    assert route.call_count == 2
    sent = route.calls.last.request
    assert KEY in (sent.headers.get("authorization", "") + sent.headers.get("x-api-key", ""))


def test_respx_default_mocker_intercepts_httpx_transport() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://llm.invalid/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=OPENAI_ANSWER)
        )
        model = _from_spec("openai", "https://llm.invalid/v1", "httpx")
        assert model("q").text == "mocked" and run(model.acall("q")).text == "mocked"
    assert route.call_count == 2


@pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")  # pytest-socket's
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_blocked_sockets_give_a_clear_error_naming_the_endpoint(
    transport: str, server: FakeLLMServer
) -> None:
    pytest_socket = pytest.importorskip("pytest_socket")
    needs_transport(transport)
    model = _from_spec("openai", server.openai_base_url, transport)
    url = f"{server.openai_base_url}/chat/completions"
    pytest_socket.disable_socket(allow_unix_socket=True)  # asyncio's loop needs a socketpair
    try:
        for call in (lambda: model("q"), lambda: run(model.acall("q"))):
            with pytest.raises(ModelAPIError) as caught:
                call()
            message = str(caught.value)
            assert f"POST {url}" in message and "SocketBlockedError" in message
            assert caught.value.attempts == 1 and KEY not in message
    finally:
        pytest_socket.enable_socket()
    assert server.count() == 0


def test_disable_socket_in_a_pytester_run_names_the_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        hotmess=textwrap.dedent(
            """
            models:
              remote: {provider: openai, base_url: "http://127.0.0.1:9/v1", model: m}
            """
        ),
    )
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.coherence(max_incoherence=1.0, samples=2)
            def test_gated(resample, hotmess_model):
                resample(hotmess_model, "Answer A or B.", target="A")
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--disable-socket",
        "--allow-unix-socket",  # an asyncio loop needs a socketpair
        "--hotmess-model",
        "remote",
        "-p",
        "no:cacheprovider",
    )
    output = result.stdout.str() + result.stderr.str()
    assert "IndexError" not in output
    assert "POST http://127.0.0.1:9/v1/chat/completions" in output
    assert "SocketBlockedError" in output
    result.assert_outcomes(failed=1)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_vcrpy_records_the_request_to_a_cassette(
    transport: str, server: FakeLLMServer, tmp_path: Path
) -> None:
    vcr = pytest.importorskip("vcr")
    needs_transport(transport)
    cassette = tmp_path / "calls.yaml"
    recorder = vcr.VCR(record_mode="once", filter_headers=["authorization"])
    model = _from_spec("openai", server.openai_base_url, transport)
    with recorder.use_cassette(str(cassette)) as tape:
        assert model("first").text
        assert run(model.acall("second")).text
    assert len(tape) == 2 and server.count() == 2
    text = cassette.read_text()
    assert "/v1/chat/completions" in text and "first" in text and "second" in text
    assert KEY not in text
    replayed = _from_spec("openai", server.openai_base_url, transport)
    with recorder.use_cassette(str(cassette)):
        assert replayed("first").text == "first#0"  # the fake server's first draw
    assert server.count() == 2  # answered from the cassette
