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
from ..stats.length import LENGTH_COVARIATES, LengthAnalysis, Slope, length_analysis
from ..stats.length import items_from_results as _length_inputs

__all__ = [
    "USER_LENGTH_COVARIATE",
    "ensembles_for",
    "length_for",
    "missing_covariate",
    "one_sided_slope_bounds",
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
    length: LengthAnalysis | None, threshold: float, *, confidence: float | None
) -> tuple[str, float | None, str | None]:
    """Judge ``max_incoherence_slope``: (verdict, slope, problem).

    Point gate (``confidence`` None): the slope per doubling of length against the threshold.
    Statistical gate: a one-sided test at ``confidence``, like every other gate: fail when the
    one-sided lower bound is above the threshold, pass when the upper bound is below it, else
    inconclusive. (The report's two-sided interval puts (1 - confidence) / 2 in each tail; the
    gate puts 1 - confidence in the tail it tests.)
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
    if confidence is None:
        return ("fail" if value > threshold else "pass"), value, None
    bounds = one_sided_slope_bounds(slope, confidence, length.confidence if length else None)
    if bounds is None:
        return "inconclusive", value, None
    low, high = bounds
    if low > threshold:
        return "fail", value, None
    if high < threshold:
        return "pass", value, None
    return "inconclusive", value, None


def one_sided_slope_bounds(
    slope: Slope, confidence: float, interval_confidence: float | None
) -> tuple[float, float] | None:
    """One-sided bounds of the slope at ``confidence`` from its two-sided interval.

    The interval is slope -/+ t_{df}((1 + c') / 2) SE at the analysis' level c'; the SE is
    recovered from its width and the bounds retaken at t_{df}(confidence).
    """
    if slope.slope is None or slope.low is None or slope.high is None or slope.df < 1:
        return None
    from ..stats.skew import t_quantile

    level = confidence if interval_confidence is None else interval_confidence
    se = (slope.high - slope.low) / (2.0 * t_quantile(slope.df, 0.5 + level / 2.0))
    q = t_quantile(slope.df, confidence)
    return slope.slope - q * se, slope.slope + q * se
