"""The client features through hotmess.yaml, as a user runs them: keys checked at their line,
headers and streaming reaching the server, secrets in headers kept out of every file the run
writes, and a failing call reported in a few lines that name the request and its likely cause."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _client_fixtures import needs_transport, track
from _fake_llm_server import FakeLLMServer, Reply
from _yaml_errors import assert_points_at

from pytest_hotmess.config.file import ConfigError, load_config, parse_config
from pytest_hotmess.models.clients import model_from_spec
from pytest_hotmess.models.http import ChatModelBase
from pytest_hotmess.models.providers import provider_names

HEADER_SECRET = "gw-PLANTED-yaml-header-0123456789"


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "hotmess.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, providers=provider_names())


@pytest.mark.parametrize(
    ("entry", "key", "problem"),
    [
        ("headers: {Authorization: 'Bearer sk-in-the-file'}", "headers.Authorization",
         "carries a credential"),
        ("headers: {X-Org: {env: 'not a name'}}", "headers.X-Org.env", "NAME of an environment"),
        ("headers: {X-Org: {file: x}}", "headers.X-Org", "{env: NAME}"),
        ("headers: {X-Org: 3}", "headers.X-Org", "{env: NAME}"),
        ("headers: {'Bad Name': x}", "headers.Bad Name", "not a valid HTTP header name"),
        ("params: {extra_headers: {X-Org: o}}", "params.extra_headers", "'headers:'"),
        ("anthropic_version: '2023-06-01'", "anthropic_version", "provider anthropic only"),
        ("deployment: d", "deployment", "provider azure only"),
        ("stream: 'yes please'", "stream", "expected true or false"),
        ("top_logprobs: -1", "top_logprobs", ">= 0"),
    ],
)  # fmt: skip
def test_new_keys_are_checked_at_their_line(
    tmp_path: Path, entry: str, key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"models:\n  x:\n    provider: openai\n    model: m\n    {entry}\n")
    assert_points_at(caught.value, tmp_path / "hotmess.yaml", 5, f"models.x.{key}", problem)
    assert "sk-in-the-file" not in str(caught.value)


def test_a_yaml_entry_and_model_from_spec_build_the_same_request(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    text = f"""
models:
  gw:
    provider: anthropic
    base_url: "{server.anthropic_base_url}"
    model: claude
    anthropic_version: "2024-01-01"
    stream: true
    temperature: 0.2
    headers:
      anthropic-beta: tools-2024-04-04
      X-Gateway-Token: {{env: GW}}
      X-Trace: "run-${{RUN}}"
    params: {{metadata: {{user_id: u1}}, temperature: 0.3}}
"""
    config = parse_config(text, file="hotmess.yaml", providers=provider_names())
    spec = config.models["gw"].spec()
    environ = {"GW": HEADER_SECRET, "RUN": "7"}
    from_file = model_from_spec(spec, entry="gw", environ=environ)
    direct = model_from_spec(
        {
            "provider": "anthropic",
            "base_url": server.anthropic_base_url,
            "model": "claude",
            "anthropic_version": "2024-01-01",
            "stream": True,
            "temperature": 0.2,
            "headers": {
                "anthropic-beta": "tools-2024-04-04",
                "X-Gateway-Token": {"env": "GW"},
                "X-Trace": "run-${RUN}",
            },
            "params": {"metadata": {"user_id": "u1"}, "temperature": 0.3},
        },
        entry="gw",
        environ=environ,
    )
    for model in (from_file, direct):
        assert isinstance(model, ChatModelBase)
        assert track(model)("hi").text.startswith("hi#")
    first, second = server.requests
    assert first.body == second.body
    assert first.body["temperature"] == 0.3 and first.body["stream"] is True
    assert "params" not in first.body and "headers" not in first.body
    for seen in (first, second):
        assert seen.headers["anthropic-version"] == "2024-01-01"
        assert seen.headers["x-gateway-token"] == HEADER_SECRET
        assert seen.headers["x-trace"] == "run-7"
        assert seen.headers["anthropic-beta"] == "tools-2024-04-04"
    assert HEADER_SECRET not in repr(config)


_SUITE = """
import pytest

def extract(text):
    return "A" if int(text.rsplit("#", 1)[1]) % 3 else "B"

@pytest.mark.coherence(max_incoherence=1.0, samples=4)
def test_llm(resample, hotmess_model):
    prompts = [f"question {i}" for i in range(3)]
    resample.map(hotmess_model, prompts, targets=["A"] * 3, items=prompts, extract=extract)
