"""The scipy.stats-free t quantiles equal scipy.stats' own, and the plugin loads without scipy."""

from __future__ import annotations

import decimal
import itertools
import math
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy import special, stats

from pytest_hotmess.stats import student_t as _student_t
from pytest_hotmess.stats.student_t import t_isf, t_ppf

DFS = [1, 2, 3, 5, 9, 29, 99, 1_000, 1_000_000, 2.5]


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("p", [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 0.999999])
def test_t_ppf_matches_scipy_stats(p: float, df: float) -> None:
    # stats.t.ppf evaluates the same special function; allow 1e-12 relative for the
    # floating-point route (in practice the floats are identical).
    assert t_ppf(p, df) == pytest.approx(float(stats.t.ppf(p, df)), rel=1e-12, abs=0.0)


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("a", [0.5, 0.1, 0.025, 1e-3, 1e-6, 1e-10])
def test_t_isf_matches_scipy_stats_even_in_the_far_tail(a: float, df: float) -> None:
    assert t_isf(a, df) == pytest.approx(float(stats.t.isf(a, df)), rel=1e-12, abs=0.0)


def test_t_ppf_known_values() -> None:
    # Textbook table values: t_{0.975, 1} = 12.7062, t_{0.975, 10} = 2.2281, t_{0.95, 1} = 6.3138;
    # and df = 1 is the Cauchy quantile tan(pi (p - 1/2)), so t_{0.75, 1} = 1 exactly.
    assert t_ppf(0.975, 1) == pytest.approx(12.7062, abs=5e-5)
    assert t_ppf(0.975, 10) == pytest.approx(2.2281, abs=5e-5)
    assert t_ppf(0.95, 1) == pytest.approx(6.3138, abs=5e-5)
    assert t_ppf(0.75, 1) == pytest.approx(1.0, rel=1e-14)
    assert t_isf(0.25, 1) == pytest.approx(1.0, rel=1e-14)


