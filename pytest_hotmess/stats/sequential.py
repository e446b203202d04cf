"""Group-sequential gates: draw samples in rounds and stop once every threshold is decided.

Re-testing a fixed-K gate after every round would spend the false-verdict rate alpha again at
each look (docs/statistics.md, 'Sequential sampling'). This module spends it over the looks
instead, with the Lan-DeMets O'Brien-Fleming-type spending function, applied to each one-sided
direction separately:

    alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t)),     alpha = 1 - confidence,

the one-sided form: alpha(1) = alpha, and almost nothing is spent early. ``alpha(t)`` is the
chance, under D = 0, that the statistic has crossed the upper boundary by information fraction
t. The critical values c_1 > c_2 > ... > c_L solve, look by look,

    P(Z_1 < c_1, ..., Z_{j-1} < c_{j-1}, Z_j >= c_j) = alpha(t_j) - alpha(t_{j-1})

for the canonical joint distribution of the standardised statistics (Z_j normal with
corr(Z_i, Z_j) = sqrt(t_i / t_j)); this is computed by recursive numerical integration of the
score process S_j = Z_j sqrt(t_j), whose increments are independent N(0, t_j - t_{j-1})
(Armitage, McPherson and Rowe), on a Simpson grid. Under D = 0 the two directions are mirror
images, so the lower boundary is -c_j. Each boundary is computed as if the other did not stop
the run ("non-binding"), which can only lower each direction's false-verdict rate.

At look j the verdict of a threshold uses the fixed gate's statistic (weighted mean, SE =
sd(d)/sqrt(N), N - 1 degrees of freedom; see ``aggregate.one_sided_mean_test``) at the
nominal one-sided level p_j = 1 - Phi(c_j): PASS when the upper bound D + t_{N-1}(1 - p_j) SE is
below 0, FAIL when the lower bound is above 0, otherwise CONTINUE (INCONCLUSIVE at the last
look). Converting each normal boundary to a nominal level and back to the t scale keeps every
look's marginal level exact under the t model; with one look p_1 = alpha and the gate is the
fixed-K gate, bit for bit.

Information fraction: we plan with t_j = k_j / k_L, the share of the final samples per item,
so a plan is fixed before any sampling and cached per (looks, alpha). The variance of an
item-level estimate is a between-item part A that does not shrink with k plus a within-item
part B/k, so Var_j / Var_i = (A + B/k_j) / (A + B/k_i) >= k_i / k_j: the true correlations
sqrt(Var_j / Var_i) of the looks' statistics are at least the planned sqrt(k_i / k_j). By
Slepian's inequality, more correlation can only lower the chance of crossing given
boundaries, so planning with k_j / k_L keeps each direction's error rate at or below alpha;
the price is caution early on when items differ a lot (then more samples per item add
little information and a data-driven fraction would stop sooner). Two approximations remain,
both measured in tests/stats/test_sequential.py and benchmarks/sequential.py: the unbiased
categorical variance is a degree-2 U-statistic, whose variance falls slightly faster than
1/k for small k (the earliest looks are a little less correlated than planned, where the
boundaries are so high that it does not show), and the t test on skewed per-item terms is
itself not exactly at level alpha in each direction; the sequential gate inherits that from
the fixed gate and adds nothing to it.

All items get the same number of samples at a look: single items are never stopped early
(that would bias incoherence low; docs/statistics.md, 'Sequential sampling'). Items that lost
samples to failed calls simply enter with their own k, as in the fixed gate.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .decompose import ItemEstimate
from .skew import calibrated_bounds, hall_bounds

__all__ = [
    "MAX_LOOKS",
    "THRESHOLD_NAMES",
    "LookTest",
    "SequentialDecision",
    "SequentialPlan",
    "SequentialVerdict",
    "decide",
    "default_looks",
    "look_bounds",
    "make_plan",
    "obf_spending",
    "plan_looks",
]

SequentialVerdict = Literal["pass", "fail", "continue", "inconclusive"]

THRESHOLD_NAMES: Final = ("max_incoherence", "max_bias", "max_variance", "max_error")
"""Marker keywords a sequential gate understands (docs/statistics.md, 'Gates')."""

MAX_LOOKS: Final = 100
"""More looks buy almost nothing under O'Brien-Fleming spending and cost integration time."""

_GRID_PER_SD: Final = 8
"""Simpson grid points per standard deviation of the smallest score increment (critical
values then agree with a 4x finer grid to about 1e-6)."""

_LOWER_TAIL_SD: Final = 9.0
"""The grid starts this many standard deviations below 0 (mass beyond: < 1e-18)."""


# ----------------------------------------------------------------------------------------
# spending function and boundaries


