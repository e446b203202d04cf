"""Benchmark 6: a million samples in one run (issue #19): wall time and the controller's memory.

A generated suite of ``tests`` coherence tests, each handing ``items`` items of K outcomes to
``resample.record`` (no model calls), run as whole pytest processes:

- ``plain``: the same loops as plain pytest tests (``-p no:hotmess``);
- ``plugin``: with the plugin, no report files;
- ``plugin + json``: with ``--hotmess-json`` (default detail, ``items``);
- ``plugin -n 2 + json``: under pytest-xdist with two workers.

Peak RSS is the controller's own (``getrusage(RUSAGE_SELF)`` in the process that runs
``pytest.main``): under ``-n 2`` the workers are its children and not counted. Then a scaling
series (plugin + json, serial) over growing suites shows wall time against samples and peak
RSS against tests, each point also run as plain pytest tests (``-p no:hotmess``) so that the
plugin's RSS over plain separates pytest's own growth (its items and reports) from the
plugin's. Targets (issue #19): plugin ≤ 4× plain; json ≤ 1.3× plugin; controller peak
RSS ≤ 250 MB with and without ``-n 2``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import BenchmarkCLI, in_scratch_dir, pytest_ini, run_python, titled_table

__all__ = ["ScaleConfig", "main", "run", "table"]

_DRIVER = (
    "import resource, sys, pytest\n"
    "code = pytest.main(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(f'HOTMESS_PEAK_KB {peak}', file=sys.stderr)\n"
    "sys.exit(int(code))\n"
)
"""Run pytest in this process and report its own peak resident set (kB on Linux)."""

_SUITE = '''\
import pytest

ANSWERS = "ABCD"
TESTS, ITEMS, K = {tests}, {items}, {samples}


def outcomes(test, item):
    """K answers: mostly right, some scatter; the same in both suites."""
    return [
        "A" if (test + item + s) % 3 else ANSWERS[(test * 7 + item + s) % 4] for s in range(K)
    ]
'''

_COHERENCE = """

@pytest.mark.coherence(max_incoherence=0.99)
@pytest.mark.parametrize("index", range(TESTS))
def test_suite(resample, index):
    for item in range(ITEMS):
        resample.record(outcomes(index, item), item=f"q{item}", target="A")
"""

_PLAIN = """

@pytest.mark.parametrize("index", range(TESTS))
def test_suite(index):
    for item in range(ITEMS):
        answers = outcomes(index, item)
        assert len(answers) == K and "A" in answers + ["A"]
