"""The stdlib HTTP/1.1 pool against real, scripted raw servers on 127.0.0.1.

Each test starts its own server (asyncio streams, hand-written HTTP) in the test's event loop
and scripts what it answers, byte for byte, so that every framing rule, failure path and pool
rule is exercised on real sockets. Every scenario runs under ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_hotmess.models.h1 import (
    _STALE_WINDOW_S,
    ConnectFailed,
    ConnectionBroken,
    ConnectTimedOut,
    H1Error,
    H1Pool,
    H1Response,
    Origin,
    ProtocolFailed,
    ReadTimedOut,
    RequestBytes,
    _Connection,
    encode_head,
)

T = TypeVar("T")

DATA = Path(__file__).parents[1] / "data" / "h1"
CERT = DATA / "cert.pem"  # self-signed, CN/SAN 127.0.0.1 and localhost, valid until 2126
KEY = DATA / "key.pem"
SECRET = "sk-planted-SECRET-4f9a1c"
OK_BODY = b'{"ok":true}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + OK_BODY


def run(scenario: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
    """Run one scenario in a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


async def until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition`` holds (bounded by the scenario's wait_for)."""
    while not condition():
        await asyncio.sleep(0.005)


# --------------------------------------------------------------------------- raw test server


class Exchange:
    """One request as the server sees it; the scripted answer writes through ``writer``."""

    def __init__(
        self,
        head: bytes,
        body: bytes,
        conn: int,
        nth: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.head = head
        self.body = body
        self.conn = conn  # index of the server-side connection
        self.nth = nth  # index of the request on that connection
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def trickle(self, data: bytes, pause_s: float = 0.0) -> None:
        """Send one byte per write, yielding to the loop between bytes."""
        for index in range(len(data)):
            await self.send(data[index : index + 1])
            await asyncio.sleep(pause_s)

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Answer = Callable[[Exchange], Awaitable[bool]]
"""Writes the response; returns whether the server keeps reading on this connection."""


def reply(raw: bytes, *, keep_open: bool = True, after_s: float = 0.0) -> Answer:
    async def answer(exchange: Exchange) -> bool:
        if after_s:
            await asyncio.sleep(after_s)
        await exchange.send(raw)
        return keep_open

    return answer


async def never(exchange: Exchange) -> bool:
    """Never answer, but notice when the client goes away (EOF or reset)."""
    while await exchange.reader.read(65536):
        pass
    return False


async def first_connection_hangs(exchange: Exchange) -> bool:
    """The first connection never answers; every later one answers OK."""
    if exchange.conn == 0:
        await never(exchange)
    await exchange.send(OK)
    return True


class RawServer:
    """A scripted HTTP/1.1 server that counts connections, disconnects and requests."""

    def __init__(
        self, answer: Answer, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.answer = answer
        self._tls = tls
        self._host = host
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self.disconnects = 0
        self.requests: list[Exchange] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def origin(self) -> Origin:
        return Origin("https" if self._tls else "http", self._host, self.port)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self._host, 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        conn = self.connections
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            nth = 0
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                exchange = Exchange(
                    head, await reader.readexactly(length), conn, nth, reader, writer
                )
                self.requests.append(exchange)
                if not await self.answer(exchange):
                    break
                nth += 1
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # __aexit__ stops us; ending cancelled makes Python 3.11's start_server log
        finally:
            self.open_now -= 1
            self.disconnects += 1
            writer.close()
            self._tasks.discard(task)


@contextlib.asynccontextmanager
async def pool_of(**options: Any) -> AsyncIterator[H1Pool]:
    options.setdefault("max_connections", 4)
    pool = H1Pool(**options)
    try:
        yield pool
    finally:
        await pool.aclose()


def head_for(
    origin: Origin, method: str = "POST", extra: list[tuple[str, str]] | None = None
) -> bytes:
    headers = [("Host", origin.host_header), ("Authorization", f"Bearer {SECRET}")]
    return encode_head(method, "/v1/chat/completions", headers + (extra or []))


async def post(pool: H1Pool, origin: Origin, body: bytes = b"{}", **options: Any) -> H1Response:
    return await pool.request(origin, head_for(origin), body, **options)


async def answer_once(raw: bytes, **options: Any) -> H1Response:
    """One POST to a server that answers ``raw`` (and then keeps the connection open)."""
    async with RawServer(reply(raw)) as server, pool_of() as pool:
        return await post(pool, server.origin, **options)


# --------------------------------------------------------------------------- Origin, heads


@pytest.mark.parametrize(
    ("url", "origin", "target"),
    [
        (
            "http://Example.COM/v1/x?a=1&b=2#frag",
            Origin("http", "example.com", 80),
            "/v1/x?a=1&b=2",
        ),
        ("https://api.example.com", Origin("https", "api.example.com", 443), "/"),
        ("https://127.0.0.1:8443/v1", Origin("https", "127.0.0.1", 8443), "/v1"),
        ("http://[::1]:8000/v1/", Origin("http", "::1", 8000), "/v1/"),
        ("http://bücher.example/ä?q", Origin("http", "xn--bcher-kva.example", 80), "/%C3%A4?q"),
    ],
)
def test_origin_parse_splits_the_url(url: str, origin: Origin, target: str) -> None:
    assert Origin.parse(url) == (origin, target)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/v1",
        "http:///v1",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://exa mple.com/",
        "http://example.com/\nx",
        f"http://user:{SECRET}@example.com/",
    ],
)
def test_origin_parse_rejects_what_it_cannot_serve(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported URL") as caught:
        Origin.parse(url)
    assert SECRET not in str(caught.value)


def test_origin_parse_error_hides_the_query() -> None:
    with pytest.raises(ValueError) as caught:
        Origin.parse(f"gopher://example.com/v1?key={SECRET}")
    assert "gopher://example.com/v1" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_origin_parse_error_hides_user_info_even_when_urlsplit_quotes_it() -> None:
    # urlsplit refuses this netloc (it changes under NFKC normalisation) with a message that
    # repeats the whole netloc, password included
    with pytest.raises(ValueError, match="not a valid URL") as caught:
        Origin.parse(f"https://user:{SECRET}\u2100x@example.com/v1")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("origin", "host_header", "shown"),
    [
        (Origin("http", "example.com", 80), "example.com", "http://example.com:80"),
        (Origin("https", "example.com", 443), "example.com", "https://example.com:443"),
        (Origin("https", "example.com", 80), "example.com:80", "https://example.com:80"),
        (Origin("http", "::1", 80), "[::1]", "http://[::1]:80"),
        (Origin("http", "::1", 8080), "[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_host_header_and_display(origin: Origin, host_header: str, shown: str) -> None:
    assert origin.host_header == host_header
    assert str(origin) == shown


def test_origin_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="scheme"):
        Origin("ftp", "example.com", 21)
    with pytest.raises(ValueError, match="port"):
        Origin("http", "example.com", 0)
    with pytest.raises(ValueError, match="host"):
        Origin("http", "", 80)


def test_encode_head_exact_bytes() -> None:
    head = encode_head("POST", "/v1/x?a=1", [("Host", "h:8000"), ("Content-Type", "a/b")])
    assert head == b"POST /v1/x?a=1 HTTP/1.1\r\nHost: h:8000\r\nContent-Type: a/b\r\n"
    assert encode_head("GET", "/", []) == b"GET / HTTP/1.1\r\n"
    assert encode_head("GET", "/", [("X-Latin", "caf\xe9")]).endswith(b"X-Latin: caf\xe9\r\n")


@pytest.mark.parametrize("bad", ["\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b"])
def test_encode_head_rejects_line_breaks_naming_only_the_header(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        encode_head("POST", "/", [("Host", "h"), ("X-Api-Key", SECRET + bad)])
    message = str(caught.value)
    assert "X-Api-Key" in message
    assert SECRET not in message
    assert "Injected" not in message


@pytest.mark.parametrize(
    ("method", "target", "headers", "match"),
    [
        ("GE T", "/", [], "method"),
        ("", "/", [], "method"),
        ("GET\r\n", "/", [], "method"),
        ("GET", "/a b", [], "target"),
        ("GET", "/a\tb", [], "target"),
        ("GET", "", [], "target"),
        ("GET", "/ä", [], "target"),
        ("GET", "/", [("Bad Name", "v")], "header name"),
        ("GET", "/", [("", "v")], "header name"),
        ("GET", "/", [(f"Authorization: Bearer {SECRET}", "v")], "Authorization"),
        ("GET", "/", [("X-Key", f"{SECRET}\u20ac")], "X-Key.*Latin-1"),
    ],
)
def test_encode_head_validation(
    method: str, target: str, headers: list[tuple[str, str]], match: str
) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        encode_head(method, target, headers)
    assert SECRET not in str(caught.value)


# --------------------------------------------------------------------------- response framing


def test_content_length_and_keep_alive_reuse() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK)) as server, pool_of() as pool:
            for index in range(100):
                response = await post(pool, server.origin, b'{"i":%d}' % index)
                assert (response.status, response.reason, response.body) == (200, "OK", OK_BODY)
            assert server.connections == 1
            assert [exchange.body for exchange in server.requests[:2]] == [b'{"i":0}', b'{"i":1}']
            assert pool.stats["opened"] == 1
            assert pool.stats["reused"] == 99

    run(scenario())


def test_request_always_carries_content_length() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK)) as server, pool_of() as pool:
            await pool.request(server.origin, head_for(server.origin, "GET"))
            await post(pool, server.origin, b"x" * 300)
            assert server.requests[0].head.endswith(b"\r\nContent-Length: 0\r\n\r\n")
            assert server.requests[0].body == b""
            assert server.requests[1].head.endswith(b"\r\nContent-Length: 300\r\n\r\n")
            assert server.requests[1].body == b"x" * 300

    run(scenario())


