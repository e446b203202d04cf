"""lm-evaluation-harness ``--log_samples`` files (``samples_<task>_<time>.jsonl``).

Items are docs (``doc_id``), samples are a generation request's responses (``repeats``): the
filtered responses when the task's filters keep one per response, else the raw ``resps``.
The target is the record's ``target``. A file logged with several filters names each item
``<filter>/<doc_id>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..stats.kinds import NOTHING
from .common import Grouped, apply_extract, item_id_text, json_lines, require
from .reader import Extract
from .records import IngestedItem, IngestError, where

__all__ = ["read_lm_eval", "sniff_lm_eval"]


def sniff_lm_eval(path: Path, head: bytes) -> bool:
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        return False
    first = head.split(b"\n", 1)[0]
    return b'"doc_id"' in first and b'"resps"' in first


def read_lm_eval(path: Path, extract: Extract | None) -> list[IngestedItem]:
    records = list(json_lines(path))
    if not records:
        raise IngestError(f"{path}: no samples in this file")
    filters = {str(record.get("filter", "none")) for _, record in records}
    grouped = Grouped(path)
    for at, record in records:
        doc = item_id_text(require(record, "doc_id", path, at), path, at, "doc_id")
        name = str(record.get("filter", "none"))
        item_id = f"{name}/{doc}" if len(filters) > 1 else doc
        responses = _responses(record, path, at)
        target = record.get("target")
        target = NOTHING if target is None or target == "" else _hashable(target)
        for index, raw in enumerate(responses):
            outcome = apply_extract(raw, extract)
            grouped.add(item_id, index, outcome, target, {}, at)
    return grouped.items()


def _responses(record: dict[str, Any], path: Path, at: str) -> list[Any]:
    """The per-sample responses of one doc's single generation request."""
    resps = require(record, "resps", path, at)
    if not isinstance(resps, list) or len(resps) != 1 or not isinstance(resps[0], list):
        raise IngestError(
            f"{where(str(path), at, 'resps')}: expected one generation request with its "
            "repeated responses ([[r1, r2, ...]]); loglikelihood (multiple-choice) tasks "
            "have no repeated samples to split"
        )
    raw = resps[0]
    if len(raw) < 2:
        raise IngestError(
            f"{where(str(path), at, 'resps')}: {len(raw)} response; run the task with "
            "repeats >= 2 to get samples"
        )
    filtered = record.get("filtered_resps")
    if (
        isinstance(filtered, list)
        and len(filtered) == 1
        and isinstance(filtered[0], list)
        and len(filtered[0]) == len(raw)
    ):
        return list(filtered[0])  # the task's own per-response filter (a regex, say)
    return list(raw)


def _hashable(target: Any) -> Any:
    return tuple(target) if isinstance(target, list) else target
