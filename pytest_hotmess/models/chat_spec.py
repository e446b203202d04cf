"""One ``models:`` entry of an HTTP chat provider (openai, anthropic, azure) as a client.

The key is never written in the file: the entry names an environment variable (``api_key_env``).
Custom ``headers:`` take a value, or an environment variable's (``{env: NAME}`` or ``${NAME}``
inside the value); a header that carries a credential must take it from the environment.
``params:`` is merged into the request parameters in the entry's order, as hotmess.yaml does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from ..config.headers import ENV_REFERENCE, PROVIDER_ONLY, SDK_ONLY, credential_header
from .errors import ModelConfigError, clean_key, where
from .http import ChatModelBase

__all__ = ["chat_model_from_spec"]

_SETTINGS = {
    "provider",
    "base_url",
    "model",
    "api_key_env",
    "timeout",
    "connect_timeout",
    "deadline",
    "max_response_bytes",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "n_per_request",
    "max_connections",
    "name",
    "headers",
    "params",
    "anthropic_version",
    "deployment",
    "api_version",
}
ChatT = TypeVar("ChatT", bound=ChatModelBase)

_SECRET_KEYS = {"api_key", "apikey", "key", "authorization", "x-api-key", "token"}


def chat_model_from_spec(
    cls: type[ChatT],
    spec: Mapping[str, Any],
    entry: str | None,
    environ: Mapping[str, str],
    http_transport: str,
) -> ChatT:
    """Build ``cls`` from an entry: settings become arguments, every other key a parameter."""
    place = where(entry)
    for key in spec:
        if isinstance(key, str) and key.lower() in _SECRET_KEYS:
            raise ModelConfigError(
                f"{place}: {key!r} must not hold a key in the config file; put the key in an "
                "environment variable and name that variable with 'api_key_env'"
            )
    model = spec.get("model")
    if not isinstance(model, str) or not model:
        raise ModelConfigError(f"{place}: 'model' (the provider's model id) is required")
    kwargs: dict[str, Any] = {"model": model, "api_key": _api_key(spec, place, environ)}
    kwargs["name"] = spec.get("name", entry)
    kwargs["http_transport"] = http_transport
    if "base_url" in spec:
        kwargs["base_url"] = _typed(spec, "base_url", str, place)
    for key in ("timeout", "connect_timeout", "deadline", "backoff_base", "backoff_max"):
        if key in spec:
            kwargs[key] = float(_typed(spec, key, (int, float), place))
    for key in ("max_attempts", "max_connections", "max_response_bytes"):
        if key in spec:
            kwargs[key] = _typed(spec, key, int, place)
    if "n_per_request" in spec:
        n = _typed(spec, "n_per_request", int, place)
        if not cls.batches_samples and n != 1:
            raise ModelConfigError(
                f"{place}: 'n_per_request' is OpenAI-only; the {cls.provider} API returns one "
                "sample per call"
            )
        if cls.batches_samples:
            kwargs["n_per_request"] = n
    for key, provider in PROVIDER_ONLY.items():
        if key in spec:
            if cls.provider != provider:
                raise ModelConfigError(f"{place}: {key!r} applies to provider {provider} only")
            kwargs[key] = _typed(spec, key, str, place)
    if "headers" in spec:
        kwargs["headers"] = _headers(spec["headers"], place, environ)
    if "api_key_env" in spec:
        kwargs["key_source"] = f"environment variable {spec['api_key_env']}"
    kwargs["params"] = _params(spec, place)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelConfigError(f"{place}: {exc}") from None


def _params(spec: Mapping[str, Any], place: str) -> dict[str, Any]:
    """The request parameters: every key that is not a setting, and ``params:``'s entries, in
    the entry's order (a later key wins, as in hotmess.yaml)."""
    params: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "params":
            if not isinstance(value, Mapping):
                raise ModelConfigError(f"{place}: 'params' must be a mapping of request fields")
            for name, item in value.items():
                if not isinstance(name, str):
                    raise ModelConfigError(f"{place}: params: field names must be strings")
                params[name] = item
        elif key not in _SETTINGS:
            params[key] = value
    for key, value in params.items():
        if isinstance(key, str) and key.lower() in SDK_ONLY:
            raise ModelConfigError(
                f"{place}: {key!r} is an SDK argument, not a request field: {SDK_ONLY[key.lower()]}"
            )
        if isinstance(key, str) and key.lower() in _SECRET_KEYS:
            raise ModelConfigError(
                f"{place}: {key!r} must not hold a key in the config file; put the key in an "
                "environment variable and name that variable with 'api_key_env'"
            )
        _check_finite(value, str(key), place)
    return params


