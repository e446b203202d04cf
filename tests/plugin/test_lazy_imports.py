"""Loading the plugin is cheap: heavy modules are imported on first use, never at load time.

pytest imports the plugin in every run of a user's suite, also in runs without a coherence test.
These tests run fresh interpreters (the test process itself has long imported everything) and
look at ``sys.modules``.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_hotmess
from pytest_hotmess.config import marker as _marker
from pytest_hotmess.results import judge as _judge
from pytest_hotmess.stats import gate as _gate
from pytest_hotmess.stats import plain as _plain

HEAVY = ("numpy", "scipy", "httpx", "yaml", "aiohttp", "asyncio")
"""Third-party (and asyncio) packages that must not be imported by loading the plugin."""

ENGINE = (
    "pytest_hotmess.models.clients",
    "pytest_hotmess.stats.compare",
    "pytest_hotmess.config.file",
    "pytest_hotmess.config.datasets",
    "pytest_hotmess.stats.decompose",
    "pytest_hotmess.stats.gate",
    "pytest_hotmess.reports.html",
    "pytest_hotmess.models.http",
    "pytest_hotmess.results.judge",
    "pytest_hotmess.stats.outcomes",
    "pytest_hotmess.results.record",
    "pytest_hotmess.models.recording",
    "pytest_hotmess.sampling.resampler",
    "pytest_hotmess.sampling.draw",
    "pytest_hotmess.stats.sequential",
    "pytest_hotmess.stats.aggregate",
    "pytest_hotmess.sim",
)
"""Modules of the package that only a run with coherence tests (or models) needs."""

PUBLIC_SOURCES = {
    "pytest_hotmess.stats.kinds": ["INVALID", "NOTHING"],
    "pytest_hotmess.stats.aggregate": ["Aggregate", "aggregate"],
    "pytest_hotmess.models.clients": [
        "AnthropicMessagesModel",
        "ModelAPIError",
        "ModelConfigError",
        "OpenAIChatModel",
        "model_from_spec",
    ],
    "pytest_hotmess.sampling.completion": [
        "Completion",
        "Model",
        "Sample",
        "TokenLogprob",
        "ToolCall",
    ],
    "pytest_hotmess.models.azure": ["AzureOpenAIChatModel"],
    "pytest_hotmess.models.logprobs": ["distribution_from_logprobs"],
    "pytest_hotmess.config.datasets": [
        "DatasetError",
        "DatasetItem",
        "format_prompt",
        "load_bundled_questions",
        "load_items",
    ],
    "pytest_hotmess.stats.decompose": ["ItemEstimate", "estimate_item"],
    "pytest_hotmess.models.recording": [
        "Recording",
        "RecordingFormatError",
        "RecordingModel",
        "ReplayMissError",
        "ReplayModel",
    ],
    "pytest_hotmess.sampling.resampler": ["ItemResult", "Resampler", "SamplingError"],
    "pytest_hotmess.ingest.records": ["IngestError"],
}
"""Where each public name is defined (every name of ``pytest_hotmess.__all__``)."""

_LOADED = """
import json, sys
{statement}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    loaded = _modules_after("import pytest_hotmess.plugin")
    assert "pytest_hotmess.plugin" in loaded  # the probe itself works
    assert _roots(loaded) & set(HEAVY) == set()
    assert loaded & set(ENGINE) == set()


def test_importing_the_resampler_does_not_import_numpy() -> None:
    # The fixture needs the resampler before the first sample; numpy waits for the estimates.
    loaded = _modules_after("import pytest_hotmess.sampling.resampler")
    assert "pytest_hotmess.sampling.resampler" in loaded
    assert _roots(loaded) & {"numpy", "scipy", "httpx", "yaml", "aiohttp"} == set()


def test_every_public_name_imports_from_a_fresh_interpreter() -> None:
    names = sorted(pytest_hotmess.__all__)
    statement = f"from pytest_hotmess import {', '.join(names)}"
    loaded = _modules_after(statement)
    assert (
        "pytest_hotmess.sampling.resampler" in loaded and "pytest_hotmess.models.clients" in loaded
    )


def test_public_names_are_the_objects_of_their_modules() -> None:
    exported = {name for names in PUBLIC_SOURCES.values() for name in names}
    assert exported | {"__version__"} == set(pytest_hotmess.__all__)
    for module_name, names in PUBLIC_SOURCES.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert getattr(pytest_hotmess, name) is getattr(module, name), name


def test_unknown_names_raise_attribute_error_and_dir_lists_the_exports() -> None:
    with pytest.raises(AttributeError, match="nope"):
        _ = pytest_hotmess.nope  # type: ignore[attr-defined]
    assert not hasattr(pytest_hotmess, "nope")
    assert set(pytest_hotmess.__all__) <= set(dir(pytest_hotmess))
    assert isinstance(pytest_hotmess.__version__, str)


