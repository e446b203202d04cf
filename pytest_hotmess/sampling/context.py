"""Which item and sample a model call belongs to, without threading it through user code.

The resampler sets these around every call; clients read them to key recordings by sample
index and to batch several samples of one request (OpenAI ``n``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["current_item", "current_sample", "current_test", "sample_scope", "test_scope"]

current_test: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hotmess_current_test", default=None
)
"""The node id of the test the calls are made for: recordings keep each test's answers apart."""

current_item: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hotmess_current_item", default=None
)
current_sample: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "hotmess_current_sample", default=None
)


@contextmanager
def test_scope(nodeid: str | None) -> Iterator[None]:
    """Mark the calls made inside as calls of the test ``nodeid``."""
    token = current_test.set(nodeid)
    try:
        yield
    finally:
        current_test.reset(token)


@contextmanager
def sample_scope(item_id: str, sample_index: int) -> Iterator[None]:
    """Mark the calls made inside as sample ``sample_index`` of item ``item_id``."""
    item_token = current_item.set(item_id)
    sample_token = current_sample.set(sample_index)
    try:
        yield
    finally:
        current_sample.reset(sample_token)
        current_item.reset(item_token)
