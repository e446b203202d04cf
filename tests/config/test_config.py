"""hotmess.yaml: the schema, override rules, and errors that name file, line and key."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest
from _yaml_errors import assert_points_at, model_x, rule

from pytest_hotmess.config.file import ConfigError, HotmessConfig, load_config, parse_config
from pytest_hotmess.config.marker import CoherenceSpec, MarkerError
from pytest_hotmess.models.providers import provider_names
from pytest_hotmess.sim import MultipleChoiceSim, sim_model_from_spec

FULL = """\
defaults:
  samples: 12
  concurrency: 4
  seed: 7
  confidence: 0.9
  json: out/report.json
thresholds:
  - match: "tests/*"
    max_incoherence: 0.5
    max_error: 1.5
  - match: "tests/test_llm.py::*"
    max_incoherence: 0.3
    samples: 20
    loss: kl
    estimator: plugin
  - match: "tests/test_llm.py::test_param[[]*"
    confidence: 0.99
models:
  local: {provider: openai, base_url: "http://127.0.0.1:8000/v1", model: my-model,
          api_key_env: MY_KEY, temperature: 1.0, stop: ["\\n"], params: {logprobs: true}}
  claude: {provider: anthropic, model: claude-sonnet-4-5, api_key_env: ANTHROPIC_API_KEY,
           max_tokens: 512, system: Be brief.}
  offline: {provider: sim}
  calm: {provider: sim, preset: coherent, seed: 3, dataset: data/qs.yaml}
record: recordings/run.jsonl
"""


def write(tmp_path: Path, text: str, name: str = "hotmess.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def full(tmp_path: Path) -> Path:
    """FULL written next to the dataset its ``calm`` model names."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "qs.yaml").write_text(
        "- {id: q, prompt: Pick, choices: [x, y], answer: B}\n", encoding="utf-8"
    )
    return write(tmp_path, FULL)


def test_full_config_is_typed_and_paths_resolve_against_the_file(
    tmp_path: Path, full: Path
) -> None:
    config = load_config(full)
    d = config.defaults
    assert (d.samples, d.concurrency, d.seed, d.confidence) == (12, 4, 7, 0.9)
    assert d.json == tmp_path.resolve() / "out" / "report.json"
    assert config.record == tmp_path.resolve() / "recordings" / "run.jsonl"
    assert config.replay is None
    assert [rule.line for rule in config.thresholds] == [8, 11, 16]
    local = config.models["local"]
    assert local.provider == "openai" and local.line == 19
    assert local.spec() == {
        "provider": "openai",
        "base_url": "http://127.0.0.1:8000/v1",
        "model": "my-model",
        "api_key_env": "MY_KEY",
        "temperature": 1.0,
        "stop": ["\n"],
        "logprobs": True,
    }
    assert config.models["claude"].params == {"max_tokens": 512, "system": "Be brief."}
    assert config.models["offline"].spec() == {"provider": "sim"}
    calm = config.models["calm"].settings
    assert calm["dataset"] == str(tmp_path.resolve() / "data" / "qs.yaml")


def test_thresholds_apply_in_file_order_and_later_rules_win(full: Path) -> None:
    config = load_config(full)
    assert config.thresholds_for("tests/test_other.py::test_a") == {
        "max_incoherence": 0.5,
        "max_error": 1.5,
    }
    assert config.thresholds_for("tests/test_llm.py::test_a") == {
        "max_incoherence": 0.3,
        "max_error": 1.5,
        "samples": 20,
        "loss": "kl",
        "estimator": "plugin",
    }
    # "[[]" matches a literal "[", so parametrized ids can be targeted.
    assert config.thresholds_for("tests/test_llm.py::test_param[hot]")["confidence"] == 0.99
    assert "confidence" not in config.thresholds_for("tests/test_llm.py::test_paramx")
    assert config.thresholds_for("elsewhere/test_x.py::test") == {}


def test_spec_for_is_the_parsed_spec_of_the_matching_rules(full: Path) -> None:
    config = load_config(full)
    from_file = frozenset({"max_incoherence", "max_error"})  # thresholds the file set
    assert config.spec_for("tests/test_llm.py::test_a") == CoherenceSpec(
        max_incoherence=0.3,
        max_error=1.5,
        samples=20,
        loss="kl",
        estimator="plugin",
        from_file=from_file,
    )
    assert config.spec_for("tests/test_other.py::test_a") == CoherenceSpec(
        max_incoherence=0.5, max_error=1.5, from_file=from_file
    )
    assert config.spec_for("elsewhere/test_x.py::test") is None