def test_response_headers_are_lowercased_and_searchable() -> None:
    raw = (
        b"HTTP/1.1 201 Created\r\nX-Request-ID: abc\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"X-Folded: one\r\n  two\r\nContent-Length: 0\r\n\r\n"
    )
    response = run(answer_once(raw))
    assert response.status == 201
    assert response.reason == "Created"
    assert response.header("x-request-id") == "abc"
    assert response.header("SET-COOKIE") == "a=1"
    assert response.header("x-folded") == "one two"
    assert response.header("missing") is None
    assert ("set-cookie", "b=2") in response.headers
    assert "abc" not in repr(response)


def test_status_line_without_reason() -> None:
    response = run(answer_once(b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi"))
    assert (response.status, response.reason, response.body) == (200, "", b"hi")


def test_chunked_with_extension_and_trailer_then_reuse() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Encoding: gzip\r\n\r\n"
        b"5;name=value\r\nhello\r\n1A\r\n, abcdefghijklmnopqrstuvwx\r\n0;last\r\n"
        b"X-Trailer: t\r\nX-Other: u\r\n\r\n"
    )

    async def scenario() -> None:
        async with RawServer(reply(chunked)) as server, pool_of() as pool:
            first = await post(pool, server.origin)
            second = await post(pool, server.origin)
            assert first.body == second.body == b"hello, abcdefghijklmnopqrstuvwx"
            assert first.header("content-encoding") == "gzip"  # not decoded
            assert server.connections == 1

    run(scenario())


def test_close_delimited_body_is_read_until_eof_and_not_reused() -> None:
    async def scenario() -> None:
        raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
        async with RawServer(reply(raw, keep_open=False)) as server, pool_of() as pool:
            for _ in range(2):
                response = await post(pool, server.origin)
                assert response.body == b"until the end"
            assert server.connections == 2

    run(scenario())


@pytest.mark.parametrize(
    ("raw", "reused"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n" + OK_BODY, False),
        (
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 11\r\n\r\n"
            + OK_BODY,
            False,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n" + OK_BODY, False),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 11\r\n\r\n" + OK_BODY,
            True,
        ),
        (b"HTTP/1.0 200 OK\r\nConnection: x-other\r\nContent-Length: 11\r\n\r\n" + OK_BODY, False),
        (
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 11\r\n\r\n" + OK_BODY,
            True,
        ),
        (OK + b"JUNK", False),  # bytes beyond the response: the connection's state is unknown
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
            b"b\r\n" + OK_BODY + b"\r\n0\r\n\r\n",
            False,  # both framings: chunked wins, and the connection is not trusted again
        ),
    ],
)
def test_keep_alive_rules(raw: bytes, reused: bool) -> None:
    async def scenario() -> None:
        # The server keeps every connection open: only the client decides about reuse.
        async with RawServer(reply(raw)) as server, pool_of() as pool:
            for _ in range(2):
                assert (await post(pool, server.origin)).body == OK_BODY
            assert server.connections == (1 if reused else 2)
            if not reused:  # the client closed the first connection itself
                await until(lambda: server.disconnects >= 1)

    run(scenario())


