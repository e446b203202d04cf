"""What users rely on from the HTTP layer, on each async transport (httpx's own and aiohttp's):
content decoding, TLS with custom CAs, proxies with NO_PROXY, clear transport errors, one
User-Agent, and the choice of transport itself.
"""

from __future__ import annotations

import gzip
import json
import ssl
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _client_fixtures import (  # noqa: F401 (a fixture)
    AIOHTTP_MISSING,
    TRANSPORTS,
    async_transport,
    make_client,
    needs_transport,
    run,
)
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.config.settings import SettingsError
from pytest_hotmess.models import transport as _transport
from pytest_hotmess.models.clients import ModelAPIError, OpenAIChatModel
from pytest_hotmess.models.http import USER_AGENT
from pytest_hotmess.models.transport import (
    TransportUnavailableError,
    aiohttp_installed,
    resolve_transport,
)

KEY = "sk-test-transport-key"
TLS = Path(__file__).parents[1] / "data" / "tls"  # self-signed for 127.0.0.1, valid to 2126


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
        ("gzip, gzip", lambda raw: gzip.compress(gzip.compress(raw))),  # applied in order
    ],
)
@pytest.mark.usefixtures("async_transport")
def test_compressed_answers_are_decoded(server: FakeLLMServer, encoding: str, encode: Any) -> None:
    server.script(Reply(raw=encode(_answer("café")), headers={"Content-Encoding": encoding}))
    completion = run(_model(server).acall("q"))
    assert completion.text == "café"
    assert "gzip" in server.requests[-1].headers["accept-encoding"]


