"""pytest-hotmess: gate ML models on coherence by splitting their error into bias and variance."""

from __future__ import annotations

__version__ = "0.1.0"

from ._clients import (
    AnthropicMessagesModel,
    ModelAPIError,
    ModelConfigError,
    OpenAIChatModel,
    model_from_spec,
)
from ._completion import Completion, Model, Sample
from ._datasets import DatasetError, DatasetItem, format_prompt, load_bundled_questions, load_items
from ._decompose import ItemEstimate, estimate_item
from ._recording import (
    Recording,
    RecordingFormatError,
    RecordingModel,
    ReplayMissError,
    ReplayModel,
)
from ._resample import ItemResult, Resampler, SamplingError
from ._types import INVALID, NOTHING
from ._uncertainty import Aggregate, aggregate

__all__ = [
    "INVALID",
    "NOTHING",
    "Aggregate",
    "AnthropicMessagesModel",
    "Completion",
    "DatasetError",
    "DatasetItem",
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
    "__version__",
    "aggregate",
    "estimate_item",
    "format_prompt",
    "load_bundled_questions",
    "load_items",
    "model_from_spec",
]
