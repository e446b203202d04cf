"""``python -m pytest_hotmess report``: the table, the files, and the exit status a pipeline
reads, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _known import assert_same_figures, run_twin
from _sampling_server import ANSWERS, TARGETS

DATA = Path(__file__).parent.parent / "data" / "ingest"
LM_EVAL = DATA / "samples_hotmess_questions.jsonl"
KNOWN = [(str(i), ANSWERS[q], TARGETS[q]) for i, q in enumerate(ANSWERS)]


def _report(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_hotmess", "report", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_a_passing_gate_exits_0_and_writes_the_plugins_figures(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    done = _report(LM_EVAL, "--max-incoherence", "0.9", "--json", "r.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "hotmess_questions" in done.stdout and "pass" in done.stdout
    assert "JSON report: r.json" in done.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == "pytest-hotmess/1"
    (test,) = report["tests"]
    assert test["nodeid"] == str(LM_EVAL) and test["verdict"] == "pass"
    _, recorded = run_twin(pytester, LM_EVAL, KNOWN)
    assert_same_figures(test, recorded)


def test_a_failing_gate_exits_1_with_a_junit_failure(tmp_path: Path) -> None:
    done = _report(
        LM_EVAL, "--max-incoherence", "0.1", "--junitxml", "j.xml", "--html", "r.html", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert f"FAILED {LM_EVAL}: coherence gate failed" in done.stdout
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    case = suite.find("testcase")
    assert case is not None and case.get("name") == str(LM_EVAL)
    failure = case.find("failure")
    assert failure is not None and "max_incoherence 0.1" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["hotmess.verdict"] == "fail" and props["hotmess.items"] == "3"
    assert "<html" in (tmp_path / "r.html").read_text().lower()


def test_each_source_is_one_test_and_extract_takes_a_regex(tmp_path: Path) -> None:
    plain = tmp_path / "s.jsonl"
    rows = [
        {"item": "a", "sample": i, "outcome": f"answer: {x}", "target": "1"}
        for i, x in enumerate("1121")
    ]
    plain.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = _report(
        plain,
        LM_EVAL,
        "--extract",
        r"(\w+)$",
        "--json",
        "r.json",
        "--json-detail",
        "samples",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    tests = json.loads((tmp_path / "r.json").read_text())["tests"]
    assert [t["nodeid"] for t in tests] == [str(plain), str(LM_EVAL)]
    assert tests[0]["items"][0]["counts"] == {"1": 3, "2": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-incoherence", "2"], "--max-incoherence must lie in [0, 1], got 2.0"),
        (["--kind", "colour"], "--kind must be one of"),
        (["--extract", "("], "--extract: not a regular expression"),
        (["--format", "yaml"], "unknown format 'yaml'"),
    ],
    ids=["threshold", "kind", "regex", "format"],
)
def test_a_bad_option_exits_4_naming_it(tmp_path: Path, args: list[str], message: str) -> None:
    done = _report(LM_EVAL, *args, cwd=tmp_path)
    assert done.returncode == 4
    assert done.stderr.startswith("pytest-hotmess report: ")
    assert message in done.stderr


def test_a_bad_source_exits_4_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "s.csv"
    bad.write_text("item,sample,outcome\na,0,1\na,one,2\n")
    done = _report(bad, "--max-incoherence", "0.4", cwd=tmp_path)
    assert done.returncode == 4
    assert f"{bad}: line 3: field 'sample': expected a sample index" in done.stderr
    assert done.stdout == ""
