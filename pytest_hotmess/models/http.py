"""One JSON-over-HTTP endpoint: connection pools, retries and errors that never carry the key.

Both chat clients post a JSON body and read a JSON answer; everything about *how* (pools per
event loop, timeouts, backoff, turning failures into :class:`ModelAPIError`) lives here so that
the provider modules only translate requests and responses.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from .. import __version__
from ..sampling.context import current_item
from .h1 import (
    ConnectFailed,
    ConnectionBroken,
    ConnectTimedOut,
    H1Error,
    H1Pool,
    Origin,
    ProtocolFailed,
    ReadTimedOut,
    RequestBytes,
    encode_head,
)
from .retry import RetryPolicy, is_retryable_status, retry_after_from_headers

__all__ = [
    "ASYNC_BACKEND",
    "BACKEND_VARIABLE",
    "USER_AGENT",
    "AsyncBackend",
    "AsyncTransportFactory",
    "ChatModelBase",
    "Failure",
    "JSONEndpoint",
    "JSONReply",
    "ModelAPIError",
    "Secret",
    "messages_from_prompt",
    "optional_dict",
    "optional_int",
    "optional_str",
    "redact",
    "text_of_blocks",
    "transport_name",
]

logger = logging.getLogger("pytest_hotmess.clients")

USER_AGENT = f"pytest-hotmess/{__version__}"
"""Sent on every request, native or httpx (some firewalls refuse requests without one)."""

_REDACTED = "[REDACTED]"
_EXCERPT_CHARS = 300

AsyncTransportFactory = Callable[[], "httpx.AsyncBaseTransport"]

if TYPE_CHECKING:
    import httpx
    from typing_extensions import NotRequired, TypedDict

    class ChatSettings(TypedDict):
        """The keyword arguments of :class:`ChatModelBase`, for subclasses that add their own."""

        model: str
        base_url: NotRequired[str | None]
        api_key: NotRequired[str | None]
        params: NotRequired[Mapping[str, Any] | None]
        timeout: NotRequired[float]
        connect_timeout: NotRequired[float | None]
        max_attempts: NotRequired[int]
        backoff_base: NotRequired[float]
        backoff_max: NotRequired[float]
        name: NotRequired[str | None]
        max_connections: NotRequired[int]
        transport: NotRequired[httpx.BaseTransport | httpx.AsyncBaseTransport | None]
        async_transport_factory: NotRequired[AsyncTransportFactory | None]
        rng: NotRequired[random.Random | None]


class Secret:
    """Holds an API key so that no repr, str or log line of its owner can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("an API key must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with every occurrence of the key replaced (servers sometimes echo it back)."""
    if secret is None:
        return text
    return text.replace(secret.reveal(), _REDACTED)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


class ModelAPIError(RuntimeError):
    """A model call that failed for good: retries exhausted, or an error that retrying cannot fix.

    ``status`` is the HTTP status (None for connection errors and timeouts),
    ``provider_message`` the error message from the provider's response body (None when it sent
    none), ``attempts`` how many HTTP attempts were made. Never holds the API key or headers.
    """

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        status: int | None,
        provider_message: str | None,
        attempts: int,
        detail: str | None = None,
        item: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.provider_message = provider_message
        self.attempts = attempts
        self.detail = detail
        self.item = item
        super().__init__(self._describe())

    def _describe(self) -> str:
        noun = "attempt" if self.attempts == 1 else "attempts"
        parts = [f"{self.provider} model {self.model!r} failed after {self.attempts} {noun}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.provider_message:
            parts.append(f"provider says: {self.provider_message}")
        if self.detail:
            parts.append(self.detail)
        text = ": ".join(parts[:2]) + "".join(f"; {part}" for part in parts[2:])
        if self.item is not None:
            text += f" (item {self.item!r})"
        return text

    def fields(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the error (pickling, or per-waiter copies)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "provider_message": self.provider_message,
            "attempts": self.attempts,
            "detail": self.detail,
            "item": self.item,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_model_api_error, (self.fields(),))


def _rebuild_model_api_error(fields: dict[str, Any]) -> ModelAPIError:
    return ModelAPIError(**fields)


@dataclasses.dataclass(frozen=True)
class JSONReply:
    """A successful answer: the decoded JSON object and the wall time of the attempt that got it."""

    data: dict[str, Any]
    latency_s: float
    attempts: int


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed attempt, already scrubbed of the key and detached from transport objects."""

    retryable: bool
    status: int | None
    provider_message: str | None
    detail: str | None
    retry_after: float | None = None


def _provider_message(body: bytes) -> str | None:
    """The human message in an OpenAI/Anthropic/Ollama-style error body, if there is one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", errors="replace").strip()
        return text or None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str) and message:
                kind = error.get("type")
                return f"{message} ({kind})" if isinstance(kind, str) and kind else message
        if isinstance(error, str) and error:
            return error
        message = data.get("message") or data.get("detail")
        if isinstance(message, str) and message:
            return message
    return json.dumps(data)


def _judge_reply(
    status: int, headers: Mapping[str, str], body: bytes, secret: Secret | None
) -> dict[str, Any] | Failure:
    """Decode a 2xx JSON answer, or say why the response is a failure and whether to retry.

    A 200 whose body is not a JSON object (wrong content type, malformed JSON) is *not* retried:
    the provider has already done (and billed) the work, and the usual cause is a ``base_url``
    that points at something other than the API (a web page, a proxy's login screen), which no
    retry fixes. The error names the content type and shows the start of the body instead.
    """
    if 200 <= status <= 299:
        content_type = headers.get("content-type", "")
        if "json" not in content_type.lower():
            detail = (
                f"expected a JSON answer but got content-type {content_type or '(none)'!r}; "
                f"is base_url right? body starts: {_excerpt(body.decode('utf-8', 'replace'))!r}"
            )
            return Failure(False, status, None, redact(detail, secret))
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = (
                f"malformed JSON in the answer ({type(exc).__name__}: {exc}); "
                f"body starts: {_excerpt(body.decode('utf-8', 'replace'))!r}"
            )
            return Failure(False, status, None, redact(detail, secret))
        if not isinstance(data, dict):
            detail = f"expected a JSON object, got {type(data).__name__}"
            return Failure(False, status, None, detail)
        return data
    message = _provider_message(body)
    if message is not None:
        message = redact(_excerpt(message), secret)
    retryable = is_retryable_status(status)
    retry_after = retry_after_from_headers(headers) if retryable else None
    redirect: str | None = None
    if 300 <= status <= 399:
        location = headers.get("location")
        redirect = "redirects are not followed; check base_url" + (
            f" (redirected to {redact(location, secret)!r})" if location else ""
        )
    return Failure(retryable, status, message, redirect, retry_after)


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    """A JSON body encoded the way httpx's ``json=`` encodes it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


ClientT = TypeVar("ClientT")

# Connections per httpx client when httpx's own pools are used. httpx 0.28's pool does
# bookkeeping over all its connections on every request event (quadratic in their number),
# which makes 64 concurrent calls CPU-bound in one pool. Several small clients that split the
# same connection budget do the same work for a quarter of the CPU. Measured: client CPU for
# 2,000 calls at concurrency 64 against a local server in another process: 7.8 s in one pool
# of 64; 2.2 s in 16 pools of 4; 2.0 s in 32 pools of 2; 1.8 s in 64 pools of 1.
CONNECTIONS_PER_POOL = 2


AsyncBackend = Literal["auto", "native", "httpx"]

# How async calls reach the server when no transport is injected. "native": one
# ``_h1.H1Pool`` per event loop, called directly with prepared request bytes. "httpx":
# ``httpx.AsyncClient`` over httpx's own pools, split as above. "auto": native unless a proxy is
# configured in the environment (proxies are left to httpx). Read when an endpoint is created.
# Measured by benchmarks/throughput.py: 1,000 calls at concurrency 50 against a server in
# another process, client CPU per call 0.79 ms ("httpx", split pools) against 0.1-0.2 ms
# ("native").
ASYNC_BACKEND: AsyncBackend = "auto"


# The native pool's failures under the names of the httpx exceptions that mean the same, so
# that error messages read alike whichever way a call went.
_H1_ERROR_NAMES: dict[type[H1Error], str] = {
    ConnectFailed: "ConnectError",
    ConnectTimedOut: "ConnectTimeout",
    ReadTimedOut: "ReadTimeout",
    ProtocolFailed: "RemoteProtocolError",
    ConnectionBroken: "ReadError",
}


def _inflate(body: bytes) -> bytes:
    """Deflate bodies: zlib-wrapped by the standard, raw from some servers; accept both."""
    try:
        return zlib.decompress(body)
    except zlib.error:
        return zlib.decompress(body, -zlib.MAX_WBITS)


def _gunzip(body: bytes) -> bytes:
    return zlib.decompress(body, zlib.MAX_WBITS | 16)


_CONTENT_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _inflate,
}
"""What the native path decodes: the encodings its requests accept. Any other body (identity,
or an encoding the server sent unasked) is judged as it came."""


BACKEND_VARIABLE = "HOTMESS_ASYNC_BACKEND"
_BACKENDS: tuple[AsyncBackend, ...] = ("auto", "native", "httpx")


def chosen_backend() -> AsyncBackend:
    """``HOTMESS_ASYNC_BACKEND`` when it is set (``auto``, ``native`` or ``httpx``), else
    ``ASYNC_BACKEND``: a way out to httpx for networks the native pool does not suit."""
    value = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    if not value:
        return ASYNC_BACKEND
    for backend in _BACKENDS:
        if value == backend:
            return backend
    raise ValueError(f"{BACKEND_VARIABLE} must be auto, native or httpx, got {value!r}")


def _use_native(backend: AsyncBackend, url: str) -> bool:
    """Whether async calls to ``url`` go through the native pool (it does not speak to proxies).

    "auto" reads the proxy settings httpx reads too (the environment, or the system's): a proxy
    for the URL's scheme (or for all) sends the calls through httpx, unless ``NO_PROXY`` (or the
    system's exceptions) exempt the host.
    """
    if backend != "auto":
        return backend == "native"
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme.lower()) or proxies.get("all")):
        return True
    host = parts.hostname
    return host is not None and bool(urllib.request.proxy_bypass(host))


def pool_sizes(max_connections: int, per_pool: int) -> list[int]:
    """Split a connection budget into pools of at most ``per_pool`` connections."""
    full, rest = divmod(max_connections, per_pool)
    return [per_pool] * full + ([rest] if rest else [])


class _Pools(Generic[ClientT]):
    """httpx clients that share one connection budget; each call goes to the least busy one.

    Clients are created on demand: a pool is added only when every existing one is full, so
    a model used one call at a time holds one client.
    """

    def __init__(self, make: Callable[[int], ClientT], sizes: list[int]) -> None:
        self._make: Callable[[int], ClientT] = make
        self._sizes = sizes
        self._clients: list[ClientT] = []
        self._busy: list[int] = []
        self._lock = threading.Lock()

    def acquire(self) -> tuple[int, ClientT]:
        with self._lock:
            index = min(range(len(self._busy)), key=self._busy.__getitem__, default=-1)
            grow = index < 0 or self._busy[index] >= self._sizes[index]
            if grow and len(self._clients) < len(self._sizes):
                self._clients.append(self._make(self._sizes[len(self._clients)]))
                self._busy.append(0)
                index = len(self._clients) - 1
            self._busy[index] += 1
            return index, self._clients[index]

    def release(self, index: int) -> None:
        with self._lock:
            self._busy[index] -= 1

    def take_all(self) -> list[ClientT]:
        """Hand over every client (for closing) and start empty."""
        with self._lock:
            clients, self._clients, self._busy = self._clients, [], []
        return clients


class _LoopPools:
    """The async httpx clients (or the native pool) of one event loop, closed with the loop."""

    def __init__(self, pools: _Pools[httpx.AsyncClient], native: H1Pool | None = None) -> None:
        self.pools = pools
        self.native = native
        self.closed = False
        self.guard: AsyncGenerator[None, None] | None = None

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            for client in self.pools.take_all():
                await client.aclose()
            if self.native is not None:
                await self.native.aclose()


class _NativeRequest:
    """What the native pool needs to POST to one URL: its origin and the request's fixed head.

    The head holds every header but the key's and Content-Length; the key's line is made per
    request from the :class:`Secret`, so no attribute of the endpoint holds the key in clear.
    Everything, the key included, is validated here: a URL, header or key that the native pool
    cannot send raises ValueError (naming no value), and the endpoint then leaves it to httpx.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        secret: Secret | None,
        key_header: str,
        key_prefix: str,
    ) -> None:
        self.origin, target = Origin.parse(url)
        self.head = encode_head(
            "POST",
            target,
            [
                ("Host", self.origin.host_header),
                *headers.items(),
                ("Content-Type", "application/json"),
                ("Accept-Encoding", "gzip, deflate"),
            ],
        )
        self._secret = secret
        self._key_prefix = key_prefix
        self._key_line = f"{key_header}: ".encode("latin-1")
        if secret is not None:
            encode_head("POST", target, [(key_header, key_prefix + secret.reveal())])

    def head_with_key(self) -> bytes:
        """The head with the key's line, as bytes whose repr hides them (``pytest -l``)."""
        if self._secret is None:
            return self.head
        key = self._key_prefix + self._secret.reveal()
        return RequestBytes(b"%b%b%b\r\n" % (self.head, self._key_line, key.encode("latin-1")))


class JSONEndpoint:
    """POSTs JSON to one URL with retries, over sync pools and per-event-loop async pools.

    An async pool is bound to the loop it first ran on. Sampling code may run several loops
    over a session (one ``asyncio.run`` per test, or loops in worker threads), so each loop gets
    its own pool, created lazily, and it is closed by the loop's own shutdown (``asyncio.run``,
    ``asyncio.Runner`` and pytest-asyncio all close open async generators at the end, and a
    started generator guards the pool). Using the model from another loop therefore never
    fails with "attached to a different loop".

    Async calls go through the native HTTP/1.1 pool (:mod:`._h1`) unless a proxy is configured
    or ``ASYNC_BACKEND`` says "httpx"; sync calls, and every call with an injected
    ``transport`` (or ``async_transport_factory``), go through httpx clients.
    """

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        url: str,
        headers: Mapping[str, str],
        secret: Secret | None,
        key_header: str,
        key_prefix: str,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
        max_connections: int,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_transport_factory: AsyncTransportFactory | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.url = url
        self.retry = retry
        self._headers = {"User-Agent": USER_AGENT, **headers}  # one agent on every path
        self._secret = secret
        self._key_header = key_header
        self._key_prefix = key_prefix
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._transport = transport
        self._async_transport_factory = async_transport_factory
        default_transport = transport is None and async_transport_factory is None
        self._sizes = (
            pool_sizes(max_connections, CONNECTIONS_PER_POOL)
            if default_transport
            else [max_connections]
        )
        self._rng = rng if rng is not None else random.Random()
        self._max_connections = max_connections
        self._native: _NativeRequest | None = None
        if default_transport and _use_native(chosen_backend(), url):
            # a URL or header the native pool cannot send goes to httpx, which reports it per call
            with contextlib.suppress(ValueError):
                self._native = _NativeRequest(url, self._headers, secret, key_header, key_prefix)
        self._lock = threading.Lock()
        self._ssl_context: ssl.SSLContext | None = None
        self._sync_pools: _Pools[httpx.Client] | None = None
        self._loop_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPools] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"JSONEndpoint(provider={self.provider!r}, url={self.url!r})"

    # -- pools -------------------------------------------------------------------------------

    def _shared_ssl_context(self) -> ssl.SSLContext:
        """httpx's verification, loaded once per endpoint (the CA bundle takes ~25 ms)."""
        with self._lock:
            if self._ssl_context is None:
                from .httpx_client import create_ssl_context

                self._ssl_context = create_ssl_context()
            return self._ssl_context

    def _client_options(self) -> dict[str, Any]:
        from .httpx_client import KeyAuth

        auth = None
        if self._secret is not None:
            auth = KeyAuth(self._key_header, self._key_prefix, self._secret)
        return {
            "headers": self._headers,
            "auth": auth,
            "timeout": self._timeout,
            "connect_timeout": self._connect_timeout,
            "ssl_context": self._shared_ssl_context(),
        }

    def _new_sync_client(self, connections: int) -> httpx.Client:
        from .httpx_client import new_sync_client

        return new_sync_client(connections, transport=self._transport, **self._client_options())

    def _new_async_client(self, connections: int) -> httpx.AsyncClient:
        from .httpx_client import new_async_client

        return new_async_client(
            connections,
            transport=self._transport,
            transport_factory=self._async_transport_factory,
            **self._client_options(),
        )

    def _sync(self) -> _Pools[httpx.Client]:
        with self._lock:
            if self._sync_pools is None:
                self._sync_pools = _Pools(self._new_sync_client, self._sizes)
            return self._sync_pools

    async def _async(self) -> _LoopPools:
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._loop_pools.get(loop)
            if held is not None and not held.closed:
                return held
            native = None
            if self._native is not None:
                native = H1Pool(
                    max_connections=self._max_connections, ssl_context=self._shared_ssl_context
                )
            held = _LoopPools(_Pools(self._new_async_client, self._sizes), native)
            self._loop_pools[loop] = held
        guard = self._guard(held)
        await guard.__anext__()  # started: the loop's shutdown_asyncgens() will finish it
        held.guard = guard
        return held

    async def _guard(self, held: _LoopPools) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await held.aclose()

    def close(self) -> None:
        """Close the sync pools. Async pools close with their loop, or through :meth:`aclose`."""
        with self._lock:
            pools, self._sync_pools = self._sync_pools, None
        for client in pools.take_all() if pools is not None else []:
            client.close()

    async def aclose(self) -> None:
        """Close the sync pools and the pools of the running loop."""
        self.close()
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._loop_pools.pop(loop, None)
        if held is not None:
            await held.aclose()
            if held.guard is not None:
                await held.guard.aclose()

    # -- requests ----------------------------------------------------------------------------

    def post(self, body: Mapping[str, Any]) -> JSONReply:
        """POST ``body``, retrying transient failures; raises :class:`ModelAPIError` at the end."""
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(body)
            if isinstance(outcome, JSONReply):
                return outcome if attempt == 1 else dataclasses.replace(outcome, attempts=attempt)
            delay = self._next_delay(outcome, attempt)
            if delay is None:
                break
            time.sleep(delay)
        raise self._final_error(outcome, attempt)

    async def apost(self, body: Mapping[str, Any]) -> JSONReply:
        """Async twin of :meth:`post`, on the running loop's pool."""
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._aattempt(body)
            if isinstance(outcome, JSONReply):
                return outcome if attempt == 1 else dataclasses.replace(outcome, attempts=attempt)
            delay = self._next_delay(outcome, attempt)
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise self._final_error(outcome, attempt)

    def _attempt(self, body: Mapping[str, Any]) -> JSONReply | Failure:
        from .httpx_client import HTTPError, judge_exception

        pools = self._sync()
        index, client = pools.acquire()
        try:
            start = time.perf_counter()
            response = client.post(self.url, json=body)
            latency_s = time.perf_counter() - start
        except HTTPError as exc:
            return judge_exception(exc, self._secret)
        finally:
            pools.release(index)
        return self._reply(response.status_code, response.headers, response.content, latency_s)

    async def _aattempt(self, body: Mapping[str, Any]) -> JSONReply | Failure:
        held = await self._async()
        if held.native is not None:
            return await self._anative(held.native, body)
        from .httpx_client import HTTPError, judge_exception

        pools = held.pools
        index, client = pools.acquire()
        try:
            start = time.perf_counter()
            response = await client.post(self.url, json=body)
            latency_s = time.perf_counter() - start
        except HTTPError as exc:
            return judge_exception(exc, self._secret)
        finally:
            pools.release(index)
        return self._reply(response.status_code, response.headers, response.content, latency_s)

    async def _anative(self, pool: H1Pool, body: Mapping[str, Any]) -> JSONReply | Failure:
        """One attempt through the native pool: prepared head, JSON bytes, no httpx objects."""
        assert self._native is not None
        head = self._native.head_with_key()
        try:
            start = time.perf_counter()
            response = await pool.request(
                self._native.origin,
                head,
                _json_bytes(body),
                connect_timeout=self._connect_timeout,
                read_timeout=self._timeout,
            )
            latency_s = time.perf_counter() - start
        except H1Error as exc:
            # every transport failure of a POST that got no answer is worth another attempt,
            # as httpx's timeouts, network and remote-protocol errors are
            name = _H1_ERROR_NAMES.get(type(exc), "TransportError")
            return Failure(True, None, None, redact(f"{name}: {exc}", self._secret))
        headers = dict(response.headers)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        decode = _CONTENT_DECODERS.get(encoding)
        content = response.body
        if decode is not None and content:
            try:
                content = decode(content)
            except zlib.error as exc:
                if 200 <= response.status <= 299:
                    detail = f"DecodingError: cannot decode the {encoding} answer ({exc})"
                    return Failure(False, response.status, None, detail)
                content = b""  # an error's status decides (a 429 stays retryable); no message
        return self._reply(response.status, headers, content, latency_s)

    def _reply(
        self, status: int, headers: Mapping[str, str], body: bytes, latency_s: float
    ) -> JSONReply | Failure:
        judged = _judge_reply(status, headers, body, self._secret)
        if isinstance(judged, Failure):
            return judged
        return JSONReply(data=judged, latency_s=latency_s, attempts=1)

    def _next_delay(self, failure: Failure, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when this failure is final."""
        if not failure.retryable or attempt >= self.retry.max_attempts:
            return None
        delay = self.retry.delay(attempt, failure.retry_after, self._rng)
        logger.info(
            "%s model %r: attempt %d/%d failed (%s); retrying in %.3f s",
            self.provider,
            self.model,
            attempt,
            self.retry.max_attempts,
            f"HTTP {failure.status}" if failure.status is not None else failure.detail,
            delay,
        )
        return delay

    def _final_error(self, failure: Failure, attempts: int) -> ModelAPIError:
        # Built outside any ``except`` block: the error has no __context__ holding an httpx
        # request (whose headers carry the key).
        return ModelAPIError(
            provider=self.provider,
            model=self.model,
            status=failure.status,
            provider_message=failure.provider_message,
            attempts=attempts,
            detail=failure.detail,
            item=current_item.get(),
        )

    def error(self, detail: str, *, status: int | None = 200, attempts: int = 1) -> ModelAPIError:
        """An error about an answer that arrived but cannot be used (wrong shape, few choices)."""
        return ModelAPIError(
            provider=self.provider,
            model=self.model,
            status=status,
            provider_message=None,
            attempts=attempts,
            detail=redact(detail, self._secret),
            item=current_item.get(),
        )


def messages_from_prompt(prompt: Any) -> list[dict[str, Any]]:
    """A prompt as a list of chat messages: a ``str`` becomes one user message.

    Messages are copied into plain dicts (tuples of messages, mappings of any kind are fine),
    so that request bodies and recording keys do not depend on how the caller built them.
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, (bytes, bytearray)) or not isinstance(prompt, (list, tuple)):
        raise TypeError(
            f"a prompt is a str or a list of chat messages, got {type(prompt).__name__}"
        )
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(prompt):
        if not isinstance(message, Mapping) or "role" not in message:
            raise TypeError(f"message {index} of the prompt must be a mapping with a 'role'")
        messages.append(dict(message))
    if not messages:
        raise ValueError("a prompt needs at least one message")
    return messages


