"""No failed test reads as a pass: a test whose sampling raised has verdict ``error`` everywhere.

Every scenario runs pytest through ``pytester`` as a user would and reads the JSON report, the
JUnit XML and the HTML page it wrote, and the terminal table.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from pytest_hotmess.stats.decompose import estimate_item
from pytest_hotmess.stats.outcomes import ItemTypeError

# One test per way sampling can raise; each must fail with verdict ``error`` in every report.
_FAILING_TESTS = """
import pytest


class Response:
    # an SDK-like response object: hashable by identity, no label in sight
    def __init__(self, text):
        self.text = text


@pytest.mark.coherence(max_incoherence=0.5)
def test_first_call_fails(resample):
    def model():
        raise RuntimeError("connection refused\\nsecond line")

    resample(model, target="a", samples=4)


@pytest.mark.coherence(max_incoherence=0.5)
def test_sdk_object(resample):
    resample(lambda: Response("a"), target="a", samples=3)


@pytest.mark.coherence(max_incoherence=0.5)
def test_unreadable_outcome(resample):
    resample(lambda: {1, 2}, target="a", samples=3)


@pytest.mark.coherence(max_incoherence=0.5)
def test_record_str(resample):
    resample.record("abc", target="a")


@pytest.mark.coherence(max_incoherence=0.9)
def test_budget_single_item(resample):
    resample(lambda: "a", target="a", samples=3)
    resample(lambda: "a", item="second", target="a", samples=2)


@pytest.mark.coherence(max_incoherence=0.9)
def test_fine(resample):
    resample(lambda: "a", target="a", samples=2)
"""

_ERRORS = {
    "test_first_call_fails": ("RuntimeError: connection refused", 1, 1),
    "test_sdk_object": ("of type test_cases.Response is not a label", 3, 0),
    "test_unreadable_outcome": ("of type set is", 3, 0),
    "test_record_str": ("item 'item-0': outcomes must be a sequence", 0, 0),
    "test_budget_single_item": ("item 'second' was not sampled: test call budget of 3", 3, 0),
}


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_cases=_FAILING_TESTS)
    return pytester.runpytest(
        "--hotmess-max-calls",
        "3",
        "--hotmess-concurrency",
        "1",
        "--hotmess-json",
        "out.json",
        "--hotmess-html",
        "out.html",
        "--junitxml",
        "out.xml",
        "-o",
        "junit_family=xunit1",  # per-test properties on each test case
        *args,
    )


def _json_tests(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    report = json.loads((pytester.path / "out.json").read_text())
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


def _junit(pytester: pytest.Pytester) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    root = ET.parse(pytester.path / "out.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    suite_props = {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
    cases: dict[str, dict[str, str]] = {}
    for case in suite.iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        props["_outcome"] = (
            "failed" if case.find("failure") is not None or case.find("error") is not None else ""
        )
        cases[case.get("name", "")] = props
    return suite_props, cases


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_a_test_whose_sampling_raised_is_an_error_in_every_report(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    result = _run(pytester, *(["-n", "2"] if xdist else []))
    result.assert_outcomes(failed=len(_ERRORS), passed=1)
    tests = _json_tests(pytester)
    _, cases = _junit(pytester)
    html = (pytester.path / "out.html").read_text()
    for name, (reason, made, failed) in _ERRORS.items():
        test = tests[name]  # present: none disappears from the JSON
        assert (test["outcome"], test["verdict"]) == ("failed", "error"), name
        assert test["message"].startswith("sampling failed: ") and reason in test["message"]
        assert "\n" not in test["message"].split("sampling stopped early")[0].strip()
        assert (test["calls"]["made"], test["calls"]["failed"]) == (made, failed), name
        props = cases[name]
        assert props["_outcome"] == "failed"
        assert props["hotmess.verdict"] == "error"
        assert reason in props["hotmess.error"]
        assert (props["hotmess.calls"], props["hotmess.calls_failed"]) == (str(made), str(failed))
        assert f"test_cases.py::{name}: error: " in html
        result.stdout.fnmatch_lines([f"test_cases.py::{name} * error"])
        result.stdout.fnmatch_lines([f"error test_cases.py::{name}: sampling failed: *"])
    assert tests["test_fine"]["verdict"] == "no-errors"
    assert "second line" not in tests["test_first_call_fails"]["message"]
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["totals"]["verdicts"] == {"error": len(_ERRORS), "no-errors": 1}
    result.stdout.fnmatch_lines([f"TOTAL (6 tests) * {len(_ERRORS)} error, 1 no-errors"])
    assert "IndexError" not in result.stdout.str()


def test_the_json_report_with_an_error_verdict_matches_the_schema(
    pytester: pytest.Pytester,
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from importlib.resources import files

    _run(pytester)
    schema = json.loads(files("pytest_hotmess").joinpath("data/report.schema.json").read_text())
    jsonschema.validate(json.loads((pytester.path / "out.json").read_text()), schema)


def test_a_test_that_catches_the_sampling_error_keeps_its_judged_verdict(
    pytester: pytest.Pytester,
) -> None:
    """Only a sampling error that fails the test makes the verdict ``error``."""
    pytester.makepyfile(
        """
        import pytest
        from pytest_hotmess.sampling.resampler import SamplingError

        def test_caught(resample):
            resample(lambda: "a", target="a", samples=3)
            with pytest.raises(SamplingError):
                resample(lambda: 1 / 0, item="bad", target="a", samples=3)

        def test_other_failure(resample):
            with pytest.raises(TypeError):
                resample.record(b"ab", target="a")
            resample(lambda: "a", target="a", samples=3)
            assert False, "the test's own assertion"
        """
    )
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(passed=1, failed=1)
    tests = _json_tests(pytester)
    assert tests["test_caught"]["verdict"] == "ungated"
    assert (tests["test_other_failure"]["outcome"], tests["test_other_failure"]["verdict"]) == (
        "failed",
        "ungated",
    )


def test_record_rejects_a_bare_string_or_bytes_naming_the_item(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("outcomes", ["abc", b"abc", {"a": 1}])
        def test_bare(resample, outcomes):
            with pytest.raises(TypeError, match="item 'q7': outcomes must be a sequence"):
                resample.record(outcomes, item="q7", target="a")
            assert resample.items == ()

        def test_sequences_still_work(resample):
            item = resample.record(["a", "b", "a"], item="q8", target="a")
            assert item.k == 3
        """
    )
    pytester.runpytest().assert_outcomes(passed=4)


