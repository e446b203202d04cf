"""One JSON-over-HTTP endpoint: httpx clients per event loop, retries, errors without the key.

Both chat clients post a JSON body and read a JSON answer; everything about *how* (clients per
event loop, timeouts, backoff, turning failures into :class:`ModelAPIError`) lives here so that
the provider modules only translate requests and responses. Every request goes through an httpx
client (:mod:`.httpx_client`); which async transport it uses is chosen in :mod:`.transport`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import re
import ssl
import sys
import threading
import time
import urllib.parse
import weakref
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import httpx

from .. import __version__
from ..sampling.budget import current_budget
from ..sampling.context import current_item
from .body import ACCEPT_ENCODING, BodyError, BoundedBody
from .errors import Failure, ModelAPIError, Secret, excerpt, forget_transport_locals, redact
from .hints import EndpointFacts, status_hint
from .httpx_client import (
    AsyncTransportFactory,
    KeyAuth,
    call_deadline,
    create_ssl_context,
    fail_closed_ssl_context,
    judge_exception,
    may_use_tls,
    new_async_client,
    new_sync_client,
)
from .messages import (
    messages_from_prompt,
    optional_dict,
    optional_int,
    optional_str,
    text_of_blocks,
)
from .retry import RetryPolicy, is_retryable_status, retry_after_from_headers
from .sse import StreamAssembler, StreamError
from .transport import TransportChoice, TransportName, resolve_transport

__all__ = [
    "CONNECTIONS_PER_POOL",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "USER_AGENT",
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
    "pool_sizes",
    "redact",
    "text_of_blocks",
]

logger = logging.getLogger("pytest_hotmess.clients")

USER_AGENT = f"pytest-hotmess/{__version__}"
"""Sent on every request, sync or async, whatever the transport (some firewalls require one)."""

DEFAULT_DEADLINE = 120.0
"""Seconds one model call may take in all: every attempt, and the waits between them."""
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The largest answer body read, after decompression."""

if TYPE_CHECKING:
    from typing_extensions import NotRequired, TypedDict

    class ChatSettings(TypedDict):
        """The keyword arguments of :class:`ChatModelBase`, for subclasses that add their own."""

        model: str
        base_url: NotRequired[str | None]
        api_key: NotRequired[str | None]
        params: NotRequired[Mapping[str, Any] | None]
        timeout: NotRequired[float]
        connect_timeout: NotRequired[float | None]
        deadline: NotRequired[float]
        max_response_bytes: NotRequired[int]
        max_attempts: NotRequired[int]
        backoff_base: NotRequired[float]
        backoff_max: NotRequired[float]
        name: NotRequired[str | None]
        max_connections: NotRequired[int]
        headers: NotRequired[Mapping[str, str] | None]
        key_source: NotRequired[str | None]
        transport: NotRequired[httpx.BaseTransport | httpx.AsyncBaseTransport | None]
        async_transport_factory: NotRequired[AsyncTransportFactory | None]
        http_transport: NotRequired[str]
        rng: NotRequired[random.Random | None]


@dataclasses.dataclass(frozen=True)
class JSONReply:
    """A successful answer: the decoded JSON object and the wall time of the attempt that got it."""

    data: dict[str, Any]
    latency_s: float
    attempts: int


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


def _shown(body: bytes, secret: Secret | None) -> str:
    """The start of a body for an error message: redacted first, then cut (a key cut in two
    would no longer be found)."""
    return excerpt(redact(body.decode("utf-8", "replace"), secret))


