"""Benchmark 4: what the plugin adds to a pytest run of many small coherence tests.

Two generated suites of ``tests`` tests each, run as whole ``python -m pytest`` processes:

- ``coherence``: every test is ``@pytest.mark.coherence(max_incoherence=...)`` and hands K
  outcomes to ``resample.record`` (no model calls: this is the plugin's own cost: marker
  validation, the fixture, estimates, the gate, the report table);
- ``plain``: the same outcomes checked with plain assertions, run with ``-p no:hotmess``.

Each suite runs serially and under ``-n 2`` (pytest-xdist, when installed).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import BenchmarkCLI, in_scratch_dir, pytest_ini, run_python, titled_table

__all__ = ["PluginCostConfig", "main", "run", "table"]


@dataclasses.dataclass(frozen=True)
class PluginCostConfig:
    tests: int = 1000
    samples: int = 10
    repeats: int = 3


_HEADER = '''\
import pytest

ANSWERS = "ABCD"


def outcomes(index, k={samples}):
    """K answers of test ``index``: mostly right, some scatter, the same in both suites."""
    return ["A" if (index + j) % 3 else ANSWERS[(index * 7 + j) % 4] for j in range(k)]
'''

_COHERENCE_TEST = """

@pytest.mark.coherence(max_incoherence=0.99)
def test_item_{index}(resample):
    resample.record(outcomes({index}), item="q{index}", target="A")
"""

_PLAIN_TEST = """

def test_item_{index}():
    answers = outcomes({index})
    assert len(answers) == {samples}
    assert answers.count("A") >= 1
"""


def _write(folder: Path, template: str, config: PluginCostConfig) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text(pytest_ini())
    body = _HEADER.format(samples=config.samples) + "".join(
        template.format(index=index, samples=config.samples) for index in range(config.tests)
    )
    (folder / "test_suite.py").write_text(body)


def run(config: PluginCostConfig, workdir: Path) -> dict[str, Any]:
    suites = {
        "coherence": (_COHERENCE_TEST, []),
        "plain": (_PLAIN_TEST, ["-p", "no:hotmess"]),
    }
    modes: list[tuple[str, list[str]]] = [("serial", [])]
    if importlib.util.find_spec("xdist") is not None:
        modes.append(("-n 2", ["-n", "2"]))
    rows: list[dict[str, Any]] = []
    for suite, (template, options) in suites.items():
        folder = workdir / f"plugin-cost-{suite}"
        _write(folder, template, config)
        for mode, mode_args in modes:
            walls = []
            for _ in range(max(1, config.repeats)):
                wall, done = run_python(
                    ["-m", "pytest", "-q", "-p", "no:cacheprovider", *options, *mode_args],
                    cwd=folder,
                )
                passed = f"{config.tests} passed"
                if done.returncode != 0 or passed not in done.stdout:
                    raise RuntimeError(f"suite {suite} ({mode}) failed:\n{done.stdout[-2000:]}")
                walls.append(wall)
            rows.append(
                {
                    "suite": suite,
                    "mode": mode,
                    "tests": config.tests,
                    "wall_s": round(min(walls), 4),
                    "walls_s": [round(w, 4) for w in walls],
                }
            )
    by_key = {(row["suite"], row["mode"]): row for row in rows}
    for row in rows:
        plain = by_key.get(("plain", row["mode"]))
        if plain is not None:
            row["extra_s"] = round(row["wall_s"] - plain["wall_s"], 4)
            row["extra_ms_per_test"] = round(1000 * row["extra_s"] / config.tests, 3)
    return {"config": dataclasses.asdict(config), "rows": rows}


def table(result: dict[str, Any]) -> str:
    config = result["config"]
    head = (
        f"### Plugin cost: {config['tests']} tests, each recording K = {config['samples']} "
        "outcomes, whole pytest processes\n"
    )
    rows = [
        [
            row["suite"],
            row["mode"],
            f"{row['wall_s']:.2f}",
            f"{row.get('extra_s', 0.0):+.2f}",
            f"{row.get('extra_ms_per_test', 0.0):.2f}",
        ]
        for row in result["rows"]
    ]
    return titled_table(
        head, ["suite", "mode", "wall s (best)", "vs plain s", "extra ms per test"], rows
    )


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    config = PluginCostConfig(tests=args.tests, repeats=args.repeats)
    return in_scratch_dir(lambda folder: run(config, folder))


def main(argv: list[str] | None = None) -> int:
    cli = BenchmarkCLI(__doc__)
    cli.parser.add_argument("--tests", type=int, default=PluginCostConfig.tests)
    cli.parser.add_argument("--repeats", type=int, default=PluginCostConfig.repeats)
    return cli.run(argv, _measure, table)


if __name__ == "__main__":
    sys.exit(main())
