"""Benchmark 3: the statistics' cost as suites grow (1,000 / 10,000 / 100,000 items x 30).

Three paths, each for categorical (4 answers, Brier) and numeric (squared error) items:

- ``vectorised``: ``categorical_terms`` / ``numeric_terms`` on arrays, then the delta-method
  interval of the ratio of sums (``ratio_delta_interval``);
- ``per-item``: ``estimate_item`` on each item's K outcomes, then ``aggregate`` (what the plugin
  does for every item a test samples);
- ``record``: ``resample.record`` for every item, then ``resample.result`` (the fixture's path,
  including its bookkeeping). Off above ``record_max_items`` by default.

Time is measured without tracing; peak memory in a second run under ``tracemalloc`` (inputs
are built before tracing starts, so only what the path allocates is counted). ``exponent`` is
the slope of log(time) (or log(memory)) against log(items) from the previous size: 1.0 is
linear growth; fixed costs make it lower at small sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import close_state, markdown_table
from pytest_hotmess.sampling.resampler import Resampler, TestState
from pytest_hotmess.stats.aggregate import aggregate, ratio_delta_interval
from pytest_hotmess.stats.decompose import categorical_terms, estimate_item, numeric_terms

__all__ = ["ScalingConfig", "main", "run", "table"]

LABELS = ("A", "B", "C", "D")
PROBABILITIES = (0.55, 0.25, 0.15, 0.05)


@dataclasses.dataclass(frozen=True)
class ScalingConfig:
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    samples: int = 30
    per_item_max_items: int = 100_000
    record_max_items: int = 10_000
    seed: int = 0


def _categorical_inputs(n: int, k: int, seed: int) -> tuple[list[list[str]], Any, Any]:
    rng = np.random.default_rng(seed)
    codes = rng.choice(len(LABELS), size=(n, k), p=PROBABILITIES)
    outcomes = [[LABELS[c] for c in row] for row in codes.tolist()]
    counts = np.stack([np.bincount(row, minlength=len(LABELS)) for row in codes])
    return outcomes, counts, np.zeros(n, dtype=np.int64)


def _numeric_inputs(n: int, k: int, seed: int) -> tuple[list[list[float]], Any, Any]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.5, 1.0, size=(n, 1))
    samples = centres + rng.normal(0.0, 1.0, size=(n, k))
    return samples.tolist(), samples, np.zeros(n)


def _vectorised(kind: str, arrays: Any, targets: Any) -> Callable[[], float | None]:
    def once() -> float | None:
        if kind == "categorical":
            error, _bias, variance = categorical_terms(arrays, targets)
        else:
            error, _bias, variance = numeric_terms(arrays, targets)
        bounds = ratio_delta_interval(variance, error, np.ones(error.shape[0]), 0.95)
        return None if bounds is None else bounds[1]

    return once


def _per_item(outcomes: list[list[Any]], target: Any) -> Callable[[], float | None]:
    def once() -> float | None:
        estimates = [
            estimate_item(row, target, item_id=f"item-{index}")
            for index, row in enumerate(outcomes)
        ]
        return aggregate(estimates).incoherence

    return once


def _record(outcomes: list[list[Any]], target: Any, k: int) -> Callable[[], float | None]:
    def once() -> float | None:
        state = TestState(nodeid="bench::scaling", samples=k, concurrency=1)
        resample = Resampler(state)
        try:
            for index, row in enumerate(outcomes):
                resample.record(row, item=f"item-{index}", target=target)
            return resample.result.incoherence
        finally:
            close_state(state)

    return once


def _measure(fn: Callable[[], float | None]) -> dict[str, Any]:
    gc.collect()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"seconds": round(seconds, 5), "peak_mib": round(peak / 2**20, 3), "value": value}


def _exponent(previous: dict[str, Any] | None, row: dict[str, Any], key: str) -> float | None:
    if previous is None or previous["path"] != row["path"] or previous["kind"] != row["kind"]:
        return None
    if previous[key] <= 0 or row[key] <= 0:
        return None
    return round(math.log(row[key] / previous[key]) / math.log(row["items"] / previous["items"]), 3)


def _warm_up(samples: int, seed: int) -> None:
    """Run every path once on a few items: one-time costs (scipy.special is imported on the
    first interval) must not be charged to the first size measured."""
    outcomes, arrays, targets = _categorical_inputs(20, samples, seed)
    for fn in (
        _vectorised("categorical", arrays, targets),
        _per_item(outcomes, "A"),
        _record(outcomes, "A", samples),
    ):
        fn()


def run(config: ScalingConfig) -> dict[str, Any]:
    _warm_up(config.samples, config.seed)
    rows: list[dict[str, Any]] = []
    for kind in ("categorical", "numeric"):
        paths: list[tuple[str, int]] = [
            ("vectorised", max(config.sizes)),
            ("per-item", config.per_item_max_items),
            ("record", config.record_max_items),
        ]
        for path, limit in paths:
            previous: dict[str, Any] | None = None
            for n in config.sizes:
                if n > limit:
                    continue
                outcomes: list[list[Any]]
                if kind == "categorical":
                    outcomes, arrays, targets = _categorical_inputs(n, config.samples, config.seed)
                    target: Any = "A"
                else:
                    outcomes, arrays, targets = _numeric_inputs(n, config.samples, config.seed)
                    target = 0.0
                if path == "vectorised":
                    fn = _vectorised(kind, arrays, targets)
                elif path == "per-item":
                    fn = _per_item(outcomes, target)
                else:
                    fn = _record(outcomes, target, config.samples)
                row = {"kind": kind, "path": path, "items": n, **_measure(fn)}
                row["us_per_item"] = round(1e6 * row["seconds"] / n, 3)
                row["time_exponent"] = _exponent(previous, row, "seconds")
                row["memory_exponent"] = _exponent(previous, row, "peak_mib")
                rows.append(row)
                previous = row
                del outcomes, arrays, targets, fn
    return {"config": dataclasses.asdict(config), "rows": rows}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(result: dict[str, Any]) -> str:
    config = result["config"]
    head = (
        f"### Scaling: items x {config['samples']} samples; time without tracing, peak memory "
        "under tracemalloc; exponent 1.0 = linear growth from the previous size\n"
    )
    rows = [
        [
            row["kind"],
            row["path"],
            f"{row['items']:,}",
            f"{row['seconds'] * 1000:.1f}",
            f"{row['us_per_item']:.2f}",
            f"{row['peak_mib']:.2f}",
            _fmt(row["time_exponent"]),
            _fmt(row["memory_exponent"]),
        ]
        for row in result["rows"]
    ]
    body = markdown_table(
        ["kind", "path", "items", "ms", "us/item", "peak MiB", "time exp.", "memory exp."], rows
    )
    return f"{head}\n{body}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--record-max-items", type=int, default=ScalingConfig.record_max_items)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = run(ScalingConfig(sizes=sizes, record_max_items=args.record_max_items))
    print(table(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
