"""Benchmark 1: sampling through the OpenAI client against a server with a fixed latency.

N items x K samples go through ``resample.map`` and :class:`OpenAIChatModel` at concurrency C
against ``benchmarks._server`` (a separate process, so it does not take the client's CPU). The
limit is ``N * K * latency / C`` (1.0 s for 100 x 10 at 50 ms and C = 50): nothing can be
faster, and a client that needs more CPU per call than ``latency / C`` cannot reach it.

Measured:

- inside the process, one row per async transport (``http_transport``: httpx's own, in split
  pools, or aiohttp's through httpx-aiohttp) and pool layout, plus loops without the plugin for
  scale: bare aiohttp (the reference), a bare ``httpx.AsyncClient`` over httpx-aiohttp (what
  the plugin's libraries cost without the plugin) and a bare ``httpx.AsyncClient``;
- sequential calling (one sync call after another; a sample of calls, extrapolated);
- whole processes (:mod:`benchmarks.process`): ``python -m pytest`` on a generated test file
  (``hotmess.yaml`` + ``hotmess_model`` + ``resample.map``) once per transport
  (``defaults.transport``), the bare aiohttp script doing the same calls (the reference), the
  same loop over httpx-aiohttp, the reference preceded by the imports a plugin run needs, and
  pytest's start-up alone; all with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` (pytest runs load
  pytest-hotmess alone) and bytecode caches in place (as after ``pip install``, which compiles
  them; one untimed run writes them for an editable checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks import process
from benchmarks._common import (
    BenchmarkCLI,
    close_state,
    config_record,
    in_scratch_dir,
    markdown_table,
    swapped,
    time_call,
)
from benchmarks._server import LatencyServer
from pytest_hotmess.models import http as _http
from pytest_hotmess.models.openai import OpenAIChatModel
from pytest_hotmess.sampling.resampler import Resampler, TestState

__all__ = ["ThroughputConfig", "main", "run", "table"]

LETTERS = frozenset("ABCD")


@dataclasses.dataclass(frozen=True)
class ThroughputConfig:
    items: int = 100
    samples: int = 10
    concurrency: int = 50
    latency_s: float = 0.05
    repeats: int = 3
    sequential_calls: int = 40
    pytest_runs: int = 7
    slow: bool = True
    """Also run the layouts that take 5-10 s (one httpx pool, a bare httpx loop)."""

    @property
    def calls(self) -> int:
        return self.items * self.samples

    @property
    def ideal_s(self) -> float:
        return self.calls * self.latency_s / self.concurrency


def _extract_letter(text: str) -> str | None:
    letter = text.strip()
    return letter if letter in LETTERS else None


def _prompts(config: ThroughputConfig) -> list[str]:
    return [f"question {index}" for index in range(config.items)]


def _check(results: list[Any], config: ThroughputConfig) -> int:
    """Every item got K valid answers: nothing was lost or mangled on the way."""
    assert len(results) == config.items, f"{len(results)} items of {config.items}"
    for item in results:
        assert item.k == config.samples and item.invalid == 0, (item.id, item.k, item.invalid)
    return config.calls


def _resample_map(
    url: str, config: ThroughputConfig, *, threads: bool = False, **model_kwargs: Any
) -> Callable[[], int]:
    def once() -> int:
        model = OpenAIChatModel(model="bench", base_url=url, **model_kwargs)
        fn: Callable[..., Any] = model
        if threads:
            # a plain function: the resampler runs it in its thread pool (sync httpx clients)
            def fn(prompt: str) -> Any:
                return model(prompt)

        state = TestState(
            nodeid="bench::throughput", samples=config.samples, concurrency=config.concurrency
        )
        try:
            results = Resampler(state).map(
                fn, _prompts(config), targets=["A"] * config.items, extract=_extract_letter
            )
        finally:
            close_state(state)  # the test's loop and thread pool, as the plugin does at its end
            model.close()
        return _check(results, config)

    return once


def _bare_aiohttp(url: str, config: ThroughputConfig) -> Callable[[], int]:
    async def loop() -> int:
        import aiohttp

        gate = asyncio.Semaphore(config.concurrency)
        connector = aiohttp.TCPConnector(limit=config.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(index: int) -> str:
                body = {"model": "bench", "messages": [{"role": "user", "content": str(index)}]}
                async with gate, session.post(f"{url}/chat/completions", json=body) as answer:
                    data = await answer.json()
                return str(data["choices"][0]["message"]["content"])

            answers = await asyncio.gather(*(one(i % config.items) for i in range(config.calls)))
        assert all(a in LETTERS for a in answers)
        return len(answers)

    return lambda: asyncio.run(loop())


def _bare_httpx(url: str, config: ThroughputConfig, *, aiohttp: bool = False) -> Callable[[], int]:
    async def loop() -> int:
        gate = asyncio.Semaphore(config.concurrency)
        limits = httpx.Limits(max_connections=config.concurrency)
        client_class = httpx.AsyncClient
        if aiohttp:
            from httpx_aiohttp import HttpxAiohttpClient

            client_class = HttpxAiohttpClient
        async with client_class(limits=limits, timeout=60) as client:

            async def one(index: int) -> str:
                body = {"model": "bench", "messages": [{"role": "user", "content": str(index)}]}
                async with gate:
                    answer = await client.post(f"{url}/chat/completions", json=body)
                return str(answer.json()["choices"][0]["message"]["content"])

            answers = await asyncio.gather(*(one(i % config.items) for i in range(config.calls)))
        assert all(a in LETTERS for a in answers)
        return len(answers)

    return lambda: asyncio.run(loop())


@dataclasses.dataclass(frozen=True)
class _Variant:
    name: str
    what: str
    make: Callable[[str, ThroughputConfig], Callable[[], int]]
    per_pool: int = _http.CONNECTIONS_PER_POOL
    slow: bool = False
    needs: str | None = None
    """A package the row needs (skipped when it is not installed)."""


def _variants() -> list[_Variant]:
    return [
        _Variant(
            "aiohttp-transport",
            "resample.map, httpx.AsyncClient over httpx-aiohttp's AiohttpTransport",
            lambda url, config: _resample_map(url, config, http_transport="aiohttp"),
            needs="httpx_aiohttp",
        ),
        _Variant(
            "httpx-split-pools",
            f"resample.map, httpx's transport in pools of {_http.CONNECTIONS_PER_POOL}",
            lambda url, config: _resample_map(url, config, http_transport="httpx"),
        ),
        _Variant(
            "threads-sync-httpx",
            "resample.map, sync calls in the thread pool, httpx.Client pools",
            lambda url, config: _resample_map(url, config, threads=True),
        ),
        _Variant(
            "httpx-one-pool",
            "resample.map, httpx's transport in one pool of 64 connections",
            lambda url, config: _resample_map(url, config, http_transport="httpx"),
            per_pool=64,
            slow=True,
        ),
        _Variant(
            "bare-aiohttp-loop",
            "no plugin: asyncio.gather over aiohttp (the reference)",
            _bare_aiohttp,
            needs="aiohttp",
        ),
        _Variant(
            "bare-httpx-aiohttp-loop",
            "no plugin: asyncio.gather over httpx.AsyncClient on httpx-aiohttp (the libraries)",
            lambda url, config: _bare_httpx(url, config, aiohttp=True),
            needs="httpx_aiohttp",
        ),
        _Variant(
            "bare-httpx-loop",
            "no plugin: asyncio.gather over httpx.AsyncClient, 50 connections",
            _bare_httpx,
            slow=True,
        ),
    ]


def _in_process(url: str, config: ThroughputConfig) -> list[dict[str, Any]]:
    rows = []
    for variant in _variants():
        if variant.slow and not config.slow:
            continue
        if variant.needs is not None and importlib.util.find_spec(variant.needs) is None:
            continue
        once = variant.make(url, config)
        with swapped(_http, "CONNECTIONS_PER_POOL", variant.per_pool):
            timing, served = time_call(once, 1 if variant.slow else config.repeats)
        rows.append(
            {
                "variant": variant.name,
                "what": variant.what,
                "calls": served[0],
                **timing.to_dict(),
                "first_wall_s": round(timing.walls[0], 4),
                "ideal_s": config.ideal_s,
                "efficiency": round(config.ideal_s / timing.best, 4),
                "cpu_ms_per_call": round(1000 * timing.best_cpu / served[0], 4),
            }
        )
    return rows


def _sequential(url: str, config: ThroughputConfig) -> dict[str, Any]:
    """Sync calls one after another; the per-call time scaled to all N x K calls."""
    model = OpenAIChatModel(model="bench", base_url=url)
    try:
        model("warm-up")
        start = time.perf_counter()
        for index in range(config.sequential_calls):
            assert _extract_letter(model(f"question {index}").text) is not None
        per_call = (time.perf_counter() - start) / config.sequential_calls
    finally:
        model.close()
    return {
        "calls_measured": config.sequential_calls,
        "per_call_s": round(per_call, 5),
        "extrapolated_s": round(per_call * config.calls, 3),
    }


def _pytest_process(url: str, config: ThroughputConfig, workdir: Path) -> list[dict[str, Any]]:
    """Whole processes (see :mod:`benchmarks.process`): pytest on each transport, the bare
    scripts, pytest's start-up; every one without third-party pytest plugins."""
    suite = process.Suite(url, config.items, config.samples, config.concurrency)
    transports = (["aiohttp"] if _installed("httpx_aiohttp") else []) + ["httpx"]
    for transport in transports:
        process.write_suite(workdir / transport, suite, transport)
    rows = process.rows_for(
        transports, aiohttp=_installed("aiohttp"), httpx_aiohttp=_installed("httpx_aiohttp")
    )
    return process.run_rows(rows, workdir, config.pytest_runs, config.ideal_s)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def run(config: ThroughputConfig, workdir: Path) -> dict[str, Any]:
    with LatencyServer(config.latency_s) as server:
        url = server.base_url
        in_process = _in_process(url, config)
        sequential = _sequential(url, config)
        try:
            whole: list[dict[str, Any]] | dict[str, str] = _pytest_process(url, config, workdir)
        except RuntimeError as exc:  # keep the in-process figures when a pytest run breaks
            whole = {"error": str(exc)}
    return {
        "config": config_record(config),
        "in_process": in_process,
        "sequential": sequential,
        "pytest_process": whole,
        "pytest_process_condition": process.CONDITION,
    }


