"""A real HTTP server on 127.0.0.1 speaking just enough OpenAI and Anthropic for client tests.

It answers ``POST /v1/chat/completions`` and ``POST /v1/messages``, keeps every request it saw
(path, headers, body) so that tests can count attempts and check headers, and can be scripted
with :class:`Reply` objects to fail in the ways real providers do.

Default answers are deterministic. The server acts as a sampler that draws answers in order
from one stream per request: the c-th choice it serves for a given request body (ignoring
``n``) has text ``answer_text(body, c)``. So sample i of K unbatched calls and choice i % n of
request i // n of a batched run get the same text, which is what batching must preserve.
"""

from __future__ import annotations

import dataclasses
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer", "Reply", "SeenRequest", "answer_text"]

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
REASONING_TOKENS_PER_CHOICE = 5


@dataclasses.dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body=None`` and ``raw=None`` mean the default answer."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    delay_s: float = 0.0
    drop_connection: bool = False


@dataclasses.dataclass(frozen=True)
class SeenRequest:
    """A request as the server received it (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


def _last_user_text(body: Mapping[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def answer_text(body: Mapping[str, Any], draw: int) -> str:
    """The text of draw number ``draw`` (0-based) for a request body."""
    return f"{_last_user_text(body)}#{draw}"


def _stream_key(path: str, body: Mapping[str, Any]) -> str:
    rest = {key: value for key, value in body.items() if key != "n"}
    return path + json.dumps(rest, sort_keys=True)


def _word_count(body: Mapping[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        total += len(str(content).split())
    return total + len(str(body.get("system", "")).split())


class FakeLLMServer:
    """Start with ``with FakeLLMServer() as server:``; it stops on exit."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """``tls``: serve https with this server-side context (tests/data/tls holds a cert)."""
        self._tls = tls
        self._lock = threading.Lock()
        self._script: deque[tuple[str | None, Reply]] = deque()
        self._requests: list[SeenRequest] = []
        self._draws: dict[str, int] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        handler = _make_handler(self)
        httpd = _Server(("127.0.0.1", 0), handler)
        if self._tls is not None:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self._tls is not None else 'http'}://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- scripting and inspection ------------------------------------------------------------

    def script(self, *replies: Reply, path: str | None = None) -> None:
        """Answer the next requests (to ``path`` only, when given) with ``replies``, in order."""
        with self._lock:
            self._script.extend((path, reply) for reply in replies)

    def reset(self) -> None:
        """Forget requests, scripts and draw counters (a fresh sampler)."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._draws.clear()

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str | None = None) -> int:
        return sum(1 for request in self.requests if path is None or request.path == path)

    # -- serving -----------------------------------------------------------------------------

    def _next_reply(self, path: str) -> Reply | None:
        with self._lock:
            for index, (wanted, reply) in enumerate(self._script):
                if wanted is None or wanted == path:
                    del self._script[index]
                    return reply
        return None

    def _draw(self, path: str, body: Mapping[str, Any], count: int) -> list[int]:
        key = _stream_key(path, body)
        with self._lock:
            start = self._draws.get(key, 0)
            self._draws[key] = start + count
        return list(range(start, start + count))

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(SeenRequest(path, headers, body, raw))
        scripted = self._next_reply(path)
        if scripted is not None:
            if scripted.drop_connection or scripted.body is not None or scripted.raw is not None:
                return scripted
            if scripted.status != 200:
                error = {"message": f"scripted failure {scripted.status}", "type": "scripted"}
                return dataclasses.replace(scripted, body={"error": error})
        if path not in (OPENAI_PATH, ANTHROPIC_PATH):
            return Reply(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
        if not isinstance(body, dict):
            return Reply(400, {"error": {"message": "body is not a JSON object"}})
        answer = self._openai(body) if path == OPENAI_PATH else self._anthropic(body)
        if scripted is not None:  # scripted delay or headers around the default answer
            return dataclasses.replace(scripted, body=answer)
        return Reply(200, answer)

    def _openai(self, body: Mapping[str, Any]) -> dict[str, Any]:
        n = int(body.get("n", 1))
        texts = [answer_text(body, draw) for draw in self._draw(OPENAI_PATH, body, n)]
        reasoning = REASONING_TOKENS_PER_CHOICE * n if "reasoning_effort" in body else 0
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": f"{body.get('model')}-served",
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
                for index, text in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": _word_count(body),
                "completion_tokens": sum(len(text.split()) for text in texts) + reasoning,
                "total_tokens": 0,
                "completion_tokens_details": {"reasoning_tokens": reasoning},
            },
        }

    def _anthropic(self, body: Mapping[str, Any]) -> dict[str, Any]:
        (draw,) = self._draw(ANTHROPIC_PATH, body, 1)
        text = answer_text(body, draw)
        middle = len(text) // 2
        blocks: list[dict[str, Any]] = []
        if "thinking" in body:
            blocks.append({"type": "thinking", "thinking": "SECRET-THOUGHT", "signature": "s"})
        blocks += [{"type": "text", "text": text[:middle]}, {"type": "text", "text": text[middle:]}]
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": f"{body.get('model')}-served",
            "content": blocks,
            "stop_reason": "end_turn",
            "usage": {"input_tokens": _word_count(body), "output_tokens": len(text.split())},
        }


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 resets bursts of new connections
    daemon_threads = True


def _make_handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            reply = server.handle(self.path, headers, raw)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.drop_connection:
                self.close_connection = True
                return
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler
