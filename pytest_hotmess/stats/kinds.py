"""Sentinels and small shared types used across the engine and the plugin."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

__all__ = [
    "INVALID",
    "INVALID_LABEL",
    "KINDS",
    "NOTHING",
    "Estimator",
    "Kind",
    "LossName",
    "Verdict",
]


class _Sentinel(enum.Enum):
    """Singletons that compare by identity and survive pickling (xdist, multiprocessing)."""

    NOTHING = "NOTHING"
    INVALID = "INVALID"

    def __repr__(self) -> str:
        return self.value

    def __bool__(self) -> bool:
        return False


NOTHING: Final = _Sentinel.NOTHING
"""Marks an omitted target: the item is variance-only (consistency without ground truth)."""

INVALID: Final = _Sentinel.INVALID
"""An outcome that could not be parsed (``extract`` returned None or raised)."""

INVALID_LABEL: Final = "<invalid>"
"""How an invalid outcome is named in reports and among categorical counts."""

Kind = Literal["categorical", "distribution", "binary", "numeric", "vector", "coverage"]
KINDS: Final[tuple[Kind, ...]] = (
    "categorical",
    "distribution",
    "binary",
    "numeric",
    "vector",
    "coverage",
)
LossName: TypeAlias = str
"""The name of a registered loss: a key of ``stats.losses.LOSSES``."""
Estimator = Literal["unbiased", "plugin", "jackknife", "bootstrap"]
Verdict = Literal["pass", "fail", "inconclusive", "no-errors", "ungated", "error"]
"""``error``: sampling raised (a failed model call, an unreadable outcome, a budget stop);
the test failed before anything could be judged."""
