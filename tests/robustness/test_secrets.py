"""A key never leaks: CRLF keys, escaped echoes, excerpt cuts, help(), DEBUG logs, JUnit.

Every test plants a key and looks for it (or any sizeable piece of it) where a user would see it.
"""

from __future__ import annotations

import base64
import json
import pydoc
import urllib.parse

import pytest
from _client_fixtures import (  # noqa: F401 (async_transport is a fixture)
    CHOSEN,
    TRANSPORTS,
    async_transport,
    make_client,
    needs_transport,
    run,
)
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models.clients import (
    AnthropicMessagesModel,
    ModelAPIError,
    ModelConfigError,
    OpenAIChatModel,
    model_from_spec,
)
from pytest_hotmess.models.errors import REDACTED, Secret, redact
from pytest_hotmess.models.http import ChatModelBase
from pytest_hotmess.models.providers import BuildContext

PLANTED = "sk-hotmess-PLANTED+key/0123456789=="
PIECE = PLANTED[3:17]
"""A piece of the key long enough that finding it means a leak."""


def _text_of(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), repr(vars(error))])


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", " \t"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.usefixtures("async_transport")
def test_a_key_with_a_trailing_newline_is_stripped_and_never_echoed(
    server: FakeLLMServer, provider: str, ending: str
) -> None:
    # A CRLF .env file: the variable ends in "\r\n". httpx used to refuse the header and
    # print it, key included (b'Bearer sk-...\r\n'); now the key is sent stripped.
    spec = {
        "provider": provider,
        "model": "m",
        "base_url": server.openai_base_url if provider == "openai" else server.anthropic_base_url,
        "api_key_env": "PLANTED_KEY",
        "max_attempts": 1,
        "timeout": 5,
    }
    model = model_from_spec(
        spec, environ={"PLANTED_KEY": PLANTED + ending}, http_transport=CHOSEN["transport"]
    )
    assert isinstance(model, ChatModelBase)
    try:
        assert model("hi").text  # type: ignore[operator]
        assert run(model.acall("hi")).text  # type: ignore[attr-defined]
        header = "authorization" if provider == "openai" else "x-api-key"
        prefix = "Bearer " if provider == "openai" else ""
        assert [r.headers[header] for r in server.requests] == [prefix + PLANTED] * 2
        server.script(Reply(401, body={"error": {"message": f"bad key {PLANTED!r}"}}))
        server.script(Reply(401, body={"error": {"message": f"bad key {PLANTED!r}"}}))
        for call in (lambda: model("hi"), lambda: run(model.acall("hi"))):  # type: ignore
            with pytest.raises(ModelAPIError) as caught:
                call()
            assert PIECE not in _text_of(caught.value)
            assert REDACTED in str(caught.value)
    finally:
        model.close()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is not set"),
        (" \r\n", "empty"),
        ("sk-abc\r\ndef", "control, space or non-ASCII"),
        ("sk-abc\x00def", "control, space or non-ASCII"),
        ("sk-abc def", "control, space or non-ASCII"),
        ("sk-abcé", "control, space or non-ASCII"),
    ],
)
def test_an_unusable_key_is_refused_naming_the_variable_not_the_value(
    value: str, problem: str
) -> None:
    spec = {"provider": "openai", "model": "m", "api_key_env": "MY_OPENAI_KEY"}
    with pytest.raises(ModelConfigError) as caught:
        model_from_spec(spec, entry="gpt", environ={"MY_OPENAI_KEY": value})
    message = str(caught.value)
    assert "model entry 'gpt'" in message and "MY_OPENAI_KEY" in message and problem in message
    if value.strip():
        assert "sk-abc" not in message


def test_an_unusable_key_given_as_an_argument_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^api_key: .*control") as caught:
        OpenAIChatModel(model="m", api_key="sk-abc\ndef")
    assert "sk-abc" not in str(caught.value)


def _escaped_forms(key: str) -> dict[str, str]:
    return {
        "raw": key,
        "repr of bytes": repr(("Bearer " + key).encode()),
        "repr of str": repr(key),
        "json": json.dumps({"k": key}),
        "percent": urllib.parse.quote(key, safe=""),
        "form": urllib.parse.quote_plus(key),
        "backslash": key.encode("unicode_escape").decode(),
        "basic auth": base64.b64encode(f"user:{key}".encode()).decode(),
        "basic auth, other user": base64.b64encode(f"me:{key}".encode()).decode(),
        "basic auth, no user": base64.b64encode(f":{key}".encode()).decode(),
    }


