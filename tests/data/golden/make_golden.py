"""Regenerate ``report.json``: run ``suite.py`` through the plugin and keep its figures.

    .venv/bin/python tests/data/golden/make_golden.py

The golden file was made by the code before judging was vectorised: commit 5460714 with the
calibrated intervals of issue 14 (commit d3a7210, the per-item code);
``tests/results/test_golden_report.py`` checks that a fresh run gives every number to 1e-12.
Regenerate it only when a figure is meant to change, and say why in the commit.

What varies between runs and machines is dropped (``normalise``): timings, dates, paths,
versions, the host. Everything else, numbers and text, is kept.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUITE = HERE / "suite.py"
GOLDEN = HERE / "report.json"
TOLERANCE = 1e-12

ARGS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:randomly",
    "--hotmess-seed",
    "7",
    "--hotmess-json-detail",  # every item's samples, as reports held them when this was made
    "samples",
)

VOLATILE = frozenset(
    {
        "duration",
        "durations",
        "seconds",
        "wall",
        "started",
        "finished",
        "created",
        "date",
        "time",
        "timestamp",
        "version",
        "versions",
        "python",
        "platform",
        "host",
        "hostname",
        "path",
        "rootdir",
        "command",
        "argv",
        "elapsed",
    }
)
"""Keys whose values differ between runs or machines, at any depth."""

ADDED_SINCE = {
    "difficulty": "per-item difficulty and the per-test figures by difficulty (issue 18)",
    "bucket": "per-item difficulty bucket (issue 18)",
    "models": "the --hotmess-models setting in run.settings (issue 18)",
    "detail": "how much per-item data the report holds, --hotmess-json-detail (issue 19)",
    "json_detail": "the --hotmess-json-detail setting in run.settings (issue 19)",
}
"""Keys the report gained after the golden file was written, and why. A leaf under one of them
that only the fresh report has is a new field, not a changed figure; every leaf the golden file
has must still be there and equal."""


def added_since(path: str) -> bool:
    """Whether ``path`` lies under a key of ``ADDED_SINCE``."""
    keys = re.findall(r"\.([A-Za-z_]+)", path)
    return any(key in ADDED_SINCE for key in keys)


def normalise(value: Any) -> Any:
    """``value`` without the keys in ``VOLATILE`` (recursively)."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def leaves(value: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    """Every leaf of a JSON document with its path (``$.tests[3].items[0].error``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{where}[{index}]")
    else:
        yield where, value


def differences(golden: Any, fresh: Any, tolerance: float = TOLERANCE) -> list[str]:
    """Where ``fresh`` differs from ``golden``: numbers beyond ``tolerance`` (absolute and
    relative), anything else by equality, and leaves present in only one of them."""
    old = dict(leaves(golden))
    new = dict(leaves(fresh))
    found = [f"{p}: only in the golden report" for p in old if p not in new]
    found += [f"{p}: only in the fresh report" for p in new if p not in old and not added_since(p)]
    for path, a in old.items():
        if path not in new:
            continue
        b = new[path]
        numbers = (int, float)
        if (
            isinstance(a, numbers)
            and isinstance(b, numbers)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
        ):
            if not math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance):
                found.append(f"{path}: golden {a!r}, fresh {b!r}")
        elif a != b or type(a) is not type(b):
            found.append(f"{path}: golden {a!r}, fresh {b!r}")
    return found


def run_suite(workdir: Path, *extra: str) -> dict[str, Any]:
    """Run the suite in ``workdir`` (a fresh directory) and return its normalised report."""
    shutil.copy(SUITE, workdir / "test_golden_suite.py")
    out = workdir / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", *ARGS, "--hotmess-json", str(out), *extra, "-q"],
        cwd=workdir,
        check=False,
        capture_output=True,
    )
    return read_report(out, workdir)


def read_report(out: Path, workdir: Path) -> dict[str, Any]:
    """The report at ``out`` normalised, with the run's directory written ``<dir>``."""
    text = out.read_text().replace(json.dumps(str(workdir))[1:-1], "<dir>")
    report: dict[str, Any] = json.loads(text)
    return dict(normalise(report))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = run_suite(Path(tmp))
    GOLDEN.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    tests = len(report["tests"])
    print(f"wrote {GOLDEN} ({tests} tests, {sum(1 for _ in leaves(report))} leaves)")


if __name__ == "__main__":
    main()
