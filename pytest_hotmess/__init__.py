"""pytest-hotmess: gate ML models on coherence by splitting their error into bias and variance."""

from __future__ import annotations

from ._completion import Completion, Model
from ._types import INVALID, NOTHING

__version__ = "0.1.0"

__all__ = ["INVALID", "NOTHING", "Completion", "Model", "__version__"]
