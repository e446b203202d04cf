"""The one list of report files a run writes: add a format with one module and one entry here.

Each writer names its option (the ``Settings`` field holding its path), whether it is written
only when a coherence test ran, and a function writing a run (``ReportInput``: the
``RunRecord`` and, for the JSON documents, its tests as streamed from the spool) to a path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..config.atomic import write_atomic
from ..config.settings import Settings
from .baseline import baseline_path
from .json_report import ReportInput, write_json_atomic

__all__ = ["WRITERS", "ReportWriter", "planned_writes"]


def _write_json(path: str | Path, source: ReportInput) -> None:
    write_json_atomic(path, source)


def _write_baseline(path: str | Path, source: ReportInput) -> None:
    # a comparison pairs items: a baseline always holds them (their samples only if asked)
    write_json_atomic(path, source, "samples" if source.detail == "samples" else "items")


def _write_html(path: str | Path, source: ReportInput) -> None:
    from .html import render_html  # the page module: only when a page is asked for

    write_atomic(path, render_html(source.run).encode("utf-8"))


def _append_step_summary(path: str | Path, source: ReportInput) -> None:
    from .step_summary import append_step_summary

    append_step_summary(path, source.run)


@dataclasses.dataclass(frozen=True)
class ReportWriter:
    name: str
    option: str
    """The ``Settings`` field with the target; the writer runs only when it is set."""
    needs_records: bool
    """Written only when a coherence test ran (the JSON report is written regardless, so that
    no stale report survives a run without one)."""
    write: Callable[[str | Path, ReportInput], None]


WRITERS: tuple[ReportWriter, ...] = (
    ReportWriter("JSON report", "json", False, _write_json),
    ReportWriter("baseline", "save", True, _write_baseline),
    ReportWriter("HTML report", "html", True, _write_html),
    ReportWriter("step summary", "step_summary", True, _append_step_summary),
)


def _target(writer: ReportWriter, settings: Settings, baseline_dir: Path) -> str | Path | None:
    value: str | None = getattr(settings, writer.option)
    if not value:
        return None
    return baseline_path(value, baseline_dir) if writer.option == "save" else value


def planned_writes(
    settings: Settings, baseline_dir: Path, *, has_records: bool
) -> list[tuple[ReportWriter, str | Path]]:
    """The writers this run's options ask for, each with its target path."""
    out = []
    for writer in WRITERS:
        target = _target(writer, settings, baseline_dir)
        if target is not None and (has_records or not writer.needs_records):
            out.append((writer, target))
    return out