def test_request_connection_close_is_honoured() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK)) as server, pool_of() as pool:
            head = head_for(server.origin, extra=[("Connection", "close")])
            for _ in range(2):
                await pool.request(server.origin, head, b"{}")
            assert server.connections == 2
            await until(lambda: server.disconnects >= 1)

    run(scenario())


def test_interim_100_continue_is_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + OK
    response = run(answer_once(raw))
    assert (response.status, response.body) == (200, OK_BODY)
    assert response.header("link") is None


def test_101_switching_protocols_is_refused() -> None:
    with pytest.raises(ProtocolFailed, match="101"):
        run(answer_once(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"))


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_then_reuse(status: int) -> None:
    raw = b"HTTP/1.1 %d X\r\nETag: e\r\n\r\n" % status

    async def scenario() -> None:
        async with RawServer(reply(raw)) as server, pool_of() as pool:
            for _ in range(3):
                response = await post(pool, server.origin)
                assert (response.status, response.body) == (status, b"")
            assert server.connections == 1

    run(scenario())


def test_head_request_reads_no_body_then_reuse() -> None:
    async def answer(exchange: Exchange) -> bool:
        if exchange.head.startswith(b"HEAD "):
            await exchange.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
        else:
            await exchange.send(OK)
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            head = head_for(server.origin, "HEAD")
            response = await pool.request(server.origin, head, head_only=True, read_timeout=2)
            assert (response.status, response.body, response.header("content-length")) == (
                200,
                b"",
                "5000",
            )
            assert (await post(pool, server.origin)).body == OK_BODY
            assert server.connections == 1

    run(scenario())


@pytest.mark.parametrize(
    "raw",
    [
        OK,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n"
        + OK_BODY[:4]
        + b"\r\n7\r\n"
        + OK_BODY[4:]
        + b"\r\n0\r\nT: 1\r\n\r\n",
    ],
)
def test_one_byte_writes_over_the_network(raw: bytes) -> None:
    async def answer(exchange: Exchange) -> bool:
        await exchange.trickle(raw)
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            for _ in range(2):
                assert (await post(pool, server.origin)).body == OK_BODY
            assert server.connections == 1

    run(scenario())


BIG = bytes(range(256)) * (4 * 1024 * 1024 // 256)  # 4 MiB


def _chunked(body: bytes, size: int) -> bytes:
    pieces = [
        b"%x\r\n%b\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(BIG, 10_000),
    ],
    ids=["content-length", "chunked"],
)
def test_four_mib_body_over_the_network(raw: bytes) -> None:
    async def scenario() -> None:
        async with RawServer(reply(raw)) as server, pool_of() as pool:
            for _ in range(2):
                response = await post(pool, server.origin)
                assert len(response.body) == len(BIG)
                assert response.body == BIG
            assert server.connections == 1

    run(scenario(), timeout=10)


# ---- the parser fed directly (deterministic split points, no kernel coalescing)


class _FakeTransport:
    def __init__(self) -> None:
        self.closing = False

    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True


def parse_in_pieces(raw: bytes, piece: int) -> tuple[H1Response, float]:
    """Feed ``raw`` to one connection's parser ``piece`` bytes at a time: (response, CPU s)."""

    async def scenario() -> tuple[H1Response, float]:
        loop = asyncio.get_running_loop()
        conn = _Connection(H1Pool(max_connections=1), Origin("http", "x", 80), loop, 65536)
        conn.connection_made(_FakeTransport())  # type: ignore[arg-type]
        fut = conn.start(b"GET / HTTP/1.1\r\nHost: x\r\n", False, None, True)
        started = time.process_time()
        for index in range(0, len(raw), piece):
            conn.data_received(raw[index : index + piece])
        spent = time.process_time() - started
        assert fut.done()
        assert conn.reusable
        return fut.result(), spent

    return run(scenario())


@pytest.mark.parametrize(
    "raw",
    [
        OK,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;e=1\r\n" + OK_BODY[:3] + b"\r\n8\r\n" + OK_BODY[3:] + b"\r\n0\r\nTrailer: x\r\n\r\n",
    ],
)
def test_parser_with_every_split_point(raw: bytes) -> None:
    for piece in (1, 2, 3, 5, 7, 13, len(raw)):
        response, _ = parse_in_pieces(raw, piece)
        assert (response.status, response.body) == (200, OK_BODY), piece


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_large_body_in_small_pieces_is_linear(framing: str) -> None:
    # 4 MiB in 128-byte pieces = 32,768 data_received calls. Concatenating the body per piece
    # copies sum_k 128k = 128 * 32768^2 / 2 bytes ~ 69 GB: >= 1.7 s even at 40 GB/s of memcpy
    # (measured: 0.9 s for half that). Collecting pieces copies each byte about twice plus
    # ~1 us of Python per call: ~30 ms measured. 0.5 s sits 15x above linear, 3x below quadratic.
    if framing == "chunked":
        raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(BIG, 1000)
    else:
        raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG
    response, spent = parse_in_pieces(raw, 128)
    assert response.body == BIG
    assert spent < 0.5


# ---- malformed responses


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
        b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: empty name\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded-first: x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Bare: a\nb\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Bare: a\rb\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_malformed_heads_fail(raw: bytes) -> None:
    with pytest.raises(ProtocolFailed):
        run(answer_once(raw))


@pytest.mark.parametrize(
    "lengths",
    [[b"abc"], [b"-1"], [b"+5"], [b"5", b"6"], [b"5, 6"], [b""], [b"1" * 19], [b"\xd9\xa5"]],
)
def test_bad_content_length_fails(lengths: list[bytes]) -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"".join(b"Content-Length: %b\r\n" % v for v in lengths)
    with pytest.raises(ProtocolFailed, match="Content-Length"):
        run(answer_once(raw + b"\r\nhello"))


def test_equal_duplicate_content_lengths_are_accepted() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello"
    assert run(answer_once(raw)).body == b"hello"


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n", b"\r\n"],
)
def test_bad_chunking_fails(chunks: bytes) -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    with pytest.raises(ProtocolFailed):
        run(answer_once(raw))


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nonly part",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ],
)
def test_close_before_the_response_is_complete_fails(partial: bytes) -> None:
    async def scenario() -> None:
        async with RawServer(reply(partial, keep_open=False)) as server, pool_of() as pool:
            await post(pool, server.origin)

    with pytest.raises(ProtocolFailed, match="before the response was complete"):
        run(scenario())


