"""Run-wide settings: one table of options, each with a CLI flag, an ini twin and a validator.

Precedence is CLI > environment (``HOTMESS_<NAME>``) > ini > config file > built-in default.
A bad value is a usage error that says where it came from.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "JSON_DETAILS",
    "OPTIONS",
    "RECORD_MODES",
    "TRANSPORTS",
    "Option",
    "RawOptions",
    "Settings",
    "SettingsError",
    "resolve_settings",
]

JSON_DETAILS = ("tests", "items", "samples")
"""Values of the ``json_detail`` option, least per-item data first."""

RECORD_MODES = ("merge", "overwrite")
"""Values of the ``record_mode`` option."""

TRANSPORTS = ("auto", "httpx", "aiohttp")
"""Values of the ``transport`` option (resolved in ``pytest_hotmess.models.transport``)."""


class SettingsError(ValueError):
    """A setting has a bad value; the message names its source."""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise SettingsError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise SettingsError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _int(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise SettingsError(f"expected an integer, got {text!r}") from None


def _probability(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise SettingsError(f"expected a number strictly between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise SettingsError(f"expected a number strictly between 0 and 1, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise SettingsError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise SettingsError(f"expected a finite number >= 0, got {text!r}")
    return value


def _seconds(text: str) -> float | None:
    """A number of seconds > 0; ``none`` or 0 for no limit (as pytest-timeout reads 0)."""
    value = str(text).strip().lower()
    if value == "none":
        return None
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"expected a number of seconds or none, got {text!r}") from None
    if not 0 <= number < float("inf"):
        raise SettingsError(f"expected a number of seconds >= 0 or none, got {text!r}")
    return number or None


def _positive_seconds(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise SettingsError(f"expected a number of seconds > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def _flag(text: str | bool) -> bool:
    if isinstance(text, bool):  # an ini value of type "bool"
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"expected true or false, got {text!r}")


def _fail_rules(value: str | list[str]) -> tuple[str, ...]:
    """``FIGURE:TOLERANCE`` rules, repeated on the command line or spread over ini lines."""
    from ..stats.compare import parse_fail_rules

    lines = value if isinstance(value, list) else [value]
    # an ini "linelist" keeps a line whole: "incoherence:0.05, error:0.1" is still two rules
    texts = [text for line in lines for text in str(line).replace(",", " ").split()]
    try:
        rules = parse_fail_rules(texts)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return tuple(str(rule) for rule in rules)


def _model_names(text: str) -> tuple[str, ...]:
    """``a,b``: the ``models:`` entries ``hotmess_model`` is parametrised over, each once."""
    names = [name.strip() for name in str(text).split(",")]
    if not all(names):
        raise SettingsError(f"expected model names separated by commas, got {text!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SettingsError(f"model {repeated[0]!r} is named twice in {text!r}")
    return tuple(names)


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = str(text).strip()
        if value not in choices:
            raise SettingsError(f"expected one of {', '.join(choices)}, got {text!r}")
        return value

    return parse


def _text(text: str) -> str:
    value = str(text).strip()
    if not value:
        raise SettingsError("expected a non-empty value")
    return value


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: ``--hotmess-<flag>``, ini ``hotmess_<name>``, optional env variable."""

    name: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    metavar: str = "VALUE"
    env: str | None = None
    """The environment variable; ``HOTMESS_<NAME>`` unless given."""
    kind: str = "value"
    """``value``, ``flag`` (no argument on the command line) or ``list`` (repeatable)."""
    fallback_env: tuple[str, ...] = ()
    """Variables read after the ini file, set by tools rather than users (GITHUB_STEP_SUMMARY)."""
    aliases: tuple[str, ...] = ()
    """Other command-line names (``max_run_cost`` for ``max_cost``: a name that says per run)."""

    @property
    def flag(self) -> str:
        return "--hotmess-" + self.name.replace("_", "-")

    @property
    def alias_flags(self) -> tuple[str, ...]:
        return tuple("--hotmess-" + alias.replace("_", "-") for alias in self.aliases)

    @property
    def ini(self) -> str:
        return "hotmess_" + self.name

    @property
    def env_var(self) -> str:
        return self.env or "HOTMESS_" + self.name.upper()

    @property
    def ini_type(self) -> str:
        """The pytest ini type: numbers stay strings, validated here with their source."""
        return {"flag": "bool", "list": "linelist"}.get(self.kind, "string")


