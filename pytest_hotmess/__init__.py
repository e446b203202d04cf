"""pytest-hotmess: gate ML models on coherence by splitting their error into bias and variance.

The public names are imported on first access (PEP 562): pytest imports this package in every
run through the plugin, and most runs never touch the estimators (numpy) or the model clients.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # the real imports, for type checkers and IDEs
    from .config.datasets import (
        DatasetError,
        DatasetItem,
        format_prompt,
        load_bundled_questions,
        load_items,
    )
    from .ingest.records import IngestError
    from .models.azure import AzureOpenAIChatModel
    from .models.clients import (
        AnthropicMessagesModel,
        ModelAPIError,
        ModelConfigError,
        OpenAIChatModel,
        model_from_spec,
    )
    from .models.logprobs import distribution_from_logprobs
    from .models.recording import (
        Recording,
        RecordingFormatError,
        RecordingModel,
        ReplayMissError,
        ReplayModel,
    )
    from .sampling.completion import Completion, Model, Sample, TokenLogprob, ToolCall
    from .sampling.resampler import ItemResult, Resampler, SamplingError
    from .stats.aggregate import Aggregate, aggregate
    from .stats.decompose import ItemEstimate, estimate_item
    from .stats.kinds import INVALID, NOTHING

__all__ = [
    "INVALID",
    "NOTHING",
    "Aggregate",
    "AnthropicMessagesModel",
    "AzureOpenAIChatModel",
    "Completion",
    "DatasetError",
    "DatasetItem",
    "IngestError",
    "ItemEstimate",
    "ItemResult",
    "Model",
    "ModelAPIError",
    "ModelConfigError",
    "OpenAIChatModel",
    "Recording",
    "RecordingFormatError",
    "RecordingModel",
    "ReplayMissError",
    "ReplayModel",
    "Resampler",
    "Sample",
    "SamplingError",
    "TokenLogprob",
    "ToolCall",
    "__version__",
    "aggregate",
    "distribution_from_logprobs",
    "estimate_item",
    "format_prompt",
    "load_bundled_questions",
    "load_items",
    "model_from_spec",
]

_SOURCE_MODULE = {
    "INVALID": ".stats.kinds",
    "NOTHING": ".stats.kinds",
    "Aggregate": ".stats.aggregate",
    "aggregate": ".stats.aggregate",
    "AnthropicMessagesModel": ".models.clients",
    "ModelAPIError": ".models.clients",
    "ModelConfigError": ".models.clients",
    "OpenAIChatModel": ".models.clients",
    "model_from_spec": ".models.clients",
    "Completion": ".sampling.completion",
    "Model": ".sampling.completion",
    "Sample": ".sampling.completion",
    "TokenLogprob": ".sampling.completion",
    "ToolCall": ".sampling.completion",
    "AzureOpenAIChatModel": ".models.azure",
    "distribution_from_logprobs": ".models.logprobs",
    "DatasetError": ".config.datasets",
    "DatasetItem": ".config.datasets",
    "format_prompt": ".config.datasets",
    "load_bundled_questions": ".config.datasets",
    "load_items": ".config.datasets",
    "ItemEstimate": ".stats.decompose",
    "estimate_item": ".stats.decompose",
    "Recording": ".models.recording",
    "RecordingFormatError": ".models.recording",
    "RecordingModel": ".models.recording",
    "ReplayMissError": ".models.recording",
    "ReplayModel": ".models.recording",
    "ItemResult": ".sampling.resampler",
    "Resampler": ".sampling.resampler",
    "SamplingError": ".sampling.resampler",
    "IngestError": ".ingest.records",
}
"""Where each lazily exported public name is defined."""


def _import_on_first_access(name: str) -> Any:
    """Import a public name's module on first access and keep the name here."""
    module = _SOURCE_MODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups no longer reach __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if not TYPE_CHECKING:
    # Hidden from type checkers, which see the real imports above: a visible module
    # ``__getattr__`` would make them accept any misspelt ``pytest_hotmess.name``.
    __getattr__ = _import_on_first_access
