"""No paid sample lost: the recording merges, survives crashes and interrupts, and keys by model.

Every test runs pytest as a user does (pytester, real HTTP server on 127.0.0.1) and reads the
recording file and the JSON report it wrote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fake_llm_server import FakeLLMServer

KEY = "sk-hotmess-durability-0123456789"
PARTS = 4
ITEMS = 5
K = 4


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


def _config(base_url: str, model: str = "tiny", extra: str = "") -> str:
    # one attempt, so that each answer is asked for exactly once; a timeout no loaded machine
    # reaches against a local server, so that no call fails for want of a core
    return f"""
models:
  local: {{provider: openai, base_url: "{base_url}", model: {model}, api_key_env: HM_KEY,
          temperature: 1.0, max_attempts: 1, timeout: 120}}
{extra}"""


SUITE = f"""
import os, time
import pytest

def extract(text):
    return "A" if int(text.rsplit("#", 1)[1]) % 3 else "B"

@pytest.mark.coherence(max_incoherence=1.0, samples={K})
@pytest.mark.parametrize("part", range({PARTS}))
def test_llm(resample, hotmess_model, part):
    prompts = [f"question {{part}}-{{i}}" for i in range({ITEMS})]
    resample.map(hotmess_model, prompts, targets=["A"] * {ITEMS}, items=prompts, extract=extract)
    AFTER
