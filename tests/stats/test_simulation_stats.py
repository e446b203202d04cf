"""Seeded simulations: unbiasedness of the estimators, interval coverage, gate error rates.

Every tolerance is a Monte Carlo standard error (SE) computed from the simulated values
themselves, or a binomial SE for rates; "within 3 SE" fails by chance with probability
~0.3% per check for a correct implementation, and the seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from pytest_hotmess.stats.aggregate import (
    GateVerdict,
    aggregate,
    gate_incoherence,
    ratio_delta_interval,
)
from pytest_hotmess.stats.decompose import ItemEstimate, categorical_terms, numeric_terms

KS = (2, 3, 5, 10)
M = 20_000  # simulated items per K


def mean_and_se(values: NDArray[np.float64]) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1)) / math.sqrt(values.shape[0])


def assert_within_3_se(values: NDArray[np.float64], truth: float, what: str) -> None:
    mean, se = mean_and_se(values)
    assert abs(mean - truth) <= 3 * se, f"{what}: mean {mean:.5f} vs {truth:.5f} (SE {se:.5f})"


def assert_off_by_more_than_3_se(values: NDArray[np.float64], truth: float, what: str) -> None:
    mean, se = mean_and_se(values)
    assert abs(mean - truth) > 3 * se, f"{what}: mean {mean:.5f} is not off {truth:.5f}"


# ----------------------------------------------------------------------------------------
# unbiasedness

P_CAT = np.array([0.5, 0.3, 0.2])  # target: class 0
# one sample's expected one-hot Brier loss is 2(1 - p_y); its variance part 1 - sum p^2
TRUE_CAT_ERROR = 2 * (1 - P_CAT[0])
TRUE_CAT_VARIANCE = 1 - float(np.sum(P_CAT**2))
TRUE_CAT_BIAS = TRUE_CAT_ERROR - TRUE_CAT_VARIANCE  # = ||p - onehot(y)||^2 = 0.38


@pytest.mark.parametrize("k", KS)
def test_categorical_unbiased_estimator_is_unbiased_and_plugin_is_not(k: int) -> None:
    rng = np.random.default_rng(100 + k)
    counts = rng.multinomial(k, P_CAT, size=M)
    target = np.zeros(M, dtype=np.int64)
    e, b, v = categorical_terms(counts, target, "unbiased")
    assert_within_3_se(e, TRUE_CAT_ERROR, "error")
    assert_within_3_se(v, TRUE_CAT_VARIANCE, "unbiased variance")
    assert_within_3_se(b, TRUE_CAT_BIAS, "unbiased bias")
    # plug-in: E[variance] = (K-1)/K * true variance, E[bias] = true bias + true variance / K
    _, pb, pv = categorical_terms(counts, target, "plugin")
    assert_within_3_se(pv, (k - 1) / k * TRUE_CAT_VARIANCE, "plug-in variance, predicted")
    assert_within_3_se(pb, TRUE_CAT_BIAS + TRUE_CAT_VARIANCE / k, "plug-in bias, predicted")
    assert_off_by_more_than_3_se(pv, TRUE_CAT_VARIANCE, "plug-in variance")
    assert_off_by_more_than_3_se(pb, TRUE_CAT_BIAS, "plug-in bias")


MU, SIGMA, TARGET = 1.0, 2.0, 0.0  # normal outcomes: bias (mu - t)^2 = 1, variance sigma^2 = 4


@pytest.mark.parametrize("k", KS)
def test_numeric_unbiased_estimator_is_unbiased_and_plugin_is_not(k: int) -> None:
    rng = np.random.default_rng(200 + k)
    x = rng.normal(MU, SIGMA, size=(M, k))
    t = np.full(M, TARGET)
    true_bias, true_variance = (MU - TARGET) ** 2, SIGMA**2
    e, b, v = numeric_terms(x, t, "unbiased")
    assert_within_3_se(e, true_bias + true_variance, "error")
    assert_within_3_se(v, true_variance, "unbiased variance")
    assert_within_3_se(b, true_bias, "unbiased bias")
    _, pb, pv = numeric_terms(x, t, "plugin")
    assert_within_3_se(pv, (k - 1) / k * true_variance, "plug-in variance, predicted")
    assert_within_3_se(pb, true_bias + true_variance / k, "plug-in bias, predicted")
    assert_off_by_more_than_3_se(pv, true_variance, "plug-in variance")
    assert_off_by_more_than_3_se(pb, true_bias, "plug-in bias")


# ----------------------------------------------------------------------------------------
# suites drawn from a population of item types

# Each suite draws N items uniformly from four item types (answer distributions over 4
# classes, target class 0), then K = 10 answers per item. Population incoherence is
# E[v] / E[e] over the types; the unbiased estimators make sum v / sum e consistent for it.
ITEM_TYPES = np.array(
    [
        [0.90, 0.05, 0.05, 0.00],  # mostly right
        [0.30, 0.30, 0.20, 0.20],  # scattered
        [0.05, 0.90, 0.05, 0.00],  # confidently wrong
        [1.00, 0.00, 0.00, 0.00],  # always right (zero error)
    ]
)
TYPE_ERROR = 2 * (1 - ITEM_TYPES[:, 0])
TYPE_VARIANCE = 1 - (ITEM_TYPES**2).sum(axis=1)
POPULATION_INCOHERENCE = float(TYPE_VARIANCE.mean() / TYPE_ERROR.mean())  # 1.11 / 3.5


def simulate_suites(
    seed: int, suites: int, n: int, k: int = 10
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(error, bias, variance), each of shape (suites, n), in one vectorised pass."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, len(ITEM_TYPES), size=(suites, n))
    counts = rng.multinomial(k, ITEM_TYPES[types]).reshape(-1, ITEM_TYPES.shape[1])
    e, b, v = categorical_terms(counts, np.zeros(counts.shape[0], dtype=np.int64), "unbiased")
    return e.reshape(suites, n), b.reshape(suites, n), v.reshape(suites, n)


def as_estimates(
    e: NDArray[np.float64], b: NDArray[np.float64], v: NDArray[np.float64]
) -> list[ItemEstimate]:
    return [
        ItemEstimate(
            id=str(i),
            kind="categorical",
            loss="brier",
            estimator="unbiased",
            k=10,
            invalid=0,
            weight=1.0,
            error=float(e[i]),
            bias=float(b[i]),
            variance=float(v[i]),
            target="0",
            counts=None,
            outcomes=None,
        )
        for i in range(e.shape[0])
    ]


def binomial_se(p: float, trials: int) -> float:
    return math.sqrt(p * (1 - p) / trials)


def test_population_incoherence_value() -> None:
    # errors .2, 1.4, 1.9, 0; variances .185, .74, .185, 0
    assert pytest.approx(POPULATION_INCOHERENCE) == 1.11 / 3.5


def test_delta_interval_covers_population_incoherence() -> None:
    """1000 suites of N = 100: 95% intervals cover in 90-98% of suites.

    The binomial SE of a 95% rate over 1000 suites is 0.7 points, so the band is wide on
    purpose: it admits the O(1/N) bias of a ratio estimator but not a wrong SE (a halved SE
    gives ~68%, a doubled one ~99.99%).
    """
    suites = 1000
    e, _, v = simulate_suites(seed=1, suites=suites, n=100)
    covered = 0
    for s in range(suites):
        bounds = ratio_delta_interval(v[s], e[s], np.ones(100), 0.95)
        assert bounds is not None
        covered += bounds[0] <= POPULATION_INCOHERENCE <= bounds[1]
    assert 0.90 <= covered / suites <= 0.98


def test_aggregate_uses_the_same_delta_interval() -> None:
    e, b, v = simulate_suites(seed=2, suites=1, n=100)
    agg = aggregate(as_estimates(e[0], b[0], v[0]), interval="delta")
    bounds = ratio_delta_interval(v[0], e[0], np.ones(100), 0.95)
    assert bounds is not None
    assert (agg.incoherence_low, agg.incoherence_high) == pytest.approx(bounds)
    assert agg.interval_method == "delta"


def test_bootstrap_interval_covers_and_agrees_with_delta() -> None:
    """150 suites of N = 100 with BCa (999 resamples).

    Coverage: at a true 95% the count is Binomial(150, .95), SD 2.7 suites; we require at
    least 150 * .95 - 3 * 2.7 ~ 134 covered. Width: both intervals estimate the same
    asymptotic SE; over 150 suites their mean widths agree within 15% (the BCa endpoints'
    own Monte Carlo error at B = 999 is a few percent).
    """
    suites = 150
    e, b, v = simulate_suites(seed=3, suites=suites, n=100)
    covered = 0
    width_ratio = []
    for s in range(suites):
        items = as_estimates(e[s], b[s], v[s])
        boot = aggregate(items, interval="bootstrap", n_resamples=999, seed=s)
        delta = aggregate(items)
        assert boot.interval_method == "bootstrap"
        assert boot.incoherence_low is not None and boot.incoherence_high is not None
        assert delta.incoherence_low is not None and delta.incoherence_high is not None
        covered += boot.incoherence_low <= POPULATION_INCOHERENCE <= boot.incoherence_high
        width_ratio.append(
            (boot.incoherence_high - boot.incoherence_low)
            / (delta.incoherence_high - delta.incoherence_low)
        )
    assert covered >= 134
    assert 0.85 <= float(np.mean(width_ratio)) <= 1.15


# ----------------------------------------------------------------------------------------
# gates


@pytest.mark.parametrize(
    ("tau", "expected"),
    [(POPULATION_INCOHERENCE + 0.25, "pass"), (POPULATION_INCOHERENCE - 0.25, "fail")],
)
def test_gate_decides_when_far_from_tau(tau: float, expected: GateVerdict) -> None:
    """0.25 is ~5 SE of a 100-item suite's incoherence (SE ~0.05), so all 100 suites decide."""
    e, b, v = simulate_suites(seed=4, suites=100, n=100)
    verdicts = [
        gate_incoherence(as_estimates(e[s], b[s], v[s]), tau, confidence=0.95).verdict
        for s in range(100)
    ]
    assert verdicts.count(expected) == 100


def test_gate_false_pass_rate_at_equality_is_at_most_alpha() -> None:
    """At tau = population incoherence, D = E[v] - tau E[e] = 0 exactly: a pass is false.

    With 1000 suites the rate must be <= alpha + 3 binomial SE = 0.05 + 0.021.
    """
    suites, alpha = 1000, 0.05
    e, b, v = simulate_suites(seed=5, suites=suites, n=100)
    false_pass = sum(
        gate_incoherence(
            as_estimates(e[s], b[s], v[s]), POPULATION_INCOHERENCE, confidence=1 - alpha
        ).verdict
        == "pass"
        for s in range(suites)
    )
    assert false_pass / suites <= alpha + 3 * binomial_se(alpha, suites)
