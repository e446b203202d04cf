"""What a reader is: a format's name, its tool, how to recognise its files and read them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .records import IngestedItem

__all__ = ["Extract", "ReadFn", "Reader"]

Extract = Callable[[Any], Any]
"""Maps one sample's output text to an outcome; ``None`` or an exception: an invalid sample."""
ReadFn = Callable[[Path, "Extract | None"], list[IngestedItem]]


@dataclasses.dataclass(frozen=True)
class Reader:
    """One format: its name, the tool that writes it, and how to tell and read its files."""

    name: str
    tool: str
    sniff: Callable[[Path, bytes], bool]
    """True when a file (its path and first bytes) is in this format."""
    read: ReadFn
