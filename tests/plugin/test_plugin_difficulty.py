"""Incoherence by difficulty through pytest, as a user runs it: every source, the JSON report
(schema'd), JUnit properties in both families, the terminal details, and xdist parity."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any

import jsonschema
import pytest

SCHEMA: dict[str, Any] = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)

# Outcomes recorded per item: the per-item split is exact (one-hot Brier, unbiased, K = 4), so
# every bucket's figures are known: AAAA e 0 v 0; AAAB e 1/2 v 1/2; AABB e 1 v 2/3;
# ABBB e 3/2 v 1/2; BBBB e 2 v 0; BBCC e 2 v 2/3.
RECORDED = """
import pytest
from pytest_hotmess import DatasetItem

OUTCOMES = {"e1": "AAAA", "e2": "AAAB", "m1": "AABB", "m2": "ABBB", "h1": "BBBB", "h2": "BBCC"}
LABELS = {"e1": "easy", "e2": "Easy", "m1": "medium", "m2": "MEDIUM", "h1": "hard", "h2": "hard"}
NUMBERS = {"e1": 0.1, "e2": 0.2, "m1": 0.4, "m2": 0.5, "h1": 0.8, "h2": 0.9}

@pytest.mark.coherence()
def test_given(resample):
    for item, outcomes in OUTCOMES.items():
        resample.record(list(outcomes), item=item, target="A", difficulty=NUMBERS[item])

@pytest.mark.coherence()
def test_dataset(resample):
    questions = [DatasetItem(id=i, prompt=i, choices=["x", "y", "z", "w"], answer="A",
                             metadata={"difficulty": LABELS[i]}) for i in OUTCOMES]
    answers = {i: iter(OUTCOMES[i]) for i in OUTCOMES}
    resample.map(lambda q: next(answers[q.id]), questions, targets=["A"] * 6,
                 items=list(OUTCOMES), samples=4, difficulty=[0.9] * 6)

@pytest.mark.coherence()
def test_run(resample):
    for item, outcomes in OUTCOMES.items():
        resample.record(list(outcomes), item=item, target="A")
