"""Set-up shared by the HTTP client tests: a local server, tracked clients, loops and fd counts.

``tests/conftest.py`` re-exports the two fixtures (``close_models``, ``server``); test modules
import the plain helpers from here, and ``async_transport`` where a test takes the async path.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import pytest
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.models.http import ChatModelBase
from pytest_hotmess.models.transport import aiohttp_installed

__all__ = [
    "AIOHTTP_MISSING",
    "CHOSEN",
    "MADE",
    "TRANSPORTS",
    "async_transport",
    "close_models",
    "make_client",
    "needs_transport",
    "open_fds",
    "run",
    "server",
    "settled_fds",
    "track",
]

# Models made by a test are closed after it, so no socket is left for the garbage collector.
MADE: list[ChatModelBase] = []
ModelT = TypeVar("ModelT", bound=ChatModelBase)


def track(model: ModelT) -> ModelT:
    """Remember ``model`` so that ``close_models`` closes it when the test ends."""
    MADE.append(model)
    return model


@pytest.fixture(autouse=True)
def close_models() -> Iterator[None]:
    yield
    while MADE:
        MADE.pop().close()


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


TRANSPORTS = ("httpx", "aiohttp")
CHOSEN = {"transport": "auto"}
"""The ``http_transport`` that :func:`make_client` passes; ``async_transport`` sets it."""

AIOHTTP_MISSING = "httpx-aiohttp is not installed (pip install 'pytest-hotmess[aiohttp]')"


def needs_transport(name: str) -> None:
    """Skip the test when ``name`` is the aiohttp transport and it is not installed."""
    if name == "aiohttp" and not aiohttp_installed():
        pytest.skip(AIOHTTP_MISSING)


@pytest.fixture(params=TRANSPORTS)
def async_transport(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Run the test once per async transport (clients from :func:`make_client` use it), and
    check afterwards that its async calls really went through that transport.

    Only tests that call ``acall`` need this; the rest of the suite runs once, on ``auto``.
    """
    name: str = request.param
    needs_transport(name)
    monkeypatch.setitem(CHOSEN, "transport", name)
    # list.append is atomic: some tests call from several threads at once
    seen: dict[str, list[None]] = {"httpx": [], "aiohttp": []}
    classes: dict[str, type[Any]] = {"httpx": httpx.AsyncHTTPTransport}
    if aiohttp_installed():
        from httpx_aiohttp import AiohttpTransport

        classes["aiohttp"] = AiohttpTransport
    for label, cls in classes.items():
        monkeypatch.setattr(cls, "handle_async_request", _counted(cls, seen[label]))
    yield name
    other = "aiohttp" if name == "httpx" else "httpx"
    assert seen[name], f"the test made no request through {name!r}: it needs no transports"
    assert not seen[other], f"{len(seen[other])} requests went through {other!r}, not {name!r}"


def _counted(cls: type[Any], seen: list[None]) -> Any:
    original = cls.handle_async_request

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        seen.append(None)
        return await original(self, request)  # type: ignore[no-any-return]

    return handle_async_request


def make_client(cls: type[ModelT], **settings: Any) -> ModelT:
    """A tracked client with a short timeout and near-zero backoff (unless ``settings`` say
    otherwise), so retry tests stay fast."""
    fast: dict[str, Any] = {
        "timeout": 5.0,
        "max_attempts": 3,
        "backoff_base": 0.001,
        "backoff_max": 0.01,
    }
    fast["http_transport"] = CHOSEN["transport"]
    return track(cls(**fast | settings))


def run(coro: Any, timeout: float = 20.0) -> Any:
    """Run a coroutine on a fresh loop, never longer than ``timeout``."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def open_fds() -> int:
    gc.collect()  # sockets of earlier tests that are only waiting for the collector
    return len(os.listdir("/proc/self/fd"))


def settled_fds(target: int, timeout: float = 5.0) -> int:
    """The fd count once the server's threads have closed their side of closed connections."""
    deadline = time.monotonic() + timeout
    count = open_fds()
    while count > target and time.monotonic() < deadline:
        time.sleep(0.02)
        count = open_fds()
    return count
