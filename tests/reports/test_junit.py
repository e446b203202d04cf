"""JUnit XML that CI tools read: valid for the junit family in use, regressions and budget stops
counted, checked against an XSD per family (tests/reports/xsd) as a user runs pytest."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

XSD = Path(__file__).parent / "xsd"

SUITE = """
import random
import pytest

@pytest.mark.coherence(max_incoherence=0.9, samples=8)
def test_coherent(resample):
    for i in range(12):
        rng = random.Random(i)
        resample.record(rng.choices("ab", weights=[9, 1], k=8), target="a", item=f"c{i}")

@pytest.mark.coherence(max_incoherence=0.2)
def test_hot_mess(resample):
    for i in range(12):
        rng = random.Random(100 + i)
        resample.record(rng.choices("abcd", k=10), target="a", item=f"h{i}")

def test_plain():
    pass
"""


def _schema(family: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD / f"junit-{family}.xsd"))


def _junit(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, ET.Element]:
    result = pytester.runpytest_subprocess("--junitxml", "junit.xml", "-p", "no:randomly", *args)
    return result, ET.parse(pytester.path / "junit.xml").getroot()


def _suite(root: ET.Element) -> ET.Element:
    suite = root.find("testsuite")
    assert suite is not None
    return suite


def _suite_props(root: ET.Element) -> dict[str, str]:
    props = _suite(root).find("properties")
    assert props is not None
    return {str(p.get("name")): str(p.get("value")) for p in props.iter("property")}


def _case(root: ET.Element, name: str) -> ET.Element:
    return next(c for c in root.iter("testcase") if c.get("name") == name)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_default_xunit2_is_valid_and_carries_figures_on_the_suite(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(test_mix=SUITE)
    result, root = _junit(pytester, *workers)
    result.assert_outcomes(passed=2, failed=1)
    _schema("xunit2").validate(str(pytester.path / "junit.xml"))  # raises on an invalid file
    assert all(case.find("properties") is None for case in root.iter("testcase"))
    props = _suite_props(root)
    assert props["hotmess.tests"] == "2"
    assert props["test_mix.py::test_hot_mess::hotmess.verdict"] == "fail"
    assert props["test_mix.py::test_coherent::hotmess.verdict"] == "pass"
    assert props["test_mix.py::test_coherent::hotmess.items"] == "12"
    assert props["test_mix.py::test_hot_mess::hotmess.max_incoherence"] == "0.2"
    assert not any(name.startswith("test_mix.py::test_plain") for name in props)
    # the message a user sees, as pytest's own record_property warns under xunit2
    result.stdout.fnmatch_lines(
        ["*junit_family=xunit2 allows no properties inside a test case*junit_family=xunit1*"]
    )


def test_xunit1_carries_figures_on_each_case_and_is_valid(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mix=SUITE)
    result, root = _junit(pytester, "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=2, failed=1)
    _schema("xunit1").validate(str(pytester.path / "junit.xml"))
    with pytest.raises(xmlschema.XMLSchemaValidationError):  # the xunit2 schema can fail
        _schema("xunit2").validate(str(pytester.path / "junit.xml"))
    case = _case(root, "test_hot_mess")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["hotmess.verdict"] == "fail" and props["hotmess.items"] == "12"
    suite = _suite_props(root)
    assert suite["hotmess.tests"] == "2"
    assert not any("::" in name for name in suite)  # per test: on the cases, not the suite
    assert "allows no properties inside a test case" not in result.stdout.str()


REGRESSING = """
import os
import random
import pytest

@pytest.mark.coherence(samples=10)
def test_quiz(resample):
    # right 6 times in 10; the errors always the same letter, or scattered over three
    wrong = "bbbb" if os.environ["ERRORS"] == "same" else "bcdc"
    for i in range(30):
        answers = list("aaaaaa" + wrong)
        random.Random(i).shuffle(answers)
        resample.record(answers, target="a", item=f"q{i}")
"""


@pytest.mark.parametrize("family", ["xunit2", "xunit1"])
def test_a_regression_is_a_failing_case_ci_reporters_count(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    pytester.makepyfile(test_quiz=REGRESSING)
    monkeypatch.setenv("ERRORS", "same")
    pytester.runpytest_subprocess("--hotmess-save", "base").assert_outcomes(passed=1)
    monkeypatch.setenv("ERRORS", "scattered")
    result, root = _junit(
        pytester,
        "-o",
        f"junit_family={family}",
        "--hotmess-compare",
        "base",
        "--hotmess-compare-fail",
        "incoherence:0.01",
    )
    result.assert_outcomes(passed=1)  # every test passed, but the run regressed
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    _schema(family).validate(str(pytester.path / "junit.xml"))
    suite = _suite(root)
    assert suite.get("failures") == "1" and suite.get("tests") == "2"
    case = _case(root, "regressions")
    assert case.get("classname") == "hotmess"
    failure = case.find("failure")
    assert failure is not None
    assert "1 regression against the baseline" in str(failure.get("message"))
    assert "test_quiz.py::test_quiz: incoherence rose by" in str(failure.text)
    result.stdout.fnmatch_lines(["REGRESSION test_quiz.py::test_quiz: incoherence rose by*"])


def test_no_regression_adds_no_case(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_quiz=REGRESSING)
    monkeypatch.setenv("ERRORS", "same")
    pytester.runpytest_subprocess("--hotmess-save", "base").assert_outcomes(passed=1)
    result, root = _junit(
        pytester, "--hotmess-compare", "base", "--hotmess-compare-fail", "incoherence:0.5"
    )
    assert result.ret == pytest.ExitCode.OK
    assert [c.get("name") for c in root.iter("testcase")] == ["test_quiz"]
    assert _suite(root).get("failures") == "0"


BUDGETED = """
import pytest

def model(prompt):
    return "a"

@pytest.mark.coherence(max_incoherence=0.5, samples=5)
def test_budgeted(resample):
    resample.map(model, range(10), targets=["a"] * 10)

def test_within(resample):
    resample.map(model, range(2), targets=["a"] * 2, samples=2)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_budget_stop_is_a_skipped_case_and_a_terminal_line(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(test_budget=BUDGETED)
    result, root = _junit(
        pytester, "--hotmess-max-calls", "23", "--hotmess-concurrency", "1", *workers
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK  # a budget stop decides with what was drawn
    _schema("xunit2").validate(str(pytester.path / "junit.xml"))
    suite = _suite(root)
    assert suite.get("failures") == "0" and suite.get("skipped") == "1"
    skipped = _case(root, "budget").find("skipped")
    assert skipped is not None
    message = str(skipped.get("message"))
    assert "sampling stopped early by a budget in 1 test;" in message
    assert "test_budget.py::test_budgeted: test call budget of 23 calls used up" in message
    props = _suite_props(root)
    assert props["test_budget.py::test_budgeted::hotmess.stopped_by"] == (
        "test call budget of 23 calls used up"
    )
    assert "test_budget.py::test_within::hotmess.stopped_by" not in props
    result.stdout.fnmatch_lines(
        ["stopped early test_budget.py::test_budgeted: test call budget of 23 calls used up*"]
    )
