"""The Markdown step summary, as GitHub Actions reads it: appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from pathlib import Path

import pytest

SUITE = """
import pytest

@pytest.mark.coherence(max_incoherence=1.0)
@pytest.mark.parametrize("case", ["plain", "a|b"])
def test_gated(resample, case):
    resample.record(["a", "a", "a", "b"], target="a", item="q1")
    resample.record(["a", "a", "a", "a"], target="a", item="q2")

def test_plain():
    pass
"""


def _sections(text: str) -> list[str]:
    return [part for part in text.split("### hotmess coherence") if part.strip()]


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_the_table_is_appended_to_github_step_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: bool
) -> None:
    summary = pytester.path / "runner" / "step_summary.md"
    summary.parent.mkdir()
    summary.write_text("## an earlier step\n\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(SUITE)
    args = ["-n", "2"] if xdist else []
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=3)
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=3)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## an earlier step\n\n### hotmess coherence\n")
    sections = _sections(text.split("## an earlier step", 1)[1])
    assert len(sections) == 2  # one per run, none from a worker
    lines = sections[0].strip().splitlines()
    assert lines[0].startswith("| test | items | K | error |")
    assert lines[1].startswith("|---|---:|---|---:|")
    assert any("test_gated[a\\|b]" in line and "| pass |" in line for line in lines)
    assert any("test_gated[plain]" in line for line in lines)
    assert not any("test_plain" in line for line in lines)  # not a coherence test
    assert lines[-1].startswith("| **TOTAL (2 tests)** | **4** |")
    assert lines[-1].endswith("| **2 pass** |")
    for line in lines:  # every row has the header's column count (escaped pipes excepted)
        assert line.replace("\\|", "").count("|") == 10, line


def test_the_option_names_the_file_and_beats_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    ignored = pytester.path / "github.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(ignored))
    pytester.makepyfile(SUITE)
    result = pytester.runpytest_subprocess("--hotmess-step-summary=out/summary.md")
    result.assert_outcomes(passed=3)
    written = Path(pytester.path, "out", "summary.md").read_text(encoding="utf-8")
    assert len(_sections(written)) == 1
    assert not ignored.exists()
    result.stdout.fnmatch_lines(["step summary: *summary.md"])


def test_no_summary_without_a_coherence_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert not summary.exists()
