"""Incoherence against length: covariate choice, buckets, the slope, the overthinking split."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from pytest_hotmess.sampling.resampler import ItemResult
from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import categorical_terms, estimate_item
from pytest_hotmess.stats.kinds import INVALID, NOTHING
from pytest_hotmess.stats.length import (
    ItemInput,
    choose_length_covariate,
    incoherence_slope,
    items_from_record,
    items_from_results,
    length_analysis,
)


def _item(
    item_id: str,
    error: float | None,
    variance: float | None,
    lengths: Sequence[float | None],
    name: str = "output_tokens",
    weight: float = 1.0,
) -> ItemInput:
    rows = tuple({name: x} if x is not None else {} for x in lengths)
    return ItemInput(item_id, error, variance, rows, weight=weight)


# ----------------------------------------------------------------------------------------
# the covariate


def test_reasoning_tokens_are_preferred_when_any_sample_reports_them() -> None:
    rows = ({"output_tokens": 50, "reasoning_tokens": 0}, {"output_tokens": 60})
    silent = ItemInput("a", 1.0, 0.5, rows)
    thinking = ItemInput("b", 1.0, 0.5, ({"output_tokens": 5, "reasoning_tokens": 900},))
    assert choose_length_covariate([silent]) == "output_tokens"
    assert choose_length_covariate([silent, thinking]) == "reasoning_tokens"
    assert choose_length_covariate([silent], "latency_s") == "latency_s"
    assert choose_length_covariate([ItemInput("c", 1.0, 0.5, ({"latency_s": 1.0},))]) is None
    with pytest.raises(ValueError, match="covariate"):
        choose_length_covariate([silent], "")


def test_without_any_length_the_analysis_says_so() -> None:
    result = length_analysis([ItemInput("a", 1.0, 0.5, ({}, {}))])
    assert result.covariate is None
    assert "no sample reports a length" in result.note
    assert result.buckets == [] and result.slope is None


def test_items_without_length_target_or_estimate_are_listed_not_dropped() -> None:
    items = [
        _item("ok1", 1.0, 0.5, [100, 200]),
        _item("ok2", 1.0, 0.2, [300, None]),
        _item("ok3", 0.5, 0.1, [30, 30]),
        _item("nolength", 1.0, 0.5, [None, None]),
        _item("zero", 1.0, 0.5, [0, 0]),
        _item("notarget", None, 0.5, [100, 100]),
        _item("unestimated", None, None, [100, 100]),
    ]
    result = length_analysis(items, buckets=2)
    assert result.items == 7 and result.items_used == 3
    assert result.items_without_length == ["nolength", "zero"]
    assert result.items_without_target == ["notarget"]
    assert result.items_unestimated == ["unestimated"]
    # mean lengths: ok1 150, ok2 300 (the missing sample is ignored), ok3 30
    assert [b.items for b in result.buckets] == [2, 1]
    assert result.buckets[0].length_min == 30.0
    assert result.buckets[0].length_max == 150.0
    assert result.buckets[1].length_min == 300.0


# ----------------------------------------------------------------------------------------
# buckets


def test_buckets_are_equal_size_ratio_of_sums_with_the_engines_interval() -> None:
    rng = np.random.default_rng(0)
    estimates = [
        estimate_item(
            list(rng.choice(list("ABC"), size=8, p=[0.5, 0.3, 0.2])), "A", item_id=f"q{i}"
        )
        for i in range(10)
    ]
    lengths = [float(x) for x in rng.permutation(np.arange(1, 11) * 100.0)]
    items = [
        ItemInput(e.id, e.error, e.variance, ({"output_tokens": x},) * 8)
        for e, x in zip(estimates, lengths, strict=True)
    ]
    result = length_analysis(items, buckets=4, confidence=0.9)
    order = np.argsort(lengths)
    assert [b.items for b in result.buckets] == [3, 3, 2, 2]
    start = 0
    for bucket in result.buckets:
        members = [estimates[i] for i in order[start : start + bucket.items]]
        start += bucket.items
        reference = aggregate(members, confidence=0.9, interval="delta")
        assert bucket.incoherence == pytest.approx(reference.incoherence, abs=1e-12)
        assert bucket.low == pytest.approx(reference.incoherence_low, abs=1e-12)
        assert bucket.high == pytest.approx(reference.incoherence_high, abs=1e-12)
        assert bucket.error == pytest.approx(reference.error, abs=1e-12)
        member_lengths = sorted(lengths)[start - bucket.items : start]
        assert bucket.length == pytest.approx(math.exp(np.mean(np.log(member_lengths))))


def test_fewer_items_than_buckets_gives_one_bucket_per_item() -> None:
    items = [_item("a", 1.0, 0.5, [10]), _item("b", 1.0, 0.2, [20])]
    result = length_analysis(items, buckets=4)
    assert [b.incoherence for b in result.buckets] == [0.5, 0.2]
    assert result.buckets[0].low is None  # one item: no interval


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"buckets": 0}, "buckets"), ({"confidence": 0}, "confidence")]
)
def test_bad_arguments_raise(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        length_analysis([_item("a", 1.0, 0.5, [10])], **kwargs)


# ----------------------------------------------------------------------------------------
# the slope


def test_slope_recovers_an_exact_linear_incoherence_in_log_length() -> None:
    lengths = np.array([100.0, 200.0, 400.0, 800.0, 1600.0])
    errors = np.array([1.0, 0.5, 2.0, 1.5, 1.0])
    x = np.log(lengths)
    incoherence = 0.2 + 0.05 * (x - x[0])  # +0.05 per e-fold
    result = incoherence_slope(incoherence * errors, errors, np.ones(5), lengths)
    assert result.slope == pytest.approx(0.05 * math.log(2), abs=1e-12)
    assert result.low == pytest.approx(result.slope, abs=1e-9)  # no residual
    assert result.high == pytest.approx(result.slope, abs=1e-9)
    centre = float(np.sum(errors * x) / errors.sum())
    assert result.centre_length == pytest.approx(math.exp(centre))
    assert result.incoherence_at_centre == pytest.approx(
        float(np.sum(incoherence * errors) / errors.sum())
    )


def test_slope_interval_is_the_hc1_sandwich_of_weighted_least_squares() -> None:
    # Independent matrix form: WLS of y = v/e on X = [1, log L] with weights a = w e;
    # cov = (X'AX)^-1 X' diag((a r)^2) X (X'AX)^-1 * n / (n - 2); t quantile, n - 2 df.
    rng = np.random.default_rng(1)
    n = 40
    lengths = np.exp(rng.uniform(3, 9, n))
    e = rng.uniform(0.2, 2.0, n)
    v = e * np.clip(0.3 + 0.02 * np.log(lengths) + rng.normal(0, 0.1, n), 0, 1)
    w = rng.uniform(0.5, 2.0, n)
    result = incoherence_slope(v, e, w, lengths, confidence=0.9)
    design = np.column_stack([np.ones(n), np.log(lengths)])
    a = w * e
    bread = np.linalg.inv(design.T @ (a[:, None] * design))
    beta = bread @ design.T @ (a * v / e)
    residual = v / e - design @ beta
    meat = design.T @ (((a * residual) ** 2)[:, None] * design)
    cov = bread @ meat @ bread * n / (n - 2)
    se = math.sqrt(cov[1, 1])
    q = stats.t.ppf(0.95, n - 2)
    per_doubling = math.log(2)
    assert result.slope == pytest.approx(beta[1] * per_doubling, abs=1e-12)
    assert result.low == pytest.approx((beta[1] - q * se) * per_doubling, abs=1e-12)
    assert result.high == pytest.approx((beta[1] + q * se) * per_doubling, abs=1e-12)
    assert result.df == n - 2


@pytest.mark.parametrize(
    ("v", "e", "lengths", "note"),
    [
        ([0.1, 0.2], [1.0, 1.0], [10, 20], "at least 3 items"),
        ([0.1, 0.2, 0.3], [1.0, 1.0, 1.0], [10, 10, 10], "lengths differ"),
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [10, 20, 30], "no error"),
    ],
)
def test_slope_is_undefined_without_enough_information(
    v: list[float], e: list[float], lengths: list[float], note: str
) -> None:
    result = incoherence_slope(v, e, np.ones(len(v)), lengths)
    assert result.slope is None and result.low is None
    assert note in result.note


def test_slope_rejects_bad_lengths() -> None:
    with pytest.raises(ValueError, match="positive"):
        incoherence_slope([0.1, 0.2, 0.3], [1, 1, 1], [1, 1, 1], [10, 0, 30])
    with pytest.raises(ValueError, match="equal length"):
        incoherence_slope([0.1, 0.2], [1, 1, 1], [1, 1, 1], [10, 20, 30])


# ----------------------------------------------------------------------------------------
# simulated answerers
#
# Multiple choice A-D, K = 10, N = 100 items with log-uniform mean lengths over 100..10,000
# tokens (each sample's length scatters around the item's by a log-normal factor). Each item
# has a mode answer (right with probability 0.4, else B); a sample answers the mode with
# probability c and uniformly at random otherwise. Small c means scattered answers, i.e.
# variance. "Rising": c falls from 0.9 to 0.2 as the item's log length grows; "flat": c is
# drawn independently of length.

_N, _K = 100, 10


def _answer_probabilities(rng: np.random.Generator, consistency: Any) -> NDArray[np.float64]:
    n = consistency.shape[0]
    mode = np.where(rng.random(n) < 0.4, 0, 1)
    p = np.tile(((1.0 - consistency) / 4.0)[:, None], (1, 4))
    p[np.arange(n), mode] += consistency
    return p


def _length_suite(seed: int, rising: bool) -> list[ItemInput]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(math.log(100), math.log(10_000), _N)
    share = (x - math.log(100)) / math.log(100) if rising else rng.uniform(0, 1, _N)
    p = _answer_probabilities(rng, 0.9 - 0.7 * share)
    counts = np.stack([rng.multinomial(_K, row) for row in p])
    error, _, variance = categorical_terms(counts, np.zeros(_N, dtype=np.int64))
    lengths = np.exp(x)[:, None] * rng.lognormal(0.0, 0.3, (_N, _K))
    return [
        ItemInput(
            f"q{i}",
            float(error[i]),
            float(variance[i]),
            tuple({"reasoning_tokens": float(t)} for t in lengths[i]),
        )
        for i in range(_N)
    ]


def test_rising_variance_shows_in_the_buckets_and_the_slope() -> None:
    # Required: the slope interval excludes 0 (and is positive) in >= 90% of 200 seeds, and
    # the first bucket's interval lies wholly below the last one's in >= 90%. Measured on
    # 1,000 other seeds: 99.7% and 97.4%, well clear of the bounds at this noise (SE ~1%).
    seeds, positive, separated = 200, 0, 0
    for seed in range(seeds):
        result = length_analysis(_length_suite(seed, rising=True))
        assert result.covariate == "reasoning_tokens"
        positive += result.slope.low > 0
        first, last = result.buckets[0], result.buckets[-1]
        separated += first.high < last.low
    assert positive / seeds >= 0.90
    assert separated / seeds >= 0.90


def test_flat_variance_gives_a_slope_interval_covering_zero() -> None:
    # The 95% interval should cover the true slope 0 in 95% of suites. Over S = 200 seeds the
    # coverage has binomial SE sqrt(0.95 * 0.05 / S) = 0.0154; require 0.95 - 3 SE = 0.904.
    # (Measured on 1,000 other seeds: 0.947.)
    seeds = 200
    covered = sum(
        (s := length_analysis(_length_suite(10_000 + seed, rising=False)).slope).low
        <= 0.0
        <= s.high
        for seed in range(seeds)
    )
    assert covered / seeds >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / seeds)


# ----------------------------------------------------------------------------------------
# the overthinking split


def test_overthinking_split_re_estimates_each_half_as_its_own_item() -> None:
    outcomes = ("A", "A", "A", "B", "C", "A", "B", "D")
    lengths = (10, 20, 30, 40, 50, 60, 70, 80)  # median 45: first four short, last four long
    item = ItemInput(
        "q",
        1.0,
        0.5,
        tuple({"output_tokens": x} for x in lengths),
        outcomes=outcomes,
        target="A",
    )
    other = ItemInput(
        "r",
        1.0,
        0.5,
        tuple({"output_tokens": x} for x in (5, 5, 9, 9)),
        outcomes=("B", "B", "A", "C"),
        target="A",
    )
    split = length_analysis([item, other]).overthinking
    short = [estimate_item(["A", "A", "A", "B"], "A"), estimate_item(["B", "B"], "A")]
    long = [estimate_item(["C", "A", "B", "D"], "A"), estimate_item(["A", "C"], "A")]
    assert split.items == 2
    for side, halves in (("short", short), ("long", long)):
        e = sum(h.error for h in halves if h.error is not None)
        v = sum(h.variance for h in halves)
        assert getattr(split, side).incoherence == pytest.approx(v / e)
    assert split.change.change == pytest.approx(split.long.incoherence - split.short.incoherence)


def test_items_that_cannot_be_split_are_listed_with_a_reason() -> None:
    same = ItemInput(
        "same", 1.0, 0.5, ({"output_tokens": 7},) * 4, outcomes=("A", "B", "A", "B"), target="A"
    )
    numeric_invalid = ItemInput(
        "numeric",
        1.0,
        0.5,
        tuple({"output_tokens": x} for x in (1, 2, 3, 4)),
        outcomes=(1.0, INVALID, 2.0, 3.0),
        target=2.0,
        kind="numeric",
    )
    counts_only = ItemInput("counts", 1.0, 0.5, ({"output_tokens": 7},) * 4)
    split = length_analysis([same, numeric_invalid, counts_only]).overthinking
    assert split.items == 0 and split.change is None
    assert split.items_without_outcomes == ["counts"]
    reasons = {s.id: s.reason for s in split.items_skipped}
    assert "fewer than 2 samples" in reasons["same"]
    assert "cannot be estimated" in reasons["numeric"]  # one valid sample in the short half


def _overthinking_suite(seed: int, rising: bool) -> list[ItemInput]:
    """Samples longer than their item's typical length answer more at random (if rising)."""
    rng = np.random.default_rng(seed)
    typical = np.exp(rng.uniform(math.log(100), math.log(10_000), _N))
    items = []
    for i in range(_N):
        mode = 0 if rng.random() < 0.4 else 1
        lengths = typical[i] * rng.lognormal(0.0, 0.5, _K)
        consistency = np.where(lengths < typical[i], 0.9, 0.3) if rising else np.full(_K, 0.6)
        answers = np.where(rng.random(_K) < consistency, mode, rng.integers(0, 4, _K))
        items.append(
            ItemInput(
                f"q{i}",
                1.0,
                0.5,
                tuple({"reasoning_tokens": float(t)} for t in lengths),
                outcomes=tuple("ABCD"[a] for a in answers),
                target="A",
            )
        )
    return items


