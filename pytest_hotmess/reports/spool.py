"""The report spool: each finished test's report text, on disk as the run goes.

A test's plain record is laid out for the JSON report (``json_layout``) as soon as its report
reaches the controller and appended to an anonymous temporary file; the run keeps only where
each test's text starts and how long its segments are. At the end the report is assembled by
copying the texts in node-id order, so neither the document nor the tests' items are ever
held in memory, and an interrupted run still has every test that finished.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from .json_layout import Segments, join_test, record_segments, split_test

if TYPE_CHECKING:  # the records import numpy: not when the plugin loads
    from ..results.records import TestRecord

__all__ = ["Spool"]


@dataclasses.dataclass(frozen=True)
class _Entry:
    offset: int
    sizes: tuple[int, int, int]
    """Bytes of the three segments (before items, items, after items)."""


class Spool:
    """Tests' report texts in a temporary file, read back by node id."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, nodeid: object) -> bool:
        return nodeid in self._entries

    def add(self, nodeid: str, plain: Mapping[str, Any]) -> None:
        """Lay out a test's plain record and append it; a test added again replaces it."""
        self._append(nodeid, split_test(plain))

    def add_record(self, nodeid: str, record: TestRecord, *, samples: bool) -> None:
        """``add(nodeid, record.plain_at(...))``, laid out from the record itself (a record
        judged in this process: its items need no plain form on the way)."""
        self._append(nodeid, record_segments(record, samples))

    def _append(self, nodeid: str, segments: Segments) -> None:
        if self._file is None:
            # open for the run, closed by close(): no block to hold it in
            self._file = tempfile.TemporaryFile(prefix="hotmess-report-", suffix=".spool")  # noqa: SIM115
        parts = [segment.encode("utf-8") for segment in segments]
        self._file.seek(0, 2)
        offset = self._file.tell()
        for part in parts:
            self._file.write(part)
        sizes = (len(parts[0]), len(parts[1]), len(parts[2]))
        self._entries[nodeid] = _Entry(offset, sizes)

    def segments(self, nodeid: str) -> Segments:
        """The test's text segments as they were laid out."""
        assert self._file is not None
        entry = self._entries[nodeid]
        self._file.seek(entry.offset)
        parts = [self._file.read(size).decode("utf-8") for size in entry.sizes]
        return parts[0], parts[1], parts[2]

    def text(self, nodeid: str, outcome: str | None, *, with_items: bool) -> str:
        """The test as it stands in the report, with the outcome the run gave it."""
        return join_test(nodeid, outcome, self.segments(nodeid), with_items=with_items)

    def plain(self, nodeid: str, outcome: str | None = None) -> dict[str, Any]:
        """The test's plain record read back (for a baseline comparison)."""
        found: dict[str, Any] = json.loads(self.text(nodeid, outcome, with_items=True))
        return found

    def texts(self, order: Mapping[str, str | None], *, with_items: bool) -> Iterator[str]:
        """Every spooled test of ``order`` (node id to outcome), in that order."""
        for nodeid, outcome in order.items():
            if nodeid in self._entries:
                yield self.text(nodeid, outcome, with_items=with_items)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._entries.clear()
