"""Write a file so that readers see the old version or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_text", "write_atomic"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new, uniquely named file next to the target, created with mode 0o666.

    The operating system applies the umask (and any default ACL) at creation, exactly as for a
    plain ``open(path, "w")``. Reading the umask instead would mean setting it (``os.umask``),
    which changes it for every thread of the process for a moment.
    """
    for _ in range(100):
        temp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(temp, _FLAGS, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {name} in {folder}")  # pragma: no cover


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``.

    The file gets the permissions a plain ``open(path, "w")`` would give it (not the
    owner-only mode of a ``tempfile.mkstemp`` file), without touching the process umask.
    """
    with _replacing(path) as (fd, target), os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return target


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A UTF-8 text handle whose content replaces ``path`` only when the block ends cleanly.

    For a file written piece by piece (a report streamed from a spool): as ``write_atomic``,
    via a temporary file in the same folder, fsync and rename; on an error the temporary file
    is removed and ``path`` is left as it was.
    """
    with _replacing(path) as (fd, _), os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _replacing(path: str | os.PathLike[str]) -> Iterator[tuple[int, Path]]:
    """A temporary file's descriptor next to ``path``, renamed over it when the block ends
    cleanly and removed when it does not."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _create_temp(target.parent, target.name)
    try:
        yield fd, target
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