def test_head_section_longer_than_the_limit_fails() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 2000 + b"\r\nContent-Length: 0\r\n\r\n"

    async def scenario(limit: int) -> H1Response:
        async with RawServer(reply(raw)) as server, pool_of(max_head_bytes=limit) as pool:
            return await post(pool, server.origin)

    with pytest.raises(ProtocolFailed, match="1024 bytes"):
        run(scenario(1024))
    assert run(scenario(4096)).status == 200


def test_head_limit_holds_for_trickled_heads() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 400 + b"\r\n\r\n"

    async def answer(exchange: Exchange) -> bool:
        await exchange.trickle(raw)
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of(max_head_bytes=256) as pool:
            await post(pool, server.origin)

    with pytest.raises(ProtocolFailed, match="too long"):
        run(scenario())


# --------------------------------------------------------------------------- stale keep-alive


@pytest.mark.parametrize("how", ["eof", "reset"])
def test_stale_reused_connection_is_retried_once(how: str) -> None:
    async def answer(exchange: Exchange) -> bool:
        if exchange.conn == 0 and exchange.nth == 1:  # the server gave up on the idle link
            if how == "reset":
                exchange.reset()
            return False
        await exchange.send(OK)
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            assert (await post(pool, server.origin, b"1")).body == OK_BODY
            assert (await post(pool, server.origin, b"2")).body == OK_BODY
            assert server.connections == 2
            assert [e.body for e in server.requests] == [b"1", b"2", b"2"]
            assert pool.stats["retried"] == 1

    run(scenario())


