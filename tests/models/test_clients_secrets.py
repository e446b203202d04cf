"""A planted API key never shows up in reprs, errors, tracebacks, logs or recordings."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from typing import Any

import pytest
from _client_fixtures import make_client, needs_transport
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models.clients import (
    AnthropicMessagesModel,
    ModelAPIError,
    OpenAIChatModel,
    model_from_spec,
)
from pytest_hotmess.models.http import ChatModelBase
from pytest_hotmess.models.recording import Recording, RecordingModel
from pytest_hotmess.sampling.context import sample_scope

PLANTED = "sk-hotmess-PLANTED-0123456789"


def clients(server: FakeLLMServer, **overrides: Any) -> list[ChatModelBase]:
    settings = {"api_key": PLANTED, "timeout": 0.3, "max_attempts": 2} | overrides
    return [
        make_client(OpenAIChatModel, model="gpt", base_url=server.openai_base_url, **settings),
        make_client(
            AnthropicMessagesModel, model="claude", base_url=server.anthropic_base_url, **settings
        ),
    ]


def everything_about(error: BaseException) -> str:
    """Every string an error can be turned into, following its whole cause/context chain,
    plus the headers of any httpx request an error in the chain carries."""
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        parts.append("".join(traceback.format_exception(current)))
        request = getattr(current, "_request", None)  # httpx errors hold their request
        if request is not None:
            parts.append(repr(dict(request.headers)))
        following = current.__cause__
        current = following if following is not None else current.__context__
    return "\n".join(parts)


def call_sync_and_async(model: ChatModelBase, prompt: str = "hi") -> list[BaseException]:
    errors: list[BaseException] = []
    with sample_scope("item-1", 0):
        try:
            model(prompt)  # type: ignore[operator]
        except ModelAPIError as exc:
            errors.append(exc)

    async def call() -> None:
        with sample_scope("item-1", 0):
            await model.acall(prompt)  # type: ignore[attr-defined]

    try:
        asyncio.run(asyncio.wait_for(call(), 10))
    except ModelAPIError as exc:
        errors.append(exc)
    return errors


def test_the_key_is_really_sent(server: FakeLLMServer) -> None:
    # Proves the other tests look for a key that the clients do hold and use.
    for model in clients(server):
        model("hi")  # type: ignore[operator]
    openai_seen, anthropic_seen = server.requests
    assert openai_seen.headers["authorization"] == f"Bearer {PLANTED}"
    assert anthropic_seen.headers["x-api-key"] == PLANTED


def test_reprs_hold_no_key(server: FakeLLMServer) -> None:
    for model in clients(server):
        model("hi")  # type: ignore[operator]  # pools and auth objects exist now
        texts = [repr(model), str(model), repr(vars(model)), repr(vars(model._endpoint))]
        assert all(PLANTED not in text for text in texts)


def test_errors_echoing_the_key_are_scrubbed(server: FakeLLMServer) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {PLANTED}", "type": "auth"}}
    for model in clients(server):
        server.script(Reply(401, body=echo), Reply(401, body=echo))
        errors = call_sync_and_async(model)
        assert len(errors) == 2
        for error in errors:
            text = everything_about(error)
            assert "Incorrect API key provided: [REDACTED]" in text
            assert PLANTED not in text


def test_malformed_answers_and_redirects_echoing_the_key_are_scrubbed(
    server: FakeLLMServer,
) -> None:
    for model in clients(server):
        server.script(
            Reply(raw=f"<p>{PLANTED}</p>".encode(), content_type="text/html"),
            Reply(raw=f'{{"key": "{PLANTED}"'.encode()),
        )
        server.script(Reply(302, raw=b"", headers={"Location": f"http://x.invalid/?k={PLANTED}"}))
        server.script(Reply(302, raw=b"", headers={"Location": f"http://x.invalid/?k={PLANTED}"}))
        errors = call_sync_and_async(model) + call_sync_and_async(model)
        assert len(errors) == 4
        assert all(PLANTED not in everything_about(error) for error in errors)


def test_transport_errors_carry_no_request_headers(server: FakeLLMServer) -> None:
    models = clients(server, timeout=0.1)
    for model in models:  # timeouts
        server.script(*[Reply(delay_s=0.3)] * 4)
        errors = call_sync_and_async(model)
        assert len(errors) == 2
        for error in errors:
            assert error.__cause__ is None and error.__context__ is None
            assert "ReadTimeout" in str(error)
            assert PLANTED not in everything_about(error)
    server.stop()
    for model in models:  # connection refused
        errors = call_sync_and_async(model)
        assert len(errors) == 2
        for error in errors:
            assert error.__cause__ is None and error.__context__ is None
            assert "ConnectError" in str(error)
            assert PLANTED not in everything_about(error)


def test_logs_hold_no_key_even_at_debug(
    server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "pytest_hotmess"):
        caplog.set_level(logging.DEBUG, logger=name)
    for model in clients(server):
        model("ok")  # type: ignore[operator]
        server.script(Reply(429, headers={"Retry-After": "0"}), Reply(401, body={"error": PLANTED}))
        call_sync_and_async(model)
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"httpx", "httpcore", "pytest_hotmess"} <= loggers  # the capture really saw them
    assert PLANTED not in caplog.text
    for record in caplog.records:
        assert PLANTED not in record.getMessage()
        assert PLANTED not in repr(record.args)


def test_config_errors_hold_no_key() -> None:
    spec = {"provider": "openai", "model": "m", "api_key_env": "K", "timeout": "x"}
    with pytest.raises(Exception) as caught:
        model_from_spec(spec, environ={"K": PLANTED})
    assert PLANTED not in everything_about(caught.value)


def test_recordings_hold_no_key(server: FakeLLMServer, tmp_path: Any) -> None:
    store = Recording()
    for model in clients(server):
        recorder = RecordingModel(model, store)  # type: ignore[arg-type]
        for index in range(3):
            with sample_scope("q", index):
                recorder("hello", temperature=0.5)
    path = store.save(tmp_path / "rec.jsonl")
    text = path.read_text(encoding="utf-8")
    assert len(store) == 6
    assert PLANTED not in text and "Bearer" not in text and "x-api-key" not in text
    assert PLANTED not in repr(store)


@pytest.mark.parametrize(
    "transport",
    ["httpx", "aiohttp"],
)
def test_tracebacks_with_local_variables_hold_no_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    # `pytest -l` prints every local of every frame of a failure: a call cancelled while its
    # request is in flight has the request and its headers among them.
    needs_transport(transport)
    monkeypatch.setenv("PLANTED_KEY", PLANTED)
    monkeypatch.setenv("TRANSPORT", transport)
    pytester.makepyfile(
        """
        import asyncio
        import os
        import socket

        from pytest_hotmess import OpenAIChatModel

        def test_cancelled_in_flight():
            listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
            port = listener.getsockname()[1]
            model = OpenAIChatModel(
                model="m", base_url=f"http://127.0.0.1:{port}/v1",
                api_key=os.environ["PLANTED_KEY"], http_transport=os.environ["TRANSPORT"],
            )
            try:
                asyncio.run(asyncio.wait_for(model.acall("hi"), 0.3))
            finally:
                listener.close()
        """
    )
    result = pytester.runpytest_subprocess("-l", "-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "TimeoutError" in output and re.search(r"\bport\s+= \d+", output)  # locals shown
    assert "in _aattempt" in output  # the traceback runs through the transport's frames
    assert PLANTED not in output
    assert PLANTED.encode().hex() not in output and PLANTED[::-1] not in output
