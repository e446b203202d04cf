"""What a failed model call leaves behind: the key kept out of sight, and the final error.

No httpx here: the transport code and the endpoint both build on these, and neither needs the
other to describe a failure.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import traceback
import urllib.parse
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "MIN_REDACTED_CHARS",
    "REDACTED",
    "Failure",
    "ModelAPIError",
    "ModelConfigError",
    "Secret",
    "clean_key",
    "exception_chain",
    "excerpt",
    "forget_transport_locals",
    "redact",
    "where",
]

REDACTED = "[REDACTED]"
_EXCERPT_CHARS = 300
MIN_REDACTED_CHARS = 4
"""Header values shorter than this are not redacted: they cannot hold a credential, and
scrubbing ``1`` or ``on`` from every message would garble it."""


def clean_key(value: object, source: str) -> str:
    """The key without surrounding whitespace; a ``ValueError`` naming ``source`` if unusable.

    Keys read from CRLF ``.env`` files or secret files end in ``\r``/``\n``; sent as they are,
    httpx refuses the header and echoes it (``b'Bearer sk-...\n'``) in its error. The message
    names where the key came from (an environment variable, an argument), never the value.
    """
    if not isinstance(value, str):
        raise ValueError(f"{source}: an API key must be a string, got {type(value).__name__}")
    key = value.strip()
    if not key:
        raise ValueError(f"{source}: the API key is empty (or only whitespace)")
    bad = [index for index, char in enumerate(key) if not " " < char < "\x7f"]
    if bad:
        raise ValueError(
            f"{source}: the API key holds {len(bad)} control, space or non-ASCII character(s) "
            f"(first at position {bad[0]}); an API key is one line of printable ASCII"
        )
    return key


class Secret:
    """Holds an API key so that no repr, str or log line of its owner can show it.

    Every key made into a Secret is also scrubbed from the HTTP libraries' log records
    (see :func:`_guard_logs`) for as long as the Secret lives.
    """

    __slots__ = ("__weakref__", "_forms", "_value")

    def __init__(self, value: str, source: str = "api_key") -> None:
        self._value = clean_key(value, source)
        self._forms = _forms_of(self._value)
        _LIVE.add(self)
        _guard_logs()

    @classmethod
    def of_header(cls, value: str, source: str) -> Secret:
        """A header's value: one line of printable ASCII, inner spaces allowed (``Bearer x``)."""
        if not isinstance(value, str):
            raise ValueError(
                f"{source}: a header value must be a string, got {type(value).__name__}"
            )
        text = value.strip()
        if not text:
            raise ValueError(f"{source}: the header value is empty (or only whitespace)")
        bad = [index for index, char in enumerate(text) if not " " <= char < "\x7f"]
        if bad:
            raise ValueError(
                f"{source}: the header value holds {len(bad)} control or non-ASCII character(s) "
                f"(first at position {bad[0]}); a header value is one line of printable ASCII"
            )
        secret = object.__new__(cls)
        secret._value = text
        secret._forms = _forms_of(text) if len(text) >= MIN_REDACTED_CHARS else ()
        _LIVE.add(secret)
        _guard_logs()
        return secret

    @classmethod
    def joined(cls, secrets: Sequence[Secret]) -> Secret | None:
        """One redactor for several secrets (the key and header values): every form of each.

        Its ``reveal`` is the first secret's value; it exists to redact, not to authenticate.
        """
        if not secrets:
            return None
        if len(secrets) == 1:
            return secrets[0]
        joined = object.__new__(cls)
        joined._value = secrets[0].reveal()
        forms = {form for secret in secrets for form in secret.forms()}
        joined._forms = tuple(sorted(forms, key=len, reverse=True))
        _LIVE.add(joined)
        return joined

    def reveal(self) -> str:
        return self._value

    def forms(self) -> tuple[str, ...]:
        """Every way the key can appear in text, longest first (see :func:`redact`)."""
        return self._forms

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def _base64_cores(data: bytes) -> list[str]:
    """The part of base64(prefix + data) that depends on ``data`` alone, for 3 prefix lengths.

    ``Basic`` auth carries ``base64(user:key)``; whatever the user name, one of these three
    strings appears in it (all but at most two bytes at either end of the key).
    """
    cores = []
    for offset in range(3):
        padded = b"\0" * offset + data
        encoded = base64.b64encode(padded).decode("ascii")
        start = 4 if offset else 0
        end = len(encoded) if len(padded) % 3 == 0 else len(encoded) - 4
        core = encoded[start:end]
        if len(core) >= 8:
            cores += [core, core.replace("+", "-").replace("/", "_")]
    return cores