def test_loading_the_plugin_imports_no_scipy_matplotlib_or_aiohttp() -> None:
    code = (
        "import sys, pytest_hotmess.plugin\n"
        "heavy = ('scipy', 'matplotlib', 'aiohttp')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


# ---------------------------------------------------------------------------------------------
# The pure-Python implementation: exact values, identities and error handling.


def test_cauchy_quantiles_equal_exact_tangents() -> None:
    # df = 1: t_p = tan(pi (p - 1/2)); these p give algebraic tangents (pi/12 multiples).
    # Tolerance: p itself is rounded by at most 2^-54, which moves t by
    # pi (1 + t^2) / t * 2^-54 <= 8e-16 relative for these t, plus a few ulps of tan and
    # of the reference's sqrt: 4e-15 covers both.
    cases = {
        3 / 4: 1.0,
        2 / 3: 1.0 / math.sqrt(3.0),
        5 / 6: math.sqrt(3.0),
        7 / 8: 1.0 + math.sqrt(2.0),
        11 / 12: 2.0 + math.sqrt(3.0),
    }
    for p, expected in cases.items():
        assert t_ppf(p, 1) == pytest.approx(expected, rel=4e-15, abs=0.0)
        assert t_ppf(1.0 - p, 1) == pytest.approx(-expected, rel=4e-15, abs=0.0)
    # Far tail: cot(pi a) = 1/(pi a) - pi a / 3 - ...; the second term is 1e-20 relative here.
    assert t_isf(1e-10, 1) == pytest.approx(1.0 / (math.pi * 1e-10), rel=1e-15, abs=0.0)


@pytest.mark.parametrize("k", [2, 4, 10, 100, 2 * 10**6])
def test_df2_quantiles_equal_exact_rationals(k: int) -> None:
    # df = 2: S(t) = (1 - t / sqrt(2 + t^2)) / 2. With t = (k - 2/k) / 2 the square root is
    # (k + 2/k) / 2, so t and S = 1 / (k sqrt(2 + t^2)) are exact rationals (t = 1/2 .. 1e6).
    # The float tail carries a relative error <= 2^-53, which moves t by at most that over
    # |d ln S / d ln t| >= 0.44 (its value at t = 1/2); the closed form adds a few ulps: 1e-15.
    t = (Fraction(k) - Fraction(2, k)) / 2
    tail = 1 / (k * (Fraction(k) + Fraction(2, k)) / 2)
    assert t_isf(float(tail), 2) == pytest.approx(float(t), rel=1e-15, abs=0.0)
    assert t_ppf(float(tail), 2) == pytest.approx(-float(t), rel=1e-15, abs=0.0)


@pytest.mark.parametrize(
    "u",
    [
        Fraction(3, 5),
        Fraction(4, 5),
        Fraction(5, 13),
        Fraction(12, 13),
        Fraction(8, 17),
        Fraction(15, 17),
        Fraction(20, 29),
        Fraction(21, 29),
        Fraction(99, 101),
    ],
)
def test_df4_quantiles_equal_exact_rationals(u: Fraction) -> None:
    # df = 4: with u = t / sqrt(4 + t^2), P(|T| < t) = u (3 - u^2) / 2, so the upper tail is
    # S = (1 - u)^2 (2 + u) / 4. For a Pythagorean u = a/c (a^2 + b^2 = c^2), t = 2a/b and S
    # are both exact rationals. Error budget: the float tail's 2^-53 relative rounding over
    # |d ln S / d ln t| >= 0.7 at these t, plus the iteration's rounding of log S (a few logs
    # of size <= 9, a few ulps each, over the same slope): below 1e-14.
    a, c = u.numerator, u.denominator
    b = math.isqrt(c * c - a * a)
    assert b * b == c * c - a * a
    exact_t = Fraction(2 * a, b)
    tail = (1 - u) ** 2 * (2 + u) / 4
    assert t_isf(float(tail), 4) == pytest.approx(float(exact_t), rel=1e-14, abs=0.0)


@pytest.mark.parametrize("df", [2.5, 3, 4, 7.5, 29, 1e3, 1e6])
def test_symmetry_is_exact(df: float) -> None:
    # For p in [1/2, 1), 1 - p is exact (Sterbenz), so both sides solve the same tail.
    for p in [0.5, 0.51, 0.6, 0.75, 0.9, 0.975, 0.999, 1 - 1e-9, 1 - 1e-15]:
        assert t_ppf(1.0 - p, df) == -t_ppf(p, df)
        assert t_isf(1.0 - p, df) == t_ppf(p, df)
        assert t_isf(p, df) == -t_ppf(p, df)


def test_median_is_exactly_zero() -> None:
    for df in [0.5, 1, 2, 2.5, 4, 1e6]:
        for value in (t_ppf(0.5, df), t_isf(0.5, df)):
            assert value == 0.0
            assert math.copysign(1.0, value) == 1.0  # +0.0, not -0.0


@pytest.mark.parametrize("df", [0.5, 1, 2, 2.5, 3, 4, 17.3, 1e3, 1e6, 1e7])
def test_quantile_increases_with_p(df: float) -> None:
    # Dense near the median, the bulk and both far tails; adjacent p differ by well over the
    # solver's relative error (<1e-14), so a strict increase is required.
    ps = sorted(
        {0.5 + d for d in (1e-12, 1e-9, 1e-6, 1e-3)}
        | {0.5 - d for d in (1e-12, 1e-9, 1e-6, 1e-3)}
        | {i / 200 for i in range(1, 200)}
        | {10.0**-e for e in range(3, 13)}
        | {1 - 10.0**-e for e in range(3, 13)}
    )
    values = [t_ppf(p, df) for p in ps]
    assert all(lower < upper for lower, upper in itertools.pairwise(values))


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.999, 1 - 1e-6, 1 - 1e-12])
def test_quantile_decreases_with_df(p: float) -> None:
    # Fewer degrees of freedom mean heavier tails: the upper quantile falls as df grows,
    # towards the normal quantile (checked strictly on a grid spaced 1.5x apart).
    dfs = [0.5 * 1.5**i for i in range(60)]  # 0.5 .. about 1e10
    values = [t_ppf(p, df) for df in dfs]
    assert all(lower > upper for lower, upper in itertools.pairwise(values))


