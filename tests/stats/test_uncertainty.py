"""Aggregation, intervals and gates on small hand-computed suites."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_decompose import assert_builtin_json

from pytest_hotmess.stats.aggregate import (
    Aggregate,
    aggregate,
    gate_incoherence,
    gate_mean,
    one_sided_mean_test,
    ratio_delta_interval,
)
from pytest_hotmess.stats.decompose import ItemEstimate, estimate_item


def item(
    error: float | None,
    variance: float,
    *,
    weight: float = 1.0,
    k: int = 10,
    invalid: int = 0,
    name: str = "i",
) -> ItemEstimate:
    return ItemEstimate(
        id=name,
        kind="numeric",
        loss="squared",
        estimator="unbiased",
        k=k,
        invalid=invalid,
        weight=weight,
        error=error,
        bias=None if error is None else error - variance,
        variance=variance,
        target=None if error is None else 0.0,
        counts=None,
        outcomes=None,
    )


# hand example used below: e = 1, 2, 1, 2; v = .5, .5, .2, 1 (unit weights)
E4 = [1.0, 2.0, 1.0, 2.0]
V4 = [0.5, 0.5, 0.2, 1.0]
SUITE4 = [item(e, v, name=str(i)) for i, (e, v) in enumerate(zip(E4, V4, strict=True))]


# ----------------------------------------------------------------------------------------
# point figures


def test_incoherence_is_a_ratio_of_sums_not_a_mean_of_ratios() -> None:
    agg = aggregate([item(1.0, 0.5), item(0.1, 0.1)])
    assert agg.incoherence == pytest.approx(0.6 / 1.1)  # mean of ratios would be 0.75
    weighted = aggregate([item(1.0, 0.5, weight=2.0), item(0.1, 0.1)])
    assert weighted.incoherence == pytest.approx(1.1 / 2.1)
    assert weighted.error == pytest.approx(2.1 / 3)
    assert weighted.variance == pytest.approx(1.1 / 3)
    assert weighted.bias == pytest.approx(1.0 / 3)


def test_variance_only_items_count_in_variance_only() -> None:
    agg = aggregate([item(1.0, 0.4, k=5, invalid=1), item(None, 0.8, k=8, invalid=2)])
    assert (agg.items, agg.targeted_items, agg.k_min, agg.k_max, agg.invalid) == (2, 1, 5, 8, 3)
    assert agg.error == pytest.approx(1.0)
    assert agg.bias == pytest.approx(0.6)
    assert agg.variance == pytest.approx(0.6)  # mean over both items
    assert agg.incoherence == pytest.approx(0.4)


def test_display_clipping() -> None:
    # negative mean bias (unbiased numeric) shows as 0; variance above error shows as 1
    agg = aggregate([item(1.0, 1.5), item(1.0, 1.2)])
    assert agg.bias == 0.0
    assert agg.incoherence == 1.0
    assert agg.incoherence_low is not None and 0.0 <= agg.incoherence_low <= 1.0
    assert agg.incoherence_high == 1.0


def test_all_correct_suite_has_undefined_incoherence() -> None:
    items = [estimate_item(["A"] * 5, "A", item_id=str(i)) for i in range(4)]
    agg = aggregate(items)
    assert agg.error == 0.0
    assert agg.incoherence is None
    assert agg.incoherence_low is None and agg.incoherence_high is None
    assert_builtin_json(agg.to_dict())


def test_empty_and_untargeted_suites() -> None:
    empty = aggregate([])
    assert (empty.items, empty.k_min, empty.error, empty.variance, empty.incoherence) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert_builtin_json(empty.to_dict())
    untargeted = aggregate([item(None, 0.3), item(None, 0.5)])
    assert untargeted.error is None and untargeted.incoherence is None
    assert untargeted.variance == pytest.approx(0.4)


def test_single_item_has_no_interval() -> None:
    agg = aggregate([item(1.0, 0.3)])
    assert agg.incoherence == pytest.approx(0.3)
    assert agg.incoherence_low is None and agg.incoherence_high is None


def test_items_of_different_k_are_weighted_as_items() -> None:
    few = estimate_item(["A", "B"], "A", item_id="few")
    many = estimate_item(["A"] * 20 + ["B"] * 20, "A", item_id="many")
    agg = aggregate([few, many])
    assert (agg.k_min, agg.k_max) == (2, 40)
    assert few.error is not None and many.error is not None
    assert agg.incoherence == pytest.approx(
        (few.variance + many.variance) / (few.error + many.error)
    )


def test_aggregate_to_dict_is_builtin() -> None:
    agg = aggregate(SUITE4, interval="bootstrap", seed=0, n_resamples=200)
    data = agg.to_dict()
    assert_builtin_json(data)
    # every figure; not the interval a deferred aggregate leaves to solve (numpy, internal)
    assert set(data) == set(Aggregate.__dataclass_fields__) - {"pending"}


# ----------------------------------------------------------------------------------------
# delta interval


def test_delta_interval_hand_computed() -> None:
    # I = 2.2 / 6 = 0.366667; mean(e) = 1.5; d = (v - I e) / 1.5
    #   = 0.088889, -0.155556, -0.111111, 0.177778 (mean 0); sd(ddof=1) = 0.159216;
    # SE = 0.079608; t(0.975, 3) = 3.182446; I -/+ 0.253348.
    low, high = ratio_delta_interval(V4, E4, np.ones(4), 0.95) or (math.nan, math.nan)
    assert (low, high) == pytest.approx((0.113318, 0.620015), abs=2e-6)
    agg = aggregate(SUITE4, interval="delta")
    assert agg.incoherence == pytest.approx(2.2 / 6)
    assert (agg.incoherence_low, agg.incoherence_high) == pytest.approx((low, high))
    assert agg.confidence == 0.95 and agg.interval_method == "delta"


def test_delta_interval_ignores_weight_scale_and_zero_weights() -> None:
    base = ratio_delta_interval(V4, E4, np.ones(4), 0.9)
    assert ratio_delta_interval(V4, E4, np.full(4, 3.0), 0.9) == pytest.approx(base)
    with_ghost = aggregate([*SUITE4, item(5.0, 0.0, weight=0.0)], confidence=0.9, interval="delta")
    assert (with_ghost.incoherence_low, with_ghost.incoherence_high) == pytest.approx(base)


def test_delta_interval_undefined_cases() -> None:
    assert ratio_delta_interval([0.5], [1.0], [1.0], 0.95) is None
    assert ratio_delta_interval([0.0, 0.0], [0.0, 0.0], [1.0, 1.0], 0.95) is None


def test_higher_confidence_gives_a_wider_interval() -> None:
    narrow = aggregate(SUITE4, confidence=0.8)
    wide = aggregate(SUITE4, confidence=0.99)
    assert narrow.incoherence_low is not None and narrow.incoherence_high is not None
    assert wide.incoherence_low is not None and wide.incoherence_high is not None
    assert wide.incoherence_low < narrow.incoherence_low
    assert wide.incoherence_high >= narrow.incoherence_high


# ----------------------------------------------------------------------------------------
# bootstrap


def _random_suite(seed: int, n: int = 40) -> list[ItemEstimate]:
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.2, 2.0, n)
    return [item(float(x), float(x * rng.uniform(0, 1)), name=str(i)) for i, x in enumerate(e)]


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    suite = _random_suite(1)
    a = aggregate(suite, interval="bootstrap", seed=42, n_resamples=500)
    b = aggregate(suite, interval="bootstrap", seed=42, n_resamples=500)
    c = aggregate(suite, interval="bootstrap", seed=43, n_resamples=500)
    assert a == b
    assert a.interval_method == "bootstrap"
    assert (a.incoherence_low, a.incoherence_high) != (c.incoherence_low, c.incoherence_high)
    assert a.incoherence_low is not None and a.incoherence_high is not None
    assert a.incoherence is not None
    assert a.incoherence_low < a.incoherence < a.incoherence_high


def test_bootstrap_falls_back_to_delta_on_degenerate_data() -> None:
    # every item has v = e / 2: each resample's ratio is exactly 1/2, BCa is undefined
    suite = [item(e, e / 2, name=str(i)) for i, e in enumerate([1.0, 2.0, 3.0, 4.0])]
    agg = aggregate(suite, interval="bootstrap", seed=0)
    assert agg.interval_method == "delta"
    assert (agg.incoherence_low, agg.incoherence_high) == pytest.approx((0.5, 0.5))
    identical = aggregate([item(1.0, 0.5, name=str(i)) for i in range(5)], interval="bootstrap")
    assert identical.interval_method == "delta"


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0.0}, "confidence"),
        ({"interval": "wald"}, "interval"),
        ({"n_resamples": 0}, "n_resamples"),
        ({"n_resamples": 10.5}, "n_resamples"),
    ],
)
def test_aggregate_option_errors(options: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        aggregate(SUITE4, **options)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------
# gates


def test_one_sided_mean_test_hand_computed() -> None:
    # x = 1..4: mean 2.5, sd sqrt(5/3) = 1.290994, SE 0.645497; symmetric and light-tailed
    # (G2 < 0), so the calibrated df is 2 * 3 / (0 + 2 * 4 / 20 + 2) = 2.5: t(0.95, 2.5) =
    # 2.558219 -> +/- 1.651323
    mean, low, high = one_sided_mean_test([1.0, 2.0, 3.0, 4.0], [1.0] * 4, 0.95)
    assert (mean, low, high) == pytest.approx((2.5, 0.848677, 4.151323), abs=2e-6)


@pytest.mark.parametrize(
    ("threshold", "verdict"), [(0.5, "fail"), (4.5, "pass"), (2.0, "inconclusive")]
)
def test_gate_mean_verdicts(threshold: float, verdict: str) -> None:
    decision = gate_mean([1.0, 2.0, 3.0, 4.0], [1.0] * 4, threshold, confidence=0.95)
    assert decision.verdict == verdict
    assert decision.statistic == pytest.approx(2.5 - threshold)
    assert (decision.low, decision.high) == pytest.approx(
        (0.848677 - threshold, 4.151323 - threshold), abs=2e-6
    )


def test_gate_incoherence_tests_v_minus_tau_e() -> None:
    # D_i = v_i - tau e_i; the same numbers through gate_mean with threshold 0
    tau = 0.3
    decision = gate_incoherence(SUITE4, tau, confidence=0.9)
    d = [v - tau * e for e, v in zip(E4, V4, strict=True)]
    reference = gate_mean(d, [1.0] * 4, 0.0, confidence=0.9)
    assert decision == reference
    assert gate_incoherence(SUITE4, 1.0, confidence=0.9).verdict == "pass"
    assert gate_incoherence(SUITE4, 0.0, confidence=0.9).verdict == "fail"


def test_gate_incoherence_ignores_variance_only_and_zero_weight_items() -> None:
    base = gate_incoherence(SUITE4, 0.3, confidence=0.9)
    extra = [*SUITE4, item(None, 9.0), item(7.0, 0.0, weight=0.0)]
    assert gate_incoherence(extra, 0.3, confidence=0.9) == base


def test_gate_cannot_decide_with_one_item_or_fail_without_errors() -> None:
    single = gate_incoherence([item(1.0, 0.9)], 0.1, confidence=0.95)
    assert single.verdict == "inconclusive"
    assert (single.low, single.high) == (-math.inf, math.inf)
    # no errors at all: incoherence undefined, the gate cannot fail on it
    no_errors = gate_incoherence([item(0.0, 0.0), item(0.0, 0.0)], 0.1, confidence=0.95)
    assert no_errors.verdict == "inconclusive"


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: gate_incoherence([item(None, 0.1)], 0.5, confidence=0.95), "target"),
        (lambda: gate_incoherence(SUITE4, 1.5, confidence=0.95), "max_incoherence"),
        (lambda: gate_incoherence(SUITE4, 0.5, confidence=1.5), "confidence"),
        (lambda: gate_mean([1.0, 2.0], [1.0], 0.5, confidence=0.95), "weights"),
        (lambda: gate_mean([1.0, 2.0], [1.0, -1.0], 0.5, confidence=0.95), "weights"),
        (lambda: gate_mean([1.0, math.nan], [1.0, 1.0], 0.5, confidence=0.95), "finite"),
        (lambda: gate_mean([1.0, 2.0], [0.0, 0.0], 0.5, confidence=0.95), "positive weight"),
        (lambda: gate_mean([1.0, 2.0], [1.0, 1.0], math.inf, confidence=0.95), "threshold"),
    ],
)
def test_gate_input_errors(call: object, pattern: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=pattern):
        call()
