"""Terminal, JUnit XML and JSON reports, identical with and without xdist, and on interrupt."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

# A suite of seeded, deterministic coherence tests spread over two files (so xdist splits it).
SUITE = {
    "test_suite_a": """
import random
import pytest

def draws(seed, k, labels, weights):
    rng = random.Random(seed)
    return rng.choices(labels, weights=weights, k=k)

@pytest.mark.coherence(max_incoherence=0.9, samples=12)
def test_coherent(resample):
    for i in range(30):
        resample.record(draws(i, 12, "abcd", [70, 25, 3, 2]), target="a", item=f"c{i}")

@pytest.mark.coherence(max_incoherence=0.3)
def test_hot_mess(resample):
    for i in range(30):
        resample.record(draws(100 + i, 10, "abcd", [40, 20, 20, 20]), target="a", item=f"h{i}")

def test_numeric_ungated(resample):
    for i in range(20):
        rng = random.Random(i)
        resample.record([rng.gauss(1.0, 0.5) for _ in range(8)], target=1.2, item=f"n{i}")
""",
    "test_suite_b": """
import random
import pytest

@pytest.mark.coherence(max_variance=0.5, max_error=1.0, samples=6)
def test_binary(resample):
    for i in range(25):
        rng = random.Random(1000 + i)
        resample.record([rng.random() < 0.8 for _ in range(6)], target=True, item=f"b{i}")

@pytest.mark.coherence(max_incoherence=0.5)
def test_body_failure(resample):
    for i in range(5):
        rng = random.Random(2000 + i)
        resample.record(rng.choices("ab", k=10), target="a", item=f"f{i}")
    raise AssertionError("body failed")

@pytest.mark.coherence(max_variance=0.9)
def test_variance_only(resample):
    for i in range(10):
        rng = random.Random(3000 + i)
        resample.record(rng.choices("xyz", k=5), item=f"v{i}")
