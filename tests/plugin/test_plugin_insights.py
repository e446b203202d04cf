"""Baselines and regressions, reasoning length, ensembles and the HTML page, through pytest."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

SUITE = """
import os
import pytest
from pytest_hotmess import format_prompt, load_bundled_questions
from pytest_hotmess.sim import PRESETS, MultipleChoiceSim, extract_letter

QUESTIONS = load_bundled_questions()
PRESET = os.environ.get("SIM_PRESET", "coherent")
DROP = int(os.environ.get("DROP_ITEMS", "0"))

@pytest.mark.coherence(samples=10)
def test_quiz(resample):
    model = MultipleChoiceSim(**PRESETS[PRESET], items=QUESTIONS, seed=int(os.environ["SEED"]))
    questions = QUESTIONS[DROP:]
    prompts = [format_prompt(q) for q in questions]
    resample.map(model, prompts, targets=[q.answer for q in questions],
                 items=[q.id for q in questions], extract=extract_letter)
"""


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, preset: str, seed: int, *args: str
) -> pytest.RunResult:
    monkeypatch.setenv("SIM_PRESET", preset)
    monkeypatch.setenv("SEED", str(seed))
    return pytester.runpytest(*args)


def test_save_then_compare_identical_model_has_no_regression(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SUITE)
    _run(pytester, monkeypatch, "coherent", 1, "--hotmess-save", "base").assert_outcomes(passed=1)
    saved = pytester.path / ".hotmess" / "base.json"
    assert json.loads(saved.read_text())["schema"] == "pytest-hotmess/1"
    result = _run(
        pytester, monkeypatch, "coherent", 2,
        "--hotmess-compare", "base", "--hotmess-compare-fail", "incoherence:0.05",
        "--hotmess-json-detail", "samples", "--hotmess-json", "out.json",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*hotmess baseline comparison*", "*::test_quiz: error *"])
    assert "REGRESSION" not in result.stdout.str()
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["regressions"] == []
    assert report["comparison"]["tests"][0]["items_paired"] == 48


def test_a_regression_beyond_tolerance_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SUITE)
    _run(pytester, monkeypatch, "coherent", 1, "--hotmess-save", "base").assert_outcomes(passed=1)
    monkeypatch.setenv("DROP_ITEMS", "3")
    result = _run(
        pytester, monkeypatch, "hot_mess", 1,
        "--hotmess-compare", "base", "--hotmess-compare-fail", "incoherence:0.05",
        "--hotmess-compare-fail", "variance:10",
        "--hotmess-json-detail", "samples", "--hotmess-json", "out.json",
    )  # fmt: skip
    result.assert_outcomes(passed=1)  # every test passed ...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ... but the run regressed
    result.stdout.fnmatch_lines(
        [
            "*REGRESSION *::test_quiz: incoherence rose by *"
            "even the lower bound exceeds the tolerance 0.05*"
        ]
    )
    assert "variance rose" not in result.stdout.str()  # within its (huge) tolerance
    report = json.loads((pytester.path / "out.json").read_text())
    assert [r["figure"] for r in report["regressions"]] == ["incoherence"]
    test = report["comparison"]["tests"][0]
    assert len(test["items_only_baseline"]) == 3  # dropped items are reported, not lost
    assert test["items_paired"] == 45


def test_compare_errors_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--hotmess-compare", "nothing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "baseline 'nothing' not found" in result.stderr.str()
    result = pytester.runpytest("--hotmess-compare-fail", "incoherence:0.05")
    assert "needs a baseline" in result.stderr.str()
    result = pytester.runpytest("--hotmess-compare-fail", "wobble:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hotmess-compare-fail" in result.stderr.str()


LENGTH_SUITE = """
import pytest
from pytest_hotmess import format_prompt, load_bundled_questions
from pytest_hotmess.sim import extract_letter, scattering

QUESTIONS = load_bundled_questions()

@pytest.mark.coherence(max_incoherence_slope=SLOPE, samples=12)
def test_length(resample):
    model = scattering(items=QUESTIONS, seed=4)
    prompts = [format_prompt(q) for q in QUESTIONS]
    resample.map(model, prompts, targets=[q.answer for q in QUESTIONS], extract=extract_letter)
