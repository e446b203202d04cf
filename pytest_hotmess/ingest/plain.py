"""Plain files of samples: JSON lines or CSV with ``item, sample, outcome[, target]``.

One row per sample. Other numeric columns (CSV) or a ``covariates`` object (JSONL) become the
sample's covariates. CSV cells are text: ``true``/``false`` read as booleans, numbers as
numbers, an empty outcome as an invalid sample, anything else as a label.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..stats.kinds import NOTHING
from .common import Grouped, apply_extract, covariate_row, item_id_text, json_lines, require
from .reader import Extract
from .records import IngestedItem, IngestError, where

__all__ = ["read_plain_csv", "read_plain_jsonl", "sniff_plain_csv", "sniff_plain_jsonl"]

_COLUMNS = ("item", "sample", "outcome")
_KNOWN = {"item", "sample", "outcome", "target", "covariates"}


def sniff_plain_jsonl(path: Path, head: bytes) -> bool:
    """Any JSON lines file the tools' readers did not claim (tried last: it names problems)."""
    return path.suffix.lower() in (".jsonl", ".ndjson")


def sniff_plain_csv(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in (".csv", ".tsv")


def read_plain_jsonl(path: Path, extract: Extract | None) -> list[IngestedItem]:
    grouped = Grouped(path)
    for at, record in json_lines(path):
        unknown = sorted(set(record) - _KNOWN)
        if unknown:
            raise IngestError(
                f"{where(str(path), at, unknown[0])}: unknown field (expected item, sample, "
                "outcome, target, covariates)"
            )
        item_id = item_id_text(require(record, "item", path, at), path, at, "item")
        sample = _sample_index(require(record, "sample", path, at), path, at)
        outcome = apply_extract(require(record, "outcome", path, at), extract)
        covariates = record.get("covariates") or {}
        if not isinstance(covariates, dict):
            raise IngestError(f"{where(str(path), at, 'covariates')}: expected an object")
        target = record["target"] if record.get("target") is not None else NOTHING
        grouped.add(item_id, sample, outcome, target, covariate_row(covariates, path, at), at)
    return _nonempty(grouped.items(), path)


def read_plain_csv(path: Path, extract: Extract | None) -> list[IngestedItem]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason})") from None
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [name.strip() for name in reader.fieldnames or []]
    for column in _COLUMNS:
        if column not in header:
            raise IngestError(f"{where(str(path), 'line 1', column)}: missing column")
    reader.fieldnames = header
    grouped = Grouped(path)
    for row in reader:
        at = f"line {reader.line_num}"
        if None in row:
            raise IngestError(f"{where(str(path), at)}: more cells than columns")
        item_id = item_id_text((row["item"] or "").strip(), path, at, "item")
        sample = _sample_index(_cell(row["sample"]), path, at)
        outcome = apply_extract(_cell(row["outcome"]), extract)
        target = _cell(row.get("target"))
        numbers: dict[str, Any] = {}
        for name, cell in row.items():
            if name in _KNOWN or cell is None or not cell.strip():
                continue
            value = _cell(cell)
            if isinstance(value, (str, bool)):
                raise IngestError(
                    f"{where(str(path), at, name)}: extra columns are covariates and must be "
                    f"numbers, got {cell!r}"
                )
            numbers[name] = value
        grouped.add(
            item_id,
            sample,
            outcome,
            NOTHING if target is None else target,
            covariate_row(numbers, path, at),
            at,
        )
    return _nonempty(grouped.items(), path)


def _cell(cell: str | None) -> Any:
    """A CSV cell as a value: empty is None, true/false booleans, numbers numbers."""
    if cell is None or not cell.strip():
        return None
    text = cell.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return cell


def _sample_index(value: Any, path: Path, at: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IngestError(
            f"{where(str(path), at, 'sample')}: expected a sample index (an integer >= 0), "
            f"got {value!r}"
        )
    return value


def _nonempty(items: list[IngestedItem], path: Path) -> list[IngestedItem]:
    if not items:
        raise IngestError(f"{path}: no samples in this file")
    return items
