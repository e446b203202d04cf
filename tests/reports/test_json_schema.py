"""The JSON report's schema: every field described, and real reports that use every section
validate against it; the run's models and settings are recorded, their secrets never."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.config.file import parse_config
from pytest_hotmess.config.settings import OPTIONS
from pytest_hotmess.plugin.totals import model_info

SCHEMA: dict[str, Any] = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)
KEY = "sk-hotmess-JSONKEY-0123456789"
HEADER_SECRET = "hdr-JSONSECRET-42"
QUERY_SECRET = "qry-JSONSECRET-43"
USER_SECRET = "usr-JSONSECRET-44"


def _undescribed(node: object, path: str) -> list[str]:
    """Paths of properties (and named definitions) without a description, anywhere below."""
    missing: list[str] = []
    if isinstance(node, dict):
        for group in ("properties", "$defs"):
            for name, sub in (node.get(group) or {}).items():
                if not (isinstance(sub, dict) and str(sub.get("description", "")).strip()):
                    missing.append(f"{path}/{group}/{name}")
        for key, sub in node.items():
            missing += _undescribed(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for index, sub in enumerate(node):
            missing += _undescribed(sub, f"{path}/{index}")
    return missing


def test_every_field_of_the_schema_has_a_description() -> None:
    assert _undescribed(SCHEMA, "#") == []
    assert str(SCHEMA.get("description", "")).strip()
    # the sections the report writes are in the schema, field by field
    test = SCHEMA["$defs"]["test"]["properties"]
    for name in ("checks", "calls", "sequential", "stopped_by", "length", "ensembles"):
        assert name in test, name
    for name in ("check", "calls", "sequential", "length", "ensembles", "modelInfo", "setting"):
        assert SCHEMA["$defs"][name]["properties"], name
    assert {"comparison", "regressions"} <= set(SCHEMA["properties"])
    assert {"models", "settings"} <= set(SCHEMA["$defs"]["run"]["properties"])


def test_the_walk_finds_a_field_without_a_description() -> None:
    schema = json.loads(json.dumps(SCHEMA))
    del schema["$defs"]["sequential"]["properties"]["looks"]["description"]
    assert _undescribed(schema, "#") == ["#/$defs/sequential/properties/looks"]


SUITE = """
import os
import random
import pytest

@pytest.mark.coherence(samples=10, max_incoherence_slope=5.0)
def test_quiz(resample):
    # right 6 times in 10; the errors always the same letter, or scattered over three
    wrong = "bbbb" if os.environ["ERRORS"] == "same" else "bcdc"
    for i in range(30):
        answers = list("aaaaaa" + wrong)
        random.Random(i).shuffle(answers)
        lengths = [{"output_tokens": float(10 + 5 * j + i)} for j in range(10)]
        resample.record(answers, target="a", item=f"q{i}", covariates=lengths)

@pytest.mark.coherence(max_incoherence=1.0, samples=4, max_samples=12)
def test_served(resample, hotmess_model):
    def extract(text):
        return "A" if int(text.rsplit("#", 1)[1]) % 3 else "B"
    prompts = [f"question {i}" for i in range(12)]
    resample.map(hotmess_model, prompts, targets=["A"] * 12, items=prompts, extract=extract)
"""


def _config(base_url: str) -> str:
    return f"""