"""

WANT = {  # bucket -> (error, bias, variance, incoherence), hand-computed
    "easy": (1 / 4, 0.0, 1 / 4, 1.0),
    "medium": (5 / 4, 2 / 3, 7 / 12, 7 / 15),
    "hard": (2.0, 5 / 3, 1 / 3, 1 / 6),
}


def _json(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    result = pytester.runpytest("--hotmess-json", "out.json", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    report: dict[str, Any] = json.loads((pytester.path / "out.json").read_text())
    jsonschema.validate(report, SCHEMA)
    return report


def _tests(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::")[-1]: t for t in report["tests"]}


def test_each_source_gives_the_hand_computed_buckets(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDED)
    tests = _tests(_json(pytester))
    # the dataset's labels win over the given numbers (all 0.9 here: all would be medium)
    sources = {name: t["difficulty"]["difficulty_source"] for name, t in tests.items()}
    assert sources == {"test_given": "given", "test_dataset": "dataset", "test_run": "run"}
    for name in ("test_given", "test_dataset"):
        difficulty = tests[name]["difficulty"]
        assert difficulty["scale"] == ("label" if name == "test_dataset" else "tertile")
        for bucket in difficulty["buckets"]:
            got = [bucket[k] for k in ("error", "bias", "variance", "incoherence")]
            assert got == pytest.approx(WANT[bucket["bucket"]], abs=1e-12), (name, bucket)
            assert bucket["items"] == 2
        buckets = {i["id"]: i["bucket"] for i in tests[name]["items"]}
        assert buckets == {"e1": "easy", "e2": "easy", "m1": "medium", "m2": "medium",
                           "h1": "hard", "h2": "hard"}  # fmt: skip
        assert difficulty["slope"]["slope"] == pytest.approx(-4 / 11, abs=1e-12)
    dataset_items = {i["id"]: i["difficulty"] for i in tests["test_dataset"]["items"]}
    assert dataset_items["e2"] == "easy"  # the label, in lower case
    assert tests["test_given"]["items"][0]["difficulty"] == 0.1
    # the run's own errors: 0, 1/2, 1, 3/2, 2, 2 -> ties at 2 share rank 5.5 -> hard
    run = tests["test_run"]
    assert "couples difficulty with the measured error" in run["difficulty"]["note"]
    assert [i["bucket"] for i in run["items"]] == [
        "easy",
        "easy",
        "medium",
        "medium",
        "hard",
        "hard",
    ]


def test_junit_properties_per_case_and_per_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDED)
    report = _json(pytester, "--junitxml", "x1.xml", "-o", "junit_family=xunit1", "-k", "given")
    want = _tests(report)["test_given"]["difficulty"]
    case = ET.parse(pytester.path / "x1.xml").getroot().find(".//testcase[@name='test_given']")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["hotmess.difficulty.source"] == "given"
    for bucket in want["buckets"]:
        for figure in ("items", "error", "bias", "variance", "incoherence", "incoherence_low"):
            name = f"hotmess.difficulty.{bucket['bucket']}.{figure}"
            assert props[name] == ("null" if bucket[figure] is None else str(bucket[figure]))
    assert float(props["hotmess.difficulty.slope"]) == pytest.approx(-4 / 11)
    # xunit2 (pytest's default): the same figures as suite properties named by node id
    result = pytester.runpytest("--junitxml", "x2.xml", "-k", "given")
    assert result.ret == pytest.ExitCode.OK
    suite = ET.parse(pytester.path / "x2.xml").getroot()
    named = {p.get("name"): p.get("value") for p in suite.iter("property")}
    suffix = "::test_given::hotmess.difficulty.hard.incoherence"
    assert [float(v) for k, v in named.items() if k.endswith(suffix)] == [pytest.approx(1 / 6)]
    case = suite.find(".//testcase[@name='test_given']")
    assert case is not None and case.find(".//property") is None


def test_the_details_show_a_table_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDED)
    result = pytester.runpytest("--hotmess-details", "-k", "dataset")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*::test_dataset",
            "  by difficulty (dataset, label):",
            "    bucket  items  error   bias    var  incoherence [95% interval]",
            "    easy        2  0.250  0.000  0.250  1.000*",
            "    medium      2  1.250  0.667  0.583  0.467*",
            "    hard        2  2.000  1.667  0.333  0.167*",
            "    slope per bucket step: -0.364 *",
        ]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'resample.record(["A", "B"], item="q1", target="A", difficulty="tricky")',
            "item 'q1': difficulty 'tricky' is not a number or one of easy, medium, hard",
        ),
        (
            'resample.map(str, ["A", "B"], targets=["A", "A"], items=["p", "q"], '
            'difficulty=[0.2, "hard"])',
            "item 'q': difficulty 'hard' mixes labels and numbers with item 'p' (0.2)",
        ),
        (
            'resample.map(str, ["A", "B"], targets=["A", "A"], difficulty=[0.2])',
            "resample.map: difficulty has 1 entries for 2 inputs",
        ),
    ],
)
def test_a_bad_difficulty_fails_the_test_naming_item_and_value(
    pytester: pytest.Pytester, body: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.coherence()
        def test_bad(resample):
            {body}
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert message in result.stdout.str()


BASELINE = """
import os
import pytest

OUTCOMES = {"e1": "AAAA", "e2": "AAAB", "m1": "AABB", "m2": "ABBB", "h1": "BBBB", "h2": "BBCC"}

