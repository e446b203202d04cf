"""Every figure of every report is what it was before judging was vectorised (issue 19, item 5).

``tests/data/golden/report.json`` was written by the per-item code (commit 5460714 with the
calibrated intervals of issue 14, commit d3a7210) and regenerated, intervals only, by commit
ab4acf2 (the calibration refitted for issue 14 item 3) from
``tests/data/golden/suite.py``: every outcome kind x loss x estimator, weights, invalid
outcomes, variance-only items, covariates, sequential ``map`` and seeded simulated models.
A fresh run must give every number within 1e-12 and every other leaf exactly.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "data" / "golden"


def _golden_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN_DIR / "make_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


golden = _golden_module()


def test_the_comparison_sees_a_change_beyond_the_tolerance() -> None:
    report = json.loads((GOLDEN_DIR / "report.json").read_text())
    assert golden.differences(report, report) == []
    changed = json.loads(json.dumps(report))
    item = changed["tests"][0]["items"][0]
    item["variance"] += 1e-9
    item["kind"] = "numeric"
    found = golden.differences(report, changed)
    assert len(found) == 2, found
    assert all("items[0]" in line for line in found)
    grown = json.loads(json.dumps(report))
    grown["tests"][0]["items"][0]["bucket"] = "easy"  # a field added since: allowed
    grown["tests"][0]["items"][0]["surprise"] = 1.0  # any other new leaf: reported
    del grown["tests"][0]["items"][1]["error"]  # a golden leaf gone: reported
    found = golden.differences(report, grown)
    assert sorted(found) == [
        "$.tests[0].items[0].surprise: only in the fresh report",
        "$.tests[0].items[1].error: only in the golden report",
    ], found
    nearly = json.loads(json.dumps(report))
    nearly["tests"][0]["items"][0]["variance"] += 1e-14
    assert golden.differences(report, nearly) == []


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_fresh_run_gives_every_golden_figure(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    shutil.copy(GOLDEN_DIR / "suite.py", pytester.path / "test_golden_suite.py")
    out = pytester.path / "report.json"
    pytester.runpytest_subprocess(*golden.ARGS, "--hotmess-json", str(out), *workers)
    fresh = golden.read_report(out, pytester.path)
    expected = json.loads((GOLDEN_DIR / "report.json").read_text())
    assert len(fresh["tests"]) == len(expected["tests"]) == 46
    found = golden.differences(expected, fresh)
    assert found == [], "\n".join(found[:40])
