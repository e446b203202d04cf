"""Nothing hangs, nothing grows without bound: deadlines, body caps, final TLS/DNS failures and
the run-wide retry budget, against raw socket servers on 127.0.0.1 and both async transports."""

from __future__ import annotations

import functools
import gzip
import json
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _client_fixtures import (  # noqa: F401 (async_transport is a fixture)
    TRANSPORTS,
    async_transport,
    make_client,
    needs_transport,
    run,
)
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess.models.clients import ModelAPIError, ModelConfigError, model_from_spec
from pytest_hotmess.models.openai import OpenAIChatModel
from pytest_hotmess.sampling.budget import Budget, current_budget

TLS = Path(__file__).parent.parent / "data" / "tls"
ANSWER = json.dumps(
    {"choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}]}
).encode()

Handler = Callable[[socket.socket], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each, after its request head, to a handler."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def __enter__(self) -> RawServer:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._one, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                self._handler(conn)
            except OSError:
                return  # the client gave up: that is what these servers wait for

    def stopped(self) -> bool:
        return self._stop.is_set()


def _forever(send: Callable[[socket.socket], None], server_stop: Callable[[], bool]) -> Handler:
    def handler(conn: socket.socket) -> None:
        started = time.monotonic()
        while not server_stop() and time.monotonic() - started < 30:
            send(conn)

    return handler


def _server(make: Callable[[Callable[[], bool]], Handler]) -> RawServer:
    holder: list[RawServer] = []
    server = RawServer(lambda conn: make(holder[0].stopped)(conn))
    holder.append(server)
    return server


def _continue_forever(stopped: Callable[[], bool]) -> Handler:
    def send(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        time.sleep(0.2)

    return _forever(send, stopped)


def _trickle_head(stopped: Callable[[], bool]) -> Handler:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 10_000

    def handler(conn: socket.socket) -> None:
        for byte in head:
            if stopped():
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.2)

    return handler


def _trickle_body(stopped: Callable[[], bool]) -> Handler:
    def handler(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        _forever(_send_a_space, stopped)(conn)

    return handler


def _send_a_space(conn: socket.socket) -> None:
    conn.sendall(b" ")
    time.sleep(0.2)


def _endless_chunks(stopped: Callable[[], bool]) -> Handler:
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"

    def handler(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        _forever(lambda c: c.sendall(framed), stopped)(conn)

    return handler


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KB on the wire


def _gzip_bomb(stopped: Callable[[], bool]) -> Handler:
    bomb = _bomb()

    def handler(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )

    return handler


def _calls(model: OpenAIChatModel) -> list[tuple[str, Callable[[], Any]]]:
    return [("sync", lambda: model("q")), ("async", lambda: run(model.acall("q"), 30))]


# -- the deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour", [_continue_forever, _trickle_head, _trickle_body], ids=lambda f: f.__name__
)
@pytest.mark.usefixtures("async_transport")
def test_a_deadline_bounds_a_call_the_timeout_cannot(behaviour: Any) -> None:
    # Each byte (or 100 Continue) arrives well within timeout=1: only the deadline ends it.
    with _server(behaviour) as server:
        model = make_client(
            OpenAIChatModel, model="m", base_url=server.url, timeout=1, deadline=2, max_attempts=5
        )
        for name, call in _calls(model):
            started = time.monotonic()
            with pytest.raises(ModelAPIError, match=r"deadline of 2 s passed") as caught:
                call()
            took = time.monotonic() - started
            assert 1.5 < took < 3.5, f"{name}: {took:.2f} s"
            assert "(deadline setting)" in str(caught.value)


@pytest.mark.usefixtures("async_transport")
def test_no_retry_is_started_that_would_outlast_the_deadline(server: FakeLLMServer) -> None:
    server.script(*[Reply(503, headers={"Retry-After": "5"})] * 4)
    model = make_client(
        OpenAIChatModel,
        model="m",
        base_url=server.openai_base_url,
        deadline=3,
        backoff_max=30,
        max_attempts=5,
    )
    for _, call in _calls(model):
        started = time.monotonic()
        with pytest.raises(ModelAPIError, match="would outlast the call's deadline") as caught:
            call()
        assert time.monotonic() - started < 1.5  # no 5 s sleep first
        assert caught.value.attempts == 1 and caught.value.status == 503


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), "10", True])
def test_a_bad_deadline_is_refused(value: object) -> None:
    spec = {"provider": "openai", "model": "m", "deadline": value}
    with pytest.raises(ModelConfigError, match="deadline"):
        model_from_spec(spec, entry="gpt")


