"""A real HTTP server on 127.0.0.1 speaking just enough OpenAI and Anthropic for client tests.

It answers ``POST /v1/chat/completions``, ``POST /v1/messages`` and Azure's
``POST /openai/deployments/{name}/chat/completions?api-version=...``, keeps every request it saw
(path, query, headers, body) so that tests can count attempts and check headers, and can be
scripted with :class:`Reply` objects to fail in the ways real providers do. A request with
``"stream": true`` is answered with server-sent events that add up to the default answer; one
with ``tools`` calls the first tool with ``{"answer": <text>}``; one with ``"logprobs": true``
gets a log-probability for its answer token, with ``top_logprobs`` alternatives.

Default answers are deterministic. The server acts as a sampler that draws answers in order
from one stream per request: the c-th choice it serves for a given request body (ignoring
``n``) has text ``answer_text(body, c)``. So sample i of K unbatched calls and choice i % n of
request i // n of a batched run get the same text, which is what batching must preserve.
"""

from __future__ import annotations

import dataclasses
import json
import re
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeLLMServer",
    "Reply",
    "SeenRequest",
    "answer_text",
    "anthropic_events",
    "openai_events",
]

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
AZURE_PATH = re.compile(r"/openai/deployments/([^/]+)/chat/completions")
REASONING_TOKENS_PER_CHOICE = 5
TOP_LOGPROB_TOKENS = ("B", " A", "C", "D", "E")
"""The alternatives a logprobs answer lists after its own token (as many as top_logprobs asks)."""


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
    query: dict[str, str] = dataclasses.field(default_factory=dict)
    """The query parameters of the request URL (``path`` is without them)."""


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

    def handle(self, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        path, _, query_text = target.partition("?")
        query = dict(urllib.parse.parse_qsl(query_text, keep_blank_values=True))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(SeenRequest(path, headers, body, raw, query))
        scripted = self._next_reply(path)
        if scripted is not None:
            if scripted.drop_connection or scripted.body is not None or scripted.raw is not None:
                return scripted
            if scripted.status != 200:
                error = {"message": f"scripted failure {scripted.status}", "type": "scripted"}
                return dataclasses.replace(scripted, body={"error": error})
        azure = AZURE_PATH.fullmatch(path)
        if path not in (OPENAI_PATH, ANTHROPIC_PATH) and azure is None:
            return Reply(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
        if not isinstance(body, dict):
            return Reply(400, {"error": {"message": "body is not a JSON object"}})
        if azure is not None:
            if "api-version" not in query:
                return Reply(404, {"error": {"message": "no api-version", "type": "not_found"}})
            answer = self._openai({**body, "model": urllib.parse.unquote(azure.group(1))})
        else:
            answer = self._openai(body) if path == OPENAI_PATH else self._anthropic(body)
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            events = (
                anthropic_events(answer)
                if path == ANTHROPIC_PATH
                else openai_events(answer, include_usage=include_usage)
            )
            return Reply(200, raw=events, content_type="text/event-stream")
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
            "choices": [_openai_choice(body, index, text) for index, text in enumerate(texts)],
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
        tools = body.get("tools")
        if isinstance(tools, list) and tools:
            name = tools[0].get("name")
            blocks = [
                {"type": "tool_use", "id": "toolu_1", "name": name, "input": {"answer": text}}
            ]
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": f"{body.get('model')}-served",
            "content": blocks,
            "stop_reason": "tool_use" if body.get("tools") else "end_turn",
            "usage": {"input_tokens": _word_count(body), "output_tokens": len(text.split())},
        }


def _openai_choice(body: Mapping[str, Any], index: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    choice: dict[str, Any] = {"index": index, "message": message, "finish_reason": "stop"}
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        name = tools[0]["function"]["name"]
        arguments = json.dumps({"answer": text})
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ]
        choice["finish_reason"] = "tool_calls"
    if body.get("logprobs") is True:
        count = int(body.get("top_logprobs") or 0)
        top = [{"token": text, "logprob": -0.25}] + [
            {"token": token, "logprob": -2.0 - rank}
            for rank, token in enumerate(TOP_LOGPROB_TOKENS[: max(count - 1, 0)])
        ]
        entry = {"token": text, "logprob": -0.25, "top_logprobs": top[:count]}
        choice["logprobs"] = {"content": [entry]}
    return choice


def _event(data: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def openai_events(answer: Mapping[str, Any], *, include_usage: bool) -> bytes:
    """A Chat Completions answer as the stream of chunks that adds up to it: the text two
    characters at a time, tool-call arguments in two pieces, usage last when asked for."""
    out = [b": keep-alive comment\n\n"]
    base = {"id": answer["id"], "object": "chat.completion.chunk", "model": answer["model"]}
    for choice in answer["choices"]:
        index, message = choice["index"], choice["message"]
        first = {"role": "assistant"}
        out.append(_event({**base, "choices": [{"index": index, "delta": first}]}))
        text = message.get("content") or ""
        for start in range(0, len(text), 2):
            delta: dict[str, Any] = {"index": index, "delta": {"content": text[start : start + 2]}}
            if start == 0 and "logprobs" in choice:
                delta["logprobs"] = choice["logprobs"]
            out.append(_event({**base, "choices": [delta]}))
        for slot, call in enumerate(message.get("tool_calls") or []):
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            pieces = [
                {
                    "index": slot,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": arguments[:half]},
                },
                {"index": slot, "function": {"arguments": arguments[half:]}},
            ]
            for piece in pieces:
                chunk = {"index": index, "delta": {"tool_calls": [piece]}}
                out.append(_event({**base, "choices": [chunk]}))
        end = {"index": index, "delta": {}, "finish_reason": choice["finish_reason"]}
        out.append(_event({**base, "choices": [end]}))
    if include_usage:
        out.append(_event({**base, "choices": [], "usage": answer["usage"]}))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def anthropic_events(answer: Mapping[str, Any]) -> bytes:
    """A Messages answer as the event stream that adds up to it."""
    usage = answer["usage"]
    start = {
        **answer,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
    }
    out = [_event({"type": "message_start", "message": start}, "message_start")]
    out.append(_event({"type": "ping"}, "ping"))
    for index, block in enumerate(answer["content"]):
        kind = block["type"]
        empty = {"text": ""} if kind == "text" else {"thinking": ""} if kind == "thinking" else {}
        if kind == "tool_use":
            empty = {"id": block["id"], "name": block["name"], "input": {}}
        opening = {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": kind, **empty},
        }
        out.append(_event(opening, "content_block_start"))
        if kind == "text":
            deltas = [{"type": "text_delta", "text": block["text"]}]
        elif kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]}]
        else:
            text = json.dumps(block["input"])
            half = len(text) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": part}
                for part in (text[:half], text[half:])
            ]
        for delta in deltas:
            out.append(
                _event(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            )
        out.append(_event({"type": "content_block_stop", "index": index}, "content_block_stop"))
    final = {
        "type": "message_delta",
        "delta": {"stop_reason": answer["stop_reason"]},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    out.append(_event(final, "message_delta"))
    out.append(_event({"type": "message_stop"}, "message_stop"))
    return b"".join(out)


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
