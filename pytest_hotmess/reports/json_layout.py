"""The JSON report's layout: two-space indentation, and one line per item.

A report of a large suite holds hundreds of thousands of items; json's indenting encoder is
pure Python and about three times slower than its compact one, so each item is written on
one line with the compact (C) encoder and only the small parts of a test (totals, checks,
analyses) are indented. The document is the same JSON as any other layout would give.

A test is written as *segments* (its entries before ``items``, the ``items`` entry, the
entries after it) so that a spooled test can be copied into the report with or without its
items, and with the outcome known only at the end of the run put in front.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

__all__ = ["LEAD_KEYS", "Segments", "join_test", "split_test", "write_document"]

LEAD_KEYS = ("nodeid", "outcome")
"""A test's first two keys: written when the test is copied, from what the run knows then."""

_COMPACT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _dumps(value: object, depth: int) -> str:
    """``value`` indented by two spaces per level, its first line at ``depth`` levels."""
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    return text.replace("\n", "\n" + "  " * depth) if depth else text


def _entry(key: str, value: object, depth: int) -> str:
    return "  " * depth + _dumps(key, 0) + ": " + _dumps(value, depth)


def _items_entry(items: Iterable[object], depth: int) -> str:
    pad = "  " * (depth + 1)
    lines = [pad + _COMPACT.encode(item) for item in items]
    body = "[\n" + ",\n".join(lines) + "\n" + "  " * depth + "]" if lines else "[]"
    return "  " * depth + '"items": ' + body


Segments = tuple[str, str, str]
"""A test's entries before ``items``, the ``items`` entry ('' without one), those after."""


def split_test(test: Mapping[str, Any], depth: int = 3) -> Segments:
    """A test's plain form (without its lead keys) as text segments, keys at ``depth``."""
    before: list[str] = []
    after: list[str] = []
    items = ""
    for key, value in test.items():
        if key in LEAD_KEYS:
            continue
        if key == "items":
            items = _items_entry(value, depth)
            continue
        (after if items else before).append(_entry(key, value, depth))
    return ",\n".join(before), items, ",\n".join(after)


def join_test(
    nodeid: str, outcome: str | None, segments: Segments, *, with_items: bool, depth: int = 3
) -> str:
    """One test as it stands in the report's ``tests`` list (its first line not indented)."""
    head = [_entry("nodeid", nodeid, depth), _entry("outcome", outcome, depth)]
    before, items, after = segments
    parts = [*head, before, items if with_items else "", after]
    return "{\n" + ",\n".join(p for p in parts if p) + "\n" + "  " * (depth - 1) + "}"


def write_document(plain: Mapping[str, Any], out: IO[str], tests: Iterable[str]) -> None:
    """Write the report: ``plain`` (the run's plain form) with its ``tests`` from ``tests``,
    each already laid out by ``join_test``."""
    out.write("{\n")
    keys = list(plain)
    for n, key in enumerate(keys):
        if key == "tests":
            out.write('  "tests": [')
            first = True
            for text in tests:
                out.write(("\n" if first else ",\n") + "    " + text)
                first = False
            out.write("]" if first else "\n  ]")
        else:
            out.write(_entry(key, plain[key], 1))
        out.write(",\n" if n < len(keys) - 1 else "\n")
    out.write("}\n")
