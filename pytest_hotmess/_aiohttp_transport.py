"""An httpx async transport that sends requests through aiohttp, for sampling at full speed.

httpx 0.28's own async pool (httpcore) spends about 0.5-0.8 ms of CPU per request at 50
requests in flight, so one Python process cannot keep 50 connections busy against a fast
server; aiohttp's pool spends about 0.15 ms. This transport keeps httpx's API for everything
around it (``httpx.Request`` in, ``httpx.Response`` out, httpx exception types) and lets
aiohttp move the bytes. ``benchmarks/throughput.py`` measures the difference.

It is made for the chat clients' JSON calls: the whole answer body is read before the
response is returned (no streaming), redirects are not followed, cookies are not kept, and
content decoding is left to httpx. aiohttp is optional: :func:`aiohttp_available` says
whether it can be used, and it is imported only when the first request is sent.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # pragma: no cover - typing only; aiohttp is imported lazily
    import aiohttp

__all__ = ["AiohttpTransport", "aiohttp_available"]

_KEEPALIVE_S = 5.0
"""Idle connections are closed after this long (httpx's default keep-alive expiry)."""


def aiohttp_available() -> bool:
    """True when aiohttp is installed (checked without importing it: importing costs ~0.1 s)."""
    return importlib.util.find_spec("aiohttp") is not None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session behind the httpx transport interface; bound to one event loop.

    ``max_connections`` bounds open connections (requests beyond it wait for a free one);
    ``ssl_context`` verifies https servers (when None, httpx's default context is made at the
    first https request: loading the CA bundle costs ~20 ms, which plain-http runs skip).
    """

    def __init__(self, *, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, float | None, float | None], Any] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._max_connections})"

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, keepalive_timeout=_KEEPALIVE_S
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # httpx decodes Content-Encoding itself
            trust_env=False,  # proxies from the environment: the endpoint uses httpx then
        )

    def _timeout(self, request: httpx.Request) -> Any:
        import aiohttp

        wanted = request.extensions.get("timeout", {})
        key = (wanted.get("connect"), wanted.get("read"), wanted.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            # httpx's connect/read timeouts are per socket operation, like aiohttp's sock_*;
            # httpx's pool timeout (waiting for a free connection) is aiohttp's connect.
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport was closed")
        if self._session is None:
            self._session = self._open()
        content = await request.aread()
        options: dict[str, Any] = {}
        if request.url.scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            options["ssl"] = self._ssl_context  # httpx's verification, not aiohttp's default
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=content or None,
                allow_redirects=False,
                timeout=self._timeout(request),
                **options,
            ) as answer:
                body = await answer.read()
                status = answer.status
                headers = list(answer.raw_headers)
                reason = answer.reason
        except Exception as exc:
            mapped = _httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from None  # no aiohttp object (it holds the request) is kept
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode("latin-1", "replace")
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _httpx_error(exc: Exception) -> httpx.TransportError | None:
    """The httpx exception that means the same as an aiohttp (or asyncio) failure."""
    import aiohttp

    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, (aiohttp.ClientPayloadError, OSError)):
        return httpx.ReadError(text)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.TransportError(text)
    return None
