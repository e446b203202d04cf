"""An interval that may cover short is marked approximate in every report.

The rule (``stats.skew.is_approximate``): fewer than 20 items, or an estimate above 0.875.
"""

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
from pytest_hotmess.sampling.context import current_sample

def skewed(prompt):
    if prompt == "wrong":
        return "b"  # error 2, variance 0: one item carries most of the error
    return "b" if current_sample.get() % 4 == 3 else "a"

def even(prompt):
    return "b" if (current_sample.get() + int(prompt[1:])) % 2 == 1 else "a"

def scattered(prompt):
    # one wrong answer in 8, a different one per item: all variance, incoherence 1
    return prompt if current_sample.get() % 8 == 7 else "a"

@pytest.mark.coherence(samples=8)
def test_skewed(resample):
    prompts = [f"q{i}" for i in range(6)] + ["wrong"]
    resample.map(skewed, prompts, targets=["a"] * 7)

@pytest.mark.coherence(samples=8)
def test_scattered(resample):
    resample.map(scattered, [f"q{i}" for i in range(30)], targets=["a"] * 30)

@pytest.mark.coherence(samples=8)
def test_even(resample):
    resample.map(even, [f"q{i}" for i in range(30)], targets=["a"] * 30)
"""


def _run(pytester: pytest.Pytester) -> tuple[Any, dict[str, Any], ET.Element, str]:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(
        "--hotmess-json",
        "report.json",
        "--junitxml",
        "junit.xml",
        "--hotmess-html",
        "page.html",
        "-o",
        "junit_family=xunit1",
    )
    result.assert_outcomes(passed=3)
    report: dict[str, Any] = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    junit = ET.parse(pytester.path / "junit.xml").getroot()
    page = (pytester.path / "page.html").read_text()
    return result, report, junit, page


def _property(junit: ET.Element, test: str, name: str) -> str | None:
    for case in junit.iter("testcase"):
        if case.get("name") == test:
            for prop in case.iter("property"):
                if prop.get("name") == name:
                    return prop.get("value")
    return None


def test_small_and_near_one_are_marked_approximate_everywhere_and_the_even_one_nowhere(
    pytester: pytest.Pytester,
) -> None:
    result, report, junit, page = _run(pytester)
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    skewed, even = tests["test_skewed"]["totals"], tests["test_even"]["totals"]
    scattered = tests["test_scattered"]["totals"]
    assert skewed["interval_approximate"] is True  # 7 items < 20
    assert even["interval_approximate"] is False  # 30 items, incoherence 4/7
    assert even["incoherence"] == pytest.approx(4 / 7)
    # 30 items, each one wrong answer in 8: error 1/4, unbiased variance 1/4, incoherence 1
    assert scattered["incoherence"] == pytest.approx(1.0)
    assert scattered["interval_approximate"] is True
    assert _property(junit, "test_scattered", "hotmess.interval_approximate") == "true"
    assert skewed["effective_items"] == pytest.approx((6 * 0.5 + 2.0) ** 2 / (6 * 0.25 + 4.0))
    assert skewed["interval_skewness"] < 0
    assert skewed["interval_method"] == "hall"
    assert _property(junit, "test_skewed", "hotmess.interval_approximate") == "true"
    assert _property(junit, "test_even", "hotmess.interval_approximate") == "false"
    lines = [line for line in result.outlines if line.startswith("test_")]
    skewed_row = [line for line in lines if "test_skewed" in line]
    even_row = [line for line in lines if "test_even" in line]
    assert skewed_row and "] approximate" in skewed_row[0]
    assert even_row and "] approximate" not in even_row[0]
    assert "] approximate" in page
