"""Benchmark 2: what the sampler costs on top of a fast model.

A model that takes 1 ms per call, N x K = 2,000 samples, concurrency 16: the limit is
2,000 x 1 ms / 16 = 125 ms, and the target is at most 1.5x that. Measured for a sync callable
(``time.sleep``, run in the sampler's thread pool) and an async one (``asyncio.sleep``, run on
one event loop), both through ``resample.map`` with a target and an ``extract`` function, so
every per-sample step of a real run (context variables, extraction, estimates) is included.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import BenchmarkCLI, close_state, config_record, time_call, titled_table
from pytest_hotmess.sampling.resampler import Resampler, TestState

__all__ = ["OverheadConfig", "main", "run", "table"]


@dataclasses.dataclass(frozen=True)
class OverheadConfig:
    items: int = 200
    samples: int = 10
    concurrency: int = 16
    call_s: float = 0.001
    repeats: int = 5

    @property
    def calls(self) -> int:
        return self.items * self.samples

    @property
    def ideal_s(self) -> float:
        return self.calls * self.call_s / self.concurrency


def _answer(prompt: int) -> str:
    return "ABCD"[prompt % 4]


def _models(call_s: float) -> dict[str, Callable[[int], Any]]:
    def sync_model(prompt: int) -> str:
        time.sleep(call_s)
        return _answer(prompt)

    async def async_model(prompt: int) -> str:
        await asyncio.sleep(call_s)
        return _answer(prompt)

    return {"sync (threads)": sync_model, "async (event loop)": async_model}


def _sleep_cost(call_s: float, calls: int = 200) -> dict[str, float]:
    """How long a requested 1 ms sleep really lasts here: the ideal assumes exactly 1 ms."""
    start = time.perf_counter()
    for _ in range(calls):
        time.sleep(call_s)
    sync_s = (time.perf_counter() - start) / calls

    async def sleeps() -> float:
        begin = time.perf_counter()
        for _ in range(calls):
            await asyncio.sleep(call_s)
        return (time.perf_counter() - begin) / calls

    return {
        "sync_sleep_ms": round(1000 * sync_s, 4),
        "async_sleep_ms": round(1000 * asyncio.run(sleeps()), 4),
    }


def run(config: OverheadConfig) -> dict[str, Any]:
    rows = []
    inputs = list(range(config.items))
    targets = ["A"] * config.items
    for label, model in _models(config.call_s).items():

        def once(model: Callable[[int], Any] = model) -> int:
            state = TestState(
                nodeid="bench::overhead", samples=config.samples, concurrency=config.concurrency
            )
            try:
                results = Resampler(state).map(model, inputs, targets=targets, extract=str.strip)
            finally:
                close_state(state)
            assert [item.k for item in results] == [config.samples] * config.items
            return sum(item.k for item in results)

        timing, drawn = time_call(once, config.repeats)
        rows.append(
            {
                "model": label,
                "calls": drawn[0],
                **timing.to_dict(),
                "ideal_s": config.ideal_s,
                "ratio_to_ideal": round(timing.best / config.ideal_s, 3),
                "overhead_us_per_call": round(
                    1e6 * (timing.best - config.ideal_s) * config.concurrency / drawn[0], 1
                ),
            }
        )
    return {
        "config": config_record(config),
        "sleep": _sleep_cost(config.call_s),
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    config = result["config"]
    sleep = result["sleep"]
    head = (
        f"### Overhead: {config['calls']} samples of a {config['call_s'] * 1000:g} ms model at "
        f"concurrency {config['concurrency']}: ideal {config['ideal_s'] * 1000:.0f} ms "
        f"(target <= 1.5x)\n\n"
        f"A requested 1 ms sleep lasts {sleep['sync_sleep_ms']:.3f} ms (time.sleep) and "
        f"{sleep['async_sleep_ms']:.3f} ms (asyncio.sleep) on this machine.\n"
    )
    rows = [
        [
            row["model"],
            f"{row['wall_s'] * 1000:.0f}",
            f"{row['ratio_to_ideal']:.2f}x",
            f"{row['overhead_us_per_call']:.0f}",
            f"{row['cpu_s'] * 1000:.0f}",
        ]
        for row in result["rows"]
    ]
    return titled_table(
        head,
        ["model", "wall ms (best)", "vs ideal", "extra us per call per worker", "CPU ms"],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    cli = BenchmarkCLI(__doc__)
    cli.parser.add_argument("--items", type=int, default=OverheadConfig.items)
    cli.parser.add_argument("--repeats", type=int, default=OverheadConfig.repeats)
    return cli.run(
        argv, lambda args: run(OverheadConfig(items=args.items, repeats=args.repeats)), table
    )


if __name__ == "__main__":
    sys.exit(main())
