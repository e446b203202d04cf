"""Settings as a user meets them: --help, environment variables, ini types, yaml rules, None."""

from __future__ import annotations

import json

import pytest

from pytest_hotmess.config.settings import OPTIONS

TWO_ITEMS = """
import pytest

def test_sampled(resample):
    resample.record(["a", "a", "b"], target="a", item="q1")
    resample.record(["a", "b", "b"], target="a", item="q2")
"""


def _report(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    data = json.loads((pytester.path / "out.json").read_text())
    return {test["nodeid"].split("::")[-1]: test for test in data["tests"]}


def test_help_shows_each_ini_type_and_each_environment_variable(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())  # help text is wrapped: compare it unwrapped
    assert "hotmess_details (bool):" in text
    assert "hotmess_compare_fail (linelist):" in text
    assert "hotmess_samples (string):" in text
    for option in OPTIONS:
        assert f"[env {option.env_var}]" in text, option.name
    assert "[GITHUB_STEP_SUMMARY]" in text


def test_environment_beats_ini_and_command_line_beats_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nhotmess_samples = 4\nhotmess_json = out.json\n")
    pytester.makepyfile(
        """
        def test_k(resample):
            resample(lambda: "a", target="a", item="q")
        """
    )
    monkeypatch.setenv("HOTMESS_SAMPLES", "3")
    pytester.runpytest().assert_outcomes(passed=1)
    assert _report(pytester)["test_k"]["samples"] == 3
    pytester.runpytest("--hotmess-samples", "5").assert_outcomes(passed=1)
    assert _report(pytester)["test_k"]["samples"] == 5
    monkeypatch.delenv("HOTMESS_SAMPLES")
    pytester.runpytest().assert_outcomes(passed=1)
    assert _report(pytester)["test_k"]["samples"] == 4


def test_a_bool_ini_option_turns_details_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nhotmess_details = true\n")
    pytester.makepyfile(TWO_ITEMS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hotmess details*"])


def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_x(): pass")
    monkeypatch.setenv("HOTMESS_CONCURRENCY", "zero")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "environment variable HOTMESS_CONCURRENCY: expected an integer" in (result.stderr.str())


def test_total_row_says_one_test_not_one_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TWO_ITEMS)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["TOTAL (1 test) *"])
    assert "(1 tests)" not in result.stdout.str()


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_a_yaml_glob_threshold_skips_variance_only_tests_with_a_note(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makefile(".yaml", hotmess="thresholds:\n  - {match: '*', max_incoherence: 1.0}\n")
    pytester.makepyfile(
        """
        def test_no_targets(resample):
            resample.record(["a", "b", "a"], item="q1")
            resample.record(["a", "a", "a"], item="q2")

        def test_targets(resample):
            resample.record(["a", "a", "b"], target="a", item="q1")
        """
    )
    result = pytester.runpytest(*(["-n", "2"] if xdist else []), "--hotmess-json=out.json")
    result.assert_outcomes(passed=2)
    tests = _report(pytester)
    assert tests["test_no_targets"]["thresholds"] == {}
    assert "hotmess.yaml max_incoherence not applied: no item of this test has a target" in str(
        tests["test_no_targets"]["message"]
    )
    assert tests["test_targets"]["thresholds"] == {"max_incoherence": 1.0}


def test_none_on_the_marker_unsets_a_yaml_threshold_and_an_outer_marker(
    pytester: pytest.Pytester,
) -> None:
    # both items: p_a = 2/3, target a, K=3: incoherence well above 0.1
    pytester.makefile(".yaml", hotmess="thresholds:\n  - {match: '*', max_incoherence: 0.1}\n")
    pytester.makepyfile(
        """
        import pytest

        def _sample(resample):
            resample.record(["a", "a", "b"], target="a", item="q1")
            resample.record(["a", "b", "a"], target="a", item="q2")

        def test_file_rule(resample):
            _sample(resample)

        @pytest.mark.coherence(max_incoherence=None)
        def test_unset(resample):
            _sample(resample)

        @pytest.mark.coherence(max_error=5.0)
        class TestOuter:
            @pytest.mark.coherence(max_incoherence=None, max_error=None)
            def test_unset_both(self, resample):
                _sample(resample)
        """
    )
    result = pytester.runpytest("--hotmess-json=out.json")
    result.assert_outcomes(passed=2, failed=1)
    tests = _report(pytester)
    assert tests["test_file_rule"]["verdict"] == "fail"
    assert tests["test_unset"]["thresholds"] == {}
    assert tests["test_unset_both"]["thresholds"] == {}


_PRICED_SUITE = """
from pytest_hotmess import format_prompt, load_bundled_questions
from pytest_hotmess.sim import extract_letter

Q = load_bundled_questions()[:10]

def _run(resample, model):
    resample.map(model, [format_prompt(q) for q in Q],
                 targets=[q.answer for q in Q], extract=extract_letter, samples=4)

def test_one(resample, hotmess_model):
    _run(resample, hotmess_model)

def test_two(resample, hotmess_model):
    _run(resample, hotmess_model)
"""


def _priced(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        hotmess="models:\n  priced: {provider: sim, input_price: 1000000, output_price: 0}\n",
    )
    pytester.makepyfile(_PRICED_SUITE)


def test_a_per_test_cost_budget_stops_each_test_on_its_own(pytester: pytest.Pytester) -> None:
    _priced(pytester)
    result = pytester.runpytest(
        "--hotmess-model", "priced", "--hotmess-max-test-cost", "500", "--hotmess-json=out.json"
    )
    result.assert_outcomes(passed=2)
    for name in ("test_one", "test_two"):  # a run budget of 500 would leave test_two nothing
        test = _report(pytester)[name]
        calls = test["calls"]
        assert isinstance(calls, dict)
        assert 0 < calls["made"] < 40
        assert calls["cost"] >= 500
        assert test["stopped_by"] == "test cost budget of 500 used up"


@pytest.mark.parametrize("flag", ["--hotmess-max-run-cost", "--hotmess-max-cost"])
def test_the_run_cost_budget_is_shared_by_the_run_under_either_name(
    pytester: pytest.Pytester, flag: str
) -> None:
    _priced(pytester)
    result = pytester.runpytest("--hotmess-model", "priced", flag, "500", "--hotmess-json=out.json")
    result.assert_outcomes(passed=2)
    report = _report(pytester)
    one = report["test_one"]
    assert one["stopped_by"] == "run cost budget of 500 used up"
    # the run's budget was spent by the first test: the second makes no call (and, having
    # sampled no item, is not a coherence test in the report)
    two = report.get("test_two")
    assert two is None or (isinstance(two["calls"], dict) and two["calls"]["made"] == 0)


def test_a_per_test_cost_budget_without_prices_names_its_option(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--hotmess-max-test-cost", "1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hotmess-max-test-cost: a cost budget needs token prices" in result.stderr.str()