def test_huge_df_gives_the_normal_quantile() -> None:
    # At df = 1e300 the t quantile differs from the normal one by ~z^3 / (4 df), far below
    # one ulp; scipy's normal quantile is accurate to a few ulps, ours to ~1e-15: 1e-14.
    for tail in [0.4, 0.1, 0.025, 1e-6, 1e-100, 1e-300]:
        assert t_isf(tail, 1e300) == pytest.approx(float(stats.norm.isf(tail)), rel=1e-14, abs=0.0)


def test_dense_grid_matches_scipy_including_non_integer_df_and_far_tails() -> None:
    # Tails up to 0.49: nearer the median scipy's own error grows (1.8e-11 at df = 4,
    # a = 0.499, against a 40-digit reference), ours stays below 1e-14.
    dfs = [*np.geomspace(0.5, 1e7, 25).tolist(), 0.7, 3.7, 12.34, 777.7]
    tails = np.geomspace(1e-12, 0.49, 25).tolist()
    grid_df, grid_tail = np.meshgrid(dfs, tails)
    expected = -special.stdtrit(grid_df, grid_tail)
    for df, tail, want in zip(grid_df.ravel(), grid_tail.ravel(), expected.ravel(), strict=True):
        got = t_isf(float(tail), float(df))
        assert got == pytest.approx(float(want), rel=1e-12, abs=0.0), (df, tail)


def test_tiny_df_overflows_to_infinity_only_past_the_float_range() -> None:
    # The quantile grows like tail^(-1/df): at df = 0.2 and tail 1e-300 it is ~1e1500.
    assert t_isf(1e-300, 0.2) == math.inf
    assert t_ppf(1e-300, 0.2) == -math.inf
    # At df = 0.05, tail 1e-10: S(t) ~ c t^-df gives t ~ 1e193, still a float.
    value = t_isf(1e-10, 0.05)
    assert 1e190 < value < 1e196


@pytest.mark.parametrize(("call", "name"), [(t_ppf, "p"), (t_isf, "a")], ids=["t_ppf", "t_isf"])
def test_bad_input_raises_value_error_naming_the_argument(
    call: Callable[[float, float], float], name: str
) -> None:
    for bad_prob in [0.0, 1.0, -0.1, 1.5, math.nan, math.inf]:
        with pytest.raises(ValueError, match=rf"^{name} must be strictly between 0 and 1"):
            call(bad_prob, 5)
    for bad_df in [0, 0.0, -1.0, math.nan, math.inf, -math.inf, 10**400]:
        with pytest.raises(ValueError, match=r"^df must be a finite number > 0"):
            call(0.9, bad_df)


def test_log_gamma_ratio_series_coefficients_follow_from_bernoulli_numbers() -> None:
    # E(a) = ln G(a + 1/2) - ln G(a) - ln(a)/2 ~ sum over even n of
    # (2^(1-n) - 2) B_n / (n (n - 1)) a^(1-n) (DLMF 5.11.8 at h = 1/2 minus h = 0).
    bernoulli = [Fraction(1)]  # B_0 .. B_14 from sum_k C(m + 1, k) B_k = 0
    for m in range(1, 15):
        total = sum((math.comb(m + 1, k) * bernoulli[k] for k in range(m)), Fraction(0))
        bernoulli.append(-total / (m + 1))
    assert bernoulli[2] == Fraction(1, 6) and bernoulli[14] == Fraction(7, 6)
    expected = [
        float((Fraction(1, 2 ** (n - 1)) - 2) * bernoulli[n] / (n * (n - 1)))
        for n in range(2, 16, 2)
    ]
    assert list(_student_t._E_SERIES) == expected