def table(result: dict[str, Any]) -> str:
    config = result["config"]
    sequential = result["sequential"]
    head = (
        f"### Throughput: {config['items']} items x {config['samples']} samples = "
        f"{config['calls']} calls, {config['latency_s'] * 1000:g} ms latency, concurrency "
        f"{config['concurrency']}: ideal {config['ideal_s']:.3f} s\n\n"
        f"Sequential calling: {sequential['per_call_s'] * 1000:.1f} ms per call "
        f"({sequential['calls_measured']} calls measured), "
        f"{sequential['extrapolated_s']:.1f} s for all {config['calls']} calls.\n"
    )
    rows = [
        [
            row["variant"],
            f"{row['wall_s']:.3f}",
            f"{row['first_wall_s']:.3f}",
            f"{row['efficiency']:.0%}",
            f"{row['cpu_ms_per_call']:.2f}",
            f"{sequential['extrapolated_s'] / row['wall_s']:.0f}x",
            row["what"],
        ]
        for row in result["in_process"]
    ]
    inside = markdown_table(
        [
            "layout",
            "wall s (best)",
            "first run s",
            "of ideal",
            "CPU ms/call",
            "vs sequential",
            "what",
        ],
        rows,
    )
    measured = result["pytest_process"]
    if isinstance(measured, dict):
        whole = f"whole-process runs FAILED: {measured['error']}"
    else:
        whole = process.table(measured, result["pytest_process_condition"])
    return f"{head}\n{inside}\n\n{whole}\n"


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    config = ThroughputConfig(
        items=args.items,
        samples=args.samples,
        repeats=args.repeats,
        pytest_runs=args.pytest_runs,
        slow=not args.no_slow,
    )
    return in_scratch_dir(lambda folder: run(config, folder))


def main(argv: list[str] | None = None) -> int:
    cli = BenchmarkCLI(__doc__)
    cli.parser.add_argument("--items", type=int, default=ThroughputConfig.items)
    cli.parser.add_argument("--samples", type=int, default=ThroughputConfig.samples)
    cli.parser.add_argument("--repeats", type=int, default=ThroughputConfig.repeats)
    cli.parser.add_argument(
        "--pytest-runs",
        type=int,
        default=ThroughputConfig.pytest_runs,
        help="interleaved timed runs of each whole process",
    )
    cli.parser.add_argument("--no-slow", action="store_true", help="skip the 5-10 s layouts")
    return cli.run(argv, _measure, table)


if __name__ == "__main__":
    sys.exit(main())
