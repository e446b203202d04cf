"""Items read as columns (``stats.columns``): the same figures as item by item, to the bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_hotmess.stats.aggregate import aggregate, aggregate_one_loss
from pytest_hotmess.stats.columns import ItemColumns
from pytest_hotmess.stats.decompose import ItemEstimate
from pytest_hotmess.stats.ranges import unclipped


def _items(seed: int, n: int) -> list[ItemEstimate]:
    """Items with and without targets, zero and uneven weights, negative figures."""
    rng = np.random.default_rng(seed)
    items = []
    for index in range(n):
        variance = float(rng.normal(0.1, 0.2))
        targeted = bool(rng.random() < 0.8)
        error = float(rng.normal(0.3, 0.3)) if targeted else None
        items.append(
            ItemEstimate(
                id=f"i{index}",
                kind="numeric",
                loss="squared",
                estimator="unbiased",
                k=int(rng.integers(2, 40)),
                invalid=int(rng.integers(0, 3)),
                weight=float(rng.choice([0.0, 0.5, 1.0, 2.5])),
                error=error,
                bias=None if error is None else error - variance,
                variance=variance,
                target=None,
                counts=None,
                outcomes=None,
            )
        )
    return items


def test_the_columns_hold_every_figure_of_every_item_in_order() -> None:
    items = _items(1, 40)
    columns = ItemColumns.of(items)
    assert len(columns) == 40
    assert columns.k.tolist() == [i.k for i in items]
    assert columns.invalid.tolist() == [i.invalid for i in items]
    assert columns.weight.tolist() == [i.weight for i in items]
    assert columns.variance.tolist() == [i.variance for i in items]
    assert columns.targeted.tolist() == [i.has_target for i in items]
    assert columns.error.tolist() == [0.0 if i.error is None else i.error for i in items]
    assert columns.bias.tolist() == [0.0 if i.bias is None else i.bias for i in items]
    assert columns.losses == ("squared",)
    assert ItemColumns.of(columns) is columns


def _old_unclipped(items: list[ItemEstimate]) -> dict[str, float]:
    """The formulas of ``unclipped`` as it read items one by one (Python sums, item order)."""
    targeted = [i for i in items if i.has_target]

    def mean(pairs: list[tuple[float, float]]) -> float | None:
        total = sum(w for w, _ in pairs)
        return sum(w * x for w, x in pairs) / total if total > 0 else None

    out: dict[str, float] = {}
    bias = mean([(i.weight, float(i.bias or 0.0)) for i in targeted])
    if bias is not None and bias < 0:
        out["bias"] = bias
    variance = mean([(i.weight, i.variance) for i in items])
    if variance is not None and variance < 0:
        out["variance"] = variance
    error_sum = sum(i.weight * float(i.error or 0.0) for i in targeted)
    if error_sum > 0:
        ratio = sum(i.weight * i.variance for i in targeted) / error_sum
        if math.isfinite(ratio) and not 0.0 <= ratio <= 1.0:
            out["incoherence"] = ratio
    return out


@pytest.mark.parametrize("seed", range(30))
def test_unclipped_figures_are_those_item_by_item_to_the_bit(seed: int) -> None:
    items = _items(seed, int(np.random.default_rng(seed).integers(1, 12)))
    expected = _old_unclipped(items)
    assert unclipped(items) == expected  # exact: the same sums in the same order
    assert unclipped(ItemColumns.of(items)) == expected


def test_some_seeds_reach_every_unclipped_figure() -> None:
    """The comparison above is not vacuous: each figure leaves its range for some seed."""
    seen: set[str] = set()
    for seed in range(30):
        seen |= set(_old_unclipped(_items(seed, int(np.random.default_rng(seed).integers(1, 12)))))
    assert seen == {"bias", "variance", "incoherence"}


def test_the_aggregate_of_columns_is_the_weighted_means_of_the_items() -> None:
    items = _items(7, 60)
    agg = aggregate(ItemColumns.of(items), confidence=0.9, interval="delta")
    assert agg == aggregate(items, confidence=0.9, interval="delta")
    targeted = [i for i in items if i.has_target]
    w = sum(i.weight for i in targeted)
    assert agg.items == 60 and agg.targeted_items == len(targeted)
    assert agg.invalid == sum(i.invalid for i in items)
    assert (agg.k_min, agg.k_max) == (min(i.k for i in items), max(i.k for i in items))
    error = sum(i.weight * (i.error or 0.0) for i in targeted) / w
    assert agg.error == pytest.approx(error, rel=1e-12)
    variance = sum(i.weight * i.variance for i in items) / sum(i.weight for i in items)
    assert agg.variance == pytest.approx(max(variance, 0.0), rel=1e-12, abs=1e-15)


def test_several_losses_give_only_the_counts() -> None:
    items = _items(3, 10)
    items[4] = ItemEstimate(**{**items[4].to_dict(), "loss": "brier"})  # type: ignore[arg-type]
    agg, losses = aggregate_one_loss(ItemColumns.of(items), confidence=0.95)
    assert losses == ["brier", "squared"]
    assert agg.items == 10 and agg.error is None and agg.variance is None
    assert agg.invalid == sum(i.invalid for i in items)
    assert agg.targeted_items == sum(i.has_target for i in items)


def test_no_items_make_empty_columns_and_an_empty_aggregate() -> None:
    columns = ItemColumns.of([])
    assert len(columns) == 0 and columns.losses == ()
    agg, losses = aggregate_one_loss(columns, confidence=0.95)
    assert losses == [] and agg.items == 0 and agg.k_min is None and agg.variance is None
    assert unclipped(columns) == {}
