"""An item an analysis left out, and why (shared by the length and ensemble analyses)."""

from __future__ import annotations

import dataclasses

__all__ = ["SkippedItem"]


@dataclasses.dataclass(frozen=True)
class SkippedItem:
    """An item an analysis left out, and why (a report lists them next to the figures)."""

    id: str
    reason: str