def _judge_reply(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secret: Secret | None,
    assemble: StreamAssembler | None = None,
) -> dict[str, Any] | Failure:
    """Decode a 2xx JSON answer, or say why the response is a failure and whether to retry.

    A 200 whose body is not a JSON object (wrong content type, malformed JSON) is *not* retried:
    the provider has already done (and billed) the work, and the usual cause is a ``base_url``
    that points at something other than the API (a web page, a proxy's login screen), which no
    retry fixes. The error names the content type and shows the start of the body instead.
    """
    if 200 <= status <= 299:
        content_type = headers.get("content-type", "")
        if assemble is not None and "text/event-stream" in content_type.lower():
            return _assembled(status, body, secret, assemble)
        if "json" not in content_type.lower():
            detail = (
                f"expected a JSON answer but got content-type {content_type or '(none)'!r}; "
                f"is base_url right? body starts: {_shown(body, secret)!r}"
            )
            return Failure(False, status, None, redact(detail, secret))
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = (
                f"malformed JSON in the answer ({type(exc).__name__}: {redact(str(exc), secret)}); "
                f"body starts: {_shown(body, secret)!r}"
            )
            return Failure(False, status, None, redact(detail, secret))
        if not isinstance(data, dict):
            detail = f"expected a JSON object, got {type(data).__name__}"
            return Failure(False, status, None, detail)
        return data
    message = _provider_message(body)
    if message is not None:
        message = excerpt(redact(message, secret))
    retryable = is_retryable_status(status)
    retry_after = retry_after_from_headers(headers) if retryable else None
    redirect: str | None = None
    if 300 <= status <= 399:
        location = headers.get("location")
        redirect = "redirects are not followed; check base_url" + (
            f" (redirected to {redact(location, secret)!r})" if location else ""
        )
    return Failure(retryable, status, message, redirect, retry_after)


def _assembled(
    status: int, body: bytes, secret: Secret | None, assemble: StreamAssembler
) -> dict[str, Any] | Failure:
    """A streamed answer (``stream: true``) as the JSON object a plain call would return."""
    try:
        return assemble(body)
    except StreamError as exc:
        message = excerpt(redact(exc.provider_message, secret)) if exc.provider_message else None
        return Failure(exc.retryable, status, message, redact(str(exc), secret))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # events of the wrong shape
        detail = f"malformed event stream ({type(exc).__name__}: {exc})"
        return Failure(False, status, None, excerpt(redact(detail, secret)))


ClientT = TypeVar("ClientT")

# Connections per httpx client on httpx's own async transport (and for sync calls). httpx's
# pool does bookkeeping over all its connections on every request event (quadratic in their
# number), which makes 64 concurrent calls CPU-bound in one pool. Several small clients that
# split the same connection budget do the same work for a quarter of the CPU. Measured with
# httpx 0.28: client CPU for 2,000 calls at concurrency 64 against a local server in another
# process: 7.8 s in one pool of 64; 2.2 s in 16 pools of 4; 2.0 s in 32 pools of 2; 1.8 s in 64
# pools of 1. The aiohttp transport has no such cost: it gets one client for the whole budget.
CONNECTIONS_PER_POOL = 2


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
    """The async httpx clients of one event loop, closed with the loop."""

    def __init__(self, pools: _Pools[httpx.AsyncClient]) -> None:
        self.pools = pools
        self.closed = False
        self.guard: AsyncGenerator[None, None] | None = None

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            for client in self.pools.take_all():
                await client.aclose()


