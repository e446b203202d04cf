"""Nothing paid for is lost, and nothing misreported, when sampling or the test goes wrong."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from pytest_hotmess.sampling.budget import Budget, Prices
from pytest_hotmess.sampling.completion import Completion, Sample


def _tests(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    report = json.loads((pytester.path / "out.json").read_text())
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


def test_one_bad_item_keeps_every_other_item_and_counts_every_call(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def model(i):
            return float("nan") if i == 3 else float(i % 2)

        def test_nan(resample):
            resample.map(model, range(6), targets=[0.5] * 6, samples=4)
        """
    )
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*item-3*"])
    test = _tests(pytester)["test_nan"]
    assert test["calls"]["made"] == 24
    assert [item["id"] for item in test["items"]] == [f"item-{i}" for i in range(6)]
    bad = test["items"][3]
    assert bad["variance"] is None and "item-3" in bad["problem"]
    assert test["totals"]["items"] == 5


def test_a_duplicate_item_id_is_refused_before_any_call(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        calls = []

        def model(prompt):
            calls.append(prompt)
            return "a"

        def test_duplicate(resample):
            resample(model, "p", item="q1", target="a", samples=3)
            with pytest.raises(ValueError, match="item id 'q1' was already used"):
                resample(model, "p", item="q1", target="a", samples=3)
            with pytest.raises(ValueError, match="item id 'q2' was already used"):
                resample.map(model, ["x", "y"], items=["q2", "q2"], targets=["a", "a"])
            assert len(calls) == 3
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_later_item_voids_an_earlier_sequential_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def coherent(i):
            return "a"

        @pytest.mark.coherence(max_incoherence=0.3, max_samples=20)
        def test_then_more(resample):
            # 30 items of two kinds: decided at the first look (no error at all is a pass)
            resample.map(lambda i: "a" if i % 2 else "b", range(30), targets=["b"] * 30)
            assert resample._state.sequential is not None
            for i in range(60):  # scattered items added after the decision
                resample.record(["a", "b", "c", "d"] * 3, target="a", item=f"late{i}")
        """
    )
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(failed=1)
    test = _tests(pytester)["test_then_more"]
    assert test["verdict"] == "fail"
    assert test["totals"]["items"] == 90


@pytest.mark.parametrize("how", ["skip", "xfail"])
def test_a_skipped_or_xfailed_marked_test_is_not_reported_as_failing(
    pytester: pytest.Pytester, how: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.coherence(max_incoherence=0.4)
        def test_body(resample):
            pytest.{how}("no API key here")
        """
    )
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(**{"skipped" if how == "skip" else "xfailed": 1})
    assert _tests(pytester) == {}
    assert "coherence test recorded no samples" not in result.stdout.str()


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_pytest_skip_inside_the_model_skips_the_test(
    pytester: pytest.Pytester, flavour: str
) -> None:
    prefix = "async " if flavour == "async" else ""
    pytester.makepyfile(
        f"""
        import pytest

        {prefix}def model(prompt):
            pytest.skip("the endpoint is down")

        def test_skipping(resample):
            resample(model, "p", target="a", samples=4)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(skipped=1)


def test_a_sync_callable_returning_a_coroutine_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        async def amodel(prompt):
            return "a"

        def test_wrapped(resample):
            resample(lambda prompt: amodel(prompt), "p", target="a", samples=2)
        """
    )
    result = pytester.runpytest("-W", "error::RuntimeWarning")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*returned an awaitable when called synchronously*"])


def test_a_rerun_of_the_same_item_starts_afresh(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from _pytest.runner import runtestprotocol  # what pytest-rerunfailures does

        def pytest_runtest_protocol(item, nextitem):
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            runtestprotocol(item, nextitem=None, log=False)
            reports = runtestprotocol(item, nextitem=nextitem, log=True)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            return True
        """
    )
    pytester.makepyfile(
        """
        def test_twice(resample, record_property):
            resample.record(["a", "b"], item="q1", target="a")
        """
    )
    result = pytester.runpytest("--junitxml", "j.xml", "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=1)
    case = ET.parse(pytester.path / "j.xml").getroot().find(".//testcase")
    assert case is not None
    names = [prop.get("name") for prop in case.iter("property")]
    assert names.count("hotmess.items") == 1


def test_end_of_run_write_errors_are_reported_not_crashes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(resample):\n    resample.record(['a', 'b'], target='a')\n")
    (pytester.path / "afile").write_text("")
    result = pytester.runpytest("--hotmess-json", "afile/out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*pytest-hotmess: could not write *afile/out.json*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result = pytester.runpytest("--hotmess-save", "bad name")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_json_is_written_even_when_nothing_was_sampled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "out.json").write_text('{"stale": true}')
    pytester.runpytest("--hotmess-json", "out.json").assert_outcomes(passed=1)
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["tests"] == [] and report["exitstatus"] == 0


def test_cost_is_charged_for_completions_wrapped_in_samples() -> None:
    budget = Budget(max_cost=1.0, prices=Prices(input=1_000_000, output=0))
    assert budget.acquire()
    budget.charge(Sample(Completion(text="A", input_tokens=2), {"length": 3}))
    assert budget.usage.cost == 2.0 and budget.usage.input_tokens == 2
    assert not budget.acquire()
    assert budget.exhausted == "test cost budget of 1 used up"
