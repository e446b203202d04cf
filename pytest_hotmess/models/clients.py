"""Real model endpoints: the two chat clients, their errors, and building a model from config.

``model_from_spec`` turns one ``models:`` entry of ``hotmess.yaml`` into a model through the
provider registry (:mod:`.providers`). The key is never written in the file: the entry names
an environment variable (``api_key_env``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..sampling.completion import Model
from .anthropic import AnthropicMessagesModel
from .errors import ModelAPIError, ModelConfigError
from .openai import OpenAIChatModel
from .providers import BuildContext, build_model

__all__ = [
    "AnthropicMessagesModel",
    "ModelAPIError",
    "ModelConfigError",
    "OpenAIChatModel",
    "model_from_spec",
]

ProviderFactory = Callable[[Mapping[str, Any]], Model]


def model_from_spec(
    spec: Mapping[str, Any],
    *,
    entry: str | None = None,
    environ: Mapping[str, str] | None = None,
    providers: Mapping[str, ProviderFactory] | None = None,
    seed: int = 0,
    http_transport: str = "auto",
) -> Model:
    """Build the model described by one config entry.

    ``provider`` is one of the registered providers (``sim``, ``openai``, ``anthropic``,
    ``azure``).
    Settings of the HTTP providers: ``model``, ``base_url``, ``api_key_env`` (name of the
    environment variable holding the key; omit it for local servers without auth),
    ``timeout``, ``connect_timeout``, ``deadline`` (seconds one call may take in all, retries
    included; default 120), ``max_response_bytes`` (largest answer body after decompression;
    default 8 MiB), ``max_attempts``, ``backoff_base``, ``backoff_max``, ``n_per_request``
    (openai only), ``max_connections``, ``name``, ``headers`` (header name to a value,
    ``{env: NAME}`` or a value with ``${NAME}`` references), ``anthropic_version`` (anthropic),
    ``deployment`` and ``api_version`` (azure); ``params`` (a mapping) and every other key are
    request fields sent on every call (``stream``, ``tools``, ``logprobs`` among them).
    ``entry`` is the entry's name in the config, used in error messages and as the default
    model name. ``environ`` is where ``api_key_env`` is looked up (default: the
    process environment, read at the call). ``providers`` adds (or overrides) factories by
    provider name; ``seed`` seeds a simulated model; ``http_transport`` is the async transport
    of HTTP clients (``auto``, ``httpx``, ``aiohttp``).
    """
    environ = os.environ if environ is None else environ
    context = BuildContext(entry=entry, environ=environ, seed=seed, http_transport=http_transport)
    model = build_model(spec, context, providers)
    assert isinstance(model, Model)
    return model
