"""The max_incoherence_slope gate tests one-sided at the stated level, like every other gate."""

from __future__ import annotations

import pytest
from scipy.special import stdtrit

from pytest_hotmess.results.insights import one_sided_slope_bounds, slope_verdict
from pytest_hotmess.stats.length import LengthAnalysis, Slope

DF = 10
SE = 0.1


def _analysis(slope: float, confidence: float = 0.95) -> LengthAnalysis:
    """A slope with its two-sided interval at ``confidence``: slope -/+ t_{df} SE."""
    q = float(stdtrit(DF, 0.5 + confidence / 2))
    fitted = Slope(
        slope=slope,
        low=slope - q * SE,
        high=slope + q * SE,
        unit="incoherence per doubling of length",
        incoherence_at_centre=0.5,
        centre_length=100.0,
        items=DF + 2,
        df=DF,
        note=None,
    )
    return LengthAnalysis(
        covariate="output_tokens",
        confidence=confidence,
        items=DF + 2,
        items_used=DF + 2,
        items_unestimated=[],
        items_without_target=[],
        items_without_length=[],
        buckets=[],
        slope=fitted,
        overthinking=None,
        note=None,
    )


def test_one_sided_bounds_use_the_one_sided_quantile() -> None:
    analysis = _analysis(0.3)
    assert analysis.slope is not None
    low, high = one_sided_slope_bounds(analysis.slope, 0.95, 0.95) or (0.0, 0.0)
    q = float(stdtrit(DF, 0.95))
    assert (low, high) == pytest.approx((0.3 - q * SE, 0.3 + q * SE), rel=1e-12)


def test_fails_when_the_one_sided_bound_clears_the_threshold() -> None:
    """Between the one-sided (5%) and the two-sided (2.5% a side) bound: fail, not inconclusive.

    The gate before tested the two-sided interval's lower bound and called this inconclusive.
    """
    one = float(stdtrit(DF, 0.95)) * SE
    two = float(stdtrit(DF, 0.975)) * SE
    threshold = 0.0
    slope = threshold + (one + two) / 2  # one-sided lower bound > 0 > two-sided lower bound
    analysis = _analysis(slope)
    assert analysis.slope is not None and analysis.slope.low is not None
    assert analysis.slope.low < threshold
    assert slope_verdict(analysis, threshold, confidence=0.95)[0] == "fail"
    assert slope_verdict(_analysis(-slope), threshold, confidence=0.95)[0] == "pass"
    assert slope_verdict(_analysis(slope), threshold, confidence=None)[0] == "fail"
