"""A tiny OpenAI-compatible HTTP/1.1 server that answers every call after a fixed latency.

It exists so that the throughput benchmark measures the client, not the server: one asyncio
process, a hand-written keep-alive parser (no framework), one cheap JSON answer per request.
It runs in its own process (``python -m benchmarks._server``) so that it does not take the
client's CPU; :class:`LatencyServer` starts and stops that process.

The answer to a request whose last user message is ``P`` is the letter
``"ABCD"[hash_of(P, n) % 4]`` where ``n`` counts the requests seen so far with that prompt, so
K calls on one prompt give several answers (a real variance) and every call is served exactly
once (the answers are a pure function of arrival order per prompt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from types import TracebackType

__all__ = ["LatencyServer", "answer_letter", "serve"]

_LETTERS = "ABCD"
_MAX_HEADER_BYTES = 64 * 1024


def answer_letter(prompt: str, draw: int) -> str:
    """The letter served for the ``draw``-th request carrying ``prompt`` (0-based)."""
    return _LETTERS[zlib.crc32(f"{prompt}#{draw}".encode()) % len(_LETTERS)]


def _last_user_text(body: object) -> str:
    if not isinstance(body, dict):
        return ""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


class _Counter:
    """Requests served, in total and per prompt (one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.total = 0
        self.per_prompt: dict[str, int] = {}

    def answer(self, raw: bytes) -> bytes:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        prompt = _last_user_text(body)
        draw = self.per_prompt.get(prompt, 0)
        self.per_prompt[prompt] = draw + 1
        self.total += 1
        model = body.get("model", "bench") if isinstance(body, dict) else "bench"
        return json.dumps(
            {
                "id": f"chatcmpl-{self.total}",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer_letter(prompt, draw)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
            },
            separators=(",", ":"),
        ).encode()


def _response(status: bytes, payload: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    )


_NOT_FOUND = _response(b"404 Not Found", b'{"error":{"message":"no route"}}')


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests as bytes arrive, answer each after the latency.

    A protocol with ``call_later`` instead of a stream-reader coroutine per connection: the
    benchmark's 50 answers fall due together, and the stream version's per-request cost made
    them queue (median call 57 ms instead of 52 ms for a 50 ms latency at concurrency 50).
    """

    def __init__(self, counter: _Counter, latency_s: float) -> None:
        self._counter = counter
        self._latency_s = latency_s
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    self._close()
                return
            head = self._buffer[:end].decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self._buffer) < end + 4 + length:
                return
            raw = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            if request_line.startswith("POST ") and "/chat/completions" in request_line:
                reply = _response(b"200 OK", self._counter.answer(raw))
            else:
                reply = _NOT_FOUND
            self._loop.call_later(self._latency_s, self._send, reply)

    def _send(self, reply: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(reply)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def serve(port: int, latency_s: float, ready_file: Path | None = None) -> None:
    """Serve forever on 127.0.0.1 (``port=0``: any free port, written to ``ready_file``)."""
    counter = _Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Connection(counter, latency_s), "127.0.0.1", port, backlog=1024
    )
    bound = server.sockets[0].getsockname()[1]
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(str(bound))
        os.replace(tmp, ready_file)
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


class LatencyServer:
    """The server in a child process; ``with LatencyServer(0.05) as server: server.base_url``."""

    def __init__(self, latency_s: float = 0.05, *, start_timeout_s: float = 15.0) -> None:
        self.latency_s = latency_s
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, workdir: Path | None = None) -> LatencyServer:
        """Start the child process and wait until it listens (its port comes in a file)."""
        folder = workdir if workdir is not None else Path(tempfile.gettempdir())
        ready = folder / f"hotmess-bench-server-{os.getpid()}-{id(self)}.port"
        ready.unlink(missing_ok=True)
        root = Path(__file__).resolve().parent.parent
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks._server",
                "--latency",
                str(self.latency_s),
                "--ready-file",
                str(ready),
            ],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self._start_timeout_s
        while not ready.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"benchmark server exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("benchmark server did not start in time")
            time.sleep(0.01)
        self.port = int(ready.read_text())
        ready.unlink()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> LatencyServer:
        return self.start() if self._process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each call")
    parser.add_argument("--ready-file", type=Path, default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # stopped by the parent
        asyncio.run(serve(args.port, args.latency, args.ready_file))


if __name__ == "__main__":
    main()
