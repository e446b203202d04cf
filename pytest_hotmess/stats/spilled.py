"""Rows of numbers kept in an anonymous temporary file: a run's items without their RAM.

A run of a million items kept about 50 bytes an item in memory until its end (``results.kept``)
and its pooled totals read them all at once. Rows appended here go to a file the OS deletes when
it is closed (or the process ends): memory holds a bounded buffer of recent rows, and readers
take back the ranges they need, a pass at a time. The file's pages sit in the OS cache, not in
the process's resident set.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any, Final, cast

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["SpilledRows"]

_BUFFER_ROWS: Final = 1 << 14
"""Rows held in memory before they are written out (under 1 MB at 52 bytes a row)."""


class SpilledRows:
    """Rows of one numpy record type, appended in memory and spilled to a temporary file."""

    def __init__(self, dtype: DTypeLike, *, buffer_rows: int = _BUFFER_ROWS) -> None:
        self.dtype = np.dtype(dtype)
        self._buffer_rows = buffer_rows
        self._pending: list[NDArray[Any]] = []
        self._pending_rows = 0
        self._written = 0
        self._file: IO[bytes] | None = None

    def __len__(self) -> int:
        return self._written + self._pending_rows

    def append(self, rows: NDArray[Any]) -> None:
        """Add ``rows`` (of this record type) after the others."""
        if rows.dtype != self.dtype:
            raise TypeError(f"rows of {rows.dtype} appended to rows of {self.dtype}")
        if not len(rows):
            return
        self._pending.append(rows)
        self._pending_rows += len(rows)
        if self._pending_rows >= self._buffer_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows to the file (made on first use)."""
        if not self._pending:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by ``close``)
        self._file.seek(self._written * self.dtype.itemsize)
        for rows in self._pending:
            self._file.write(rows.tobytes())
        self._file.flush()
        self._written += self._pending_rows
        self._pending, self._pending_rows = [], 0

    def read(self, start: int, stop: int, out: NDArray[Any] | None = None) -> NDArray[Any]:
        """Rows ``start`` to ``stop`` (past the end: clipped), as a new array or into ``out``
        (of their number of rows)."""
        start, stop = max(start, 0), min(stop, len(self))
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        self.flush()
        if out is None:
            out = np.empty(stop - start, dtype=self.dtype)
        elif out.dtype != self.dtype or out.shape != (stop - start,) or not out.flags.c_contiguous:
            raise ValueError(f"cannot read {stop - start} rows of {self.dtype} into {out.dtype}")
        assert self._file is not None
        self._file.seek(start * self.dtype.itemsize)
        view, done = memoryview(cast("Any", out)).cast("B"), 0
        while done < view.nbytes:
            got = self._file.readinto(view[done:])  # type: ignore[attr-defined]
            if not got:
                raise OSError(f"the spill file ended {view.nbytes - done} bytes early")
            done += got
        return out

    def mapped(self) -> NDArray[Any]:
        """Every row as a read-only memory map of the file (pages are read on use)."""
        self.flush()
        if self._file is None:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self._file, dtype=self.dtype, mode="r", shape=(self._written,))

    def close(self) -> None:
        """Drop the rows and delete the file."""
        if self._file is not None:
            self._file.close()
        self._file, self._pending, self._pending_rows, self._written = None, [], 0, 0
