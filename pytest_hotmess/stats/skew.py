"""Skew-corrected one-sided tests of a weighted mean, and the ratio interval they invert to.

The plain t test on per-item terms is off at its stated level when the terms are skewed
(docs/statistics.md, 'Intervals'): a few confidently wrong items make v_i - tau e_i long-tailed,
and the sample mean and its standard error then move together. Hall's (1992) monotone cubic
transformation removes the first-order skewness term of the t statistic:

    S = (m - mu) / s,   g(S) = S + gamma S^2 / 3 + gamma^2 S^3 / 27 + gamma / (6 N),
    sqrt(N) g(S) ~ t_{N-1},

with m the weighted mean, d_i = w_i (x_i - m) / mean(w) its linearised terms, s = sd(d) (ddof 1)
and gamma = mean(d^3) / s^3 their skewness. g is increasing ((1 + gamma S / 3)^2 >= 0) and has
the closed-form inverse g^-1(y) = 3 / gamma ((1 + gamma (y - gamma / (6 N)))^(1/3) - 1), so the
one-sided bounds on mu are m - s g^-1(+-q / sqrt(N)). With gamma = 0 they are the t bounds.

The incoherence I = sum w v / sum w e gets the interval of every theta whose D(theta) = weighted
mean of (v - theta e) is not rejected either way (a Fieller-type test inversion), so the
interval and the ``max_incoherence`` gate are the same test: the gate at tau fails exactly when
the interval's lower bound at the gate's level lies above tau. The search takes D(theta)'s
moments from polynomials in theta summed once per suite (``RatioTerms``): its cost per
evaluation does not grow with N.

The plugin's test is that one with a small-sample calibration (``calibrated_bounds``,
docs/statistics.md, 'Small-sample calibration'): the sample skewness of N skewed terms is
biased toward 0 (the rare items that carry the tail are often not drawn), so gamma is taken as
(1 + SKEW_INFLATION / N) times it up to 20 items (the correction fading as (20 / N)^2 beyond,
``small_sample_fade``) within +-SKEW_CAP sqrt(N) (``calibrated_skewness``), and the
sample sd of heavy-tailed terms is noisier than a chi-square with N - 1 degrees of freedom, so
the t quantile takes the moment-matched degrees of freedom of s given m,
2 (N - 1) / (kappa - 1 - gamma^2 + prior) (``calibrated_df_from_moments``; kappa the
bias-adjusted kurtosis of d, the prior KURTOSIS_PRIOR for a tail the suite did not draw).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "APPROXIMATE_ABOVE",
    "APPROXIMATE_BELOW_ITEMS",
    "KURTOSIS_PRIOR",
    "SKEW_CAP",
    "SKEW_INFLATION",
    "calibrated_bounds",
    "calibrated_df",
    "calibrated_df_from_moments",
    "calibrated_ratio_search",
    "calibrated_skewness",
    "effective_items",
    "hall_bounds",
    "hall_quantile_shift",
    "is_approximate",
    "ratio_calibrated_bounds",
    "ratio_hall_bounds",
    "ratio_hall_interval",
    "ratio_skewness",
    "small_sample_fade",
    "t_quantile",
]

APPROXIMATE_ABOVE: Final = 0.875
"""An interval is marked approximate when the (unclipped) incoherence estimate exceeds this, or
the suite has fewer than APPROXIMATE_BELOW_ITEMS items. Fitted on ``python -m
benchmarks.validity`` suites (seed 1) and checked on another seed with truths 0.6 and 0.7 added
(docs/statistics.md, 'Approximate'): the unmarked intervals covered >= 90% at N = 20 and >= 93%
at N >= 50 in every cell, with no mark at I = 0.1 or 0.4. Near I = 1 the suites that miss the
rare bias-heavy items are the ones whose estimate is high and whose interval is too narrow; the
skewness of the drawn items does not show them (a rule N < 10 skewness^2 left 37-74% coverage
unmarked)."""

APPROXIMATE_BELOW_ITEMS: Final = 20
"""Fewer items than the smallest suite the rule was validated on: always approximate."""

SKEW_INFLATION: Final = 30.0
"""The calibrated test uses gamma (1 + SKEW_INFLATION / N) up to 20 items, then
gamma (1 + SKEW_INFLATION / 20 (20 / N)^2) (``small_sample_fade``): the shrinkage of the sample
skewness toward 0 under the long tails of per-item terms. Fitted with SKEW_CAP and
KURTOSIS_PRIOR on the gate simulation of ``python -m benchmarks.validity`` (seed 1: the
largest wrong verdict at I = tau over every row 7.4% -> 5.8%, power at I = 0.2 and 0.6 no
lower than the t test's), checked on seeds 2 and 3 and then on seed 0, the published one
(docs/statistics.md, 'Small-sample calibration')."""

SKEW_CAP: Final = 0.45
"""The calibrated skewness is kept within +-SKEW_CAP sqrt(N) (2.0 at 20 items; fitted with
SKEW_INFLATION): beyond about sqrt(N) / t Hall's cubic flattens and the bound's shift jumps
(seed 1: a cap of 2.25 at N = 20 costs 2 points of power at I = 0.6, no cap 3)."""

KURTOSIS_PRIOR: Final = 2.0
"""Excess kurtosis added to what the suite shows (``calibrated_df``) at APPROXIMATE_BELOW_ITEMS
= 20 items, scaled by (20 / N)^2 above (``small_sample_fade``; fitted with SKEW_INFLATION
when it was 20 / N above, which over-covered at 50 items): the suites that wrongly fail
are those that did not draw the long tail, so their own kurtosis does not show it. Below 20
items, where nothing was fitted, it fades as N / 20 so that a small suite keeps most of its
degrees of freedom (as 40 / N it would leave 5 normal terms 1 degree of freedom, not 4)."""

_EXPANSIONS: Final = 30
"""Doublings of the search step before a side counts as unbounded (2^30 times max(|I|, 1))."""


@functools.lru_cache(maxsize=256)
def t_quantile(df: int, level: float) -> float:
    """The ``level`` quantile of Student's t with ``df`` degrees of freedom, precise in the tail.

    Cached: a run asks for the same few (items - 1, level) pairs once per test."""
    from scipy.special import stdtrit  # on first use: importing scipy.special costs ~0.2 s

    # upper-tail quantile by symmetry: stdtrit(df, level) would round a tiny 1 - level first
    return -float(stdtrit(df, 1.0 - level)) if level > 0.5 else float(stdtrit(df, level))


def hall_quantile_shift(
    y: NDArray[np.float64], gamma: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """g^-1(y): the standardised distance (m - mu) / s at which sqrt(N) g = sqrt(N) y."""
    y = np.asarray(y, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    small = np.abs(gamma) < 1e-9
    safe = np.where(small, 1.0, gamma)
    shifted = y - gamma / (6.0 * n)
    inverted = 3.0 / safe * (np.cbrt(1.0 + safe * shifted) - 1.0)
    result: NDArray[np.float64] = np.where(small, shifted, inverted)
    return result


def _power_sums(
    x: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean over the last axis and the linearised terms d = w (x - mean) / mean(w)."""
    mean = np.sum(w * x, axis=-1) / np.sum(w)
    d = w * (x - mean[..., None]) / float(np.mean(w))
    return mean, d


@dataclasses.dataclass(frozen=True)
class TermMoments:
    """Per row: the weighted mean and the power sums of its linearised terms d.

    Why a record: the direct tests compute it from the terms and the ratio search from
    closed-form polynomials (``RatioTerms``); both then share one calibration (``_shape``,
    ``_calibrated``).
    """

    n: float
    """Items: one count for every row."""
    mean: NDArray[np.float64]
    sum2: NDArray[np.float64]
    """sum d^2"""
    sum3: NDArray[np.float64]
    """sum d^3"""
    sum4: NDArray[np.float64]
    """sum d^4"""


def _term_moments(x: NDArray[np.float64], w: NDArray[np.float64]) -> TermMoments:
    """The moments of the weighted mean of ``x`` over its last axis, from the terms."""
    mean, d = _power_sums(x, w)
    square = d * d
    return TermMoments(
        n=float(x.shape[-1]),
        mean=mean,
        sum2=np.sum(square, axis=-1),
        sum3=np.sum(square * d, axis=-1),
        sum4=np.sum(np.square(square), axis=-1),
    )


def _shape(
    moments: TermMoments,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean, sd of the linearised terms (ddof 1) and their skewness."""
    n = moments.n
    sd = np.sqrt(moments.sum2 / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        third = moments.sum3 / n
        gamma = np.where(sd > 0, third / np.where(sd > 0, sd, 1.0) ** 3, 0.0)
    return moments.mean, sd, gamma


def _moments(
    x: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean, sd of the linearised terms (ddof 1) and their skewness, over the last axis."""
    return _shape(_term_moments(x, w))


def hall_bounds(
    values: ArrayLike, weights: ArrayLike | None, critical: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean over the last axis with its skew-corrected one-sided bounds.

    ``critical`` is the t quantile each bound is taken at (t_{N-1} at the one-sided level).
    Rows are independent suites; weights are shared by the rows and must be positive, N >= 2.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[-1]
    if n < 2:
        raise ValueError(f"a skew-corrected bound needs at least 2 items, got {n}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    mean, sd, gamma = _moments(x, w)
    root = math.sqrt(n)
    high_shift = hall_quantile_shift(np.full_like(mean, critical / root), gamma, n)
    low_shift = hall_quantile_shift(np.full_like(mean, -critical / root), gamma, n)
    return mean, mean - sd * high_shift, mean - sd * low_shift


def small_sample_fade(n: ArrayLike) -> NDArray[np.float64]:
    """The corrections' share of their size at 20 items: 20 / N up to 20 items, (20 / N)^2 beyond.

    SKEW_INFLATION and KURTOSIS_PRIOR were fitted at 20 items (seed 1). Fading as 20 / N beyond,
    they kept 40% of their size at 50 items, where the intervals over-covered (seed 0: three
    cells at 97.2-97.4%); squared, a choice made on seeds 1-4 before seed 0 was run, N = 50
    covered 95.2-96.8% at I = 0.1 and 0.4 with the false verdicts at I = tau unchanged within
    Monte Carlo error (docs/statistics.md, 'Small-sample calibration'). Up to 20 items nothing
    changes.
    """
    size = np.asarray(n, dtype=np.float64)
    ratio = APPROXIMATE_BELOW_ITEMS / size
    result: NDArray[np.float64] = np.where(size > APPROXIMATE_BELOW_ITEMS, ratio * ratio, ratio)
    return result


def calibrated_skewness(gamma: ArrayLike, n: ArrayLike) -> NDArray[np.float64]:
    """gamma (1 + SKEW_INFLATION / 20 small_sample_fade(N)), within +-SKEW_CAP sqrt(N).

    That is gamma (1 + SKEW_INFLATION / N) up to 20 items and fading as (20 / N)^2 beyond.

    The inflation undoes the sample skewness's shrinkage toward 0 under long tails; the cap
    keeps Hall's cubic off its flat stretch (at |gamma| ~ sqrt(N) / t the bound's shift jumps),
    where a few very skewed suites far from the threshold would otherwise not be decided.
    """
    size = np.asarray(n, dtype=np.float64)
    limit = SKEW_CAP * np.sqrt(size)
    inflation = SKEW_INFLATION / APPROXIMATE_BELOW_ITEMS * small_sample_fade(size)
    inflated = np.asarray(gamma, dtype=np.float64) * (1.0 + inflation)
    result: NDArray[np.float64] = np.clip(inflated, -limit, limit)
    return result


def calibrated_df_from_moments(
    n: ArrayLike, square: ArrayLike, third: ArrayLike, fourth: ArrayLike
) -> NDArray[np.float64]:
    """Degrees of freedom of the sd of N centred terms with these mean 2nd, 3rd, 4th powers.

    Moment matching s^2 ~ sigma^2 chi2_nu / nu to the variance of s^2 left once the mean is
    known, sigma^4 (kappa - 1 - gamma^2) / N (Hall's transformation already carries the part
    of s that moves with the mean, Cov(m, s^2) = mu_3 / N), gives
    nu = 2 (N - 1) / (kappa - 1 - gamma^2). kappa - 3 is the bias-adjusted excess kurtosis
    G2 = ((N + 1) g2 + 6) (N - 1) / ((N - 2) (N - 3)), gamma^2 = g1^2 the squared sample
    skewness; G2 - g1^2 is floored at 0 and KURTOSIS_PRIOR times N / 20 below 20 items,
    ``small_sample_fade`` (N) from 20 on ((20 / N)^2), added (a tail the
    suite did not draw), nu clipped to [1, N - 1]. Fewer than four terms keep N - 1.
    """
    size = np.asarray(n, dtype=np.float64)
    m2 = np.asarray(square, dtype=np.float64)
    m3 = np.asarray(third, dtype=np.float64)
    m4 = np.asarray(fourth, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = m2 > 0
        safe = np.where(positive, m2, 1.0)
        excess = np.where(positive, m4 / safe**2 - 3.0, 0.0)
        skewness = np.where(positive, m3 / safe**1.5, 0.0)
        adjusted = ((size + 1) * excess + 6.0) * (size - 1) / ((size - 2) * (size - 3))
        fitted = float(APPROXIMATE_BELOW_ITEMS)
        prior = KURTOSIS_PRIOR * np.where(size < fitted, size / fitted, small_sample_fade(size))
        residual = np.maximum(adjusted - skewness**2, 0.0) + prior
        nu = 2.0 * (size - 1) / (residual + 2.0)
    result: NDArray[np.float64] = np.where(size < 4, size - 1, np.clip(nu, 1.0, size - 1))
    return result


def calibrated_df(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """``calibrated_df_from_moments`` of the centred terms ``d`` (over the last axis)."""
    n = d.shape[-1]
    square = d * d
    df = calibrated_df_from_moments(
        n,
        np.mean(square, axis=-1),
        np.mean(square * d, axis=-1),
        np.mean(square * square, axis=-1),
    )
    result: NDArray[np.float64] = np.broadcast_to(df, d.shape[:-1]).astype(np.float64)
    return result


def _calibrated(
    moments: TermMoments,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean, sd, calibrated skewness and calibrated degrees of freedom.

    The one calibration both ``calibrated_bounds`` and the ratio search use.
    """
    n = moments.n
    mean, sd, gamma = _shape(moments)
    df = calibrated_df_from_moments(n, moments.sum2 / n, moments.sum3 / n, moments.sum4 / n)
    return mean, sd, calibrated_skewness(gamma, n), df


def _upper_quantile(df: NDArray[np.float64], tail: float) -> NDArray[np.float64]:
    """The t quantile with upper-tail probability ``tail`` (by symmetry: precise in the tail)."""
    from scipy.special import stdtrit  # on first use: importing scipy.special costs ~0.2 s

    result: NDArray[np.float64] = -np.asarray(stdtrit(df, tail), dtype=np.float64)
    return result


def calibrated_bounds(
    values: ArrayLike, weights: ArrayLike | None, tail: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean over the last axis with its calibrated skew-corrected one-sided bounds.

    Each bound leaves ``tail`` (e.g. 1 - confidence) on its side: Hall's bounds with gamma
    from ``calibrated_skewness`` and the t quantile at ``calibrated_df`` degrees of
    freedom. Rows are independent suites sharing positive weights, N >= 2.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[-1]
    if n < 2:
        raise ValueError(f"a skew-corrected bound needs at least 2 items, got {n}")
    if not 0.0 < tail < 1.0:
        raise ValueError(f"tail must be strictly between 0 and 1, got {tail!r}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    mean, sd, gamma, df = _calibrated(_term_moments(x, w))
    y = _upper_quantile(df, tail) / math.sqrt(n)
    high_shift = hall_quantile_shift(y, gamma, n)
    low_shift = hall_quantile_shift(-y, gamma, n)
    return mean, mean - sd * high_shift, mean - sd * low_shift


def _transformed(
    mean: NDArray[np.float64],
    sd: NDArray[np.float64],
    gamma: NDArray[np.float64],
    n: float,
) -> NDArray[np.float64]:
    """sqrt(N) g(S) with S = mean / sd (+-inf where sd is 0) and skewness ``gamma``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.sign(mean) * np.inf)
        g = s + gamma * s**2 / 3.0 + gamma**2 * s**3 / 27.0 + gamma / (6.0 * n)
    result: NDArray[np.float64] = np.sqrt(n) * np.where(np.isfinite(s), g, s)
    return result


_EXACT_ABOVE: Final = 1e-3
"""The closed form stands while each power sum of d(theta) is at least this share of the
magnitudes its expansion adds up (rounding is ~1e-16 of those); below, d(theta) is taken from
the items (``RatioTerms.moments``)."""


@dataclasses.dataclass
class RatioTerms:
    """Per row, the sums that give the moments of D(theta) = weighted mean of v - theta e.

    d_i(theta) = w_i ((v_i - theta e_i) - D(theta)) / mean(w) = c_i - delta b_i, with
    delta = theta - ``center`` (the ratio), c_i the terms at the ratio and b_i the centred
    terms of e. So D = D(center) - delta mean(e) and sum d^k (k = 2, 3, 4) are polynomials
    in delta whose coefficients are cross sums of c and b, computed once: each T(theta)
    then costs a few float operations per row whatever N. Not frozen: a row whose expansion
    cancels is re-centred in place (``moments``), on the search's own copy (``take``).
    """

    n: float
    center: NDArray[np.float64]
    mean0: NDArray[np.float64]
    """D(center): about 0."""
    mean_e: NDArray[np.float64]
    coefficients: NDArray[np.float64]
    """(rows, 5, 3): [row, j, k] the coefficient of delta^j in sum d^(k + 2)."""
    magnitudes: NDArray[np.float64]
    """(rows, 5, 3): the same sums of |c|^p |b|^q: what the expansion's rounding scales with."""
    v: NDArray[np.float64]
    e: NDArray[np.float64]
    w: NDArray[np.float64]
    """The suites' items (rows, N) and their shared weights, for the direct fallback."""
    source: NDArray[np.intp]
    """Row -> its row of ``v`` and ``e``."""

    @property
    def rows(self) -> int:
        return int(self.center.shape[0])

    @staticmethod
    def of(v: NDArray[np.float64], e: NDArray[np.float64], w: NDArray[np.float64]) -> RatioTerms:
        """The sums of rows ``v``, ``e`` (rows, N) sharing positive weights ``w``."""
        n, rows = v.shape[-1], v.shape[0]
        center = np.sum(w * v, axis=-1) / np.sum(w * e, axis=-1)
        mean0, mean_e, coefficients, magnitudes = _expansion(v, e, w, center)
        return RatioTerms(
            float(n), center, mean0, mean_e, coefficients, magnitudes, v, e, w, np.arange(rows)
        )

    def take(self, rows: NDArray[np.intp]) -> RatioTerms:
        """These rows (repeats allowed): the search's layout, gathered once."""
        return RatioTerms(
            self.n, self.center[rows], self.mean0[rows], self.mean_e[rows],
            self.coefficients[rows], self.magnitudes[rows], self.v, self.e, self.w,
            self.source[rows],
        )  # fmt: skip

    def moments(self, theta: NDArray[np.float64], rows: NDArray[np.intp]) -> TermMoments:
        """The moments of D(theta) of rows ``rows`` at each theta of their row of ``theta``
        (len(rows), P).

        Where the expansion cancels (the terms nearly vanish together: items with v affine in
        e, near the slope), the row is re-centred in place at its middle theta, and points
        still cancelling there are taken from the items.
        """
        mean, sums, lost = self._expanded(theta, rows)
        if lost.any():
            for at in np.flatnonzero(lost.any(axis=1)):
                self._recentre(int(rows[at]), float(theta[at, theta.shape[1] // 2]))
            mean, sums, lost = self._expanded(theta, rows)
            if lost.any():
                self._direct(theta, rows, lost, mean, sums)
        return TermMoments(self.n, mean, sums[..., 0], sums[..., 1], sums[..., 2])

    def _expanded(
        self, theta: NDArray[np.float64], rows: NDArray[np.intp]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """D(theta), the sums of d^2, d^3, d^4 (last axis) and where their rounding matters."""
        delta = theta - self.center[rows, None]
        powers = np.vander(delta.reshape(-1), 5, increasing=True).reshape(*delta.shape, 5)
        sums = powers @ self.coefficients[rows]
        bounds = np.abs(powers) @ self.magnitudes[rows]
        mean = self.mean0[rows, None] - delta * self.mean_e[rows, None]
        with np.errstate(invalid="ignore", over="ignore"):
            # |sum d^3| <= sqrt(sum d^2 sum d^4): these two bound its rounding too; all-zero
            # terms (identical items) are exact
            lost = (
                (sums[..., 0] <= _EXACT_ABOVE * bounds[..., 0])
                | (sums[..., 2] <= _EXACT_ABOVE * bounds[..., 2])
            ) & (bounds[..., 0] > 0)
        return mean, sums, lost

    def _recentre(self, row: int, theta: float) -> None:
        """Expand row ``row`` around ``theta`` instead (d there is taken from the items)."""
        mean0, coefficients, magnitudes = self._items_expansion(row, np.asarray([theta]))
        self.center[row], self.mean0[row] = theta, mean0[0]
        self.coefficients[row], self.magnitudes[row] = coefficients[0], magnitudes[0]

    def _direct(
        self,
        theta: NDArray[np.float64],
        rows: NDArray[np.intp],
        lost: NDArray[np.bool_],
        mean: NDArray[np.float64],
        sums: NDArray[np.float64],
    ) -> None:
        """Overwrite the points ``lost`` (a cancelling expansion) with moments from the items."""
        for row in np.flatnonzero(lost.any(axis=1)):
            points = np.flatnonzero(lost[row])
            mean[row, points], sums[row, points] = self._items_moments(
                int(rows[row]), theta[row, points]
            )

    def _items_expansion(
        self, row: int, center: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """D(center) and the (1, 5, 3) coefficients and magnitudes of row ``row`` around
        ``center`` (one theta), from its items: where a subclass reads them from elsewhere."""
        index = self.source[row]
        mean0, _, coefficients, magnitudes = _expansion(
            self.v[index][None, :], self.e[index][None, :], self.w, center
        )
        return mean0, coefficients, magnitudes

    def _items_moments(
        self, row: int, theta: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """D and the sums of d^2, d^3, d^4 (points, 3) of row ``row`` at each ``theta``, from
        its items."""
        index = self.source[row]
        x = self.v[index][None, :] - theta[:, None] * self.e[index][None, :]
        direct = _term_moments(x, self.w)
        return direct.mean, np.stack([direct.sum2, direct.sum3, direct.sum4], axis=1)


def _expansion(
    v: NDArray[np.float64],
    e: NDArray[np.float64],
    w: NDArray[np.float64],
    center: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """D(center), mean(e) and the (rows, 5, 3) coefficients and magnitudes of ``RatioTerms``."""
    mean0, c = _power_sums(v - center[:, None] * e, w)
    mean_e = np.sum(w * e, axis=-1) / np.sum(w)
    b = w * (e - mean_e[:, None]) / float(np.mean(w))
    # identical items: the terms are 0 at every theta, not the rounding of x - mean
    same = (np.ptp(v, axis=-1) == 0) & (np.ptp(e, axis=-1) == 0)
    if same.any():
        c, b = np.where(same[:, None], 0.0, c), np.where(same[:, None], 0.0, b)
    rows, n = v.shape
    coefficients = np.zeros((rows, 15))
    magnitudes = np.zeros((rows, 15))
    for start in range(0, n, _CHUNK):  # one pass for a test's items; bounded for a whole run's
        products = _products(c[:, start : start + _CHUNK], b[:, start : start + _CHUNK])
        coefficients[:, _LAYOUT] += np.sum(products, axis=-1) * _BINOMIAL
        magnitudes[:, _LAYOUT] += np.sum(np.abs(products), axis=-1) * np.abs(_BINOMIAL)
    return mean0, mean_e, coefficients.reshape(rows, 5, 3), magnitudes.reshape(rows, 5, 3)


def _products(c: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """(rows, 12, items): the c^p b^q of (c - delta b)^k's terms, k = 2, 3, 4 (``_BINOMIAL``)."""
    c2, b2, cb = c * c, b * b, c * b
    cubes = [c2 * c, c2 * b, cb * b, b2 * b]
    fourths = [c2 * c2, c2 * cb, c2 * b2, cb * b2, b2 * b2]
    return np.stack([c2, cb, b2, *cubes, *fourths], axis=1)


_CHUNK: Final = 1 << 14
"""Items per pass over the expansion's products: a test's items in one pass (the sums are then
np.sum's of whole rows), a run's pooled items (``results.kept``: a million at 10,000 tests x 100
items) in passes whose temporaries stay near 2 MB, not 300 bytes an item."""


_BINOMIAL: Final = np.asarray([1.0, -2.0, 1.0, 1.0, -3.0, 3.0, -1.0, 1.0, -4.0, 6.0, -4.0, 1.0])
"""Signed binomial factors of (c - delta b)^k's terms c^p b^q delta^q, k = 2, 3, 4."""

_LAYOUT: Final = np.asarray([0, 3, 6, 1, 4, 7, 10, 2, 5, 8, 11, 14])
"""Where each of those 12 sums goes in the flattened (5 powers of delta, 3 moments) matrix."""


Excess = Callable[[NDArray[np.float64], NDArray[np.intp]], NDArray[np.float64]]
"""``excess(theta, rows)``: T(theta) minus its critical value at each point of the search rows
``rows`` (theta and the result: (len(rows), points))."""


def ratio_calibrated_bounds(
    variances: ArrayLike, errors: ArrayLike, weights: ArrayLike | None, tail: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Ratio sum w v / sum w e per row with the bounds of the calibrated test's inversion.

    Every theta between the bounds passes the calibrated one-sided test of D(theta)
    (``calibrated_bounds``) at ``tail`` both ways; the default interval (``tail`` =
    (1 - confidence) / 2). Rows must have a positive error sum; a side the data cannot bound
    is infinite.
    """
    return calibrated_ratio_search(_ratio_terms(variances, errors, weights), tail)


def calibrated_ratio_search(
    terms: RatioTerms, tail: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``ratio_calibrated_bounds`` of sums made elsewhere (a run's items, in bounded passes)."""
    if not 0.0 < tail < 1.0:
        raise ValueError(f"tail must be strictly between 0 and 1, got {tail!r}")
    count = terms.rows
    side = np.concatenate([np.ones(count), -np.ones(count)])[:, None]

    def offset(moments: TermMoments, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        mean, sd, gamma, df = _calibrated(moments)
        statistic = _transformed(mean, sd, gamma, moments.n)
        result: NDArray[np.float64] = statistic - side[rows] * _upper_quantile(df, tail)
        return result

    return _search(terms, offset)


def ratio_hall_bounds(
    variances: ArrayLike, errors: ArrayLike, weights: ArrayLike | None, critical: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Ratio sum w v / sum w e per row with the thetas where T(theta) = +critical and -critical.

    The uncalibrated core of :func:`ratio_hall_interval` (rows are suites sharing the weights):
    every theta between the two bounds passes the skew-corrected test at ``critical`` both ways.
    Rows must have a positive error sum; a side the data cannot bound is infinite.
    """
    terms = _ratio_terms(variances, errors, weights)
    count = terms.rows
    level = np.concatenate([np.full(count, critical), np.full(count, -critical)])[:, None]

    def offset(moments: TermMoments, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        mean, sd, gamma = _shape(moments)
        result: NDArray[np.float64] = _transformed(mean, sd, gamma, moments.n) - level[rows]
        return result

    return _search(terms, offset)


def _ratio_terms(variances: ArrayLike, errors: ArrayLike, weights: ArrayLike | None) -> RatioTerms:
    v = np.atleast_2d(np.asarray(variances, dtype=np.float64))
    e = np.atleast_2d(np.asarray(errors, dtype=np.float64))
    n = v.shape[-1]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    return RatioTerms.of(v, e, w)


def _search(
    terms: RatioTerms,
    excess_of: Callable[[TermMoments, NDArray[np.intp]], NDArray[np.float64]],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Both bounds of every row in one search: rows 0..R-1 find the low, R..2R-1 the high one.

    ``excess_of(moments)``: T minus its critical value at each (search row, point).
    """
    rows = terms.rows
    ratio = terms.center
    scale = np.maximum(np.abs(ratio), 1.0)
    both_sides = terms.take(np.concatenate([np.arange(rows), np.arange(rows)]))

    def excess(theta: NDArray[np.float64], rows: NDArray[np.intp]) -> NDArray[np.float64]:
        return excess_of(both_sides.moments(theta, rows), rows)

    both = _root(excess, np.concatenate([ratio, ratio]), np.concatenate([-scale, scale]))
    return ratio, both[:rows], both[rows:]


_PROBES: Final = np.concatenate(
    [[-0.5], -np.logspace(-2.0, -14.0, 4), [0.0], np.logspace(-14.0, -2.0, 4), [0.5]]
)
"""Where each refinement round evaluates T around the regula falsi point, in shares of the
bracket's width (clipped into it): a smooth T is linear near its root, so the bracket narrows
about quadratically (~4-6 rounds to a few ulps after the tree). Nine probes four decades
apart: a batch of suites (``stats.pending``) pays per point, and 2,000 suites took 2.3x less
time than with 33 probes a decade apart, one suite alone about as long."""

_GRID: Final = np.arange(1, _PROBES.shape[0] + 1) / (_PROBES.shape[0] + 1.0)
"""Where a round looks instead when the last one narrowed the bracket less than this grid
would (T far from linear: a jump toward +-inf where the sd of the terms vanishes)."""

_TREE_LEVELS: Final = 5
"""Bisection steps taken first, all 2^5 - 1 midpoints they could visit evaluated at once: they
keep the root a plain bisection of the doubling bracket would find where T crosses its level
more than once there (small N), and leave the regula falsi a bracket 32 times narrower."""

_MAX_ROUNDS: Final = 80
"""Refinement rounds before giving up on narrowing further (the halving bound needs ~60)."""


def _root(
    excess: Excess,
    start: NDArray[np.float64],
    step: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Per row, where ``excess(theta)`` (T minus its critical value) = 0 beyond ``start``.

    T decreases in theta: the search doubles ``step`` in its direction until the excess is past
    0 (never: that side is unbounded, inf), bisects that bracket ``_TREE_LEVELS`` times, then
    narrows it (``_refine``) to a few ulps: the root a bisection to the last bit finds, in ~4
    evaluations instead of 52. The first evaluation also takes the bisection tree of the first
    step's bracket, which holds both bounds of most suites (those within max(|I|, 1) of I).
    """
    down = step < 0  # searching below start: T rises past the level there
    inside, outside = start, start + step
    tree = _tree(np.where(down, outside, inside), np.where(down, inside, outside))
    every = np.arange(start.shape[0])
    first = excess(np.concatenate([start[:, None], outside[:, None], tree], axis=1), every)
    inside_f, outside_f = first[:, 0], first[:, 1]
    found = (outside_f >= 0.0) == down
    in_first = bool(found.all())
    for _ in range(_EXPANSIONS - 1):
        if found.all():
            break
        inside = np.where(found, inside, outside)
        inside_f = np.where(found, inside_f, outside_f)
        step = np.where(found, step, step * 2.0)
        outside = np.where(found, outside, start + step)
        value = _on(excess, ~found, outside[:, None])[:, 0]
        outside_f = np.where(found, outside_f, value)
        found |= (value >= 0.0) == down
    # excess(left) >= 0 > excess(right); start's sign is assumed (T there is ~0, not +-q)
    left, left_f = np.where(down, outside, inside), np.where(down, outside_f, inside_f)
    right, right_f = np.where(down, inside, outside), np.where(down, inside_f, outside_f)
    left_f, right_f = np.maximum(left_f, 0.0), np.minimum(right_f, -0.0)
    if in_first:
        values = first[:, 2:]
    else:
        in_first_rows = (first[:, 1] >= 0.0) == down
        tree = _tree(left, right)
        values = np.where(in_first_rows[:, None], first[:, 2:], _on(excess, ~in_first_rows, tree))
    left, right, left_f, right_f = _walk(tree, values, left, right, left_f, right_f)
    left, right = _refine(excess, left, right, left_f, right_f, down, found)
    result: NDArray[np.float64] = np.where(
        found, 0.5 * (left + right), np.where(down, -np.inf, np.inf)
    )
    return result


def _on(excess: Excess, rows: NDArray[np.bool_], theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``excess`` at ``theta`` on the rows still searching (NaN on the others), evaluating only
    those: a row's evaluations (and the re-centring they may cause, ``RatioTerms.moments``)
    never depend on which other rows share its search, so a suite's bounds are the same alone
    or in a batch of a whole run's, and rows that are done cost nothing."""
    out = np.full(theta.shape, np.nan)
    index = np.flatnonzero(rows)
    if index.size:
        out[index] = excess(theta[index], index)
    return out


def _tree(left: NDArray[np.float64], right: NDArray[np.float64]) -> NDArray[np.float64]:
    """The midpoints ``_TREE_LEVELS`` halvings of [left, right] could visit, level by level.

    Node j's children halve its two halves: exactly the midpoints one step at a time gives.
    """
    lows, highs, middles = [left[:, None]], [right[:, None]], []
    for _ in range(_TREE_LEVELS):
        a, b = lows[-1], highs[-1]
        middle = 0.5 * (a + b)
        middles.append(middle)
        # child 2i: T(middle) < level, the root is in [a, middle]; child 2i+1: [middle, b]
        low = np.empty((left.shape[0], 2 * a.shape[1]))
        high = np.empty_like(low)
        low[:, 0::2], low[:, 1::2] = a, middle
        high[:, 0::2], high[:, 1::2] = middle, b
        lows.append(low)
        highs.append(high)
    return np.concatenate(middles, axis=1)  # (rows, 2^levels - 1)


def _walk(
    theta: NDArray[np.float64],
    values: NDArray[np.float64],
    left: NDArray[np.float64],
    right: NDArray[np.float64],
    left_f: NDArray[np.float64],
    right_f: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Follow each row's bisection down the tree ``theta`` with the excess ``values`` there:
    the bracket after ``_TREE_LEVELS`` steps, keeping excess(left) >= 0 > excess(right)."""
    index = np.arange(theta.shape[0])
    node = np.zeros(theta.shape[0], dtype=np.intp)
    for level in range(_TREE_LEVELS):
        position = (1 << level) - 1 + node
        middle, value = theta[index, position], values[index, position]
        up = value >= 0.0
        left, left_f = np.where(up, middle, left), np.where(up, value, left_f)
        right, right_f = np.where(up, right, middle), np.where(up, right_f, value)
        node = 2 * node + up
    return left, right, left_f, right_f


def _refine(
    excess: Excess,
    left: NDArray[np.float64],
    right: NDArray[np.float64],
    left_f: NDArray[np.float64],
    right_f: NDArray[np.float64],
    down: NDArray[np.bool_],
    active: NDArray[np.bool_],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Narrow [left, right] keeping excess(left) >= 0 > excess(right) until a few ulps wide.

    Each round evaluates T at the regula falsi point and ``_PROBES`` around it (or on
    ``_GRID`` where the last round stalled or an end is infinite) in one array call and keeps
    the sign change nearest ``start`` (the right end when ``down``). Written
    here rather than scipy's ``elementwise.find_root``: that needs scipy 1.15 and costs ~1 ms
    of overhead per call, more than T's evaluations now do.
    """
    index = np.arange(left.shape[0])
    last_pair = _PROBES.shape[0]
    linear = np.ones(left.shape, dtype=bool)
    epsilon = float(np.finfo(np.float64).eps)
    floor = epsilon * (right - left)  # a root at 0: the resolution of a 52-step bisection
    for _ in range(_MAX_ROUNDS):
        width = right - left
        # a row stops once a few ulps wide: its bound does not depend on the other rows
        close = np.maximum(4.0 * epsilon * np.maximum(np.abs(left), np.abs(right)), floor)
        narrowing = active & (width > close)
        if not narrowing.any():
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            share = left_f / (left_f - right_f)
        share = np.where(np.isfinite(share), np.minimum(np.maximum(share, 0.0), 1.0), 0.5)
        guess = (left + share * width)[:, None] + width[:, None] * _PROBES
        guess = np.where(linear[:, None], guess, left[:, None] + width[:, None] * _GRID)
        probes = np.minimum(np.maximum(guess, left[:, None]), right[:, None])
        grid = np.concatenate([left[:, None], probes, right[:, None]], axis=1)
        values = _on(excess, narrowing, probes)
        signs = np.concatenate([left_f[:, None], values, right_f[:, None]], axis=1)
        change = (signs[:, :-1] >= 0.0) & (signs[:, 1:] < 0.0)
        first = np.argmax(change, axis=1)
        at = np.where(down, last_pair - np.argmax(change[:, ::-1], axis=1), first)
        left = np.where(narrowing, grid[index, at], left)
        right = np.where(narrowing, grid[index, at + 1], right)
        finite = np.isfinite(left_f) & np.isfinite(right_f)
        linear = finite & ((right - left) * (_PROBES.shape[0] + 1) < width)
        left_f = np.where(narrowing, signs[index, at], left_f)
        right_f = np.where(narrowing, signs[index, at + 1], right_f)
    return left, right


def ratio_hall_interval(
    variances: ArrayLike,
    errors: ArrayLike,
    weights: ArrayLike,
    confidence: float,
    *,
    calibrated: bool = True,
) -> tuple[float, float] | None:
    """Two-sided interval of sum w v / sum w e by inverting the skew-corrected test (unclipped).

    Each side is at (1 + confidence) / 2; ``calibrated`` (the default interval) inverts
    ``calibrated_bounds``, else Hall's test with t_{N-1}. None with fewer than two items or no
    error; a side the data cannot bound is infinite. Every item must have a positive weight.
    """
    v = np.asarray(variances, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n = v.shape[0]
    if n < 2 or not float(np.sum(w * e)) > 0:
        return None
    if calibrated:
        _, low, high = ratio_calibrated_bounds(v[None, :], e[None, :], w, (1.0 - confidence) / 2.0)
    else:
        q = t_quantile(n - 1, 0.5 + confidence / 2.0)
        _, low, high = ratio_hall_bounds(v[None, :], e[None, :], w, q)
    return float(low[0]), float(high[0])


def effective_items(errors: ArrayLike, weights: ArrayLike) -> float | None:
    """(sum w e)^2 / sum (w e)^2: how many items carry the error (None without any error)."""
    we = np.asarray(weights, dtype=np.float64) * np.asarray(errors, dtype=np.float64)
    total = float(np.sum(we))
    square = float(np.sum(we * we))
    if not total > 0 or not square > 0:
        return None
    return total * total / square


def ratio_skewness(variances: ArrayLike, errors: ArrayLike, weights: ArrayLike) -> float | None:
    """Skewness of the linearised terms w_i (v_i - I e_i) of the ratio (None when undefined)."""
    v = np.asarray(variances, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.shape[0] < 3 or not float(np.sum(w * e)) > 0:
        return None
    ratio = float(np.sum(w * v) / np.sum(w * e))
    _, sd, gamma = _moments(v - ratio * e, w)
    return float(gamma) if float(sd) > 0 else None


def is_approximate(n: int, incoherence: float | None) -> bool:
    """Whether an interval on ``n`` items with this (unclipped) estimate may cover short."""
    return n < APPROXIMATE_BELOW_ITEMS or (
        incoherence is not None and incoherence > APPROXIMATE_ABOVE
    )
