"""Call and cost budgets: stop drawing when either runs out, and say which one did.

A test's budget may have a parent (the run's budget); a call is allowed only while both have
room. Counting is thread-safe because sync models are sampled from a thread pool.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from .completion import Completion, Sample

__all__ = ["Budget", "Prices", "Usage"]


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
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


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
    ) -> None:
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.prices = prices
        self.parent = parent
        self.label = label
        self.usage = Usage()
        self.exhausted: str | None = None
        self._lock = threading.Lock()

    def _room(self) -> str | None:
        if self.max_calls is not None and self.usage.calls >= self.max_calls:
            return f"{self.label} call budget of {self.max_calls} calls used up"
        if self.max_cost is not None and self.usage.cost >= self.max_cost:
            return f"{self.label} cost budget of {self.max_cost:g} used up"
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
            self.usage.input_tokens += value.input_tokens or 0
            self.usage.output_tokens += value.output_tokens or 0
            self.usage.reasoning_tokens += value.reasoning_tokens or 0
            if self.prices is not None:
                self.usage.cost += self.prices.cost(value)
        if self.parent is not None:
            self.parent.charge(value)
