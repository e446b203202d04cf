"""Statistical gate, sequential sampling and budgets through the plugin, as users run them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

SCHEMA = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)

SIM_SUITE = """
import pytest
from pytest_hotmess import format_prompt, load_bundled_questions
from pytest_hotmess.sim import coherent, extract_letter, hot_mess

QUESTIONS = load_bundled_questions()
PROMPTS = [format_prompt(q) for q in QUESTIONS]
ANSWERS = [q.answer for q in QUESTIONS]
IDS = [q.id for q in QUESTIONS]

@pytest.mark.coherence(max_incoherence=0.4, max_samples=20)
def test_coherent(resample):
    resample.map(coherent(items=QUESTIONS, seed=1), PROMPTS, targets=ANSWERS, items=IDS,
                 extract=extract_letter)

@pytest.mark.coherence(max_incoherence=0.4, max_samples=20)
def test_hot_mess(resample):
    resample.map(hot_mess(items=QUESTIONS, seed=2), PROMPTS, targets=ANSWERS, items=IDS,
                 extract=extract_letter)
"""


def _report(pytester: pytest.Pytester, name: str = "out.json") -> dict[str, Any]:
    report: dict[str, Any] = json.loads((pytester.path / name).read_text())
    jsonschema.validate(report, SCHEMA)
    return report


def _tests(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


def test_sequential_sampling_stops_early_far_from_the_threshold(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SIM_SUITE)
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(passed=1, failed=1)
    tests = _tests(_report(pytester))
    n = 48
    for name, verdict in (("test_coherent", "pass"), ("test_hot_mess", "fail")):
        test = tests[name]
        sequential = test["sequential"]
        assert test["verdict"] == verdict
        assert sequential["looks"] == [2, 11, 20]
        k = sequential["samples_per_item"]
        assert k < 20, sequential  # decided before the last look
        assert {item["k"] for item in test["items"]} == {k}  # every item has the same K
        assert test["calls"]["made"] == n * k
        assert test["calls"]["saved"] == n * (20 - k)
        assert sequential["verdicts"] == {"max_incoherence": verdict}
    result.stdout.fnmatch_lines(["*fails at 95% confidence*"])


def test_sequential_rounds_continue_sample_indices(pytester: pytest.Pytester) -> None:
    """Later rounds draw new sample indices, so a seeded model gives fresh samples."""
    pytester.makepyfile(
        """
        import pytest
        from pytest_hotmess.sampling.context import current_sample

        seen = {}

        def model(prompt):
            seen.setdefault(prompt, []).append(current_sample.get())
            if prompt == "q":
                return "b"  # reliably wrong: error 2, variance 0
            return "a" if current_sample.get() % 2 else "b"  # scattered

        @pytest.mark.coherence(max_incoherence=0.01, max_samples=12)
        def test_rounds(resample):
            resample.map(model, ["p", "q"], targets=["a", "a"])
            for indices in seen.values():
                assert sorted(indices) == list(range(len(indices)))
            # two unlike items cannot decide at 95%: sampling runs to the last look
            assert {len(v) for v in seen.values()} == {12}
        """
    )
    result = pytester.runpytest("--hotmess-concurrency", "3")
    result.assert_outcomes(failed=1)  # inconclusive, decided by the point estimate
    result.stdout.fnmatch_lines(["*inconclusive at 95% confidence, decided by the point estimate*"])


@pytest.mark.parametrize(
    ("mode", "outcome"), [("point", "failed"), ("fail", "failed"), ("pass", "passed")]
)
def test_inconclusive_modes(pytester: pytest.Pytester, mode: str, outcome: str) -> None:
    pytester.makepyfile(
        """
        import pytest

        # three items, incoherence (2/3 + 1/2 + 1/2) / (1 + 1/2 + 3/2) = 5/9 > 0.5:
        # far too few items for a 95% decision either way
        ITEMS = [["a", "b", "a", "b"], ["a", "a", "a", "b"], ["a", "b", "b", "b"]]

        @pytest.mark.coherence(max_incoherence=0.5, confidence=0.95)
        def test_few(resample):
            for i, answers in enumerate(ITEMS):
                resample.record(answers, target="a", item=f"q{i}")
        """
    )
    result = pytester.runpytest("--hotmess-inconclusive", mode, "--hotmess-json", "out.json")
    result.assert_outcomes(**{outcome: 1})
    test = _tests(_report(pytester))["test_few"]
    assert test["verdict"] == "inconclusive"
    assert test["checks"][0]["verdict"] == "inconclusive"


def test_call_budget_exhausted_mid_test_leaves_a_complete_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def model(prompt):
            return "a"

        @pytest.mark.coherence(max_incoherence=0.5, samples=5)
        def test_budgeted(resample):
            resample.map(model, range(10), targets=["a"] * 10)

        def test_after(resample):
            resample.map(model, range(2), targets=["a"] * 2, samples=2)
        """
    )
    result = pytester.runpytest(
        "--hotmess-max-calls", "23", "--hotmess-concurrency", "1", "--hotmess-json", "out.json"
    )
    result.assert_outcomes(passed=2)
    tests = _tests(_report(pytester))
    budgeted = tests["test_budgeted"]
    assert budgeted["calls"]["made"] == 23
    assert budgeted["stopped_by"] == "test call budget of 23 calls used up"
    assert "sampling stopped early" in budgeted["message"]
    # item-major order: 4 whole items, then 3 samples of the fifth, which is still estimated
    assert [item["k"] for item in budgeted["items"]] == [5, 5, 5, 5, 3]
    assert budgeted["totals"]["items"] == 5
    assert tests["test_after"]["stopped_by"] is None  # the budget is per test


def test_run_budget_is_shared_by_all_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def model(prompt):
            return "a"

        def test_one(resample):
            resample.map(model, range(4), targets=["a"] * 4, samples=5)

        def test_two(resample):
            resample.map(model, range(4), targets=["a"] * 4, samples=5)
        """
    )
    result = pytester.runpytest("--hotmess-max-run-calls", "30", "--hotmess-json", "out.json")
    result.assert_outcomes(passed=2)
    tests = _tests(_report(pytester))
    assert tests["test_one"]["calls"]["made"] == 20
    assert tests["test_two"]["calls"]["made"] == 10
    assert tests["test_two"]["stopped_by"] == "run call budget of 30 calls used up"


def test_cost_budget_uses_model_token_prices(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        hotmess="models:\n  priced: {provider: sim, input_price: 1000000, output_price: 0}\n",
    )
    pytester.makepyfile(
        """
        from pytest_hotmess import format_prompt, load_bundled_questions
        from pytest_hotmess.sim import extract_letter

        Q = load_bundled_questions()[:10]

        def test_costly(resample, hotmess_model):
            resample.map(hotmess_model, [format_prompt(q) for q in Q],
                         targets=[q.answer for q in Q], extract=extract_letter, samples=4)
        """
    )
    result = pytester.runpytest(
        "--hotmess-model", "priced", "--hotmess-max-cost", "500", "--hotmess-json", "out.json"
    )
    result.assert_outcomes(passed=1)
    test = _tests(_report(pytester))["test_costly"]
    # a price of 1 per input token: the budget runs out after 500 worth of prompt tokens
    assert test["calls"]["cost"] == test["calls"]["input_tokens"] >= 500
    assert test["calls"]["made"] < 40
    assert test["stopped_by"] == "run cost budget of 500 used up"


def test_cost_budget_without_prices_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--hotmess-max-cost", "1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a cost budget needs token prices" in result.stderr.str()
