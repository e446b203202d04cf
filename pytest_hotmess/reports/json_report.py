"""The JSON report: schema ``pytest-hotmess/1``, strict JSON (null, not NaN), written atomically."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..config.atomic import write_atomic
from ..stats.plain import plain

__all__ = ["SCHEMA", "build_report", "write_json_atomic"]

SCHEMA = "pytest-hotmess/1"

_TEST_FIELDS = (
    "nodeid",
    "outcome",
    "verdict",
    "message",
    "loss",
    "estimator",
    "samples",
    "confidence",
    "thresholds",
    "checks",
    "calls",
    "sequential",
    "stopped_by",
    "length",
    "ensembles",
    "totals",
    "items",
)


def build_report(
    tests: Sequence[Mapping[str, Any]],
    totals: Mapping[str, Any],
    *,
    plugin_version: str,
    exitstatus: int | None = None,
    created: datetime.datetime | None = None,
) -> dict[str, Any]:
    created = created or _now()
    return {
        "schema": SCHEMA,
        "plugin_version": plugin_version,
        "created": created.isoformat(timespec="seconds"),
        "exitstatus": exitstatus,
        "tests": [{name: plain(test.get(name)) for name in _TEST_FIELDS} for test in tests],
        "totals": plain(dict(totals)),
    }


def _now() -> datetime.datetime:
    """The creation time; SOURCE_DATE_EPOCH pins it for reproducible reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    return datetime.datetime.now(datetime.timezone.utc)


def write_json_atomic(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Strict JSON (``allow_nan=False``), written atomically."""
    text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"))
