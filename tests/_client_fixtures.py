"""Set-up shared by the HTTP client tests: a local server, tracked clients, loops and fd counts.

``tests/conftest.py`` re-exports the two fixtures (``close_models``, ``server``); test modules
import the plain helpers from here, and ``async_backend`` where a test takes the async path.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.models import http as _http
from pytest_hotmess.models.http import ChatModelBase, JSONEndpoint

__all__ = [
    "ASYNC_BACKENDS",
    "MADE",
    "async_backend",
    "close_models",
    "make_client",
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


ASYNC_BACKENDS = ("native", "httpx")


@pytest.fixture(params=ASYNC_BACKENDS)
def async_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test once per async backend (``_http.ASYNC_BACKEND``), and check afterwards that
    its async calls really went through that backend: the native pool's are ``_anative`` calls.

    Only tests that call ``acall`` on a default-transport client need this; the rest of the
    suite runs once, on the default backend.
    """
    backend: str = request.param
    monkeypatch.setattr(_http, "ASYNC_BACKEND", backend)  # read when a client is made
    # list.append is atomic: some tests call from several threads at once
    attempts: dict[str, list[None]] = {"all": [], "native": []}
    attempt, native = JSONEndpoint._aattempt, JSONEndpoint._anative

    async def counted_attempt(self: JSONEndpoint, body: Any) -> Any:
        attempts["all"].append(None)
        return await attempt(self, body)

    async def counted_native(self: JSONEndpoint, pool: Any, body: Any) -> Any:
        attempts["native"].append(None)
        return await native(self, pool, body)

    monkeypatch.setattr(JSONEndpoint, "_aattempt", counted_attempt)
    monkeypatch.setattr(JSONEndpoint, "_anative", counted_native)
    yield backend
    made, native_made = len(attempts["all"]), len(attempts["native"])
    assert made > 0, "the test made no async attempt: it does not need both backends"
    expected = made if backend == "native" else 0
    assert native_made == expected, f"{native_made} of {made} attempts native on {backend!r}"


def make_client(cls: type[ModelT], **settings: Any) -> ModelT:
    """A tracked client with a short timeout and near-zero backoff (unless ``settings`` say
    otherwise), so retry tests stay fast."""
    fast: dict[str, Any] = {
        "timeout": 5.0,
        "max_attempts": 3,
        "backoff_base": 0.001,
        "backoff_max": 0.01,
    }
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
