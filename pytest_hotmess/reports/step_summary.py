"""The coherence table as Markdown, appended to a CI job's summary (``$GITHUB_STEP_SUMMARY``).

GitHub Actions renders whatever Markdown the steps of a job append to the file that
``GITHUB_STEP_SUMMARY`` names. Several steps (and several pytest runs) append to the same file,
so this never rewrites it: the whole section is one ``write`` on a file opened for appending,
which other appenders cannot interleave with.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..results.records import RunRecord
from .terminal import render_errors, table_cells

__all__ = ["append_step_summary", "render_markdown"]

_NUMERIC = {1, 3, 4, 5}


def _cell(text: str) -> str:
    """One table cell: pipes escaped, line breaks and control characters made harmless."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean.replace("\\", "\\\\").replace("|", "\\|")


def render_markdown(run: RunRecord) -> str:
    """A heading, the table (TOTAL row in bold), then sampling errors and regressions."""
    header, rows = table_cells(run)
    lines = [
        "### hotmess coherence",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in _NUMERIC else "---" for i in range(len(header))) + "|",
    ]
    for index, row in enumerate(rows):
        cells = [_cell(cell) for cell in row]
        if index == len(rows) - 1:
            cells = [f"**{cell}**" if cell else cell for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [_cell(line) for line in render_errors(run.tests)]
    notes += [f"**REGRESSION** {_cell(r.message)}" for r in run.regressions or []]
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n\n"


def append_step_summary(path: str | Path, run: RunRecord) -> None:
    """Append the run's section to ``path`` in one write, creating the file if needed."""
    data = render_markdown(run).encode("utf-8")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o666)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write (a full disk, a signal): finish it
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)