"""


@dataclasses.dataclass(frozen=True)
class ScaleConfig:
    tests: int = 2000
    items: int = 50
    samples: int = 10
    series: tuple[tuple[int, int], ...] = ((250, 50), (500, 50), (1000, 50), (2000, 50))
    """(tests, items) points of the scaling series; (10_000, 100) is 10,000,000 samples."""


def _write(folder: Path, tests: int, items: int, samples: int, *, plain: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text(pytest_ini())
    body = _SUITE.format(tests=tests, items=items, samples=samples)
    (folder / "test_suite.py").write_text(body + (_PLAIN if plain else _COHERENCE))
    return folder


def _measure_run(folder: Path, args: list[str], tests: int) -> dict[str, Any]:
    command = ["-c", _DRIVER, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
    wall, done = run_python(command, cwd=folder, timeout=7200)
    if done.returncode != 0 or f"{tests} passed" not in done.stdout:
        raise RuntimeError(f"pytest {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr}")
    peak = next(
        int(line.split()[1])
        for line in done.stderr.splitlines()
        if line.startswith("HOTMESS_PEAK_KB ")
    )
    report = folder / "report.json"
    size = report.stat().st_size if report.exists() else None
    if report.exists():
        report.unlink()
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(peak / 1024, 1), "json_bytes": size}


def run(config: ScaleConfig, workdir: Path) -> dict[str, Any]:
    samples = config.tests * config.items * config.samples
    plain = _write(workdir / "scale-plain", config.tests, config.items, config.samples, plain=True)
    gated = _write(workdir / "scale", config.tests, config.items, config.samples, plain=False)
    runs: list[tuple[str, Path, list[str]]] = [
        ("plain (-p no:hotmess)", plain, ["-p", "no:hotmess"]),
        ("plugin, no reports", gated, []),
        ("plugin + --hotmess-json", gated, ["--hotmess-json", "report.json"]),
    ]
    if importlib.util.find_spec("xdist") is not None:
        runs.append(
            ("plugin -n 2 + --hotmess-json", gated, ["-n", "2", "--hotmess-json", "report.json"])
        )
    rows = []
    for name, folder, args in runs:
        rows.append({"run": name, **_measure_run(folder, args, config.tests)})
    by_name = {row["run"]: row for row in rows}
    base, plugin = by_name["plain (-p no:hotmess)"], by_name["plugin, no reports"]
    ratios = {
        "plugin_vs_plain": round(plugin["wall_s"] / base["wall_s"], 2),
        "json_vs_plugin": round(by_name["plugin + --hotmess-json"]["wall_s"] / plugin["wall_s"], 2),
    }
    series = []
    for tests, items in config.series:
        name = f"series-{tests}x{items}"
        folder = _write(workdir / name, tests, items, config.samples, plain=False)
        measured = _measure_run(folder, ["--hotmess-json", "report.json"], tests)
        plain_folder = _write(workdir / f"{name}-plain", tests, items, config.samples, plain=True)
        bare = _measure_run(plain_folder, ["-p", "no:hotmess"], tests)
        series.append(
            {
                "tests": tests,
                "items": items,
                "samples": tests * items * config.samples,
                **measured,
                "plain_wall_s": bare["wall_s"],
                "plain_peak_rss_mb": bare["peak_rss_mb"],
                "rss_over_plain_mb": round(measured["peak_rss_mb"] - bare["peak_rss_mb"], 1),
            }
        )
    return {
        "config": dataclasses.asdict(config),
        "samples": samples,
        "rows": rows,
        "ratios": ratios,
        "series": series,
    }


def table(result: dict[str, Any]) -> str:
    config = result["config"]
    head = (
        f"### Scale: {config['tests']:,} tests x {config['items']} items x K = "
        f"{config['samples']} ({result['samples']:,} samples via resample.record), "
        "whole pytest processes; peak RSS of the controller\n"
    )
    rows = [
        [
            row["run"],
            f"{row['wall_s']:.2f}",
            f"{row['peak_rss_mb']:.0f}",
            "" if row["json_bytes"] is None else f"{row['json_bytes'] / 1e6:.1f}",
        ]
        for row in result["rows"]
    ]
    ratios = result["ratios"]
    text = titled_table(head, ["run", "wall s", "peak RSS MB", "JSON MB"], rows)
    text += (
        f"\nplugin / plain: {ratios['plugin_vs_plain']:.2f}x (target <= 4); "
        f"json / plugin: {ratios['json_vs_plugin']:.2f}x (target <= 1.3)\n\n"
    )
    series = [
        [
            f"{row['tests']:,}",
            row["items"],
            f"{row['samples']:,}",
            f"{row['wall_s']:.2f}",
            f"{1e6 * row['wall_s'] / row['samples']:.2f}",
            f"{row['peak_rss_mb']:.0f}",
            _optional(row, "plain_peak_rss_mb"),
            _optional(row, "rss_over_plain_mb"),
        ]
        for row in result["series"]
    ]
    text += titled_table(
        "### Scale series: plugin + --hotmess-json, serial; plain: the same loops as plain "
        "pytest tests (-p no:hotmess)\n",
        [
            "tests",
            "items",
            "samples",
            "wall s",
            "us per sample",
            "peak RSS MB",
            "plain peak RSS MB",
            "plugin - plain MB",
        ],
        series,
    )
    return text


def _optional(row: dict[str, Any], key: str) -> str:
    """A series figure results saved before it was measured do not have."""
    return "" if row.get(key) is None else f"{row[key]:.0f}"


def _series(text: str) -> tuple[tuple[int, int], ...]:
    points = []
    for part in text.split(","):
        tests, _, items = part.strip().partition("x")
        points.append((int(tests), int(items)))
    return tuple(points)


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    config = ScaleConfig(
        tests=args.tests, items=args.items, samples=args.samples, series=_series(args.series)
    )
    return in_scratch_dir(lambda folder: run(config, folder))


def main(argv: list[str] | None = None) -> int:
    cli = BenchmarkCLI(__doc__)
    cli.parser.add_argument("--tests", type=int, default=ScaleConfig.tests)
    cli.parser.add_argument("--items", type=int, default=ScaleConfig.items)
    cli.parser.add_argument("--samples", type=int, default=ScaleConfig.samples)
    cli.parser.add_argument(
        "--series",
        default=",".join(f"{t}x{i}" for t, i in ScaleConfig.series),
        help="TESTSxITEMS points, comma-separated (10000x100 is 10,000,000 samples at K=10)",
    )
    return cli.run(argv, _measure, table)


if __name__ == "__main__":
    sys.exit(main())