def test_overthinking_split_finds_long_samples_more_incoherent() -> None:
    # Required in >= 90% of 40 seeds (measured 100% of 200): the change long - short is
    # positive with its interval above 0.
    seeds = 40
    found = sum(
        length_analysis(_overthinking_suite(seed, True)).overthinking.change.low > 0
        for seed in range(seeds)
    )
    assert found / seeds >= 0.90


def test_overthinking_split_covers_zero_when_length_does_not_matter() -> None:
    # Coverage of the true change 0 by the 95% interval over S = 60 seeds: binomial SE
    # sqrt(0.95 * 0.05 / 60) = 0.028; require 0.95 - 3 SE = 0.866 (measured 0.955 on 200).
    seeds = 60
    covered = 0
    for seed in range(seeds):
        change = length_analysis(_overthinking_suite(20_000 + seed, False)).overthinking
        covered += change.change.low <= 0.0 <= change.change.high
    assert covered / seeds >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / seeds)


# ----------------------------------------------------------------------------------------
# inputs from results and from JSON records


def test_items_from_results_keep_outcomes_next_to_covariates() -> None:
    outcomes = ("A", INVALID, "B", "A")
    rows = tuple({"output_tokens": x, "latency_s": 0.1} for x in (10, 20, 30, 40))
    result = ItemResult("q1", "A", outcomes, rows, estimate_item(list(outcomes), "A", item_id="q1"))
    broken = ItemResult("q2", "A", ("A",), ({"output_tokens": 5},), None)
    first, second = items_from_results([result, broken])
    assert first.outcomes == outcomes and first.covariates == rows
    assert first.kind == "categorical" and first.target == "A" and first.error is not None
    assert second.variance is None
    analysis = length_analysis([first, second])
    assert analysis.items_unestimated == ["q2"]
    assert analysis.overthinking.items == 1  # <invalid> is a wrong answer of its own


