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

from .errors import ModelConfigError, where

__all__ = [
    "BuildContext",
    "Provider",
    "ProviderBuilder",
    "build_model",
    "get_provider",
    "provider_names",
    "register",
]


@dataclasses.dataclass(frozen=True)
class BuildContext:
    """What a builder may need besides the entry itself."""

    entry: str | None
    """The entry's name in hotmess.yaml: used in messages and as the default model name."""
    environ: Mapping[str, str] = dataclasses.field(repr=False)
    """Where ``api_key_env`` variables are looked up (never shown: it holds keys)."""
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


def build_model(
    spec: Mapping[str, Any],
    context: BuildContext,
    extra: Mapping[str, Callable[[Mapping[str, Any]], Model]] | None = None,
) -> Model:
    """The model of one config entry, by its ``provider``; ``extra`` adds factories by name.

    Every problem is a :class:`ModelConfigError` that names the entry.
    """
    place = where(context.entry)
    if not isinstance(spec, Mapping):
        raise ModelConfigError(f"{place}: expected a mapping, got {type(spec).__name__}")
    name = spec.get("provider")
    extra = extra or {}
    if isinstance(name, str) and name in extra:
        return extra[name](spec)
    provider = get_provider(name)
    if provider is None:
        known = ", ".join(dict.fromkeys([*provider_names(), *extra]))
        raise ModelConfigError(f"{place}: unknown provider {name!r}; expected one of: {known}")
    try:
        return provider.build(spec, context)
    except ModelConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ModelConfigError(f"{place}: {exc}") from None


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


def _azure(spec: Mapping[str, Any], context: BuildContext) -> Model:
    from .azure import AzureOpenAIChatModel
    from .chat_spec import chat_model_from_spec

    return chat_model_from_spec(
        AzureOpenAIChatModel, spec, context.entry, context.environ, context.http_transport
    )


register("sim", _sim, http=False)
register("openai", _openai, http=True)
register("anthropic", _anthropic, http=True)
register("azure", _azure, http=True)
