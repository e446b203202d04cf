"""Streamed answers (server-sent events) assembled into the JSON answer the same call would get.

With ``stream: true`` both providers answer ``text/event-stream``. The endpoint reads the body
as it reads any answer (bounded by ``max_response_bytes``, ended by the call's deadline), and
the provider's assembler here turns the events into the object a non-streamed call returns, so
parsing an answer is one code path whatever the transport of its bytes. Usage comes from the
final events (OpenAI's ``stream_options.include_usage`` chunk, Anthropic's ``message_delta``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "SSEEvent",
    "StreamAssembler",
    "StreamError",
    "assemble_anthropic",
    "assemble_openai",
    "parse_events",
]


class StreamError(Exception):
    """A stream that cannot become an answer: cut short, malformed, or an error event."""

    def __init__(self, message: str, *, retryable: bool, provider_message: str | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.provider_message = provider_message


@dataclasses.dataclass(frozen=True)
class SSEEvent:
    """One event: its ``event:`` name (None when unnamed) and its ``data:`` lines joined."""

    event: str | None
    data: str


StreamAssembler = Callable[[bytes], dict[str, Any]]


def parse_events(body: bytes) -> list[SSEEvent]:
    """The events of an SSE body (the WHATWG event-stream format: fields, blank-line dispatch)."""
    events: list[SSEEvent] = []
    name: str | None = None
    data: list[str] = []
    text = body.decode("utf-8", errors="replace")
    for line in [*text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), ""]:
        if not line:
            if data:
                events.append(SSEEvent(name, "\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def _json(event: SSEEvent) -> dict[str, Any]:
    try:
        data = json.loads(event.data)
    except ValueError:
        raise StreamError(
            f"malformed JSON in a streamed event: {event.data[:80]!r}", retryable=False
        ) from None
    if not isinstance(data, dict):
        raise StreamError("a streamed event is not a JSON object", retryable=False)
    return data


def _error_event(data: dict[str, Any]) -> StreamError:
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    kind = error.get("type") if isinstance(error, dict) else None
    text = str(message) if message else json.dumps(data)[:200]
    shown = f"{text} ({kind})" if isinstance(kind, str) and kind else text
    # An overloaded or internal error mid-stream is the server's, and passes like a 5xx.
    retryable = kind in ("overloaded_error", "api_error", "server_error", "internal_error")
    return StreamError(
        "the stream ended with an error event", retryable=retryable, provider_message=shown
    )


def assemble_openai(body: bytes) -> dict[str, Any]:
    """A Chat Completions stream as the ``chat.completion`` object it adds up to."""
    choices: dict[int, dict[str, Any]] = {}
    answer: dict[str, Any] = {"object": "chat.completion"}
    done = False
    for event in parse_events(body):
        if event.data.strip() == "[DONE]":
            done = True
            break
        chunk = _json(event)
        if "error" in chunk:
            raise _error_event(chunk)
        for field in ("id", "model"):
            if isinstance(chunk.get(field), str):
                answer[field] = chunk[field]
        if isinstance(chunk.get("usage"), dict):
            answer["usage"] = chunk["usage"]
        for delta_choice in chunk.get("choices") or []:
            if isinstance(delta_choice, dict):
                _add_openai_delta(choices, delta_choice)
    if not done:
        raise StreamError("the stream ended before its [DONE] event", retryable=True)
    answer["choices"] = [_finish_openai_choice(choices[i]) for i in sorted(choices)]
    return answer


def _add_openai_delta(choices: dict[int, dict[str, Any]], delta_choice: dict[str, Any]) -> None:
    index = delta_choice.get("index", 0)
    index = index if isinstance(index, int) else 0
    choice = choices.setdefault(
        index, {"index": index, "text": [], "tools": {}, "logprobs": [], "finish_reason": None}
    )
    if isinstance(delta_choice.get("finish_reason"), str):
        choice["finish_reason"] = delta_choice["finish_reason"]
    logprobs = delta_choice.get("logprobs")
    if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        choice["logprobs"].extend(logprobs["content"])
    delta = delta_choice.get("delta")
    if not isinstance(delta, dict):
        return
    if isinstance(delta.get("content"), str):
        choice["text"].append(delta["content"])
    for call in delta.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        slot = call.get("index", len(choice["tools"]))
        held = choice["tools"].setdefault(slot, {"id": None, "name": [], "arguments": []})
        if isinstance(call.get("id"), str):
            held["id"] = call["id"]
        function = call.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str):
                held["name"].append(function["name"])
            if isinstance(function.get("arguments"), str):
                held["arguments"].append(function["arguments"])


def _finish_openai_choice(choice: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(choice["text"]) or None}
    if choice["tools"]:
        message["tool_calls"] = [
            {
                "id": held["id"],
                "type": "function",
                "function": {
                    "name": "".join(held["name"]),
                    "arguments": "".join(held["arguments"]),
                },
            }
            for _, held in sorted(choice["tools"].items())
        ]
    out: dict[str, Any] = {
        "index": choice["index"],
        "message": message,
        "finish_reason": choice["finish_reason"],
    }
    if choice["logprobs"]:
        out["logprobs"] = {"content": choice["logprobs"]}
    return out


def assemble_anthropic(body: bytes) -> dict[str, Any]:
    """A Messages stream as the ``message`` object it adds up to."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, list[str]] = {}
    usage: dict[str, Any] = {}
    stopped = False
    for event in parse_events(body):
        data = _json(event)
        kind = data.get("type", event.event)
        if kind == "error":
            raise _error_event(data)
        if kind == "message_start" and isinstance(data.get("message"), dict):
            message = dict(data["message"])
            usage.update(message.get("usage") or {})
        elif kind == "content_block_start" and isinstance(data.get("content_block"), dict):
            blocks[int(data.get("index", len(blocks)))] = dict(data["content_block"])
        elif kind == "content_block_delta" and isinstance(data.get("delta"), dict):
            index = int(data.get("index", 0))
            _add_anthropic_delta(blocks.setdefault(index, {}), partial_json, index, data["delta"])
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict):
                message.update({k: v for k, v in delta.items() if v is not None})
            if isinstance(data.get("usage"), dict):
                usage.update(data["usage"])
        elif kind == "message_stop":
            stopped = True
    if not stopped:
        raise StreamError("the stream ended before its message_stop event", retryable=True)
    for index, parts in partial_json.items():
        text = "".join(parts)
        try:
            blocks[index]["input"] = json.loads(text) if text else {}
        except ValueError:
            blocks[index]["input"] = text
    message["content"] = [blocks[index] for index in sorted(blocks)]
    message["usage"] = usage
    return message


def _add_anthropic_delta(
    block: dict[str, Any],
    partial_json: dict[int, list[str]],
    index: int,
    delta: dict[str, Any],
) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = block.get("text", "") + str(delta.get("text", ""))
    elif kind == "input_json_delta":
        partial_json.setdefault(index, []).append(str(delta.get("partial_json", "")))
    elif kind == "thinking_delta":
        block["thinking"] = block.get("thinking", "") + str(delta.get("thinking", ""))
    elif kind == "signature_delta":
        block["signature"] = str(delta.get("signature", ""))
