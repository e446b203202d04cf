"""What the YAML loaders' error tests share: building the broken files, checking where errors point.

Config and dataset errors both read ``FILE:LINE: KEY: PROBLEM`` and keep ``problem`` apart.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["assert_points_at", "model_x", "rule"]


def rule(setting: str) -> str:
    """A config whose one threshold rule (matching ``a``) has ``setting``, on line 3."""
    return f"thresholds:\n  - match: a\n    {setting}\n"


def model_x(fields: str) -> str:
    """A config whose one model ``x`` has ``fields`` (YAML flow style), on line 2."""
    return f"models:\n  x: {{{fields}}}\n"


def assert_points_at(error: Exception, path: Path, line: int, key: str, problem: str) -> None:
    """``error`` starts with ``path:line: key:`` and its ``problem`` says ``problem``."""
    assert str(error).startswith(f"{path}:{line}: {key}: "), str(error)
    described: str = getattr(error, "problem")  # noqa: B009 - both error types carry it
    assert problem in described, described
