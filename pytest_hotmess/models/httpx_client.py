"""httpx clients for one endpoint: the key's auth flow, timeouts, limits, TLS, and their failures.

Sync calls use ``httpx.Client``; async calls ``httpx.AsyncClient`` over httpx's own transport or,
when chosen, ``httpx_aiohttp``'s (see :mod:`.transport`). Both honour the environment the way
httpx does (``trust_env``: ``HTTP(S)_PROXY``/``ALL_PROXY`` with ``NO_PROXY``, ``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` for custom certificate authorities).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx

from .errors import Failure, Secret, redact
from .transport import TransportName

__all__ = [
    "AsyncTransportFactory",
    "HTTPError",
    "KeyAuth",
    "create_ssl_context",
    "judge_exception",
    "new_async_client",
    "new_sync_client",
]

HTTPError = httpx.HTTPError
AsyncTransportFactory = Callable[[], httpx.AsyncBaseTransport]


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
    """httpx's verification: certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set."""
    return httpx.create_ssl_context(trust_env=True)


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
        "trust_env": True,
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
    transport_name: TransportName,
    **options: Any,
) -> httpx.AsyncClient:
    """An async client; an injected transport (or factory) wins over ``transport_name``."""
    chosen: httpx.AsyncBaseTransport | None
    if transport_factory is not None:
        chosen = transport_factory()
    elif transport is None or isinstance(transport, httpx.AsyncBaseTransport):
        chosen = transport
    else:
        raise TypeError("the injected transport does not support async calls")
    if chosen is None and transport_name == "aiohttp":
        # httpx_aiohttp's client builds an AiohttpTransport for the direct route and for every
        # proxy route httpx derives from the environment, so NO_PROXY keeps working.
        from httpx_aiohttp import HttpxAiohttpClient

        return HttpxAiohttpClient(**_options(connections, **options))
    return httpx.AsyncClient(transport=chosen, **_options(connections, **options))


def _single_cause(exc: Exception) -> Exception:
    """The one exception inside (nested) exception groups of one; anyio's connect raises those."""
    inner: object = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and len(inner) == 1 and isinstance(inner[0], Exception):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _error_name(exc: Exception) -> str:
    """The exception's name, except where httpx-aiohttp labels what happened wrongly.

    httpx-aiohttp maps every aiohttp connection error to ``ConnectTimeout``: a refused
    connection, or a server that hung up, then reads as a timeout. Named from the cause instead,
    as httpx's own transport names them. (The failure stays retryable either way.)
    """
    cause = exc.__cause__
    if (
        isinstance(exc, httpx.ConnectTimeout)
        and cause is not None
        and type(cause).__module__.startswith("aiohttp")
        and not isinstance(cause, TimeoutError)
    ):
        return "ConnectError" if isinstance(cause, OSError) else "ReadError"
    return type(exc).__name__


def judge_exception(exc: Exception, secret: Secret | None, url: str) -> Failure:
    """Timeouts and broken connections are transient; bad URLs and protocol misuse are not.

    Anything else a transport raised (a socket blocked by pytest-socket, a route respx does not
    know) is final and named with the endpoint, so the user sees which call was refused.
    """
    exc = _single_cause(exc)
    text = f"{_error_name(exc)}: {exc}".rstrip(": ")
    if isinstance(exc, httpx.HTTPError):
        retryable = isinstance(
            exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
        )
        return Failure(retryable, None, None, redact(f"{text} (POST {url})", secret))
    detail = f"could not send POST {url}: {text}"
    return Failure(False, None, None, redact(detail, secret))