# -- the response size cap ----------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [_endless_chunks, _gzip_bomb], ids=lambda f: f.__name__)
@pytest.mark.usefixtures("async_transport")
def test_the_decoded_body_is_capped(behaviour: Any) -> None:
    with _server(behaviour) as server:
        model = make_client(
            OpenAIChatModel,
            model="m",
            base_url=server.url,
            max_response_bytes=1024 * 1024,
            max_attempts=3,
        )
        for name, call in _calls(model):
            started = time.monotonic()
            with pytest.raises(ModelAPIError, match=r"larger than max_response_bytes") as caught:
                call()
            assert time.monotonic() - started < 5, name
            assert caught.value.attempts == 1  # not retried: the same answer would come back
        assert server.connections == 2


@pytest.mark.usefixtures("async_transport")
def test_a_gzip_bomb_never_grows_past_the_cap_in_memory() -> None:
    # 64 MiB of zeros in about 64 KB of gzip: decoding each network read whole (httpx's
    # iter_bytes) would hold tens of MiB before any cap is checked. Decoding is bounded instead.
    cap = 1024 * 1024
    _bomb()  # made before memory is traced
    with _server(_gzip_bomb) as server:
        model = make_client(OpenAIChatModel, model="m", base_url=server.url, max_response_bytes=cap)
        for name, call in _calls(model):
            tracemalloc.start()
            try:
                with pytest.raises(ModelAPIError, match=r"larger than max_response_bytes"):
                    call()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak < 8 * cap, f"{name}: peak {peak} bytes"


@pytest.mark.usefixtures("async_transport")
def test_an_encoding_that_was_not_asked_for_is_refused_not_guessed() -> None:
    def brotli_answer(stopped: Callable[[], bool]) -> Handler:
        def handler(conn: socket.socket) -> None:
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: br\r\nContent-Length: 4\r\n\r\nabcd"
            )

        return handler

    with _server(brotli_answer) as server:
        model = make_client(OpenAIChatModel, model="m", base_url=server.url)
        for _, call in _calls(model):
            with pytest.raises(ModelAPIError, match=r"encoded as br, which was not asked for"):
                call()


def test_the_default_cap_lets_ordinary_answers_through(server: FakeLLMServer) -> None:
    model = make_client(OpenAIChatModel, model="m", base_url=server.openai_base_url)
    assert model._endpoint.max_response_bytes == 8 * 1024 * 1024
    assert model("q").text


@pytest.mark.parametrize("value", [0, -5, 1.5, "8M", True])
def test_a_bad_cap_is_refused(value: object) -> None:
    spec = {"provider": "openai", "model": "m", "max_response_bytes": value}
    with pytest.raises(ModelConfigError, match="max_response_bytes"):
        model_from_spec(spec, entry="gpt")


# -- failures no retry fixes --------------------------------------------------------------------


