"""Difficulty buckets across models, as a user runs them (issue 18, item 2): a run on one
model compared with a run on another, item by item and bucket by bucket, gated with a bucket
rule; and one suite run against several models (``--hotmess-models``) into one table."""

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

HOTMESS_YAML = """
models:
  small: {provider: sim, preset: coherent}
  large: {provider: sim, preset: hot_mess}
"""

# Each model's K=10 answers to an item of each bucket ("a" is right; a pattern by item parity).
# On hard items the small model is wrong the same way ("b"), the large one scattered: the
# large model is more incoherent on hard items; on easy items the two are alike.
SUITE = """
import random
import pytest

ANSWERS = {
    "small": {"easy": ["aaaaaaaabb", "aaaaaaaaab"], "hard": ["aaaaabbbbb", "aaaabbbbbb"]},
    "large": {"easy": ["aaaaaaaabb", "aaaaaaaaab"], "hard": ["aaaaabcdbc", "aaaabcdebc"]},
}

@pytest.mark.coherence(samples=10)
def test_quiz(resample, hotmess_model):
    name = hotmess_model.name
    order = list(range(24))
    random.Random(name).shuffle(order)  # each model answers the items in its own order
    dropped = {"small": 23, "large": 0}[name]  # and one item is missing on each side
    for i in order:
        if i == dropped:
            continue
        bucket = "hard" if i % 2 else "easy"
        answers = list(ANSWERS[name][bucket][(i // 2) % 2])
        random.Random(i).shuffle(answers)
        resample.record(answers, target="a", item=f"q{i}", difficulty=bucket)

def test_without_the_model():
    assert True
"""


