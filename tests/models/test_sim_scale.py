"""The two simulated models of different scale (issue #18) and the misconception knob: their
documented rates and true incoherence by difficulty third, and how misconceptions answer."""

from __future__ import annotations

import pytest

from pytest_hotmess.models.sim import DEFAULT_LETTERS, ItemProfile, MultipleChoiceSim
from pytest_hotmess.sim import PRESETS, large, small


def _third(model: MultipleChoiceSim, third: int, grid: int = 600) -> float:
    """True incoherence over difficulty u uniform on one third of [0, 1), a share
    ``misconception_rate`` of items misconceived."""
    share = model.misconception_rate
    error = variance = 0.0
    for index in range(grid):
        u = (third + (index + 0.5) / grid) / 3
        for held, weight in ((False, 1.0 - share), (True, share)):
            e, _, v = model._terms(
                ItemProfile("A", DEFAULT_LETTERS, "B", u, held), None, "unbiased"
            )
            error += weight * e
            variance += weight * v
    return variance / error


def test_the_scale_presets_state_their_true_incoherence_by_difficulty_third() -> None:
    assert [_third(small(), t) for t in range(3)] == pytest.approx([0.85, 0.50, 0.14], abs=0.006)
    assert [_third(large(), t) for t in range(3)] == pytest.approx([0.13, 0.45, 0.54], abs=0.006)
    assert PRESETS["small"]["systematic_slope"] < 0 < PRESETS["large"]["systematic_slope"]


def test_the_scale_presets_state_their_rates_at_the_ends() -> None:
    assert small().item_rates(0.0) == pytest.approx((0.93, 0.07), abs=0.005)
    assert small().item_rates(1.0) == pytest.approx((0.03, 0.97), abs=0.005)
    assert large().item_rates(0.0) == pytest.approx((0.99, 0.99), abs=0.005)
    assert large().item_rates(1.0) == pytest.approx((0.31, 0.01), abs=0.005)


def test_a_misconceived_item_is_always_answered_with_its_systematic_letter() -> None:
    model = MultipleChoiceSim(accuracy=0.9, misconception_rate=1.0)
    profile = model.profile("Which option? A, B, C or D")
    assert profile.misconceived
    dist = model.true_answer_distribution("Which option? A, B, C or D")
    assert dist[profile.systematic_letter] == 1.0
    assert dist[profile.answer] == 0.0
    texts = {model.sample("Which option? A, B, C or D", k).text[-1] for k in range(20)}
    assert texts == {profile.systematic_letter}
    error, bias, variance = model.true_terms("Which option? A, B, C or D")
    assert (error, bias, variance) == (2.0, 2.0, 0.0)


def test_the_misconceived_share_of_items_is_the_rate() -> None:
    model = MultipleChoiceSim(misconception_rate=0.1)
    held = sum(model.profile(f"question {i}").misconceived for i in range(4000))
    # binomial(4000, 0.1): sd 19; 4 sd either side
    assert abs(held - 400) <= 76
    assert not any(MultipleChoiceSim().profile(f"question {i}").misconceived for i in range(200))


def test_population_incoherence_mixes_in_the_misconceptions() -> None:
    plain, mixed = MultipleChoiceSim(), MultipleChoiceSim(misconception_rate=0.25)
    base = plain.population_incoherence(grid=512)
    assert base is not None
    # misconceived items add error 2 and no variance: I = 0.75 V / (0.75 E + 0.25 * 2)
    error = (
        sum(
            plain._terms(ItemProfile("A", DEFAULT_LETTERS, "B", (i + 0.5) / 512), None, "unbiased")[
                0
            ]
            for i in range(512)
        )
        / 512
    )
    assert mixed.population_incoherence(grid=512) == pytest.approx(
        0.75 * base * error / (0.75 * error + 0.5), rel=1e-12
    )


def test_the_misconception_rate_is_a_rate() -> None:
    with pytest.raises(ValueError, match="misconception_rate"):
        MultipleChoiceSim(misconception_rate=1.5)
