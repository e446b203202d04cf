"""model_from_spec: one hotmess.yaml model entry becomes a client, or a clear error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.models.clients import (
    AnthropicMessagesModel,
    ModelConfigError,
    OpenAIChatModel,
    model_from_spec,
)
from pytest_hotmess.sampling.completion import Completion, Model, Prompt


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


def test_openai_entry_from_yaml(server: FakeLLMServer) -> None:
    entry = yaml.safe_load(
        f"""
        provider: openai
        base_url: "{server.openai_base_url}"
        model: my-model
        api_key_env: MY_KEY
        timeout: 7
        max_attempts: 2
        n_per_request: 5
        temperature: 1.0
        top_p: 0.95
        """
    )
    model = model_from_spec(entry, entry="local", environ={"MY_KEY": "sk-from-env"})
    assert isinstance(model, OpenAIChatModel)
    assert (model.name, model.model, model.n_per_request) == ("local", "my-model", 5)
    assert model.timeout == 7.0 and model.retry.max_attempts == 2
    assert dict(model.params) == {"temperature": 1.0, "top_p": 0.95}
    model("hi")
    seen = server.requests[0]
    assert seen.headers["authorization"] == "Bearer sk-from-env"
    assert (seen.body["temperature"], seen.body["top_p"]) == (1.0, 0.95)
    model.close()


def test_anthropic_entry(server: FakeLLMServer) -> None:
    spec = {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "base_url": server.anthropic_base_url,
        "api_key_env": "ANTHROPIC_API_KEY",
        "thinking": 1024,
    }
    model = model_from_spec(spec, entry="claude", environ={"ANTHROPIC_API_KEY": "sk-ant"})
    assert isinstance(model, AnthropicMessagesModel)
    model("hi")
    model.close()
    seen = server.requests[0]
    assert seen.headers["x-api-key"] == "sk-ant"
    assert seen.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_local_server_without_key_and_default_name() -> None:
    model = model_from_spec({"provider": "openai", "model": "m", "base_url": "http://x/v1"})
    assert isinstance(model, OpenAIChatModel)
    assert model.name == "openai:m"


def test_missing_env_var_names_the_variable_and_the_entry() -> None:
    spec = {"provider": "anthropic", "model": "claude", "api_key_env": "ANTHROPIC_API_KEY"}
    with pytest.raises(ModelConfigError) as caught:
        model_from_spec(spec, entry="claude", environ={})
    message = str(caught.value)
    assert "'claude'" in message and "ANTHROPIC_API_KEY" in message and "not set" in message
    with pytest.raises(ModelConfigError, match="not set"):
        model_from_spec(spec, entry="claude", environ={"ANTHROPIC_API_KEY": ""})


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ({"provider": "gemini", "model": "x"}, r"entry 'e': unknown provider 'gemini'"),
        ({"model": "x"}, "unknown provider None"),
        ({"provider": "sim", "preset": "chaos"}, "unknown sim preset 'chaos'"),
        ({"provider": "openai"}, "'model'.*required"),
        ({"provider": "openai", "model": "x", "api_key": "sk-1"}, "api_key_env"),
        ({"provider": "openai", "model": "x", "timeout": "slow"}, "'timeout' must be"),
        ({"provider": "openai", "model": "x", "timeout": -1}, "timeout must be"),
        ({"provider": "openai", "model": "x", "max_attempts": 1.5}, "'max_attempts' must be int"),
        ({"provider": "openai", "model": "x", "n_per_request": 0}, "n_per_request must be >= 1"),
        ({"provider": "anthropic", "model": "x", "n_per_request": 5}, "OpenAI-only"),
        ({"provider": "openai", "model": "x", "api_key_env": 3}, "must name an environment"),
    ],
)
def test_bad_entries_are_clear_errors(spec: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ModelConfigError, match=pattern) as caught:
        model_from_spec(spec, entry="e", environ={})
    assert "model entry 'e'" in str(caught.value)


def test_a_literal_key_in_the_config_is_not_echoed() -> None:
    with pytest.raises(ModelConfigError) as caught:
        model_from_spec({"provider": "openai", "model": "x", "api_key": "sk-LITERAL"})
    assert "sk-LITERAL" not in str(caught.value)


def test_extra_providers_hook() -> None:
    class Fixed:
        name = "sim"

        def __call__(self, prompt: Prompt, **params: Any) -> Completion:
            return Completion(text="A")

        async def acall(self, prompt: Prompt, **params: Any) -> Completion:
            return Completion(text="A")

    seen: list[Mapping[str, Any]] = []

    def build(spec: Mapping[str, Any]) -> Model:
        seen.append(spec)
        return Fixed()

    model = model_from_spec({"provider": "sim", "bias": 0.2}, providers={"sim": build})
    assert model("q").text == "A"
    assert seen == [{"provider": "sim", "bias": 0.2}]
