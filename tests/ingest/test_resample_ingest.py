"""``resample.ingest`` in a user's suite: gates, reports and xdist see ingested samples as
drawn ones; a bad file fails the test naming file, line and field."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "data" / "ingest"
LM_EVAL = DATA / "samples_hotmess_questions.jsonl"


def _junit(pytester: pytest.Pytester) -> dict[str, ET.Element]:
    root = ET.parse(pytester.path / "j.xml").getroot()
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_a_gate_on_ingested_samples_fails_and_passes_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.coherence(max_incoherence=0.1)
        def test_strict(resample):
            resample.ingest({str(LM_EVAL)!r})

        @pytest.mark.coherence(max_incoherence=0.9)
        def test_lenient(resample):
            resample.ingest({str(LM_EVAL)!r})
        """
    )
    result = pytester.runpytest(
        "-n", "2", "--junitxml", "j.xml", "-o", "junit_family=xunit1", "--hotmess-json", "o.json"
    )
    result.assert_outcomes(passed=1, failed=1)
    cases = _junit(pytester)
    assert cases["test_strict"].find("failure") is not None
    props = {p.get("name"): p.get("value") for p in cases["test_lenient"].iter("property")}
    assert props["hotmess.verdict"] == "pass" and props["hotmess.items"] == "3"
    tests = json.loads((pytester.path / "o.json").read_text())["tests"]
    assert {t["nodeid"].rsplit("::")[-1]: t["verdict"] for t in tests} == {
        "test_strict": "fail",
        "test_lenient": "pass",
    }


def test_a_bad_file_errors_the_test_naming_file_line_and_field(
    pytester: pytest.Pytester,
) -> None:
    bad = pytester.path / "bad.jsonl"
    bad.write_text('{"item": "a", "sample": 0, "outcome": 1}\n{"item": "a", "outcome": 2}\n')
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(max_variance=1.0)
        def test_bad(resample):
            resample.ingest("bad.jsonl")
        """
    )
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*IngestError: bad.jsonl: line 2: field 'sample': missing*"])


def test_ingested_items_join_recorded_ones_and_take_kind_and_loss(
    pytester: pytest.Pytester,
) -> None:
    source = pytester.path / "s.csv"
    source.write_text("item,sample,outcome,target\nq,0,A,A\nq,1,B,A\nq,2,A,A\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence()
        def test_mixed(resample):
            resample.record(["A", "A", "B"], item="r", target="A")
            (item,) = resample.ingest("s.csv", kind="categorical", loss="kl")
            assert item.id == "q" and item.estimate.loss == "kl"
            after = resample.record(["A", "B"], item="s", target="A")
            assert after.estimate.loss == "brier"  # the marker's loss again

        @pytest.mark.coherence()
        def test_twice(resample):
            resample.ingest("s.csv")
            resample.ingest("s.csv")

        @pytest.mark.coherence()
        def test_unknown_loss(resample):
            resample.ingest("s.csv", loss="nope")
        """
    )
    result = pytester.runpytest("--hotmess-json", "o.json")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_twice*item id 'q' was already used in this test*",
            "*test_unknown_loss*resample.ingest: loss must be one of*got 'nope'*",
        ],
        consecutive=False,
    )
    (mixed,) = [
        t
        for t in json.loads((pytester.path / "o.json").read_text())["tests"]
        if t["nodeid"].endswith("test_mixed")
    ]
    assert [i["id"] for i in mixed["items"]] == ["r", "q", "s"]
