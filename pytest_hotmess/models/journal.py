"""An append-only file of lines, flushed after every line: a worker's recording part.

Under pytest-xdist each worker appends every answer to its part file the moment it arrives, so
a worker that crashes or is interrupted loses nothing it had received; the controller merges
the parts at session end. A write that fails is kept in memory (``unwritten``) so the worker
can still hand it over when it finishes normally.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

__all__ = ["Journal"]


class Journal:
    """Lines appended to ``path`` (opened on the first line; ``header`` starts a new file)."""

    def __init__(self, path: str | os.PathLike[str], header: str) -> None:
        self.path = Path(path)
        self.header = header
        self.written = 0
        self.unwritten: list[str] = []
        self.error: str | None = None
        self._handle: IO[bytes] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Journal(path={str(self.path)!r}, written={self.written})"

    def _open(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab+")
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            handle.write(self.header.encode("utf-8") + b"\n")
        else:  # a part left by an earlier session: its answers are kept and merged too
            handle.seek(size - 1)
            last = handle.read(1)
            handle.seek(0, os.SEEK_END)
            if last != b"\n":  # that session died mid-line: start on a fresh line
                handle.write(b"\n")
        return handle

    def append(self, line: str) -> None:
        """Append one line and flush it to the OS; a failure keeps the line in ``unwritten``."""
        with self._lock:
            if self.error is not None:
                self.unwritten.append(line)
                return
            try:
                if self._handle is None:
                    self._handle = self._open()
                self._handle.write(line.encode("utf-8") + b"\n")
                self._handle.flush()
                self.written += 1
            except OSError as exc:
                self.error = f"{self.path}: {exc}"
                self.unwritten.append(line)

    def close(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError as exc:
                self.error = self.error or f"{self.path}: {exc}"