def _suite(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", hotmess=HOTMESS_YAML)
    pytester.makepyfile(test_quiz=SUITE)


def _report(pytester: pytest.Pytester, name: str = "out.json") -> dict[str, Any]:
    """The JSON report, valid against its schema (bucket changes, regressions, by_model)."""
    data: dict[str, Any] = json.loads((pytester.path / name).read_text())
    jsonschema.validate(data, SCHEMA)
    return data


def _baseline(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--hotmess-model", "small", "--hotmess-save", "small")
    result.assert_outcomes(passed=2)


def test_a_bucket_rule_fails_the_run_when_one_bucket_regresses(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    _baseline(pytester)
    result = pytester.runpytest(
        "--hotmess-model", "large", "--hotmess-compare", "small",
        "--hotmess-compare-fail", "incoherence@hard:0.05", "--hotmess-json", "out.json",
        "--junitxml", "junit.xml",
    )  # fmt: skip
    result.assert_outcomes(passed=2)  # every test passed ...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ... but the hard items regressed
    result.stdout.fnmatch_lines(
        [
            "*hotmess baseline comparison*",
            "test_quiz.py::test_quiz: error *(2 unpaired items)",
            "  easy (11 paired): error *, incoherence *",
            "  hard (11 paired): error *, incoherence +*",
            "*REGRESSION test_quiz.py::test_quiz: incoherence on its hard items (11 paired) "
            "rose by * interval *even the lower bound exceeds the tolerance 0.05*",
        ]
    )
    report = _report(pytester)
    test = report["comparison"]["tests"][0]
    # items paired by id whatever their order: q0 only in the baseline, q23 only now
    assert test["items_only_current"] == ["q23"] and test["items_only_baseline"] == ["q0"]
    assert test["items_paired"] == 22
    buckets = {b["bucket"]: b for b in test["buckets"]}
    assert set(buckets) == {"easy", "hard"}
    assert buckets["easy"]["figures"]["incoherence"]["change"] == pytest.approx(0.0)
    hard = buckets["hard"]["figures"]["incoherence"]
    assert hard["items"] == 11 and hard["low"] > 0.05
    [regression] = report["regressions"]
    assert regression["nodeid"] == "test_quiz.py::test_quiz"
    assert (regression["figure"], regression["bucket"]) == ("incoherence", "hard")
    assert (regression["change"], regression["low"]) == (hard["change"], hard["low"])
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    key = "test_quiz.py::test_quiz::hotmess.compare.hard.incoherence"
    assert float(props[key]) == pytest.approx(hard["change"])
    assert float(props[key + "_low"]) == pytest.approx(hard["low"])
    assert props["hotmess.compare.hard.items"] == "11"
    failures = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failures] == ["regressions"]


def test_a_bucket_rule_within_its_tolerance_passes(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    _baseline(pytester)
    result = pytester.runpytest(
        "--hotmess-model", "large", "--hotmess-compare", "small",
        "--hotmess-compare-fail", "incoherence@hard:0.9",
        "--hotmess-compare-fail", "incoherence@easy:0.05", "--hotmess-json", "out.json",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    assert "REGRESSION" not in result.stdout.str()
    assert _report(pytester)["regressions"] == []


def test_a_bad_bucket_name_is_a_usage_error_naming_its_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester)
    result = pytester.runpytest("--hotmess-compare-fail", "incoherence@tricky:0.05")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "--hotmess-compare-fail: bad fail rule 'incoherence@tricky:0.05': unknown difficulty "
        "bucket 'tricky'; use one of easy, medium, hard"
    ) in result.stderr.str()
    monkeypatch.setenv("HOTMESS_COMPARE_FAIL", "error@tough:0.1")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "environment variable HOTMESS_COMPARE_FAIL: bad fail rule" in result.stderr.str()
    monkeypatch.delenv("HOTMESS_COMPARE_FAIL")
    pytester.makefile(".yaml", hotmess=HOTMESS_YAML + "defaults:\n  compare_fail: bias@x:1\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "hotmess.yaml:5: defaults.compare_fail: bad fail rule 'bias@x:1'" in result.stderr.str()


# ----------------------------------------------------------------------------------------
# several models, one table


def _by_model(report: dict[str, Any]) -> list[tuple[str, str | None, int, float | None]]:
    return [
        (row["model"], row["bucket"], row["totals"]["items"], row["totals"]["incoherence"])
        for row in report["by_model"]
    ]


def test_models_parametrise_hotmess_model_into_one_table(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest(
        "--hotmess-models", "small,large", "--hotmess-json", "out.json",
        "--hotmess-html", "out.html", "--junitxml", "junit.xml", "-v",
    )  # fmt: skip
    result.assert_outcomes(passed=3)  # test_quiz twice, the test without the model once
    result.stdout.fnmatch_lines(
        [
            "*test_quiz.py::test_quiz?small? PASSED*",
            "*test_quiz.py::test_quiz?large? PASSED*",
            "*test_quiz.py::test_without_the_model PASSED*",
            "*hotmess by model and difficulty*",
            "model  difficulty  items  error * bias  variance  incoherence ?95% CI?",
            "small  easy           12  *",
            "small  hard           11  *",
            "large  easy           11  *",
            "large  hard           12  *",
        ]
    )
    report = _report(pytester)
    assert {t["nodeid"]: t.get("model") for t in report["tests"]} == {
        "test_quiz.py::test_quiz[large]": "large",
        "test_quiz.py::test_quiz[small]": "small",
    }
    rows = _by_model(report)
    assert [row[:3] for row in rows] == [
        ("small", "easy", 12),
        ("small", "hard", 11),
        ("large", "easy", 11),
        ("large", "hard", 12),
    ]
    by = {(model, bucket): inc for model, bucket, _, inc in rows}
    assert by[("large", "hard")] > by[("small", "hard")]  # the crossing the table is for
    for row in report["by_model"]:  # each row is the run's pooled figures over its items
        tests = [t for t in report["tests"] if t.get("model") == row["model"]]
        items = [i for t in tests for i in t["items"] if i.get("bucket") == row["bucket"]]
        error = sum(i["error"] for i in items) / len(items)
        assert row["totals"]["error"] == pytest.approx(error)
        low, high = row["totals"]["incoherence_low"], row["totals"]["incoherence_high"]
        assert low <= row["totals"]["incoherence"] <= high
    assert [m["name"] for m in report["run"]["models"]] == ["sim", "small", "large"]
    html = (pytester.path / "out.html").read_text()
    assert '<section id="by-model"><h2>By model and difficulty</h2>' in html
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["hotmess.model.large.hard.items"] == "12"
    assert float(props["hotmess.model.large.hard.incoherence"]) == pytest.approx(
        by[("large", "hard")]
    )


def test_the_model_table_is_the_same_under_xdist(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    options = ("--hotmess-models", "small,large", "-p", "no:randomly")
    pytester.runpytest(*options, "--hotmess-json", "one.json").assert_outcomes(passed=3)
    result = pytester.runpytest(*options, "-n", "2", "--hotmess-json", "two.json")
    result.assert_outcomes(passed=3)
    one, two = _report(pytester, "one.json"), _report(pytester, "two.json")
    assert two["by_model"] == one["by_model"]
    assert len(one["by_model"]) == 4


def test_the_model_table_has_its_buckets_without_any_report_file(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    result = pytester.runpytest("--hotmess-models", "large,small")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*hotmess by model and difficulty*",
            "large  easy           11  *",
            "large  hard           12  *",
            "small  easy           12  *",
            "small  hard           11  *",
        ]
    )
    assert "(none)" not in result.stdout.str()


def test_unknown_models_are_usage_errors_naming_their_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester)
    result = pytester.runpytest("--hotmess-models", "small,medium")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "--hotmess-models: unknown model 'medium'; known models: large, sim, small"
        in result.stderr.str()
    )
    monkeypatch.setenv("HOTMESS_MODELS", "small,,large")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "environment variable HOTMESS_MODELS: expected model names" in result.stderr.str()


def test_a_test_that_parametrises_the_model_itself_is_left_alone(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", hotmess=HOTMESS_YAML)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("hotmess_model", ["mine"])
        def test_own(hotmess_model):
            assert hotmess_model == "mine"
        """
    )
    result = pytester.runpytest("--hotmess-models", "small,large", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_own?mine? PASSED*"])
