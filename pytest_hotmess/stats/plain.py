"""Plain data helpers without numpy: results to builtins (JSON, xdist), and text for reports."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .kinds import INVALID, INVALID_LABEL

__all__ = ["format_k", "plain"]


def plain(value: Any) -> Any:
    """Recursively: numpy scalars and arrays to builtins, non-finite floats to None,
    the invalid outcome to its label, anything else unknown to its ``str``."""
    if value is INVALID:
        return INVALID_LABEL
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return plain(value.item())  # numpy scalar
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, Iterable):
        return [plain(v) for v in value]
    return str(value)


def format_k(k_min: int | None, k_max: int | None) -> str:
    """Samples per item as a report shows them: ``30``, or ``28-30`` when items differ."""
    if k_min is None or k_max is None:
        return "?"
    return str(k_min) if k_min == k_max else f"{k_min}-{k_max}"
