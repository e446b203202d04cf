"""The ratio search's closed-form moments and root finder against the direct evaluation.

The reference below is the search as it was before the moment form (issue #19): every T(theta)
from the items, plain bisection of the doubling bracket one step at a time (bit-for-bit what
the old tree bisection gave). Kept here, not in the package, so the package's numbers are
checked against an independent evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.special import stdtrit

from pytest_hotmess.stats import skew
from pytest_hotmess.stats.skew import (
    RatioTerms,
    ratio_calibrated_bounds,
    ratio_hall_bounds,
)

# ----------------------------------------------------------------------------------------
# the direct reference


def _direct_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mean, sd (ddof 1), skewness and calibrated df of the weighted mean (last axis)."""
    n = x.shape[-1]
    mean = np.sum(w * x, axis=-1) / np.sum(w)
    d = w * (x - mean[..., None]) / float(np.mean(w))
    sd = np.sqrt(np.sum(d * d, axis=-1) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        third = np.sum(d**3, axis=-1) / n
        gamma = np.where(sd > 0, third / np.where(sd > 0, sd, 1.0) ** 3, 0.0)
    # the calibration itself is checked against hand-computed values in test_calibration.py;
    # here it is applied to moments taken from the items, as the search did before
    df = skew.calibrated_df_from_moments(
        float(n), np.mean(d * d, axis=-1), np.mean(d**3, axis=-1), np.mean(d**4, axis=-1)
    )
    return mean, sd, gamma, df


def _direct_statistic(mean: np.ndarray, sd: np.ndarray, gamma: np.ndarray, n: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.sign(mean) * np.inf)
        g = s + gamma * s**2 / 3.0 + gamma**2 * s**3 / 27.0 + gamma / (6.0 * n)
    return math.sqrt(n) * np.where(np.isfinite(s), g, s)


def _direct_excess(
    v: np.ndarray, e: np.ndarray, w: np.ndarray, calibrated: bool, level: float, side: float
) -> Callable[[float], float]:
    """theta -> T(theta) minus its critical value, every moment from the items."""
    n = v.shape[0]

    def excess(theta: float) -> float:
        mean, sd, gamma, df = _direct_moments((v - theta * e)[None, :], w)
        if not calibrated:
            return float(_direct_statistic(mean, sd, gamma, n)[0]) - level
        statistic = _direct_statistic(mean, sd, skew.calibrated_skewness(gamma, n), n)
        return float(statistic[0]) + side * float(stdtrit(df[0], level))

    return excess


def _direct_root(excess: Callable[[float], float], ratio: float, down: bool) -> float:
    """Doubling bracket, then 52 plain halvings keeping excess(left) >= 0 > excess(right)."""
    scale = max(abs(ratio), 1.0)
    step = -scale if down else scale
    inside, outside = ratio, ratio + step
    for _ in range(30):
        if (excess(outside) >= 0) == down:
            break
        inside, step = outside, step * 2.0
        outside = ratio + step
    else:
        return -math.inf if down else math.inf  # the data cannot bound this side
    left, right = (outside, inside) if down else (inside, outside)
    for _ in range(52):
        middle = 0.5 * (left + right)
        if excess(middle) >= 0:
            left = middle
        else:
            right = middle
    return 0.5 * (left + right)


def _direct_bounds(
    v: np.ndarray, e: np.ndarray, w: np.ndarray, *, tail: float = 0.0, critical: float = 0.0
) -> tuple[float, float]:
    """The calibrated bounds at ``tail`` (or Hall's at ``critical`` when tail is 0)."""
    ratio = float(np.sum(w * v) / np.sum(w * e))
    calibrated = tail > 0
    low = _direct_excess(v, e, w, calibrated, tail if calibrated else critical, 1.0)
    high = _direct_excess(v, e, w, calibrated, tail if calibrated else -critical, -1.0)
    return _direct_root(low, ratio, down=True), _direct_root(high, ratio, down=False)


def _same(got: float, want: float, scale: float) -> bool:
    """Equal to ~1e-13 relative (an absolute 1e-15 of the search's scale near 0)."""
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= 1e-13 * abs(want) + 1e-15 * scale


def _suite(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skewed per-item terms: some items carry no error, variances a share of the errors."""
    e = rng.gamma(0.5, 1.0, n) * (rng.random(n) < 0.8)
    e[0] = max(e[0], 0.1)  # a positive error sum
    v = e * rng.uniform(0.0, 1.0, n)
    w = rng.choice([0.5, 1.0, 3.0], n)
    return v, e, w


# ----------------------------------------------------------------------------------------
# the bounds


@pytest.mark.parametrize("calibrated", [True, False])
def test_the_bounds_equal_the_direct_bisection(calibrated: bool) -> None:
    rng = np.random.default_rng(19 + calibrated)
    checked = bounded = 0
    for n in [2, 3, 4, 5, 7, 12, 20, 50, 200] * 6:
        v, e, w = _suite(rng, n)
        scale = max(abs(float(np.sum(w * v) / np.sum(w * e))), 1.0)
        if calibrated:
            _, low, high = ratio_calibrated_bounds(v, e, w, 0.025)
            want = _direct_bounds(v, e, w, tail=0.025)
        else:
            q = float(stdtrit(n - 1, 0.975))
            _, low, high = ratio_hall_bounds(v, e, w, q)
            want = _direct_bounds(v, e, w, critical=q)
        assert _same(float(low[0]), want[0], scale), (n, float(low[0]), want[0])
        assert _same(float(high[0]), want[1], scale), (n, float(high[0]), want[1])
        checked += 1
        bounded += math.isfinite(want[0]) and math.isfinite(want[1])
    assert bounded >= checked // 2  # mostly finite intervals: the comparison is not vacuous


def test_rows_are_searched_independently() -> None:
    # one call on several suites of one size and weights = one call per suite
    rng = np.random.default_rng(7)
    for n, rows in [(4, 1), (30, 3), (11, 2)]:
        suites = [_suite(rng, n) for _ in range(rows)]
        v = np.stack([s[0] for s in suites])
        e = np.stack([s[1] for s in suites])
        w = suites[0][2]
        together = ratio_calibrated_bounds(v, e, w, 0.05)
        for row in range(rows):
            alone = ratio_calibrated_bounds(v[row], e[row], w, 0.05)
            for got, want in zip(together, alone, strict=True):
                assert got[row] == want[0]


_GOLDEN_KL = (  # a KL test of the golden report (11 items, weighted): T is not monotone
    [11.511924965639059, 8.289306141514608, 15.751267835102501, 7.535732962316261,
     16.45975703793849, 0.0, 13.805461222113774, 13.78434683131705, 9.210240376977184,
     14.657367786644851, 11.8414861695838],
    [25.328436022935417, 27.631021115929546, 15.789154923388312, 25.119110105390497,
     27.63102111592955, 27.63102111592955, 23.02585092994129, 17.269388197455967,
     9.210340371976518, 27.63102111592955, 27.63102111592955],
    [2.0, 3.25, 0.5, 2.0, 3.25, 1.0, 2.0, 3.25, 3.25, 0.5, 0.5],
)  # fmt: skip


def test_a_level_crossed_twice_keeps_the_bisections_root() -> None:
    # at tail 0.044 the excess crosses 0 three times in the first doubling bracket
    # [0.51, 1.51] (near 0.72, 0.85 and 1.10): the bound is the one plain bisection of that
    # bracket finds, 1.097, not the nearest crossing a finer first look would find
    v, e, w = (np.asarray(x) for x in _GOLDEN_KL)
    _, low, high = ratio_calibrated_bounds(v, e, w, 0.044)
    want = _direct_bounds(v, e, w, tail=0.044)
    assert want[1] == pytest.approx(1.0968486903129526, rel=1e-13)
    assert _same(float(low[0]), want[0], 1.0)
    assert _same(float(high[0]), want[1], 1.0)
    # N = 3: no doubling point is ever past the level, though points between them are
    v, e, w = (np.asarray(x)[[2, 7, 8]] for x in _GOLDEN_KL)
    assert _direct_bounds(v, e, w, tail=0.025) == (-math.inf, math.inf)
    _, low, high = ratio_calibrated_bounds(v, e, w, 0.025)
    assert (float(low[0]), float(high[0])) == (-math.inf, math.inf)


# ----------------------------------------------------------------------------------------
# the closed-form moments


def _awkward() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    e = rng.uniform(0.1, 2.0, 9)
    return [
        ("proportional", 0.4 * e, e, np.ones(9)),
        ("affine", 0.05 + 0.4 * e, e, np.ones(9)),
        ("affine, weighted", 0.05 + 0.4 * e, e, rng.uniform(0.5, 2.0, 9)),
        ("proportional, weighted", 0.4 * e, e, rng.uniform(0.5, 2.0, 9)),
        ("all equal", np.full(6, 0.3), np.full(6, 0.5), np.ones(6)),
        ("huge", 1e60 * rng.uniform(0, 1, 8), 1e60 * rng.uniform(0.5, 1, 8), np.ones(8)),
        ("tiny", 1e-60 * rng.uniform(0, 1, 8), 1e-60 * rng.uniform(0.5, 1, 8), np.ones(8)),
        ("nearly proportional", 0.4 * e + 1e-9 * rng.normal(size=9), e, np.ones(9)),
        ("two", np.asarray([0.1, 0.3]), np.asarray([0.2, 0.9]), np.asarray([1.0, 2.0])),
        ("three", np.asarray([0.0, 0.3, 0.1]), np.asarray([0.2, 0.9, 0.1]), np.ones(3)),
        ("four", np.asarray([0.0, 0.0, 0.0, 1.0]), np.asarray([0.5, 0.5, 0.5, 2.0]), np.ones(4)),
        ("heavy", np.asarray([0.01] * 19 + [5.0]), np.asarray([0.1] * 19 + [6.0]), np.ones(20)),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _awkward(), ids=lambda case: case[0])
def test_closed_form_moments_match_the_items(
    case: tuple[str, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    _, v, e, w = case
    ratio = float(np.sum(w * v) / np.sum(w * e))
    offsets = [-10.0, -1.0, -0.1, -1e-3, -1e-9, 0.0, 1e-9, 1e-3, 0.1, 1.0, 10.0]
    theta = np.asarray([ratio + x for x in offsets] + [0.4])  # 0.4: the affine cases' slope
    got = RatioTerms.of(v[None, :], e[None, :], w).moments(theta[None, :], np.arange(1))
    for j, t in enumerate(theta):
        x = v - t * e
        mean = np.sum(w * x) / np.sum(w)
        d = w * (x - mean) / np.mean(w)
        # the direct terms' own rounding: ~1e-16 of the items' magnitude, not of d
        size = float(np.max(w * (np.abs(v) + abs(t) * np.abs(e))) / np.mean(w))
        assert abs(float(got.mean[0, j]) - mean) <= 1e-14 * size
        for power, total in ((2, got.sum2), (3, got.sum3), (4, got.sum4)):
            want = float(np.sum(d**power))
            slack = 1e-12 * (abs(want) + float(np.sum(np.abs(d) ** power)))
            assert abs(float(total[0, j]) - want) <= slack + 1e-12 * len(v) * size**power, (
                power,
                t,
            )


def test_a_cancelling_expansion_falls_back_to_the_items() -> None:
    # v = 0.1 + 0.4 e: at theta = 0.4 every term vanishes, where the polynomial in theta
    # would leave the rounding of its coefficients (~1e-16 of sum c^2)
    e = np.asarray([0.3, 1.7, 0.2, 0.9])
    v = 0.1 + 0.4 * e
    terms = RatioTerms.of(v[None, :], e[None, :], np.ones(4))
    theta = np.asarray([[0.4, 0.4 + 1e-12, 0.4 + 1e-4, 0.4 + 1e-2, 5.0]])
    got = terms.moments(theta, np.arange(1))
    for j in range(theta.shape[1]):
        mean, d = skew._power_sums(v - theta[0, j] * e, np.ones(4))
        assert float(got.sum2[0, j]) == pytest.approx(float(np.sum(d * d)), rel=1e-12, abs=0)
        assert float(got.sum4[0, j]) == pytest.approx(float(np.sum(d**4)), rel=1e-12, abs=0)
        assert float(got.mean[0, j]) == pytest.approx(float(mean), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("kinds", "n"),
    [((0,), 24), ((0,), 25), ((0,), 26), ((0, 1), 50), ((0, 1), 7), ((0, 1, 2), 30)],
)
def test_suites_of_few_distinct_items_equal_the_direct_bisection(
    kinds: tuple[int, ...], n: int
) -> None:
    # as in benchmarks/scale.py: identical items (the terms vanish at every theta) or two
    # kinds (v affine in e: they all vanish at one theta, where T jumps between +-inf)
    pairs = [(0.5333333333333333, 0.6000000000000001), (0.37777777777777777, 0.3999999999999999),
             (0.2, 0.9)]  # fmt: skip
    chosen = [pairs[kinds[i % len(kinds)]] for i in range(n)]
    v, e = np.asarray([p[0] for p in chosen]), np.asarray([p[1] for p in chosen])
    w = np.ones(n)
    _, low, high = ratio_calibrated_bounds(v, e, w, 0.025)
    want = _direct_bounds(v, e, w, tail=0.025)
    assert _same(float(low[0]), want[0], 1.0), (float(low[0]), want[0])
    assert _same(float(high[0]), want[1], 1.0), (float(high[0]), want[1])


def test_items_summed_in_passes_give_the_same_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    # a run's pooled totals hold every item: the expansion sums them in bounded passes
    rng = np.random.default_rng(31)
    v, e, w = _suite(rng, 200)
    whole = ratio_calibrated_bounds(v, e, w, 0.025)
    monkeypatch.setattr(skew, "_CHUNK", 7)
    passes = ratio_calibrated_bounds(v, e, w, 0.025)
    scale = max(abs(float(whole[0][0])), 1.0)
    for got, want in zip(passes, whole, strict=True):
        assert _same(float(got[0]), float(want[0]), scale)
    want_direct = _direct_bounds(v, e, w, tail=0.025)
    assert _same(float(passes[1][0]), want_direct[0], scale)
    assert _same(float(passes[2][0]), want_direct[1], scale)