@pytest.mark.parametrize(("how", "error"), [("eof", ProtocolFailed), ("reset", ConnectionBroken)])
def test_fresh_connection_failing_before_the_answer_is_not_retried(
    how: str, error: type[H1Error]
) -> None:
    async def answer(exchange: Exchange) -> bool:
        if how == "reset":
            exchange.reset()
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            with pytest.raises(error):
                await post(pool, server.origin)
            assert server.connections == 1
            assert pool.stats["open"] == 0

    run(scenario())


def test_stale_retry_happens_only_once() -> None:
    async def answer(exchange: Exchange) -> bool:
        if exchange.conn == 0 and exchange.nth == 0:
            await exchange.send(OK)
            return True
        return False  # every later request: close without answering

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of(max_connections=1) as pool:
            await post(pool, server.origin)
            with pytest.raises(ProtocolFailed, match="without answering"):
                await post(pool, server.origin)
            assert server.connections == 2
            assert pool.stats["open"] == 0  # the slot came back

    run(scenario())


@pytest.mark.parametrize(("how", "error"), [("eof", ProtocolFailed), ("reset", ConnectionBroken)])
def test_a_reused_connection_closed_long_after_the_request_is_not_sent_again(
    how: str, error: type[H1Error]
) -> None:
    # The server had the request for longer than the stale window (it may have acted on it):
    # sending it again would be a second call nobody counts, so the failure is reported.
    async def answer(exchange: Exchange) -> bool:
        if exchange.nth == 0:
            await exchange.send(OK)
            return True
        await asyncio.sleep(_STALE_WINDOW_S + 0.2)  # "working", then the server dies
        if how == "reset":
            exchange.reset()
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            await post(pool, server.origin, b"1")
            with pytest.raises(error):
                await post(pool, server.origin, b"2")
            assert [e.body for e in server.requests] == [b"1", b"2"]  # sent once
            assert pool.stats["retried"] == 0 and pool.stats["open"] == 0

    run(scenario())


def test_request_bytes_never_show_in_a_repr() -> None:
    payload = RequestBytes(b"POST / HTTP/1.1\r\nAuthorization: Bearer " + SECRET.encode())
    assert SECRET not in repr(payload) and SECRET not in repr([payload])
    assert bytes(payload).endswith(SECRET.encode())  # the bytes themselves are unchanged


def test_connection_closed_while_idle_is_never_reused() -> None:
    async def answer(exchange: Exchange) -> bool:
        await exchange.send(OK)
        return False  # answer, then close (without saying Connection: close)

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            await post(pool, server.origin)
            await until(lambda: pool.stats["idle"] == 0)  # the client saw the FIN
            assert pool.stats["open"] == 0
            assert (await post(pool, server.origin)).body == OK_BODY
            assert server.connections == 2
            assert (pool.stats["reused"], pool.stats["retried"]) == (0, 0)

    run(scenario())


