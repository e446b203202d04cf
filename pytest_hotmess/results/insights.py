"""Per-test analyses beyond pass/fail: incoherence against reasoning length, and ensembles.

Both are computed where the samples are (on the xdist worker that ran the test) and travel in
the test's record as typed analyses, so the JSON, the terminal details and the HTML page agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from ..sampling.resampler import ItemResult
from ..stats.decompose import ItemEstimate
from ..stats.ensemble import ENSEMBLE_SIZES, EnsembleProjection, ensemble_projection
from ..stats.length import LENGTH_COVARIATES, LengthAnalysis, length_analysis
from ..stats.length import items_from_results as _length_inputs

__all__ = [
    "USER_LENGTH_COVARIATE",
    "ensembles_for",
    "length_for",
    "missing_covariate",
    "slope_verdict",
]

USER_LENGTH_COVARIATE = "length"
"""A per-sample covariate a test may attach itself (``resample.record(covariates=...)`` or a
``Sample``) to stand for reasoning length."""


def _covariate_name(items: Sequence[ItemResult], requested: str | None) -> str | None:
    if requested is not None:
        return requested
    names = {name for item in items for row in item.covariates for name in row}
    if not names.intersection(LENGTH_COVARIATES) and USER_LENGTH_COVARIATE in names:
        return USER_LENGTH_COVARIATE
    return None  # let the analysis pick reasoning_tokens, then output_tokens


def missing_covariate(rows: Iterable[Mapping[str, object]], requested: str | None) -> str | None:
    """Why a requested length covariate cannot be used: no sample has it (naming those the
    samples do have), else None. A misspelt name would otherwise be ignored without a word."""
    if requested is None:
        return None
    names: set[str] = set()
    for row in rows:
        if requested in row:
            return None
        names.update(row)
    have = ", ".join(sorted(names)) if names else "none"
    return f"no sample has the length covariate {requested!r}; the samples' covariates: {have}"


def length_for(
    items: Sequence[ItemResult],
    *,
    confidence: float,
    buckets: int = 4,
    covariate: str | None = None,
) -> LengthAnalysis | None:
    """Incoherence by length bucket, its slope and the overthinking split; None without lengths.

    A requested ``covariate`` that no sample has gives an analysis whose note says so.
    """
    missing = missing_covariate((row for item in items for row in item.covariates), covariate)
    if missing is None and not any(row for item in items for row in item.covariates):
        return None
    inputs = _length_inputs([item for item in items if item.estimate is not None])
    analysis = length_analysis(
        inputs, buckets, confidence, covariate=_covariate_name(items, covariate)
    )
    if analysis.covariate is None:
        return None
    return analysis if missing is None else dataclasses.replace(analysis, note=missing)


def ensembles_for(
    estimates: Sequence[ItemEstimate], *, confidence: float, ms: Sequence[int] = ENSEMBLE_SIZES
) -> EnsembleProjection | None:
    """Projected error and incoherence of m-sample ensembles, for the m that K allows."""
    k_max = max((e.k for e in estimates if e.has_target), default=0)
    sizes = [m for m in ms if m <= k_max]
    if not sizes:
        return None
    return ensemble_projection(estimates, sizes, confidence=confidence)


def slope_verdict(
    length: LengthAnalysis | None, threshold: float, *, statistical: bool
) -> tuple[str, float | None, str | None]:
    """Judge ``max_incoherence_slope``: (verdict, slope, problem).

    Point gate: the slope per doubling of length against the threshold. Statistical gate:
    pass when the interval lies below it, fail when above, else inconclusive.
    """
    slope = length.slope if length is not None else None
    value = slope.slope if slope is not None else None
    if slope is None or value is None:
        problem = (
            "max_incoherence_slope needs a length per sample (reasoning_tokens or "
            "output_tokens from model completions, or a 'length' covariate) on at least "
            "three items with errors"
        )
        if length is not None and length.note:
            problem = f"{problem}: {length.note}"
        return "fail", None, problem
    if not statistical:
        return ("fail" if value > threshold else "pass"), value, None
    low, high = slope.low, slope.high
    if low is not None and low > threshold:
        return "fail", value, None
    if high is not None and high < threshold:
        return "pass", value, None
    return "inconclusive", value, None