@pytest.mark.parametrize("n", [1, 2, 3, 7, 9, 10, 11, 30, 1_000, 20_000])
def test_log_gamma_ratio_is_exact_at_integers_and_half_integers(n: int) -> None:
    # G(n + 1/2) / G(n) = n C(2n, n) sqrt(pi) / 4^n: an exact rational times sqrt(pi), and
    # Fraction -> float rounds once. Computing E from three
    # logs of size <= 6 costs a few ulps of 6: abs 4e-15. (Subtracting math.lgamma values
    # instead would be off by ~1e-11 at n = 20000, where lgamma is ~2e5.)
    ratio = Fraction(n * math.comb(2 * n, n), 4**n)
    expected_integer = math.log(float(ratio)) + 0.5 * math.log(math.pi) - 0.5 * math.log(n)
    assert _student_t._log_gamma_ratio_excess(float(n)) == pytest.approx(
        expected_integer, abs=4e-15
    )
    # a = n - 1/2: G(n) / G(n - 1/2) = (n - 1/2) G(n) / G(n + 1/2) = (n - 1/2) 4^n / (n C(2n, n))
    # / sqrt(pi).
    half = n - 0.5
    ratio_half = Fraction(4**n, n * math.comb(2 * n, n)) * Fraction(2 * n - 1, 2)
    expected_half = math.log(float(ratio_half)) - 0.5 * math.log(math.pi) - 0.5 * math.log(half)
    assert _student_t._log_gamma_ratio_excess(half) == pytest.approx(expected_half, abs=4e-15)


def test_non_integer_small_a_agrees_with_lgamma() -> None:
    # For a <= 3 the lgamma values are below 2 in size, so their difference is good to
    # ~1e-15 absolute; the shifted product is better still.
    for a in [1e-3, 0.1, 0.25, 0.7, 1.25, 2.9]:
        expected = math.lgamma(a + 0.5) - math.lgamma(a) - 0.5 * math.log(a)
        assert _student_t._log_gamma_ratio_excess(a) == pytest.approx(expected, abs=2e-15)


def test_typical_calls_converge_in_two_or_three_evaluations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Speed guard: each evaluation is one continued fraction (at most ~20 terms), so the
    # 0.2 ms budget per call holds while the start and the Halley steps stay this good. From
    # df ~ 30 the Cornish-Fisher start is within ~1e-6, so one Halley step lands below 1e-16
    # and the second evaluation confirms it.
    calls = 0
    evaluate = _student_t._log_prob_and_slope

    def counting(*args: Any) -> tuple[float, float, float]:
        nonlocal calls
        calls += 1
        return evaluate(*args)

    monkeypatch.setattr(_student_t, "_log_prob_and_slope", counting)
    for df in [2.5, 3, 10, 29, 100, 1e3, 1e4, 1e5, 1e6, 1e7]:
        for p in [0.6, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-6, 1 - 1e-12]:
            calls = 0
            t_ppf(p, df)
            assert calls <= (2 if df >= 29 else 3), (df, p, calls)


@pytest.mark.parametrize("a", [0.5, 3.0, 1e6, 1e300])
def test_beta_fraction_is_exact_for_b_equal_one(a: float) -> None:
    # I_x(a, 1) = x^a and B(a, 1) = 1/a, so h / a = 1 / (a y) exactly, at every point up to
    # the fraction's switch y > 2 / (a + 3): from x tiny to y tiny (x near 1, large a, where
    # the denominator is a near-cancellation). A converged fraction is a few ulps off; one
    # that cancels, or never meets its stopping test and drifts, is not.
    switch_y = 2.0 / (a + 3.0)
    ys = [switch_y, 1.1 * switch_y, 10.0 * switch_y, 1e-3, 0.1, 0.5, 0.9]
    pairs = [(1e-300, 1.0), (1.5e-16, 1.0 - 1.5e-16)]
    pairs += [(1.0 - y, y) for y in ys if switch_y <= y < 1.0]  # 1 - y: within an ulp of 1
    for x, y in pairs:
        got = _student_t._beta_fraction(a, 1.0, x, y)
        assert got == pytest.approx(1.0 / (a * y), rel=4e-15, abs=0.0), (a, x, y)