"""


def _suite(pytester: pytest.Pytester, entry: str) -> None:
    pytester.makefile(".yaml", hotmess=f"models:\n  gw: {{{entry}, max_attempts: 1}}\n")
    pytester.makepyfile(test_llm=_SUITE)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_headers_and_streaming_through_the_plugin_keep_header_secrets_out_of_every_file(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server: FakeLLMServer,
    workers: list[str],
    transport: str,
) -> None:
    needs_transport(transport)
    _suite(
        pytester,
        f'provider: openai, base_url: "{server.openai_base_url}", model: tiny, stream: true, '
        "headers: {X-Gateway-Token: {env: GW_TOKEN}, OpenAI-Project: proj-1}",
    )
    monkeypatch.setenv("GW_TOKEN", HEADER_SECRET)
    # The server echoes the header back in an error once: the failure must not show it.
    result = pytester.runpytest_subprocess(
        "--hotmess-model", "gw", "--hotmess-transport", transport, "--junitxml", "junit.xml",
        "--hotmess-json-detail", "samples", "--hotmess-json", "out.json",
        "--hotmess-record", "rec.jsonl", *workers,
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    assert server.count() == 12
    assert all(r.headers["x-gateway-token"] == HEADER_SECRET for r in server.requests)
    assert all(r.headers["openai-project"] == "proj-1" for r in server.requests)
    assert all(r.body["stream"] is True for r in server.requests)
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["totals"]["items"] == 3
    for path in pytester.path.rglob("*"):
        if path.is_file() and path.suffix != ".pyc":
            assert HEADER_SECRET not in path.read_text(errors="replace"), path
    assert HEADER_SECRET not in result.stdout.str() + result.stderr.str()


def test_a_failing_call_is_a_short_report_naming_the_request_and_the_cause(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer
) -> None:
    # Anthropic's base URL given in OpenAI's form (with /v1): every call is a 404.
    _suite(
        pytester,
        f'provider: anthropic, base_url: "{server.url}/v1", model: claude, '
        "api_key_env: MY_KEY, headers: {X-Gateway-Token: {env: GW_TOKEN}}",
    )
    monkeypatch.setenv("MY_KEY", "sk-yaml-PLANTED-key-0123456789")
    monkeypatch.setenv("GW_TOKEN", HEADER_SECRET)
    result = pytester.runpytest_subprocess("--hotmess-model", "gw", "--junitxml", "junit.xml")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert f"POST {server.url}/v1/v1/messages" in out
    assert "drop the /v1" in out
    assert "sk-yaml-PLANTED" not in out and HEADER_SECRET not in out
    junit = (pytester.path / "junit.xml").read_text()
    assert "/v1/v1/messages" in junit and HEADER_SECRET not in junit
    # The plugin's own frames are hidden: the report is the test's line and the error.
    failure = out[out.index("FAILURES") : out.index("short test summary")]
    assert "pytest_hotmess/models" not in failure, failure
    assert len(failure.splitlines()) <= 40, failure


def _logprob_answer(p_b: float) -> dict[str, object]:
    top = [
        {"token": " B", "logprob": math.log(p_b)},
        {"token": " A", "logprob": math.log(1 - p_b)},
    ]
    entry = {"token": " B", "logprob": math.log(p_b), "top_logprobs": top}
    choice = {"index": 0, "message": {"role": "assistant", "content": " B"}, "logprobs": {}}
    choice["logprobs"] = {"content": [{"token": "Answer:", "logprob": -0.01}, entry]}
    return {"choices": [choice], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}


def test_logprobs_feed_a_distribution_outcome_through_the_plugin(
    pytester: pytest.Pytester, server: FakeLLMServer
) -> None:
    # The README's pattern: the model's own answer distribution, read from top_logprobs.
    pytester.makefile(
        ".yaml",
        hotmess=f"models:\n  lp: {{provider: openai, base_url: '{server.openai_base_url}', "
        "model: m, logprobs: true, top_logprobs: 2, max_attempts: 1}\n",
    )
    pytester.makepyfile(
        test_lp="""
import pytest
from pytest_hotmess import distribution_from_logprobs

@pytest.mark.coherence(loss="kl", samples=3, max_incoherence=1.0)
def test_lp(resample, hotmess_model):
    result = resample(
        lambda q: distribution_from_logprobs(hotmess_model(q), choices=["A", "B", "C", "D"]),
        "Which?", target="B", item="q1",
    )
    assert result.k == 3 and result.invalid == 0
"""
    )
    server.script(*(Reply(200, body=_logprob_answer(p)) for p in (0.9, 0.6, 0.75)))
    result = pytester.runpytest(
        "--hotmess-model", "lp", "--hotmess-json-detail", "samples", "--hotmess-json", "out.json"
    )
    result.assert_outcomes(passed=1)
    assert all(r.body["logprobs"] is True and r.body["top_logprobs"] == 2 for r in server.requests)
    (test,) = json.loads((pytester.path / "out.json").read_text())["tests"]
    (item,) = test["items"]
    assert sorted(round(o["B"], 6) for o in item["outcomes"]) == [0.6, 0.75, 0.9]
    assert test["loss"] == "kl" and test["totals"]["variance"] > 0
