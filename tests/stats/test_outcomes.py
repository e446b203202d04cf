"""Kind inference, invalid-outcome handling and input validation of the engine."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pytest_hotmess.stats.decompose import estimate_item
from pytest_hotmess.stats.kinds import INVALID, INVALID_LABEL, NOTHING
from pytest_hotmess.stats.outcomes import ItemError, ItemTypeError, infer_kind, label_name


class Colour(enum.Enum):
    RED = "r"
    BLUE = "b"


# ----------------------------------------------------------------------------------------
# kind inference


@pytest.mark.parametrize(
    ("outcomes", "target", "expected"),
    [
        ([True, False], NOTHING, "binary"),
        ([np.bool_(True), np.bool_(False)], NOTHING, "binary"),
        ([0.5, 1.5], NOTHING, "numeric"),
        ([np.float32(0.5)], NOTHING, "numeric"),
        (["A", "B"], NOTHING, "categorical"),
        ([1, 2], NOTHING, "categorical"),  # ints are labels (docs/statistics.md, 'Outcome kinds')
        ([np.int64(3)], NOTHING, "categorical"),
        ([Colour.RED], NOTHING, "categorical"),
        ([("a", "b")], NOTHING, "categorical"),  # a tuple of labels is one hashable label
        ([{"a": 1.0}], NOTHING, "distribution"),
        ([[True, False]], NOTHING, "coverage"),
        ([np.array([True, False])], NOTHING, "coverage"),
        ([[0.2, 0.8]], NOTHING, "vector"),
        ([np.array([1, 2])], NOTHING, "vector"),
        ([INVALID, 0.5], NOTHING, "numeric"),  # the first *valid* outcome decides
        ([None, "A"], NOTHING, "categorical"),
        ([INVALID, INVALID], 2.5, "numeric"),  # all invalid: the target decides
        ([INVALID, INVALID], True, "binary"),
        ([INVALID, INVALID], NOTHING, "categorical"),  # nothing usable
        ([INVALID, INVALID], {1, 2}, "categorical"),  # unusable target
    ],
)
def test_infer_kind(outcomes: list[object], target: object, expected: str) -> None:
    assert infer_kind(outcomes, target) == expected


def test_kl_loss_turns_a_float_vector_into_a_distribution() -> None:
    assert infer_kind([[0.2, 0.8]], loss="kl") == "distribution"
    assert infer_kind([[0.2, 0.8]], loss="brier") == "vector"
    assert estimate_item([[0.2, 0.8], [0.6, 0.4]], 1, loss="kl").kind == "distribution"


def test_explicit_kind_wins() -> None:
    assert estimate_item([1, 2, 4], 3, kind="numeric").kind == "numeric"
    assert estimate_item([[0.2, 0.8], [0.5, 0.5]], 0, kind="distribution").kind == "distribution"
    assert estimate_item([True, False], True, kind="categorical").counts == {"True": 1, "False": 1}


def test_loss_defaults_by_kind() -> None:
    assert estimate_item(["A", "B"], "A").loss == "brier"
    assert estimate_item([{"a": 1.0}, {"b": 1.0}], "a").loss == "brier"
    assert estimate_item([1.0, 2.0], 1.0).loss == "squared"
    assert estimate_item([True, False]).loss == "squared"
    assert estimate_item([[1.0], [2.0]], [1.0]).loss == "squared"
    assert estimate_item([[True], [False]]).loss == "squared"


# ----------------------------------------------------------------------------------------
# invalid outcomes


def test_categorical_invalid_is_its_own_wrong_category() -> None:
    est = estimate_item(["A", INVALID, "A", None], "A")
    assert est.counts == {"A": 2, INVALID_LABEL: 2}
    assert (est.k, est.invalid) == (4, 2)
    # p_A = 1/2: error 2(1 - 1/2) = 1; unbiased variance 4/3 (1 - 1/4 - 1/4) = 2/3
    assert est.error == pytest.approx(1.0)
    assert est.variance == pytest.approx(2 / 3)


def test_binary_invalid_counts_as_false() -> None:
    est = estimate_item([True, INVALID, True, False])
    assert est.counts == {"True": 2, "False": 1, INVALID_LABEL: 1}
    assert (est.k, est.invalid) == (4, 1)
    assert est.target is True
    # 0/1 values 1,0,1,0 with target 1: error = 1/2
    assert est.error == pytest.approx(0.5)


def test_coverage_invalid_fails_every_check() -> None:
    est = estimate_item([[True, True], INVALID])
    assert est.outcomes == [[True, True], [False, False]]
    assert (est.k, est.invalid) == (2, 1)
    assert est.target == [True, True]
    assert est.error == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("outcomes", "target", "k"),
    [
        ([1.0, INVALID, 3.0, None], 2.0, 2),
        ([[1.0, 2.0], INVALID, [3.0, 4.0]], [2.0, 3.0], 2),
        ([{"a": 1.0}, INVALID, {"b": 1.0}], "a", 2),
    ],
)
def test_invalid_without_natural_wrong_value_is_excluded_and_counted(
    outcomes: list[object], target: object, k: int
) -> None:
    est = estimate_item(outcomes, target)
    assert est.k == k
    assert est.invalid == len(outcomes) - k
    assert est.outcomes is not None and len(est.outcomes) == k


def test_excluded_invalid_must_leave_two_samples() -> None:
    with pytest.raises(ValueError, match=r"item 'q9'.*K=1.*1 invalid left out"):
        estimate_item([1.0, INVALID], 1.0, item_id="q9")


def test_all_invalid_coverage_uses_target_width() -> None:
    est = estimate_item([INVALID, INVALID], [True, True, True], kind="coverage")
    assert est.outcomes == [[False] * 3] * 2
    assert est.error == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------
# labels and report forms


def test_labels_add_unobserved_answers_with_zero_counts() -> None:
    est = estimate_item(["B", "A"], "A", labels=["A", "B", "C", "D"])
    assert est.counts == {"A": 1, "B": 1, "C": 0, "D": 0}


def test_target_absent_from_outcomes_gets_a_zero_count() -> None:
    est = estimate_item(["B", "B"], "A")
    assert est.counts == {"B": 2, "A": 0}
    assert est.error == pytest.approx(2.0)


def test_enum_and_numpy_labels_are_reported_as_builtins() -> None:
    est = estimate_item([Colour.RED, Colour.BLUE], Colour.RED)
    assert est.counts == {"RED": 1, "BLUE": 1}
    assert est.target == "RED"
    est = estimate_item([np.int64(1), np.int64(2)], np.int64(1))
    assert est.target == 1 and type(est.target) is int
    assert est.counts == {"1": 1, "2": 1}


def test_label_name() -> None:
    assert label_name(INVALID) == INVALID_LABEL
    assert label_name(Colour.BLUE) == "BLUE"
    assert label_name(3) == "3"


def test_none_outcome_is_invalid() -> None:
    assert estimate_item(["A", None], "A").invalid == 1


# ----------------------------------------------------------------------------------------
# validation: every error names the item and the problem

ITEM = "q-17"
Case = tuple[str, Callable[[], Any], type[Exception], str]


def _call(*args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: estimate_item(*args, item_id=ITEM, **kwargs)


BAD_INPUT: list[Case] = [
    ("K<2 categorical", _call(["A"], "A"), ValueError, r"K=1 .*K >= 2"),
    ("K<2 numeric", _call([1.0], 1.0), ValueError, r"K=1 .*K >= 2"),
    ("empty item", _call([], "A"), ValueError, r"empty item"),
    ("outcomes a string", _call("AB", "A"), TypeError, r"sequence"),
    ("mixed label/number", _call(["A", 1.5], "A"), ValueError, r"mixed kinds.*#1"),
    ("mixed number/int", _call([0.5, 1], 1.0), ValueError, r"mixed kinds.*#1"),
    ("mixed bool/number", _call([True, 0.5]), ValueError, r"mixed kinds"),
    ("mixed vector/mapping", _call([[0.5, 0.5], {"a": 1.0}]), ValueError, r"mixed kinds"),
    ("mixed mapping/vector", _call([{"a": 1.0}, [1.0]], "a"), ValueError, r"mixed kinds"),
    ("NaN outcome", _call([1.0, math.nan], 1.0), ValueError, r"NaN"),
    ("inf outcome", _call([1.0, math.inf], 1.0), ValueError, r"inf"),
    ("NaN target", _call([1.0, 2.0], math.nan), ValueError, r"target.*NaN"),
    ("inf in vector", _call([[1.0, math.inf], [1.0, 2.0]]), ValueError, r"NaN or infinity"),
    (
        "NaN in distribution",
        _call([{"a": math.nan}, {"a": 1.0}], "a"),
        ValueError,
        r"NaN",
    ),
    ("vector lengths", _call([[1.0, 2.0], [1.0, 2.0, 3.0]]), ValueError, r"different lengths"),
    (
        "coverage lengths",
        _call([[True, False], [True]]),
        ValueError,
        r"different lengths",
    ),
    (
        "negative probability",
        _call([[1.2, -0.2], [0.5, 0.5]], 0, kind="distribution"),
        ValueError,
        r"negative",
    ),
    (
        "vector not summing to 1",
        _call([[0.5, 0.4], [0.5, 0.5]], 0, kind="distribution"),
        ValueError,
        r"sums to .* not 1",
    ),
    (
        "mapping not summing to 1",
        _call([{"a": 0.5, "b": 0.5}, {"a": 0.9}], "a"),
        ValueError,
        r"#1 sums to",
    ),
    (
        "sum just outside 1e-6",
        _call([{"a": 0.5, "b": 0.5 + 2e-6}, {"a": 1.0}], "a"),
        ValueError,
        r"sums to",
    ),
    ("float target categorical", _call(["A", "B"], 1.5), ValueError, r"target 1.5 is a float"),
    (
        "target absent from label set",
        _call([{"a": 1.0}, {"b": 1.0}], "c"),
        ValueError,
        r"target class 'c' is absent",
    ),
    (
        "soft target with unknown class",
        _call([{"a": 1.0}, {"b": 1.0}], {"c": 1.0}),
        ValueError,
        r"absent from the label set",
    ),
    (
        "index target out of range",
        _call([[0.5, 0.5], [1.0, 0.0]], 2, kind="distribution"),
        ValueError,
        r"outside 0\.\.1",
    ),
    (
        "soft target not summing to 1",
        _call([[0.5, 0.5], [1.0, 0.0]], [0.5, 0.6], kind="distribution"),
        ValueError,
        r"target sums to",
    ),
    ("vector target length", _call([[1.0, 2.0], [2.0, 3.0]], [1.0]), ValueError, r"length 1"),
    ("vector target scalar", _call([[1.0, 2.0], [2.0, 3.0]], 1.0), TypeError, r"target"),
    ("binary target not bool", _call([True, False], 1), TypeError, r"bool"),
    ("coverage target length", _call([[True, False]] * 2, [True]), ValueError, r"1 checks"),
    ("numeric target label", _call([1.0, 2.0], "x"), TypeError, r"target 'x' is not a number"),
    ("target None", _call(["A", "B"], None), ValueError, r"target None"),
    ("target INVALID", _call(["A", "B"], INVALID), ValueError, r"target INVALID"),
    ("negative weight", _call(["A", "B"], "A", weight=-1.0), ValueError, r"weight .*>= 0"),
    ("NaN weight", _call(["A", "B"], "A", weight=math.nan), ValueError, r"weight .*finite"),
    ("inf weight", _call(["A", "B"], "A", weight=math.inf), ValueError, r"weight .*finite"),
    ("weight not a number", _call(["A", "B"], "A", weight="2"), TypeError, r"weight"),
    ("unknown kind", _call(["A", "B"], "A", kind="ordinal"), ValueError, r"unknown kind 'ordinal'"),
    ("unknown loss", _call(["A", "B"], "A", loss="hinge"), ValueError, r"unknown loss 'hinge'"),
    (
        "unknown estimator",
        _call(["A", "B"], "A", estimator="mle"),
        ValueError,
        r"unknown estimator 'mle'",
    ),
    ("kl on numeric", _call([1.0, 2.0], 1.0, loss="kl"), ValueError, r"'kl' does not fit numeric"),
    ("brier on numeric", _call([1.0, 2.0], 1.0, loss="brier"), ValueError, r"'brier' does not fit"),
    ("kl on binary", _call([True, False], loss="kl"), ValueError, r"'kl' does not fit binary"),
    (
        "squared on categorical",
        _call(["A", "B"], "A", loss="squared"),
        ValueError,
        r"'squared' does not fit categorical",
    ),
    (
        "brier on vector",
        _call([[0.2, 0.8], [0.5, 0.5]], loss="brier"),
        ValueError,
        r"'brier' does not fit vector.*kind='distribution'",
    ),
    ("squared on distribution", _call([{"a": 1.0}] * 2, "a", loss="squared"), ValueError, r"fit"),
    ("labels collide", _call(["1", 1], "1"), ValueError, r"share the name '1'"),
    ("label '<invalid>'", _call(["<invalid>", INVALID]), ValueError, r"share the name"),
    ("outcome not among labels", _call(["E", "A"], "A", labels=["A", "B"]), ValueError, r"labels"),
    ("target not among labels", _call(["A", "B"], "E", labels=["A", "B"]), ValueError, r"labels"),
    ("labels on numeric", _call([1.0, 2.0], labels=["A"]), ValueError, r"labels apply"),
    ("unsupported type", _call([{1, 2}, {1}]), TypeError, r"unsupported"),
    ("complex outcome", _call([1j, 2j]), TypeError, r"not a real number"),
    ("2-d array outcome", _call([np.ones((2, 2))] * 2), TypeError, r"2-d array"),
    ("empty vector outcome", _call([[], []]), ValueError, r"empty vector"),
    (
        "all-invalid coverage, no width",
        _call([INVALID, INVALID], kind="coverage"),
        ValueError,
        r"number of checks is unknown",
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "error", "pattern"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_names_item_and_problem(
    name: str, call: Callable[[], Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern) as info:
        call()
    assert f"item {ITEM!r}" in str(info.value), name
    assert isinstance(info.value, ItemError)


def test_item_errors_catchable_as_value_error_and_type_errors_as_both() -> None:
    with pytest.raises(ValueError):
        estimate_item([1.0, 2.0], "x")
    assert issubclass(ItemTypeError, TypeError) and issubclass(ItemTypeError, ValueError)


def test_sum_within_tolerance_is_accepted() -> None:
    est = estimate_item([{"a": 0.5, "b": 0.5 + 5e-7}, {"a": 1.0}], "a")
    assert est.error is not None


def test_zero_weight_is_allowed() -> None:
    assert estimate_item(["A", "B"], "A", weight=0).weight == 0.0
