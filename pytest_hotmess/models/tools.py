"""Tool calls in answers: the typed record both providers' calls become, and the text of an
answer made of tool calls only.

A model forced to answer through a tool (``tool_choice``; Anthropic's way to structured output)
returns no text. Its text is then its tool calls as canonical JSON,
``[{"name": ..., "arguments": {...}}]``, so that ``extract`` (which receives the text) sees
the call, and two samples that call differently are two different outcomes, never two ``""``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from ..sampling.completion import ToolCall

__all__ = ["answer_text", "tool_call"]


def tool_call(function: Any, call_id: Any, arguments: Any = None) -> ToolCall:
    """An OpenAI ``function`` object ``{"name", "arguments": "<json>"}`` (or an Anthropic
    ``tool_use`` block's name with its ``input`` passed as ``arguments``) as a :class:`ToolCall`.
    """
    function = function if isinstance(function, dict) else {}
    name = function.get("name")
    raw = function.get("arguments") if arguments is None else arguments
    if isinstance(raw, str):
        # Arguments that are not JSON stay the string the model wrote: extract decides.
        with contextlib.suppress(ValueError):
            raw = json.loads(raw) if raw.strip() else {}
    return ToolCall(
        name=name if isinstance(name, str) else "",
        arguments=raw,
        id=call_id if isinstance(call_id, str) else None,
    )


def answer_text(text: str, calls: Sequence[ToolCall]) -> str:
    """The answer's text; for an answer of tool calls only, the calls as canonical JSON."""
    if text or not calls:
        return text
    return json.dumps(
        [{"name": call.name, "arguments": call.arguments} for call in calls],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