def test_names_that_moved_to_light_modules_stay_importable_where_they_were() -> None:
    assert _judge.DEFAULT_CONFIDENCE is _marker.DEFAULT_CONFIDENCE
    assert _marker.DEFAULT_CONFIDENCE == 0.95
    assert _gate.format_k is _plain.format_k
    assert [_plain.format_k(30, 30), _plain.format_k(28, 30), _plain.format_k(None, 3)] == [
        "30",
        "28-30",
        "?",
    ]


# -- whole pytest runs in a subprocess -----------------------------------------------------

_PROBE_CONFTEST = """
import json, sys

import pytest

WATCHED = {watched!r}


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    loaded = sorted(
        m for m in sys.modules if m.split(".")[0] in WATCHED or m.startswith("pytest_hotmess.")
    )
    with open("modules.json", "w") as out:
        json.dump(loaded, out)
"""

# Other installed plugins are switched off: respx imports httpx, pytest-socket asyncio.
_ISOLATED = (
    *("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:asyncio", "-p", "no:anyio"),
    *("-p", "no:respx", "-p", "no:socket"),
)


def _run_and_probe(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, set[str]]:
    """A real pytest process in pytester's folder; the modules it held when it ended."""
    pytester.makeconftest(_PROBE_CONFTEST.format(watched=set(HEAVY)))
    result = pytester.runpytest_subprocess(*_ISOLATED, *args)
    probe = Path(pytester.path, "modules.json")
    return result, set(json.loads(probe.read_text()))


@pytest.fixture
def quiet_pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester without the suite's pytest-asyncio option (that plugin is disabled here)."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def test_a_run_without_coherence_tests_imports_no_engine(quiet_pytester: pytest.Pytester) -> None:
    quiet_pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    result, loaded = _run_and_probe(quiet_pytester)
    result.assert_outcomes(passed=1)
    assert "pytest_hotmess.plugin" in loaded  # the plugin was loaded, and the probe ran
    assert _roots(loaded) & set(HEAVY) == set()
    assert loaded & set(ENGINE) == set()


def test_a_config_file_imports_yaml_but_builds_no_client(quiet_pytester: pytest.Pytester) -> None:
    quiet_pytester.makefile(
        ".yaml",
        hotmess=textwrap.dedent(
            """
            defaults: {samples: 4}
            models:
              remote: {provider: openai, base_url: "http://127.0.0.1:9/v1", model: m}
            """
        ),
    )
    quiet_pytester.makepyfile("def test_plain():\n    assert True\n")
    result, loaded = _run_and_probe(quiet_pytester, "--hotmess-model", "remote")
    result.assert_outcomes(passed=1)
    assert "yaml" in loaded and "pytest_hotmess.config.file" in loaded  # the file was read
    assert _roots(loaded) & {"numpy", "scipy", "httpx", "aiohttp"} == set()
    assert loaded & {"pytest_hotmess.models.clients", "pytest_hotmess.models.http"} == set()


def test_a_run_with_a_coherence_test_imports_what_it_uses(
    quiet_pytester: pytest.Pytester,
) -> None:
    quiet_pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.coherence(max_incoherence=1.0, samples=4)
            def test_gated(resample, hotmess_model):
                resample(hotmess_model, "Answer A or B.", target="A",
                         extract=lambda text: text.strip()[:1])

            def test_plain():
                assert True
            """
        )
    )
    result, loaded = _run_and_probe(quiet_pytester)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*hotmess coherence*"])
    assert {"numpy", "pytest_hotmess.stats.decompose", "pytest_hotmess.models.sim"} <= loaded
    # the simulated model needs no HTTP client
    assert _roots(loaded) & {"httpx", "aiohttp"} == set()


def test_judging_a_coherence_test_imports_scipy_for_its_t_quantiles(
    quiet_pytester: pytest.Pytester,
) -> None:
    # Intervals take their Student t quantiles from scipy.special.stdtrit, imported inside the
    # functions that need one: the run pays for scipy only once a coherence test with errors
    # is judged (half the items here are wrong, so the interval is defined).
    quiet_pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.coherence(max_incoherence=0.9, samples=6, confidence=0.9)
            def test_gated(resample):
                resample.map(
                    lambda prompt: "a",
                    [f"q{i}" for i in range(10)],
                    targets=["a", "b"] * 5,
                )
            """
        )
    )
    result, loaded = _run_and_probe(quiet_pytester, "--hotmess-details")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hotmess coherence*", "*ensemble*"])
    assert {"numpy", "pytest_hotmess.stats.decompose", "pytest_hotmess.stats.ensemble"} <= loaded
    assert "scipy.special" in loaded
