"""Difficulty buckets: the label and tertile rules (ties included), per-bucket figures against
hand-computed decompositions, and the slope of incoherence over bucket rank."""

from __future__ import annotations

import math

import pytest

from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import ItemEstimate, estimate_item
from pytest_hotmess.stats.difficulty import (
    BUCKETS,
    DifficultyError,
    assign_buckets,
    bucket_figures,
    check_difficulty,
    difficulty_slope,
)
from pytest_hotmess.stats.length import incoherence_slope


def test_the_buckets_are_easy_medium_hard_in_that_order() -> None:
    assert BUCKETS == ("easy", "medium", "hard")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("easy", "easy"), ("Hard", "hard"), (" MEDIUM ", "medium"), (3, 3.0), (0.25, 0.25)],
)
def test_labels_are_their_own_bucket_and_numbers_stay_numbers(
    value: object, expected: object
) -> None:
    assert check_difficulty("q1", value) == expected


@pytest.mark.parametrize("value", ["tricky", "", "0.5", True, None, [1], math.nan, math.inf])
def test_a_bad_difficulty_names_the_item_and_the_value(value: object) -> None:
    with pytest.raises(DifficultyError) as caught:
        check_difficulty("q7", value)
    assert "'q7'" in str(caught.value)
    assert repr(value) in str(caught.value)


def test_labels_map_to_themselves() -> None:
    assert assign_buckets({"a": "EASY", "b": "hard", "c": "Medium"}) == {
        "a": "easy",
        "b": "hard",
        "c": "medium",
    }


@pytest.mark.parametrize(
    ("n", "sizes"),
    # rank r of n goes to floor(3 (r - 1/2) / n): symmetric sizes
    [(1, (0, 1, 0)), (2, (1, 0, 1)), (3, (1, 1, 1)), (4, (1, 2, 1)), (5, (2, 1, 2)),
     (6, (2, 2, 2)), (7, (2, 3, 2)), (9, (3, 3, 3)), (10, (3, 4, 3))],
)  # fmt: skip
def test_numbers_without_ties_go_by_tertiles_of_rank(n: int, sizes: tuple[int, ...]) -> None:
    values = {f"i{k}": float(10 * n - k) for k in range(n)}  # descending: order must not matter
    buckets = assign_buckets(values)
    assert tuple(list(buckets.values()).count(b) for b in BUCKETS) == sizes
    # and the buckets follow the values: every easy item is below every medium one, and so on
    order = sorted(values, key=values.__getitem__)
    assert [BUCKETS.index(buckets[i]) for i in order] == sorted(
        BUCKETS.index(buckets[i]) for i in order
    )


def test_ties_share_their_average_rank_and_so_their_bucket() -> None:
    # ranks: 1,1,1 -> average 2 -> floor(3 * 1.5 / 6) = 0; 2 -> rank 4 -> floor(1.75) = 1;
    # 3,3 -> average 5.5 -> floor(3 * 5 / 6) = 2
    values = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 3, "f": 3}
    assert assign_buckets(values) == {
        "a": "easy", "b": "easy", "c": "easy", "d": "medium", "e": "hard", "f": "hard",
    }  # fmt: skip
    # a tie across a tertile boundary goes wholly to the bucket of its average rank:
    # 0 -> rank 1 -> easy; 5 x4 -> average 3.5 -> floor(3 * 3 / 6) = 1; 9 -> rank 6 -> hard
    values = {"a": 0, "b": 5, "c": 5, "d": 5, "e": 5, "f": 9}
    assert assign_buckets(values) == {
        "a": "easy", "b": "medium", "c": "medium", "d": "medium", "e": "medium", "f": "hard",
    }  # fmt: skip


def test_equal_numbers_are_all_medium() -> None:
    assert set(assign_buckets({f"i{k}": 0.3 for k in range(7)}).values()) == {"medium"}