def _shown_url(url: str) -> str:
    """The URL as errors show it: without user info (it may hold a password)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


_CLOCK_TICK = 2 * time.get_clock_info("monotonic").resolution + 0.001
"""How early an event loop may run a timer (about 16 ms on Windows, well under 1 ms elsewhere)."""

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def _within(work: Coroutine[Any, Any, _T], seconds: float) -> _T:
        """``work``, cancelled with ``TimeoutError`` after ``seconds``; never started at 0.

        ``asyncio.timeout`` runs ``work`` in the caller's task; ``wait_for`` (Python 3.10) wraps
        it in a task of its own, which costs a task and its scheduling on every call.
        """
        if seconds <= 0:
            work.close()
            raise TimeoutError
        async with asyncio.timeout(seconds):
            return await work

else:  # pragma: no cover - Python 3.10

    async def _within(work: Coroutine[Any, Any, _T], seconds: float) -> _T:
        return await asyncio.wait_for(work, seconds)


class JSONEndpoint:
    """POSTs JSON to one URL with retries, over sync clients and per-event-loop async clients.

    An async client is bound to the loop it first ran on. Sampling code may run several loops
    over a session (one ``asyncio.run`` per test, or loops in worker threads), so each loop gets
    its own clients, created lazily, and they are closed by the loop's own shutdown
    (``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio all close open async generators at
    the end, and a started generator guards the clients). Using the model from another loop
    therefore never fails with "attached to a different loop".

    ``transport_name`` picks the async transport (see :mod:`.transport`); an injected
    ``transport`` (or ``async_transport_factory``) wins over it.
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
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_connections: int,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_transport_factory: AsyncTransportFactory | None = None,
        transport_name: TransportName = "httpx",
        rng: random.Random | None = None,
        secret_headers: tuple[tuple[str, Secret], ...] = (),
        stream_assembler: StreamAssembler | None = None,
        facts: EndpointFacts | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.url = url
        # Parsed once: httpx parses a str URL on every request (about 0.05 ms of CPU per call).
        # A URL httpx rejects stays a str, so the first request reports it as before.
        self._request_url: httpx.URL | str
        try:
            self._request_url = httpx.URL(url)
        except httpx.InvalidURL:
            self._request_url = url
        self.retry = retry
        self.transport_name: TransportName = transport_name
        self._shown_url = _shown_url(url)
        self._headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **headers}
        self._key = secret
        self._secret_headers = secret_headers
        # What every message, log line and error is scrubbed of: the key and the header values.
        self._secret = Secret.joined(
            [*([secret] if secret is not None else []), *(value for _, value in secret_headers)]
        )
        self._assemble = stream_assembler
        self._facts = facts
        self._key_header = key_header
        self._key_prefix = key_prefix
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self._transport = transport
        self._async_transport_factory = async_transport_factory
        default_transport = transport is None and async_transport_factory is None
        split = pool_sizes(max_connections, CONNECTIONS_PER_POOL)
        self._sync_sizes = split if default_transport else [max_connections]
        self._async_sizes = (
            split if default_transport and transport_name == "httpx" else [max_connections]
        )
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._ssl_context: ssl.SSLContext | None = None
        self._sync_pools: _Pools[httpx.Client] | None = None
        self._loop_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPools] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"JSONEndpoint(provider={self.provider!r}, url={self._shown_url!r})"

    # -- clients -----------------------------------------------------------------------------

    def _shared_ssl_context(self) -> ssl.SSLContext:
        """httpx's verification, loaded once per endpoint (the CA bundle takes ~25 ms), and
        only for an endpoint that may use TLS."""
        with self._lock:
            if self._ssl_context is None:
                tls = may_use_tls(self.url)
                self._ssl_context = create_ssl_context() if tls else fail_closed_ssl_context()
            return self._ssl_context

    def _client_options(self) -> dict[str, Any]:
        auth = None
        if self._key is not None or self._secret_headers:
            auth = KeyAuth(self._key_header, self._key_prefix, self._key, self._secret_headers)
        return {
            "headers": self._headers,
            "auth": auth,
            "timeout": self._timeout,
            "connect_timeout": self._connect_timeout,
            "ssl_context": self._shared_ssl_context(),
        }

    def _new_sync_client(self, connections: int) -> httpx.Client:
        return new_sync_client(connections, transport=self._transport, **self._client_options())

    def _new_async_client(self, connections: int) -> httpx.AsyncClient:
        return new_async_client(
            connections,
            transport=self._transport,
            transport_factory=self._async_transport_factory,
            transport_name=self.transport_name,
            **self._client_options(),
        )

    def _sync(self) -> _Pools[httpx.Client]:
        with self._lock:
            if self._sync_pools is None:
                self._sync_pools = _Pools(self._new_sync_client, self._sync_sizes)
            return self._sync_pools

    async def _async(self) -> _LoopPools:
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._loop_pools.get(loop)
            if held is not None and not held.closed:
                return held
            held = _LoopPools(_Pools(self._new_async_client, self._async_sizes))
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
        """POST ``body``, retrying transient failures; raises :class:`ModelAPIError` at the end.

        The whole call (attempts and waits) ends by the deadline; every retry is counted on the
        budget of the test it is made for, which may refuse it (:meth:`Budget.retry`).
        """
        __tracebackhide__ = True
        ends = time.monotonic() + self.deadline
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(body, ends)
            if isinstance(outcome, JSONReply):
                return outcome if attempt == 1 else dataclasses.replace(outcome, attempts=attempt)
            outcome, delay = self._next_delay(outcome, attempt, ends)
            if delay is None:
                break
            time.sleep(delay)
        raise self._final_error(outcome, attempt)

    async def apost(self, body: Mapping[str, Any]) -> JSONReply:
        """Async twin of :meth:`post`, on the running loop's pool."""
        __tracebackhide__ = True
        ends = time.monotonic() + self.deadline
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._aattempt(body, ends)
            if isinstance(outcome, JSONReply):
                return outcome if attempt == 1 else dataclasses.replace(outcome, attempts=attempt)
            outcome, delay = self._next_delay(outcome, attempt, ends)
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise self._final_error(outcome, attempt)

    def _past_deadline(self, failure: Failure) -> Failure:
        detail = f"the call's deadline of {self.deadline:g} s passed (deadline setting)"
        if failure.detail:
            detail = f"{detail}; last: {failure.detail}"
        return dataclasses.replace(failure, retryable=False, detail=detail)

    def _body(self, response: httpx.Response) -> BoundedBody:
        """The reader of ``response``'s body, decoded with its size bounded (see :mod:`.body`)."""
        return BoundedBody(response.headers.get("content-encoding"), self.max_response_bytes)

    def _unreadable(self, status: int, error: BodyError) -> Failure:
        """A body over ``max_response_bytes`` or in an encoding that cannot be decoded: final."""
        if not error.too_large:
            return Failure(False, status, None, str(error))
        detail = (
            f"the answer is larger than max_response_bytes ({self.max_response_bytes} bytes "
            "after decompression; reading stopped there)"
        )
        return Failure(False, status, None, detail)

    def _attempt(self, body: Mapping[str, Any], ends: float) -> JSONReply | Failure:
        pools = self._sync()
        index, client = pools.acquire()
        try:
            start = time.perf_counter()
            with (
                call_deadline(ends),
                client.stream(
                    "POST", self._request_url, json=body, headers=self._accept(body)
                ) as response,
            ):
                body_reader = self._body(response)
                if response.is_stream_consumed:  # an in-memory answer (MockTransport, respx)
                    body_reader.feed_decoded(response.content)
                else:
                    for chunk in response.iter_raw():
                        body_reader.feed(chunk)
                        if time.monotonic() >= ends:
                            return self._past_deadline(Failure(False, None, None, None))
                content = body_reader.finish()
            latency_s = time.perf_counter() - start
        except BodyError as exc:
            return self._unreadable(response.status_code, exc)
        except Exception as exc:  # every transport failure becomes a Failure (judge_exception)
            failure = judge_exception(exc, self._secret, self._shown_url)
            return self._past_deadline(failure) if time.monotonic() >= ends else failure
        except BaseException as exc:  # interrupted mid-request: the transport's frames hold the key
            forget_transport_locals(exc)
            raise
        finally:
            pools.release(index)
        return self._reply(response.status_code, response.headers, content, latency_s)

    async def _aattempt(self, body: Mapping[str, Any], ends: float) -> JSONReply | Failure:
        pools = (await self._async()).pools
        index, client = pools.acquire()
        try:
            start = time.perf_counter()
            left = max(ends - time.monotonic(), 0.0)
            read = await _within(self._aread(client, body), left)
            latency_s = time.perf_counter() - start
        except Exception as exc:  # every transport failure becomes a Failure (judge_exception)
            forget_transport_locals(exc)  # a deadline cancels the transport mid-request
            failure = judge_exception(exc, self._secret, self._shown_url)
            # asyncio may fire the deadline's timer up to a clock tick early
            past = time.monotonic() >= ends - _CLOCK_TICK
            return self._past_deadline(failure) if past else failure
        except BaseException as exc:  # cancelled mid-request: the transport's frames hold the key
            forget_transport_locals(exc)
            raise
        finally:
            pools.release(index)
        if isinstance(read, Failure):
            return read
        status, headers, content = read
        return self._reply(status, headers, content, latency_s)

    async def _aread(
        self, client: httpx.AsyncClient, body: Mapping[str, Any]
    ) -> tuple[int, httpx.Headers, bytes] | Failure:
        """One request and its body, read up to ``max_response_bytes`` (decoded)."""
        async with client.stream(
            "POST", self._request_url, json=body, headers=self._accept(body)
        ) as response:
            try:
                body_reader = self._body(response)
                if response.is_stream_consumed:  # an in-memory answer (MockTransport, respx)
                    body_reader.feed_decoded(response.content)
                else:
                    async for chunk in response.aiter_raw():
                        body_reader.feed(chunk)
                content = body_reader.finish()
            except BodyError as exc:
                return self._unreadable(response.status_code, exc)
        return response.status_code, response.headers, content

    def _accept(self, body: Mapping[str, Any]) -> dict[str, str] | None:
        """A streamed call asks for events; others keep the clients' ``Accept`` header."""
        if self._assemble is not None and body.get("stream") is True:
            return {"Accept": "text/event-stream"}
        return None

    def _reply(
        self, status: int, headers: Mapping[str, str], body: bytes, latency_s: float
    ) -> JSONReply | Failure:
        judged = _judge_reply(status, headers, body, self._secret, self._assemble)
        if isinstance(judged, Failure):
            return judged
        return JSONReply(data=judged, latency_s=latency_s, attempts=1)

    def _next_delay(
        self, failure: Failure, attempt: int, ends: float
    ) -> tuple[Failure, float | None]:
        """Seconds to wait before retrying, or None when this failure is final (and why).

        A retry whose wait would outlast the deadline, or that the test's budget refuses
        (run-wide retry count or wait time), is not made.
        """
        if not failure.retryable or attempt >= self.retry.max_attempts:
            return failure, None
        delay = self.retry.delay(attempt, failure.retry_after, self._rng)
        left = ends - time.monotonic()
        if delay >= left:
            stop = f"not retried: a wait of {delay:.3g} s would outlast the call's deadline"
            return self._with_detail(failure, stop), None
        budget = current_budget.get()
        refused = budget.retry(delay) if budget is not None else None
        if refused is not None:
            return self._with_detail(failure, f"not retried: {refused}"), None
        logger.info(
            "%s model %r: attempt %d/%d failed (%s); retrying in %.3f s",
            self.provider,
            self.model,
            attempt,
            self.retry.max_attempts,
            f"HTTP {failure.status}" if failure.status is not None else failure.detail,
            delay,
        )
        return failure, delay

    @staticmethod
    def _with_detail(failure: Failure, note: str) -> Failure:
        detail = f"{failure.detail}; {note}" if failure.detail else note
        return dataclasses.replace(failure, retryable=False, detail=detail)

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
            request=f"POST {redact(self._shown_url, self._secret)}",
            hint=status_hint(self._facts, failure.status) if self._facts is not None else None,
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
            request=f"POST {redact(self._shown_url, self._secret)}",
        )


