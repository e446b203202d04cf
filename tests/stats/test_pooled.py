"""The pooled aggregate read in bounded passes (``stats.pooled``) against the whole-array code.

The passes are forced small (``LEAF`` and ``skew._CHUNK`` patched) so that a few thousand items
go through many ranges, a deep halving tree and many expansion chunks; every figure must then
be the whole-array one to the last bit (``unclipped``'s Python sums: on Python 3.12 and later
within 1e-12 relative, as ``sum`` compensates within each call there).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import numpy as np
import pytest

from pytest_hotmess.stats import pooled, skew
from pytest_hotmess.stats.aggregate import aggregate_one_loss
from pytest_hotmess.stats.columns import ItemColumns
from pytest_hotmess.stats.pooled import _pairwise, pooled_aggregate
from pytest_hotmess.stats.ranges import unclipped

EXACT_SUMS = sys.version_info < (3, 12)
"""Python's ``sum`` of floats adds in order up to 3.11 (compensated within a call from 3.12)."""


@pytest.fixture
def small_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pooled, "LEAF", 256)
    monkeypatch.setattr(skew, "_CHUNK", 300)  # not a multiple of the leaves: other boundaries


def _suite(seed: int, n: int, **change: Any) -> tuple[ItemColumns, list[str]]:
    """Skewed items like a run's: a few confidently wrong ones, some without a target, some
    with zero weight, negative biases."""
    rng = np.random.default_rng(seed)
    error = rng.gamma(0.3, 0.4, n)
    variance = error * rng.beta(2.0, 3.0, n)
    bias = error - variance
    bias[rng.random(n) < 0.05] *= -0.2
    weight = rng.choice([0.0, 0.5, 1.0, 2.5], n, p=[0.05, 0.15, 0.7, 0.1])
    targeted = rng.random(n) < 0.9
    columns = {
        "k": rng.integers(4, 12, n),
        "invalid": rng.integers(0, 3, n),
        "weight": weight,
        "error": np.where(targeted, error, 0.0),
        "bias": np.where(targeted, bias, 0.0),
        "variance": variance,
        "targeted": targeted,
    }
    columns.update(change)
    losses = change.pop("loss_names", None) or ["brier"] * n
    return ItemColumns(**{**columns, "losses": tuple(sorted(set(losses)))}), losses


def _reader(columns: ItemColumns, losses: list[str]) -> pooled.Reader:
    def read(start: int, stop: int) -> ItemColumns:
        def part(name: str) -> Any:
            return np.array(getattr(columns, name)[start:stop])

        names = tuple(sorted(set(losses[start:stop])))
        names_ = [f.name for f in dataclasses.fields(ItemColumns) if f.name != "losses"]
        fields = {name: part(name) for name in names_}
        return ItemColumns(**fields, losses=names)

    return read


def _same(got: pooled.Pooled, columns: ItemColumns) -> None:
    agg, losses = aggregate_one_loss(columns, confidence=0.9)
    assert got.aggregate == agg and got.losses == losses
    expected = unclipped(columns) if len(losses) <= 1 and agg.error is not None else {}
    assert got.unclipped.keys() == expected.keys()
    for name, value in expected.items():
        if EXACT_SUMS:
            assert got.unclipped[name] == value
        else:
            assert math.isclose(got.unclipped[name], value, rel_tol=1e-12)


@pytest.mark.usefixtures("small_passes")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_passes_give_every_figure_of_the_whole_array_code(seed: int) -> None:
    columns, losses = _suite(seed, 4321)
    got = pooled_aggregate(_reader(columns, losses), len(columns), confidence=0.9)
    assert got.aggregate.incoherence_low is not None and got.aggregate.interval_skewness
    _same(got, columns)


@pytest.mark.usefixtures("small_passes")
def test_unclipped_figures_and_edge_cases_match_too(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 2000
    columns, losses = _suite(3, n)
    # the pooled bias and variance negative, the incoherence above 1: all shown unclipped
    negative = dataclasses.replace(
        columns, bias=-np.abs(columns.bias), variance=-np.abs(columns.variance) - 0.01
    )
    above = dataclasses.replace(columns, variance=columns.error * 1.5)
    # two items with a target among many; none at all; every item alike
    few = dataclasses.replace(columns, targeted=np.arange(n) < 2)
    none = dataclasses.replace(columns, targeted=np.zeros(n, dtype=bool))
    alike = dataclasses.replace(
        columns,
        error=np.full(n, 0.3),
        variance=np.full(n, 0.1),
        bias=np.full(n, 0.2),
        weight=np.ones(n),
        targeted=np.ones(n, dtype=bool),
    )
    for case in (negative, above, few, none, alike):
        _same(pooled_aggregate(_reader(case, losses), n, confidence=0.9), case)
    # two kinds of items, as in benchmarks/scale.py (v affine in e): the expansion cancels
    # near one theta, and the search re-centres there and takes points from the items: here
    # in passes over the files, never the whole arrays
    kinds = [(0.5333333333333333, 0.6000000000000001), (0.37777777777777777, 0.3999999999999999)]
    v, e = (np.asarray([kinds[i % 2][j] for i in range(n)]) for j in (0, 1))
    two = dataclasses.replace(alike, variance=v, error=e, bias=e - v)
    calls: list[str] = []
    # the passes read the items through their own hooks, not RatioTerms' whole arrays
    assert {"_items_expansion", "_items_moments"} <= set(vars(pooled._PassedTerms))
    for cls in (skew.RatioTerms, pooled._PassedTerms):
        for name in ("_items_expansion", "_items_moments"):
            spied = getattr(cls, name)
            label = f"{cls.__name__}.{name}"

            def spy(*args: Any, _spied: Any = spied, _label: str = label) -> Any:
                calls.append(_label)
                return _spied(*args)

            monkeypatch.setattr(cls, name, spy)
    got = pooled_aggregate(_reader(two, losses), n, confidence=0.9)
    names = ("_items_expansion", "_items_moments")
    # the passes' own fallbacks ran, and never the whole arrays' ones
    assert set(calls) == {f"_PassedTerms.{name}" for name in names}
    _same(got, two)  # the whole arrays' code, which takes the same fallbacks
    assert {f"RatioTerms.{name}" for name in names} <= set(calls)


@pytest.mark.usefixtures("small_passes")
def test_several_losses_give_the_counts_only() -> None:
    columns, _ = _suite(4, 1000)
    losses = ["brier"] * 700 + ["kl"] * 300
    mixed = dataclasses.replace(columns, losses=("brier", "kl"))
    got = pooled_aggregate(_reader(mixed, losses), 1000, confidence=0.9)
    assert got.losses == ["brier", "kl"] and got.aggregate.error is None
    _same(got, mixed)


def test_the_halving_tree_adds_in_np_sum_order() -> None:
    rng = np.random.default_rng(5)
    for n in [0, 1, 7, 8, 9, 129, 1000, 4097, 65_537, 300_001]:
        x = rng.standard_normal(n) * np.exp(3.0 * rng.standard_normal(n))
        for leaf in (128, 1000):
            (total,) = _pairwise(lambda a, b: np.asarray([np.sum(x[a:b])]), n, leaf)  # noqa: B023
            assert total == np.sum(x)
