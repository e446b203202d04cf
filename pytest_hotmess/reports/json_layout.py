"""The JSON report's layout: two-space indentation, and one line per item.

A report of a large suite holds hundreds of thousands of items; json's indenting encoder is
pure Python and several times slower than its compact (C) one, so each item is written on
one line with the compact encoder, and the small parts of a test (totals, checks, analyses)
are laid out as ``json.dumps(indent=2)`` would, byte for byte, with every container of
scalars written by one C encoder call. The document is the same JSON as any other layout
would give.

A test is written as *segments* (its entries before ``items``, the ``items`` entry, the
entries after it) so that a spooled test can be copied into the report with or without its
items, and with the outcome known only at the end of the run put in front.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from json.encoder import encode_basestring
from typing import IO, TYPE_CHECKING, Any

from ..results.plain_record import to_plain_value

if TYPE_CHECKING:  # the records import numpy: not when the plugin loads
    from ..results.records import ItemRecord, TestRecord

__all__ = [
    "LEAD_KEYS",
    "Segments",
    "item_line",
    "join_test",
    "record_segments",
    "split_test",
    "write_document",
]

LEAD_KEYS = ("nodeid", "outcome")
"""A test's first two keys: written when the test is copied, from what the run knows then."""


def _compiled(item_separator: str) -> Callable[[object], str]:
    """Strict JSON (no NaN), UTF-8 as is, ``": "`` after keys and ``item_separator`` between
    entries: json's C encoder made once and reused (``json.dumps`` builds one per call), or
    the pure-Python encoder where there is no C one."""
    python = json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, separators=(item_separator, ": ")
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return python.encode
    try:  # markers None: the plain records have no cycles to look for
        encode = make(
            None, python.default, encode_basestring, None, ": ", item_separator, False, False, False
        )
    except TypeError:  # a json module with another signature: its own encoder, slower
        return python.encode
    return lambda value: "".join(encode(value, 0))


_COMPACT = _compiled(", ")
"""One item per line."""

_FLAT: dict[int, Callable[[object], str]] = {}
"""By depth: a container of scalars as ``json.dumps(indent=2)`` lays it out, in one call."""


def _flat(value: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int) -> str:
    """A non-empty container without containers inside, its entries one level below
    ``depth``: each entry is followed by ',\n' and the next level's indent, which the
    encoder can write itself because no raw newline occurs inside JSON text."""
    encode = _FLAT.get(depth)
    if encode is None:
        encode = _FLAT[depth] = _compiled(",\n" + "  " * (depth + 1))
    text = encode(value)
    return text[0] + "\n" + "  " * (depth + 1) + text[1:-1] + "\n" + "  " * depth + text[-1]


def _dumps(value: object, depth: int) -> str:
    """``value`` as ``json.dumps(value, indent=2)`` writes it, its first line at ``depth``
    levels: containers of scalars (most of a record) in one encoder call each, only the
    nesting above them in Python."""
    kind = type(value)
    if kind is str:  # scalars as the encoder writes them, without an encoder call each
        return encode_basestring(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    if kind is float and math.isfinite(value):  # type: ignore[arg-type]
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, dict):
        children: Iterable[object] = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return _COMPACT(value)  # and a non-finite float raises as the encoder does
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    for child in children:
        if isinstance(child, (dict, list, tuple)):
            break
    else:
        return _flat(value, depth)
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):  # json's key conversions: its own
            text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
            return text.replace("\n", "\n" + "  " * depth) if depth else text
        lines = [f"{pad}{encode_basestring(k)}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(lines) + "\n" + "  " * depth + "}"
    lines = [pad + _dumps(child, depth + 1) for child in value]
    return "[\n" + ",\n".join(lines) + "\n" + "  " * depth + "]"


def _entry(key: str, value: object, depth: int) -> str:
    return "  " * depth + encode_basestring(key) + ": " + _dumps(value, depth)


def _items_entry(items: Iterable[object], depth: int) -> str:
    pad = "  " * (depth + 1)
    lines = [pad + _COMPACT(item) for item in items]
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


_KEY_TEXT: dict[str, str] = {}
"""An item's key as the encoder writes it, with ``": "`` after it."""


def item_line(
    item: ItemRecord, keys: tuple[str, ...], left_out: frozenset[str], reprs: dict[float, str]
) -> str:
    """``_COMPACT(item.to_plain(samples))``, written from the record: the keys of its plain form
    (``keys``, from ``results.records.item_keys``; ``left_out`` those left out when None) and
    their values without the dict, scalars as json's encoder writes them, other values by the
    encoder. ``reprs`` remembers the text of non-zero floats (equal non-zero floats have the
    same bits, so the same text; a test's items share many)."""
    parts = []
    for name in keys:
        value = getattr(item, name)
        kind = type(value)
        if kind is float:
            text = reprs.get(value)
            if text is None:
                text = float.__repr__(value) if math.isfinite(value) else "null"
                if value:
                    reprs[value] = text
        elif kind is str:
            text = encode_basestring(value)
        elif kind is int:
            text = int.__repr__(value)
        elif value is None:
            if name in left_out:
                continue
            text = "null"
        elif name != "out_of_range" or value:
            text = _COMPACT(to_plain_value(value))
        else:
            continue
        key = _KEY_TEXT.get(name)
        if key is None:
            key = _KEY_TEXT[name] = encode_basestring(name) + ": "
        parts.append(key + text)
    return "{" + ", ".join(parts) + "}"


def record_segments(record: TestRecord, samples: bool, depth: int = 3) -> Segments:
    """``split_test(record.plain_at("samples" if samples else "items"))``, its items written
    from the records by ``item_line`` (a single process lays out the record it judged)."""
    from ..results.records import ITEM_LEFT_OUT_WHEN_NONE, item_keys

    before: list[str] = []
    after: list[str] = []
    items = ""
    for key, value in record.plain_fields({"items": None}).items():
        if key in LEAD_KEYS:
            continue
        if key == "items":
            reprs: dict[float, str] = {}
            pad = "  " * (depth + 1)
            lines = [
                pad
                + item_line(
                    item, item_keys(item.kind is not None, samples), ITEM_LEFT_OUT_WHEN_NONE, reprs
                )
                for item in record.items
            ]
            body = "[\n" + ",\n".join(lines) + "\n" + "  " * depth + "]" if lines else "[]"
            items = "  " * depth + '"items": ' + body
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
