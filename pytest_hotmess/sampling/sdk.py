"""SDK answers as completions: openai and anthropic response objects, read by their shape.

A user's callable may return what ``openai`` or ``anthropic`` returned (a chat completion, a
Responses API response, a message; sync or async client alike). They become a
:class:`Completion` with the text, finish reason, token counts and latency, so that extract,
budgets and the length analysis see the same fields as with the built-in clients. The SDKs are
never imported: the objects are recognised by their attributes, so any lookalike (LiteLLM's
``ModelResponse``) works too. A count the object does not carry stays ``None`` (unknown), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .completion import Completion

__all__ = ["adapt_answer"]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _sequence(value: Any) -> Sequence[Any] | None:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return None
    return value


def _chat_completion(answer: Any, latency_s: float | None) -> Completion | None:
    """OpenAI Chat Completions (``choices[0].message.content``, ``usage.prompt_tokens``)."""
    choices = _sequence(getattr(answer, "choices", None))
    if not choices:
        return None
    message = getattr(choices[0], "message", None)
    if message is None or not hasattr(message, "content"):
        return None
    usage = getattr(answer, "usage", None)
    details = getattr(usage, "completion_tokens_details", None)
    return Completion(
        text=_str(getattr(message, "content", None)) or "",
        model=_str(getattr(answer, "model", None)),
        finish_reason=_str(getattr(choices[0], "finish_reason", None)),
        input_tokens=_int(getattr(usage, "prompt_tokens", None)),
        output_tokens=_int(getattr(usage, "completion_tokens", None)),
        reasoning_tokens=_int(getattr(details, "reasoning_tokens", None)),
        latency_s=latency_s,
    )


def _response(answer: Any, latency_s: float | None) -> Completion | None:
    """OpenAI Responses API (``output_text``, ``usage.input_tokens``, ``status``)."""
    text = _str(getattr(answer, "output_text", None))
    if text is None or not hasattr(answer, "output"):
        return None
    usage = getattr(answer, "usage", None)
    details = getattr(usage, "output_tokens_details", None)
    incomplete = getattr(answer, "incomplete_details", None)
    reason = _str(getattr(incomplete, "reason", None)) or _str(getattr(answer, "status", None))
    return Completion(
        text=text,
        model=_str(getattr(answer, "model", None)),
        finish_reason=reason,
        input_tokens=_int(getattr(usage, "input_tokens", None)),
        output_tokens=_int(getattr(usage, "output_tokens", None)),
        reasoning_tokens=_int(getattr(details, "reasoning_tokens", None)),
        latency_s=latency_s,
    )


def _message(answer: Any, latency_s: float | None) -> Completion | None:
    """Anthropic Messages (``content`` blocks, ``stop_reason``, ``usage.input_tokens``)."""
    blocks = _sequence(getattr(answer, "content", None))
    if blocks is None or not hasattr(answer, "stop_reason"):
        return None
    texts = [
        block.text
        for block in blocks
        if getattr(block, "type", None) == "text" and isinstance(getattr(block, "text", None), str)
    ]
    usage = getattr(answer, "usage", None)
    return Completion(
        text="".join(texts),
        model=_str(getattr(answer, "model", None)),
        finish_reason=_str(getattr(answer, "stop_reason", None)),
        input_tokens=_int(getattr(usage, "input_tokens", None)),
        output_tokens=_int(getattr(usage, "output_tokens", None)),
        reasoning_tokens=None,  # the Messages API does not count thinking tokens apart
        latency_s=latency_s,
    )


def adapt_answer(answer: Any, latency_s: float | None = None) -> Any:
    """An SDK response object as a :class:`Completion`; any other answer unchanged.

    Plain data (str, numbers, mappings, sequences) and the plugin's own types are never read
    as SDK objects, so a callable's own results pass through as they are.
    """
    if answer is None or isinstance(answer, (str, bytes, int, float, Mapping, Sequence)):
        return answer
    if isinstance(answer, Completion) or type(answer).__module__.startswith("pytest_hotmess."):
        return answer
    for read in (_chat_completion, _response, _message):
        completion = read(answer, latency_s)
        if completion is not None:
            return completion
    return answer