def test_beta_fraction_is_exact_for_half_half() -> None:
    # I_x(1/2, 1/2) = (2 / pi) asin(sqrt(x)) and B(1/2, 1/2) = pi, so
    # h / a = 2 asin(sqrt(x)) / sqrt(x y). The switch point is x < 1/2.
    for x in [1e-300, 1.5e-16, 1e-6, 0.01, 0.2, 0.45, 0.5]:
        y = 1.0 - x
        expected = 2.0 * math.asin(math.sqrt(x)) / math.sqrt(x * y)
        got = _student_t._beta_fraction(0.5, 0.5, x, y)
        assert got == pytest.approx(expected, rel=4e-15, abs=0.0), x


def test_module_imports_neither_scipy_nor_numpy() -> None:
    code = (
        "import sys, pytest_hotmess.stats.student_t as m\n"
        "m.t_ppf(0.975, 29)\n"
        "print(sorted(x for x in sys.modules if x.split('.')[0] in ('scipy', 'numpy')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def _df4_exact_upper_quantile(tail: float) -> float:
    """The df = 4 quantile for the float ``tail``, to 40 digits: solve u (3 - u^2) / 2 = 1 - 2 tail
    (Newton from below on the increasing concave cubic), then t = 2 u / sqrt(1 - u^2)."""
    with decimal.localcontext() as context:
        context.prec = 50
        central = 1 - 2 * decimal.Decimal(tail)  # exact: Decimal(float) is exact
        u = central * 2 / 3
        for _ in range(200):
            step = (u * (3 - u * u) / 2 - central) / ((3 - 3 * u * u) / 2)
            u -= step
            if abs(step) < decimal.Decimal(10) ** -45:
                break
        return float(2 * u / (1 - u * u).sqrt())


@pytest.mark.parametrize(
    "tail", [0.5 - 1e-15, 0.5 - 1e-12, 0.5 - 1e-9, 0.5 - 1e-6, 0.499, 0.49, 0.4, 0.3, 0.25, 0.2]
)
def test_df4_near_the_median_keeps_full_relative_precision(tail: float) -> None:
    # Near the median t ~ (1/2 - tail) / f(0): solving on S directly would lose a factor
    # S / (t f) ~ 1e12 at tail = 1/2 - 1e-12 (scipy's stdtrit returns 0 there). On the central
    # probability C = 1 - 2 tail (exact in floats) the relative error of t is that of C's
    # evaluation, a few ulps times d ln C / d ln t ~ 1: 1e-14 leaves ample room.
    assert t_isf(tail, 4) == pytest.approx(_df4_exact_upper_quantile(tail), rel=1e-14, abs=0.0)
    p = 1.0 - tail  # rounded; its own upper tail 1 - p is exact (Sterbenz)
    assert t_ppf(p, 4) == pytest.approx(_df4_exact_upper_quantile(1.0 - p), rel=1e-14, abs=0.0)


@pytest.mark.parametrize("tail", [0.3, 0.1, 1e-3, 1e-6, 1e-12, 1e-100, 1e-300])
@pytest.mark.parametrize("df", [1.0, 2.0])
def test_general_solver_reproduces_the_closed_forms(tail: float, df: float) -> None:
    # df = 1 and 2 are answered by closed forms; the general solver (continued fraction and
    # Halley) must agree with them, including the heavy-tail regime t up to 1e300 where the
    # logs of t f(t) are largest (|ln t| <= 700, a few ulps each, over a slope of df >= 1).
    closed = _student_t._upper_quantile(tail, df)
    assert _student_t._solve(tail, df) == pytest.approx(closed, rel=1e-13, abs=0.0)
