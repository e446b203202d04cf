"""The example suite, run as a user runs it: `make example`'s command in a fresh subprocess.

Each run works on a copy of example_suite/ in a temporary directory, started from that
directory's parent exactly as `make example` starts it from the repository root, so the suite's
own pytest.ini, conftest.py and hotmess.yaml are what configure it, and its reports land in the
copy instead of the checkout. Every number checked here comes from seeded simulated models, so
each run is deterministic: a check either always holds or always fails.

How far the checked figures are from their thresholds, measured by re-running the suite's
sampling outside pytest over 100 seeds (the suite's seeds are fixed, so this is the margin
against a change of seed, not a source of flakiness):

- coherent model, Brier: incoherence mean 0.122, sd 0.028, highest 0.194; upper 95% bound at
  most 0.280 (gate 0.4, truth 0.121). Under KL: mean 0.140, sd 0.034, highest 0.215.
- hot-mess model: incoherence mean 0.727, sd 0.018; lower 95% bound at least 0.649 (> 0.4).
- consistency (16 unlabelled questions): variance mean 0.082, sd 0.018, highest 0.122 (gate 0.25).
- optimizer, 8 problems x K=20: incoherence rose with length at all of 200 seeds, the smallest
  step between neighbouring lengths 0.025; per-length sd 0.004 to 0.028.
- difficulty, 150 questions x K=10: incoherence easy / medium / hard, mean (sd) over 100 seeds,
  small 0.846 (0.022) / 0.493 (0.020) / 0.142 (0.015), large 0.158 (0.044) / 0.399 (0.029) /
  0.618 (0.012); the two models' 95% intervals were apart on the easy and on the hard bucket
  at all 100 seeds, and each slope's interval excluded 0 (large: lowest bound +0.043; small:
  highest bound -0.279).

A 95% interval misses the truth for about 1 seed in 20; the intervals checked against the
simulators' truth below hold at the suite's fixed seeds.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from _fake_llm_server import FakeLLMServer, Reply

from pytest_hotmess import format_prompt, load_bundled_questions
from pytest_hotmess.config.file import parse_config
from pytest_hotmess.sim import QuadraticOptimizerSim, coherent, hot_mess, large, small

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "example_suite"
MAKE_EXAMPLE = (sys.executable, "-m", "pytest", "example_suite")
"""The command of the Makefile's `example` target, run from the folder holding example_suite/."""

COHERENT = "test_multiple_choice.py::test_model_is_coherent"
HOT_MESS = "test_multiple_choice.py::test_hot_mess_is_caught"
KL = "test_multiple_choice.py::test_model_is_coherent_kl"
CONSISTENT = "test_multiple_choice.py::test_model_is_consistent"
FINAL_LOSS = "test_optimizer.py::test_final_loss"
FINAL_POINT = re.compile(r"test_optimizer\.py::test_final_point\[(\d+)-steps\]")
API_KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
"""The key variables named by hotmess.yaml's examples: never passed on to the runs."""
DIFFICULTY = "test_difficulty.py::test_incoherence_by_difficulty[{}]"
MODEL_UNDER_TEST = (COHERENT, KL, CONSISTENT)
"""The tests that sample the `hotmess_model` fixture (retargeted by --hotmess-model)."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished run of the example suite: exit status, terminal output, parsed reports."""

    returncode: int
    stdout: str
    tests: dict[str, dict[str, Any]]
    """The JSON report's test entries, by node id."""
    junit: ET.Element

    def lengths(self) -> dict[int, dict[str, Any]]:
        """The optimizer's per-length tests, by trajectory length."""
        found = {}
        for nodeid, test in self.tests.items():
            match = FINAL_POINT.fullmatch(nodeid)
            if match:
                found[int(match.group(1))] = test
        return dict(sorted(found.items()))


def _copy_suite(root: Path) -> Path:
    shutil.copytree(
        SUITE,
        root / "example_suite",
        ignore=shutil.ignore_patterns("out", "__pycache__", ".pytest_cache"),
    )
    return root


