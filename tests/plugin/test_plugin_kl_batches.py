"""Issue #14 through pytest as a user runs it: KL at small K, clipping shown, dependent batches."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any

import jsonschema
import pytest

SCHEMA = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)

SUITE = """
import pytest

@pytest.mark.coherence(loss="kl")
def test_kl_two_samples(resample):
    resample.record(["A", "B"], target="A", item="ab")

def test_numeric_clipped(resample):
    resample.record([-1.0, 1.0], target=0.0, item="wide")
    resample.record([-0.5, 0.6], target=0.0, item="narrow")
"""

BATCHED = """
import random
import threading

from pytest_hotmess.sampling.completion import Completion

class Gateway:
    '''Answers in requests of five; ``sticky`` sends a whole request to one backend.'''

    def __init__(self, name, sticky):
        self.name = name
        self.sticky = sticky
        self.lock = threading.Lock()
        self.calls = {}

    def __call__(self, prompt):
        with self.lock:
            index = self.calls.get(prompt, 0)
            self.calls[prompt] = index + 1
        batch = index // 5
        seed = f"{prompt}/{batch}" if self.sticky else f"{prompt}/{index}"
        answer = random.Random(seed).choice("ABCD")
        return Completion(text=answer, batch=batch)

def test_sticky(resample):
    resample.map(Gateway("sticky-gateway", True), [f"q{i}" for i in range(12)],
                 targets=["A"] * 12, samples=20)

def test_independent(resample):
    resample.map(Gateway("fair-gateway", False), [f"q{i}" for i in range(12)],
                 targets=["A"] * 12, samples=20)
"""


def _run(
    pytester: pytest.Pytester, source: str, *args: str
) -> tuple[Any, dict[str, Any], ET.Element]:
    pytester.makepyfile(test_suite=source)
    result = pytester.runpytest_subprocess(
        "--hotmess-json-detail",
        "samples",
        "--hotmess-json",
        "report.json",
        "--junitxml",
        "junit.xml",
        "-p",
        "no:randomly",
        "-o",
        "junit_family=xunit1",
        *args,
    )
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    return result, report, ET.parse(pytester.path / "junit.xml").getroot()


def _test(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tests"] if t["nodeid"].endswith(name))


def _properties(root: ET.Element, name: str) -> dict[str, str]:
    case = next(c for c in root.iter("testcase") if c.get("name") == name)
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


@pytest.mark.parametrize("workers", [(), ("-n", "2")])
def test_kl_at_small_k_and_clipping_are_reported(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    result, report, junit = _run(pytester, SUITE, *workers)
    text = result.stdout.str()

    kl = _test(report, "test_kl_two_samples")
    (item,) = kl["items"]
    assert item["bias"] < 0 < item["error"] < item["variance"]  # kept as estimated
    assert item["out_of_range"] == ["bias<0", "variance>error"]
    assert [n["code"] for n in kl["notes"]] == ["kl-small-k"]
    assert "K=2" in kl["notes"][0]["message"]
    assert "note test_suite.py::test_kl_two_samples: KL with K=2" in text
    props = _properties(junit, "test_kl_two_samples")
    assert props["hotmess.note.kl-small-k"] == kl["notes"][0]["message"]

    numeric = _test(report, "test_numeric_clipped")
    totals = numeric["totals"]
    assert totals["incoherence"] == 1.0
    assert totals["clipped"]["incoherence"] == pytest.approx(1.3025 / 0.6525)
    assert totals["clipped"]["bias"] == pytest.approx(-0.65)
    assert ">=1.000 (clipped from 1.996)" in text
    assert "<=0.000 (clipped from -0.650)" in text
    assert "1.000 [1.000, 1.000]" not in text
    assert [i.get("out_of_range") for i in numeric["items"]] == 2 * [["bias<0", "variance>error"]]
    assert _properties(junit, "test_numeric_clipped")["hotmess.incoherence_unclipped"] == repr(
        totals["clipped"]["incoherence"]
    )
    assert "notes" not in numeric or numeric["notes"] == []


def test_html_shows_clipping(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_subprocess("--hotmess-html", "report.html", "-p", "no:randomly")
    page = (pytester.path / "report.html").read_text()
    assert "&ge;1.000 (clipped from 1.996)" in page
    assert "KL with K=2" in page


@pytest.mark.parametrize("workers", [(), ("-n", "2")])
def test_dependent_batches_are_warned_naming_the_model(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    result, report, junit = _run(pytester, BATCHED, *workers)
    text = result.stdout.str()
    sticky = _test(report, "test_sticky")
    assert [n["code"] for n in sticky["notes"]] == ["batch-dependence"]
    assert "sticky-gateway" in sticky["notes"][0]["message"]
    assert "note test_suite.py::test_sticky: samples of sticky-gateway" in text
    assert "hotmess.note.batch-dependence" in _properties(junit, "test_sticky")
    assert {row["batch"] for row in sticky["items"][0]["covariates"]} == {0, 1, 2, 3}

    fair = _test(report, "test_independent")
    assert fair["notes"] == []
    assert "fair-gateway" not in text