def _headers(value: Any, place: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Header name to value, environment references resolved (the values are never shown)."""
    if not isinstance(value, Mapping):
        raise ModelConfigError(f"{place}: 'headers' must be a mapping of header name to value")
    out: dict[str, str] = {}
    for name, given in value.items():
        if not isinstance(name, str) or not name:
            raise ModelConfigError(f"{place}: headers: header names must be non-empty strings")
        source = f"{place}: headers.{name}"
        if isinstance(given, Mapping):
            if set(given) != {"env"} or not isinstance(given["env"], str) or not given["env"]:
                raise ModelConfigError(
                    f"{source}: expected a string or {{env: NAME}} (an environment variable)"
                )
            out[name] = _env_value(given["env"], source, environ)
            continue
        if not isinstance(given, str):
            raise ModelConfigError(
                f"{source}: expected a string or {{env: NAME}}, got {type(given).__name__}"
            )
        names = ENV_REFERENCE.findall(given)
        if not names and credential_header(name):
            # Never echo the value: it may be a key pasted by mistake.
            raise ModelConfigError(
                f"{source}: this header carries a credential; take its value from the "
                "environment ({env: NAME} or '${NAME}'), never from the config"
            )
        out[name] = _substitute(given, source, environ)
    return out


def _substitute(text: str, source: str, environ: Mapping[str, str]) -> str:
    """``text`` with every ``${NAME}`` replaced by that environment variable's value."""

    def value_of(match: re.Match[str]) -> str:
        return _env_value(match.group(1), source, environ)

    return ENV_REFERENCE.sub(value_of, text)


def _env_value(variable: str, source: str, environ: Mapping[str, str]) -> str:
    value = environ.get(variable)
    if not value or not value.strip():
        state = "is not set" if value is None else "is empty"
        raise ModelConfigError(f"{source}: environment variable {variable} {state}")
    return value.strip()


def _api_key(spec: Mapping[str, Any], place: str, environ: Mapping[str, str]) -> str | None:
    variable = spec.get("api_key_env")
    if variable is None:
        return None
    if not isinstance(variable, str) or not variable:
        raise ModelConfigError(f"{place}: 'api_key_env' must name an environment variable")
    value = environ.get(variable)
    if not value:
        raise ModelConfigError(
            f"{place}: environment variable {variable} (named by 'api_key_env') is not set"
        )
    try:
        return clean_key(value, f"environment variable {variable} (named by 'api_key_env')")
    except ValueError as exc:
        raise ModelConfigError(f"{place}: {exc}") from None


def _check_finite(value: object, key: str, place: str) -> None:
    """A request parameter holds finite numbers only: JSON has no NaN or infinity, so such a
    value would otherwise fail every call without naming the parameter."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelConfigError(
            f"{place}: parameter {key!r} must be a finite number, got {value!r} "
            "(JSON has no NaN/inf)"
        )
    if isinstance(value, Mapping):
        for name, item in value.items():
            _check_finite(item, f"{key}.{name}", place)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_finite(item, f"{key}[{index}]", place)


def _typed(spec: Mapping[str, Any], key: str, kind: type | tuple[type, ...], place: str) -> Any:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise ModelConfigError(f"{place}: {key!r} must be {expected}, got {value!r}")
    return value
