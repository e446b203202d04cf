"""What every benchmark shares: timing, the machine's description, markdown tables."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "ROOT",
    "BenchmarkCLI",
    "Timing",
    "close_state",
    "config_record",
    "in_scratch_dir",
    "machine",
    "markdown_table",
    "pytest_ini",
    "run_python",
    "swapped",
    "time_call",
    "titled_table",
]

ROOT = Path(__file__).resolve().parent.parent
"""The checkout (benchmarks/ lives at its top)."""

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall and CPU seconds of each repeat; ``best`` is the fastest (least disturbed) one.

    The machine is shared (2 cores, other processes come and go), so the minimum over repeats
    is the figure least inflated by others' work; every repeat is kept in the JSON.
    """

    walls: tuple[float, ...]
    cpus: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def best_cpu(self) -> float:
        return self.cpus[self.walls.index(self.best)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.best, 4),
            "cpu_s": round(self.best_cpu, 4),
            "walls_s": [round(w, 4) for w in self.walls],
            "cpus_s": [round(c, 4) for c in self.cpus],
        }


def time_call(fn: Callable[[], T], repeats: int) -> tuple[Timing, list[T]]:
    """Run ``fn`` ``repeats`` times; wall clock and this process's CPU time of each run."""
    walls: list[float] = []
    cpus: list[float] = []
    results: list[T] = []
    for _ in range(max(1, repeats)):
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        results.append(fn())
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return Timing(tuple(walls), tuple(cpus)), results


def close_state(state: object) -> None:
    """Release what a test's sampling state holds (its event loop, thread pool, clients).

    The plugin does this when a test ends; a benchmark that drives the fixture object itself
    must too, or the loop's connections stay open.
    """
    close = getattr(state, "close", None)
    if callable(close):
        close()


def config_record(config: Any) -> dict[str, Any]:
    """A benchmark's settings for its JSON: the dataclass fields, then the work and its limit."""
    return {**dataclasses.asdict(config), "calls": config.calls, "ideal_s": config.ideal_s}


def pytest_ini(*, autoload: bool = True) -> str:
    """The ini of a generated suite: its own rootdir, quiet about pytest-asyncio's default.

    ``autoload=False``: the suite runs with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, so
    pytest-asyncio is not loaded and its ini key would only draw an "unknown option" warning.
    """
    lines = ["[pytest]"]
    if autoload and importlib.util.find_spec("pytest_asyncio") is not None:
        lines.append("asyncio_default_fixture_loop_scope = function")
    return "\n".join(lines) + "\n"


def run_python(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """``python ARGS`` in a child process: its wall time (start to exit) and its result."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, done


@contextmanager
def swapped(owner: object, name: str, value: object) -> Iterator[None]:
    """Set ``owner.name`` for the duration of a block (the benchmarks' variant switches)."""
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare figures: cores, CPU, Python, library versions."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in load],
        "packages": {
            name: _version(name)
            for name in ("pytest", "httpx", "httpcore", "aiohttp", "numpy", "scipy", "sniffio")
        },
    }


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers are printed as given (format them before)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join([line, rule, *body])


def titled_table(head: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A benchmark's section: its heading text, a blank line, then its markdown table."""
    return f"{head}\n{markdown_table(headers, rows)}\n"


def in_scratch_dir(run: Callable[[Path], T]) -> T:
    """``run(folder)`` with a temporary folder for generated suites, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="hotmess-bench-") as folder:
        return run(Path(folder))


class BenchmarkCLI:
    """One benchmark's command line: its own options on ``parser``, then ``--out`` for the JSON."""

    def __init__(self, doc: str | None) -> None:
        self.parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])

    def run(
        self,
        argv: Sequence[str] | None,
        measure: Callable[[argparse.Namespace], dict[str, Any]],
        table: Callable[[dict[str, Any]], str],
    ) -> int:
        """Parse ``argv``, measure, print the table and write the result to ``--out`` if given.

        ``--out`` is added here, after the benchmark's own options, so every benchmark has it.
        """
        self.parser.add_argument("--out", type=Path, default=None)
        args = self.parser.parse_args(argv)
        result = measure(args)
        print(table(result))
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        return 0