def obf_spending(fraction: float, alpha: float) -> float:
    """One-sided alpha spent by information fraction t: 2 - 2 Phi(z_{1-alpha/2} / sqrt(t))."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"information fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1.0:
        return alpha
    from scipy.special import ndtr, ndtri  # on first use: it costs ~0.2 s

    return float(2.0 * ndtr(ndtri(alpha / 2.0) / math.sqrt(fraction)))


def _normal_pdf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return result


def _simpson_grid(low: float, high: float, step: float) -> tuple[NDArray[np.float64], ...]:
    """Points and Simpson weights on [low, high] with spacing at most ``step``."""
    intervals = max(2, math.ceil((high - low) / step))
    intervals += intervals % 2
    points = np.linspace(low, high, intervals + 1)
    h = (high - low) / intervals
    weights = np.full(intervals + 1, 2.0)
    weights[1::2] = 4.0
    weights[0] = weights[-1] = 1.0
    return points, weights * (h / 3.0)


def _crossing_excess(
    critical: float,
    mass: NDArray[np.float64],
    points: NDArray[np.float64],
    root: float,
    sd: float,
    target: float,
) -> float:
    """P(continue so far, then cross ``critical`` at this look) minus the alpha to spend."""
    from scipy.special import ndtr

    crossing = float(mass @ ndtr((points - critical * root) / sd))
    return crossing - target


@functools.lru_cache(maxsize=256)
def _upper_boundaries(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    """Z-scale critical values c_j of the one-sided O'Brien-Fleming-type design (cached)."""
    from scipy.optimize import brentq  # lazy: about 0.4 s to import, needed once per design
    from scipy.special import ndtri

    spent = [obf_spending(t, alpha) for t in fractions]
    roots = [math.sqrt(t) for t in fractions]
    increments = [fractions[0]] + [b - a for a, b in itertools.pairwise(fractions)]
    step = min(math.sqrt(v) for v in increments) / _GRID_PER_SD
    critical = [float(-ndtri(spent[0]))]
    # density of the score S_1 = Z_1 sqrt(t_1) on the continuation region S_1 < c_1 sqrt(t_1)
    points, weights = _simpson_grid(-_LOWER_TAIL_SD * roots[0], critical[0] * roots[0], step)
    density = _normal_pdf(points / roots[0]) / roots[0]
    for j in range(1, len(fractions)):
        sd = math.sqrt(increments[j])
        mass = weights * density
        args = (mass, points, roots[j], sd, spent[j] - spent[j - 1])
        low, high = 0.0, critical[-1]
        while _crossing_excess(low, *args) < 0.0:  # too little crossing even at c = low
            low -= 1.0
        while _crossing_excess(high, *args) > 0.0:
            high += 1.0
        c = float(brentq(_crossing_excess, low, high, args=args, xtol=1e-12))
        critical.append(c)
        # carry the density to look j, restricted to its continuation region S_j < c_j sqrt(t_j)
        new_points, new_weights = _simpson_grid(-_LOWER_TAIL_SD * roots[j], c * roots[j], step)
        kernel = _normal_pdf((new_points[None, :] - points[:, None]) / sd) / sd
        density = mass @ kernel
        points, weights = new_points, new_weights
    return tuple(critical)


# ----------------------------------------------------------------------------------------
# plan