def _run(root: Path, *options: str, extra_env: dict[str, str] | None = None) -> Run:
    """Run `make example`'s command plus ``options`` from ``root``; read the reports."""
    # A clean environment: nothing of the outer pytest run (xdist, addopts) or of the user's
    # own hotmess settings (HOTMESS_MODEL) or API keys leaks into the run.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "HOTMESS_")) and name not in API_KEY_VARIABLES
    }
    env["COLUMNS"] = "200"
    env.update(extra_env or {})
    done = subprocess.run(
        [*MAKE_EXAMPLE, *options],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    json_path = "example_suite/out/hotmess.json"
    output = done.stdout + done.stderr
    if not (root / json_path).is_file():
        pytest.fail(f"the run wrote no JSON report (exit {done.returncode}):\n{output}")
    report = json.loads((root / json_path).read_text(encoding="utf-8"))
    junit_path = root / "example_suite" / "out" / "junit.xml"
    junit = ET.parse(junit_path).getroot() if junit_path.exists() else ET.Element("none")
    tests = {test["nodeid"]: test for test in report["tests"]}
    return Run(done.returncode, output, tests, junit)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`make example` as a new user runs it: no options at all."""
    return _run(_copy_suite(tmp_path_factory.mktemp("example")))


# -- the default run ---------------------------------------------------------------------------


def test_the_run_is_green_with_only_the_hot_mess_test_xfailed(default_run: Run) -> None:
    assert default_run.returncode == 0, default_run.stdout
    outcomes = {nodeid: test["outcome"] for nodeid, test in default_run.tests.items()}
    assert outcomes.pop(HOT_MESS) == "xfailed"
    assert set(outcomes.values()) == {"passed"}
    # every kind of test the suite promises is there: 4 multiple-choice, 1 numeric, 5 lengths
    assert {COHERENT, KL, CONSISTENT, FINAL_LOSS} <= set(outcomes)
    assert len(default_run.lengths()) == 5


def test_the_hot_mess_model_is_caught_by_its_gate(default_run: Run) -> None:
    test = default_run.tests[HOT_MESS]
    assert (test["outcome"], test["verdict"]) == ("xfailed", "fail")
    assert test["thresholds"] == {"max_incoherence": 0.4}
    # caught clearly, not by a hair: the whole interval lies above the threshold
    assert test["totals"]["incoherence_low"] > 0.4
    assert "coherence gate failed" in test["message"]
    assert test["totals"]["invalid"] > 0  # its unparseable answers are counted, not dropped


def test_the_coherent_model_passes_its_gate(default_run: Run) -> None:
    test = default_run.tests[COHERENT]
    assert (test["outcome"], test["verdict"]) == ("passed", "pass")
    assert test["thresholds"] == {"max_incoherence": 0.4}
    assert test["totals"]["items"] == len(load_bundled_questions()) == 48
    assert test["samples"] == 10  # hotmess.yaml's defaults.samples
    assert test["totals"]["incoherence_high"] < 0.4


def test_the_reported_incoherences_cover_the_simulators_truth(default_run: Run) -> None:
    """The example's numbers are right, not just on the right side of their gates."""
    questions = load_bundled_questions()
    texts = [format_prompt(q) for q in questions]
    truths = {
        COHERENT: coherent(items=questions).true_incoherence(texts),  # 0.121
        HOT_MESS: hot_mess(items=questions).true_incoherence(texts),  # 0.726
    }
    for nodeid, truth in truths.items():
        totals = default_run.tests[nodeid]["totals"]
        assert truth is not None
        assert totals["incoherence_low"] <= truth <= totals["incoherence_high"], nodeid


def test_the_optimizers_incoherence_rises_with_trajectory_length(default_run: Run) -> None:
    lengths = default_run.lengths()
    assert list(lengths) == [5, 10, 20, 40, 80]
    measured = [test["totals"]["incoherence"] for test in lengths.values()]
    assert all(a < b for a, b in itertools.pairwise(measured)), measured
    assert {test["verdict"] for test in lengths.values()} == {"ungated"}
    # and each interval covers the pooled truth over the suite's eight problems
    problems = [QuadraticOptimizerSim(problem_seed=p) for p in range(8)]
    for steps, test in lengths.items():
        terms = [problem.true_terms(steps) for problem in problems]
        truth = sum(t[2] for t in terms) / sum(t[0] for t in terms)
        totals = test["totals"]
        assert totals["incoherence_low"] <= truth <= totals["incoherence_high"], steps
        assert totals["items"] == 8
        assert test["samples"] == 20


def _bucket(test: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(b for b in test["difficulty"]["buckets"] if b["bucket"] == name)
    return found


def test_the_larger_model_is_more_coherent_on_easy_items_and_not_on_hard_ones(
    default_run: Run,
) -> None:
    """Issue #18: the crossing, each side by more than the two intervals' width."""
    tests = {scale: default_run.tests[DIFFICULTY.format(scale)] for scale in ("small", "large")}
    for test in tests.values():
        assert test["verdict"] == "ungated"
        difficulty = test["difficulty"]
        assert (difficulty["difficulty_source"], difficulty["scale"]) == ("dataset", "tertile")
        assert [b["bucket"] for b in difficulty["buckets"]] == ["easy", "medium", "hard"]
        assert [b["items"] for b in difficulty["buckets"]] == [50, 50, 50]
    small_run, large_run = tests["small"], tests["large"]
    easy_large, easy_small = _bucket(large_run, "easy"), _bucket(small_run, "easy")
    hard_large, hard_small = _bucket(large_run, "hard"), _bucket(small_run, "hard")
    assert easy_large["incoherence_high"] < easy_small["incoherence_low"]
    assert hard_large["incoherence_low"] > hard_small["incoherence_high"]
    assert large_run["difficulty"]["slope"]["low"] > 0 > small_run["difficulty"]["slope"]["high"]
    # every bucket's interval covers the simulator's truth over that bucket's questions
    path = SUITE / "test_difficulty.py"
    spec = importlib.util.spec_from_file_location("example_difficulty", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    questions = {q.id: q for q in example.QUESTIONS}
    for scale, make in (("small", small), ("large", large)):
        model = make(items=example.QUESTIONS)
        test = tests[scale]
        for bucket in test["difficulty"]["buckets"]:
            ids = [item["id"] for item in test["items"] if item["bucket"] == bucket["bucket"]]
            truth = model.true_incoherence([format_prompt(questions[i]) for i in ids])
            assert truth is not None
            assert bucket["incoherence_low"] <= truth <= bucket["incoherence_high"], (scale, bucket)


def test_the_consistency_test_gates_variance_without_targets(default_run: Run) -> None:
    test = default_run.tests[CONSISTENT]
    assert (test["outcome"], test["verdict"]) == ("passed", "pass")
    assert test["thresholds"] == {"max_variance": 0.25}
    assert test["totals"]["incoherence"] is None  # no targets: nothing to split
    assert all(item["target"] is None for item in test["items"])
    assert test["totals"]["variance"] <= 0.25


def test_the_kl_and_numeric_tests_use_their_own_losses(default_run: Run) -> None:
    kl = default_run.tests[KL]
    assert (kl["loss"], kl["estimator"], kl["verdict"]) == ("kl", "plugin", "pass")
    numeric = default_run.tests[FINAL_LOSS]
    assert numeric["verdict"] == "pass"
    assert {item["kind"] for item in numeric["items"]} == {"numeric"}


def test_the_terminal_shows_the_coherence_table(default_run: Run) -> None:
    out = default_run.stdout
    assert re.search(r"=+ hotmess coherence =+", out)
    table = out[out.index("hotmess coherence") :]
    for nodeid in default_run.tests:
        assert nodeid in table
    row = next(line for line in table.splitlines() if line.startswith(HOT_MESS + " "))
    assert row.split()[-1] == "fail"
    assert f"XFAIL {HOT_MESS}" in out.replace("example_suite/", "")  # -rx in pytest.ini


def test_the_reports_land_in_the_suites_out_folder(default_run: Run) -> None:
    # The JSON was read from example_suite/out/ (hotmess.yaml's defaults.json); the JUnit XML
    # went there too (conftest.py), with the plugin's properties on the suite (pytest's default
    # junit_family xunit2 allows none in a test case: each test's are '<node id>::hotmess.*').
    suite = default_run.junit.find("testsuite")
    assert suite is not None
    suite_properties = suite.find("properties")
    assert suite_properties is not None
    props = {p.get("name"): p.get("value") for p in suite_properties.iter("property")}
    assert {"hotmess.items", "hotmess.incoherence", "hotmess.verdict.fail"} <= set(props)
    verdicts = {
        str(name).split("::")[-2]: value
        for name, value in props.items()
        if str(name).endswith("::hotmess.verdict")
    }
    assert verdicts["test_hot_mess_is_caught"] == "fail"
    assert verdicts["test_model_is_coherent"] == "pass"
    assert all(case.find("properties") is None for case in default_run.junit.iter("testcase"))


# -- one option retargets the suite -------------------------------------------------------------


def test_hotmess_model_points_the_same_suite_at_another_model(
    tmp_path: Path, default_run: Run
) -> None:
    """--hotmess-model hot_mess: every model-under-test gate fails, the demo test is unchanged."""
    run = _run(_copy_suite(tmp_path), "--hotmess-model", "hot_mess")
    assert run.returncode == 1, run.stdout
    for nodeid in MODEL_UNDER_TEST:
        test = run.tests[nodeid]
        assert (test["outcome"], test["verdict"]) == ("failed", "fail"), nodeid
        assert test["message"].startswith("coherence gate failed")
        assert f"FAILED example_suite/{nodeid}" in run.stdout
    assert run.tests[HOT_MESS]["outcome"] == "xfailed"
    assert run.tests[HOT_MESS]["totals"] == default_run.tests[HOT_MESS]["totals"]


# -- the configuration's commented-out examples ----------------------------------------------------

_COMMENTED_KEY = re.compile(r"^(  )# ((?:  )?[a-z_]+:.*)$")


def _uncommented_config() -> str:
    """hotmess.yaml with its commented-out model entries (`local`, `claude`) switched on."""
    text = (SUITE / "hotmess.yaml").read_text(encoding="utf-8")
    return "\n".join(_COMMENTED_KEY.sub(r"\1\2", line) for line in text.splitlines()) + "\n"


def test_the_commented_model_examples_are_valid_configuration() -> None:
    config = parse_config(_uncommented_config(), file="hotmess.yaml", base_dir=SUITE)
    assert set(config.models) == {"coherent", "hot_mess", "local", "claude"}
    local, claude = config.models["local"], config.models["claude"]
    assert (local.provider, local.settings["api_key_env"]) == ("openai", "OPENAI_API_KEY")
    assert (claude.provider, claude.settings["api_key_env"]) == ("anthropic", "ANTHROPIC_API_KEY")
    assert local.params["temperature"] == claude.params["temperature"] == 1.0
    assert config.defaults.model == "coherent"


def _chat_reply(text: str) -> Reply:
    """An OpenAI chat completion holding ``text``."""
    return Reply(
        body={
            "id": "chatcmpl-example",
            "object": "chat.completion",
            "model": "my-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41},
        }
    )


def _served_text(index: int) -> str:
    """What the fake server answers to its index-th request: replies in the formats real models
    use (a bare letter, a letter with punctuation, "Answer: X") and now and then no letter."""
    if index % 7 == 6:
        return "I cannot tell from the options given."
    letter = "ABCD"[(index * 5 // 3) % 4]
    return (letter, f"{letter}.", f"Answer: {letter}")[index % 3]


def test_a_real_endpoint_then_its_recording(tmp_path: Path) -> None:
    """The `local` example entry switched on and aimed at a local OpenAI-compatible server
    (tests/_fake_llm_server.py), recorded; then replayed with the server gone and no key.

    The run samples the server over HTTP with the key from the environment; the replay gives
    the recorded numbers exactly; no report and not the recording shows the key.
    """
    root = _copy_suite(tmp_path)
    recording = root / "recording.jsonl"
    secret = "sk-example-suite-never-shown-0123456789"
    # one request per sample: 48 questions x K=10 for each of the two gated quiz tests, and
    # 16 judgement calls x K=10 for the consistency test; the other tests use no model
    expected_requests = 2 * 48 * 10 + 16 * 10 + 4 * 5  # + test_own_code.py: 4 x K=5
    with FakeLLMServer() as server:
        server.script(*(_chat_reply(_served_text(i)) for i in range(expected_requests)))
        config = _uncommented_config().replace("http://127.0.0.1:8000/v1", server.openai_base_url)
        (root / "example_suite" / "hotmess.yaml").write_text(config, encoding="utf-8")
        recorded = _run(
            root,
            "--hotmess-model",
            "local",
            "--hotmess-record",
            str(recording),
            extra_env={"OPENAI_API_KEY": secret},
        )
        requests = server.requests
    assert len(requests) == expected_requests, recorded.stdout
    assert {r.headers.get("authorization") for r in requests} == {f"Bearer {secret}"}
    assert {r.body["model"] for r in requests} == {"my-model"}
    for nodeid in MODEL_UNDER_TEST:
        totals = recorded.tests[nodeid]["totals"]
        assert 0 < totals["invalid"] < 10 * totals["items"], nodeid  # counted, not dropped
    texts = [recorded.stdout, recording.read_text(encoding="utf-8")]
    texts += [path.read_text(encoding="utf-8") for path in (root / "example_suite/out").iterdir()]
    assert all(secret not in text for text in texts)

    # the server is gone and the key unset: every answer must come from the recording
    replayed = _run(root, "--hotmess-model", "local", "--hotmess-replay", str(recording))
    assert replayed.returncode == recorded.returncode, replayed.stdout
    for nodeid in MODEL_UNDER_TEST:
        assert replayed.tests[nodeid]["totals"] == recorded.tests[nodeid]["totals"], nodeid
        assert replayed.tests[nodeid]["verdict"] == recorded.tests[nodeid]["verdict"], nodeid
