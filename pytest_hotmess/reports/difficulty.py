"""A test's figures by difficulty bucket as report text: terminal lines and JUnit properties.

Pure: a ``DifficultyRecord`` in, lines or ``(name, value)`` pairs out. The HTML page draws the
same record (``html``), the JSON report writes it as it is.
"""

from __future__ import annotations

from ..results.records import DifficultyRecord

__all__ = ["BUCKET_FIGURES", "difficulty_lines", "difficulty_properties"]

BUCKET_FIGURES = (
    "items",
    "error",
    "bias",
    "variance",
    "incoherence",
    "incoherence_low",
    "incoherence_high",
)
"""Each bucket's figures as JUnit properties ``hotmess.difficulty.<bucket>.<figure>``."""


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def difficulty_lines(record: DifficultyRecord) -> list[str]:
    """A small table: one row per bucket, then the slope (indented for the details section)."""
    level = f"{record.confidence:.0%}"
    lines = [
        f"  by difficulty ({record.difficulty_source}, {record.scale}):",
        f"    {'bucket':<7} {'items':>5} {'error':>6} {'bias':>6} {'var':>6}  "
        f"incoherence [{level} interval]",
    ]
    for bucket in record.buckets:
        interval = ""
        if bucket.incoherence_low is not None:
            interval = f" [{_num(bucket.incoherence_low)}, {_num(bucket.incoherence_high)}]"
        lines.append(
            f"    {bucket.bucket:<7} {bucket.items:>5} {_num(bucket.error):>6} "
            f"{_num(bucket.bias):>6} {_num(bucket.variance):>6}  "
            f"{_num(bucket.incoherence)}{interval}"
        )
    slope = record.slope
    if slope is not None and slope.slope is not None:
        interval = ""
        if slope.low is not None and slope.high is not None:
            interval = f" [{slope.low:+.3f}, {slope.high:+.3f}]"
        lines.append(f"    slope per bucket step: {slope.slope:+.3f}{interval}")
    elif slope is not None and slope.note:
        lines.append(f"    slope: {slope.note}")
    if record.note:
        lines.append(f"    note: {record.note}")
    return lines


def difficulty_properties(record: DifficultyRecord | None) -> list[tuple[str, str]]:
    """``hotmess.difficulty.*`` properties: the source, each bucket's figures, the slope."""
    if record is None:
        return []
    props = [("hotmess.difficulty.source", record.difficulty_source)]
    for bucket in record.buckets:
        props += [
            (f"hotmess.difficulty.{bucket.bucket}.{name}", _text(getattr(bucket, name)))
            for name in BUCKET_FIGURES
        ]
    slope = record.slope
    if slope is not None:
        props += [
            ("hotmess.difficulty.slope", _text(slope.slope)),
            ("hotmess.difficulty.slope_low", _text(slope.low)),
            ("hotmess.difficulty.slope_high", _text(slope.high)),
        ]
    return props