@pytest.mark.parametrize("key", [PLANTED, 'sk-"quoted"\\back/slash+plus=', "sk-plain0123456789"])
@pytest.mark.parametrize("form", list(_escaped_forms("x")))
def test_redact_covers_every_form_a_key_takes(key: str, form: str) -> None:
    text = f"server said: {_escaped_forms(key)[form]} (end)"
    shown = redact(text, Secret(key))
    assert REDACTED in shown
    encoded = _escaped_forms(key)[form]
    # At most two bytes at either end of a base64 form can survive (they mix with neighbours).
    assert not any(encoded[i : i + 12] in shown for i in range(max(1, len(encoded) - 11)))


def test_redaction_runs_before_the_excerpt_cut(server: FakeLLMServer) -> None:
    # The key straddles the 300-character cut of the provider's message.
    for filler in (285, 290, 295, 298):
        message = "x" * filler + PLANTED + " tail"
        server.script(Reply(400, body={"error": {"message": message}}))
        model = make_client(
            OpenAIChatModel, model="m", base_url=server.openai_base_url, api_key=PLANTED
        )
        with pytest.raises(ModelAPIError) as caught:
            model("hi")
        shown = _text_of(caught.value)
        assert PLANTED[:4] not in shown, shown[-80:]  # not even "sk-h" survives the cut


def test_help_and_reprs_hold_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTMESS_PLANTED_ENV_KEY", PLANTED)
    assert PIECE not in pydoc.render_doc(model_from_spec)
    context = BuildContext(entry="e", environ={"K": PLANTED})
    assert PIECE not in repr(context)
    spec = {"provider": "openai", "model": "m", "api_key_env": "HOTMESS_PLANTED_ENV_KEY"}
    model = model_from_spec(spec)  # the default environment is read at the call
    assert isinstance(model, OpenAIChatModel)
    try:
        assert PIECE not in repr(model) and PIECE not in repr(vars(model))
    finally:
        model.close()


_CONFTEST = """
import os
import pytest
from pytest_hotmess.models.clients import model_from_spec


@pytest.fixture(params=["sync", "async"])
def call(request):
    spec = {
        "provider": os.environ["PLANTED_PROVIDER"],
        "model": "m",
        "base_url": os.environ["PLANTED_BASE_URL"],
        "api_key_env": "PLANTED_KEY",
        "max_attempts": 2,
        "backoff_base": 0.001,
        "backoff_max": 0.01,
    }
    model = model_from_spec(spec, http_transport=os.environ["PLANTED_TRANSPORT"])
    yield model if request.param == "sync" else (lambda q: asyncio.run(model.acall(q)))
    model.close()


import asyncio
"""

_TEST = """
import logging


def test_echo(call):
    logging.getLogger("test").debug("starting")
    call("hello")
"""


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_debug_logs_junit_and_output_hold_no_key(
    pytester: pytest.Pytester,
    server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    transport: str,
) -> None:
    needs_transport(transport)
    # A server that echoes the key in a response header and in the error body, after a 500:
    # httpcore logs response headers at DEBUG, the retry is logged, the failure is reported.
    echo = Reply(
        500,
        body={"error": {"message": f"bad {PLANTED}"}},
        headers={"X-Echo": PLANTED, "X-Echo-Quoted": urllib.parse.quote(PLANTED, safe="")},
    )
    for _ in range(4):
        server.script(echo)
    base = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    monkeypatch.setenv("PLANTED_KEY", PLANTED + "\r\n")
    monkeypatch.setenv("PLANTED_BASE_URL", base)
    monkeypatch.setenv("PLANTED_PROVIDER", provider)
    monkeypatch.setenv("PLANTED_TRANSPORT", transport)
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test_echo=_TEST)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--log-level=DEBUG", "-rA", "-l", f"--junitxml={junit}", "-o", "junit_logging=all"
    )
    result.assert_outcomes(failed=2)
    output = result.stdout.str() + result.stderr.str()
    assert "HTTP Request" in output or "receive_response_headers" in output  # DEBUG was seen
    assert "X-Echo" in output or "x-echo" in output.lower()  # the echoing headers were logged
    written = junit.read_text()
    for text in (output, written):
        assert PIECE not in text
        assert urllib.parse.quote(PLANTED, safe="")[3:17] not in text
    assert server.count() == 4


def test_the_planted_key_is_really_sent_stripped(server: FakeLLMServer) -> None:
    # Guards the tests above: the key they look for is the one the client sends.
    model = make_client(
        AnthropicMessagesModel, model="m", base_url=server.anthropic_base_url, api_key=PLANTED
    )
    model("hi")
    assert server.requests[0].headers["x-api-key"] == PLANTED
