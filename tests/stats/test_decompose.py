"""Per-item bias/variance split: known values, hand-computed cases and exact identities."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import (
    ItemEstimate,
    categorical_terms,
    distribution_kl_terms,
    estimate_item,
    numeric_terms,
)
from pytest_hotmess.stats.kinds import INVALID, Estimator
from pytest_hotmess.stats.outcomes import ESTIMATORS

# docs/statistics.md, 'Estimators': K = 30, counts of A, B, C, D = 12, 15, 3, 0, target A
WORKED_OUTCOMES = ["A"] * 12 + ["B"] * 15 + ["C"] * 3
ABCD = ["A", "B", "C", "D"]
NOTHING_TARGET = object()
"""Stands for "call estimate_item without a target" in the tables below."""


def split_of(est: ItemEstimate) -> tuple[float, float, float]:
    assert est.error is not None and est.bias is not None
    return est.error, est.bias, est.variance


def assert_builtin_json(value: Any, path: str = "$") -> None:
    """Recursively: only plain builtins, str keys, finite floats (None instead of NaN)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{path}: key {key!r} is {type(key)}"
            assert_builtin_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_builtin_json(item, f"{path}[{index}]")
    else:
        assert type(value) in (str, int, float, bool, type(None)), f"{path}: {type(value)}"
        if type(value) is float:
            assert math.isfinite(value), f"{path} is {value}"


# ----------------------------------------------------------------------------------------
# the known values of docs/statistics.md, 'Estimators'


def test_design_known_values_plugin_brier() -> None:
    est = estimate_item(WORKED_OUTCOMES, "A", estimator="plugin", labels=ABCD)
    assert est.error == pytest.approx(1.2, abs=5e-5)
    assert est.bias == pytest.approx(0.62, abs=5e-5)
    assert est.variance == pytest.approx(0.58, abs=5e-5)
    assert round(est.variance / split_of(est)[0], 4) == 0.4833
    assert est.counts == {"A": 12, "B": 15, "C": 3, "D": 0}


def test_design_known_values_unbiased_brier() -> None:
    est = estimate_item(WORKED_OUTCOMES, "A", labels=ABCD)
    assert est.estimator == "unbiased"
    assert est.bias == pytest.approx(0.6, abs=5e-5)
    assert est.variance == pytest.approx(0.6, abs=5e-5)
    assert round(est.variance / split_of(est)[0], 4) == 0.5


def test_design_known_values_kl_three_ways() -> None:
    """Counts core, estimate_item and the distribution core on one-hot samples agree."""
    e, b, v = categorical_terms([[12, 15, 3, 0]], [0], "plugin", loss="kl")
    est = estimate_item(WORKED_OUTCOMES, "A", loss="kl", estimator="plugin", labels=ABCD)
    one_hot = np.eye(4)[[0] * 12 + [1] * 15 + [2] * 3]
    de, db, dv = distribution_kl_terms(one_hot[None], np.eye(4)[[0]], "plugin")
    for error, bias, variance in ((float(e[0]), float(b[0]), float(v[0])), split_of(est)):
        assert round(error, 3) == 16.579
        assert round(bias, 3) == 2.824
        assert round(variance, 3) == 13.754
        assert round(variance / error, 4) == 0.8296
    assert (de[0], db[0], dv[0]) == pytest.approx((e[0], b[0], v[0]), rel=1e-9)


# ----------------------------------------------------------------------------------------
# hand-computed cases (derivations in comments)


def test_numeric_hand_computed() -> None:
    # x = 1, 2, 4; t = 3. xbar = 7/3; squared deviations sum to 42/9 = 14/3.
    # error = (4 + 1 + 1)/3 = 2; plug-in: variance 14/9, bias (7/3 - 3)^2 = 4/9.
    # unbiased: s^2 = 7/3, bias = 4/9 - (7/3)/3 = -1/3 (negative, kept per item).
    plug = estimate_item([1.0, 2.0, 4.0], 3.0, estimator="plugin")
    assert (plug.error, plug.bias, plug.variance) == pytest.approx((2.0, 4 / 9, 14 / 9))
    unb = estimate_item([1.0, 2.0, 4.0], 3.0)
    assert (unb.error, unb.bias, unb.variance) == pytest.approx((2.0, -1 / 3, 7 / 3))
    assert unb.outcomes == [1.0, 2.0, 4.0] and unb.target == 3.0


