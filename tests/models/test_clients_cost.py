"""What a call costs the client beyond the transport: no task per async call, no CA bundle for an
endpoint that never opens TLS (and a context that would refuse TLS rather than skip checks)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from _client_fixtures import (  # noqa: F401 (a fixture)
    async_transport,
    make_client,
    run,
)
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models import http as _http
from pytest_hotmess.models import httpx_client as _httpx_client
from pytest_hotmess.models.clients import ModelAPIError, OpenAIChatModel

TLS = Path(__file__).parents[1] / "data" / "tls"
_PROXY_VARIABLES = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy",
)  # fmt: skip
_ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A"}}]}


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bundles_loaded(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """Counts the CA bundles the clients load (``create_ssl_context`` calls)."""
    loaded: list[None] = []
    original = _http.create_ssl_context

    def counted() -> ssl.SSLContext:
        loaded.append(None)
        return original()

    monkeypatch.setattr(_http, "create_ssl_context", counted)
    return loaded


def test_an_async_call_runs_in_the_callers_task() -> None:
    # The call's deadline used to wrap every request in a task of its own (asyncio.wait_for):
    # one more task, and its scheduling, per call.
    tasks: list[asyncio.Task[Any] | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        tasks.append(asyncio.current_task())
        return httpx.Response(200, json=_ANSWER)

    model = make_client(
        OpenAIChatModel,
        model="m",
        base_url="http://mock.invalid/v1",
        transport=httpx.MockTransport(handler),
    )

    async def calls() -> asyncio.Task[Any] | None:
        for _ in range(3):
            assert (await model.acall("q")).text == "A"
        return asyncio.current_task()

    caller = run(calls())
    assert caller is not None and tasks == [caller] * 3


@pytest.mark.usefixtures("async_transport")
def test_the_deadline_still_ends_a_slow_async_call(server: FakeLLMServer) -> None:
    # The answer comes after 2 s; the deadline (0.3 s) ends the call there, without a retry.
    model = make_client(OpenAIChatModel, model="m", base_url=server.openai_base_url, deadline=0.3)
    assert run(model.acall("warm-up")).text  # the transport's imports are not on the clock
    server.script(Reply(delay_s=2.0))
    with pytest.raises(ModelAPIError, match=r"deadline of 0\.3 s passed") as raised:
        run(model.acall("q"), timeout=5)
    assert raised.value.attempts == 1


@pytest.mark.usefixtures("no_proxies")
@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_a_plain_http_endpoint_loads_no_ca_bundle(
    server: FakeLLMServer, bundles_loaded: list[None], transport: str
) -> None:
    if transport == "aiohttp":
        pytest.importorskip("httpx_aiohttp")
    model = make_client(
        OpenAIChatModel, model="m", base_url=server.openai_base_url, http_transport=transport
    )
    assert model("q").text and run(model.acall("q")).text
    assert bundles_loaded == []
    context = model._endpoint._shared_ssl_context()
    # were TLS ever used, it would verify against no authority at all: refused, not skipped
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


def test_the_fail_closed_context_refuses_a_tls_server() -> None:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    with FakeLLMServer(tls=tls) as server:
        client = httpx.Client(verify=_httpx_client.fail_closed_ssl_context())
        with client, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(server.openai_base_url)
        assert server.count() == 0


@pytest.mark.usefixtures("no_proxies")
@pytest.mark.parametrize(
    ("url", "environment"),
    [
        ("https://api.example.invalid/v1", {}),
        ("HTTPS://api.example.invalid/v1", {}),
        ("http://127.0.0.1:9/v1", {"HTTPS_PROXY": "https://proxy.invalid:3128"}),
        ("http://127.0.0.1:9/v1", {"all_proxy": "https://proxy.invalid:3128"}),
    ],
)
def test_an_endpoint_that_may_use_tls_loads_the_ca_bundle_once(
    monkeypatch: pytest.MonkeyPatch,
    bundles_loaded: list[None],
    url: str,
    environment: dict[str, str],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    model = make_client(OpenAIChatModel, model="m", base_url=url)
    first = model._endpoint._shared_ssl_context()
    assert model._endpoint._shared_ssl_context() is first
    assert bundles_loaded == [None]
