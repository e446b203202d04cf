"""Prompts as chat messages, and the small readers of answer fields both providers share.

Apart from the HTTP code so that recordings (which key samples by messages) need no client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "messages_from_prompt",
    "optional_dict",
    "optional_int",
    "optional_str",
    "text_of_blocks",
]


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