"""


def test_length_analysis_and_slope_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LENGTH_SUITE.replace("SLOPE", "0.0"))
    result = pytester.runpytest(
        "--hotmess-json-detail", "samples", "--hotmess-json", "out.json", "--hotmess-details"
    )
    result.assert_outcomes(failed=1)  # incoherence rises with length on the scattering model
    result.stdout.fnmatch_lines(
        [
            "*incoherence slope per doubling of length * > max_incoherence_slope 0 *",
            "*hotmess details*",
            "*incoherence by reasoning_tokens: *",
            "*slope per doubling of length: +*",
        ]
    )
    test = json.loads((pytester.path / "out.json").read_text())["tests"][0]
    length = test["length"]
    assert length["covariate"] == "reasoning_tokens"
    assert len(length["buckets"]) == 4
    assert length["slope"]["slope"] > 0
    pytester.makepyfile(LENGTH_SUITE.replace("SLOPE", "1.0"))
    pytester.runpytest().assert_outcomes(passed=1)


def test_slope_threshold_without_lengths_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(max_incoherence_slope=0.1)
        def test_no_lengths(resample):
            for i in range(5):
                resample.record(["a", "b", "a"], target="a", item=f"q{i}")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*max_incoherence_slope: max_incoherence_slope needs a length*"])


def test_user_length_covariate_from_sample_objects(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import random
        from pytest_hotmess import Sample
        from pytest_hotmess.sampling.context import current_sample

        def model(item):
            rng = random.Random(item * 1000 + current_sample.get())
            length = 50 * (item + 1)
            wrong = rng.random() < 0.1 + 0.02 * item  # scatter grows with length
            return Sample(rng.choice("bcd") if wrong else "a", {"length": length})

        def test_user_length(resample):
            resample.map(model, range(20), targets=["a"] * 20, samples=10)
        """
    )
    result = pytester.runpytest("--hotmess-json-detail", "samples", "--hotmess-json", "out.json")
    result.assert_outcomes(passed=1)
    test = json.loads((pytester.path / "out.json").read_text())["tests"][0]
    assert test["length"]["covariate"] == "length"
    assert test["items"][0]["covariates"][0] == {"length": 50}


def test_ensembles_are_in_the_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_votes(resample):
            for i in range(6):
                resample.record(["a"] * 6 + ["b"] * 3 + ["c"], target="a", item=f"q{i}")
        """
    )
    pytester.runpytest(
        "--hotmess-json-detail", "samples", "--hotmess-json", "out.json"
    ).assert_outcomes(passed=1)
    ensembles = json.loads((pytester.path / "out.json").read_text())["tests"][0]["ensembles"]
    assert ensembles["ms"] == [1, 3, 5, 9]
    rows = {row["m"]: row for row in ensembles["averaging"]["rows"]}
    # averaging m samples divides the (unbiased) variance by m, bias unchanged
    assert rows[3]["variance"] == pytest.approx(rows[1]["variance"] / 3)
    assert rows[3]["bias"] == pytest.approx(rows[1]["bias"])
    majority = {row["m"]: row for row in ensembles["majority"]["rows"]}
    assert majority[9]["error"] < majority[1]["error"]  # a 60% majority answer wins votes


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"(https?:)?//", value):
                self.external.append(value)
            if tag == "img" and name == "src" and value and value.startswith("data:image/png"):
                self.images += 1


def test_html_report_is_self_contained(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SUITE)
    _run(pytester, monkeypatch, "coherent", 1, "--hotmess-save", "base")
    result = _run(
        pytester,
        monkeypatch,
        "hot_mess",
        1,
        "--hotmess-compare",
        "base",
        "--hotmess-html",
        "r/h.html",
    )
    result.stdout.fnmatch_lines(["HTML report: *h.html"])
    page: Any = (pytester.path / "r" / "h.html").read_text()
    parser = _Resources()
    parser.feed(page)
    assert parser.external == []
    assert "test_quiz" in page
    if _has_matplotlib():
        assert parser.images >= 1
    else:
        assert "pytest-hotmess[plot]" in page


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_baseline_name_must_be_simple(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile("def test_x(resample):\n    resample.record(['a', 'b'], target='a')\n")
    result = pytester.runpytest("--hotmess-compare", "a b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "must be letters, digits" in result.stderr.str()
