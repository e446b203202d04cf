"""When to retry a failed model call and how long to wait: pure policy, no I/O.

Kept apart from the HTTP code so that the backoff arithmetic can be tested exactly.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import math
import random
import time
from collections.abc import Mapping

__all__ = ["RetryPolicy", "is_retryable_status", "parse_retry_after", "retry_after_from_headers"]


def is_retryable_status(status: int) -> bool:
    """429 (rate limit) and 5xx (server trouble) are transient; any other status is final."""
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Returns None when the value is absent or unreadable (the caller then backs off on its own).
    A date in the past means "retry now" (0 s).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isnan(seconds):
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; be lenient with a missing zone
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> float | None:
    """The wait the server asked for; ``retry-after-ms`` wins over ``Retry-After``.

    Returns None when the server asked for nothing readable.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value / 1000.0)
    return parse_retry_after(lowered.get("retry-after"), now=now)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and full jitter.

    Full jitter (a uniform draw on [0, cap]) spreads the retries of many concurrent samples
    instead of sending them back in lock step, which would hit the rate limit again.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts must be an int, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not (math.isfinite(self.backoff_base) and self.backoff_base >= 0):
            raise ValueError(f"backoff_base must be a finite number >= 0, got {self.backoff_base}")
        if not (math.isfinite(self.backoff_max) and self.backoff_max >= 0):
            raise ValueError(f"backoff_max must be a finite number >= 0, got {self.backoff_max}")

    def backoff_cap(self, attempt: int) -> float:
        """Upper end of the jitter window after failed attempt number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        # 2 ** 64 already dwarfs any sane backoff_max; the clamp avoids float overflow.
        return min(self.backoff_max, self.backoff_base * 2.0 ** min(attempt - 1, 64))

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to sleep before the next attempt.

        A server's ``Retry-After`` is honoured as given, capped by ``backoff_max`` so that a
        misbehaving server cannot stall a test run; otherwise full jitter on the backoff cap.
        """
        if retry_after is not None:
            return min(max(0.0, retry_after), self.backoff_max)
        return rng.uniform(0.0, self.backoff_cap(attempt))
