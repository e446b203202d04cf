"""Saved runs to compare against: where baselines live, and reading one back safely."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the records pull in numpy: imported when a baseline is read
    from ..results.records import RunRecord

__all__ = ["BaselineError", "baseline_path", "load_baseline"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class BaselineError(ValueError):
    """A baseline cannot be saved or read; the message names it."""


def baseline_path(name: str, folder: Path) -> Path:
    """Where ``--hotmess-save NAME`` writes: ``folder/NAME.json``, and nowhere else.

    A name with a path separator or ``..`` is refused, so a save can never land outside the
    baseline folder (``NAME.json`` is the same as ``NAME``).
    """
    stem = name[: -len(".json")] if name.endswith(".json") else name
    if "/" in name or "\\" in name or name in (".", "..") or Path(name).is_absolute():
        raise BaselineError(
            f"baseline name {name!r} is a path; a baseline is saved by name in the baseline "
            "folder (--hotmess-baseline-dir); use --hotmess-json PATH to write a report elsewhere"
        )
    if not _NAME.match(stem):
        raise BaselineError(f"baseline name {name!r} must be letters, digits, '.', '_' or '-'")
    return folder / f"{stem}.json"


def _compare_path(name_or_path: str, folder: Path) -> Path:
    """A bare NAME means ``folder/NAME.json``; anything that looks like a path is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or len(candidate.parts) > 1:
        return candidate
    if not _NAME.match(name_or_path):
        raise BaselineError(
            f"baseline name {name_or_path!r} must be letters, digits, '.', '_' or '-'"
        )
    return folder / f"{name_or_path}.json"


def load_baseline(name_or_path: str, folder: Path) -> tuple[Path, RunRecord]:
    """The saved run, read back into a ``RunRecord``; BaselineError naming the file if not."""
    from ..results.records import SCHEMA, RunRecord

    path = _compare_path(name_or_path, folder)
    if not path.is_file():
        saved = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        known = f"; saved baselines: {', '.join(saved)}" if saved else ""
        raise BaselineError(f"baseline {name_or_path!r} not found at {path}{known}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"baseline {path} is not a readable JSON report: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BaselineError(f"baseline {path} is not a pytest-hotmess report (schema {SCHEMA})")
    if data.get("detail") == "tests":
        raise BaselineError(
            f"baseline {path} was written with --hotmess-json-detail tests and holds no items "
            "to pair; compare with a baseline saved by --hotmess-save, or a JSON report written "
            "at --hotmess-json-detail items or samples"
        )
    try:
        return path, RunRecord.from_plain(data)
    except (ValueError, TypeError) as exc:
        raise BaselineError(f"baseline {path} is not a readable report: {exc}") from None
