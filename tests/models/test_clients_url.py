"""The endpoint URL is parsed once per model, not on every request (a per-call CPU cost)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.models.clients import OpenAIChatModel
from pytest_hotmess.models.http import ModelAPIError


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_requests_are_sent_to_a_parsed_url(monkeypatch: pytest.MonkeyPatch, transport: str) -> None:
    """httpx parses a ``str`` URL on every request; an ``httpx.URL`` it only copies."""
    seen: list[type[Any]] = []
    sync_build = httpx.Client.build_request
    async_build = httpx.AsyncClient.build_request

    def spy_sync(self: httpx.Client, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        seen.append(type(url))
        return sync_build(self, method, url, **kwargs)

    def spy_async(self: httpx.AsyncClient, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        seen.append(type(url))
        return async_build(self, method, url, **kwargs)

    monkeypatch.setattr(httpx.Client, "build_request", spy_sync)
    monkeypatch.setattr(httpx.AsyncClient, "build_request", spy_async)
    with FakeLLMServer() as server:
        model = OpenAIChatModel(
            model="gpt", base_url=server.openai_base_url, http_transport=transport
        )
        try:
            assert model("sync").text == "sync#0"
            assert asyncio.run(model.acall("async")).text == "async#0"
        finally:
            model.close()
        assert server.count() == 2
    assert seen == [httpx.URL, httpx.URL]


def test_a_url_httpx_rejects_is_still_reported_on_the_first_call() -> None:
    """Parsing at construction must not turn a bad base_url into a different error."""
    model = OpenAIChatModel(model="gpt", base_url="http://127.0.0.1:8a/v1", max_attempts=1)
    with pytest.raises(
        ModelAPIError,
        match=r"could not send POST http://127\.0\.0\.1:8a/v1/chat/completions: InvalidURL",
    ):
        model("hi")