def test_labels_and_numbers_do_not_mix() -> None:
    with pytest.raises(DifficultyError, match=r"mix labels \(item 'a': 'easy'\) and numbers"):
        assign_buckets({"a": "easy", "b": 0.4})


def test_no_items_no_buckets() -> None:
    assert assign_buckets({}) == {}


def _item(item_id: str, outcomes: str, target: str = "A") -> ItemEstimate:
    return estimate_item(list(outcomes), target, item_id=item_id, kind="categorical")


# One-hot Brier, unbiased: error = 2 (1 - p_target); variance = the chance that two distinct
# samples differ = 1 - sum n_c (n_c - 1) / (K (K - 1)); bias = error - variance. With K = 4:
#   AAAA: e 0,   v 0              AAAB: e 1/2, v 1 - 6/12 = 1/2
#   AABB: e 1,   v 1 - 4/12 = 2/3 ABBB: e 3/2, v 1/2
#   BBBB: e 2,   v 0              BBCC: e 2,   v 2/3
ITEMS = [
    _item("e1", "AAAA"),
    _item("e2", "AAAB"),
    _item("m1", "AABB"),
    _item("m2", "ABBB"),
    _item("h1", "BBBB"),
    _item("h2", "BBCC"),
]
BUCKET_OF = {"e1": "easy", "e2": "easy", "m1": "medium", "m2": "medium", "h1": "hard", "h2": "hard"}


def test_the_hand_computed_items_are_what_the_estimator_gives() -> None:
    got = {i.id: (i.error, i.variance) for i in ITEMS}
    want = {
        "e1": (0, 0), "e2": (1 / 2, 1 / 2), "m1": (1, 2 / 3), "m2": (3 / 2, 1 / 2),
        "h1": (2, 0), "h2": (2, 2 / 3),
    }  # fmt: skip
    for item_id, (error, variance) in want.items():
        assert got[item_id] == pytest.approx((error, variance), abs=1e-12)


def test_each_bucket_has_its_hand_computed_decomposition() -> None:
    figures = bucket_figures(ITEMS, BUCKET_OF, confidence=0.95)
    assert [f.bucket for f in figures] == ["easy", "medium", "hard"]
    # easy: error (0 + 1/2) / 2 = 1/4, variance 1/4, bias 0, incoherence (1/2) / (1/2) = 1
    # medium: error 5/4, variance (2/3 + 1/2) / 2 = 7/12, bias 2/3, incoherence 7/15
    # hard: error 2, variance 1/3, bias 5/3, incoherence (2/3) / 4 = 1/6
    want = {
        "easy": (1 / 4, 0.0, 1 / 4, 1.0),
        "medium": (5 / 4, 2 / 3, 7 / 12, 7 / 15),
        "hard": (2.0, 5 / 3, 1 / 3, 1 / 6),
    }
    for figure in figures:
        error, bias, variance, incoherence = want[figure.bucket]
        assert figure.items == figure.targeted_items == 2
        assert figure.error == pytest.approx(error, abs=1e-12)
        assert figure.bias == pytest.approx(bias, abs=1e-12)
        assert figure.variance == pytest.approx(variance, abs=1e-12)
        assert figure.incoherence == pytest.approx(incoherence, abs=1e-12)
        assert figure.difficulty_min is figure.difficulty_max is None  # no numbers given


def test_a_buckets_interval_is_the_test_aggregates_over_its_items() -> None:
    """The same machinery (and default method) as the test's own interval."""
    more = [_item(f"x{k}", outcomes) for k, outcomes in enumerate(["AABC", "ABCD", "AAAB", "BBBA"])]
    items = ITEMS + more
    buckets = {**BUCKET_OF, **{i.id: "medium" for i in more}}
    figures = {f.bucket: f for f in bucket_figures(items, buckets, confidence=0.9)}
    medium = [i for i in items if buckets[i.id] == "medium"]
    agg = aggregate(medium, confidence=0.9)
    assert agg.interval_method == "hall"
    got = figures["medium"]
    assert (got.incoherence_low, got.incoherence_high) == (
        agg.incoherence_low,
        agg.incoherence_high,
    )
    assert got.interval_method == "hall"
    assert got.incoherence_low is not None and got.incoherence_high is not None
    assert got.incoherence_low < got.incoherence < got.incoherence_high  # type: ignore[operator]


