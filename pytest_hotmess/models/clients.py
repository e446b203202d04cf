"""Real model endpoints: the two chat clients, their errors, and building one from config.

``model_from_spec`` turns one ``models:`` entry of ``hotmess.yaml`` into a client. The key is
never written in the file: the entry names an environment variable (``api_key_env``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..sampling.completion import Model
from .anthropic import AnthropicMessagesModel
from .http import ChatModelBase, ModelAPIError
from .openai import OpenAIChatModel

__all__ = [
    "AnthropicMessagesModel",
    "ModelAPIError",
    "ModelConfigError",
    "OpenAIChatModel",
    "model_from_spec",
]

ProviderFactory = Callable[[Mapping[str, Any]], Model]

_SETTINGS = {
    "provider",
    "base_url",
    "model",
    "api_key_env",
    "timeout",
    "connect_timeout",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "n_per_request",
    "max_connections",
    "name",
}
_SECRET_KEYS = {"api_key", "apikey", "key", "authorization", "x-api-key", "token"}


class ModelConfigError(ValueError):
    """A ``models:`` entry that cannot become a client; the message names the entry and key."""


def model_from_spec(
    spec: Mapping[str, Any],
    *,
    entry: str | None = None,
    environ: Mapping[str, str] = os.environ,
    providers: Mapping[str, ProviderFactory] | None = None,
) -> Model:
    """Build the client described by one config entry.

    Settings: ``provider`` (``openai`` or ``anthropic``), ``model``, ``base_url``,
    ``api_key_env`` (name of the environment variable holding the key; omit it for local
    servers without auth), ``timeout``, ``connect_timeout``, ``max_attempts``,
    ``backoff_base``, ``backoff_max``, ``n_per_request`` (openai only), ``max_connections``,
    ``name``. Every other key is a sampling parameter sent on every call. ``entry`` is the
    entry's name in the config, used in error messages and as the default model name.
    ``providers`` adds factories for other providers (the plugin's ``sim``).
    """
    where = f"model entry {entry!r}" if entry is not None else "model entry"
    if not isinstance(spec, Mapping):
        raise ModelConfigError(f"{where}: expected a mapping, got {type(spec).__name__}")
    provider = spec.get("provider")
    extra = dict(providers or {})
    if isinstance(provider, str) and provider in extra:
        return extra[provider](spec)
    if provider not in ("openai", "anthropic"):
        known = ", ".join(sorted({"openai", "anthropic", *extra}))
        hint = " (the simulated model is built by the plugin)" if provider == "sim" else ""
        raise ModelConfigError(
            f"{where}: unknown provider {provider!r}{hint}; expected one of: {known}"
        )
    for key in spec:
        if isinstance(key, str) and key.lower() in _SECRET_KEYS:
            raise ModelConfigError(
                f"{where}: {key!r} must not hold a key in the config file; put the key in an "
                "environment variable and name that variable with 'api_key_env'"
            )
    model = spec.get("model")
    if not isinstance(model, str) or not model:
        raise ModelConfigError(f"{where}: 'model' (the provider's model id) is required")
    kwargs: dict[str, Any] = {"model": model, "api_key": _api_key(spec, where, environ)}
    kwargs["name"] = spec.get("name", entry)
    if "base_url" in spec:
        kwargs["base_url"] = _typed(spec, "base_url", str, where)
    for key in ("timeout", "connect_timeout", "backoff_base", "backoff_max"):
        if key in spec:
            kwargs[key] = float(_typed(spec, key, (int, float), where))
    for key in ("max_attempts", "max_connections"):
        if key in spec:
            kwargs[key] = _typed(spec, key, int, where)
    if "n_per_request" in spec:
        n = _typed(spec, "n_per_request", int, where)
        if provider == "anthropic" and n != 1:
            raise ModelConfigError(
                f"{where}: 'n_per_request' is OpenAI-only; the Messages API returns one sample"
            )
        if provider == "openai":
            kwargs["n_per_request"] = n
    kwargs["params"] = {key: value for key, value in spec.items() if key not in _SETTINGS}
    cls: type[ChatModelBase] = OpenAIChatModel if provider == "openai" else AnthropicMessagesModel
    try:
        client = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelConfigError(f"{where}: {exc}") from None
    assert isinstance(client, Model)
    return client


def _api_key(spec: Mapping[str, Any], where: str, environ: Mapping[str, str]) -> str | None:
    variable = spec.get("api_key_env")
    if variable is None:
        return None
    if not isinstance(variable, str) or not variable:
        raise ModelConfigError(f"{where}: 'api_key_env' must name an environment variable")
    value = environ.get(variable)
    if not value:
        raise ModelConfigError(
            f"{where}: environment variable {variable} (named by 'api_key_env') is not set"
        )
    return value


def _typed(spec: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise ModelConfigError(f"{where}: {key!r} must be {expected}, got {value!r}")
    return value