@pytest.mark.coherence()
def test_quiz(resample):
    items = list(OUTCOMES) if os.environ["RUN"] == "base" else list(reversed(OUTCOMES))
    for item in items:  # the second run answers each item as the baseline did its mirror
        mirror = list(OUTCOMES)[5 - list(OUTCOMES).index(item)]
        outcomes = OUTCOMES[item] if os.environ["RUN"] == "base" else OUTCOMES[mirror]
        resample.record(list(outcomes), item=item, target="A")
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_baseline_errors_are_the_reference_difficulty(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """Items paired by node id and item id: the reference buckets follow the baseline's errors,
    not this run's (which are mirrored), on xdist workers too."""
    pytester.makepyfile(BASELINE)
    monkeypatch.setenv("RUN", "base")
    pytester.runpytest("--hotmess-save", "base").assert_outcomes(passed=1)
    monkeypatch.setenv("RUN", "new")
    report = _json(pytester, "--hotmess-compare", "base", "-n", workers)
    test = report["tests"][0]
    assert test["difficulty"]["difficulty_source"] == "reference"
    buckets = {i["id"]: i["bucket"] for i in test["items"]}
    assert buckets == {"e1": "easy", "e2": "easy", "m1": "medium", "m2": "medium",
                       "h1": "hard", "h2": "hard"}  # fmt: skip
    errors = {i["id"]: i["difficulty"] for i in test["items"]}
    assert errors["e1"] == 0.0 and errors["h2"] == 2.0  # the baseline's errors
    # this run's own errors are mirrored: its easy bucket holds the two items it got wrong
    easy = next(b for b in test["difficulty"]["buckets"] if b["bucket"] == "easy")
    assert easy["error"] == pytest.approx(2.0)


def test_xdist_gives_the_same_figures_as_one_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDED)
    one = _tests(_json(pytester, "-n", "0"))
    two = _tests(_json(pytester, "-n", "2"))
    for name in one:
        assert one[name]["difficulty"] == two[name]["difficulty"], name
        assert [i["bucket"] for i in one[name]["items"]] == [
            i["bucket"] for i in two[name]["items"]
        ]


def test_ingest_takes_difficulty_by_item_id(pytester: pytest.Pytester) -> None:
    rows = [
        {"item": item, "sample": k, "outcome": outcome, "target": "A"}
        for item, outcomes in (("x", "AAAB"), ("y", "AABB"), ("z", "BBCC"))
        for k, outcome in enumerate(outcomes)
    ]
    pytester.path.joinpath("samples.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n"
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence()
        def test_ingested(resample):
            resample.ingest("samples.jsonl", difficulty={"x": 1, "y": 5, "z": 9})

        @pytest.mark.coherence()
        def test_unknown(resample):
            resample.ingest("samples.jsonl", difficulty={"nope": 1})
        """
    )
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(passed=1, failed=1)
    assert "difficulty names items the source does not have: 'nope'" in result.stdout.str()
    report = json.loads((pytester.path / "out.json").read_text())
    test = next(t for t in report["tests"] if t["nodeid"].endswith("test_ingested"))
    assert test["difficulty"]["difficulty_source"] == "given"
    assert [(i["id"], i["bucket"]) for i in test["items"]] == [
        ("x", "easy"), ("y", "medium"), ("z", "hard"),
    ]  # fmt: skip


def test_the_html_page_has_the_difficulty_section(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RECORDED)
    result = pytester.runpytest("--hotmess-html", "report.html", "-k", "given")
    assert result.ret == pytest.ExitCode.OK
    page = (pytester.path / "report.html").read_text()
    assert '<section id="difficulty"><h2>Incoherence by difficulty</h2>' in page
    assert "difficulty from given (tertile)" in page
    assert "incoherence per bucket step" in page


def test_a_single_item_call_and_its_async_twin_take_a_difficulty(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import itertools
        import pytest

        ANSWERS = {"e": "AAAB", "m": "AABB", "h": "BBCC"}

        def model_for(item):
            answers = itertools.cycle(ANSWERS[item])
            return lambda: next(answers)

        @pytest.mark.coherence()
        def test_sync(resample):
            for item, level in (("e", "easy"), ("m", "medium"), ("h", "hard")):
                resample(model_for(item), item=item, target="A", samples=4, difficulty=level)

        @pytest.mark.asyncio
        @pytest.mark.coherence()
        async def test_async(resample):
            for item, level in (("e", 1), ("m", 2), ("h", 3)):
                await resample.acall(model_for(item), item=item, target="A", samples=4,
                                     difficulty=level)
        """
    )
    tests = _tests(_json(pytester, "-p", "no:randomly"))
    for name, scale in (("test_sync", "label"), ("test_async", "tertile")):
        difficulty = tests[name]["difficulty"]
        assert (difficulty["difficulty_source"], difficulty["scale"]) == ("given", scale)
        assert [i["bucket"] for i in tests[name]["items"]] == ["easy", "medium", "hard"]