# -- categorical labels ---------------------------------------------------------------------


class _Colour(enum.Enum):
    RED = "r"
    BLUE = "b"


class _Response:
    """What an SDK returns: hashable by identity, equal to nothing else."""

    def __init__(self, text: str) -> None:
        self.text = text


@pytest.mark.parametrize(
    "outcomes",
    [
        [_Response("a"), _Response("a")],
        ["a", _Response("a")],
        [frozenset({"a"}), frozenset({"a"})],
        [("a", 0.5), ("a", 0.5)],
        [("a", _Response("a")), ("a", "b")],
    ],
    ids=["sdk-object", "mixed", "frozenset", "tuple-with-float", "tuple-with-object"],
)
def test_a_label_that_is_not_str_int_bool_enum_or_a_tuple_of_them_is_an_error(
    outcomes: list[object],
) -> None:
    with pytest.raises(ItemTypeError, match=r"item 'q1': .*of type .* is not a label"):
        estimate_item(outcomes, item_id="q1")


def test_the_error_names_the_objects_type_not_its_repr() -> None:
    with pytest.raises(ItemTypeError) as caught:
        estimate_item([_Response("secret-ish"), _Response("x")], item_id="q1")
    assert f"{__name__}._Response" in str(caught.value)
    assert "secret-ish" not in str(caught.value)


def test_an_object_target_is_refused_as_well() -> None:
    with pytest.raises(ItemTypeError, match=r"item 'q1': the target of type .*_Response"):
        estimate_item(["a", "b"], _Response("a"), item_id="q1")


@pytest.mark.parametrize(
    ("outcomes", "target", "counts"),
    [
        (["a", "b", "a"], "a", {"a": 2, "b": 1}),
        ([1, 2, 1], 1, {"1": 2, "2": 1}),
        ([_Colour.RED, _Colour.BLUE, _Colour.RED], _Colour.RED, {"RED": 2, "BLUE": 1}),
        ([("a", 1), ("a", 2), ("a", 1)], ("a", 1), {"('a', 1)": 2, "('a', 2)": 1}),
        ([("a", (True, _Colour.RED)), ("b", (True, _Colour.RED))], NotImplemented, None),
        ([b"x", b"y", b"x"], b"x", {"b'x'": 2, "b'y'": 1}),
    ],
)
def test_valid_labels_give_the_same_numbers(
    outcomes: list[object], target: object, counts: dict[str, int] | None
) -> None:
    if target is NotImplemented:
        assert estimate_item(outcomes).kind == "categorical"
        return
    est = estimate_item(outcomes, target)
    assert (est.kind, est.counts) == ("categorical", counts)
    p = 2 / 3  # two of three samples hit the target: Brier error 2(1 - p) under the unbiased
    assert est.error == pytest.approx(2 * (1 - p))
    assert est.variance == pytest.approx(3 / 2 * (1 - p**2 - (1 - p) ** 2))


def test_kind_categorical_still_takes_any_hashable_label() -> None:
    first, second = _Response("a"), _Response("b")
    est = estimate_item([first, first, second], first, kind="categorical")
    assert est.kind == "categorical" and sorted(est.counts.values()) == [1, 2]
