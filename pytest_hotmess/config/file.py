"""Read ``hotmess.yaml``: validate it and report every problem as ``file:line: key: problem``.

The file is parsed with PyYAML's *safe* loader only, but composed into nodes first so that
every value keeps the line it was written on. The YAML helpers here (``YamlDocument``,
``LocatedError``) are shared with the dataset loader.

Schema (every section optional; relative paths are relative to the file's directory)::

    defaults:   {samples: int >= 2, concurrency: int >= 1, seed: int,
                 confidence: float in (0, 1), json: path, model: NAME of a models entry,
                 transport: auto | httpx | aiohttp, call_timeout: seconds > 0,
                 compare_fail: FIGURE[@BUCKET]:TOL or a list, models: NAME, NAME or a list}
    thresholds:                        # a list; every entry whose glob matches applies,
      - match: "tests/test_llm.py::*"  # in file order, and a later entry overrides an
        max_incoherence: 0.4           # earlier one key by key
        samples: 20
    models:
      NAME: {provider: PROVIDER, ...}   # see MODEL_SETTINGS / SIM_KEYS
    record: path
    record_mode: merge | overwrite
    replay: path

Provider names are not listed here (config sits below the models that define them): the
caller passes the known names (``providers=``); without them any name is accepted here and
left to the model registry to refuse. ``sim`` entries take ``SIM_KEYS``, every other provider
the HTTP client's ``MODEL_SETTINGS``.

API keys never live in the file (nor in ``HotmessConfig``): a model names the environment
variable that holds its key with ``api_key_env``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import os
import re
import types
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .headers import ENV_REFERENCE, PROVIDER_ONLY, SDK_ONLY, credential_header
from .marker import CoherenceSpec, MarkerError, parse_marker_kwargs
from .settings import RECORD_MODES, TRANSPORTS

__all__ = [
    "MODEL_PARAMS",
    "MODEL_SETTINGS",
    "SIM_KEYS",
    "ConfigError",
    "Defaults",
    "HotmessConfig",
    "LocatedError",
    "ModelConfig",
    "ThresholdRule",
    "YamlDocument",
    "load_config",
    "parse_config",
]

SIM_PROVIDER = "sim"
_ESTIMATORS = ("unbiased", "plugin", "jackknife", "bootstrap")
_SIM_PRESETS = ("coherent", "hot_mess", "scattering", "small", "large")
_SECRET_NAMES = frozenset({"api_key", "apikey", "key", "authorization", "x-api-key", "token"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# -- located errors and YAML documents -------------------------------------------------------


class LocatedError(ValueError):
    """A problem at a known place of a YAML file: ``<file>:<line>: <key path>: <problem>``."""

    def __init__(self, file: str, line: int, key: str, problem: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        super().__init__(f"{file}:{line}: {key}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the parts, so the error survives pickling (pytest-xdist workers).
        return (type(self), (self.file, self.line, self.key, self.problem))


class ConfigError(LocatedError):
    """``hotmess.yaml`` is malformed or breaks the schema."""


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class YamlDocument:
    """One YAML document as a node tree, so that values can be checked where they were written.

    Values are built with the safe constructor only; errors are raised as ``error`` (a
    ``LocatedError`` subclass) naming the file, line and key path.
    """

    def __init__(self, text: str, file: str, error: type[LocatedError]) -> None:
        self.file = file
        self.error = error
        self._loader = yaml.SafeLoader(text)
        try:
            self.root: yaml.Node | None = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else 1
            problem = "; ".join(p for p in (exc.context, exc.problem) if p) or "unreadable"
            raise error(file, line, "(YAML syntax)", problem) from None
        except yaml.reader.ReaderError as exc:
            line = text[: max(exc.position, 0)].count("\n") + 1
            raise error(file, line, "(YAML syntax)", exc.reason) from None
        except yaml.YAMLError as exc:
            raise error(file, 1, "(YAML syntax)", type(exc).__name__) from None
        finally:
            self._loader.dispose()
        if self.root is not None:
            # Build every value once up front, so that a tag the safe loader refuses (or any
            # other unconstructible value) is reported where it is, whatever the schema says.
            try:
                self._loader.construct_document(self.root)
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = int(mark.line) + 1 if mark is not None else 1
                raise error(file, line, "(YAML value)", exc.problem or "unreadable") from None

    @classmethod
    def read(cls, path: str | os.PathLike[str], error: type[LocatedError]) -> YamlDocument:
        """Read a UTF-8 file; an unreadable file is an ``error`` at line 1."""
        file = os.fspath(path)
        if Path(file).is_dir():
            raise error(file, 1, "(file)", "is a directory, not a YAML file")
        try:
            text = Path(file).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise error(file, 1, "(file)", "not UTF-8 text") from None
        except OSError as exc:
            raise error(file, 1, "(file)", f"cannot read: {exc.strerror or exc}") from None
        return cls(text, file, error)

    def fail(self, node: yaml.Node | None, key: str, problem: str) -> NoReturn:
        line = _line(node) if node is not None else 1
        raise self.error(self.file, line, key or "(top level)", problem)

    def value(self, node: yaml.Node, key: str) -> Any:
        """The Python value of a node, built by the safe constructor."""
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or type(exc).__name__
            self.fail(node, key, str(problem))

    def describe(self, node: yaml.Node, key: str) -> str:
        """What a node holds, for 'expected X, got Y' messages (never the value itself)."""
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return _describe_value(self.value(node, key))

    def mapping(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """The (key, key node, value node) entries of a mapping; keys must be unique strings."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, f"expected a mapping, got {self.describe(node, key)}")
        self._loader.flatten_mapping(node)  # resolve YAML merge keys (<<)
        seen: dict[str, int] = {}
        entries: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            name = self.value(key_node, key) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(name, str):
                self.fail(key_node, key, "keys must be strings")
            if name in seen:
                self.fail(key_node, _join(key, name), f"duplicate key (first on line {seen[name]})")
            seen[name] = _line(key_node)
            entries.append((name, key_node, value_node))
        return entries

    def sequence(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, key, f"expected a list, got {self.describe(node, key)}")
        return list(node.value)