def test_vector_is_the_sum_over_coordinates() -> None:
    # coordinate 0: x = 1, 3, t = 2 -> error 1, plug-in variance 1, bias 0; s^2 = 2, bias -1.
    # coordinate 1: x = 2, 2, t = 2 -> all zero.
    plug = estimate_item([[1.0, 2.0], [3.0, 2.0]], [2.0, 2.0], estimator="plugin")
    assert (plug.error, plug.bias, plug.variance) == pytest.approx((1.0, 0.0, 1.0))
    unb = estimate_item([[1.0, 2.0], [3.0, 2.0]], [2.0, 2.0])
    assert (unb.error, unb.bias, unb.variance) == pytest.approx((1.0, -1.0, 2.0))


def test_binary_is_numeric_on_zero_one_with_target_true() -> None:
    # 1, 0, 1, 0 (invalid -> 0), t = 1: error 1/2; plug-in variance 1/4, bias 1/4;
    # unbiased variance 4/3 * 1/4 = 1/3, bias 1/4 - 1/12 = 1/6.
    plug = estimate_item([True, False, INVALID, True], estimator="plugin")
    assert (plug.error, plug.bias, plug.variance) == pytest.approx((0.5, 0.25, 0.25))
    unb = estimate_item([True, False, INVALID, True])
    assert (unb.error, unb.bias, unb.variance) == pytest.approx((0.5, 1 / 6, 1 / 3))
    # an explicit False target flips which outcome is right
    flipped = estimate_item([True, True, False], False, estimator="plugin")
    assert flipped.error == pytest.approx(2 / 3)


def test_coverage_is_the_mean_over_checks() -> None:
    # rows 11, 10 and an invalid run 00. check 1: x = 1,1,0 -> error 1/3, s^2 = 1/3,
    # bias (1/3)^2 - 1/9 = 0. check 2: x = 1,0,0 -> error 2/3, s^2 = 1/3, bias 4/9 - 1/9 = 1/3.
    # mean: error 1/2, variance 1/3, bias 1/6.
    est = estimate_item([[True, True], [True, False], INVALID])
    assert (est.error, est.bias, est.variance) == pytest.approx((0.5, 1 / 6, 1 / 3))


def test_distribution_brier_hand_computed() -> None:
    # f1 = (.5, .5), f2 = (1, 0), y = a: error = mean(0.5, 0) = 0.25; fbar = (.75, .25);
    # plug-in variance = mean(0.125, 0.125) = 0.125, bias = ||fbar - y||^2 = 0.125;
    # unbiased variance = 2 * 0.125 = 0.25, bias 0.
    samples = [{"a": 0.5, "b": 0.5}, {"a": 1.0}]
    plug = estimate_item(samples, "a", estimator="plugin")
    assert (plug.error, plug.bias, plug.variance) == pytest.approx((0.25, 0.125, 0.125))
    unb = estimate_item(samples, "a")
    assert (unb.error, unb.bias, unb.variance) == pytest.approx((0.25, 0.0, 0.25))
    assert unb.outcomes == [{"a": 0.5, "b": 0.5}, {"a": 1.0}]


def test_distribution_brier_soft_target() -> None:
    # t = (.2, .8): error = mean(.09 + .09, .64 + .64) = 0.73; plug-in bias
    # ||(.75, .25) - t||^2 = 2 * .55^2 = 0.605; plug-in variance 0.125.
    est = estimate_item(
        [[0.5, 0.5], [1.0, 0.0]], [0.2, 0.8], kind="distribution", estimator="plugin"
    )
    assert (est.error, est.bias, est.variance) == pytest.approx((0.73, 0.605, 0.125))
    assert est.target == [0.2, 0.8]
    mapped = estimate_item(
        [{"a": 0.5, "b": 0.5}, {"a": 1.0}], {"a": 0.2, "b": 0.8}, estimator="plugin"
    )
    assert (mapped.error, mapped.bias, mapped.variance) == pytest.approx((0.73, 0.605, 0.125))
    assert mapped.target == {"a": 0.2, "b": 0.8}