# --------------------------------------------------------------------------- timeouts, TLS, refusal


def test_read_timeout_fires_and_frees_the_slot() -> None:
    async def scenario() -> None:
        async with RawServer(first_connection_hangs) as server, pool_of(max_connections=1) as pool:
            started = time.monotonic()
            with pytest.raises(ReadTimedOut, match=r"0\.2 s"):
                await post(pool, server.origin, read_timeout=0.2)
            elapsed = time.monotonic() - started
            assert 0.2 <= elapsed < 1.5
            await until(lambda: server.disconnects == 1)  # the client closed that connection
            assert (await post(pool, server.origin, read_timeout=0.2)).body == OK_BODY
            assert pool.stats["open"] == 1

    run(scenario())


def test_read_timeout_is_inactivity_not_total_time() -> None:
    async def answer(exchange: Exchange) -> bool:
        await exchange.trickle(OK[:12], pause_s=0.04)  # 12 bytes over ~0.5 s
        await exchange.send(OK[12:])
        return True

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            started = time.monotonic()
            assert (await post(pool, server.origin, read_timeout=0.2)).body == OK_BODY
            assert time.monotonic() - started > 0.3
        # A request with a shorter limit is not held to the longer timer an earlier request
        # on the same connection left armed (the timer outlives requests).
        async with RawServer(reply(OK)) as server, pool_of() as pool:
            await post(pool, server.origin, read_timeout=3.0)
            server.answer = never
            started = time.monotonic()
            with pytest.raises(ReadTimedOut):
                await post(pool, server.origin, read_timeout=0.1)
            assert time.monotonic() - started < 1.0
            assert server.connections == 1

    run(scenario())


def _server_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    return context


def _trusting() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(CERT))


def _quiet_server_handshake_errors() -> None:
    """The test server's side of a refused handshake is expected: keep it out of the log."""
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)


def test_tls_with_a_trusting_context_and_lazy_factory() -> None:
    made: list[ssl.SSLContext] = []

    def factory() -> ssl.SSLContext:
        made.append(_trusting())
        return made[-1]

    async def scenario() -> None:
        async with RawServer(reply(OK), tls=_server_tls()) as server:
            async with pool_of(ssl_context=factory) as pool:
                assert made == []  # not before the first https connection
                for _ in range(3):
                    assert (await post(pool, server.origin)).body == OK_BODY
                await asyncio.gather(*(post(pool, server.origin) for _ in range(3)))
                assert len(made) == 1
            async with pool_of(ssl_context=_trusting()) as pool:
                localhost = Origin("https", "localhost", server.port)
                assert (await post(pool, localhost)).body == OK_BODY

    run(scenario())


def test_tls_passed_context_is_not_modified() -> None:
    context = _trusting()
    before = context.options, context.verify_mode, context.check_hostname

    async def scenario() -> None:
        async with (
            RawServer(reply(OK), tls=_server_tls()) as server,
            pool_of(ssl_context=context) as pool,
        ):
            await post(pool, server.origin)
        assert (context.options, context.verify_mode, context.check_hostname) == before

    run(scenario())


def test_tls_server_choosing_another_protocol_via_alpn_is_refused() -> None:
    server_tls = _server_tls()
    server_tls.set_alpn_protocols(["h2"])
    client_tls = _trusting()
    client_tls.set_alpn_protocols(["h2", "http/1.1"])  # a caller's context offering h2

    async def scenario() -> None:
        async with (
            RawServer(reply(OK), tls=server_tls) as server,
            pool_of(ssl_context=client_tls, max_connections=1) as pool,
        ):
            for _ in range(2):  # the slot is returned after the refusal
                with pytest.raises(ConnectFailed, match="ALPN"):
                    await post(pool, server.origin)
            assert pool.stats["open"] == 0

    run(scenario())


def test_tls_untrusted_certificate_fails_to_connect() -> None:
    async def scenario() -> None:
        _quiet_server_handshake_errors()
        async with RawServer(reply(OK), tls=_server_tls()) as server:
            async with pool_of() as pool:  # default context: system CAs only
                with pytest.raises(ConnectFailed, match="certificate verify failed"):
                    await post(pool, server.origin)
                assert pool.stats["open"] == 0
            assert server.requests == []

    run(scenario())


