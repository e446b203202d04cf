"""One ``models:`` entry of an HTTP chat provider (openai, anthropic) as a client.

The key is never written in the file: the entry names an environment variable (``api_key_env``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

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
    kwargs["params"] = {key: value for key, value in spec.items() if key not in _SETTINGS}
    for key, value in kwargs["params"].items():
        _check_finite(value, str(key), place)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelConfigError(f"{place}: {exc}") from None


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
