"""The permutation test of batch independence (issue #14, item 4)."""

from __future__ import annotations

import math
import random

import pytest

from pytest_hotmess.stats.batches import LEVEL, PERMUTATIONS, batch_dependence


def _sticky(items: int, seed: int) -> list[tuple[list[object], list[int]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(items):
        answers = [rng.choice("ABCD") for _ in range(4)]
        out.append(
            ([a for a in answers for _ in range(5)], [b for b in range(4) for _ in range(5)])
        )
    return out


def test_known_p_value_of_one_small_item() -> None:
    # [A, A, B, B] in batches [0, 0, 1, 1]: 2 agreeing pairs within batches, the most possible.
    # Of the 6 equally likely arrangements of the labels, 2 reach it: P = 1/3. The estimate is
    # (1 + Binomial(999, 1/3)) / 1000; the tolerance is 4 Monte Carlo standard errors.
    result = batch_dependence([(["A", "A", "B", "B"], [0, 0, 1, 1])])
    assert result is not None
    se = math.sqrt(1 / 3 * 2 / 3 / PERMUTATIONS)
    assert abs(result.p_value - 1 / 3) < 4 * se
    assert result.within_agreement == 1.0
    assert result.across_agreement == 0.0


def test_answers_shared_within_a_request_are_dependent() -> None:
    result = batch_dependence(_sticky(12, seed=1))
    assert result is not None and result.dependent
    assert result.p_value == 1 / (PERMUTATIONS + 1)
    assert result.within_agreement == 1.0
    assert result.across_agreement is not None and result.across_agreement < 0.5


def test_independent_answers_are_not_flagged_at_the_stated_rate() -> None:
    # Independent samples: the test rejects with probability LEVEL; over 40 seeded suites the
    # count of rejections is Binomial(40, 0.01) (mean 0.4): more than 3 has chance < 0.1%.
    rejections = 0
    for seed in range(40):
        rng = random.Random(seed)
        items = [
            ([rng.choice("ABC") for _ in range(10)], [j // 5 for j in range(10)]) for _ in range(8)
        ]
        result = batch_dependence(items, seed=seed)
        assert result is not None
        rejections += result.p_value < LEVEL
    assert rejections <= 3


def test_numbers_are_compared_by_distance() -> None:
    rng = random.Random(5)
    items = []
    for _ in range(10):
        centres = [rng.gauss(0, 1) for _ in range(3)]
        items.append(
            (
                [c + rng.gauss(0, 0.01) for c in centres for _ in range(4)],
                [b for b in range(3) for _ in range(4)],
            )
        )
    result = batch_dependence(items)
    assert result is not None and result.dependent
    assert result.within_agreement is None  # agreement rates are for answers only


def test_items_without_two_batches_carry_no_information() -> None:
    assert batch_dependence([(["A", "B", "A"], [0, 0, 0])]) is None
    assert batch_dependence([(["A", "B", "A"], [0, 1, 2])]) is None
    assert batch_dependence([]) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_seed_gives_the_same_p_value(seed: int) -> None:
    rng = random.Random(seed)
    items = [([rng.choice("AB") for _ in range(9)], [j // 3 for j in range(9)]) for _ in range(5)]
    assert batch_dependence(items, seed=seed) == batch_dependence(items, seed=seed)