def test_tls_wrong_host_fails_to_connect() -> None:
    async def scenario() -> None:
        _quiet_server_handshake_errors()
        async with RawServer(reply(OK), tls=_server_tls(), host="127.0.0.2") as server:
            async with pool_of(ssl_context=_trusting()) as pool:  # trusts the cert, not the name
                with pytest.raises(ConnectFailed, match=r"127\.0\.0\.2.*not valid for"):
                    await post(pool, server.origin)
            assert server.requests == []

    try:
        socket.create_server(("127.0.0.2", 0)).close()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address here")
    run(scenario())


def test_tls_handshake_that_never_comes_times_out_and_frees_the_slot() -> None:
    async def scenario() -> None:
        # A plain-TCP server that waits for an HTTP head: it never answers a ClientHello.
        async with RawServer(never) as silent, RawServer(reply(OK)) as plain:
            async with pool_of(max_connections=1) as pool:
                tls_origin = Origin("https", "127.0.0.1", silent.port)
                started = time.monotonic()
                with pytest.raises(ConnectTimedOut, match=r"0\.2 s"):
                    await post(pool, tls_origin, connect_timeout=0.2)
                assert 0.2 <= time.monotonic() - started < 1.5
                assert (await post(pool, plain.origin, connect_timeout=0.2)).body == OK_BODY
            await until(lambda: silent.disconnects == 1)  # the client gave up on that socket

    run(scenario())


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused

        async def scenario() -> None:
            async with pool_of(max_connections=1) as pool:
                for _ in range(2):  # the slot is returned after each failure
                    with pytest.raises(ConnectFailed, match=f"127.0.0.1:{port}"):
                        await post(pool, Origin("http", "127.0.0.1", port), connect_timeout=2)
                assert pool.stats["open"] == 0

        run(scenario())


# --------------------------------------------------------------------------- the pool


def test_max_connections_bounds_concurrent_connections() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK, after_s=0.02)) as server, pool_of(max_connections=3) as pool:
            responses = await asyncio.gather(*(post(pool, server.origin) for _ in range(9)))
            assert [r.status for r in responses] == [200] * 9
            assert server.max_open <= 3
            assert server.connections == 3
            assert pool.stats == {
                "opened": 3,
                "reused": 6,
                "retried": 0,
                "open": 3,
                "idle": 3,
                "waiting": 0,
            }

    run(scenario())


@pytest.mark.parametrize("connection", ["keep-alive", "close"])
def test_waiting_requests_are_served_in_order(connection: str) -> None:
    # keep-alive: each finished connection is handed to the next in line; close: its slot is.
    raw = b"HTTP/1.1 200 OK\r\nConnection: %b\r\nContent-Length: 0\r\n\r\n" % connection.encode()

    async def scenario() -> None:
        answer = reply(raw, after_s=0.005)
        async with RawServer(answer) as server, pool_of(max_connections=1) as pool:
            tasks = []
            for index in range(6):
                tasks.append(asyncio.create_task(post(pool, server.origin, b"%d" % index)))
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
            assert [e.body for e in server.requests] == [b"%d" % i for i in range(6)]

    run(scenario())


def test_cancelled_request_closes_its_connection_and_frees_the_slot() -> None:
    async def scenario() -> None:
        async with RawServer(first_connection_hangs) as server, pool_of(max_connections=1) as pool:
            stuck = asyncio.create_task(post(pool, server.origin))
            waiter = asyncio.create_task(post(pool, server.origin))  # queued behind it
            await until(lambda: len(server.requests) == 1)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            await until(lambda: server.disconnects == 1)
            assert (await waiter).body == OK_BODY
            assert server.connections == 2
            assert pool.stats["open"] == 1

    run(scenario())


def test_cancelled_waiter_leaves_the_line() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK, after_s=0.05)) as server, pool_of(max_connections=1) as pool:
            first = asyncio.create_task(post(pool, server.origin, b"first"))
            await asyncio.sleep(0)
            doomed = asyncio.create_task(post(pool, server.origin, b"doomed"))
            await until(lambda: pool.stats["waiting"] == 1)
            doomed.cancel()
            await asyncio.gather(doomed, return_exceptions=True)
            assert pool.stats["waiting"] == 0
            await first
            assert (await post(pool, server.origin, b"last")).body == OK_BODY
            assert [e.body for e in server.requests] == [b"first", b"last"]
            assert server.connections == 1

    run(scenario())


def test_idle_connections_expire() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK)) as server, pool_of(keepalive_s=0.05) as pool:
            await post(pool, server.origin)
            await post(pool, server.origin)  # within keep-alive: reused
            assert server.connections == 1
            await asyncio.sleep(0.1)
            await post(pool, server.origin)  # expired: closed, a new one opened
            assert server.connections == 2
            await until(lambda: server.disconnects == 1)

    run(scenario())


