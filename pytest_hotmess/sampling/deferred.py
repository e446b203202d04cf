"""Item estimates left for later: a test's recorded items are estimated together, on first read.

``resample.record`` validates and counts an item at once (so a bad item fails the call that
recorded it), but its numbers wait here until something reads an estimate: the judge, a
sequential look, ``resample.result`` or the item's own ``estimate``. Then every waiting item of
the test is estimated in one batch (``stats.batch``), a few array passes instead of one numpy
call chain per item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..stats.batch import Pending
    from ..stats.decompose import ItemEstimate

__all__ = ["DeferredBatch", "Waiting"]

Fill = Callable[["ItemEstimate"], None]


class Waiting:
    """Stands where an estimate will be; reading it estimates its whole batch."""

    __slots__ = ("batch",)

    def __init__(self, batch: DeferredBatch) -> None:
        self.batch = batch

    def __repr__(self) -> str:
        return "<estimate not computed yet>"


class DeferredBatch:
    """The waiting items of one test, and how to hand each its estimate."""

    def __init__(self) -> None:
        self._items: list[Pending] = []
        self._fills: list[Fill] = []
        self.waiting = Waiting(self)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Pending, fill: Fill) -> Waiting:
        """Queue ``item``; ``fill`` receives its estimate when the batch is resolved."""
        self._items.append(item)
        self._fills.append(fill)
        return self.waiting

    def resolve(self) -> None:
        """Estimate every waiting item at once and hand each its estimate."""
        if not self._items:
            return
        from ..stats.batch import estimate_many

        items, fills = self._items, self._fills
        self._items, self._fills = [], []
        for fill, estimate in zip(fills, estimate_many(items), strict=True):
            if isinstance(estimate, Exception):
                # only items that cannot overflow wait here (categorical counts)
                raise estimate  # pragma: no cover
            fill(estimate)
