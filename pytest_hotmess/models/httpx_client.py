"""httpx clients for one endpoint: the key's auth flow, timeouts, limits, TLS, and their failures.

Sync calls use ``httpx.Client``; async calls ``httpx.AsyncClient`` over httpx's own transport or,
when chosen, ``httpx_aiohttp``'s (see :mod:`.transport`). Both honour the environment the way
httpx does (``trust_env``: ``HTTP(S)_PROXY``/``ALL_PROXY`` with ``NO_PROXY``, ``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` for custom certificate authorities).
"""

from __future__ import annotations

import contextvars
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from .errors import Failure, Secret, exception_chain, redact
from .transport import TransportName

__all__ = [
    "AsyncTransportFactory",
    "HTTPError",
    "KeyAuth",
    "call_deadline",
    "create_ssl_context",
    "fail_closed_ssl_context",
    "judge_exception",
    "may_use_tls",
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

    def __init__(
        self,
        header: str,
        prefix: str,
        secret: Secret | None,
        extra: Sequence[tuple[str, Secret]] = (),
    ) -> None:
        self._header = header
        self._prefix = prefix
        self._secret = secret
        self._extra = tuple(extra)
        """Custom headers (``headers:``), kept out of the clients' defaults the same way."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for name, value in self._extra:
            request.headers[name] = value.reveal()
        if self._secret is not None:
            request.headers[self._header] = self._prefix + self._secret.reveal()
        yield request

    def __repr__(self) -> str:
        return f"KeyAuth(header={self._header!r})"


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "hotmess_call_deadline", default=None
)


@contextmanager
def call_deadline(at: float) -> Iterator[None]:
    """Sync requests made inside end by ``at`` (``time.monotonic()``), whatever the server does."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _time_left(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the call's deadline; ReadTimeout once it has passed."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the call's deadline.

    httpx's timeouts bound each read; a server that trickles one byte at a time, or sends
    ``100 Continue`` forever, never trips them. httpcore reads those bytes in its own loop, so
    the bound must sit under it, on the stream.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with :class:`_DeadlineStream` streams."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _time_left(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _time_left(timeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bound_by_deadline(client: httpx.Client) -> httpx.Client:
    """Put :class:`_DeadlineBackend` under every httpcore pool of ``client`` (direct and proxy
    routes). An injected transport that is not httpx's own is left as it is."""
    # httpx has no public hook for httpcore's network backend: set it on each route's pool.
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        wrapped = isinstance(backend, _DeadlineBackend)
        if isinstance(transport, httpx.HTTPTransport) and backend is not None and not wrapped:
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return client


def create_ssl_context() -> ssl.SSLContext:
    """httpx's verification: certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set."""
    return httpx.create_ssl_context(trust_env=True)


def may_use_tls(url: str) -> bool:
    """Whether a client for ``url`` may open a TLS connection: an ``https`` (or unparsable) URL,
    or any proxy from the environment (``trust_env``; a proxy may itself be ``https``)."""
    return not url.lower().startswith("http://") or bool(urllib.request.getproxies())


def fail_closed_ssl_context() -> ssl.SSLContext:
    """The context of clients that never open TLS (see :func:`may_use_tls`).

    Loading the CA bundle costs about 25 ms of CPU per endpoint, for nothing on a plain-http
    one. This context verifies like any other but trusts no authority, so a TLS connection it
    were ever used for would fail verification, never skip it.
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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
    return _bound_by_deadline(httpx.Client(transport=transport, **_options(connections, **options)))


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


_DROPPED_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
"""TLS errors that mean the connection was cut: transient, like any dropped connection."""


def _lasting_cause(exc: BaseException) -> str | None:
    """Why a failure will not go away by retrying: a certificate or TLS failure, or a host name
    that does not resolve (a temporary resolver failure, EAI_AGAIN, is still transient)."""
    for cause in exception_chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause}"
        if isinstance(cause, ssl.SSLError) and not isinstance(cause, _DROPPED_TLS):
            return f"TLS failed: {cause}"
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:
            return f"host name not found (DNS): {cause}"
    return None


def judge_exception(exc: Exception, secret: Secret | None, url: str) -> Failure:
    """Timeouts and broken connections are transient; bad URLs, protocol misuse, certificate
    and TLS failures and unknown host names are not.

    Anything else a transport raised (a socket blocked by pytest-socket, a route respx does not
    know) is final and named with the endpoint, so the user sees which call was refused.
    """
    lasting = _lasting_cause(exc)
    exc = _single_cause(exc)
    text = f"{_error_name(exc)}: {exc}".rstrip(": ")
    if lasting is not None:
        return Failure(False, None, None, redact(f"{lasting} (POST {url}); not retried", secret))
    if isinstance(exc, httpx.HTTPError):
        retryable = isinstance(
            exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
        )
        return Failure(retryable, None, None, redact(f"{text} (POST {url})", secret))
    detail = f"could not send POST {url}: {text}"
    return Failure(False, None, None, redact(detail, secret))