def test_spec_for_names_the_file_when_merged_rules_contradict() -> None:
    # each rule is valid alone; together they ask for max_samples below samples
    config = parse_config(
        "thresholds:\n  - {match: '*', samples: 20}\n  - {match: 'tests/*', max_samples: 5}\n"
    )
    assert config.spec_for("other/test_x.py::t") == CoherenceSpec(samples=20)
    with pytest.raises(MarkerError) as caught:
        config.spec_for("tests/test_x.py::t")
    assert str(caught.value) == (
        "hotmess.yaml thresholds for this test: max_samples (5) must be at least samples (20)"
    )


def test_file_values_name_their_line_for_the_settings_resolver(tmp_path: Path, full: Path) -> None:
    path = full
    values = load_config(path).file_values()
    assert values["samples"] == (12, f"{path}:2: defaults.samples")
    assert values["json"] == (
        str(tmp_path.resolve() / "out/report.json"),
        f"{path}:6: defaults.json",
    )
    assert values["record"][1] == f"{path}:25: record"
    assert "replay" not in values


def test_default_model_must_name_a_models_entry() -> None:
    text = "defaults:\n  model: offline\nmodels:\n  offline: {provider: sim}\n"
    config = parse_config(text, file="h.yaml")
    assert config.defaults.model == "offline"
    assert config.file_values()["model"] == ("offline", "h.yaml:2: defaults.model")
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace("model: offline", "model: online"), file="h.yaml")
    assert str(info.value) == (
        "h.yaml:2: defaults.model: no model 'online' under models (defined: offline)"
    )


def test_empty_file_and_empty_sections_are_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert load_config(path) == HotmessConfig(path=path, source=str(path))
    config = parse_config("defaults:\nthresholds:\nmodels:\n")
    assert config.defaults.samples is None and config.thresholds == () and config.models == {}


def test_sim_entries_build_models(full: Path) -> None:
    config = load_config(full)
    calm = sim_model_from_spec(config.models["calm"].spec(), name="calm")
    assert isinstance(calm, MultipleChoiceSim)
    assert (calm.name, calm.seed, calm.profile("Pick").answer) == ("calm", 3, "B")
    assert sim_model_from_spec(config.models["offline"].spec()).name == "sim"


def test_yaml_merge_keys_work_and_unsafe_tags_are_refused() -> None:
    config = parse_config(
        "models:\n  a: &base {provider: sim, preset: hot_mess}\n  b: {<<: *base, seed: 4}\n"
    )
    assert config.models["b"].settings == {"preset": "hot_mess", "seed": 4}
    for text in (
        "defaults:\n  seed: !!python/object/apply:os.system ['true']\n",
        "defaults:\n  seed: !!python/name:os.system\n",
    ):
        with pytest.raises(ConfigError, match=r"^cfg\.yaml:2: \(YAML value\): ") as info:
            parse_config(text, file="cfg.yaml")
        assert "could not determine a constructor" in info.value.problem


