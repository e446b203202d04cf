"""The batched path gives the per-item path's numbers (issue 19, items 1 and 5).

``stats.batch.estimate_many`` (and ``stats.counting.count_labels`` before it) must give every
item exactly what ``decompose.estimate_item`` gives it alone, for every kind, loss and
estimator, to 1e-12; seeded random items, with invalid outcomes, no-target items, weights and
K that differ between items of one batch. (The Hall interval's search is checked against the
bisection on the items in ``test_skew_moments.py``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pytest_hotmess.sampling.resampler import Resampler
from pytest_hotmess.sampling.resampler import TestState as State
from pytest_hotmess.stats.batch import Pending, estimate_many
from pytest_hotmess.stats.counting import CountedItem, count_labels
from pytest_hotmess.stats.decompose import ItemEstimate, estimate_item
from pytest_hotmess.stats.kinds import NOTHING, Estimator
from pytest_hotmess.stats.losses import LOSSES, Loss, register_loss
from pytest_hotmess.stats.outcomes import ESTIMATORS, ItemError, prepare_item

TOLERANCE = 1e-12

Case = tuple[list[object], object, dict[str, Any]]
"""One item: outcomes, target (NOTHING for none) and the other ``estimate_item`` arguments."""


def _k(rng: np.random.Generator) -> int:
    return int(rng.integers(2, 14))


def _maybe_invalid(outcomes: list[object], rng: np.random.Generator, keep: int) -> None:
    if len(outcomes) > keep and rng.random() < 0.4:
        outcomes[int(rng.integers(len(outcomes)))] = None


def _target(rng: np.random.Generator, value: object) -> object:
    return NOTHING if rng.random() < 0.25 else value


def _categorical(rng: np.random.Generator, loss: str) -> Case:
    width = int(rng.integers(1, 6))
    labels: list[object] = ["A", "B", "C", "D", "E"][:width]
    if rng.random() < 0.3:
        labels = [1, 2, 3, 4, 5][:width]  # int labels take the full path
    k = _k(rng)
    outcomes: list[object] = [labels[int(i)] for i in rng.integers(width, size=k)]
    if rng.random() < 0.15:
        outcomes = [outcomes[0]] * k
    _maybe_invalid(outcomes, rng, 0)
    target = _target(rng, labels[int(rng.integers(width))] if rng.random() < 0.8 else "Z")
    if isinstance(labels[0], int) and target == "Z":
        target = 9
    return outcomes, target, {"loss": loss}


def _distribution(rng: np.random.Generator, loss: str) -> Case:
    width = int(rng.integers(2, 5))
    k = _k(rng)
    rows = rng.dirichlet(np.full(width, float(rng.uniform(0.2, 3.0))), size=k)
    if rng.random() < 0.15:
        rows = np.tile(rows[:1], (k, 1))
    names = "PQRS"[:width]
    if rng.random() < 0.5:
        outcomes: list[object] = [
            {n: float(x) for n, x in zip(names, r, strict=True)} for r in rows
        ]
        target: object = names[int(rng.integers(width))]
    else:
        outcomes = [[float(x) for x in r] for r in rows]
        target = int(rng.integers(width))
        if rng.random() < 0.3:
            target = [float(x) for x in rng.dirichlet(np.ones(width))]  # soft target
    _maybe_invalid(outcomes, rng, 2)
    return outcomes, _target(rng, target), {"loss": loss, "kind": "distribution"}


def _binary(rng: np.random.Generator, loss: str) -> Case:
    outcomes: list[object] = [bool(x) for x in rng.random(_k(rng)) < rng.uniform(0, 1)]
    _maybe_invalid(outcomes, rng, 0)
    return outcomes, NOTHING if rng.random() < 0.5 else bool(rng.random() < 0.7), {}


def _numeric(rng: np.random.Generator, loss: str) -> Case:
    centre = float(rng.normal(0, 5))
    outcomes: list[object] = [float(x) for x in rng.normal(centre, rng.uniform(0, 3), _k(rng))]
    if rng.random() < 0.1:
        outcomes = [centre] * len(outcomes)
    _maybe_invalid(outcomes, rng, 2)
    return outcomes, _target(rng, round(centre + float(rng.normal()), 2)), {}


def _vector(rng: np.random.Generator, loss: str) -> Case:
    width = int(rng.integers(1, 4))
    centre = rng.normal(0, 2, width)
    outcomes: list[object] = [
        [float(x) for x in centre + rng.normal(0, 1, width)] for _ in range(_k(rng))
    ]
    _maybe_invalid(outcomes, rng, 2)
    return outcomes, _target(rng, [float(x) for x in centre]), {}


def _coverage(rng: np.random.Generator, loss: str) -> Case:
    width = int(rng.integers(1, 5))
    rates = rng.uniform(0, 1, width)
    outcomes: list[object] = [[bool(x) for x in rng.random(width) < rates] for _ in range(_k(rng))]
    _maybe_invalid(outcomes, rng, 0)
    return outcomes, NOTHING, {}


MAKERS: dict[str, Callable[[np.random.Generator, str], Case]] = {
    "categorical": _categorical,
    "distribution": _distribution,
    "binary": _binary,
    "numeric": _numeric,
    "vector": _vector,
    "coverage": _coverage,
}
KIND_LOSSES = [
    (kind, loss) for kind, make in MAKERS.items() for loss in LOSSES if kind in LOSSES[loss].kinds
]


def _pending(case: Case, item_id: str, estimator: Estimator, weight: float) -> Pending:
    outcomes, target, options = case
    counted = count_labels(
        outcomes,
        target,
        item_id=item_id,
        kind=options.get("kind"),
        loss=options.get("loss"),
        estimator=estimator,
        weight=weight,
    )
    if counted is not None:
        return counted
    return prepare_item(
        outcomes,
        target,
        item_id=item_id,
        kind=options.get("kind"),
        loss=options.get("loss"),
        estimator=estimator,
        weight=weight,
        labels=None,
    )


def _assert_same(batched: ItemEstimate, alone: ItemEstimate) -> None:
    for name in ("error", "bias", "variance"):
        got, want = getattr(batched, name), getattr(alone, name)
        assert (got is None) == (want is None), (alone.id, name)
        if want is not None:
            assert math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE), (
                alone.id,
                name,
                got,
                want,
            )
    rest = ("id", "kind", "loss", "estimator", "k", "invalid", "weight", "target", "counts")
    for name in (*rest, "outcomes"):
        assert getattr(batched, name) == getattr(alone, name), (alone.id, name)
    assert list(batched.counts or {}) == list(alone.counts or {})  # same column order


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(("kind", "loss"), KIND_LOSSES)
def test_a_batch_gives_each_item_its_own_estimate(
    kind: str, loss: str, estimator: Estimator
) -> None:
    rng = np.random.default_rng([len(kind), len(loss), ESTIMATORS.index(estimator)])
    cases = [MAKERS[kind](rng, loss) for _ in range(60)]
    weights = [float(rng.choice([0.0, 0.5, 1.0, 2.5])) for _ in cases]
    alone, pending = [], []
    for index, (case, weight) in enumerate(zip(cases, weights, strict=True)):
        outcomes, target, options = case
        try:
            expected = estimate_item(
                outcomes,
                target,
                item_id=f"i{index}",
                estimator=estimator,
                weight=weight,
                **options,
            )
        except ItemError:
            continue  # e.g. too few valid samples: rejected the same way either path
        alone.append(expected)
        pending.append(_pending(case, f"i{index}", estimator, weight))
    assert len(alone) >= 40
    if kind == "categorical":
        assert any(isinstance(p, CountedItem) for p in pending)
        assert any(not isinstance(p, CountedItem) for p in pending)
    batched = estimate_many(pending)
    for got, want in zip(batched, alone, strict=True):
        assert isinstance(got, ItemEstimate)
        _assert_same(got, want)
    # and in any order: an item's figures do not depend on its neighbours
    order = rng.permutation(len(pending))
    shuffled = estimate_many([pending[i] for i in order])
    for got, index in zip(shuffled, order, strict=True):
        assert isinstance(got, ItemEstimate)
        _assert_same(got, alone[index])


@pytest.mark.parametrize(
    ("outcomes", "target", "options"),
    [
        (["a", "b", 1], "a", {}),  # a non-string label
        (["a", ["b"]], "a", {}),  # an unhashable outcome (not counted: the full path)
        ([["a"], "b"], "b", {}),
        (["a", "b"], None, {}),  # None is not a target
        (["a", "b"], 1, {}),
        (["a"], "a", {}),  # K < 2
        ([None, None], "a", {}),  # every outcome invalid
        (["<invalid>", None], "a", {}),  # a label named like invalid outcomes
        (["a", None], "<invalid>", {}),
        (["a", "b"], "a", {"kind": "numeric"}),
        (["a", "b"], "a", {"loss": "squared"}),
        (["a", "b"], "a", {"loss": "mse"}),
        (["a", "b"], "a", {"estimator": "exact"}),
        (["a", "b"], "a", {"weight": -1.0}),
        (["a", "b"], "a", {"weight": math.nan}),
        (["a", "b"], "a", {"weight": True}),
    ],
)
def test_counting_leaves_what_it_cannot_decide_to_the_full_path(
    outcomes: list[object], target: object, options: dict[str, Any]
) -> None:
    settings: dict[str, Any] = {"kind": None, "loss": None, "estimator": "unbiased", "weight": 1.0}
    settings.update(options)
    assert count_labels(outcomes, target, item_id="x", **settings) is None


def test_counting_orders_columns_as_the_full_path() -> None:
    counted = count_labels(
        ["b", None, "a", "b", None],
        "c",
        item_id="x",
        kind="categorical",
        loss="kl",
        estimator="plugin",
        weight=2,
    )
    assert counted == CountedItem(
        item_id="x",
        loss="kl",
        estimator="plugin",
        weight=2.0,
        k=5,
        invalid=2,
        names=("b", "a", "c", "<invalid>"),
        counts=(2, 1, 0, 2),
        target_index=2,
        target_json="c",
    )


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_an_overflowing_item_is_an_error_of_its_own_in_a_batch() -> None:
    big = prepare_item(
        [1e200, -1e200, 3e200],
        0.0,
        item_id="big",
        kind=None,
        loss=None,
        estimator="unbiased",
        weight=1.0,
        labels=None,
    )
    fine = prepare_item(
        [1.0, 2.0, 4.0],
        0.0,
        item_id="fine",
        kind=None,
        loss=None,
        estimator="unbiased",
        weight=1.0,
        labels=None,
    )
    first, second = estimate_many([big, fine])
    assert isinstance(first, ItemError) and "overflowed" in str(first)
    assert isinstance(second, ItemEstimate)
    # mean 7/3; squares (16 + 1 + 25)/9 = 42/9, over K - 1: 7/3; error (1 + 4 + 16)/3 = 7
    assert (second.error, second.variance) == pytest.approx((7.0, 7 / 3), rel=1e-15)


def test_a_loss_without_batch_code_is_taken_item_by_item() -> None:
    squared = LOSSES["squared"]
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(5, 4, 3))
    targets = rng.normal(size=(5, 3))
    default = Loss.batch_sample_terms(squared, samples, targets, "unbiased")
    fast = squared.batch_sample_terms(samples, targets, "unbiased")
    for one, other in zip(default, fast, strict=True):
        np.testing.assert_allclose(one, other, rtol=TOLERANCE, atol=TOLERANCE)
    by_hand = [
        squared.sample_terms(s, t, "unbiased") for s, t in zip(samples, targets, strict=True)
    ]
    np.testing.assert_array_equal(default[1], [b for _, b, _ in by_hand])


def _state() -> State:
    return State("test_x.py::test", samples=4, concurrency=1)


def test_record_waits_and_estimates_the_test_s_items_together() -> None:
    state = _state()
    resample = Resampler(state)
    first = resample.record(["A", "B", "A", "A"], target="A")
    second = resample.record(["B", "B", "C", None], target="A")
    numeric = resample.record([1.0, 2.0, 4.0], target=0.0)  # not categorical: estimated at once
    assert isinstance(numeric.__dict__["estimate"], ItemEstimate)
    assert not isinstance(first.__dict__["estimate"], ItemEstimate)
    assert not isinstance(second.__dict__["estimate"], ItemEstimate)
    # error 2 (1 - 3/4) = 0.5; variance (16 - 9 - 1) / 12 = 0.5
    assert (first.error, first.variance) == pytest.approx((0.5, 0.5), rel=1e-15)
    assert isinstance(second.__dict__["estimate"], ItemEstimate)  # filled in the same batch
    # K=4 with one invalid answer (a wrong class of its own): error 2, counts 2,1,1
    assert second.error == 2.0
    assert second.variance == pytest.approx((16 - 4 - 1 - 1) / 12, rel=1e-15)
    assert second.estimate is not None and second.estimate.counts == {
        "B": 2,
        "C": 1,
        "A": 0,
        "<invalid>": 1,
    }
    assert [e.id for e in state.estimates()] == ["item-0", "item-1", "item-2"]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_record_still_rejects_a_bad_item_at_once() -> None:
    resample = Resampler(_state())
    with pytest.raises(ItemError, match="K=1 usable samples"):
        resample.record(["A"], target="A")
    with pytest.raises(ItemError, match="target None is not a target"):
        resample.record(["A", "B"], target=None)
    with pytest.raises(ItemError, match="overflowed"):
        resample.record([1e200, -1e200, 3e200], target=0.0)
    with pytest.raises(ItemError, match="share the name"):
        resample.record(["<invalid>", None], target="A")


class _WidthBrier(Loss):
    """A toy loss that reads the number of count columns, as KL's smoothing does."""

    name = "width_brier"
    kinds = ("categorical",)

    def count_terms(
        self, counts: np.ndarray, target_index: np.ndarray, estimator: Estimator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        error, bias, variance = LOSSES["brier"].count_terms(counts, target_index, estimator)
        return error * counts.shape[1], bias * counts.shape[1], variance * counts.shape[1]


def test_a_registered_count_loss_sees_each_item_s_own_columns() -> None:
    register_loss(_WidthBrier)
    try:
        rng = np.random.default_rng(11)
        cases = [_categorical(rng, "width_brier") for _ in range(40)]
        alone, pending = [], []
        for index, (outcomes, target, options) in enumerate(cases):
            try:
                want = estimate_item(outcomes, target, item_id=f"i{index}", **options)
            except ItemError:
                continue
            alone.append(want)
            pending.append(_pending((outcomes, target, options), f"i{index}", "unbiased", 1.0))
        assert len({len(a.counts or {}) for a in alone}) >= 3  # rows of different widths
        for got, want in zip(estimate_many(pending), alone, strict=True):
            assert isinstance(got, ItemEstimate)
            _assert_same(got, want)
    finally:
        del LOSSES["width_brier"]
