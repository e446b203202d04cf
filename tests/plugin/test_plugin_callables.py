"""A user's own model code as a first-class model, run as a user runs it: the real ``openai`` and
``anthropic`` SDKs against a local server, recorded, replayed with the server stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _fake_llm_server import FakeLLMServer

pytest.importorskip("openai")
pytest.importorskip("anthropic")

PLANTED_KEY = "sk-hotmess-PLANTED-callable-0123"

SDK_SUITE = """
import os

import pytest
from anthropic import Anthropic, AsyncAnthropic
from openai import AsyncOpenAI, OpenAI

BASE = os.environ["FAKE_LLM_URL"]
KEY = os.environ["FAKE_LLM_KEY"]


def letter(text):
    return "A" if int(text.rsplit("#", 1)[1]) % 3 else "B"


def user(text):
    return [{"role": "user", "content": text}]


@pytest.mark.coherence(max_incoherence=1.0, samples=4)
def test_openai_sync(resample):
    client = OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
    for i in range(3):
        resample(client.chat.completions.create, model="tiny", messages=user(f"o{i}"),
                 item=f"o{i}", extract=letter, target="A")
    client.close()


@pytest.mark.coherence(max_incoherence=1.0, samples=4)
def test_async_anthropic_from_a_sync_test(resample):
    client = AsyncAnthropic(base_url=BASE, api_key=KEY, max_retries=0)
    for i in range(3):
        resample(client.messages.create, model="claude", max_tokens=16, messages=user(f"a{i}"),
                 item=f"a{i}", extract=letter, target="A")


@pytest.mark.asyncio
@pytest.mark.coherence(max_incoherence=1.0, samples=4)
async def test_async_openai_in_an_async_test(resample):
    client = AsyncOpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
    for i in range(3):
        await resample.acall(client.chat.completions.create, model="tiny",
                             messages=user(f"x{i}"), item=f"x{i}", extract=letter, target="A")
    await client.close()


@pytest.mark.coherence(max_incoherence=1.0, samples=4)
def test_user_code_with_a_seed(resample):
    client = Anthropic(base_url=BASE, api_key=KEY, max_retries=0)

    def my_model(question, *, sample_seed):
        # user code: a prompt that depends on the seed, then a plain SDK call
        answer = client.messages.create(
            model="claude", max_tokens=8, messages=user(f"{question} {sample_seed % 5}")
        )
        return answer.content[0].text + answer.content[1].text

    resample.map(my_model, ["q1", "q2"], targets=["A", "A"], extract=letter)
"""


def _suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    pytester.makepyfile(test_sdk=SDK_SUITE)
    monkeypatch.setenv("FAKE_LLM_URL", url)
    monkeypatch.setenv("FAKE_LLM_KEY", PLANTED_KEY)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def _report(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((pytester.path / name).read_text())
    report.pop("run")  # which of record and replay was on: the only part that differs
    return report


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_sdk_methods_are_sampled_recorded_and_replayed_with_the_server_stopped(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server: FakeLLMServer,
    workers: list[str],
) -> None:
    _suite(pytester, monkeypatch, server.url)
    common = ["-p", "no:randomly", "--hotmess-seed", "7", *workers]
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
    assert server.count() == 3 * 4 * 3 + 2 * 4  # every sample was a real call
    assert not list(pytester.path.glob("rec.jsonl.*.part"))
    report = _report(pytester, "recorded.json")
    by_test = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    # the SDK's response objects became completions: token counts from their usage
    calls = by_test["test_openai_sync"]["calls"]
    assert calls["made"] == 12 and calls["input_tokens"] == 12 and calls["output_tokens"] == 12
    row = by_test["test_async_anthropic_from_a_sync_test"]["items"][0]["covariates"][0]
    assert row["input_tokens"] == 1 and row["output_tokens"] == 1 and row["latency_s"] > 0
    assert by_test["test_async_openai_in_an_async_test"]["calls"]["made"] == 12

    server.stop()
    monkeypatch.setenv("FAKE_LLM_KEY", "wrong")  # replay needs no key and makes no call
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
    assert json.dumps(_report(pytester, "replayed.json")) == json.dumps(report)
    assert PLANTED_KEY not in (pytester.path / "rec.jsonl").read_text()


def test_a_replay_miss_of_a_callable_names_test_item_and_sample(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    _suite(pytester, monkeypatch, server.url)
    pytester.runpytest_subprocess(
        "--hotmess-record", "rec.jsonl", "-k", "openai_sync"
    ).assert_outcomes(passed=1, deselected=3)
    server.stop()
    result = pytester.runpytest_subprocess("--hotmess-replay", "rec.jsonl", "-k", "seed")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "*ReplayMissError: no recorded answer for callable *my_model' in "
            "test_sdk.py::test_user_code_with_a_seed, item 'item-0'*sample 0*"
        ]
    )


def test_seeds_reproduce_and_follow_the_run_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import random
        import pytest

        @pytest.mark.coherence(samples=6)
        def test_seeded(resample):
            def model(prompt, *, sample_index, sample_seed):
                return random.Random(sample_seed).choice("ABCD")
            resample.map(model, ["p1", "p2", "p3"], targets=["A"] * 3)
        """
    )

    def outcomes(seed: str, name: str) -> list[Any]:
        pytester.runpytest(
            "--hotmess-seed", seed, "--hotmess-json-detail", "samples", "--hotmess-json", name
        )
        report = json.loads((pytester.path / name).read_text())
        return [item["counts"] for item in report["tests"][0]["items"]]

    first = outcomes("1", "a.json")
    assert outcomes("1", "b.json") == first
    assert outcomes("2", "c.json") != first


