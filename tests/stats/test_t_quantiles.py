"""Every interval and gate uses the Student t quantile it documents (scipy.special.stdtrit).

The references are exact: for df = 4, with u = t / sqrt(4 + t^2), P(|T| < t) = u (3 - u^2) / 2,
so a quantile solves a cubic, done here in 50-digit decimals. A half-width is q * SE, so the
ratio of two half-widths of the same data at two confidence levels is the ratio of their
quantiles whatever the SE: that checks each caller's quantile without re-deriving its SE.
"""

from __future__ import annotations

import decimal

import numpy as np
import pytest
from scipy.special import stdtr

from pytest_hotmess.stats.aggregate import one_sided_mean_test, ratio_delta_interval
from pytest_hotmess.stats.compare import ratio_change
from pytest_hotmess.stats.length import incoherence_slope
from pytest_hotmess.stats.sequential import make_plan

T_975_DF4 = 2.7764451051977943
"""The 95% two-sided (0.975) t quantile for df = 4, correctly rounded from
2.776445105197794357803... (printed tables that end in ...7987 are 7 ulps high)."""

RELATIVE = 1e-14
"""stdtrit is good to a few ulps here; a wrong df or level is off by 1e-2 or more."""


def _df4_upper_quantile(tail: float) -> float:
    """The df = 4 quantile with upper tail ``tail``, to 40 digits, rounded to a float."""
    with decimal.localcontext() as context:
        context.prec = 50
        central = 1 - 2 * decimal.Decimal(tail)
        u = central * 2 / 3
        for _ in range(200):  # Newton from below on the increasing concave cubic
            step = (u * (3 - u * u) / 2 - central) / ((3 - 3 * u * u) / 2)
            u -= step
            if abs(step) < decimal.Decimal(10) ** -45:
                break
        return float(2 * u / (1 - u * u).sqrt())


def test_the_exact_reference_reproduces_the_known_value() -> None:
    # by hand: F(t) - 1/2 = integral of (3/8)(1 + s^2/4)^(-5/2) = u (3 - u^2) / 4 (s = 2 tan x)
    assert _df4_upper_quantile(0.025) == T_975_DF4


# five items (df = 4) with unequal errors and variances
V5 = [0.5, 0.1, 0.9, 0.3, 0.2]
E5 = [1.0, 0.4, 1.5, 1.2, 0.6]


def test_delta_interval_uses_the_two_sided_quantile_with_n_minus_1_df() -> None:
    ratio = sum(V5) / sum(E5)
    low, high = ratio_delta_interval(V5, E5, np.ones(5), 0.95) or (np.nan, np.nan)
    mean_e = float(np.mean(E5))
    d = (np.asarray(V5) - ratio * np.asarray(E5)) / mean_e
    se = float(np.std(d, ddof=1)) / np.sqrt(5)
    assert (high - ratio) / se == pytest.approx(T_975_DF4, rel=RELATIVE, abs=0.0)
    assert (ratio - low) / se == pytest.approx(T_975_DF4, rel=RELATIVE, abs=0.0)


def test_one_sided_bounds_use_the_one_sided_quantile() -> None:
    values = [-0.2, 0.1, 0.3, 0.5, 0.8]  # symmetric: the skew correction is 0
    mean, low_95, high_95 = one_sided_mean_test(values, [1.0] * 5, 0.95)
    _, low_80, _ = one_sided_mean_test(values, [1.0] * 5, 0.80)
    # the calibrated df of these light-tailed terms: 2 * 4 / (0 + 2 * 5 / 20 + 2) = 3.2 (not an
    # integer: checked through the t CDF, stdtr, rather than an exact quantile)
    se = float(np.std(values, ddof=1)) / np.sqrt(5)
    assert float(stdtr(3.2, (mean - low_95) / se)) == pytest.approx(0.95, rel=RELATIVE)
    assert float(stdtr(3.2, (mean - low_80) / se)) == pytest.approx(0.80, rel=RELATIVE)
    assert high_95 - mean == pytest.approx(mean - low_95, rel=1e-15)


def test_baseline_change_uses_the_two_sided_quantile_with_n_minus_1_df() -> None:
    before = [0.4, 0.2, 0.8, 0.5, 0.1]
    wide = ratio_change(V5, E5, before, E5, confidence=0.95)
    narrow = ratio_change(V5, E5, before, E5, confidence=0.80)
    expected = T_975_DF4 / _df4_upper_quantile(0.10)
    ratio = (wide.high - wide.change) / (narrow.high - narrow.change)
    assert ratio == pytest.approx(expected, rel=RELATIVE, abs=0.0)


def test_length_slope_uses_the_two_sided_quantile_with_n_minus_2_df() -> None:
    v = [*V5, 0.4]  # six items: df = 4
    e = [*E5, 0.8]
    lengths = [100.0, 200.0, 400.0, 800.0, 1600.0, 300.0]
    wide = incoherence_slope(v, e, [1.0] * 6, lengths, confidence=0.95)
    narrow = incoherence_slope(v, e, [1.0] * 6, lengths, confidence=0.80)
    assert wide.df == 4
    expected = T_975_DF4 / _df4_upper_quantile(0.10)
    ratio = (wide.high - wide.slope) / (narrow.high - narrow.slope)
    assert ratio == pytest.approx(expected, rel=RELATIVE, abs=0.0)


def test_sequential_critical_values_keep_full_precision_in_the_far_tail() -> None:
    plan = make_plan((4, 8, 16, 32, 64), 0.95)
    nominal = plan.nominal[0]
    assert nominal < 1e-5  # O'Brien-Fleming spends almost nothing at the first look
    # stdtrit(df, 1 - a) would round 1 - a first and lose these digits
    assert plan.critical_t(0, 4) == pytest.approx(
        _df4_upper_quantile(nominal), rel=RELATIVE, abs=0.0
    )
    one_look = make_plan((16,), 0.95)
    assert one_look.critical_t(0, 4) == pytest.approx(
        _df4_upper_quantile(0.05), rel=RELATIVE, abs=0.0
    )