OPTIONS: tuple[Option, ...] = (
    Option(
        "samples",
        "samples per item, K (default 10); a marker's samples= wins",
        _int_at_least(2),
        10,
        "K",
    ),
    Option("concurrency", "model calls in flight at once (default 8)", _int_at_least(1), 8, "N"),
    Option("seed", "seed for simulated models and the bootstrap (default 0)", _int, 0, "N"),
    Option("json", "write the JSON report to PATH", _text, None, "PATH"),
    Option(
        "json_detail",
        "how much per-item data the JSON report holds: tests (no item list), items (each "
        "item's figures, the default) or samples (also its outcomes, counts and covariates)",
        _choice(*JSON_DETAILS),
        "items",
        "LEVEL",
    ),
    Option(
        "config",
        "YAML configuration file (default: hotmess.yaml at the rootdir)",
        _text,
        None,
        "PATH",
    ),
    Option(
        "model",
        "model from the configuration for the hotmess_model fixture "
        "(default: the built-in simulated model)",
        _text,
        None,
        "NAME",
        env="HOTMESS_MODEL",
    ),
    Option(
        "models",
        "run every test that uses the hotmess_model fixture once per named model (A,B: "
        "entries of the configuration, or sim); test ids get [A], [B], and the reports a "
        "table by model and difficulty",
        _model_names,
        (),
        "A,B",
    ),
    Option("record", "record every model sample to PATH", _text, None, "PATH"),
    Option(
        "record_mode",
        "how --hotmess-record treats answers PATH already holds: merge (default: reuse them, "
        "add new ones) or overwrite (ask the model again and replace the answers it gives; "
        "answers to requests this run does not send are kept)",
        _choice(*RECORD_MODES),
        "merge",
        "MODE",
    ),
    Option(
        "replay",
        "answer model calls from the recording at PATH instead of the model",
        _text,
        None,
        "PATH",
    ),
    Option(
        "confidence",
        "apply the statistical gate at this confidence to every gated test (e.g. 0.95)",
        _probability,
        None,
        "LEVEL",
    ),
    Option(
        "max_samples",
        "make K adaptive: draw in rounds up to this many samples per item, stopping when every "
        "threshold is decided (statistical gate)",
        _int_at_least(2),
        None,
        "K",
    ),
    Option(
        "max_calls",
        "call budget per test (for the run: --hotmess-max-run-calls)",
        _int_at_least(1),
        None,
        "N",
    ),
    Option(
        "call_timeout",
        "seconds one model call may take before it counts as a failed call (default: none; "
        "a marker's call_timeout= wins)",
        _seconds,
        None,
        "SECONDS",
    ),
    Option(
        "max_run_calls",
        "call budget for the whole run (split evenly over xdist workers)",
        _int_at_least(1),
        None,
        "N",
    ),
    Option(
        "max_retries",
        "retry budget for the whole run: HTTP retries of model calls (split evenly over xdist "
        "workers); when it runs out, sampling stops like a call budget",
        _int_at_least(0),
        None,
        "N",
    ),
    Option(
        "max_retry_wait",
        "seconds the whole run may spend waiting before HTTP retries (split evenly over xdist "
        "workers); a wait longer than what is left stops sampling instead of sleeping",
        _non_negative,
        None,
        "SECONDS",
    ),
    Option(
        "max_cost",
        "cost budget for the whole run, from the chosen model's input_price/output_price "
        "(per million tokens; split evenly over xdist workers; also --hotmess-max-run-cost; "
        "per test: --hotmess-max-test-cost)",
        _non_negative,
        None,
        "AMOUNT",
        aliases=("max_run_cost",),
    ),
    Option(
        "max_test_cost",
        "cost budget per test, from the chosen model's input_price/output_price (per million "
        "tokens)",
        _non_negative,
        None,
        "AMOUNT",
    ),
    Option(
        "save",
        "save this run's JSON report as a baseline called NAME (in --hotmess-baseline-dir)",
        _text,
        None,
        "NAME",
    ),
    Option(
        "compare",
        "compare this run with a saved baseline (a NAME in the baseline folder, or a PATH to a "
        "JSON report)",
        _text,
        None,
        "NAME|PATH",
    ),
    Option(
        "compare_fail",
        "fail the run when a figure regresses beyond a tolerance against the baseline, e.g. "
        "incoherence:0.05 (the lower bound of the increase must exceed it); FIGURE@BUCKET:TOL "
        "gates one difficulty bucket, e.g. incoherence@hard:0.05",
        _fail_rules,
        (),
        "FIGURE[@BUCKET]:TOL",
        kind="list",
    ),
    Option(
        "baseline_dir",
        "folder of saved baselines (default .hotmess at the rootdir)",
        _text,
        None,
        "DIR",
    ),
    Option("html", "write a self-contained HTML report to PATH", _text, None, "PATH"),
    Option(
        "length_covariate",
        "per-sample covariate that stands for reasoning length (default: reasoning_tokens, "
        "then output_tokens, then a covariate named 'length')",
        _text,
        None,
        "NAME",
    ),
    Option(
        "details",
        "show incoherence by length and ensemble projections per test in the terminal summary",
        _flag,
        False,
        kind="flag",
    ),
    Option(
        "inconclusive",
        "how an inconclusive statistical verdict decides the test: point (default: by the "
        "point estimate), fail or pass",
        _choice("point", "fail", "pass"),
        "point",
        "MODE",
    ),
    Option(
        "transport",
        "how async model calls reach HTTP endpoints, always through httpx: auto (default: the "
        "aiohttp transport when pytest-hotmess[aiohttp] is installed, else httpx's own), httpx "
        "or aiohttp",
        _choice(*TRANSPORTS),
        "auto",
        "NAME",
    ),
    Option(
        "progress_interval",
        "seconds between plain progress lines where no live line is drawn (logs, -q, xdist; "
        "default 10)",
        _positive_seconds,
        10.0,
        "SECONDS",
    ),
    Option(
        "step_summary",
        "append the coherence table as Markdown to PATH (default: $GITHUB_STEP_SUMMARY when "
        "set, as on GitHub Actions)",
        _text,
        None,
        "PATH",
        fallback_env=("GITHUB_STEP_SUMMARY",),
    ),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved value of every option, and where each came from."""

    samples: int = 10
    concurrency: int = 8
    seed: int = 0
    json: str | None = None
    json_detail: str = "items"
    config: str | None = None
    model: str | None = None
    models: tuple[str, ...] = ()
    record: str | None = None
    record_mode: str = "merge"
    replay: str | None = None
    confidence: float | None = None
    max_samples: int | None = None
    max_calls: int | None = None
    call_timeout: float | None = None
    max_run_calls: int | None = None
    max_retries: int | None = None
    max_retry_wait: float | None = None
    max_cost: float | None = None
    max_test_cost: float | None = None
    save: str | None = None
    compare: str | None = None
    compare_fail: tuple[str, ...] = ()
    baseline_dir: str | None = None
    html: str | None = None
    length_covariate: str | None = None
    details: bool = False
    inconclusive: str = "point"
    transport: str = "auto"
    progress_interval: float = 10.0
    step_summary: str | None = None
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict)
    explicit: frozenset[str] = frozenset()
    """Names set on the command line, in the environment or in the ini file: these win over
    per-test rules of the config file, which win over the file's defaults."""


@dataclasses.dataclass(frozen=True)
class RawOptions:
    """What the host (the pytest glue) read for every option, before validation."""

    cli: Mapping[str, Any]
    """Command-line values by option name (``None`` where not given)."""
    ini: Mapping[str, Any]
    """Ini-file values by option name (``None`` or empty where not given)."""
    inifile: str | None
    invocation_dir: Path
    """Where pytest was invoked: command-line paths are relative to it."""
    rootdir: Path
    """The rootdir: ini and environment paths are relative to it."""


def resolve_settings(
    raw: RawOptions,
    file_values: Mapping[str, tuple[Any, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every option; ``file_values`` maps a name to (value, source) from the YAML file.

    Values from the YAML file were validated by its loader; the rest are validated here. A bad
    value raises :class:`SettingsError` whose message starts with the value's source.
    """
    environ = os.environ if environ is None else environ
    file_values = file_values or {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    explicit: set[str] = set()
    inifile = raw.inifile or "ini file"
    for option in OPTIONS:
        ini_value = raw.ini.get(option.name)
        candidates: list[tuple[Any, str]] = [
            (raw.cli.get(option.name), option.flag),
            (environ.get(option.env_var) or None, f"environment variable {option.env_var}"),
            (None if ini_value in (None, "", []) else ini_value, f"{inifile}: {option.ini}"),
        ]
        candidates += [
            (environ.get(name) or None, f"environment variable {name}")
            for name in option.fallback_env
        ]
        for given, source in candidates:
            if given is None:
                continue
            try:
                values[option.name] = option.parse(given)
            except SettingsError as exc:
                raise SettingsError(f"{source}: {exc}") from None
            sources[option.name] = source
            explicit.add(option.name)
            break
        else:
            if option.name in file_values:
                values[option.name], sources[option.name] = file_values[option.name]
            else:
                values[option.name] = option.default
                sources[option.name] = "default"
    for name in ("json", "record", "replay", "config", "html", "baseline_dir", "step_summary"):
        # CLI paths are relative to where pytest was invoked, ini paths to the rootdir.
        if values[name] is not None and sources[name] != "default":
            base = raw.invocation_dir if sources[name].startswith("--") else raw.rootdir
            values[name] = str(Path(base, values[name]))
    return Settings(**values, sources=sources, explicit=frozenset(explicit))