def test_distribution_kl_hand_computed() -> None:
    # f1 = (.8, .2), f2 = (.2, .8), y = 0. error = (-log .8 - log .2)/2; the log-mean is
    # log .4 in both classes, so fbar = (.5, .5), Z = .8: variance = -log .8, bias = log 2.
    # Jackknife (K = 2): a single sample has zero variance, so v = 2 * (-log .8), bias the rest.
    # Smoothing (1e-12) moves these by ~1e-12.
    samples = [[0.8, 0.2], [0.2, 0.8]]
    error = -(math.log(0.8) + math.log(0.2)) / 2
    plug = estimate_item(samples, 0, loss="kl", estimator="plugin")
    assert (plug.error, plug.bias, plug.variance) == pytest.approx(
        (error, math.log(2), -math.log(0.8)), abs=1e-9
    )
    jack = estimate_item(samples, 0, loss="kl", estimator="jackknife")
    assert (jack.error, jack.bias, jack.variance) == pytest.approx(
        (error, error + 2 * math.log(0.8), -2 * math.log(0.8)), abs=1e-9
    )
    # Bootstrap (K = 2): resamples (2,0), (1,1), (0,2) with chances 1/4, 1/2, 1/4; only (1,1)
    # has a variance, so E* = v/2 and the corrected variance is 2v - v/2 = 1.5 * (-log .8).
    boot = estimate_item(samples, 0, loss="kl", estimator="bootstrap")
    assert (boot.error, boot.variance) == pytest.approx((error, -1.5 * math.log(0.8)), abs=1e-9)
    assert estimate_item(samples, 0, loss="kl").variance == boot.variance  # unbiased = bootstrap


def test_kl_soft_target_is_mean_kl_from_target() -> None:
    # t = (.5, .5): KL(t || f) for f = (.8,.2) and (.2,.8) are equal: .5 log(.5/.8) + .5 log(.5/.2)
    # fbar = t, so bias = 0 and error = variance = -log .8.
    est = estimate_item([[0.8, 0.2], [0.2, 0.8]], [0.5, 0.5], loss="kl", estimator="plugin")
    expected = 0.5 * math.log(0.5 / 0.8) + 0.5 * math.log(0.5 / 0.2)
    assert est.error == pytest.approx(expected, abs=1e-9)
    assert est.bias == pytest.approx(0.0, abs=1e-9)
    assert expected == pytest.approx(-math.log(0.8))


def test_variance_only_item() -> None:
    est = estimate_item(["A", "B", "B"])
    assert (est.error, est.bias, est.has_target, est.target) == (None, None, False, None)
    assert est.variance == pytest.approx(3 / 2 * (1 - 1 / 9 - 4 / 9))
    numeric = estimate_item([1.0, 3.0])
    assert numeric.error is None and numeric.variance == pytest.approx(2.0)
    kl = estimate_item([[0.8, 0.2], [0.2, 0.8]], loss="kl", estimator="plugin")
    assert kl.error is None and kl.variance == pytest.approx(-math.log(0.8), abs=1e-9)


def test_always_right_has_exactly_zero_error_for_every_loss() -> None:
    cases: list[tuple[Sequence[object], object, dict[str, Any]]] = [
        (["A"] * 5, "A", {}),
        (["A"] * 5, "A", {"loss": "kl"}),
        ([{"a": 1.0}] * 3, "a", {"loss": "kl"}),
        ([[1.0, 0.0]] * 3, 0, {"loss": "kl"}),
        ([2.5] * 3, 2.5, {}),
        ([True] * 3, True, {}),
        ([[True, True]] * 3, NOTHING_TARGET, {}),
    ]
    for outcomes, target, options in cases:
        for estimator in ESTIMATORS:
            args = () if target is NOTHING_TARGET else (target,)
            est = estimate_item(outcomes, *args, estimator=estimator, **options)
            assert (est.error, est.bias, est.variance) == (0.0, 0.0, 0.0), (outcomes, options)


def test_to_dict_round_trips_field_names() -> None:
    est = estimate_item(["A", "B"], "A", weight=2)
    data = est.to_dict()
    assert set(data) == {f for f in ItemEstimate.__dataclass_fields__}
    assert ItemEstimate(**data) == est  # type: ignore[arg-type]
    assert ItemEstimate.from_dict(data) == est
    with pytest.raises(ValueError, match=r"missing \['outcomes'\].*unknown \['extra'\]"):
        ItemEstimate.from_dict({**{k: v for k, v in data.items() if k != "outcomes"}, "extra": 1})


# ----------------------------------------------------------------------------------------
# identities over every kind and estimator