@pytest.mark.usefixtures("async_transport")
def test_a_corrupt_compressed_answer_is_a_clear_error_without_retry(
    server: FakeLLMServer,
) -> None:
    server.script(Reply(raw=b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(ModelAPIError, match="DecodingError") as caught:
        run(_model(server).acall("q"))
    assert caught.value.attempts == 1 and server.count() == 1
    assert KEY not in str(caught.value)


@pytest.mark.usefixtures("async_transport")
def test_an_error_with_an_empty_compressed_body_keeps_its_status(server: FakeLLMServer) -> None:
    # A 429 that declares gzip but sends no body is still a 429: waited out and retried.
    headers = {"Content-Encoding": "gzip", "Retry-After": "0"}
    server.script(Reply(status=429, raw=b"", headers=headers))
    completion = run(_model(server, max_attempts=2).acall("q"))
    assert completion.text and server.count() == 2


@pytest.mark.usefixtures("async_transport")
def test_the_key_travels_only_on_the_request(server: FakeLLMServer) -> None:
    model = _model(server)
    run(model.acall("q"))
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(vars(model._endpoint)) and KEY not in repr(model)


@pytest.mark.usefixtures("async_transport")
def test_connection_refused_is_retried_and_names_the_endpoint() -> None:
    url = "http://127.0.0.1:9/v1"
    model = make_client(OpenAIChatModel, model="m", base_url=url, api_key=KEY, max_attempts=2)
    with pytest.raises(ModelAPIError, match="Connect") as caught:
        run(model.acall("q"))
    assert caught.value.attempts == 2 and KEY not in str(caught.value)
    assert f"POST {url}/chat/completions" in str(caught.value)


def test_user_info_in_the_url_is_not_shown() -> None:
    model = make_client(
        OpenAIChatModel, model="m", base_url="http://user:pw@127.0.0.1:9/v1", max_attempts=1
    )
    with pytest.raises(ModelAPIError) as caught:
        model("q")
    assert "pw" not in str(caught.value) and "http://127.0.0.1:9/v1" in str(caught.value)
    assert "pw" not in repr(model._endpoint)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_path_sends_the_same_user_agent(server: FakeLLMServer, transport: str) -> None:
    needs_transport(transport)
    model = _model(server, http_transport=transport)
    run(model.acall("q"))
    model("q")  # sync: httpx.Client
    agents = [request.headers["user-agent"] for request in server.requests]
    assert agents == [USER_AGENT] * 2 and USER_AGENT.startswith("pytest-hotmess/")


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def tls_server() -> Iterator[FakeLLMServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    with FakeLLMServer(tls=context) as running:
        yield running


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tls_with_a_custom_ca_from_ssl_cert_file(
    tls_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    needs_transport(transport)
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))
    model = _model(tls_server, http_transport=transport)
    assert tls_server.url.startswith("https://")
    assert model("q").text and run(model.acall("q")).text
    assert tls_server.count() == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tls_verification_refuses_an_unknown_certificate(
    tls_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    needs_transport(transport)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    model = _model(tls_server, http_transport=transport, max_attempts=1)
    for call in (lambda: model("q"), lambda: run(model.acall("q"))):
        with pytest.raises(ModelAPIError, match="certificate verify failed"):
            call()
    assert tls_server.count() == 0


# -- proxies -------------------------------------------------------------------------------

_PROXY_VARIABLES = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy",
)  # fmt: skip


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("environment", "proxied"),
    [
        ({}, False),
        ({"HTTPS_PROXY": "http://127.0.0.1:9"}, False),  # a proxy for another scheme
        ({"HTTP_PROXY": "http://127.0.0.1:9"}, True),
        ({"ALL_PROXY": "http://127.0.0.1:9"}, True),
        ({"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}, False),  # host exempt
        ({"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "example.com"}, True),
    ],
)
def test_proxies_from_the_environment_and_no_proxy(
    server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
    environment: dict[str, str],
    proxied: bool,
) -> None:
    # The proxy at port 9 refuses connections: a proxied call fails, a direct one succeeds.
    needs_transport(transport)
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    model = _model(server, http_transport=transport, max_attempts=1)
    for call in (lambda: model("q"), lambda: run(model.acall("q"))):
        if proxied:
            with pytest.raises(ModelAPIError, match=r"Connect|Proxy"):
                call()
        else:
            assert call().text
    assert server.count() == (0 if proxied else 2)


# -- choosing the transport ------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_chosen_transport_is_the_one_named(server: FakeLLMServer, transport: str) -> None:
    needs_transport(transport)
    assert _model(server, http_transport=transport).transport_name == transport


def test_auto_takes_aiohttp_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transport, "aiohttp_installed", lambda: True)
    assert resolve_transport("auto") == "aiohttp"
    monkeypatch.setattr(_transport, "aiohttp_installed", lambda: False)
    assert resolve_transport("auto") == "httpx"
    assert resolve_transport("httpx") == "httpx"


def test_asking_for_aiohttp_without_it_names_the_source_and_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_transport, "aiohttp_installed", lambda: False)
    with pytest.raises(TransportUnavailableError) as caught:
        resolve_transport("aiohttp", "--hotmess-transport")
    message = str(caught.value)
    assert message.startswith("--hotmess-transport: ") and "pytest-hotmess[aiohttp]" in message
    with pytest.raises(ValueError, match=r"pytest-hotmess\[aiohttp\]"):
        OpenAIChatModel(model="m", http_transport="aiohttp")


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(SettingsError, match="expected one of auto, httpx, aiohttp"):
        resolve_transport("native", "hotmess_transport")


def test_aiohttp_installed_reports_the_environment() -> None:
    import importlib.util

    expected = importlib.util.find_spec("httpx_aiohttp") is not None
    assert aiohttp_installed() is expected, AIOHTTP_MISSING


# -- the setting, through the plugin ---------------------------------------------------------

_NO_AIOHTTP_CONFTEST = """
import pytest_hotmess.models.transport as transport

transport.aiohttp_installed = lambda: False  # as if pytest-hotmess[aiohttp] were not installed
"""


@pytest.mark.parametrize(
    ("args", "ini", "yaml", "source"),
    [
        (["--hotmess-transport", "aiohttp"], "", "", "--hotmess-transport"),
        ([], "hotmess_transport = aiohttp\n", "", "hotmess_transport"),
        ([], "", "defaults: {transport: aiohttp}\n", "hotmess.yaml:1: defaults.transport"),
    ],
)
def test_asking_for_a_missing_aiohttp_is_a_usage_error_naming_the_source(
    pytester: pytest.Pytester, args: list[str], ini: str, yaml: str, source: str
) -> None:
    pytester.makeconftest(_NO_AIOHTTP_CONFTEST)
    pytester.makeini("[pytest]\n" + ini)
    if yaml:
        pytester.makefile(".yaml", hotmess=yaml)
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = result.stderr.str()
    assert source in error and "pip install 'pytest-hotmess[aiohttp]'" in error


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_registry_names_the_resolved_transport(transport: str) -> None:
    from pytest_hotmess.models.registry import ModelRegistry

    needs_transport(transport)
    assert ModelRegistry(None, seed=0, transport=transport).transport == transport
    expected = "aiohttp" if aiohttp_installed() else "httpx"
    assert ModelRegistry(None, seed=0).transport == expected


def test_a_bad_transport_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("--hotmess-transport", "native")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hotmess-transport" in result.stderr.str()
