"""The JSON report: schema ``pytest-hotmess/1``, strict JSON (null, not NaN), written atomically."""

from __future__ import annotations

import datetime
import json
import os

from ..config.atomic import write_atomic
from ..results.records import SCHEMA, RunRecord

__all__ = ["SCHEMA", "created_now", "write_json_atomic"]


def created_now() -> str:
    """The creation time; SOURCE_DATE_EPOCH pins it for reproducible reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    else:
        moment = datetime.datetime.now(datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def write_json_atomic(path: str | os.PathLike[str], run: RunRecord) -> None:
    """The run as strict JSON (``allow_nan=False``), written atomically."""
    text = json.dumps(run.to_plain(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"))
