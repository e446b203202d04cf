"""hotmess_model, hotmess.yaml, and record/replay through the plugin, as a user runs them."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _fake_llm_server import FakeLLMServer

PLANTED_KEY = "sk-hotmess-PLANTED-0123456789"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


def test_default_model_is_the_offline_simulator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_hotmess import load_bundled_questions, format_prompt
        from pytest_hotmess.sim import extract_letter

        QUESTIONS = load_bundled_questions()[:12]

        @pytest.mark.coherence(samples=6)
        def test_quiz(resample, hotmess_model):
            assert hotmess_model.name == "sim"
            results = resample.map(
                hotmess_model,
                [format_prompt(q) for q in QUESTIONS],
                targets=[q.answer for q in QUESTIONS],
                items=[q.id for q in QUESTIONS],
                extract=extract_letter,
            )
            assert [r.k for r in results] == [6] * 12
            assert resample.result.error is not None
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


CONFIG = """
defaults:
  samples: 4
  seed: 3
thresholds:
  - match: "*::test_ruled*"
    max_incoherence: 0.0
  - match: "*::test_ruled_and_marked"
    samples: 6
models:
  other: {provider: sim, preset: hot_mess}
"""

RULED_SUITE = """
import pytest

# each item: K=4 (or 6), half right: incoherence 2/3 > 0
def half(k):
    return ["a", "b"] * (k // 2)

def test_ruled(resample):
    resample.record(half(resample._state.samples), target="a")
    assert resample._state.samples == EXPECTED_RULED

@pytest.mark.coherence(max_incoherence=0.9)
def test_ruled_and_marked(resample):
    resample.record(half(resample._state.samples), target="a")
    assert resample._state.samples == EXPECTED_MARKED

def test_unruled(resample):
    resample.record(half(4), target="a")
"""


def test_config_file_rules_defaults_and_precedence(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", hotmess=CONFIG)
    pytester.makepyfile(RULED_SUITE.replace("EXPECTED_RULED", "4").replace("EXPECTED_MARKED", "6"))
    result = pytester.runpytest("--hotmess-json-detail", "samples", "--hotmess-json", "out.json")
    # the file's rule gates test_ruled (not marked); the marker's threshold beats the rule
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*incoherence 0.6667 > max_incoherence 0 (1 item, K=4)*"])
    tests = {
        t["nodeid"].split("::")[1]: t for t in json.loads(Path("out.json").read_text())["tests"]
    }
    assert tests["test_ruled"]["thresholds"] == {"max_incoherence": 0.0}
    assert tests["test_ruled_and_marked"]["thresholds"] == {"max_incoherence": 0.9}
    assert tests["test_unruled"]["verdict"] == "ungated"
    # a command-line K beats the file's rules and defaults, but not a marker
    pytester.makepyfile(RULED_SUITE.replace("EXPECTED_RULED", "8").replace("EXPECTED_MARKED", "8"))
    pytester.runpytest("--hotmess-samples", "8").assert_outcomes(passed=2, failed=1)


def test_a_rule_matching_a_test_that_samples_nothing_does_not_fail_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", hotmess="thresholds: [{match: '*', max_incoherence: 0.5}]\n")
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest().assert_outcomes(passed=1)


def test_config_errors_are_usage_errors_with_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", hotmess="defaults:\n  samples: 1\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert re.search(r"hotmess\.yaml:2: defaults\.samples: ", result.stderr.str())


def test_explicit_config_path_must_exist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--hotmess-config", "nowhere.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "configuration file not found" in result.stderr.str()


def test_unknown_model_name_is_a_usage_error_listing_models(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".yaml", hotmess=CONFIG)
    pytester.makepyfile("def test_x(hotmess_model): pass")
    result = pytester.runpytest("--hotmess-model", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hotmess-model: unknown model 'nope'; known models: other, sim" in result.stderr.str()
    monkeypatch.setenv("HOTMESS_MODEL", "missing")
    result = pytester.runpytest()
    assert "environment variable HOTMESS_MODEL: unknown model 'missing'" in result.stderr.str()


def test_model_chosen_by_environment_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".yaml", hotmess=CONFIG)
    pytester.makepyfile("def test_x(hotmess_model):\n    assert hotmess_model.name == 'other'\n")
    monkeypatch.setenv("HOTMESS_MODEL", "other")
    pytester.runpytest().assert_outcomes(passed=1)


def _llm_suite(pytester: pytest.Pytester, base_url: str) -> None:
    pytester.makefile(
        ".yaml",
        hotmess=f"""
models:
  local: {{provider: openai, base_url: "{base_url}", model: tiny, api_key_env: HOTMESS_TEST_KEY,
          temperature: 1.0, max_attempts: 1, timeout: 5}}
""",
    )
    pytester.makepyfile(
        test_llm="""
import pytest

def extract(text):
    draw = int(text.rsplit("#", 1)[1])
    return "A" if draw % 3 else "B"

@pytest.mark.coherence(max_incoherence=1.0, samples=6)
@pytest.mark.parametrize("part", range(4))
def test_llm(resample, hotmess_model, part):
    prompts = [f"question {part}-{i}" for i in range(5)]
    resample.map(hotmess_model, prompts, targets=["A"] * 5, items=prompts, extract=extract)
"""
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_record_then_replay_gives_byte_identical_reports_without_a_server(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server: FakeLLMServer,
    workers: list[str],
) -> None:
    _llm_suite(pytester, server.openai_base_url)
    monkeypatch.setenv("HOTMESS_TEST_KEY", PLANTED_KEY)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    common = ["--hotmess-model", "local", "--junitxml", "junit.xml", *workers]
    recorded = pytester.runpytest_subprocess(
        *common,
        "--hotmess-record",
        "rec.jsonl",
        "--hotmess-json-detail",
        "samples",
        "--hotmess-json",
        "recorded.json",
    )
    recorded.assert_outcomes(passed=4)
    assert server.count() == 4 * 5 * 6
    assert all(r.headers.get("authorization") == f"Bearer {PLANTED_KEY}" for r in server.requests)
    assert not list(pytester.path.glob("rec.jsonl.*.part"))  # xdist parts merged and removed
    server.stop()
    monkeypatch.delenv("HOTMESS_TEST_KEY")  # replay needs no key
    replayed = pytester.runpytest_subprocess(
        *common,
        "--hotmess-replay",
        "rec.jsonl",
        "--hotmess-json-detail",
        "samples",
        "--hotmess-json",
        "replayed.json",
    )
    replayed.assert_outcomes(passed=4)
    recorded_json = (pytester.path / "recorded.json").read_bytes()
    report, again = (
        json.loads(recorded_json),
        json.loads((pytester.path / "replayed.json").read_bytes()),
    )
    # the run metadata says which of record and replay was on; everything else is identical
    run, run_again = report.pop("run"), again.pop("run")
    paths = (run.pop("record"), run_again.pop("replay"))
    assert paths == (str(pytester.path / "rec.jsonl"),) * 2
    assert (run.pop("replay"), run_again.pop("record")) == (None, None)
    settings, settings_again = run.pop("settings"), run_again.pop("settings")
    changed = {name for name in settings if settings[name] != settings_again[name]}
    assert changed == {"record", "replay", "json"}  # the options that differ, no other
    assert run == run_again and run["models"][0]["model"] == "tiny"
    assert json.dumps(report) == json.dumps(again)
    assert report["totals"]["items"] == 20
    assert all(
        "latency_s" in row for t in report["tests"] for i in t["items"] for row in i["covariates"]
    )
    # the planted key is nowhere: recording, reports, JUnit, terminal output
    artifacts = [p for p in pytester.path.rglob("*") if p.is_file() and p.suffix != ".pyc"]
    for path in artifacts:
        assert PLANTED_KEY not in path.read_text(errors="replace"), path
    for run in (recorded, replayed):
        assert PLANTED_KEY not in run.stdout.str() + run.stderr.str()


def test_replay_of_a_missing_request_names_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    _llm_suite(pytester, server.openai_base_url)
    monkeypatch.setenv("HOTMESS_TEST_KEY", PLANTED_KEY)
    pytester.runpytest_subprocess(
        "--hotmess-model", "local", "--hotmess-record", "rec.jsonl", "-k", "0"
    ).assert_outcomes(passed=1)
    server.stop()
    result = pytester.runpytest_subprocess(
        "--hotmess-model", "local", "--hotmess-replay", "rec.jsonl"
    )
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(["*ReplayMissError: no recorded answer for *question 1-0*"])


def test_corrupt_or_missing_recording_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "bad.jsonl").write_text("{not json\n")
    result = pytester.runpytest("--hotmess-replay", "bad.jsonl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "bad.jsonl:1:" in result.stderr.str()
    result = pytester.runpytest("--hotmess-replay", "absent.jsonl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "recording to replay not found" in result.stderr.str()
    result = pytester.runpytest("--hotmess-replay", "bad.jsonl", "--hotmess-record", "r.jsonl")
    assert "cannot be used together" in result.stderr.str()


def test_missing_api_key_fails_only_tests_that_use_the_model(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    _llm_suite(pytester, server.openai_base_url)
    monkeypatch.delenv("HOTMESS_TEST_KEY", raising=False)
    pytester.makepyfile(test_other="def test_other(): pass")
    result = pytester.runpytest("--hotmess-model", "local")
    result.assert_outcomes(passed=1, errors=4)
    result.stdout.fnmatch_lines(
        ["*cannot build model 'local'*HOTMESS_TEST_KEY (named by 'api_key_env') is not set*"]
    )
    assert os.environ.get("HOTMESS_TEST_KEY") is None


def test_hotmess_seed_fixture_follows_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_seed(hotmess_seed):\n    assert hotmess_seed == 17\n")
    pytester.runpytest("--hotmess-seed", "17").assert_outcomes(passed=1)
    pytester.makepyfile("def test_seed(hotmess_seed):\n    assert hotmess_seed == 0\n")
    pytester.runpytest().assert_outcomes(passed=1)
