"""Call, cost and retry budgets: stop drawing when one runs out, and say which one did.

A test's budget may have a parent (the run's budget); a call is allowed only while both have
room. Counting is thread-safe because sync models are sampled from a thread pool. Retries are
asked for by the HTTP clients, which find the budget of the test they are sampled for through
:data:`current_budget`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import threading
from typing import Any

from .completion import Completion, Sample

__all__ = ["Budget", "Prices", "Usage", "current_budget"]

current_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "hotmess_current_budget", default=None
)
"""The budget model calls made here are counted against (the plugin sets the test's)."""


@dataclasses.dataclass(frozen=True)
class Prices:
    """Currency units per million input and output tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, completion: Completion) -> float:
        tokens_in = completion.input_tokens or 0
        tokens_out = completion.output_tokens or 0
        return (tokens_in * self.input + tokens_out * self.output) / 1_000_000


@dataclasses.dataclass
class Usage:
    """What a budget has let through: calls started, cost and tokens of the answers."""

    calls: int = 0
    cost: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    """Token counts: None while no answer reported one (unknown, which is not 0)."""
    retries: int = 0
    """Attempts repeated after a transient failure (429, 5xx, timeout, dropped connection)."""
    retry_wait: float = 0.0
    """Seconds spent waiting before those retries."""


class Budget:
    """``acquire`` before a call, ``charge`` with its result; ``exhausted`` names the limit hit."""

    def __init__(
        self,
        *,
        max_calls: int | None = None,
        max_cost: float | None = None,
        prices: Prices | None = None,
        parent: Budget | None = None,
        label: str = "test",
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
    ) -> None:
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.prices = prices
        self.parent = parent
        self.label = label
        self.usage = Usage()
        self.exhausted: str | None = None
        self._refused: str | None = None
        """Why a retry was refused: no new call starts after that (see :meth:`retry`)."""
        self._lock = threading.Lock()

    def _room(self) -> str | None:
        if self.max_calls is not None and self.usage.calls >= self.max_calls:
            calls = "call" if self.max_calls == 1 else "calls"
            return f"{self.label} call budget of {self.max_calls} {calls} used up"
        if self.max_cost is not None and self.usage.cost >= self.max_cost:
            return f"{self.label} cost budget of {self.max_cost:g} used up"
        return self._refused

    def _retry_room(self, wait: float) -> str | None:
        if self.max_retries is not None and self.usage.retries >= self.max_retries:
            return f"{self.label} retry budget of {self.max_retries} retries used up"
        if self.max_retry_wait is not None:
            left = self.max_retry_wait - self.usage.retry_wait
            if wait > left:
                return (
                    f"{self.label} retry wait budget of {self.max_retry_wait:g} s used up "
                    f"({max(left, 0.0):.3g} s left, a wait of {wait:.3g} s asked)"
                )
        return None

    def retry(self, wait: float) -> str | None:
        """Count one retry after waiting ``wait`` seconds, on this budget and its parents.

        Returns None when allowed; otherwise why not, and the budget is then exhausted, so that
        sampling stops the way it does when calls run out (nothing new starts). A wait longer
        than what is left of a wait budget stops at once instead of sleeping.
        """
        with self._lock:
            reason = self._retry_room(wait)
            if reason is None and self.parent is not None:
                reason = self.parent.retry(wait)
            if reason is not None:
                self._refused = self._refused or reason
                self.exhausted = self.exhausted or reason
                return reason
            self.usage.retries += 1
            self.usage.retry_wait += wait
            return None

    def acquire(self) -> bool:
        """Reserve one call on this budget and its parents; False (and why) when out of room."""
        with self._lock:
            reason = self._room()
            if reason is None and self.parent is not None and not self.parent.acquire():
                reason = self.parent.exhausted
            if reason is not None:
                self.exhausted = reason
                return False
            self.usage.calls += 1
            return True

    def charge(self, value: Any) -> None:
        """Count the tokens (and their cost) of a completed call."""
        if isinstance(value, Sample):
            value = value.value
        if not isinstance(value, Completion):
            return
        with self._lock:
            usage = self.usage
            usage.input_tokens = _add(usage.input_tokens, value.input_tokens)
            usage.output_tokens = _add(usage.output_tokens, value.output_tokens)
            usage.reasoning_tokens = _add(usage.reasoning_tokens, value.reasoning_tokens)
            if self.prices is not None:
                self.usage.cost += self.prices.cost(value)
        if self.parent is not None:
            self.parent.charge(value)


def _add(total: int | None, count: int | None) -> int | None:
    """Add a count to a total; an unknown count leaves the total as it was (unknown if none)."""
    if count is None:
        return total
    return count if total is None else total + count
