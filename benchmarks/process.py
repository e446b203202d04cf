"""Whole ``python`` processes for the throughput benchmark: the plugin run against bare scripts.

Every process runs in the same virtual environment with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``:
pytest loads no third-party plugin from entry points (the ``test`` extra installs respx,
pytest-socket, pytest-asyncio, anyio and pytest-xdist, which would otherwise load in every
pytest process), and the pytest runs load pytest-hotmess alone with ``-p pytest_hotmess.plugin``.
The condition is printed with the table and stored in the JSON (``condition``).

Rows (interleaved per round, so drift on a shared machine hits them alike):

- ``pytest run, <transport>``: ``python -m pytest`` on a generated test (``hotmess.yaml`` +
  ``hotmess_model`` + ``resample.map``), once per transport (``defaults.transport``);
- ``bare aiohttp script``: the reference, ``asyncio.gather`` over ``aiohttp`` doing the same calls;
- ``bare httpx-aiohttp script``: the same loop through ``httpx.AsyncClient`` over httpx-aiohttp's
  transport, the stack the plugin uses, without the plugin (what the libraries cost);
- ``bare aiohttp script + required imports``: the reference preceded by the imports a plugin
  run cannot avoid (pytest, PyYAML, httpx, httpx-aiohttp, numpy, ``scipy.special``): a floor
  for any plugin built on these libraries;
- ``bare httpx-aiohttp script + required imports``: the same imports before the httpx-aiohttp
  loop: the floor for a plugin whose every request is an httpx request (what respx, vcrpy and
  pytest-socket see), whatever its own code does;
- ``pytest --collect-only``: pytest's start-up with and without the plugin.

Wall time is the child's start to exit; CPU time is the child's user + system time
(``getrusage``), which a busy machine inflates much less than the wall time.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, pytest_ini

__all__ = [
    "CONDITION",
    "ProcessRow",
    "Suite",
    "run_rows",
    "table",
    "write_suite",
]

CONDITION = (
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 in every process (no third-party pytest plugin from "
    "entry points); pytest runs load pytest-hotmess alone with -p pytest_hotmess.plugin; "
    "same virtual environment and bytecode caches for every row"
)

PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
PLUGIN = ["-p", "pytest_hotmess.plugin"]


@dataclasses.dataclass(frozen=True)
class Suite:
    """What the generated files do: N items x K samples at concurrency C against ``url``."""

    url: str
    items: int
    samples: int
    concurrency: int

    @property
    def calls(self) -> int:
        return self.items * self.samples


_TEST_FILE = """\
import pytest

PROMPTS = [f"question {{index}}" for index in range({items})]


def letter(text):
    text = text.strip()
    return text if text in "ABCD" else None


@pytest.mark.coherence(samples={samples})
def test_throughput(resample, hotmess_model):
    results = resample.map(hotmess_model, PROMPTS, targets=["A"] * {items}, extract=letter)
    assert [item.k for item in results] == [{samples}] * {items}
    assert sum(item.invalid for item in results) == 0
"""

_REQUIRED_IMPORTS = """\
# What a plugin run must import whatever its own code does (timed as part of the script).
import pytest  # noqa: F401
import yaml  # noqa: F401
import httpx  # noqa: F401
import httpx_aiohttp  # noqa: F401
import numpy  # noqa: F401
import scipy.special  # noqa: F401

"""

_BARE_AIOHTTP = """\
import asyncio

import aiohttp

URL = {url!r}


async def main():
    gate = asyncio.Semaphore({concurrency})
    connector = aiohttp.TCPConnector(limit={concurrency})
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index):
            body = {{"model": "bench", "messages": [{{"role": "user", "content": str(index)}}]}}
            async with gate, session.post(URL, json=body) as answer:
                data = await answer.json()
            return data["choices"][0]["message"]["content"]

        answers = await asyncio.gather(*(one(i % {items}) for i in range({calls})))
    assert len(answers) == {calls} and all(a in "ABCD" for a in answers)


asyncio.run(main())
"""

_BARE_HTTPX_AIOHTTP = """\
import asyncio

import httpx
from httpx_aiohttp import HttpxAiohttpClient

URL = {url!r}


async def main():
    gate = asyncio.Semaphore({concurrency})
    limits = httpx.Limits(max_connections={concurrency})
    async with HttpxAiohttpClient(limits=limits, timeout=60) as client:

        async def one(index):
            body = {{"model": "bench", "messages": [{{"role": "user", "content": str(index)}}]}}
            async with gate:
                answer = await client.post(URL, json=body)
            return answer.json()["choices"][0]["message"]["content"]

        answers = await asyncio.gather(*(one(i % {items}) for i in range({calls})))
    assert len(answers) == {calls} and all(a in "ABCD" for a in answers)