def _forms_of(key: str) -> tuple[str, ...]:
    """The key as text may carry it: raw, repr'd (str and bytes), JSON-, percent-,
    backslash-escaped and inside base64 (``Basic`` auth)."""
    raw = key.encode("utf-8", "backslashreplace")
    forms = {
        key,
        repr(key)[1:-1],
        repr(raw)[2:-1],
        json.dumps(key)[1:-1],
        json.dumps(key, ensure_ascii=False)[1:-1],
        urllib.parse.quote(key, safe=""),
        urllib.parse.quote_plus(key),
        key.encode("unicode_escape").decode("ascii"),
        *_base64_cores(raw),
    }
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with every form of the key replaced (servers sometimes echo it back).

    Run it before cutting text to length (:func:`excerpt`): a cut key is no longer found.
    """
    if secret is None:
        return text
    for form in secret.forms():
        text = text.replace(form, REDACTED)
    return text


_LIVE: weakref.WeakSet[Secret] = weakref.WeakSet()

_HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "httpx_aiohttp",
    "aiohttp",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "h11",
    "hpack",
    "hpack.hpack",
    "hpack.table",
    "pytest_hotmess.clients",
)
"""Loggers of the HTTP stack. A logger's filters see only the records made on it (not its
children's), so each one that logs is named."""


class _RedactingFilter(logging.Filter):
    """Rewrites a record that holds a live key so that any handler shows it redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = list(_LIVE)
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted: leave it to logging's own report
            return True
        cleaned = message
        for secret in secrets:
            cleaned = redact(cleaned, secret)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for name in ("exc_text", "stack_info"):
            text = getattr(record, name, None)
            if text:
                for secret in secrets:
                    text = redact(text, secret)
                setattr(record, name, text)
        return True


_FILTER = _RedactingFilter()


def _guard_logs() -> None:
    """Put the redacting filter on every HTTP-stack logger (once; cheap to call again)."""
    for name in _HTTP_LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


def excerpt(text: str) -> str:
    """``text`` on one line, cut to a length that fits an error message (redact it first)."""
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
        request: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.provider_message = provider_message
        self.attempts = attempts
        self.detail = detail
        self.item = item
        self.request = request
        """The method and URL of the request, e.g. ``POST https://host/v1/messages`` (no key)."""
        self.hint = hint
        """The likely cause of an HTTP 401/403/404 (or of a 5xx when no key was sent)."""
        super().__init__(self._describe())

    def _describe(self) -> str:
        noun = "attempt" if self.attempts == 1 else "attempts"
        parts = [f"{self.provider} model {self.model!r} failed after {self.attempts} {noun}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.request is not None and (self.detail is None or self.request not in self.detail):
            parts[-1] += f" ({self.request})"
        if self.provider_message:
            parts.append(f"provider says: {self.provider_message}")
        if self.detail:
            parts.append(self.detail)
        if self.hint:
            parts.append(f"hint: {self.hint}")
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
            "request": self.request,
            "hint": self.hint,
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
    for current in exception_chain(exc):
        traceback.clear_frames(current.__traceback__)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what it was raised from or during (``__cause__``, ``__context__``), and the OS
    or certificate error an aiohttp exception wraps; each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, name, None) for name in ("certificate_error", "os_error")]
        pending += [e for e in wrapped if isinstance(e, BaseException)]
        pending += [current.__cause__, current.__context__]
