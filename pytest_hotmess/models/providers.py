"""The one list of model providers: the name a ``provider:`` key of hotmess.yaml takes, and how
to build that model.

Adding a provider is one module (its client) and one :func:`register` call below. Builders
import their module when first called, so listing the providers (the plugin does it at every
run's configure, to validate hotmess.yaml) imports no HTTP stack and no numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..sampling.completion import Model

__all__ = ["BuildContext", "Provider", "ProviderBuilder", "get_provider", "provider_names"]


@dataclasses.dataclass(frozen=True)
class BuildContext:
    """What a builder may need besides the entry itself."""

    entry: str | None
    """The entry's name in hotmess.yaml: used in messages and as the default model name."""
    environ: Mapping[str, str]
    """Where ``api_key_env`` variables are looked up."""
    seed: int = 0
    """The run's seed (simulated models draw from it unless the entry sets its own)."""
    http_transport: str = "auto"
    """The async transport of HTTP clients: ``auto``, ``httpx`` or ``aiohttp``."""


ProviderBuilder = Callable[[Mapping[str, Any], BuildContext], "Model"]


@dataclasses.dataclass(frozen=True)
class Provider:
    name: str
    build: ProviderBuilder
    http: bool
    """Whether its models call an endpoint (and so take the transport setting and a key)."""


_PROVIDERS: dict[str, Provider] = {}


def register(name: str, build: ProviderBuilder, *, http: bool) -> None:
    if name in _PROVIDERS:
        raise ValueError(f"provider {name!r} is already registered")
    _PROVIDERS[name] = Provider(name, build, http)


def provider_names() -> tuple[str, ...]:
    """Every provider name, in registration order."""
    return tuple(_PROVIDERS)


def get_provider(name: object) -> Provider | None:
    return _PROVIDERS.get(name) if isinstance(name, str) else None


def _sim(spec: Mapping[str, Any], context: BuildContext) -> Model:
    from .sim import sim_model_from_spec

    return sim_model_from_spec(spec, name=context.entry, seed=context.seed)


def _openai(spec: Mapping[str, Any], context: BuildContext) -> Model:
    from .chat_spec import chat_model_from_spec
    from .openai import OpenAIChatModel

    return chat_model_from_spec(
        OpenAIChatModel, spec, context.entry, context.environ, context.http_transport
    )


def _anthropic(spec: Mapping[str, Any], context: BuildContext) -> Model:
    from .anthropic import AnthropicMessagesModel
    from .chat_spec import chat_model_from_spec

    return chat_model_from_spec(
        AnthropicMessagesModel, spec, context.entry, context.environ, context.http_transport
    )


register("sim", _sim, http=False)
register("openai", _openai, http=True)
register("anthropic", _anthropic, http=True)