_ModelT = TypeVar("_ModelT", bound="ChatModelBase")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP header name (RFC 9110 token)."""


class ChatModelBase:
    """What both chat clients share: settings, default parameters, pools, repr and closing.

    Subclasses name their endpoint in the class attributes below, turn a prompt and parameters
    into a request body and a JSON answer into a
    :class:`~pytest_hotmess.sampling.completion.Completion`. ``base_url`` defaults to the
    class's ``default_base_url``. ``http_transport`` chooses the async transport (``auto``,
    ``httpx`` or ``aiohttp``; see :mod:`.transport`).
    """

    provider: str = "http"
    default_base_url: ClassVar[str] = ""
    endpoint_path: ClassVar[str] = ""
    """Appended to the base URL (without its trailing slashes) to form the endpoint URL."""
    endpoint_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}
    key_header: ClassVar[str] = "Authorization"
    key_prefix: ClassVar[str] = "Bearer "
    batches_samples: ClassVar[bool] = False
    """Whether the API returns several samples per request (``n_per_request``)."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float = 120.0,
        connect_timeout: float | None = None,
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        name: str | None = None,
        max_connections: int = 64,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_transport_factory: AsyncTransportFactory | None = None,
        http_transport: TransportChoice | str = "auto",
        rng: random.Random | None = None,
        headers: Mapping[str, str] | None = None,
        key_source: str | None = None,
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
        if isinstance(deadline, bool) or not (
            isinstance(deadline, (int, float)) and 0 < deadline < float("inf")
        ):
            raise ValueError(f"deadline must be a finite number of seconds > 0, got {deadline!r}")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
            raise TypeError(f"max_response_bytes must be an int, got {max_response_bytes!r}")
        if max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be >= 1, got {max_response_bytes}")
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
        secret_headers = self._secret_headers(headers, secret is not None)
        custom = {name.lower() for name, _ in secret_headers}
        fixed = {k: v for k, v in self.fixed_headers().items() if k.lower() not in custom}
        self.header_names: tuple[str, ...] = tuple(name for name, _ in secret_headers)
        """The custom headers sent on every call (their values are kept secret)."""
        self._endpoint = JSONEndpoint(
            provider=self.provider,
            model=model,
            url=self.endpoint_url(base_url),
            headers=fixed,
            secret=secret,
            key_header=self.key_header,
            key_prefix=self.key_prefix,
            timeout=float(timeout),
            connect_timeout=float(connect_timeout),
            retry=RetryPolicy(max_attempts, backoff_base, backoff_max),
            deadline=float(deadline),
            max_response_bytes=max_response_bytes,
            max_connections=max_connections,
            transport=transport,
            async_transport_factory=async_transport_factory,
            transport_name=resolve_transport(http_transport, "http_transport"),
            rng=rng,
            secret_headers=secret_headers,
            stream_assembler=self.stream_assembler(),
            facts=EndpointFacts(
                provider=self.provider,
                base_url=base_url,
                key_sent=secret is not None
                or any(name.lower() == self.key_header.lower() for name, _ in secret_headers),
                key_source=key_source,
                deployment=self.deployment_name(),
            ),
        )

    # -- what subclasses may change --------------------------------------------------------

    def endpoint_url(self, base_url: str) -> str:
        """The URL every call is posted to (``base_url`` without trailing slashes)."""
        return f"{base_url}{self.endpoint_path}"

    def fixed_headers(self) -> Mapping[str, str]:
        """Headers of every request besides the key and the custom ``headers``."""
        return self.endpoint_headers

    def deployment_name(self) -> str | None:
        """The deployment an Azure endpoint serves (for error hints); None elsewhere."""
        return None

    def stream_assembler(self) -> StreamAssembler | None:
        """What turns a streamed (``stream: true``) answer into the JSON a plain call returns."""
        return None

    def _secret_headers(
        self, headers: Mapping[str, str] | None, has_key: bool
    ) -> tuple[tuple[str, Secret], ...]:
        """Custom headers, each value held as a :class:`Secret` (redacted like the key)."""
        out: list[tuple[str, Secret]] = []
        for name, value in (headers or {}).items():
            if not isinstance(name, str) or not name or not _TOKEN.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if has_key and name.lower() == self.key_header.lower():
                raise ValueError(
                    f"header {name!r} would replace the API key's header: give the key "
                    "(api_key_env) or the header, not both"
                )
            out.append((name, Secret.of_header(value, f"header {name!r}")))
        return tuple(out)

    @property
    def transport_name(self) -> TransportName:
        """The async transport under the httpx client: ``"httpx"`` or ``"aiohttp"``."""
        return self._endpoint.transport_name

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