models:
  local:
    provider: openai
    base_url: "{base_url}"
    model: tiny-1
    api_key_env: HOTMESS_JSON_KEY
    temperature: 0.7
    max_attempts: 1
    timeout: 5
    input_price: 1.0
    output_price: 2.0
    headers: {{X-Trace: "{HEADER_SECRET}"}}
    params: {{user: probe}}
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_reports_using_every_section_validate_and_hold_no_secret(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server: FakeLLMServer,
    workers: list[str],
) -> None:
    pytester.makepyfile(test_all=SUITE)
    pytester.makefile(".yaml", hotmess=_config(server.openai_base_url))
    monkeypatch.setenv("HOTMESS_JSON_KEY", KEY)
    monkeypatch.setenv("HOTMESS_MODEL", "local")  # the settings record where a value came from
    pytester.makeini("[pytest]\nhotmess_samples = 10\n")
    common = ["-p", "no:randomly", "--hotmess-max-cost", "1000", "--hotmess-details", *workers]
    common += ["--hotmess-models", "local"]  # test_served[local]: the by-model table
    monkeypatch.setenv("ERRORS", "same")
    first = pytester.runpytest_subprocess(*common, "--hotmess-save", "base")
    first.assert_outcomes(passed=2)
    monkeypatch.setenv("ERRORS", "scattered")
    second = pytester.runpytest_subprocess(
        *common,
        "--hotmess-compare",
        "base",
        "--hotmess-compare-fail",
        "incoherence:0.01",
        "--hotmess-json",
        "out.json",
        "--hotmess-html",
        "out.html",
    )
    second.assert_outcomes(passed=2)
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in server.requests)
    reports = [pytester.path / ".hotmess" / "base.json", pytester.path / "out.json"]
    for path in reports:
        text = path.read_text()
        jsonschema.validate(json.loads(text), SCHEMA)
        for secret in (KEY, HEADER_SECRET, "HOTMESS_JSON_KEY"):
            assert secret not in text, (path.name, secret)
    html = (pytester.path / "out.html").read_text()
    assert KEY not in html and HEADER_SECRET not in html

    report = json.loads((pytester.path / "out.json").read_text())
    # every section of a test and of the report is used (so the schema checked all of them)
    for name in SCHEMA["properties"]:
        assert report.get(name) is not None, name
    tests = {t["nodeid"].split("::")[-1].split("[")[0]: t for t in report["tests"]}
    for name in SCHEMA["$defs"]["test"]["properties"]:
        if name not in ("stopped_by", "message"):
            assert any(t.get(name) is not None for t in tests.values()), name
    assert tests["test_served"]["sequential"]["looks"]
    assert tests["test_served"]["calls"]["input_tokens"] > 0
    assert tests["test_quiz"]["length"]["buckets"]
    assert tests["test_quiz"]["ensembles"]["majority"]["rows"]
    assert report["regressions"][0]["nodeid"] == "test_all.py::test_quiz"
    assert tests["test_served"]["model"] == "local"
    assert [row["model"] for row in report["by_model"]] == ["local"]

    run = report["run"]
    assert run["models"] == [
        {
            "name": "local",
            "provider": "openai",
            "model": "tiny-1",
            "base_url": server.openai_base_url,
            "params": {"temperature": 0.7, "user": "probe"},
        }
    ]
    settings = run["settings"]
    assert set(settings) == {option.name for option in OPTIONS}
    assert settings["model"] == {"value": "local", "source": "environment variable HOTMESS_MODEL"}
    assert settings["samples"]["value"] == 10 and "hotmess_samples" in settings["samples"]["source"]
    assert settings["max_cost"] == {"value": 1000.0, "source": "--hotmess-max-cost"}
    assert settings["compare_fail"]["value"] == ["incoherence:0.01"]
    assert settings["concurrency"]["source"] == "default"


def test_model_info_drops_userinfo_query_keys_and_headers(tmp_path: Path) -> None:
    # hotmess.yaml refuses credentials in a base URL; the description drops them regardless
    config = parse_config(
        f"""
models:
  remote:
    provider: openai
    base_url: "https://api.example.test/v1?api_key={QUERY_SECRET}&region=eu"
    model: big-2
    api_key_env: REMOTE_KEY
    top_p: 0.9
    headers: {{X-Trace: "{HEADER_SECRET}"}}
    params:
      metadata: {{auth_token: "{USER_SECRET}", team: qa}}
  simulated: {{provider: sim, preset: coherent}}
""",
        providers=["openai", "anthropic", "sim"],
    )
    info = model_info("remote", config)
    text = json.dumps(info.to_plain())
    for secret in (QUERY_SECRET, HEADER_SECRET, USER_SECRET, "REMOTE_KEY"):
        assert secret not in text
    assert info.base_url == "https://api.example.test/v1?region=eu"
    assert info.params == {"top_p": 0.9, "metadata": {"team": "qa"}}
    assert (info.provider, info.model) == ("openai", "big-2")
    assert model_info("simulated", config).params == {"preset": "coherent"}
    assert model_info("sim", None).provider == "sim"
    assert model_info("nowhere", config).provider is None
    unsafe = _with_base_url(config, f"https://{USER_SECRET}:pw@api.example.test/v1")
    assert USER_SECRET not in json.dumps(model_info("remote", unsafe).to_plain())


def _with_base_url(config: Any, url: str) -> Any:
    """The config with the remote entry's base URL replaced (the loader would refuse it)."""
    import dataclasses
    import types

    entry = config.models["remote"]
    settings = {**entry.settings, "base_url": url}
    models = {**config.models, "remote": dataclasses.replace(entry, settings=settings)}
    return dataclasses.replace(config, models=types.MappingProxyType(models))
