"""The part of the HTTP layer that needs httpx: the key's auth flow, clients, their failures.

:mod:`pytest_hotmess._http` imports this module on first use. Importing httpx costs about
80 ms, which a run whose async calls all go through the native pool (:mod:`._h1`) never pays;
sync calls, injected transports, proxies and https certificate loading come here.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .http import Failure, Secret, redact

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .http import AsyncTransportFactory

__all__ = [
    "HTTPError",
    "KeyAuth",
    "create_ssl_context",
    "judge_exception",
    "new_async_client",
    "new_sync_client",
]

HTTPError = httpx.HTTPError


class KeyAuth(httpx.Auth):
    """Puts the key header on each request as it is sent.

    The clients' default headers and the model's attributes then never hold the key in clear
    text; only the outgoing request does.
    """

    def __init__(self, header: str, prefix: str, secret: Secret) -> None:
        self._header = header
        self._prefix = prefix
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._prefix + self._secret.reveal()
        yield request

    def __repr__(self) -> str:
        return f"KeyAuth(header={self._header!r})"


def create_ssl_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle), for its clients and the native pool."""
    return httpx.create_ssl_context()


def _options(
    connections: int,
    *,
    headers: Mapping[str, str],
    auth: KeyAuth | None,
    timeout: float,
    connect_timeout: float,
    ssl_context: ssl.SSLContext,
) -> dict[str, Any]:
    return {
        "headers": headers,
        "auth": auth,
        # pool=None: the resampler bounds calls in flight; a call waiting for a free connection
        # behind long generations is not a failure.
        "timeout": httpx.Timeout(timeout, connect=connect_timeout, pool=None),
        "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        "verify": ssl_context,
        "follow_redirects": False,
    }


def new_sync_client(
    connections: int,
    *,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    **options: Any,
) -> httpx.Client:
    if transport is not None and not isinstance(transport, httpx.BaseTransport):
        raise TypeError("the injected transport does not support sync calls")
    return httpx.Client(transport=transport, **_options(connections, **options))


def new_async_client(
    connections: int,
    *,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    transport_factory: AsyncTransportFactory | None,
    **options: Any,
) -> httpx.AsyncClient:
    chosen: httpx.AsyncBaseTransport | None
    if transport_factory is not None:
        chosen = transport_factory()
    elif transport is None or isinstance(transport, httpx.AsyncBaseTransport):
        chosen = transport
    else:
        raise TypeError("the injected transport does not support async calls")
    return httpx.AsyncClient(transport=chosen, **_options(connections, **options))


def judge_exception(exc: httpx.HTTPError, secret: Secret | None) -> Failure:
    """Timeouts and broken connections are transient; bad URLs and protocol misuse are not."""
    description = redact(f"{type(exc).__name__}: {exc}".rstrip(": "), secret)
    retryable = isinstance(exc, (httpx.TimeoutException, httpx.NetworkError))
    retryable = retryable or isinstance(exc, httpx.RemoteProtocolError)
    return Failure(retryable, None, None, description)