BUILTIN_SUITE = """
import pytest

@pytest.mark.coherence(max_incoherence=1.0, samples=3)
@pytest.mark.parametrize("copy", ["first", "second"])
def test_same_request(resample, hotmess_model, copy):
    resample(hotmess_model, "the same prompt", item="q", extract=lambda t: t, target="x")
"""


def _builtin_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    pytester.makefile(
        ".yaml",
        hotmess=f"""
models:
  local: {{provider: openai, base_url: "{url}/v1", model: tiny, api_key_env: FAKE_LLM_KEY,
          max_attempts: 1, timeout: 5}}
""",
    )
    pytester.makepyfile(test_same=BUILTIN_SUITE)
    monkeypatch.setenv("FAKE_LLM_KEY", PLANTED_KEY)


def test_two_tests_sending_the_same_request_keep_their_own_recorded_answers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    _builtin_suite(pytester, monkeypatch, server.url)
    args = ["--hotmess-model", "local", "--hotmess-json-detail", "samples", "--hotmess-json"]
    pytester.runpytest_subprocess(*args, "rec.json", "--hotmess-record", "rec.jsonl")
    assert server.count() == 6  # the second test's calls were made, not answered from the first
    lines = (pytester.path / "rec.jsonl").read_text().splitlines()[1:]
    tests = sorted(json.loads(line)["request"]["test"].split("::")[1] for line in lines)
    assert tests == ["test_same_request[first]"] * 3 + ["test_same_request[second]"] * 3

    def outcomes(name: str) -> dict[str, list[Any]]:
        report = json.loads((pytester.path / name).read_text())
        return {t["nodeid"]: t["items"][0]["counts"] for t in report["tests"]}

    recorded = outcomes("rec.json")
    assert recorded[next(iter(recorded))] != recorded[list(recorded)[1]]  # draws 0-2, then 3-5
    server.stop()
    pytester.runpytest_subprocess(*args, "rep.json", "--hotmess-replay", "rec.jsonl")
    assert outcomes("rep.json") == recorded


def test_recordings_made_before_answers_were_kept_per_test_still_replay(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    _builtin_suite(pytester, monkeypatch, server.url)
    args = ["--hotmess-model", "local"]
    pytester.runpytest_subprocess(*args, "-k", "first", "--hotmess-record", "rec.jsonl")
    path = pytester.path / "rec.jsonl"
    header, *lines = path.read_text().splitlines()
    old = []
    for line in lines:  # the lines as the previous release wrote them: no test in the key
        data = json.loads(line)
        del data["request"]["test"]
        old.append(json.dumps(data, sort_keys=True))
    path.write_text("\n".join([header, *old]) + "\n")
    server.stop()
    result = pytester.runpytest_subprocess(*args, "--hotmess-replay", "rec.jsonl")
    result.assert_outcomes(passed=2)  # both tests are answered by the shared answers


def test_a_failing_callable_shows_the_users_frame_not_the_plugins(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        def my_model(prompt):
            raise ValueError("the model broke on " + prompt)

        @pytest.mark.coherence(samples=3)
        def test_broken(resample):
            resample(my_model, "p1")
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert 'raise ValueError("the model broke on " + prompt)' in out
    assert "SamplingError: model call failed for item 'item-0', sample 0" in out
    plugin_frames = [line for line in out.splitlines() if "pytest_hotmess" + "/" in line]
    assert plugin_frames == []
    assert len(out.splitlines()) < 60


def test_recording_leaves_old_recordings_readable(tmp_path: Path) -> None:
    from pytest_hotmess.models.recording_store import Recording

    path = tmp_path / "old.jsonl"
    path.write_text(
        '{"format": "pytest-hotmess-recording", "version": 2}\n'
        '{"completion": {"text": "x"}, "request": {"base_url": null, "messages": '
        '[{"content": "p", "role": "user"}], "model": "m", "params": {}, "provider": "openai"}, '
        '"sample": 0}\n'
    )
    assert [entry.completion.text for entry in Recording.load(path)] == ["x"]  # type: ignore[union-attr]


def test_replaying_a_recording_of_an_older_release_calls_callables_as_before(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(samples=3)
        def test_local(resample):
            resample(lambda p: p + "!", "hi", target="hi!")
        """
    )
    header = '"format": "pytest-hotmess-recording", "version": 2}\n'
    (pytester.path / "old.jsonl").write_text("{" + header)
    pytester.runpytest("--hotmess-replay", "old.jsonl").assert_outcomes(passed=1)
    (pytester.path / "new.jsonl").write_text('{"callables": true, ' + header)
    result = pytester.runpytest("--hotmess-replay", "new.jsonl")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ReplayMissError: no recorded answer for callable*"])


def test_token_counts_a_callable_does_not_report_are_unknown_not_zero(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_hotmess import Completion

        @pytest.mark.coherence(samples=3)
        def test_plain_text(resample):
            resample(lambda p: p, "hi", target="hi")

        @pytest.mark.coherence(samples=3)
        def test_counted(resample):
            resample(lambda p: Completion(p, input_tokens=2), "hi", target="hi")
        """
    )
    pytester.runpytest(
        "--hotmess-json-detail", "samples", "--hotmess-json", "r.json"
    ).assert_outcomes(passed=2)
    report = json.loads((pytester.path / "r.json").read_text())
    calls = {t["nodeid"].split("::")[1]: t["calls"] for t in report["tests"]}
    assert calls["test_plain_text"]["input_tokens"] is None
    assert calls["test_plain_text"]["output_tokens"] is None
    assert calls["test_counted"]["input_tokens"] == 6
    assert calls["test_counted"]["output_tokens"] is None