def test_items_from_a_json_record_keep_outcomes_only_where_the_order_survives() -> None:
    numeric = estimate_item([1.0, 2.0, 4.0, 3.0], 2.5, item_id="n").to_dict()
    numeric["covariates"] = [{"output_tokens": x} for x in (10, 20, 30, 40)]
    categorical = estimate_item(["A", "B", "A"], "A", item_id="c").to_dict()
    categorical["covariates"] = [{"output_tokens": x} for x in (10, 20, 30)]
    gappy = estimate_item([1.0, INVALID, 2.0, 4.0], 2.0, item_id="g").to_dict()
    gappy["covariates"] = [{"output_tokens": x} for x in (10, 20, 30, 40)]
    no_target = estimate_item([1.0, 2.0], item_id="t").to_dict()
    n, c, g, t = items_from_record({"items": [numeric, categorical, gappy, no_target]})
    assert n.outcomes == (1.0, 2.0, 4.0, 3.0) and n.target == 2.5 and n.kind == "numeric"
    assert c.outcomes is None  # counts only
    assert g.outcomes is None  # the invalid sample is not in the list: order lost
    assert t.target is NOTHING and t.error is None
    split = length_analysis([n, c, g, t]).overthinking
    assert split.items == 1 and split.items_without_outcomes == ["c", "g"]
    assert split.short.error == pytest.approx(estimate_item([1.0, 2.0], 2.5).error)


def test_analysis_holds_builtins_without_nan() -> None:
    result = length_analysis([*_overthinking_suite(3, True)[:12], _item("x", None, None, [1])])

    def check(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)
        else:
            assert value is None or type(value) in (str, int, float, bool), type(value)

    check(dataclasses.asdict(result))
    json.dumps(dataclasses.asdict(result), allow_nan=False)
