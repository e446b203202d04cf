"""Paired BCa bootstrap interval over items, shared by the aggregate and the A/B comparison."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["paired_bca_interval"]


def _rng_keyword() -> str:
    """scipy >= 1.15 names the generator ``rng``; older versions ``random_state``."""
    from scipy import stats

    return "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


def paired_bca_interval(
    columns: tuple[NDArray[np.float64], ...],
    statistic: Callable[..., Any],
    *,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float] | None:
    """BCa interval of a vectorised ``statistic`` of item columns resampled together.

    None when scipy cannot give a finite interval on these data (its warnings are silenced:
    the callers fall back or report no interval instead).
    """
    from scipy import stats  # lazy: about 0.5 s to import, only bootstrap intervals need it

    options: dict[str, Any] = {_rng_keyword(): rng}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = stats.bootstrap(
                columns,
                statistic,
                n_resamples=n_resamples,
                paired=True,
                vectorized=True,
                confidence_level=confidence,
                method="BCa",
                **options,
            )
        except (ValueError, FloatingPointError, ZeroDivisionError):
            return None
    low = float(result.confidence_interval.low)
    high = float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return low, high
