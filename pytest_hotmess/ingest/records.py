"""What every reader returns: one item's samples, its target and covariates, typed."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..stats.kinds import NOTHING

__all__ = ["IngestError", "IngestedItem", "where"]


class IngestError(ValueError):
    """A source cannot be read: the message names the file, the record and the field."""


def where(path: str, record: str | int | None = None, field: str | None = None) -> str:
    """``file``, ``file: record 3``, ``file: line 3: field 'x'``: who to blame, as text."""
    parts = [path]
    if record is not None:
        parts.append(record if isinstance(record, str) else f"record {record}")
    if field is not None:
        parts.append(f"field {field!r}")
    return ": ".join(parts)


@dataclasses.dataclass(frozen=True)
class IngestedItem:
    """One item of another tool's results: its K samples as that tool drew them.

    ``samples`` are outcomes (after ``extract``; ``None`` is an invalid sample), ``target``
    is ``NOTHING`` for a variance-only item, ``covariates`` has one row per sample (token
    counts, latency) or is empty.
    """

    item_id: str
    samples: tuple[Any, ...]
    target: Any = NOTHING
    covariates: tuple[dict[str, float], ...] = ()
    source: str = ""
    """Where the item was read (``file: record``), for messages about it."""