asyncio.run(main())
"""


def write_suite(folder: Path, suite: Suite, transport: str) -> None:
    """A rootdir with the test, its hotmess.yaml (which names the transport) and the scripts."""
    folder.mkdir(parents=True, exist_ok=True)
    # No third-party plugin is loaded, so no pytest-asyncio ini key (it would warn).
    (folder / "pytest.ini").write_text(pytest_ini(autoload=False))
    (folder / "hotmess.yaml").write_text(
        f"defaults: {{concurrency: {suite.concurrency}, model: bench, transport: {transport}}}\n"
        f"models:\n  bench: {{provider: openai, base_url: '{suite.url}', model: bench}}\n"
    )
    (folder / "test_throughput.py").write_text(
        _TEST_FILE.format(items=suite.items, samples=suite.samples)
    )
    fields = {
        "url": f"{suite.url}/chat/completions",
        "concurrency": suite.concurrency,
        "items": suite.items,
        "calls": suite.calls,
    }
    (folder / "bare_aiohttp.py").write_text(_BARE_AIOHTTP.format(**fields))
    (folder / "bare_httpx_aiohttp.py").write_text(_BARE_HTTPX_AIOHTTP.format(**fields))
    (folder / "floor_aiohttp.py").write_text(_REQUIRED_IMPORTS + _BARE_AIOHTTP.format(**fields))
    (folder / "floor_httpx_aiohttp.py").write_text(
        _REQUIRED_IMPORTS + _BARE_HTTPX_AIOHTTP.format(**fields)
    )


@dataclasses.dataclass(frozen=True)
class ProcessRow:
    """One kind of process: its label, the folder it runs in, its arguments, what it needs."""

    label: str
    folder: str
    args: tuple[str, ...]
    calls: bool = True
    """Whether it makes the N x K calls (start-up rows do not)."""
    reference: bool = False


def child_env() -> dict[str, str]:
    """The environment of a timed process: third-party plugins off, bytecode caches allowed.

    ``PYTHONDONTWRITEBYTECODE=1`` (set on some CI machines and images) would make Python, and
    pytest's assertion rewriting of plugin modules, compile an editable checkout's modules in
    every process; after ``pip install`` the caches exist already.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_process(folder: Path, args: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """``python ARGS`` in ``folder``: wall seconds (start to exit) and the child's CPU seconds."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {folder}:\n{done.stdout}{done.stderr}")
    return wall, cpu


def rows_for(transports: list[str], *, aiohttp: bool, httpx_aiohttp: bool) -> list[ProcessRow]:
    """The rows this environment can run (the aiohttp ones need the ``bench`` extra)."""
    rows = [
        ProcessRow(f"pytest run, {name} transport", name, (*PYTEST, *PLUGIN)) for name in transports
    ]
    base = transports[-1]
    if aiohttp:
        rows.append(
            ProcessRow(
                "bare aiohttp script (reference)", base, ("bare_aiohttp.py",), reference=True
            )
        )
    if httpx_aiohttp:
        rows.append(ProcessRow("bare httpx-aiohttp script", base, ("bare_httpx_aiohttp.py",)))
        rows.append(
            ProcessRow("bare aiohttp script + required imports", base, ("floor_aiohttp.py",))
        )
        rows.append(
            ProcessRow(
                "bare httpx-aiohttp script + required imports", base, ("floor_httpx_aiohttp.py",)
            )
        )
    rows += [
        ProcessRow(
            "pytest --collect-only (start-up)", base, (*PYTEST, *PLUGIN, "--collect-only"), False
        ),
        ProcessRow(
            "pytest --collect-only -p no:hotmess",
            base,
            (*PYTEST, "-p", "no:hotmess", "--collect-only"),
            False,
        ),
    ]
    return rows


def run_rows(
    rows: list[ProcessRow], workdir: Path, runs: int, ideal_s: float
) -> list[dict[str, Any]]:
    """One untimed round (writes bytecode caches), then ``runs`` interleaved timed rounds."""
    env = child_env()
    walls: dict[str, list[float]] = {row.label: [] for row in rows}
    cpus: dict[str, list[float]] = {row.label: [] for row in rows}
    for row in rows:
        timed_process(workdir / row.folder, row.args, env)
    for _ in range(max(1, runs)):
        for row in rows:
            wall, cpu = timed_process(workdir / row.folder, row.args, env)
            walls[row.label].append(wall)
            cpus[row.label].append(cpu)
    out: list[dict[str, Any]] = []
    for row in rows:
        out.append(
            {
                "variant": row.label,
                "command": " ".join(["python", *row.args]),
                "wall_s": round(min(walls[row.label]), 4),
                "median_s": round(statistics.median(walls[row.label]), 4),
                "cpu_s": round(min(cpus[row.label]), 4),
                "median_cpu_s": round(statistics.median(cpus[row.label]), 4),
                "walls_s": [round(w, 4) for w in walls[row.label]],
                "cpus_s": [round(c, 4) for c in cpus[row.label]],
                "ideal_s": ideal_s if row.calls else None,
            }
        )
    reference = next((entry for entry, row in zip(out, rows, strict=True) if row.reference), None)
    for entry in out:
        if reference is not None and entry["ideal_s"] is not None:
            entry["vs_bare_aiohttp"] = round(entry["median_s"] / reference["median_s"], 3)
            entry["best_vs_bare_aiohttp"] = round(entry["wall_s"] / reference["wall_s"], 3)
            entry["cpu_vs_bare_aiohttp"] = round(
                entry["median_cpu_s"] / reference["median_cpu_s"], 3
            )
    return out


def table(measured: list[dict[str, Any]], condition: str) -> str:
    """The whole-process table, headed by the condition it was measured under."""
    rows = []
    for row in measured:
        ratio = ""
        if "vs_bare_aiohttp" in row:
            ratio = f"{row['vs_bare_aiohttp']:.2f}x ({row['best_vs_bare_aiohttp']:.2f}x)"
        cpu_ratio = f"{row['cpu_vs_bare_aiohttp']:.2f}x" if "cpu_vs_bare_aiohttp" in row else ""
        rows.append(
            [
                row["variant"],
                f"{row['wall_s']:.3f}",
                f"{row['median_s']:.3f}",
                ratio,
                f"{row['median_cpu_s']:.3f}",
                cpu_ratio,
                ", ".join(f"{w:.2f}" for w in row["walls_s"]),
            ]
        )
    body = markdown_table(
        [
            "whole process",
            "wall s (best)",
            "median",
            "median / bare aiohttp (best / best)",
            "CPU s (median)",
            "CPU / bare aiohttp",
            "runs",
        ],
        rows,
    )
    head = f"Whole processes ({len(measured[0]['walls_s'])} interleaved runs each): {condition}."
    return f"{head}\n\n{body}"
