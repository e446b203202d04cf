"""Every option, from every source: CLI > environment > ini file > hotmess.yaml > default.

The checks run over the options table itself, so an option added later is covered (the first
test fails until it has sample values here).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from pytest_hotmess.config.settings import (
    OPTIONS,
    Option,
    RawOptions,
    SettingsError,
    resolve_settings,
)

VALUES: dict[str, tuple[str, str]] = {
    "samples": ("3", "4"),
    "concurrency": ("2", "3"),
    "seed": ("1", "2"),
    "json": ("a.json", "b.json"),
    "config": ("a.yaml", "b.yaml"),
    "model": ("a", "b"),
    "models": ("a,b", "c"),
    "record": ("a.jsonl", "b.jsonl"),
    "record_mode": ("overwrite", "merge"),
    "json_detail": ("samples", "tests"),
    "replay": ("a.jsonl", "b.jsonl"),
    "confidence": ("0.9", "0.8"),
    "max_samples": ("5", "6"),
    "max_calls": ("5", "6"),
    "call_timeout": ("5", "6"),
    "max_run_calls": ("5", "6"),
    "max_retries": ("1", "2"),
    "max_retry_wait": ("1", "2"),
    "max_cost": ("1", "2"),
    "max_test_cost": ("1", "2"),
    "save": ("a", "b"),
    "compare": ("a", "b"),
    "compare_fail": ("incoherence:0.05", "error@hard:0.1"),
    "baseline_dir": ("a", "b"),
    "html": ("a.html", "b.html"),
    "length_covariate": ("a", "b"),
    "details": ("true", "false"),
    "inconclusive": ("fail", "pass"),
    "transport": ("httpx", "aiohttp"),
    "progress_interval": ("5", "6"),
    "step_summary": ("a.md", "b.md"),
}
"""Two valid values of every option, as a user types them."""

SOURCES = ("cli", "env", "ini", "file")
"""Highest first."""

ROOT = Path("/root-dir")
HERE = Path("/invoked-here")


def _resolve(option: Option, given: dict[str, str]) -> tuple[Any, str]:
    """Resolve with ``option`` set in the given sources; its value and where it came from."""
    as_list = option.kind == "list"
    cli = {option.name: [given["cli"]] if as_list else given["cli"]} if "cli" in given else {}
    ini = {option.name: [given["ini"]] if as_list else given["ini"]} if "ini" in given else {}
    environ = {option.env_var: given["env"]} if "env" in given else {}
    file_values = (
        {option.name: (option.parse(given["file"]), "hotmess.yaml:1: defaults.x")}
        if "file" in given
        else {}
    )
    raw = RawOptions(cli=cli, ini=ini, inifile="tox.ini", invocation_dir=HERE, rootdir=ROOT)
    settings = resolve_settings(raw, file_values, environ)
    return getattr(settings, option.name), settings.sources[option.name]


def _expected_source(option: Option, source: str) -> str:
    return {
        "cli": option.flag,
        "env": f"environment variable {option.env_var}",
        "ini": f"tox.ini: {option.ini}",
        "file": "hotmess.yaml:1: defaults.x",
    }[source]


def test_every_option_has_sample_values_and_its_twins() -> None:
    assert set(VALUES) == {option.name for option in OPTIONS}
    for option in OPTIONS:
        assert option.flag == "--hotmess-" + option.name.replace("_", "-")
        assert option.ini == "hotmess_" + option.name
        assert option.env_var == "HOTMESS_" + option.name.upper()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
@pytest.mark.parametrize(("high", "low"), list(itertools.pairwise(SOURCES)))
def test_each_source_wins_over_the_next(option: Option, high: str, low: str) -> None:
    mine, other = VALUES[option.name]
    value, source = _resolve(option, {high: mine, low: other})
    assert source == _expected_source(option, high)
    expected = option.parse(mine)
    if option.metavar in ("PATH", "DIR") and option.name != "save":
        base = HERE if high == "cli" else ROOT
        assert value == (expected if high == "file" else str(base / mine))
    else:
        assert value == expected


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_the_environment_alone_sets_every_option(option: Option) -> None:
    mine, _ = VALUES[option.name]
    value, source = _resolve(option, {"env": mine})
    assert source == f"environment variable {option.env_var}"
    assert value == (
        str(ROOT / mine)
        if option.metavar in ("PATH", "DIR") and option.name != "save"
        else option.parse(mine)
    )


def test_a_bad_environment_value_names_the_variable() -> None:
    raw = RawOptions(cli={}, ini={}, inifile=None, invocation_dir=HERE, rootdir=ROOT)
    with pytest.raises(SettingsError, match=r"environment variable HOTMESS_SAMPLES: .* got '1'"):
        resolve_settings(raw, {}, {"HOTMESS_SAMPLES": "1"})


def test_ini_values_of_their_pytest_types_are_read() -> None:
    """pytest hands a ``bool`` ini option over as a bool and a ``linelist`` one as a list."""
    raw = RawOptions(
        cli={},
        ini={"details": False, "compare_fail": ["incoherence:0.05", "error:0.1"]},
        inifile="tox.ini",
        invocation_dir=HERE,
        rootdir=ROOT,
    )
    settings = resolve_settings(raw, {}, {"HOTMESS_DETAILS": ""})
    assert settings.details is False
    assert settings.sources["details"] == "tox.ini: hotmess_details"
    assert settings.compare_fail == ("incoherence:0.05", "error:0.1")


def test_github_step_summary_is_read_after_the_ini_file() -> None:
    raw = RawOptions(
        cli={}, ini={"step_summary": "ini.md"}, inifile="tox.ini", invocation_dir=HERE, rootdir=ROOT
    )
    environ = {"GITHUB_STEP_SUMMARY": "/runner/summary.md"}
    assert resolve_settings(raw, {}, environ).step_summary == str(ROOT / "ini.md")
    raw = RawOptions(cli={}, ini={}, inifile=None, invocation_dir=HERE, rootdir=ROOT)
    settings = resolve_settings(raw, {}, environ)
    assert settings.step_summary == "/runner/summary.md"
    assert settings.sources["step_summary"] == "environment variable GITHUB_STEP_SUMMARY"


def test_an_ini_line_may_hold_several_fail_rules() -> None:
    """Before ini options had types, one line held comma-separated rules: it still does."""
    raw = RawOptions(
        cli={},
        ini={"compare_fail": ["incoherence:0.05, error:0.1", "bias:0.2"]},
        inifile="tox.ini",
        invocation_dir=HERE,
        rootdir=ROOT,
    )
    settings = resolve_settings(raw, {}, {})
    assert settings.compare_fail == ("incoherence:0.05", "error:0.1", "bias:0.2")
