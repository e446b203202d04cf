"""What a failed model call leaves behind: the key kept out of sight, and the final error.

No httpx here: the transport code and the endpoint both build on these, and neither needs the
other to describe a failure.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Any

__all__ = [
    "REDACTED",
    "Failure",
    "ModelAPIError",
    "ModelConfigError",
    "Secret",
    "excerpt",
    "forget_transport_locals",
    "redact",
    "where",
]

REDACTED = "[REDACTED]"
_EXCERPT_CHARS = 300


class Secret:
    """Holds an API key so that no repr, str or log line of its owner can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("an API key must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with every occurrence of the key replaced (servers sometimes echo it back)."""
    if secret is None:
        return text
    return text.replace(secret.reveal(), REDACTED)


def excerpt(text: str) -> str:
    """``text`` on one line, cut to a length that fits an error message."""
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


class ModelConfigError(ValueError):
    """A ``models:`` entry that cannot become a client; the message names the entry and key."""


def where(entry: str | None) -> str:
    """How messages name a config entry."""
    return f"model entry {entry!r}" if entry is not None else "model entry"


class ModelAPIError(RuntimeError):
    """A model call that failed for good: retries exhausted, or an error that retrying cannot fix.

    ``status`` is the HTTP status (None for connection errors and timeouts),
    ``provider_message`` the error message from the provider's response body (None when it sent
    none), ``attempts`` how many HTTP attempts were made. Never holds the API key or headers.
    """

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        status: int | None,
        provider_message: str | None,
        attempts: int,
        detail: str | None = None,
        item: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.provider_message = provider_message
        self.attempts = attempts
        self.detail = detail
        self.item = item
        super().__init__(self._describe())

    def _describe(self) -> str:
        noun = "attempt" if self.attempts == 1 else "attempts"
        parts = [f"{self.provider} model {self.model!r} failed after {self.attempts} {noun}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.provider_message:
            parts.append(f"provider says: {self.provider_message}")
        if self.detail:
            parts.append(self.detail)
        text = ": ".join(parts[:2]) + "".join(f"; {part}" for part in parts[2:])
        if self.item is not None:
            text += f" (item {self.item!r})"
        return text

    def fields(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the error (pickling, or per-waiter copies)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "provider_message": self.provider_message,
            "attempts": self.attempts,
            "detail": self.detail,
            "item": self.item,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_model_api_error, (self.fields(),))


def _rebuild_model_api_error(fields: dict[str, Any]) -> ModelAPIError:
    return ModelAPIError(**fields)


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed attempt, already scrubbed of the key and detached from transport objects."""

    retryable: bool
    status: int | None
    provider_message: str | None
    detail: str | None
    retry_after: float | None = None


def forget_transport_locals(exc: BaseException) -> None:
    """Clear the local variables of the finished frames an interruption passed through.

    A call cancelled or interrupted while its request is in flight (``asyncio.wait_for``,
    Ctrl-C) carries a traceback through the HTTP library's frames, and some of those hold the
    request headers, key included, as locals (aiohttp's ``ClientSession._request``); ``pytest
    -l`` would print them. The frames have returned by now, so their locals are only evidence.
    Frames still running (ours, the caller's) cannot be cleared and are left as they are.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        pending.extend((current.__context__, current.__cause__))
