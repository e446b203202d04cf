"""Cheap validation and counting of one categorical item of string labels, without numpy.

``resample.record`` sees one item at a time, and most items are K string answers. Validating
those with :func:`.outcomes.prepare_item` builds numpy arrays per item; :func:`count_labels`
checks and counts them in plain Python instead and leaves the numbers to the vectorised kernels
(:mod:`.batch`), which estimate all of a test's items at once.

It takes only what it can decide exactly as ``prepare_item`` would: string outcomes (and
invalid ones), a string target or none, no ``labels``. Anything else, including every input
``prepare_item`` would reject, returns ``None`` and goes the full way, whose errors are the
messages users see.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Final, NamedTuple

from .kinds import INVALID, INVALID_LABEL, NOTHING, Estimator, Kind, LossName
from .losses import LOSSES, default_loss
from .outcomes import ESTIMATORS

__all__ = ["CountedItem", "count_labels"]


class CountedItem(NamedTuple):
    """One categorical item as answer counts: the columns ``names`` (first seen first, then a
    new target, then ``"<invalid>"``) and their ``counts``, as ``prepare_item`` orders them.

    A named tuple, not a frozen dataclass: one is made per recorded item, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) costs five times as much.
    """

    item_id: str
    loss: LossName
    estimator: Estimator
    weight: float
    k: int
    invalid: int
    names: tuple[str, ...]
    counts: tuple[int, ...]
    target_index: int | None
    target_json: object

    @property
    def has_target(self) -> bool:
        return self.target_index is not None

    @property
    def kind(self) -> Kind:
        return _CATEGORICAL  # what ``PreparedItem.kind`` says of the same item


_CATEGORICAL: Final[Kind] = "categorical"


def _loss_for(loss: LossName | None) -> LossName | None:
    if loss is None:
        return default_loss(_CATEGORICAL).name
    found = LOSSES.get(loss) if isinstance(loss, str) else None
    return loss if found is not None and _CATEGORICAL in found.kinds else None


def _weight(weight: object) -> float | None:
    if type(weight) is not float and type(weight) is not int:
        return None
    value = float(weight)
    return value if math.isfinite(value) and value >= 0 else None


def count_labels(
    outcomes: Sequence[object],
    target: object,
    *,
    item_id: str,
    kind: Kind | None,
    loss: LossName | None,
    estimator: Estimator,
    weight: float,
) -> CountedItem | None:
    """The item's answer counts, or ``None`` when it needs ``prepare_item`` (see the module)."""
    if kind is not None and kind != _CATEGORICAL:
        return None
    name = _loss_for(loss)
    value = _weight(weight)
    if name is None or value is None or estimator not in ESTIMATORS or len(outcomes) < 2:
        return None
    if target is not NOTHING and type(target) is not str:
        return None
    try:
        tally = Counter(outcomes)  # C-level counting; keys first seen first
    except TypeError:  # an unhashable outcome (a list): not a label
        return None
    seen: dict[str, int] = {}
    invalid = 0
    for outcome, count in tally.items():
        if type(outcome) is str:
            seen[outcome] = count
        elif outcome is INVALID or outcome is None:
            invalid += count
        else:
            return None
    if not seen or INVALID_LABEL in seen or target == INVALID_LABEL:
        return None  # every answer invalid, or a label named like invalid ones: the full way
    target_index: int | None = None
    if target is not NOTHING:
        assert isinstance(target, str)
        if target not in seen:
            seen[target] = 0
        target_index = list(seen).index(target)
    if invalid:
        seen[INVALID_LABEL] = invalid
    return CountedItem(
        item_id=item_id,
        loss=name,
        estimator=estimator,
        weight=value,
        k=len(outcomes),
        invalid=invalid,
        names=tuple(seen),
        counts=tuple(seen.values()),
        target_index=target_index,
        target_json=None if target is NOTHING else target,
    )
