"""KL at small K: the bootstrap-corrected variance, its known values and its bias (issue #14)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from pytest_hotmess.stats.decompose import categorical_terms, estimate_item
from pytest_hotmess.stats.kl_bootstrap import EXACT_LIMIT, KL_BOOTSTRAP_MAX_K, resample_counts
from pytest_hotmess.stats.losses import KL_DELTA
from pytest_hotmess.stats.ranges import out_of_range, unclipped

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # xdist workers may lack the checkout on sys.path
    sys.path.insert(0, str(ROOT))
cell = importlib.import_module("benchmarks.kl_bias").cell


def _plugin_variance(counts: list[int]) -> float:
    """-log Z for smoothed one-hot samples, written out from docs/statistics.md."""
    c, k = len(counts), sum(counts)
    lo = KL_DELTA / (1 + c * KL_DELTA)
    hi = (1 + KL_DELTA) / (1 + c * KL_DELTA)
    spread = math.log(hi) - math.log(lo)
    return -(math.log(lo) + math.log(sum(math.exp(n / k * spread) for n in counts)))


def test_bootstrap_k2_is_one_and_a_half_plugin_variance() -> None:
    # Resamples of (A, B): AA 1/4, AB 1/2, BB 1/4; only AB has a variance: E* = v/2, 2v - v/2.
    item = estimate_item(["A", "B"], "A", loss="kl", estimator="bootstrap")
    assert item.variance == pytest.approx(1.5 * _plugin_variance([1, 1]), rel=1e-12)
    assert item.bias == pytest.approx(item.error - item.variance, rel=1e-12)


def test_bootstrap_k3_is_four_thirds_plugin_variance() -> None:
    # (2, 1): resamples (3,0) 8/27, (2,1) 12/27, (1,2) 6/27, (0,3) 1/27; with two columns
    # v(2,1) = v(1,2), so E* = 18/27 v and the corrected variance is 2v - 2v/3 = 4v/3.
    item = estimate_item(["A", "A", "B"], "A", loss="kl", estimator="bootstrap")
    assert item.variance == pytest.approx(4 / 3 * _plugin_variance([2, 1]), rel=1e-12)


def test_unanimous_answers_have_zero_variance() -> None:
    item = estimate_item(["A"] * 5, "B", loss="kl", estimator="bootstrap")
    assert item.variance == 0.0


def test_unbiased_is_bootstrap_up_to_k5_and_jackknife_above() -> None:
    assert KL_BOOTSTRAP_MAX_K == 5
    for answers in (["A", "B", "A", "C", "A"], ["A", "B", "A", "C", "A", "B"]):
        boot = estimate_item(answers, "A", loss="kl", estimator="bootstrap").variance
        jack = estimate_item(answers, "A", loss="kl", estimator="jackknife").variance
        plug = estimate_item(answers, "A", loss="kl", estimator="plugin").variance
        assert len({boot, jack, plug}) == 3
        want = boot if len(answers) <= KL_BOOTSTRAP_MAX_K else jack
        assert estimate_item(answers, "A", loss="kl").variance == want
        # Brier has an exact unbiased variance: bootstrap gives it, like jackknife
        brier = [
            estimate_item(answers, "A", estimator=e).variance for e in ("bootstrap", "unbiased")
        ]
        assert brier[0] == brier[1]


def test_large_resample_spaces_are_drawn_reproducibly() -> None:
    counts = np.asarray([3.0, 3, 3, 3, 3, 3, 3, 3, 3, 3])  # K = 30 over 10 answers
    assert math.comb(30 + 9, 9) > EXACT_LIMIT
    first, weights = resample_counts(counts)
    again, _ = resample_counts(counts)
    assert np.array_equal(first, again)
    assert weights.sum() == pytest.approx(1.0)
    row = np.asarray([[3, 3, 3, 3, 3, 3, 3, 3, 3, 3]])
    a = categorical_terms(row, [0], "bootstrap", loss="kl")[2]
    b = categorical_terms(row, [0], "bootstrap", loss="kl")[2]
    assert a[0] == b[0] > 0


def test_exact_resamples_carry_multinomial_probabilities() -> None:
    draws, weights = resample_counts(np.asarray([2.0, 1.0]))
    got = {tuple(int(x) for x in d): w for d, w in zip(draws, weights, strict=True)}
    assert got == pytest.approx({(3, 0): 8 / 27, (2, 1): 12 / 27, (1, 2): 6 / 27, (0, 3): 1 / 27})


@pytest.mark.parametrize(
    ("p", "k"),
    [((0.3, 0.6, 0.1, 0.0), 2), ((0.3, 0.6, 0.1, 0.0), 3), ((0.9, 0.05, 0.05, 0.0), 2)],
)
def test_issue_cells_bootstrap_is_less_biased_than_the_old_default(
    p: tuple[float, ...], k: int
) -> None:
    # Exact expectations (every composition of K enumerated): no Monte Carlo error.
    biases = cell(p, k)
    assert biases["bootstrap"][1] == biases["jackknife"][1] == 0.0
    assert abs(biases["bootstrap"][0]) < abs(biases["jackknife"][0])


def test_issue_numbers_of_the_old_default_are_reproduced() -> None:
    # The issue: (.9,.05,.05,0) at K=2, jackknife gives incoherence 1.756 against a true 1.000
    assert 1 + cell((0.9, 0.05, 0.05, 0.0), 2)["jackknife"][0] == pytest.approx(1.756, abs=0.03)


def test_seeded_simulation_matches_the_exact_expectation() -> None:
    # Monte Carlo of the bootstrap estimate at K = 5 for (.3,.6,.1,0) against its exact mean:
    # the tolerance is 4 Monte Carlo standard errors.
    p, k, draws = (0.3, 0.6, 0.1, 0.0), 5, 4000
    rng = np.random.default_rng(14)
    counts = rng.multinomial(k, p, size=draws)
    variance = categorical_terms(counts, np.zeros(draws, dtype=int), "bootstrap", loss="kl")[2]
    population = categorical_terms(
        (np.asarray([p]) * 1e6).astype(np.int64), [0], "plugin", loss="kl"
    )[2][0]
    exact = population * (1 + cell(p, k)["bootstrap"][0])
    se = variance.std(ddof=1) / math.sqrt(draws)
    assert abs(variance.mean() - exact) < 4 * se


def test_out_of_range_flags() -> None:
    assert out_of_range(13.8, -12.4, 26.2) == ["bias<0", "variance>error"]
    assert out_of_range(1.0, 0.5, 0.5) == []
    assert out_of_range(-0.1, 0.0, 0.0) == ["error<0", "variance>error"]
    assert out_of_range(None, None, 0.3) == []


def test_unclipped_keeps_what_display_clipping_hides() -> None:
    # Issue: two numeric items [-1, 1] and [-0.5, 0.6], target 0: incoherence 1.996, bias < 0
    items = [
        estimate_item([-1.0, 1.0], 0.0, item_id="a"),
        estimate_item([-0.5, 0.6], 0.0, item_id="b"),
    ]
    raw = unclipped(items)
    assert raw["incoherence"] == pytest.approx(1.3025 / 0.6525)
    assert raw["bias"] == pytest.approx(-0.65)
    assert "variance" not in raw