# Each case: YAML text, expected line, key path, words of the problem.
ERRORS = [
    ("defaults:\n\tsamples: 3\n", 2, "(YAML syntax)", "cannot start any token"),
    (rule("max_bias: [1, 2"), 4, "(YAML syntax)", "expected ','"),
    ("default:\n  samples: 3\n", 1, "default", "unknown key"),
    ("defaults:\n  sample: 3\n", 2, "defaults.sample", "unknown key"),
    (
        "defaults:\n  samples: ten\n",
        2,
        "defaults.samples",
        "expected an integer >= 2, got a string",
    ),
    ("defaults:\n  samples: true\n", 2, "defaults.samples", "got a boolean"),
    ("defaults:\n  concurrency: 2.5\n", 2, "defaults.concurrency", "got a number"),
    ("defaults:\n  samples: 1\n", 2, "defaults.samples", "must be >= 2, got 1"),
    ("defaults:\n  concurrency: 0\n", 2, "defaults.concurrency", "must be >= 1"),
    ("defaults:\n  confidence: 1.0\n", 2, "defaults.confidence", "must lie in (0, 1)"),
    ("defaults:\n  confidence: .nan\n", 2, "defaults.confidence", "must be finite"),
    ("defaults:\n  json: [a]\n", 2, "defaults.json", "expected a string, got a list"),
    ("defaults: [1]\n", 1, "defaults", "expected a mapping, got a list"),
    ("defaults:\n  seed: 1\n  seed: 2\n", 3, "defaults.seed", "duplicate key (first on line 2)"),
    ("- 1\n", 1, "(top level)", "expected a mapping"),
    ("thresholds:\n  tests/*: {max_bias: 1}\n", 2, "thresholds", "expected a list of rules"),
    ("thresholds:\n  - max_bias: 1\n", 2, "thresholds[0]", "missing 'match'"),
    (
        "thresholds:\n  - {match: a}\n  - {match: b, max_bais: 1}\n",
        3,
        "thresholds[1].max_bais",
        "unknown key",
    ),
    (
        rule("max_incoherence: 1.5"),
        3,
        "thresholds[0].max_incoherence",
        "must lie in [0, 1], got 1.5",
    ),
    (rule("max_variance: -1"), 3, "thresholds[0].max_variance", "must be >= 0"),
    (rule("loss: mse"), 3, "thresholds[0].loss", "expected one of brier, kl"),
    ("thresholds:\n  - match: 5\n", 2, "thresholds[0].match", "expected a string, got an integer"),
    ("models:\n  x:\n    model: m\n", 3, "models.x", "missing 'provider'"),
    (model_x("provider: mystery"), 2, "models.x.provider", "expected one of sim, openai"),
    ("models:\n  x:\n    provider: openai\n", 3, "models.x", "needs 'model'"),
    (
        model_x("provider: sim, temperature: 1"),
        2,
        "models.x.temperature",
        "unknown key for provider sim",
    ),
    (
        model_x("provider: openai, model: m, temprature: 1"),
        2,
        "models.x.temprature",
        "unknown key for provider openai",
    ),
    (model_x("provider: openai, model: m, timeout: 0"), 2, "models.x.timeout", "must be > 0"),
    (
        model_x("provider: anthropic, model: m, n_per_request: 4"),
        2,
        "models.x.n_per_request",
        "one sample per call",
    ),
    (model_x("provider: sim, accuracy: 2"), 2, "models.x.accuracy", "must lie in [0, 1]"),
    (model_x("provider: sim, preset: chaos"), 2, "models.x.preset", "expected one of"),
    (model_x("provider: sim, letters: [A]"), 2, "models.x.letters", "two distinct"),
    (model_x("provider: sim, dataset: nope.yaml"), 2, "models.x.dataset", "no such file"),
    (
        model_x("provider: openai, model: m, params: [1]"),
        2,
        "models.x.params",
        "expected a mapping",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "problem"), ERRORS)
def test_errors_name_file_line_key_and_problem(
    tmp_path: Path, text: str, line: int, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, providers=provider_names())
    error = info.value
    assert_points_at(error, path, line, key, problem)
    assert (error.file, error.line, error.key) == (str(path), line, key)


SECRET = "sk-test-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (f"models:\n  x: {{provider: openai, model: m, api_key: {SECRET}}}\n", "models.x.api_key"),
        (
            f"models:\n  x: {{provider: openai, model: m, api_key_env: {SECRET}}}\n",
            "models.x.api_key_env",
        ),
        (
            "models:\n  x:\n    provider: openai\n    model: m\n"
            f"    params: {{Authorization: {SECRET}}}\n",
            "models.x.params.Authorization",
        ),
        (
            f"models:\n  x: {{provider: openai, model: m, base_url: 'https://u:{SECRET}@h/v1'}}\n",
            "models.x.base_url",
        ),
    ],
)
def test_keys_written_into_the_config_are_refused_without_being_echoed(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="hotmess.yaml")
    assert info.value.key == key
    assert "environment variable" in info.value.problem or "credentials" in info.value.problem
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_a_valid_config_holds_only_the_name_of_the_key_variable() -> None:
    config = parse_config("models:\n  x: {provider: openai, model: m, api_key_env: MY_KEY}\n")
    assert config.models["x"].settings["api_key_env"] == "MY_KEY"
    assert "api_key" not in config.models["x"].spec()


def test_unreadable_file_and_pickling(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml:1: \(file\): cannot read"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "latin.yaml").write_bytes(b"defaults: {seed: 1}  # caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "latin.yaml")
    with pytest.raises(ConfigError) as info:
        parse_config("defaults: {samples: 1}", file="h.yaml")
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, ConfigError) and str(again) == str(info.value)
    assert isinstance(info.value, ValueError)