def test_full_pool_of_idle_connections_to_another_origin_makes_room() -> None:
    async def scenario() -> None:
        async with (
            RawServer(reply(OK)) as first,
            RawServer(reply(OK)) as second,
            pool_of(max_connections=2) as pool,
        ):
            await asyncio.gather(post(pool, first.origin), post(pool, first.origin))
            assert pool.stats["idle"] == 2
            assert (await post(pool, second.origin)).body == OK_BODY
            await until(lambda: first.disconnects == 1)  # one idle connection made room
            assert (pool.stats["open"], pool.stats["idle"]) == (2, 2)
            await post(pool, first.origin)  # the other one is still reused
            assert first.connections == 2
            assert pool.stats["reused"] == 1

    run(scenario())


def test_waiter_for_another_origin_gets_a_slot_when_a_connection_returns() -> None:
    async def slow(exchange: Exchange) -> bool:
        await asyncio.sleep(0.05)
        await exchange.send(OK)
        return True

    async def scenario() -> None:
        async with (
            RawServer(slow) as first,
            RawServer(reply(OK)) as second,
            pool_of(max_connections=1) as pool,
        ):
            busy = asyncio.create_task(post(pool, first.origin))
            await until(lambda: len(first.requests) == 1)
            assert (await post(pool, second.origin)).body == OK_BODY
            await busy
            await until(lambda: first.disconnects == 1)
            assert pool.stats["open"] == 1

    run(scenario())


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_aclose_closes_every_socket_and_refuses_later_use() -> None:
    async def scenario() -> None:
        async with RawServer(reply(OK)) as server:
            pool = H1Pool(max_connections=5)
            baseline = _open_fds() if os.path.isdir("/proc/self/fd") else None
            await asyncio.gather(*(post(pool, server.origin) for _ in range(3)))
            assert server.connections == 3
            await pool.aclose()
            await until(lambda: server.disconnects == 3)
            if baseline is not None:
                await until(lambda: _open_fds() == baseline)
            await pool.aclose()  # idempotent
            with pytest.raises(RuntimeError, match="closed"):
                await post(pool, server.origin)

    run(scenario())


def test_aclose_fails_requests_in_flight_and_in_line() -> None:
    async def scenario() -> None:
        async with RawServer(never) as server:
            pool = H1Pool(max_connections=1)
            flying = asyncio.create_task(post(pool, server.origin))
            queued = asyncio.create_task(post(pool, server.origin))
            await until(lambda: len(server.requests) == 1 and pool.stats["waiting"] == 1)
            await pool.aclose()
            with pytest.raises(ConnectionBroken, match="closed"):
                await flying
            with pytest.raises(RuntimeError, match="closed"):
                await queued
            await until(lambda: server.disconnects == 1)

    run(scenario())


def test_pool_is_bound_to_its_first_event_loop() -> None:
    pool = H1Pool(max_connections=1)

    async def use() -> None:
        async with RawServer(reply(OK)) as server:
            await post(pool, server.origin)

    async def use_then_close() -> None:
        await use()
        await pool.aclose()

    run(use_then_close())
    with pytest.raises(RuntimeError, match="another event loop"):
        run(use())


@pytest.mark.parametrize(
    "options",
    [
        {"max_connections": 0},
        {"max_connections": 1, "keepalive_s": 0},
        {"max_connections": 1, "max_head_bytes": 0},
    ],
)
def test_pool_options_are_validated(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        H1Pool(**options)


def test_head_without_final_crlf_is_refused() -> None:
    async def scenario() -> None:
        async with pool_of() as pool:
            with pytest.raises(ValueError, match="CRLF"):
                await pool.request(Origin("http", "127.0.0.1", 9), b"GET / HTTP/1.1")

    run(scenario())


# --------------------------------------------------------------------------- secrets


SECRET_BYTES = SECRET.encode()


def _texts(exc: BaseException) -> list[str]:
    texts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return texts


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 2x0 " + SECRET_BYTES + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Echo " + SECRET_BYTES + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: " + SECRET_BYTES + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + SECRET_BYTES + b"\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n" + SECRET_BYTES,
        b"",
        None,
    ],
)
def test_no_error_message_contains_a_secret(raw: bytes | None) -> None:
    async def answer(exchange: Exchange) -> bool:
        assert SECRET_BYTES in exchange.head
        if raw is None:
            await never(exchange)
        assert raw is not None
        await exchange.send(raw)
        return False

    async def scenario() -> None:
        async with RawServer(answer) as server, pool_of() as pool:
            await pool.request(
                server.origin,
                head_for(server.origin, extra=[("X-Api-Key", SECRET)]),
                b'{"key": "%b"}' % SECRET_BYTES,
                read_timeout=0.2,
            )

    with pytest.raises(H1Error) as caught:
        run(scenario())
    for text in _texts(caught.value):
        assert SECRET not in text