""",
}

SCHEMA = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)


def _run(
    pytester: pytest.Pytester, *args: str
) -> tuple[pytest.RunResult, dict[str, Any], ET.Element]:
    pytester.makepyfile(**SUITE)
    result = pytester.runpytest_subprocess(
        "--hotmess-json", "report.json", "--junitxml", "junit.xml", "-p", "no:randomly",
        "-o", "junit_family=xunit1", *args,  # per-test properties on each test case
    )  # fmt: skip
    report = json.loads((pytester.path / "report.json").read_text())
    junit = ET.parse(pytester.path / "junit.xml").getroot()
    return result, report, junit


def _table(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "hotmess coherence" in line)
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("=") or line.startswith("JSON report"):
            break
        table.append(line)
    return table


def _junit_properties(root: ET.Element) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    cases = {}
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        cases[name] = {p.get("name"): p.get("value") for p in case.iter("property")}
    suite = root.find("testsuite")
    assert suite is not None
    props = suite.find("properties")
    suite_props = {} if props is None else {p.get("name"): p.get("value") for p in props}
    return cases, suite_props  # type: ignore[return-value]


def _without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "created"}


def test_reports_are_identical_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    serial, serial_json, serial_xml = _run(pytester)
    parallel, parallel_json, parallel_xml = _run(pytester, "-n", "2")
    assert "2 workers" in parallel.stdout.str() or "gw1" in parallel.stdout.str()
    serial.assert_outcomes(passed=4, failed=2)
    parallel.assert_outcomes(passed=4, failed=2)
    assert _without_time(serial_json) == _without_time(parallel_json)
    assert _table(serial) == _table(parallel)
    assert _junit_properties(serial_xml) == _junit_properties(parallel_xml)


def test_json_report_matches_schema_and_content(pytester: pytest.Pytester) -> None:
    _, report, _ = _run(pytester, "--hotmess-json-detail", "samples")
    jsonschema.validate(report, SCHEMA)
    assert "NaN" not in (pytester.path / "report.json").read_text()
    tests = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    assert set(tests) == {
        "test_coherent",
        "test_hot_mess",
        "test_numeric_ungated",
        "test_binary",
        "test_body_failure",
        "test_variance_only",
    }
    assert tests["test_coherent"]["verdict"] == "pass"
    assert tests["test_coherent"]["outcome"] == "passed"
    assert tests["test_hot_mess"]["verdict"] == "fail"
    assert tests["test_hot_mess"]["outcome"] == "failed"
    assert tests["test_body_failure"]["outcome"] == "failed"
    assert tests["test_numeric_ungated"]["verdict"] == "ungated"
    assert tests["test_coherent"]["samples"] == 12
    assert tests["test_coherent"]["thresholds"] == {"max_incoherence": 0.9}
    assert tests["test_coherent"]["totals"]["items"] == 30
    # a variance-only test has no error, no bias and no incoherence: null, never NaN
    only = tests["test_variance_only"]["totals"]
    assert only["error"] is None and only["incoherence"] is None and only["variance"] > 0
    assert tests["test_binary"]["loss"] == "squared"
    # counts for categorical items, outcomes for numeric ones
    assert "counts" in tests["test_coherent"]["items"][0]
    assert len(tests["test_numeric_ungated"]["items"][0]["outcomes"]) == 8
    # run totals pool every item of every test
    assert report["totals"]["items"] == 30 + 30 + 20 + 25 + 5 + 10
    assert report["totals"]["tests"] == 6
    assert report["totals"]["verdicts"]["fail"] == 1
    assert report["exitstatus"] == 1


def test_json_numbers_agree_with_the_terminal_and_junit(pytester: pytest.Pytester) -> None:
    result, report, junit = _run(pytester)
    test = next(t for t in report["tests"] if t["nodeid"].endswith("test_hot_mess"))
    totals = test["totals"]
    row = next(line for line in _table(result) if "test_hot_mess" in line)
    low, high = totals["incoherence_low"], totals["incoherence_high"]
    assert f"{totals['incoherence']:.3f} [{low:.3f}, {high:.3f}]" in row
    cases, suite = _junit_properties(junit)
    props = next(v for k, v in cases.items() if k.endswith("test_hot_mess"))
    assert props["hotmess.verdict"] == "fail"
    assert props["hotmess.items"] == "30"
    assert props["hotmess.samples"] == "10"
    assert props["hotmess.loss"] == "brier"
    assert props["hotmess.estimator"] == "unbiased"
    assert float(props["hotmess.incoherence"]) == totals["incoherence"]
    assert float(props["hotmess.incoherence_low"]) == totals["incoherence_low"]
    assert float(props["hotmess.max_incoherence"]) == 0.3
    assert "hotmess.max_bias" not in props
    # Brier and squared-error items do not pool: the run's figures are undefined
    assert report["totals"]["losses"] == ["brier", "squared"]
    assert report["totals"]["incoherence"] is None
    assert suite["hotmess.incoherence"] == "null"
    assert suite["hotmess.items"] == str(report["totals"]["items"])
    only = next(v for k, v in cases.items() if k.endswith("test_variance_only"))
    assert only["hotmess.incoherence"] == "null"
    total_row = next(line for line in _table(result) if line.startswith("TOTAL"))
    assert re.search(r"TOTAL \(6 tests\)\s+120\b", total_row)


def test_json_is_written_when_the_run_is_interrupted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.coherence(max_incoherence=0.9)
def test_first(resample):
    for i in range(3):
        resample.record(["a", "a", "b"], target="a", item=f"q{i}")

def test_second():
    raise KeyboardInterrupt
"""
    )
    result = pytester.runpytest_subprocess("--hotmess-json", "out/report.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert [t["nodeid"] for t in report["tests"]] == [
        "test_json_is_written_when_the_run_is_interrupted.py::test_first"
    ]
    assert report["exitstatus"] == int(pytest.ExitCode.INTERRUPTED)
    assert not list(Path(pytester.path / "out").glob(".*.tmp"))


def test_json_path_from_ini_is_relative_to_the_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nhotmess_json = reports/h.json\n")
    pytester.makepyfile(
        """
def test_x(resample):
    resample.record(["a", "b"], target="a")
"""
    )
    sub = pytester.mkdir("sub")
    result = pytester.runpytest(str(pytester.path), "--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1)
    assert (pytester.path / "reports" / "h.json").exists()
    del sub


def test_run_totals_pool_items_of_one_loss_as_a_ratio_of_sums(pytester: pytest.Pytester) -> None:
    # test_a items: error 0.8, variance 10/9 * 0.48 = 0.5333; test_b items: error 1, variance 2/3
    # pooled: (5 * 0.5333 + 5 * 0.6667) / (5 * 0.8 + 5 * 1) = 6 / 9
    pytester.makepyfile(
        """
def test_a(resample):
    for i in range(5):
        resample.record(["a"] * 6 + ["b"] * 4, target="a", item=f"a{i}")

def test_b(resample):
    for i in range(5):
        resample.record(["a", "b"] * 2, target="a", item=f"b{i}")
"""
    )
    pytester.runpytest("--hotmess-json", "out.json").assert_outcomes(passed=2)
    totals = json.loads((pytester.path / "out.json").read_text())["totals"]
    assert totals["losses"] == ["brier"]
    assert totals["items"] == 10
    assert totals["incoherence"] == pytest.approx(6 / 9, abs=1e-12)
    assert totals["k_min"] == 4 and totals["k_max"] == 10