def test_an_empty_bucket_has_no_figures_and_numbers_give_each_bucket_its_range() -> None:
    buckets = {"e1": "easy", "e2": "easy", "h1": "hard", "h2": "hard"}
    numbers = {"e1": 0.1, "e2": 0.2, "h1": 0.8, "h2": 0.9}
    figures = bucket_figures(ITEMS, buckets, confidence=0.95, difficulties=numbers)
    easy, medium, hard = figures
    assert medium.items == 0 and medium.error is None and medium.incoherence is None
    assert (easy.difficulty_min, easy.difficulty_max) == (0.1, 0.2)
    assert (hard.difficulty_min, hard.difficulty_max) == (0.8, 0.9)
    assert bucket_figures(ITEMS, {}, confidence=0.95)[0].items == 0  # items without a bucket


def test_the_slope_per_bucket_step_is_the_hand_computed_fit() -> None:
    # x = 0,0,1,1,2,2; e = 0,1/2,1,3/2,2,2 (sum 7); v = 0,1/2,2/3,1/2,0,2/3 (sum 7/3)
    # x0 = sum e x / sum e = 10.5 / 7 = 1.5; spread = sum e (x - x0)^2 = 2.75
    # beta = sum v (x - x0) / spread = (-3/4 - 1/3 - 1/4 + 0 + 1/3) / 2.75 = -4/11
    slope = difficulty_slope(ITEMS, BUCKET_OF, confidence=0.95)
    assert slope.slope == pytest.approx(-4 / 11, abs=1e-12)
    assert (slope.items, slope.df, slope.note) == (6, 4, None)
    # the HC1 sandwich by hand: residual r = v - (alpha + beta z) e with alpha = 1/3
    e = [0, 1 / 2, 1, 3 / 2, 2, 2]
    v = [0, 1 / 2, 2 / 3, 1 / 2, 0, 2 / 3]
    z = [-1.5, -1.5, -0.5, -0.5, 0.5, 0.5]
    r = [vi - (1 / 3 - 4 / 11 * zi) * ei for vi, ei, zi in zip(v, e, z, strict=True)]
    se = math.sqrt(sum((ri * zi) ** 2 for ri, zi in zip(r, z, strict=True)) * 6 / 4) / 2.75
    assert slope.se == pytest.approx(se, rel=1e-12)
    # and the interval is the length slope's, which fits the same model in log2(length)
    twin = incoherence_slope(
        [i.variance for i in ITEMS],
        [i.error for i in ITEMS],  # type: ignore[misc]
        [1.0] * 6,
        [2.0 ** [0, 0, 1, 1, 2, 2][k] for k in range(6)],
        confidence=0.95,
    )
    assert slope.low == pytest.approx(twin.low, rel=1e-9)
    assert slope.high == pytest.approx(twin.high, rel=1e-9)
    assert slope.low < -4 / 11 < slope.high  # type: ignore[operator]


def test_the_slope_is_undefined_without_error_in_two_buckets() -> None:
    only_easy = {"e1": "easy", "e2": "easy", "m1": "easy"}
    slope = difficulty_slope(ITEMS, only_easy, confidence=0.95)
    assert slope.slope is None and slope.note is not None and "two or more buckets" in slope.note
    right = [_item(f"r{k}", "AAAA") for k in range(4)]
    none = difficulty_slope(right, {f"r{k}": BUCKETS[k % 3] for k in range(4)}, confidence=0.95)
    assert none.slope is None and none.note == "no error: incoherence is undefined"
    with pytest.raises(ValueError, match="confidence"):
        difficulty_slope(ITEMS, BUCKET_OF, confidence=1.0)


