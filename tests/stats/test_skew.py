"""The skew-corrected test and the interval it inverts to: known values and seeded checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit, softmax, stdtrit

from pytest_hotmess.stats.aggregate import gate_incoherence, one_sided_mean_test
from pytest_hotmess.stats.decompose import ItemEstimate, categorical_terms
from pytest_hotmess.stats.sequential import look_bounds, make_plan
from pytest_hotmess.stats.skew import (
    calibrated_bounds,
    effective_items,
    hall_bounds,
    is_approximate,
    ratio_calibrated_bounds,
    ratio_hall_interval,
    ratio_skewness,
)


def test_hall_bounds_hand_computed() -> None:
    # x = 0, 0, 0, 1: mean 1/4, d = -1/4 (x3), 3/4; sd (ddof 1) = 1/2; mean d^3 = 3/32, gamma 3/4
    mean, low, high = hall_bounds([0.0, 0.0, 0.0, 1.0], None, 2.0)
    gamma, n = 0.75, 4
    # g^-1(y) = 3/gamma ((1 + gamma (y - gamma / (6 n)))^(1/3) - 1) at y = +-2 / sqrt(4)
    up = 3 / gamma * ((1 + gamma * (1.0 - gamma / 24)) ** (1 / 3) - 1)
    down = 3 / gamma * ((1 + gamma * (-1.0 - gamma / 24)) ** (1 / 3) - 1)
    assert float(mean) == 0.25
    assert float(low) == pytest.approx(0.25 - 0.5 * up, rel=1e-13)
    assert float(high) == pytest.approx(0.25 - 0.5 * down, rel=1e-13)
    # right skew: the upper bound reaches further than the t bound, the lower bound less far
    assert float(high) - 0.25 > 0.5 > 0.25 - float(low)
    for shift, y in ((up, 1.0), (down, -1.0)):  # g(g^-1(y)) = y
        g = shift + gamma * shift**2 / 3 + gamma**2 * shift**3 / 27 + gamma / (6 * n)
        assert g == pytest.approx(y, rel=1e-12)


def test_without_skew_the_bounds_are_the_t_bounds() -> None:
    values = [-0.2, 0.1, 0.3, 0.5, 0.8]  # symmetric around 0.3
    mean, low, high = one_sided_mean_test(values, [1.0] * 5, 0.95)
    q = float(stdtrit(3.2, 0.95))  # calibrated df: 2 * 4 / (0 + 2 * 5 / 20 + 2)
    se = float(np.std(values, ddof=1)) / math.sqrt(5)
    assert (low, high) == pytest.approx((mean - q * se, mean + q * se), rel=1e-12)


def test_ratio_interval_is_the_inverted_gate() -> None:
    rng = np.random.default_rng(5)
    e = rng.uniform(0.1, 2.0, 25) * (rng.random(25) < 0.6)
    v = e * rng.uniform(0.0, 1.0, 25)
    w = rng.uniform(0.5, 2.0, 25)
    low, high = ratio_hall_interval(v, e, w, 0.90) or (math.nan, math.nan)
    assert low < float(np.sum(w * v) / np.sum(w * e)) < high
    # at the bounds the calibrated one-sided test of D(theta) = mean of (v - theta e) sits on 0
    assert float(calibrated_bounds(v - low * e, w, 0.05)[1]) == pytest.approx(0.0, abs=1e-10)
    assert float(calibrated_bounds(v - high * e, w, 0.05)[2]) == pytest.approx(0.0, abs=1e-10)
    # and Hall's uncalibrated interval inverts Hall's test with t_{N-1}
    raw = ratio_hall_interval(v, e, w, 0.90, calibrated=False) or (math.nan, math.nan)
    q = float(stdtrit(24, 0.95))
    assert float(hall_bounds(v - raw[0] * e, w, q)[1]) == pytest.approx(0.0, abs=1e-10)
    assert float(hall_bounds(v - raw[1] * e, w, q)[2]) == pytest.approx(0.0, abs=1e-10)
    # so the 95% gate (one-sided at 5%) fails exactly below the 90% interval's lower bound
    items = [
        ItemEstimate(
            id=f"q{i}",
            kind="numeric",
            loss="squared",
            estimator="unbiased",
            k=10,
            invalid=0,
            weight=float(wi),
            error=float(ei),
            bias=float(ei - vi),
            variance=float(vi),
            target=0.0,
            counts=None,
            outcomes=None,
        )
        for i, (ei, vi, wi) in enumerate(zip(e, v, w, strict=True))
    ]
    assert gate_incoherence(items, low - 1e-6, confidence=0.95).verdict == "fail"
    assert gate_incoherence(items, low + 1e-6, confidence=0.95).verdict == "inconclusive"
    assert gate_incoherence(items, high + 1e-6, confidence=0.95).verdict == "pass"


def test_effective_items_and_cochrans_rule() -> None:
    assert effective_items([1.0, 1.0, 1.0, 1.0], [1.0] * 4) == pytest.approx(4.0)
    assert effective_items([3.0, 1.0, 0.0, 0.0], [1.0] * 4) == pytest.approx(16.0 / 10.0)
    assert effective_items([0.0, 0.0], [1.0, 1.0]) is None
    # one wrong item among six half-right ones: I = 2.4 / 5, d = 0.16 (x6) and -0.96
    v, e = [0.4] * 6 + [0.0], [0.5] * 6 + [2.0]
    gamma = ratio_skewness(v, e, [1.0] * 7)
    sd = math.sqrt((6 * 0.16**2 + 0.96**2) / 6)
    third = (6 * 0.16**3 - 0.96**3) / 7
    assert gamma == pytest.approx(third / sd**3, rel=1e-12)  # about -1.62
    assert gamma == pytest.approx(-1.6198, abs=1e-4)


def test_approximate_rule() -> None:
    # fewer than 20 items, or an unclipped estimate above 0.875 (docs/statistics.md)
    assert is_approximate(19, 0.1)
    assert not is_approximate(20, 0.1)
    assert not is_approximate(20, 0.875)
    assert is_approximate(20, 0.8751)
    assert is_approximate(500, 1.3)  # unclipped: above 1 after the unbiased correction
    assert not is_approximate(30, None)


# ----------------------------------------------------------------------------------------
# seeded simulations (reduced versions of ``python -m benchmarks.validity``)


def _mixed_population(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    logits = rng.normal(0.0, 1.0, (*shape, 4))
    logits[..., 0] += 1.5
    return logits


def _incoherence(p: np.ndarray) -> float:
    return float(np.sum(1 - np.sum(p * p, -1)) / np.sum(2 * (1 - p[..., 0])))


def _mixed_suites(rng: np.random.Generator, suites: int, items: int, truth: float) -> np.ndarray:
    """Mixed-difficulty items from a population whose incoherence is ``truth``."""
    big = _mixed_population(rng, (40_000,))
    low, high = -3.0, 0.0
    for _ in range(50):
        middle = (low + high) / 2
        if _incoherence(softmax(big / math.exp(middle), axis=-1)) < truth:
            low = middle
        else:
            high = middle
    return softmax(_mixed_population(rng, (suites, items)) / math.exp(low), axis=-1)


def _terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, n, c = counts.shape
    error, _, variance = categorical_terms(counts.reshape(-1, c), np.zeros(s * n, dtype=np.int64))
    return error.reshape(s, n), variance.reshape(s, n)


def test_false_fail_at_the_threshold_stays_near_alpha() -> None:
    """Mixed items, N = 50, K = 20, I = tau = 0.4: the plain t test failed 7.8-8.8%."""
    suites, tau = 3000, 0.4
    rng = np.random.default_rng(14)
    p = _mixed_suites(rng, suites, 50, tau)
    e, v = _terms(rng.multinomial(20, p))
    plan = make_plan((20,), 0.95)
    _, low, high = look_bounds(plan, 0, v - tau * e)
    _, t_low, _ = look_bounds(plan, 0, v - tau * e, skew=False)
    se = math.sqrt(0.05 * 0.95 / suites)
    limit = 0.06 + 2 * se  # alpha + 1 point, plus two Monte Carlo standard errors
    assert float(np.mean(low > 0)) <= limit
    assert float(np.mean(high < 0)) <= limit
    assert float(np.mean(t_low > 0)) > limit  # the test before the correction did not hold


def test_coverage_under_skew_at_n_200() -> None:
    """I = 0.8 with errors concentrated in few items: the delta interval covered 91-93%."""
    suites, items, truth = 1500, 200, 0.8
    rng = np.random.default_rng(3)
    big_d = rng.normal(0.0, 1.0, 100_000)
    low, high = -40.0, 40.0
    for _ in range(50):  # wrong mass m = expit(a - x); all of it on one wrong answer
        middle = (low + high) / 2
        m = expit(big_d - middle)
        if float(np.sum(1 - (1 - m) ** 2 - m**2) / np.sum(2 * m)) < truth:
            low = middle
        else:
            high = middle
    m = expit(rng.normal(0.0, 1.0, (suites, items)) - low)[..., None]
    p = np.concatenate([1 - m, m, 0 * m, 0 * m], axis=-1)
    e, v = _terms(rng.multinomial(10, p))
    _, low_b, high_b = ratio_calibrated_bounds(v, e, None, 0.025)
    for row in range(3):  # the vectorised core is the interval the aggregate reports
        bounds = ratio_hall_interval(v[row], e[row], np.ones(items), 0.95)
        assert bounds == pytest.approx((low_b[row], high_b[row]), rel=1e-9)
    covered = (low_b <= truth) & (truth <= high_b)
    se = math.sqrt(0.05 * 0.95 / suites)
    assert 0.93 - 2 * se <= float(np.mean(covered)) <= 0.97 + 2 * se
