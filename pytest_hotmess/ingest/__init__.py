"""Read samples other eval tools drew (inspect_ai, promptfoo, lm-evaluation-harness, plain
JSONL/CSV) as typed items, for ``resample.ingest`` and ``python -m pytest_hotmess report``."""

from __future__ import annotations

from .formats import FORMATS
from .records import IngestedItem, IngestError
from .source import Source, detect_format, read_source

__all__ = ["FORMATS", "IngestError", "IngestedItem", "Source", "detect_format", "read_source"]