def test_every_buckets_figures_are_the_aggregate_of_its_items() -> None:
    """Bucket figures come from array passes over the test's columns: each must be exactly
    ``aggregate`` over the bucket's items, weights, variance-only items and ties included."""
    import numpy as np

    rng = np.random.default_rng(8)
    for _ in range(40):
        n = int(rng.integers(1, 30))
        items = []
        for k in range(n):
            outcomes = list(rng.choice(list("ABC"), size=int(rng.integers(2, 12))))
            weight = float(rng.choice([0.0, 1.0, 2.5]))
            target = "A" if rng.random() < 0.85 else None
            if target is None:
                items.append(estimate_item(outcomes, item_id=f"i{k}", weight=weight))
            else:
                items.append(estimate_item(outcomes, target, item_id=f"i{k}", weight=weight))
        numbers = {i.id: round(float(rng.random()), 1) for i in items}
        buckets = assign_buckets(numbers)
        for figures in bucket_figures(items, buckets, confidence=0.9, difficulties=numbers):
            part = [i for i in items if buckets[i.id] == figures.bucket]
            if not part:
                assert figures.items == 0 and figures.error is None
                continue
            agg = aggregate(part, confidence=0.9)
            shown = agg.incoherence_low is not None
            assert (figures.items, figures.targeted_items) == (agg.items, agg.targeted_items)
            assert (figures.error, figures.bias, figures.variance) == (
                agg.error,
                agg.bias,
                agg.variance,
            )
            assert (figures.incoherence, figures.incoherence_low, figures.incoherence_high) == (
                agg.incoherence,
                agg.incoherence_low,
                agg.incoherence_high,
            )
            assert figures.interval_method == (agg.interval_method if shown else None)
            assert figures.interval_approximate == (agg.interval_approximate if shown else None)
            spread = [numbers[i.id] for i in part]
            assert (figures.difficulty_min, figures.difficulty_max) == (min(spread), max(spread))


def test_measured_numbers_are_bucketed_as_checked_numbers_are() -> None:
    import numpy as np

    rng = np.random.default_rng(2)
    for n in (1, 2, 5, 17, 50):
        floats = {f"i{k}": round(float(rng.random()), 2) for k in range(n)}  # the float path
        mixed = {
            k: (int(v * 100) if i % 2 else np.float64(v * 100))
            for i, (k, v) in enumerate(floats.items())
        }
        assert assign_buckets(floats) == assign_buckets(mixed)  # the checked path
    with pytest.raises(DifficultyError, match="not a finite number"):
        assign_buckets({"a": 0.5, "b": math.nan})


def _numpy_tertiles(values: list[float]) -> list[int]:
    """The bucket index of each number as first written with numpy: stable argsort, runs of
    equal numbers, floor(3 (r - 1/2) / n) of the run's average rank r."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    n = x.shape[0]
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, n))
    average_rank = starts + (counts + 1) / 2.0
    index = np.empty(n, dtype=np.int64)
    index[order] = np.floor(3.0 * (np.repeat(average_rank, counts) - 0.5) / n)
    return [int(i) for i in np.clip(index, 0, 2)]


def test_tertiles_in_plain_python_are_numpys() -> None:
    """A test's numbers are bucketed in plain Python: the same index as the numpy version for
    every item, ties (signed zeros among them) and one to many items included."""
    import numpy as np

    from pytest_hotmess.stats.difficulty import _tertiles

    rng = np.random.default_rng(12)
    for _ in range(400):
        n = int(rng.integers(1, 80))
        pool = rng.choice([0.0, -0.0, 0.1, 0.25, 1.0, 1e-300, 7.5], size=n).tolist()
        spread = rng.uniform(-1.0, 1.0, size=n).tolist()
        values = pool if rng.random() < 0.5 else [round(v, 1) for v in spread]
        assert _tertiles(values) == _numpy_tertiles(values), values