@pytest.fixture
def tls_server() -> Iterator[FakeLLMServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    with FakeLLMServer(tls=context) as running:
        yield running


@pytest.mark.usefixtures("async_transport")
def test_an_unknown_certificate_authority_is_final(
    tls_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    model = make_client(OpenAIChatModel, model="m", base_url=tls_server.openai_base_url)
    for _, call in _calls(model):
        with pytest.raises(ModelAPIError, match="certificate verif") as caught:
            call()
        assert caught.value.attempts == 1, str(caught.value)
        assert "not retried" in str(caught.value)


@pytest.mark.usefixtures("async_transport")
def test_a_host_name_that_does_not_resolve_is_final() -> None:
    # .invalid never resolves (RFC 6761); the resolver says so without any network.
    model = make_client(OpenAIChatModel, model="m", base_url="http://hotmess-nosuch.invalid/v1")
    for _, call in _calls(model):
        with pytest.raises(ModelAPIError, match=r"host name not found \(DNS\)") as caught:
            call()
        assert caught.value.attempts == 1, str(caught.value)


# -- the retry budget ---------------------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
def test_a_retry_after_longer_than_the_wait_left_stops_instead_of_sleeping(
    server: FakeLLMServer,
) -> None:
    budget = Budget(max_retry_wait=1.0, label="run")
    server.script(*[Reply(429, headers={"Retry-After": "20"})] * 2)
    model = make_client(
        OpenAIChatModel, model="m", base_url=server.openai_base_url, backoff_max=30, deadline=60
    )
    token = current_budget.set(budget)
    try:
        for _, call in _calls(model):
            started = time.monotonic()
            with pytest.raises(ModelAPIError, match="retry wait budget of 1 s used up"):
                call()
            assert time.monotonic() - started < 1.5
    finally:
        current_budget.reset(token)
    assert budget.usage.retries == 0 and budget.exhausted is not None
    assert not budget.acquire()  # no new call starts, as when a call budget runs out


def test_the_retry_count_budget_counts_on_the_test_and_the_run() -> None:
    run_budget = Budget(max_retries=3, label="run")
    test_budget = Budget(parent=run_budget, label="test")
    assert [test_budget.retry(0.1) for _ in range(3)] == [None] * 3
    assert test_budget.retry(0.1) == "run retry budget of 3 retries used up"
    assert test_budget.usage.retries == 3 and run_budget.usage.retries == 3
    assert (
        not test_budget.acquire()
        and test_budget.exhausted == "run retry budget of 3 retries used up"
    )


_HOTMESS_YAML = """
models:
  flaky:
    provider: openai
    model: m
    base_url: {url}
    max_attempts: 4
    backoff_base: 0.001
    backoff_max: 0.01
"""

_TESTS = """
import pytest


@pytest.mark.coherence(max_variance=1.0)
def test_first(resample, hotmess_model):
    resample.map(hotmess_model, [f"q{i}" for i in range(4)], samples=2, extract=lambda c: c.text)


@pytest.mark.coherence(max_variance=1.0)
def test_second(resample, hotmess_model):
    resample.map(hotmess_model, ["q"], samples=2, extract=lambda c: c.text)
"""


_THREE_TESTS = (
    _TESTS
    + """

@pytest.mark.coherence(max_variance=1.0)
def test_third(resample, hotmess_model):
    resample.map(hotmess_model, ["q"], samples=2, extract=lambda c: c.text)
"""
)


def test_a_run_out_of_retries_stops_and_every_report_counts_them(
    pytester: pytest.Pytester, server: FakeLLMServer
) -> None:
    # test_first spends the run's 2 retries and passes; test_second needs a third, which is
    # refused; the run is then out of budget and test_third draws nothing, like after
    # --hotmess-max-run-calls.
    server.script(*[Reply(429, headers={"Retry-After": "0"})] * 2, *[Reply()] * 8, Reply(429))
    pytester.makefile(".yaml", hotmess=_HOTMESS_YAML.format(url=server.openai_base_url))
    pytester.makepyfile(test_flaky=_THREE_TESTS)
    result = pytester.runpytest_subprocess(
        "--hotmess-model",
        "flaky",
        "--hotmess-max-retries",
        "2",
        "--hotmess-concurrency",
        "1",
        "--hotmess-json",
        "report.json",
        "--junitxml",
        "junit.xml",
        "-o",
        "junit_family=xunit1",
    )
    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()
    assert "not retried: run retry budget of 2 retries used up" in output
    assert "recorded no samples: run retry budget of 2 retries used up before it drew any" in output
    assert server.count() == 2 + 8 + 1  # test_third made no call
    report = json.loads((pytester.path / "report.json").read_text())
    retried = {t["nodeid"].split("::")[-1]: t["calls"]["retried"] for t in report["tests"]}
    assert retried["test_first"] == 2 and retried.get("test_third", 0) == 0
    assert 'name="hotmess.calls.retried" value="2"' in (pytester.path / "junit.xml").read_text()
    assert "model calls retried 2 times (test_flaky.py::test_first 2)" in output


def test_the_retry_budget_is_split_over_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import pytest


@pytest.fixture
def run_budget(request):
    from pytest_hotmess.plugin.run import hotmess_run
    return hotmess_run(request.config).budget
""")
    pytester.makepyfile(
        test_split="""
def test_share(run_budget):
    assert (run_budget.max_retries, run_budget.max_retry_wait) == (3, 2.5)
"""
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--hotmess-max-retries", "5", "--hotmess-max-retry-wait", "5"
    )
    result.assert_outcomes(passed=1)


def test_retried_calls_are_counted_when_they_succeed(
    pytester: pytest.Pytester, server: FakeLLMServer
) -> None:
    server.script(Reply(503), Reply(429, headers={"Retry-After": "0"}))
    pytester.makefile(".yaml", hotmess=_HOTMESS_YAML.format(url=server.openai_base_url))
    pytester.makepyfile(test_flaky=_TESTS)
    result = pytester.runpytest_subprocess(
        "--hotmess-model",
        "flaky",
        "--hotmess-json",
        "report.json",
        "--junitxml",
        "junit.xml",
        "-o",
        "junit_family=xunit1",
        "--hotmess-concurrency",
        "1",
    )
    result.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "report.json").read_text())
    retried = [t["calls"]["retried"] for t in report["tests"]]
    assert sorted(retried) == [0, 2]
    assert 'name="hotmess.calls.retried" value="2"' in (pytester.path / "junit.xml").read_text()
