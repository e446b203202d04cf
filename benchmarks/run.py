"""Run every benchmark, print markdown tables, write ``benchmarks/out/results.json``.

``python -m benchmarks`` (what ``make bench`` runs) takes about five minutes on a 2-core
machine; ``--quick`` shrinks every size for a smoke run of a few seconds (its figures mean
nothing). ``--only throughput,overhead`` picks benchmarks; ``--skip-sequential`` leaves out the
group-sequential simulation (``benchmarks/sequential.py``), ``--sequential-suites`` sizes it.

The machine is described in the JSON (cores, CPU, Python, library versions, load average):
figures from a busy machine are slower, so look at ``load_average_at_start`` before quoting.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import overhead, plugin_cost, scale, scaling, throughput
from benchmarks._common import ROOT, machine, run_python

__all__ = ["BENCHMARKS", "main"]

SCHEMA = "pytest-hotmess-bench/1"
DEFAULT_OUT = ROOT / "benchmarks" / "out" / "results.json"
BENCHMARKS = ("throughput", "overhead", "scaling", "plugin_cost", "scale", "sequential")


def _sequential(suites: int, workdir: Path) -> dict[str, Any]:
    """``benchmarks/sequential.py`` in its own process: its JSON and its printed tables."""
    out = workdir / "sequential.json"
    args = ["-m", "benchmarks.sequential", "--out", str(out)]
    if suites > 0:
        args += ["--suites", str(suites)]
    wall, done = run_python(args, cwd=ROOT, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/sequential.py failed:\n{done.stdout}{done.stderr}")
    return {
        "wall_s": round(wall, 2),
        "tables": done.stdout,
        "results": json.loads(out.read_text()),
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument(
        "--sequential-suites", type=int, default=0, help="suites per truth (0: its default)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def _plan(args: argparse.Namespace, workdir: Path) -> dict[str, Callable[[], dict[str, Any]]]:
    quick = args.quick
    tp = throughput.ThroughputConfig(
        items=10 if quick else 100,
        samples=4 if quick else 10,
        concurrency=8 if quick else 50,
        latency_s=0.01 if quick else 0.05,
        repeats=1 if quick else 3,
        sequential_calls=3 if quick else 40,
        pytest_runs=1 if quick else 7,
        slow=not quick,
    )
    oh = overhead.OverheadConfig(items=20 if quick else 200, repeats=1 if quick else 5)
    sc = scaling.ScalingConfig(
        sizes=(50, 100) if quick else (1_000, 10_000, 100_000),
        record_max_items=100 if quick else 10_000,
    )
    pc = plugin_cost.PluginCostConfig(tests=10 if quick else 1000, repeats=1 if quick else 3)
    big = scale.ScaleConfig(
        tests=20 if quick else 2000,
        items=5 if quick else 50,
        series=((5, 5), (10, 5)) if quick else scale.ScaleConfig.series,
    )
    suites = 4 if quick else args.sequential_suites
    return {
        "throughput": lambda: throughput.run(tp, workdir),
        "overhead": lambda: overhead.run(oh),
        "scaling": lambda: scaling.run(sc),
        "plugin_cost": lambda: plugin_cost.run(pc, workdir),
        "scale": lambda: scale.run(big, workdir),
        "sequential": lambda: _sequential(suites, workdir),
    }


def _table(name: str, result: dict[str, Any]) -> str:
    if name == "sequential":
        return f"### Sequential sampling (benchmarks/sequential.py)\n\n{result['tables']}"
    module = {
        "throughput": throughput,
        "overhead": overhead,
        "scaling": scaling,
        "plugin_cost": plugin_cost,
        "scale": scale,
    }[name]
    text: str = module.table(result)
    return text


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    if args.skip_sequential and "sequential" in wanted:
        wanted.remove("sequential")
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "benchmarks": {},
    }
    info = report["machine"]
    print(
        f"## pytest-hotmess benchmarks\n\nMachine: {info['nproc']} cores, {info['cpu_model']}, "
        f"Python {info['python']}; load average at start "
        f"{', '.join(str(x) for x in info['load_average_at_start'])}\n",
        flush=True,
    )
    started = time.perf_counter()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hotmess-bench-") as folder:
        plan = _plan(args, Path(folder))
        for name in wanted:
            begin = time.perf_counter()
            try:
                result = plan[name]()
            except Exception as exc:  # one broken benchmark must not lose the others' figures
                failed.append(name)
                report["benchmarks"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"### {name}: FAILED\n\n{traceback.format_exc()}", flush=True)
                continue
            result["benchmark_seconds"] = round(time.perf_counter() - begin, 2)
            report["benchmarks"][name] = result
            print(_table(name, result), flush=True)
    report["seconds"] = round(time.perf_counter() - started, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"({report['seconds']:.0f} s; results in {args.out})")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