def _random_items(
    rng: np.random.Generator,
) -> list[tuple[str, list[object], object, dict[str, Any]]]:
    k = 7
    labels = ["A", "B", "C"]
    probs = rng.dirichlet(np.ones(3), size=k)
    return [
        ("categorical", [labels[i] for i in rng.integers(0, 3, k)], "A", {}),
        ("categorical-kl", [labels[i] for i in rng.integers(0, 3, k)], "B", {"loss": "kl"}),
        ("numeric", list(rng.normal(2.0, 3.0, k)), 1.0, {}),
        ("binary", [bool(b) for b in rng.integers(0, 2, k)], True, {}),
        ("vector", [list(r) for r in rng.normal(0, 1, (k, 3))], [0.0, 1.0, 2.0], {}),
        (
            "coverage",
            [[bool(b) for b in r] for r in rng.integers(0, 2, (k, 4))],
            NOTHING_TARGET,
            {},
        ),
        ("distribution", [list(p) for p in probs], 2, {"kind": "distribution"}),
        ("distribution-soft", [list(p) for p in probs], [0.2, 0.3, 0.5], {"kind": "distribution"}),
        ("distribution-kl", [list(p) for p in probs], 1, {"loss": "kl"}),
        ("distribution-kl-soft", [list(p) for p in probs], [0.2, 0.3, 0.5], {"loss": "kl"}),
    ]


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("seed", range(3))
def test_error_is_bias_plus_variance(estimator: Estimator, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, outcomes, target, options in _random_items(rng):
        args = () if target is NOTHING_TARGET else (target,)
        est = estimate_item(outcomes, *args, estimator=estimator, **options)
        assert est.error is not None and est.bias is not None, name
        scale = abs(est.error) + abs(est.bias) + abs(est.variance)
        assert abs(est.error - (est.bias + est.variance)) <= 1e-12 * scale, name
        assert_builtin_json(est.to_dict())


def test_cores_satisfy_the_identity_on_many_items() -> None:
    rng = np.random.default_rng(7)
    counts = rng.multinomial(12, [0.5, 0.3, 0.2], size=500)
    for loss in ("brier", "kl"):
        for estimator in ESTIMATORS:
            e, b, v = categorical_terms(counts, np.zeros(500, dtype=int), estimator, loss=loss)
            assert np.allclose(e, b + v, rtol=1e-12, atol=1e-12)
    x = rng.normal(0, 10, (500, 6))
    for estimator in ESTIMATORS:
        e, b, v = numeric_terms(x, np.ones(500), estimator)
        assert np.allclose(e, b + v, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------
# estimators against their definitions


def _leave_one_out_variances(outcomes: list[object], target: object, **options: Any) -> list[float]:
    return [
        estimate_item(
            outcomes[:i] + outcomes[i + 1 :], target, estimator="plugin", **options
        ).variance
        for i in range(len(outcomes))
    ]


def _brute_jackknife(outcomes: list[object], target: object, **options: Any) -> float:
    k = len(outcomes)
    plug = estimate_item(outcomes, target, estimator="plugin", **options).variance
    return k * plug - (k - 1) * float(
        np.mean(_leave_one_out_variances(outcomes, target, **options))
    )


@pytest.mark.parametrize("seed", range(3))
def test_jackknife_equals_unbiased_for_brier_and_squared(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = ["A", "B", "C"]
    probs = [list(p) for p in rng.dirichlet(np.ones(3), size=6)]
    cases: list[tuple[list[object], object, dict[str, Any]]] = [
        ([labels[i] for i in rng.integers(0, 3, 8)], "A", {"labels": labels}),
        (list(rng.normal(0, 2, 6)), 0.5, {}),
        ([list(r) for r in rng.normal(0, 1, (5, 3))], [0.0, 0.0, 0.0], {}),
        (probs, 1, {"kind": "distribution"}),  # type: ignore[list-item]
    ]
    for outcomes, target, options in cases:
        jack = estimate_item(outcomes, target, estimator="jackknife", **options)
        unb = estimate_item(outcomes, target, estimator="unbiased", **options)
        assert jack.variance == pytest.approx(unb.variance, rel=1e-12)
        assert jack.variance == pytest.approx(
            _brute_jackknife(outcomes, target, **options), rel=1e-9
        )


@pytest.mark.parametrize("seed", range(3))
def test_kl_jackknife_matches_brute_force_leave_one_out(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = ["A", "B", "C", "D"]
    answers: list[object] = [labels[i] for i in rng.choice(4, 9, p=[0.5, 0.3, 0.15, 0.05])]
    jack = estimate_item(answers, "A", loss="kl", estimator="jackknife", labels=labels)
    brute = _brute_jackknife(answers, "A", loss="kl", labels=labels)
    assert jack.variance == pytest.approx(brute, rel=1e-9)
    probs: list[object] = [list(p) for p in rng.dirichlet(np.ones(3), size=5)]
    jack = estimate_item(probs, 0, loss="kl", estimator="jackknife")
    assert jack.variance == pytest.approx(_brute_jackknife(probs, 0, loss="kl"), rel=1e-9)


def test_categorical_kl_core_matches_distribution_core_on_one_hot_samples() -> None:
    rng = np.random.default_rng(11)
    for k in (2, 3, 10, 30):
        answers = rng.choice(4, size=(50, k), p=[0.7, 0.2, 0.1, 0.0])
        answers[:5] = 0  # unanimous rows
        counts = np.stack([np.bincount(row, minlength=4) for row in answers])
        one_hot = np.eye(4)[answers]
        targets = np.zeros(50, dtype=int)
        for estimator in ESTIMATORS:
            got = categorical_terms(counts, targets, estimator, loss="kl")
            want = distribution_kl_terms(one_hot, np.eye(4)[targets], estimator)
            for g, w in zip(got, want, strict=True):
                assert np.allclose(g, w, rtol=1e-9, atol=1e-9)


def test_unbiased_incoherence_is_k_over_k_minus_1_times_plugin() -> None:
    rng = np.random.default_rng(3)
    k = 6
    rows = [[str(a) for a in rng.integers(0, 3, k)] for _ in range(40)]
    unb = aggregate([estimate_item(r, "0", item_id=str(i)) for i, r in enumerate(rows)])
    plug = aggregate(
        [estimate_item(r, "0", item_id=str(i), estimator="plugin") for i, r in enumerate(rows)]
    )
    assert unb.incoherence is not None and plug.incoherence is not None
    assert unb.incoherence == pytest.approx(k / (k - 1) * plug.incoherence, rel=1e-12)


# ----------------------------------------------------------------------------------------
# vectorised cores


def test_categorical_core_rows_may_have_different_k() -> None:
    e, b, v = categorical_terms([[1, 1], [3, 0], [2, 1]], [0, 0, 1], "unbiased")
    # row 0: K=2, p=(.5,.5): error 1, variance 2(1 - .5) = 1. row 1: all right: 0, 0.
    # row 2: K=3, target 1, p_y = 1/3: error 4/3, variance 3/2 (1 - 4/9 - 1/9) = 2/3.
    assert e == pytest.approx([1.0, 0.0, 4 / 3])
    assert v == pytest.approx([1.0, 0.0, 2 / 3])
    assert b == pytest.approx([0.0, 0.0, 2 / 3])


def test_cores_mark_missing_targets_with_nan() -> None:
    e, b, v = categorical_terms([[1, 1]], [-1])
    assert math.isnan(e[0]) and math.isnan(b[0]) and v[0] == pytest.approx(1.0)
    e, b, v = numeric_terms([[1.0, 3.0]], [math.nan])
    assert math.isnan(e[0]) and v[0] == pytest.approx(2.0)


def test_cores_match_estimate_item_item_by_item() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (20, 5))
    t = rng.normal(0, 1, 20)
    e, b, v = numeric_terms(x, t)
    for i in range(20):
        est = estimate_item(list(x[i]), float(t[i]))
        assert (est.error, est.bias, est.variance) == pytest.approx((e[i], b[i], v[i]), rel=1e-12)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: categorical_terms([[1, 0]], [0]), r"K >= 2"),
        (lambda: categorical_terms([1, 1], [0]), r"shape \(N, C\)"),
        (lambda: categorical_terms([[1.5, 1]], [0]), r"integers"),
        (lambda: categorical_terms([[1, 1]], [2]), r"outside"),
        (lambda: categorical_terms([[1, 1]], [0], "mle"), r"unknown estimator"),  # type: ignore[arg-type]
        (lambda: categorical_terms([[1, 1]], [0], loss="squared"), r"does not fit"),
        (lambda: numeric_terms([[1.0]], [0.0]), r"K >= 2"),
        (lambda: numeric_terms([1.0, 2.0], [0.0]), r"shape \(N, K\)"),
        (lambda: numeric_terms([[1.0, 2.0]], [0.0, 1.0]), r"targets must have shape"),
        (lambda: distribution_kl_terms([[[1.0]]], [[1.0]]), r"K >= 2"),
        (lambda: distribution_kl_terms([[1.0]], [[1.0]]), r"shape \(N, K, C\)"),
    ],
)
def test_core_input_errors(call: Any, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        call()


def test_cores_are_vectorised_at_benchmark_scale() -> None:
    """100,000 items x 30 samples go through in one call each (no per-item Python work)."""
    rng = np.random.default_rng(0)
    counts = rng.multinomial(30, [0.4, 0.3, 0.2, 0.1], size=100_000)
    for loss in ("brier", "kl"):
        e, b, v = categorical_terms(counts, np.zeros(100_000, dtype=int), "unbiased", loss=loss)
        assert e.shape == b.shape == v.shape == (100_000,)
        assert np.all(np.isfinite(e))
    e, b, v = numeric_terms(rng.normal(size=(100_000, 30)), np.zeros(100_000))
    assert v.mean() == pytest.approx(1.0, abs=0.01)  # SE of the mean of s^2 ~ sqrt(2/29)/316