_ModelT = TypeVar("_ModelT", bound="ChatModelBase")


class ChatModelBase:
    """What both chat clients share: settings, default parameters, pools, repr and closing.

    Subclasses name their endpoint in the class attributes below, turn a prompt and parameters
    into a request body and a JSON answer into a
    :class:`~pytest_hotmess._completion.Completion`. ``base_url`` defaults to the class's
    ``default_base_url``.
    """

    provider: str = "http"
    default_base_url: ClassVar[str] = ""
    endpoint_path: ClassVar[str] = ""
    """Appended to the base URL (without its trailing slashes) to form the endpoint URL."""
    endpoint_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}
    key_header: ClassVar[str] = "Authorization"
    key_prefix: ClassVar[str] = "Bearer "

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float = 120.0,
        connect_timeout: float | None = None,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        name: str | None = None,
        max_connections: int = 64,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_transport_factory: AsyncTransportFactory | None = None,
        rng: random.Random | None = None,
    ) -> None:
        base_url = (self.default_base_url if base_url is None else base_url).rstrip("/")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if connect_timeout is None:
            connect_timeout = min(float(timeout), 10.0)
        if not (isinstance(connect_timeout, (int, float)) and connect_timeout > 0):
            raise ValueError(f"connect_timeout must be > 0, got {connect_timeout!r}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"max_connections must be an int, got {max_connections!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        self.model = model
        self.name = name if name is not None else f"{self.provider}:{model}"
        self.base_url = base_url
        self.params: Mapping[str, Any] = dict(params or {})
        """Parameters sent on every call; a call's own parameters override them."""
        self.timeout = float(timeout)
        secret = Secret(api_key) if api_key is not None else None
        self._endpoint = JSONEndpoint(
            provider=self.provider,
            model=model,
            url=f"{base_url}{self.endpoint_path}",
            headers=self.endpoint_headers,
            secret=secret,
            key_header=self.key_header,
            key_prefix=self.key_prefix,
            timeout=float(timeout),
            connect_timeout=float(connect_timeout),
            retry=RetryPolicy(max_attempts, backoff_base, backoff_max),
            max_connections=max_connections,
            transport=transport,
            async_transport_factory=async_transport_factory,
            rng=rng,
        )

    @property
    def retry(self) -> RetryPolicy:
        return self._endpoint.retry

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, "
            f"base_url={self.base_url!r})"
        )

    def merged_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overridden by the call's parameters; a call value of None removes a default."""
        merged = {**self.params, **params}
        return {key: value for key, value in merged.items() if value is not None}

    def close(self) -> None:
        """Release the sync connection pool."""
        self._endpoint.close()

    async def aclose(self) -> None:
        """Release the sync pool and the running loop's pool."""
        await self._endpoint.aclose()

    def __enter__(self: _ModelT) -> _ModelT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self: _ModelT) -> _ModelT:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def optional_int(value: Any) -> int | None:
    """A token count from a usage block, or None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def optional_str(value: Any) -> str | None:
    """A string field of an answer (model, finish reason), or None when absent or not a string."""
    return value if isinstance(value, str) else None


def optional_dict(value: Any) -> dict[str, Any]:
    """An object field of an answer (usage and its details), or {} when absent or malformed."""
    return value if isinstance(value, dict) else {}


def text_of_blocks(blocks: list[Any]) -> str:
    """The ``text`` of the ``{"type": "text"}`` blocks of a content list, joined."""
    return "".join(
        block.get("text", "")
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "text"
    )


def transport_name() -> str:
    """The async transport model calls go through, as the JSON report's run metadata names it."""
    return "httpx" if chosen_backend() == "httpx" else "native"