def plan_looks(initial: int, max_samples: int, step: int) -> tuple[int, ...]:
    """Samples per item at each look: initial, initial + step, ..., always ending at max_samples."""
    for name, value in (("initial", initial), ("max_samples", max_samples), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if initial < 2:
        raise ValueError(f"initial must be >= 2 (an item needs 2 samples), got {initial}")
    if max_samples < initial:
        raise ValueError(f"max_samples ({max_samples}) must be >= initial ({initial})")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    looks = list(range(initial, max_samples, step))
    looks.append(max_samples)
    return tuple(looks)


def default_looks(max_samples: int) -> tuple[int, ...]:
    """The benchmarked schedule: a nearly free look at 2 samples, one halfway, one at the end.

    For max_samples = 20 this is (2, 11, 20). What it saves depends on how far the truth is
    from the threshold and on the number of items: ``python -m benchmarks.validity`` measures
    it (README, 'Validity'); every verdict rate stays within about 2 points of the fixed
    design (seed 0: false verdicts within 0.5, power near the threshold within 2.2). More looks
    save more calls but lose more power at the final look.
    """
    if isinstance(max_samples, bool) or not isinstance(max_samples, int):
        raise TypeError(f"max_samples must be an int, got {max_samples!r}")
    if max_samples < 2:
        raise ValueError(f"max_samples must be >= 2, got {max_samples}")
    return plan_looks(2, max_samples, max(1, math.ceil((max_samples - 2) / 2)))


@dataclasses.dataclass(frozen=True)
class SequentialPlan:
    """Looks (samples per item) and their O'Brien-Fleming-type critical values.

    ``upper[j]`` / ``lower[j]`` are the normal-scale critical values at look j (lower =
    -upper); ``nominal[j]`` = 1 - Phi(upper[j]) is the one-sided level a look tests at, and
    ``spent[j]`` the cumulative alpha spent per direction by look j.
    """

    looks: tuple[int, ...]
    confidence: float
    alpha: float
    information: tuple[float, ...]
    spent: tuple[float, ...]
    upper: tuple[float, ...]
    nominal: tuple[float, ...]

    @property
    def lower(self) -> tuple[float, ...]:
        """Z-scale critical values of the PASS direction: a standardised D below them passes."""
        return tuple(-c for c in self.upper)

    def is_last(self, look_index: int) -> bool:
        """Whether ``look_index`` is the final look (undecided there means inconclusive)."""
        self._check_index(look_index)
        return look_index == len(self.looks) - 1

    def critical_t(self, look_index: int, df: int) -> float:
        """t-scale critical value at a look: the (1 - nominal) quantile with ``df`` degrees.

        A single-look plan uses ``t.ppf(confidence, df)``, exactly as the fixed gate does.
        """
        self._check_index(look_index)
        if df < 1:
            raise ValueError(f"df must be >= 1, got {df}")
        from scipy.special import stdtrit  # on first use: importing it costs ~0.2 s

        if len(self.looks) == 1:
            return float(stdtrit(df, self.confidence))
        # the upper-tail quantile by symmetry, -stdtrit(df, a): stdtrit(df, 1 - a) would round
        # 1 - a first and lose the digits of a tiny nominal level
        return -float(stdtrit(df, self.nominal[look_index]))

    def tail(self, look_index: int) -> float:
        """One-sided level a look tests at: alpha with one look, else the nominal level p_j."""
        self._check_index(look_index)
        return self.alpha if len(self.looks) == 1 else self.nominal[look_index]

    def _check_index(self, look_index: int) -> None:
        if not 0 <= look_index < len(self.looks):
            raise IndexError(f"look_index {look_index} outside 0..{len(self.looks) - 1}")


def make_plan(looks: Sequence[int], confidence: float) -> SequentialPlan:
    """A plan for the given samples-per-item looks at ``confidence`` (alpha = 1 - confidence).

    Information fractions are k_j / k_L (see the module docstring for why this is safe).
    """
    ks = tuple(looks)
    if not ks:
        raise ValueError("a plan needs at least one look")
    if any(isinstance(k, bool) or not isinstance(k, int) for k in ks):
        raise TypeError(f"looks must be ints, got {ks!r}")
    if ks[0] < 2:
        raise ValueError(f"every look needs >= 2 samples per item, got {ks[0]}")
    if any(b <= a for a, b in itertools.pairwise(ks)):
        raise ValueError(f"looks must increase strictly, got {ks!r}")
    if len(ks) > MAX_LOOKS:
        raise ValueError(f"at most {MAX_LOOKS} looks, got {len(ks)}; use a larger step")
    level = float(confidence)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return _cached_plan(ks, level)


@functools.lru_cache(maxsize=256)
def _cached_plan(ks: tuple[int, ...], level: float) -> SequentialPlan:
    from scipy.special import ndtr

    alpha = 1.0 - level
    fractions = tuple(k / ks[-1] for k in ks)
    upper = _upper_boundaries(fractions, alpha)
    return SequentialPlan(
        looks=ks,
        confidence=level,
        alpha=alpha,
        information=fractions,
        spent=tuple(obf_spending(t, alpha) for t in fractions),
        upper=upper,
        nominal=tuple(float(ndtr(-c)) for c in upper),
    )


# ----------------------------------------------------------------------------------------
# decisions


def look_bounds(
    plan: SequentialPlan,
    look_index: int,
    values: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    skew: bool = True,
    calibrated: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted mean of ``values`` over the last axis with its one-sided bounds at a look.

    The vectorised twin of ``aggregate.one_sided_mean_test`` (same linearisation, SE =
    sd(d)/sqrt(N), the same calibrated skew correction of ``stats.skew``) at the look's
    nominal level, so that many simulated suites (rows) can be tested at once. Benchmarks
    compare the gates before: ``skew=False`` gives the plain t bounds, ``calibrated=False``
    Hall's correction with N - 1 degrees of freedom. Weights must be positive, N >= 2.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[-1]
    if n < 2:
        raise ValueError(f"a look needs at least 2 items, got {n}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights must be {n} finite positive numbers")
    if skew and calibrated:
        return calibrated_bounds(x, w, plan.tail(look_index))
    q = plan.critical_t(look_index, n - 1)
    if skew:
        return hall_bounds(x, w, q)
    mean = np.sum(w * x, axis=-1) / np.sum(w)
    d = w * (x - mean[..., None]) / float(np.mean(w))
    se = np.std(d, ddof=1, axis=-1) / math.sqrt(n)
    return mean, mean - q * se, mean + q * se


@dataclasses.dataclass(frozen=True)
class LookTest:
    """One threshold's test at one look: the estimate of D and its one-sided bounds there.

    For ``max_incoherence`` D = weighted mean of (v - tau e) over items with a target; for the
    other thresholds D = weighted mean of the figure minus the threshold. ``statistic`` is
    None without any weighted item, and the bounds are infinite with fewer than two.
    ``look_index`` is the look that produced this test (earlier than the decision's own look
    when the threshold was decided before and kept its verdict).
    """

    verdict: SequentialVerdict
    statistic: float | None
    low: float
    high: float
    look_index: int


@dataclasses.dataclass(frozen=True)
class SequentialDecision:
    """What a look decided: a test per threshold and whether sampling stops here."""

    look_index: int
    samples: int
    tests: Mapping[str, LookTest]
    stop: bool

    @property
    def verdicts(self) -> dict[str, SequentialVerdict]:
        return {name: test.verdict for name, test in self.tests.items()}


def _population(name: str, estimates: Sequence[ItemEstimate]) -> list[ItemEstimate]:
    """Items a threshold is about: variance counts every item, the rest need a target."""
    chosen = estimates if name == "max_variance" else [e for e in estimates if e.has_target]
    return [e for e in chosen if e.weight > 0]


def _look_test(
    plan: SequentialPlan,
    look_index: int,
    name: str,
    threshold: float,
    estimates: Sequence[ItemEstimate],
) -> LookTest:
    undecided: SequentialVerdict = "inconclusive" if plan.is_last(look_index) else "continue"
    items = _population(name, estimates)
    w = np.asarray([i.weight for i in items], dtype=np.float64)
    if name == "max_incoherence":
        e = np.asarray([i.error for i in items], dtype=np.float64)
        v = np.asarray([i.variance for i in items], dtype=np.float64)
        values, offset = v - threshold * e, 0.0
        decidable = float(np.sum(w * e)) > 0  # no error yet: incoherence is undefined
    else:
        figure = name.removeprefix("max_")
        values = np.asarray([float(getattr(i, figure)) for i in items], dtype=np.float64)
        offset, decidable = threshold, True
    if len(items) < 2:
        statistic = float(np.sum(w * values) / np.sum(w)) - offset if items else None
        return LookTest(undecided, statistic, -math.inf, math.inf, look_index)
    mean, low, high = (float(a) - offset for a in look_bounds(plan, look_index, values, w))
    verdict = undecided
    if decidable:
        verdict = "pass" if high < 0 else "fail" if low > 0 else undecided
    return LookTest(verdict, mean, low, high, look_index)


def _check_threshold(name: str, value: float) -> float:
    if name not in THRESHOLD_NAMES:
        known = ", ".join(THRESHOLD_NAMES)
        raise ValueError(f"unknown threshold {name!r}; expected one of {known}")
    limit = float(value)
    if not math.isfinite(limit):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if name == "max_incoherence" and not 0.0 <= limit <= 1.0:
        raise ValueError(f"max_incoherence must be within [0, 1], got {value!r}")
    return limit


def decide(
    plan: SequentialPlan,
    look_index: int,
    estimates: Sequence[ItemEstimate],
    thresholds: Mapping[str, float],
    previous: SequentialDecision | None = None,
) -> SequentialDecision:
    """Test every threshold at look ``look_index`` of ``plan``; stop when all are decided.

    ``estimates`` are every item's estimates from all samples drawn so far (the look's number
    per item; failed calls may leave some items with fewer). A threshold is ``pass`` or
    ``fail`` once its boundary is crossed, ``continue`` while not, and ``inconclusive`` if
    still undecided at the last look. Pass the previous look's decision as ``previous``: a
    threshold decided there keeps its verdict and is not tested again. Sampling stops when
    every threshold is decided, or at the last look.
    """
    limits = {name: _check_threshold(name, value) for name, value in thresholds.items()}
    if previous is not None and previous.look_index >= look_index:
        raise ValueError(
            f"previous decision is from look {previous.look_index}, not before {look_index}"
        )
    kept = {} if previous is None else previous.tests
    tests: dict[str, LookTest] = {}
    for name, limit in limits.items():
        earlier = kept.get(name)
        if earlier is not None and earlier.verdict in ("pass", "fail"):
            tests[name] = earlier
        else:
            tests[name] = _look_test(plan, look_index, name, limit, estimates)
    decided = all(t.verdict in ("pass", "fail") for t in tests.values())
    return SequentialDecision(
        look_index=look_index,
        samples=plan.looks[look_index],
        tests=tests,
        stop=decided or plan.is_last(look_index),
    )
