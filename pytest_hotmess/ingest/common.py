"""Small helpers every reader shares: JSON lines with their line numbers, extract, grouping."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .reader import Extract
from .records import IngestedItem, IngestError, where

__all__ = [
    "Grouped",
    "apply_extract",
    "covariate_row",
    "item_id_text",
    "json_lines",
    "load_json",
    "require",
]


def load_json(path: Path) -> Any:
    """A whole JSON file; a syntax error names its line and column."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IngestError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason})") from None


def json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(line N, object)`` for each non-blank line; anything but a JSON object is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        at = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{where(str(path), at)}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise IngestError(
                f"{where(str(path), at)}: expected a JSON object, got {type(record).__name__}"
            )
        yield at, record


def require(record: Mapping[str, Any], field: str, path: Path, at: str) -> Any:
    """``record[field]``, or an error naming the file, the record and the missing field."""
    if field not in record:
        raise IngestError(f"{where(str(path), at, field)}: missing")
    return record[field]


def item_id_text(value: Any, path: Path, at: str, field: str) -> str:
    """An item id as text: a non-empty string or an integer (not a bool, list or null)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise IngestError(
            f"{where(str(path), at, field)}: an item id must be a non-empty string or an "
            f"integer, got {value!r}"
        )
    return str(value)


def apply_extract(raw: Any, extract: Extract | None) -> Any:
    """The outcome of one sample: ``extract(raw)``; ``None`` (invalid) if it raises."""
    if extract is None:
        return raw
    try:
        return extract(raw)
    except Exception:
        return None  # as ``resample``'s extract: an unreadable answer is an invalid sample


def covariate_row(values: Mapping[str, Any], path: Path, at: str) -> dict[str, float]:
    """Numbers only (token counts, latency): anything else is an error naming the field."""
    row: dict[str, float] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise IngestError(f"{where(str(path), at, name)}: a covariate must be a number")
        if not math.isfinite(value):
            raise IngestError(f"{where(str(path), at, name)}: a covariate must be finite")
        row[str(name)] = int(value) if isinstance(value, numbers.Integral) else float(value)
    return row


class Grouped:
    """Samples gathered per item in first-seen order; one target per item, checked."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._items: dict[str, dict[Any, tuple[Any, dict[str, float]]]] = {}
        self._targets: dict[str, tuple[Any, str]] = {}
        self._first: dict[str, str] = {}

    def add(
        self,
        item_id: str,
        sample: Any,
        outcome: Any,
        target: Any,
        covariates: dict[str, float],
        at: str,
        *,
        target_field: str = "target",
    ) -> None:
        from ..stats.kinds import NOTHING

        samples = self._items.setdefault(item_id, {})
        self._first.setdefault(item_id, at)
        if sample in samples:
            raise IngestError(
                f"{where(str(self._path), at)}: item {item_id!r} sample {sample!r} appears twice"
            )
        samples[sample] = (outcome, covariates)
        if item_id in self._targets:
            before, first_at = self._targets[item_id]
            if before is not NOTHING and target is not NOTHING and before != target:
                raise IngestError(
                    f"{where(str(self._path), at, target_field)}: item {item_id!r} has target "
                    f"{target!r} here but {before!r} at {first_at}"
                )
            if before is NOTHING and target is not NOTHING:
                self._targets[item_id] = (target, at)
        else:
            self._targets[item_id] = (target, at)

    def items(self) -> list[IngestedItem]:
        """The items, each with its samples in sample order (as the tool numbered them)."""
        out = []
        for item_id, samples in self._items.items():
            keys = sorted(samples, key=_sample_order)
            rows = tuple(samples[key][1] for key in keys)
            out.append(
                IngestedItem(
                    item_id=item_id,
                    samples=tuple(samples[key][0] for key in keys),
                    target=self._targets[item_id][0],
                    covariates=rows if any(rows) else (),
                    source=f"{self._path}: {self._first[item_id]}",
                )
            )
        return out


def _sample_order(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, (int, float)) else (1, str(key))
