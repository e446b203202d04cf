"""Read one or more results files: pick each file's reader, check item ids across files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .formats import FORMATS
from .reader import Extract
from .records import IngestedItem, IngestError

__all__ = ["Source", "detect_format", "read_source"]

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4096)


def detect_format(path: Path) -> str:
    """The format of a file, from its name and first bytes; an error names what was tried."""
    head = _head(path)
    for name, reader in FORMATS.items():
        if reader.sniff(path, head):
            return name
    raise IngestError(
        f"{path}: cannot tell which tool wrote this file (tried {', '.join(FORMATS)}); "
        "name it with format=... (--format on the command line)"
    )


def read_source(
    source: Source, *, format: str = "auto", extract: Extract | None = None
) -> list[IngestedItem]:
    """Every item of one or more files; an item id seen twice is an error naming both places."""
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not paths:
        raise IngestError("no source given")
    if format != "auto" and format not in FORMATS:
        raise IngestError(f"unknown format {format!r}: choose one of auto, {', '.join(FORMATS)}")
    items: list[IngestedItem] = []
    seen: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
        name = detect_format(path) if format == "auto" else format
        for item in FORMATS[name].read(path, extract):
            if item.item_id in seen:
                raise IngestError(
                    f"{item.source}: item {item.item_id!r} was already read at {seen[item.item_id]}"
                )
            seen[item.item_id] = item.source
            items.append(item)
    return items