def _describe_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (YAML reads yes/no/on/off/true/false as booleans; quote text)"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- value checkers --------------------------------------------------------------------------

Check = Callable[[YamlDocument, yaml.Node, str], Any]


def _scalar(doc: YamlDocument, node: yaml.Node, key: str, expected: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        doc.fail(node, key, f"expected {expected}, got {doc.describe(node, key)}")
    return doc.value(node, key)


def _integer(minimum: int | None = None) -> Check:
    expected = "an integer" if minimum is None else f"an integer >= {minimum}"

    def check(doc: YamlDocument, node: yaml.Node, key: str) -> int:
        value = _scalar(doc, node, key, expected)
        if isinstance(value, bool) or not isinstance(value, int):
            doc.fail(node, key, f"expected {expected}, got {_describe_value(value)}")
        if minimum is not None and value < minimum:
            doc.fail(node, key, f"must be >= {minimum}, got {value}")
        return value

    return check


def _number(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> Check:
    if low is not None and high is not None:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        expected, bounds = "a number", f"must lie in {left}{low:g}, {high:g}{right}"
    elif low is not None:
        expected, bounds = "a number", f"must be {'>' if open_low else '>='} {low:g}"
    else:
        expected, bounds = "a number", ""

    def check(doc: YamlDocument, node: yaml.Node, key: str) -> float:
        value = _scalar(doc, node, key, expected)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            doc.fail(node, key, f"expected {expected}, got {_describe_value(value)}")
        number = float(value)
        if not math.isfinite(number):
            doc.fail(node, key, "must be finite")
        too_low = low is not None and (number <= low if open_low else number < low)
        too_high = high is not None and (number >= high if open_high else number > high)
        if too_low or too_high:
            doc.fail(node, key, f"{bounds}, got {number:g}")
        return number

    return check


def _text(doc: YamlDocument, node: yaml.Node, key: str) -> str:
    value = _scalar(doc, node, key, "a string")
    if not isinstance(value, str):
        doc.fail(node, key, f"expected a string, got {_describe_value(value)}")
    if not value.strip():
        doc.fail(node, key, "must not be empty")
    return value


def _choice(*choices: str) -> Check:
    def check(doc: YamlDocument, node: yaml.Node, key: str) -> str:
        value = _text(doc, node, key)
        if value not in choices:
            doc.fail(node, key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return check


def _loss(doc: YamlDocument, node: yaml.Node, key: str) -> str:
    """A loss a user may name (the registry in stats.losses; it brings numpy, so read late)."""
    from ..stats.losses import selectable_losses

    name: str = _choice(*selectable_losses())(doc, node, key)
    return name


def _path(base_dir: Path) -> Check:
    def check(doc: YamlDocument, node: yaml.Node, key: str) -> Path:
        path = Path(_text(doc, node, key)).expanduser()
        return path if path.is_absolute() else base_dir / path

    return check


def _input_file(base_dir: Path) -> Check:
    def check(doc: YamlDocument, node: yaml.Node, key: str) -> Path:
        path: Path = _path(base_dir)(doc, node, key)
        if not path.is_file():
            doc.fail(node, key, f"no such file: {path}")
        return path

    return check


def _optional(check: Check) -> Check:
    """Like ``check``, but YAML null is allowed and kept as None."""

    def optional(doc: YamlDocument, node: yaml.Node, key: str) -> Any:
        if isinstance(node, yaml.ScalarNode) and doc.value(node, key) is None:
            return None
        return check(doc, node, key)

    return optional


def _env_name(doc: YamlDocument, node: yaml.Node, key: str) -> str:
    value = _text(doc, node, key)
    if not _ENV_NAME.match(value):
        # Never echo the value: a key pasted here by mistake must not reach a log.
        doc.fail(
            node,
            key,
            "must be the NAME of an environment variable (letters, digits, _), not the key itself",
        )
    return value


def _url(doc: YamlDocument, node: yaml.Node, key: str) -> str:
    value = _text(doc, node, key)
    parts = urllib.parse.urlsplit(value)
    if "@" in parts.netloc:
        doc.fail(node, key, "must not contain credentials; name the key's variable in api_key_env")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        doc.fail(node, key, "expected an http:// or https:// URL")
    return value


def _raw_text(doc: YamlDocument, node: yaml.Node, key: str) -> str:
    """A non-empty string, whitespace allowed (stop sequences such as a newline)."""
    value = _scalar(doc, node, key, "a string")
    if not isinstance(value, str):
        doc.fail(node, key, f"expected a string, got {_describe_value(value)}")
    if not value:
        doc.fail(node, key, "must not be empty")
    return value


def _text_or_texts(doc: YamlDocument, node: yaml.Node, key: str) -> str | list[str]:
    if isinstance(node, yaml.SequenceNode):
        return [_raw_text(doc, item, f"{key}[{i}]") for i, item in enumerate(node.value)]
    return _raw_text(doc, node, key)


def _fail_rules(doc: YamlDocument, node: yaml.Node, key: str) -> tuple[str, ...]:
    """``--hotmess-compare-fail`` rules: one string (commas split it) or a list of them."""
    from ..stats.compare import parse_fail_rules

    given = _text_or_texts(doc, node, key)
    try:
        rules = parse_fail_rules(given)
    except ValueError as exc:
        doc.fail(node, key, str(exc))
    return tuple(str(rule) for rule in rules)


def _model_names(doc: YamlDocument, node: yaml.Node, key: str) -> tuple[str, ...]:
    """``--hotmess-models``: entry names, in one comma-separated string or a list."""
    given = _text_or_texts(doc, node, key)
    texts = [given] if isinstance(given, str) else given
    names = [name.strip() for text in texts for name in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        doc.fail(node, key, "expected distinct model names, e.g. 'small, large'")
    return tuple(names)


def _letters(doc: YamlDocument, node: yaml.Node, key: str) -> list[str]:
    if isinstance(node, yaml.SequenceNode):
        letters = [_text(doc, item, f"{key}[{i}]") for i, item in enumerate(node.value)]
    else:
        letters = list(_text(doc, node, key).replace(",", "").replace(" ", ""))
    if len(letters) < 2 or len(set(letters)) != len(letters):
        doc.fail(node, key, "expected at least two distinct answer labels")
    return letters


def _flag(doc: YamlDocument, node: yaml.Node, key: str) -> bool:
    value = _scalar(doc, node, key, "true or false")
    if not isinstance(value, bool):
        doc.fail(node, key, f"expected true or false, got {_describe_value(value)}")
    return value


def _headers(doc: YamlDocument, node: yaml.Node, key: str) -> dict[str, Any]:
    """Header name -> a string (``${NAME}`` references allowed) or ``{env: NAME}``. Values are
    never echoed: a credential header must name a variable, so a pasted key is refused."""
    out: dict[str, Any] = {}
    for name, key_node, value_node in doc.mapping(node, key):
        path = _join(key, name)
        if not _HEADER_NAME.fullmatch(name):
            doc.fail(key_node, path, "not a valid HTTP header name")
        if isinstance(value_node, yaml.MappingNode):
            entries = doc.mapping(value_node, path)
            if [entry for entry, _, _ in entries] != ["env"]:
                doc.fail(value_node, path, "expected a string or {env: NAME}")
            out[name] = {"env": _env_name(doc, entries[0][2], _join(path, "env"))}
            continue
        value = _scalar(doc, value_node, path, "a string or {env: NAME}")
        if not isinstance(value, str):
            doc.fail(value_node, path, "expected a string or {env: NAME}")
        if credential_header(name) and not ENV_REFERENCE.search(value):
            doc.fail(
                value_node,
                path,
                "this header carries a credential; take its value from the environment "
                "({env: NAME} or '${NAME}'), never from the config",
            )
        out[name] = value
    return out


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _free_mapping(doc: YamlDocument, node: yaml.Node, key: str) -> dict[str, Any]:
    entries = doc.mapping(node, key)
    for name, key_node, value_node in entries:
        if name.lower() in _SECRET_NAMES:
            doc.fail(key_node, _join(key, name), _SECRET_PROBLEM)
        if name.lower() in SDK_ONLY:
            problem = f"an SDK argument, not a request field: {SDK_ONLY[name.lower()]}"
            doc.fail(key_node, _join(key, name), problem)
        _check_finite_numbers(doc, value_node, _join(key, name), set())
    return {name: doc.value(value, _join(key, name)) for name, _, value in entries}


def _check_finite_numbers(doc: YamlDocument, node: yaml.Node, key: str, seen: set[int]) -> None:
    """Every number in a request parameter, however nested, is finite: JSON has no NaN or
    infinity, so such a value would fail every call instead of failing here, at its line."""
    if id(node) in seen:  # an alias seen before (YAML anchors can even nest a node in itself)
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        value = doc.value(node, key)
        if isinstance(value, float) and not math.isfinite(value):
            doc.fail(node, key, f"must be a finite number, got {value!r} (JSON has no NaN/inf)")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_finite_numbers(doc, item, f"{key}[{index}]", seen)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = doc.value(key_node, key) if isinstance(key_node, yaml.ScalarNode) else "?"
            _check_finite_numbers(doc, value_node, _join(key, str(name)), seen)


_SECRET_PROBLEM = (
    "API keys must not be written in the config; put the key in an environment variable "
    "and name that variable with api_key_env"
)

# -- schema ------------------------------------------------------------------------------------

_PROBABILITY = _number(0.0, 1.0, open_low=True, open_high=True)
_RATE = _number(0.0, 1.0)
_NON_NEGATIVE = _number(0.0)
_POSITIVE = _number(0.0, open_low=True)
_FINITE = _number()

_THRESHOLD_KEYS: dict[str, Check] = {
    "match": _text,
    "max_incoherence": _RATE,
    "max_bias": _NON_NEGATIVE,
    "max_variance": _NON_NEGATIVE,
    "max_error": _NON_NEGATIVE,
    "max_incoherence_slope": _FINITE,
    "samples": _integer(2),
    "max_samples": _integer(2),
    "loss": _loss,
    "estimator": _choice(*_ESTIMATORS),
    "confidence": _PROBABILITY,
    "call_timeout": _POSITIVE,
}

MODEL_SETTINGS: dict[str, Check] = {
    "name": _text,
    "model": _text,
    "base_url": _url,
    "api_key_env": _env_name,
    "timeout": _POSITIVE,
    "connect_timeout": _POSITIVE,
    "deadline": _POSITIVE,
    "max_response_bytes": _integer(1),
    "max_attempts": _integer(1),
    "backoff_base": _NON_NEGATIVE,
    "backoff_max": _NON_NEGATIVE,
    "n_per_request": _integer(1),
    "max_connections": _integer(1),
    "headers": _headers,
    "anthropic_version": _text,
    "deployment": _text,
    "api_version": _text,
}
"""How to reach an openai/anthropic/azure model (the client's settings)."""

MODEL_PRICES: dict[str, Check] = {
    "input_price": _NON_NEGATIVE,
    "output_price": _NON_NEGATIVE,
}
"""Token prices in currency units per million tokens, for ``--hotmess-max-cost``."""

MODEL_PARAMS: dict[str, Check] = {
    "temperature": _NON_NEGATIVE,
    "top_p": _number(0.0, 1.0, open_low=True),
    "top_k": _integer(1),
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "seed": _integer(),
    "system": _text,
    "stop": _text_or_texts,
    "presence_penalty": _FINITE,
    "frequency_penalty": _FINITE,
    "reasoning_effort": _text,
    "stream": _flag,
    "logprobs": _flag,
    "top_logprobs": _integer(0),
}
"""Sampling parameters sent with every request; ``params:`` passes any other request field."""

SIM_KEYS: dict[str, Check] = {
    "name": _text,
    "preset": _choice(*_SIM_PRESETS),
    "accuracy": _RATE,
    "systematic_rate": _RATE,
    "format_failure_rate": _RATE,
    "accuracy_slope": _FINITE,
    "systematic_slope": _FINITE,
    "difficulty_slope": _NON_NEGATIVE,
    "misconception_rate": _RATE,
    "base_tokens": _number(1.0),
    "token_spread": _NON_NEGATIVE,
    "letters": _letters,
    "seed": _integer(),
    "latency_s": _NON_NEGATIVE,
    # "dataset" is a path, checked with the file's base directory (see _model).
}
"""Settings of the ``sim`` provider (``pytest_hotmess.sim.sim_model_from_spec``)."""

# -- the configuration object -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Defaults:
    """Run-wide defaults from the ``defaults:`` section; None where the file is silent."""

    samples: int | None = None
    concurrency: int | None = None
    seed: int | None = None
    confidence: float | None = None
    json: Path | None = None
    model: str | None = None
    """Which ``models:`` entry the ``hotmess_model`` fixture uses."""
    transport: str | None = None
    """The async transport of HTTP model clients (``auto``, ``httpx`` or ``aiohttp``)."""
    call_timeout: float | None = None
    """Seconds one model call may take before it counts as failed."""
    compare_fail: tuple[str, ...] | None = None
    """Fail rules against the baseline (``FIGURE[@BUCKET]:TOL``)."""
    models: tuple[str, ...] | None = None
    """The ``models:`` entries ``hotmess_model`` is parametrised over (``--hotmess-models``)."""


@dataclasses.dataclass(frozen=True)
class ThresholdRule:
    """One ``thresholds:`` entry: marker-style settings for the tests whose node id matches."""

    match: str
    values: Mapping[str, Any]
    line: int

    def matches(self, nodeid: str) -> bool:
        """Glob match on the whole node id (``*``, ``?``, ``[seq]``; ``[[]`` is a literal ``[``)."""
        return fnmatch.fnmatchcase(nodeid, self.match)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One ``models:`` entry. Holds the NAME of the key's environment variable, never a key."""

    name: str
    provider: str
    settings: Mapping[str, Any]
    """Connection settings (openai/anthropic) or simulator settings (sim)."""
    params: Mapping[str, Any]
    """Request fields sent on every call (openai/anthropic); empty for sim."""
    line: int
    prices: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    """``input_price``/``output_price`` per million tokens; never part of a request."""

    def spec(self) -> dict[str, Any]:
        """The flat mapping the model factories take: provider, settings and parameters."""
        return {"provider": self.provider, **self.settings, **self.params}


@dataclasses.dataclass(frozen=True)
class HotmessConfig:
    """A validated ``hotmess.yaml``. Paths are absolute (resolved against the file's folder)."""

    path: Path | None = None
    source: str = "<string>"
    """The file name used in messages and in ``file_values`` sources."""
    defaults: Defaults = Defaults()
    thresholds: tuple[ThresholdRule, ...] = ()
    models: Mapping[str, ModelConfig] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    record: Path | None = None
    record_mode: str | None = None
    replay: Path | None = None
    lines: Mapping[str, int] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    """Line of every top-level and ``defaults`` key that was set, by key path."""

    def thresholds_for(self, nodeid: str) -> dict[str, Any]:
        """Settings for one test: every matching rule applies in file order, later ones win.

        So write general rules first and specific ones after, as in a stylesheet.
        """
        merged: dict[str, Any] = {}
        for rule in self.thresholds:
            if rule.matches(nodeid):
                merged.update(rule.values)
        return merged

    def spec_for(self, nodeid: str) -> CoherenceSpec | None:
        """The file's rules for one test as a checked spec; None when no rule matches it.

        The plugin then only merges specs. A bad value is a ``MarkerError`` that says it came
        from this file, not from a marker.
        """
        rules = self.thresholds_for(nodeid)
        if not rules:
            return None
        try:
            spec = parse_marker_kwargs((), rules)
        except MarkerError as exc:
            raise MarkerError(f"hotmess.yaml thresholds for this test: {exc}") from None
        return dataclasses.replace(spec, from_file=frozenset(spec.thresholds()))

    def file_values(self) -> dict[str, tuple[Any, str]]:
        """Run-wide settings set by the file, as ``name -> (value, "file:line")``."""
        out: dict[str, tuple[Any, str]] = {}
        candidates: dict[str, tuple[Any, str]] = {
            "samples": (self.defaults.samples, "defaults.samples"),
            "concurrency": (self.defaults.concurrency, "defaults.concurrency"),
            "seed": (self.defaults.seed, "defaults.seed"),
            "confidence": (self.defaults.confidence, "defaults.confidence"),
            "json": (self.defaults.json, "defaults.json"),
            "model": (self.defaults.model, "defaults.model"),
            "transport": (self.defaults.transport, "defaults.transport"),
            "call_timeout": (self.defaults.call_timeout, "defaults.call_timeout"),
            "compare_fail": (self.defaults.compare_fail, "defaults.compare_fail"),
            "models": (self.defaults.models, "defaults.models"),
            "record": (self.record, "record"),
            "record_mode": (self.record_mode, "record_mode"),
            "replay": (self.replay, "replay"),
        }
        for name, (value, key) in candidates.items():
            if value is not None:
                plain = str(value) if isinstance(value, Path) else value
                out[name] = (plain, f"{self.source}:{self.lines.get(key, 1)}: {key}")
        return out


# -- parsing -----------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str], *, providers: Collection[str] | None = None
) -> HotmessConfig:
    """Read and validate a ``hotmess.yaml``; any problem is a ``ConfigError`` with its line.

    ``providers`` are the known provider names (the plugin passes the model registry's).
    """
    doc = YamlDocument.read(path, ConfigError)
    return _parse(doc, Path(path).resolve().parent, Path(path), providers)


def parse_config(
    text: str,
    *,
    file: str = "<string>",
    base_dir: str | os.PathLike[str] = ".",
    providers: Collection[str] | None = None,
) -> HotmessConfig:
    """Validate YAML text; relative paths resolve against ``base_dir``."""
    doc = YamlDocument(text, file, ConfigError)
    return _parse(doc, Path(base_dir).resolve(), None, providers)


def _parse(
    doc: YamlDocument, base_dir: Path, path: Path | None, providers: Collection[str] | None
) -> HotmessConfig:
    if doc.root is None:
        return HotmessConfig(path=path, source=doc.file)
    sections: dict[str, Callable[[yaml.Node, str], Any]] = {
        "defaults": lambda node, key: _defaults(doc, node, key, base_dir, lines),
        "thresholds": lambda node, key: _thresholds(doc, node, key),
        "models": lambda node, key: _models(doc, node, key, base_dir, providers),
        "record": lambda node, key: _optional(_path(base_dir))(doc, node, key),
        "record_mode": lambda node, key: _optional(_choice(*RECORD_MODES))(doc, node, key),
        "replay": lambda node, key: _optional(_path(base_dir))(doc, node, key),
    }
    lines: dict[str, int] = {}
    fields: dict[str, Any] = {}
    for name, key_node, value_node in doc.mapping(doc.root, ""):
        if name not in sections:
            doc.fail(key_node, name, f"unknown key; expected one of {', '.join(sections)}")
        lines[name] = _line(value_node)
        fields[name] = sections[name](value_node, name)
    defaults: Defaults = fields.get("defaults") or Defaults()
    models: dict[str, ModelConfig] = fields.get("models") or {}
    if defaults.model is not None and defaults.model not in models:
        known = ", ".join(models) or "none"
        problem = f"no model {defaults.model!r} under models (defined: {known})"
        raise doc.error(doc.file, lines["defaults.model"], "defaults.model", problem)
    return HotmessConfig(
        path=path,
        source=doc.file,
        defaults=defaults,
        thresholds=fields.get("thresholds") or (),
        models=types.MappingProxyType(models),
        record=fields.get("record"),
        record_mode=fields.get("record_mode"),
        replay=fields.get("replay"),
        lines=types.MappingProxyType(lines),
    )


def _defaults(
    doc: YamlDocument, node: yaml.Node, key: str, base_dir: Path, lines: dict[str, int]
) -> Defaults | None:
    if isinstance(node, yaml.ScalarNode) and doc.value(node, key) is None:
        return None
    checks: dict[str, Check] = {
        "samples": _integer(2),
        "concurrency": _integer(1),
        "seed": _integer(),
        "confidence": _PROBABILITY,
        "json": _path(base_dir),
        "model": _text,
        "transport": _choice(*TRANSPORTS),
        "call_timeout": _POSITIVE,
        "compare_fail": _fail_rules,
        "models": _model_names,
    }
    values = _checked_mapping(doc, node, key, checks)
    for name, key_node, _ in doc.mapping(node, key):
        lines[_join(key, name)] = _line(key_node)
    return Defaults(**values)


def _checked_mapping(
    doc: YamlDocument, node: yaml.Node, key: str, checks: Mapping[str, Check]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, key_node, value_node in doc.mapping(node, key):
        path = _join(key, name)
        if name.lower() in _SECRET_NAMES:
            doc.fail(key_node, path, _SECRET_PROBLEM)
        if name not in checks:
            doc.fail(key_node, path, f"unknown key; expected one of {', '.join(checks)}")
        values[name] = checks[name](doc, value_node, path)
    return values


def _thresholds(doc: YamlDocument, node: yaml.Node, key: str) -> tuple[ThresholdRule, ...]:
    if isinstance(node, yaml.ScalarNode) and doc.value(node, key) is None:
        return ()
    if isinstance(node, yaml.MappingNode):
        doc.fail(node, key, "expected a list of rules, each with a 'match' glob")
    rules = []
    for index, entry in enumerate(doc.sequence(node, key)):
        path = f"{key}[{index}]"
        values = _checked_mapping(doc, entry, path, _THRESHOLD_KEYS)
        if "match" not in values:
            doc.fail(entry, path, "missing 'match' (a glob on the test node id)")
        match = values.pop("match")
        rules.append(ThresholdRule(match, types.MappingProxyType(values), _line(entry)))
    return tuple(rules)


def _models(
    doc: YamlDocument,
    node: yaml.Node,
    key: str,
    base_dir: Path,
    providers: Collection[str] | None,
) -> dict[str, ModelConfig] | None:
    if isinstance(node, yaml.ScalarNode) and doc.value(node, key) is None:
        return None
    return {
        name: _model(doc, value_node, _join(key, name), name, base_dir, providers)
        for name, _, value_node in doc.mapping(node, key)
    }


def _model(
    doc: YamlDocument,
    node: yaml.Node,
    key: str,
    name: str,
    base_dir: Path,
    providers: Collection[str] | None,
) -> ModelConfig:
    entries = doc.mapping(node, key)
    provider_node = next((value for entry, _, value in entries if entry == "provider"), None)
    if provider_node is None:
        known = f" (one of {', '.join(providers)})" if providers else ""
        doc.fail(node, key, f"missing 'provider'{known}")
    check = _choice(*providers) if providers else _text
    provider: str = check(doc, provider_node, _join(key, "provider"))
    if provider == SIM_PROVIDER:
        checks: dict[str, Check] = {
            **SIM_KEYS,
            **MODEL_PRICES,
            "dataset": _optional(_input_file(base_dir)),
        }
    else:
        checks = {**MODEL_SETTINGS, **MODEL_PARAMS, **MODEL_PRICES, "params": _free_mapping}
    settings: dict[str, Any] = {}
    params: dict[str, Any] = {}
    prices: dict[str, float] = {}
    for entry, key_node, value_node in entries:
        path = _join(key, entry)
        if entry == "provider":
            continue
        if entry.lower() in _SECRET_NAMES:
            doc.fail(key_node, path, _SECRET_PROBLEM)
        if entry not in checks:
            doc.fail(
                key_node,
                path,
                f"unknown key for provider {provider}; expected one of {', '.join(checks)}",
            )
        value = checks[entry](doc, value_node, path)
        if entry == "n_per_request" and provider == "anthropic" and value != 1:
            doc.fail(value_node, path, "the Anthropic API returns one sample per call")
        if entry in PROVIDER_ONLY and provider != PROVIDER_ONLY[entry]:
            doc.fail(key_node, path, f"applies to provider {PROVIDER_ONLY[entry]} only")
        if entry == "dataset" and value is not None:
            value = str(value)
        if entry in MODEL_PRICES:
            prices[entry] = float(value)
        elif entry == "params":
            params.update(value)
        elif provider != SIM_PROVIDER and entry in MODEL_PARAMS:
            params[entry] = value
        else:
            settings[entry] = value
    if provider != SIM_PROVIDER and "model" not in settings:
        doc.fail(node, key, f"provider {provider} needs 'model' (the provider's model id)")
    return ModelConfig(
        name=name,
        provider=provider,
        settings=types.MappingProxyType(settings),
        params=types.MappingProxyType(params),
        line=_line(node),
        prices=types.MappingProxyType(prices),
    )
