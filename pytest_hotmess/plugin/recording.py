"""The recording's lifecycle in one run: opened at configure time, saved once workers are down.

``RecordingKeeper`` owns everything ``--hotmess-record`` does outside the model wrapper: the
file is checked and read before any test runs, an xdist worker journals new answers to its part
file and hands it over at its end, and the controller merges every part into the file at the
very end of the session. Problems found on the way become the notes of the terminal summary.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..config.settings import Settings
from .errors import usage_error

if TYPE_CHECKING:
    from ..models.recording import Recording

__all__ = ["RecordingKeeper"]


class RecordingKeeper:
    """The recording of one run (controller, worker or single process), from open to save."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.store: Recording | None = None
        """Where new answers go (the model registry records into it); None when not recording."""
        self.base: Recording | None = None
        """The recording file as it was at configure time (controller or single process)."""
        self.parts: list[str] = []
        self.unwritten: list[bytes] = []
        self.errors: list[str] = []
        self.notes: list[tuple[str, bool]] = []
        """(line, alarm) for the terminal summary."""

    def open(self, path: str) -> Recording:
        """The store answers are recorded into; the file is checked and read now, not at the end.

        In ``merge`` mode the store is the file's content (recorded answers are reused); in
        ``overwrite`` mode it starts empty and replaces the answers it gets at session end. An
        xdist worker also appends every new answer to its part file as it arrives.
        """
        from ..models.recording import Recording, RecordingFormatError

        source = self.settings.sources.get("record", "--hotmess-record")
        target = Path(path)
        if not self.is_worker:
            problem = _write_problem(target)
            if problem is not None:
                raise usage_error(f"{source}: cannot write the recording {path}: {problem}")
        base = Recording(target)
        if target.exists():
            try:
                base = Recording.load(target)
            except RecordingFormatError as exc:
                raise usage_error(
                    f"{source}: {exc}; recording adds to this file: repair or move it"
                ) from None
            except OSError as exc:
                raise usage_error(f"{source}: cannot read the recording {path}: {exc}") from None
        store = base if self.settings.record_mode == "merge" else Recording(target)
        if self.is_worker:
            worker = self.config.workerinput["workerid"]  # type: ignore[attr-defined]
            store.journal_to(f"{path}.{worker}.part")
        else:
            self.base = base
        self.store = store
        return store

    def hand_over_part(self) -> None:
        """A worker's end: close its part file and tell the controller about it."""
        journal = self.store.close_journal() if self.store is not None else None
        if journal is None:
            return
        output = self.config.workeroutput  # type: ignore[attr-defined]
        output["hotmess_record_part"] = str(journal.path)
        output["hotmess_record_unwritten"] = list(journal.unwritten)
        output["hotmess_record_error"] = journal.error

    def worker_down(self, output: Mapping[str, Any]) -> None:
        """xdist: a worker finished; note its part file and the answers it could not write."""
        part = output.get("hotmess_record_part")
        if isinstance(part, str):
            self.parts.append(part)
        unwritten = output.get("hotmess_record_unwritten") or []
        self.unwritten.extend(line.encode("utf-8") for line in unwritten)
        if unwritten:
            error = output.get("hotmess_record_error")
            self.notes.append(
                (
                    f"pytest-hotmess: {len(unwritten)} answer(s) could not be written to the "
                    f"part file ({error}); the worker handed them over at its end",
                    True,
                )
            )

    def part_files(self, path: Path) -> list[Path]:
        """Every worker part of the recording: announced by a worker, or left on disk by one
        that crashed or was interrupted (or by an earlier session that could not merge it)."""
        pattern = re.compile(re.escape(path.name) + r"\.gw\d+\.part")
        found = {Path(part) for part in self.parts}
        if path.parent.is_dir():
            found.update(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))
        return sorted(p for p in found if p.is_file())

    def save(self, session: pytest.Session) -> None:
        """Merge this session's answers (and every worker part) into the recording file.

        Runs after xdist has shut its workers down, so that an interrupted worker's last
        answers are in its part. A session with no new answer leaves the file untouched;
        the parts are removed only once the file holding their answers is written.
        """
        store, base, path = self.store, self.base, self.settings.record
        if self.is_worker or store is None or base is None or path is None:
            return
        from ..models.recording import Recording

        incoming, lost, read = Recording(), [], []
        sources = [] if store is base else [store]
        for part in self.part_files(Path(path)):
            try:
                found = Recording.read_part(part)
            except OSError as exc:
                lost.append(f"{part}: cannot be read ({exc}); it is left in place")
                continue
            read.append(part)
            sources.append(found.recording)
            lost.extend(found.damaged)
        if self.unwritten:
            handed = Recording.read_lines(self.unwritten, "answers handed over by workers")
            sources.append(handed.recording)
            lost.extend(handed.damaged)
        conflicts = incoming.merge(sources)
        mode = self.settings.record_mode
        conflicts += base.merge([incoming], prefer="incoming" if mode == "overwrite" else "held")
        new = base.fresh
        if new:
            try:
                base.save(path)
            except OSError as exc:
                kept = f"; the worker parts are kept: {', '.join(map(str, read))}" if read else ""
                self.errors.append(
                    f"pytest-hotmess: could not write the recording {path}: {exc}; "
                    f"{new} new answer(s) were not saved{kept}"
                )
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
                return
            self.notes.append(
                (f"hotmess recording: {path}: {new} new answer(s), {len(base)} in the file", False)
            )
        for part in read:
            part.unlink(missing_ok=True)
        if lost:
            self.notes.append(
                (f"pytest-hotmess: {len(lost)} recorded answer(s) could not be recovered:", True)
            )
            self.notes.extend((f"  {problem}", True) for problem in lost)
        if conflicts:
            self.notes.append(
                (
                    f"pytest-hotmess: {len(conflicts)} sample(s) were recorded twice with "
                    f"different answers; kept one of each: {'; '.join(conflicts[:3])}",
                    True,
                )
            )

    def report(self, terminal: Any) -> None:
        """The summary's recording lines: a failed save in red, then the notes."""
        for problem in self.errors:
            terminal.write_line(problem, red=True)
        for note, alarm in self.notes:
            terminal.write_line(note, red=alarm)


def _write_problem(target: Path) -> str | None:
    """Why ``target`` cannot be written (tried with a temporary file beside it), or None.

    Folders created for the try are removed again: nothing is left behind by a session that
    records nothing.
    """
    if target.is_dir():
        return "it is a folder"
    missing, folder = [], target.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".probe"
        )
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return str(exc)
    finally:
        for created in missing:  # deepest first
            with contextlib.suppress(OSError):
                created.rmdir()
    return None