"""


def _suite(
    pytester: pytest.Pytester, server: FakeLLMServer, after: str = "pass", **kw: str
) -> None:
    pytester.makefile(".yaml", hotmess=_config(server.openai_base_url, **kw))
    pytester.makepyfile(test_llm=SUITE.replace("AFTER", after))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _prompts(path: Path) -> set[str]:
    return {line["request"]["messages"][-1]["content"] for line in _lines(path)[1:]}


def _all_prompts(parts: range | list[int] = range(PARTS)) -> set[str]:
    return {f"question {part}-{i}" for part in parts for i in range(ITEMS)}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HM_KEY", KEY)


# -- merging, and sessions that sample nothing ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--collect-only"],
        ["-k", "no_such_test"],
        ["--collect-only", "-q", "FROM_YAML"],  # IDE discovery with record: in hotmess.yaml
        ["COLLECTION_ERROR"],
    ],
    ids=["collect-only", "k-selects-nothing", "ide-discovery-yaml", "collection-error"],
)
def test_a_session_that_samples_nothing_leaves_the_recording_untouched(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None, args: list[str]
) -> None:
    _suite(pytester, server)
    common = ["--hotmess-model=local", "--hotmess-record=rec.jsonl"]
    pytester.runpytest_subprocess(*common).assert_outcomes(passed=PARTS)
    recording = pytester.path / "rec.jsonl"
    before = recording.read_bytes()
    assert len(before.splitlines()) == 1 + PARTS * ITEMS * K
    if "FROM_YAML" in args:
        extra = "record: rec.jsonl\ndefaults: {model: local}\n"
        pytester.makefile(".yaml", hotmess=_config(server.openai_base_url, extra=extra))
        args, common = [a for a in args if a != "FROM_YAML"], []
    if "COLLECTION_ERROR" in args:
        pytester.makepyfile(test_broken="import no_such_module_anywhere\n")
        args = []
    calls = server.count()
    result = pytester.runpytest_subprocess(*common, *args)
    assert result.ret in (pytest.ExitCode.OK, 2, 5), result.stdout.str()
    assert recording.read_bytes() == before
    assert server.count() == calls
    assert not list(pytester.path.glob("rec.jsonl*.part"))


def test_re_recording_a_subset_keeps_the_rest_and_reuses_recorded_answers(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    _suite(pytester, server)
    common = ["--hotmess-model=local", "--hotmess-record=rec.jsonl", "--hotmess-json=out.json"]
    pytester.runpytest_subprocess(*common, "-k", "test_llm[0]").assert_outcomes(passed=1)
    recording = pytester.path / "rec.jsonl"
    assert _prompts(recording) == _all_prompts([0])
    first = recording.read_bytes()
    # the rest is added; what the file holds is reused (no call), so nothing is lost or paid twice
    result = pytester.runpytest_subprocess(*common)
    result.assert_outcomes(passed=PARTS)
    assert server.count() == PARTS * ITEMS * K
    assert _prompts(recording) == _all_prompts()
    assert len(_lines(recording)) == 1 + PARTS * ITEMS * K
    kept = {line.decode() for line in first.splitlines()}
    assert kept <= {line.decode() for line in recording.read_bytes().splitlines()}
    result.stdout.fnmatch_lines([f"*hotmess recording: *rec.jsonl: {3 * ITEMS * K} new answer(s)*"])
    # a subset again, merged: nothing new, so the file is not rewritten
    whole = recording.read_bytes()
    pytester.runpytest_subprocess(*common, "-k", "test_llm[2]").assert_outcomes(passed=1)
    assert recording.read_bytes() == whole and server.count() == PARTS * ITEMS * K


def test_overwrite_mode_asks_again_and_keeps_answers_it_did_not_replace(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    _suite(pytester, server, extra="record_mode: overwrite\n")
    common = ["--hotmess-model=local", "--hotmess-record=rec.jsonl"]
    pytester.runpytest_subprocess(*common).assert_outcomes(passed=PARTS)
    recording = pytester.path / "rec.jsonl"
    before = {
        (tuple(map(str, line["request"]["messages"])), line["sample"]): line
        for line in _lines(recording)[1:]
    }
    # overwrite (from hotmess.yaml): the subset is asked again; the server draws new answers
    pytester.runpytest_subprocess(*common, "-k", "test_llm[1]").assert_outcomes(passed=1)
    assert server.count() == (PARTS + 1) * ITEMS * K
    after = {
        (tuple(map(str, line["request"]["messages"])), line["sample"]): line
        for line in _lines(recording)[1:]
    }
    assert after.keys() == before.keys()
    changed = {k for k in after if after[k] != before[k]}
    assert {line["request"]["messages"][-1]["content"] for k in changed for line in [after[k]]} == (
        _all_prompts([1])
    )
    # the command line wins over the file, and a bad mode names its source
    bad = pytester.runpytest_subprocess(*common, "--hotmess-record-mode=append")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "--hotmess-record-mode: expected one of merge, overwrite, got 'append'" in bad.stderr.str()
    )


# -- where the recording goes ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["cli", "yaml"])
def test_an_unwritable_record_path_is_a_usage_error_before_any_call(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None, where: str
) -> None:
    if where == "yaml":
        _suite(pytester, server, extra="record: /proc/nope/r.jsonl\n")
        result = pytester.runpytest_subprocess("--hotmess-model=local")
        named = "hotmess.yaml:4: record: cannot write the recording /proc/nope/r.jsonl"
    else:
        _suite(pytester, server)
        result = pytester.runpytest_subprocess(
            "--hotmess-model=local", "--hotmess-record=/proc/nope/r.jsonl"
        )
        named = "--hotmess-record: cannot write the recording /proc/nope/r.jsonl"
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert named in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert server.count() == 0


def test_a_failed_recording_write_keeps_every_other_report(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    # the folder is fine at configure time, and replaced by a plain file before the end
    _suite(
        pytester,
        server,
        after="if part == 3: import shutil; shutil.rmtree('recs'); open('recs', 'w').close()",
    )
    (pytester.path / "recs").mkdir()
    result = pytester.runpytest_subprocess(
        "--hotmess-model=local",
        "--hotmess-record=recs/rec.jsonl",
        "--hotmess-json=out.json",
        "--hotmess-html=out.html",
        "-p",
        "no:randomly",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*pytest-hotmess: could not write the recording *recs/rec.jsonl: *"
            f"{PARTS * ITEMS * K} new answer(s) were not saved*",
            "*hotmess coherence*",
        ]
    )
    report = json.loads((pytester.path / "out.json").read_text())
    assert len(report["tests"]) == PARTS
    assert (pytester.path / "out.html").stat().st_size > 0
    assert "Traceback" not in result.stdout.str()


# -- xdist: a crash, an interrupt -----------------------------------------------------------------


def test_a_crashed_workers_answers_reach_the_recording(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    _suite(pytester, server, after="if part == 1: os._exit(3)")
    result = pytester.runpytest_subprocess(
        "-n", "2", "--hotmess-model=local", "--hotmess-record=rec.jsonl", "--hotmess-json=o.json"
    )
    result.assert_outcomes(passed=PARTS - 1, failed=1)
    recording = pytester.path / "rec.jsonl"
    # every answer the server gave, the crashed test's included, is in the recording
    assert server.count() == PARTS * ITEMS * K
    assert len(_lines(recording)) == 1 + server.count()
    assert _prompts(recording) == _all_prompts()
    assert not list(pytester.path.glob("rec.jsonl*.part"))
    passed = [t["nodeid"] for t in json.loads((pytester.path / "o.json").read_text())["tests"]]
    assert len(passed) == PARTS - 1
    # and so replay, with the server gone, answers every test the report lists
    server.stop()
    replay = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--hotmess-model=local",
        "--hotmess-replay=rec.jsonl",
        *[nodeid for nodeid in passed],
    )
    replay.assert_outcomes(passed=PARTS - 1)


def test_ctrl_c_under_xdist_merges_every_answer_received(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None, ctrl_c_reaches_children: None
) -> None:
    # each test samples, says so, then hangs until interrupted (no test ever ends on its own,
    # so no worker moves on to another part however slowly the run goes)
    _suite(pytester, server, after="open(f'done-{part}', 'w').close(); time.sleep(10**7)")
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "2",
        "-p",
        "no:randomly",
        "--hotmess-model=local",
        "--hotmess-record=rec.jsonl",
        "--hotmess-json=o.json",
    ]
    with subprocess.Popen(
        args,
        cwd=pytester.path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        # wait for the condition (both workers sampled and hang), not for time: the deadline
        # only bounds a run that never gets there
        try:
            deadline = time.monotonic() + 180
            while len(list(pytester.path.glob("done-*"))) < 2:
                assert process.poll() is None and time.monotonic() < deadline, "never sampled"
                time.sleep(0.1)
            assert len(list(pytester.path.glob("done-*"))) == 2, "both workers should be hanging"
            os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            output, _ = process.communicate(timeout=180)
        finally:
            if process.poll() is None:  # a failed wait: leave no hanging run behind
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == pytest.ExitCode.INTERRUPTED, text
    recording = pytester.path / "rec.jsonl"
    assert server.count() == 2 * ITEMS * K
    assert len(_lines(recording)) == 1 + server.count(), text
    assert not list(pytester.path.glob("rec.jsonl*.part")), text
    assert f"hotmess recording: {recording}: {server.count()} new answer(s)" in text
    done = {int(p.name.split("-")[1]) for p in pytester.path.glob("done-*")}
    assert _prompts(recording) == _all_prompts(sorted(done))


def test_a_damaged_part_names_exactly_what_was_lost(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    """A worker killed mid-line leaves a cut line: the next session merges the rest, says so."""
    _suite(pytester, server)
    request = {"base_url": None, "messages": [{"content": "left over", "role": "user"}]}
    request |= {"model": "m", "params": {}, "provider": "custom"}
    good = json.dumps({"request": request, "sample": 0, "completion": {"text": "x"}})
    header = '{"format": "pytest-hotmess-recording", "version": 2}'
    (pytester.path / "rec.jsonl.gw0.part").write_text(
        f'{header}\n{good}\n{{"request": {{"base_url": null, "messages": [{{"cont'
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--hotmess-model=local", "--hotmess-record=rec.jsonl"
    )
    result.assert_outcomes(passed=PARTS)
    result.stdout.fnmatch_lines(
        [
            "*1 recorded answer(s) could not be recovered:*",
            "*rec.jsonl.gw0.part:*: not a JSON object*line starts*",
        ]
    )
    recording = pytester.path / "rec.jsonl"
    assert _prompts(recording) == _all_prompts() | {"left over"}
    assert not list(pytester.path.glob("rec.jsonl*.part"))


# -- the replay key --------------------------------------------------------------------------------


def test_changing_the_model_id_under_the_same_entry_is_a_replay_miss(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    _suite(pytester, server)
    pytester.runpytest_subprocess(
        "--hotmess-model=local", "--hotmess-record=rec.jsonl"
    ).assert_outcomes(passed=PARTS)
    base_url = server.openai_base_url
    server.stop()
    pytester.makefile(".yaml", hotmess=_config(base_url, model="tiny-2"))
    result = pytester.runpytest_subprocess("--hotmess-model=local", "--hotmess-replay=rec.jsonl")
    result.assert_outcomes(failed=PARTS)
    result.stdout.fnmatch_lines(
        [
            "*ReplayMissError: no recorded answer for model 'tiny-2' (openai, *"
            "recorded for model 'tiny', asked for 'tiny-2'*"
        ]
    )
    pytester.makefile(".yaml", hotmess=_config(base_url).replace("1.0", "0.5"))
    result = pytester.runpytest_subprocess("--hotmess-model=local", "--hotmess-replay=rec.jsonl")
    result.assert_outcomes(failed=PARTS)
    result.stdout.fnmatch_lines(["*recorded with temperature=1.0, asked with temperature=0.5*"])


def _as_version_1(path: Path) -> None:
    """What the previous release wrote: requests keyed by the entry name, no provider."""
    lines = _lines(path)
    out = [json.dumps({"format": "pytest-hotmess-recording", "version": 1}, sort_keys=True)]
    for line in lines[1:]:
        request = {key: line["request"][key] for key in ("messages", "model", "params")}
        request["model"] = line["name"]
        out.append(
            json.dumps(
                {"request": request, "sample": line["sample"], "completion": line["completion"]},
                sort_keys=True,
            )
        )
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def test_a_version_1_recording_replays_and_recording_again_upgrades_it(
    pytester: pytest.Pytester, server: FakeLLMServer, key: None
) -> None:
    _suite(pytester, server)
    pytester.runpytest_subprocess(
        "--hotmess-model=local", "--hotmess-record=rec.jsonl", "--hotmess-json=a.json"
    ).assert_outcomes(passed=PARTS)
    recording = pytester.path / "rec.jsonl"
    _as_version_1(recording)
    server.stop()
    pytester.runpytest_subprocess(
        "--hotmess-model=local", "--hotmess-replay=rec.jsonl", "--hotmess-json=b.json"
    ).assert_outcomes(passed=PARTS)
    # recording again with the server gone: every answer is reused, and re-keyed as version 2
    pytester.runpytest_subprocess(
        "--hotmess-model=local", "--hotmess-record=rec.jsonl", "--hotmess-json=c.json"
    ).assert_outcomes(passed=PARTS)
    lines = _lines(recording)
    assert lines[0]["version"] == 2 and len(lines) == 1 + PARTS * ITEMS * K
    assert {line["request"]["model"] for line in lines[1:]} == {"tiny"}
    assert {line["request"]["provider"] for line in lines[1:]} == {"openai"}
    totals = [json.loads((pytester.path / f"{n}.json").read_text())["totals"] for n in "abc"]
    assert totals[0] == totals[1] == totals[2]
