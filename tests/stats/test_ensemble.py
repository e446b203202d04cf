"""Ensemble projections: exact vote combinatorics, averaging, and fresh simulated ensembles."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from pytest_hotmess.stats.aggregate import aggregate, ratio_delta_interval
from pytest_hotmess.stats.decompose import ItemEstimate, estimate_item
from pytest_hotmess.stats.ensemble import (
    EnsembleMethod,
    EnsembleProjection,
    EnsembleRow,
    SkippedItem,
    ensemble_projection,
    vote_agreement,
    vote_probabilities,
)
from pytest_hotmess.stats.kinds import INVALID, INVALID_LABEL

# ----------------------------------------------------------------------------------------
# brute force over subsets: the definition the closed forms must reproduce


def _shares(answers: Sequence[int], classes: int) -> NDArray[np.float64]:
    tally = np.bincount(np.asarray(answers, dtype=np.int64), minlength=classes)
    top = tally == tally.max()
    shares: NDArray[np.float64] = top / top.sum()
    return shares


def _brute_q(counts: Sequence[int], m: int) -> NDArray[np.float64]:
    samples = [c for c, n in enumerate(counts) for _ in range(n)]
    subsets = list(itertools.combinations(samples, m))
    q: NDArray[np.float64] = np.mean([_shares(s, len(counts)) for s in subsets], axis=0)
    return q


def _brute_agreement(counts: Sequence[int], m: int) -> float:
    samples = [c for c, n in enumerate(counts) for _ in range(n)]
    index = range(len(samples))
    total, pairs = 0.0, 0
    for first in itertools.combinations(index, m):
        rest = [i for i in index if i not in first]
        one = _shares([samples[i] for i in first], len(counts))
        for second in itertools.combinations(rest, m):
            total += float(one @ _shares([samples[i] for i in second], len(counts)))
            pairs += 1
    return total / pairs


_CASES = [
    ([3, 2, 1, 0], 3),
    ([4, 4, 2], 3),
    ([2, 2, 2, 2], 2),
    ([5, 0, 3, 1], 1),
    ([3, 3, 4], 5),
    ([6, 2], 3),
    ([8], 3),
    ([1] * 9, 3),
    ([2, 1, 1, 1, 1, 1, 1], 4),
]


@pytest.mark.parametrize(("counts", "m"), _CASES)
def test_vote_probabilities_equal_the_mean_over_all_subsets(counts: list[int], m: int) -> None:
    q = vote_probabilities([counts], m)[0]
    assert q == pytest.approx(_brute_q(counts, m), abs=1e-12)
    assert float(q.sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("counts", "m"), [c for c in _CASES if sum(c[0]) >= 2 * c[1]])
def test_vote_agreement_equals_the_mean_over_disjoint_subset_pairs(
    counts: list[int], m: int
) -> None:
    assert vote_agreement([counts], m)[0] == pytest.approx(_brute_agreement(counts, m), abs=1e-12)


def test_rows_with_different_answer_counts_are_computed_together() -> None:
    rows = [[3, 2, 1, 0], [6, 0, 0, 0], [1, 1, 1, 1], [0, 2, 0, 5]]
    q = vote_probabilities(rows, 3)
    agreement = vote_agreement(rows, 2)
    for row, q_row, a_row in zip(rows, q, agreement, strict=True):
        assert q_row == pytest.approx(_brute_q(row, 3), abs=1e-12)
        assert a_row == pytest.approx(_brute_agreement(row, 2), abs=1e-12)


def test_one_sample_votes_are_the_plain_frequencies() -> None:
    counts = np.array([[12, 15, 3, 0], [29, 1, 0, 0]])
    k = counts.sum(axis=1, keepdims=True)
    assert vote_probabilities(counts, 1) == pytest.approx(counts / k)
    expected = (counts * (counts - 1)).sum(axis=1) / (k[:, 0] * (k[:, 0] - 1))
    assert vote_agreement(counts, 1) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vote_probabilities([[2, 1]], 4), "K >= 4"),
        (lambda: vote_agreement([[2, 1]], 2), "K >= 4"),
        (lambda: vote_probabilities([[2, -1]], 1), "non-negative"),
        (lambda: vote_probabilities([2, 1], 1), "shape"),
        (lambda: vote_probabilities([[2, 1]], 0), "positive int"),
    ],
)
def test_vote_functions_reject_bad_input(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------------------
# projections of items


def _categorical(item_id: str, counts: dict[str, int], target: str = "A") -> ItemEstimate:
    outcomes = [label for label, n in counts.items() for _ in range(n)]
    return estimate_item(outcomes, target, item_id=item_id)


def _rows(projection: EnsembleProjection, method: str) -> dict[int, EnsembleRow]:
    block: EnsembleMethod = getattr(projection, method)
    return {row.m: row for row in block.rows}


def test_one_sample_ensembles_reproduce_the_aggregate() -> None:
    items = [
        _categorical("a", {"A": 12, "B": 15, "C": 3}),
        _categorical("b", {"A": 20, "B": 5, "D": 5}),
        _categorical("c", {"B": 25, "C": 5}),
    ]
    reference = aggregate(items)
    projection = ensemble_projection(items, ms=[1])
    for method in ("averaging", "majority"):
        row = _rows(projection, method)[1]
        assert row.error == pytest.approx(reference.error, abs=1e-12)
        assert row.bias == pytest.approx(reference.bias, abs=1e-12)
        assert row.variance == pytest.approx(reference.variance, abs=1e-12)
        assert row.incoherence == pytest.approx(reference.incoherence, abs=1e-12)
        assert row.low == pytest.approx(reference.incoherence_low, abs=1e-12)
        assert row.high == pytest.approx(reference.incoherence_high, abs=1e-12)


def test_averaging_divides_the_unbiased_variance_by_m() -> None:
    rng = np.random.default_rng(3)
    w = rng.uniform(0.5, 2.0, 30)
    items = [
        estimate_item(
            [float(x) for x in rng.normal(rng.normal(), 1.0, 2 + i % 4)],
            0.0,
            item_id=str(i),
            weight=float(w[i]),
        )
        for i in range(30)
    ]
    rows = _rows(ensemble_projection(items, ms=(1, 3, 5, 9), confidence=0.9), "averaging")
    b = np.array([i.bias for i in items], dtype=np.float64)
    v = np.array([i.variance for i in items], dtype=np.float64)
    for m in (1, 3, 5, 9):
        e_m = b + v / m
        assert rows[m].error == pytest.approx(float(np.sum(w * e_m) / w.sum()), abs=1e-12)
        assert rows[m].variance == pytest.approx(float(np.sum(w * v / m) / w.sum()))
        assert rows[m].incoherence == pytest.approx(float(np.sum(w * v / m) / np.sum(w * e_m)))
        bounds = ratio_delta_interval(v / m, e_m, w, 0.9)
        assert bounds is not None
        assert 0.0 < bounds[0] < bounds[1] < 1.0  # so no clipping for display applies
        assert (rows[m].low, rows[m].high) == pytest.approx(bounds, abs=1e-12)


def test_plugin_items_are_converted_before_projecting() -> None:
    outcomes = [1.0, 2.0, 4.0, 0.5]
    unbiased = ensemble_projection([estimate_item(outcomes, 2.0)], ms=[3])
    plugin = ensemble_projection([estimate_item(outcomes, 2.0, estimator="plugin")], ms=[3])
    assert _rows(plugin, "averaging")[3].error == pytest.approx(
        _rows(unbiased, "averaging")[3].error, abs=1e-12
    )


def test_majority_rows_say_what_k_they_need() -> None:
    items = [_categorical("a", {"A": 4, "B": 3, "C": 1}), _categorical("b", {"A": 2, "B": 4})]
    rows = _rows(ensemble_projection(items, ms=(1, 3, 5, 9)), "majority")
    assert rows[3].variance is not None  # K >= 6 everywhere
    assert rows[5].error is not None and rows[5].variance is None
    assert "needs K >= 10" in rows[5].note
    assert rows[9].error is None and "needs K >= 9 for every item" in rows[9].note
    q = vote_probabilities([[2, 4]], 5)[0]  # item b: one m=5 vote, A must win
    expected = (2 * (1 - vote_probabilities([[4, 3, 1]], 5)[0][0]) + 2 * (1 - q[0])) / 2
    assert rows[5].error == pytest.approx(expected, abs=1e-12)


def test_too_many_distinct_answers_is_reported_not_guessed() -> None:
    labels = [f"answer {i}" for i in range(40)]
    item = estimate_item(labels, "answer 0", item_id="free text")
    row = _rows(ensemble_projection([item], ms=[9]), "majority")[9]
    assert row.error is None and "too many distinct answers" in row.note


def test_items_that_cannot_vote_or_average_are_listed_with_reasons() -> None:
    kl = estimate_item(["A", "B", "A"], "A", item_id="kl", loss="kl")
    numeric = estimate_item([1.0, 2.0], 1.0, item_id="num")
    no_target = estimate_item(["A", "B"], item_id="free")
    projection = ensemble_projection([kl, numeric, no_target], ms=[1])
    assert projection.items == 2
    assert projection.items_without_target == ["free"]
    assert projection.averaging.excluded == [SkippedItem("kl", "KL loss does not average")]
    reasons = {e.id: e.reason for e in projection.majority.excluded}
    assert "Brier" in reasons["kl"] and "numeric" in reasons["num"]
    assert projection.majority.items == 0


def test_binary_votes_are_half_the_categorical_brier_and_invalid_counts_as_false() -> None:
    passed = estimate_item([True] * 5 + [False] * 2 + [INVALID], item_id="p")
    row = _rows(ensemble_projection([passed], ms=[3]), "majority")[3]
    q = vote_probabilities([[5, 3]], 3)[0]
    assert row.error == pytest.approx(1 - q[0], abs=1e-12)
    assert row.variance == pytest.approx((1 - vote_agreement([[5, 3]], 3)[0]) / 2, abs=1e-12)
    failing = estimate_item([True] * 2 + [False] * 3 + [INVALID] * 3, False, item_id="f")
    row = _rows(ensemble_projection([failing], ms=[3]), "majority")[3]
    assert row.error == pytest.approx(1 - vote_probabilities([[6, 2]], 3)[0][0], abs=1e-12)


def test_estimates_and_their_json_records_give_the_same_projection() -> None:
    items = [_categorical("a", {"A": 6, "B": 3, "C": 1}), _categorical("b", {"C": 7, "A": 3})]
    from_objects = ensemble_projection(items)
    from_records = ensemble_projection(json.loads(json.dumps([i.to_dict() for i in items])))
    assert from_objects == from_records
    json.dumps(dataclasses.asdict(from_objects), allow_nan=False)


@pytest.mark.parametrize("ms", [[0], [-1], [2.5], [True], []])
def test_bad_ensemble_sizes_raise(ms: list[Any]) -> None:
    with pytest.raises(ValueError, match="ensemble size"):
        ensemble_projection([_categorical("a", {"A": 3})], ms=ms)


def test_sizes_are_deduplicated_and_sorted() -> None:
    projection = ensemble_projection([_categorical("a", {"A": 3, "B": 6})], ms=[3, 1, 3])
    assert projection.ms == [1, 3]


# ----------------------------------------------------------------------------------------
# against ensembles drawn fresh from the generating distributions
#
# N items with known answer probabilities p_i (target A) and K = 20 observed samples each,
# so every m in (1, 3, 5, 9) has 2m <= K and the vote's variance is estimable. The projection
# is averaged over S independent observed draws; fresh ensembles are drawn R times per item
# and m. Both are unbiased for the same population mean, so their difference has variance
# se_proj^2 + se_fresh^2 (se_proj from the spread over the S draws, se_fresh from the per-item
# sample variances of the fresh losses). 16 comparisons are made (4 m x error/variance x 2
# methods); at 4 SE each the chance of any false failure is below 0.1%.

_N, _K, _S, _R = 60, 20, 40, 400
_MS = (1, 3, 5, 9)


def _probabilities(rng: np.random.Generator) -> NDArray[np.float64]:
    p: NDArray[np.float64] = rng.dirichlet([2.0, 1.0, 1.0, 0.5], size=_N)
    return p


def _projected(p: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Per-m projections from S observed draws: arrays (S, len(ms)) per method and figure."""
    rng = np.random.default_rng(1)
    out: dict[str, list[list[float]]] = {}
    for _ in range(_S):
        items = []
        for i, row in enumerate(p):
            counts = rng.multinomial(_K, row)
            items.append(_categorical(f"q{i}", dict(zip("ABCD", map(int, counts), strict=True))))
        projection = ensemble_projection(items, ms=_MS)
        for method in ("averaging", "majority"):
            rows = getattr(projection, method).rows
            for figure in ("error", "variance"):
                out.setdefault(f"{method}.{figure}", []).append([getattr(r, figure) for r in rows])
    return {key: np.asarray(value) for key, value in out.items()}


def _fresh(p: NDArray[np.float64]) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Mean and SE over items of fresh ensembles' losses: (mean per m, se per m)."""
    rng = np.random.default_rng(2)
    target = np.array([1.0, 0.0, 0.0, 0.0])
    sums: dict[str, list[tuple[float, float]]] = {}
    for m in _MS:
        per_item: dict[str, list[tuple[float, float]]] = {}
        for row in p:
            draws = rng.multinomial(m, row, size=2 * _R)
            soft = draws / m
            soft_loss = ((soft[:_R] - target) ** 2).sum(axis=1)
            soft_spread = 0.5 * ((soft[:_R] - soft[_R:]) ** 2).sum(axis=1)
            top = draws == draws.max(axis=1, keepdims=True)
            vote = np.argmax(top * rng.random(top.shape), axis=1)  # ties: uniformly at random
            vote_loss = 2.0 * (vote[:_R] != 0)
            vote_spread = (vote[:_R] != vote[_R:]).astype(np.float64)
            for key, losses in (
                ("averaging.error", soft_loss),
                ("averaging.variance", soft_spread),
                ("majority.error", vote_loss),
                ("majority.variance", vote_spread),
            ):
                per_item.setdefault(key, []).append((losses.mean(), losses.var(ddof=1) / _R))
        for key, values in per_item.items():
            means, variances = np.array(values).T
            sums.setdefault(key, []).append((means.mean(), math.sqrt(variances.sum()) / _N))
    return {key: (np.array(v)[:, 0], np.array(v)[:, 1]) for key, v in sums.items()}


@pytest.fixture(scope="module")
def simulated() -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """The items' answer probabilities and their projections over S observed draws."""
    p = _probabilities(np.random.default_rng(0))
    return p, _projected(p)


def test_projections_match_fresh_simulated_ensembles(
    simulated: tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]],
) -> None:
    # Variance of an ensemble = expected loss spread between two independent ensembles:
    # for averaging E||f - f'||^2 / 2, for the vote P(vote != vote').
    p, projected = simulated
    fresh = _fresh(p)
    for key, (fresh_mean, fresh_se) in fresh.items():
        proj_mean = projected[key].mean(axis=0)
        proj_se = projected[key].std(axis=0, ddof=1) / math.sqrt(_S)
        tolerance = 4.0 * np.sqrt(proj_se**2 + fresh_se**2)
        assert np.all(np.abs(proj_mean - fresh_mean) <= tolerance), (
            key,
            proj_mean,
            fresh_mean,
            tolerance,
        )
    # the vote really departs from 1/m scaling: with these items the m = 9 vote keeps far
    # more than 1/9 of the one-sample variance (the averaging row keeps exactly 1/9)
    vote_variance = projected["majority.variance"].mean(axis=0)
    assert vote_variance[-1] > 2.0 * vote_variance[0] / 9


def _exact_vote(p: NDArray[np.float64], m: int) -> tuple[float, float]:
    """Population vote error and variance by enumerating multinomial compositions."""
    q = np.zeros(p.shape[0])
    for a in itertools.product(range(m + 1), repeat=p.shape[0]):
        if sum(a) != m:
            continue
        chance = math.factorial(m) * math.prod(
            pc**ac / math.factorial(ac) for pc, ac in zip(p, a, strict=True)
        )
        q += chance * _shares([c for c, n in enumerate(a) for _ in range(n)], p.shape[0])
    return 2.0 * (1.0 - q[0]), 1.0 - float(q @ q)


def test_vote_projection_is_unbiased_for_the_exact_population_value(
    simulated: tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]],
) -> None:
    # Same S observed draws; the exact population mean over items comes from enumerating the
    # multinomial outcomes of m fresh draws (independent code). Tolerance 4 se_proj.
    p, projected = simulated
    for j, m in enumerate(_MS):
        exact = np.array([_exact_vote(row, m) for row in p]).mean(axis=0)
        for figure, value in zip(("error", "variance"), exact, strict=True):
            draws = projected[f"majority.{figure}"][:, j]
            se = draws.std(ddof=1) / math.sqrt(_S)
            assert abs(draws.mean() - value) <= 4.0 * se, (m, figure, draws.mean(), value)


def test_averaging_projection_matches_fresh_numeric_ensembles() -> None:
    # Numeric items: x ~ N(mu_i, sigma_i^2), target 0, K = 10 observed. A fresh ensemble's loss
    # is the squared mean of m fresh draws, (mu + s Z)^2 with s^2 = sigma^2 / m: mean
    # mu^2 + s^2 (the population value), variance 2 s^4 + 4 mu^2 s^2 (exact), which gives
    # se_fresh = sqrt(sum_i var_i / R) / N for the mean over items of R fresh ensembles each.
    rng = np.random.default_rng(5)
    mu, sigma = rng.normal(0, 1, _N), rng.uniform(0.5, 2.0, _N)
    projected = []
    for _ in range(_S):
        samples = rng.normal(mu[:, None], sigma[:, None], (_N, 10))
        items = [
            estimate_item([float(x) for x in row], 0.0, item_id=str(i))
            for i, row in enumerate(samples)
        ]
        rows = ensemble_projection(items, _MS).averaging.rows
        projected.append([r.error for r in rows])
    table = np.asarray(projected)
    for j, m in enumerate(_MS):
        s2 = sigma**2 / m
        fresh = (rng.normal(mu[:, None], np.sqrt(s2)[:, None], (_N, _R)) ** 2).mean(axis=1)
        se_fresh = math.sqrt(float(np.sum(2 * s2**2 + 4 * mu**2 * s2)) / _R) / _N
        se_proj = float(table[:, j].std(ddof=1)) / math.sqrt(_S)
        mean = float(table[:, j].mean())
        assert abs(mean - float(fresh.mean())) <= 4.0 * math.hypot(se_proj, se_fresh)
        assert abs(mean - float(np.mean(mu**2 + s2))) <= 4.0 * se_proj


def test_log_factorials_match_scipy_and_need_no_scipy() -> None:
    import subprocess
    import sys

    from scipy.special import gammaln

    from pytest_hotmess.stats.ensemble import _log_factorial

    x = np.array([[0, 1, 2], [10, 170, 3000]], dtype=np.float64)
    assert np.allclose(_log_factorial(x), gammaln(x + 1.0), rtol=1e-15, atol=0.0)
    assert _log_factorial(np.array([5.0]))[0] == pytest.approx(math.log(120), rel=1e-15)
    code = (
        "import sys\n"
        "from pytest_hotmess.stats.ensemble import vote_agreement, vote_probabilities\n"
        "vote_probabilities([[3, 2, 1]], 3); vote_agreement([[3, 2, 1]], 3)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


# ----------------------------------------------------------------------------------------
# the array passes give the per-row figures


def test_delta_intervals_of_rows_are_each_row_s_ratio_delta_interval() -> None:
    from pytest_hotmess.stats.ensemble import _delta_intervals

    rng = np.random.default_rng(11)
    for n in (2, 3, 7, 40, 300):
        errors = rng.uniform(0.0, 1.0, size=(4, n))
        variances = errors * rng.uniform(0.0, 1.0, size=(4, n))
        errors[3] = 0.0  # no error: undefined
        weights = rng.choice([0.5, 1.0, 3.0], size=n)
        lows, highs = _delta_intervals(variances, errors, weights, 0.9)
        for row in range(4):
            expected = ratio_delta_interval(variances[row], errors[row], weights, 0.9)
            found = None if math.isnan(lows[row]) else (float(lows[row]), float(highs[row]))
            assert found == expected  # the same sums in the same order: bit for bit


def test_a_rows_vote_figures_do_not_depend_on_the_other_rows() -> None:
    """What makes remembering them exact: a row alone and in any batch, bit for bit."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        k, classes = int(rng.choice([4, 10, 12, 20])), int(rng.integers(1, 6))
        rows = np.array([rng.multinomial(k, rng.dirichlet(np.ones(classes))) for _ in range(9)])
        for m in (1, 2, 3, 5, 9):
            if k >= m:
                batch = vote_probabilities(rows, m)
                assert all(
                    np.array_equal(batch[i], vote_probabilities(rows[i : i + 1], m)[0])
                    for i in range(9)
                )
            if k >= 2 * m:
                pairs = vote_agreement(rows, m)
                assert all(pairs[i] == vote_agreement(rows[i : i + 1], m)[0] for i in range(9))


def test_remembered_votes_give_the_figures_of_a_fresh_enumeration() -> None:
    from pytest_hotmess.stats import ensemble

    rng = np.random.default_rng(4)
    tests = []
    for _ in range(6):
        items = []
        for i in range(12):
            drawn = rng.multinomial(9, [0.55, 0.25, 0.15, 0.05]) + np.array([1, 0, 0, 0])  # "A" 1st
            counts = {k: int(v) for k, v in zip("ABCD", drawn, strict=True) if v}
            items.append(_categorical(f"q{i}", counts))
        tests.append(items)
    fresh = []
    for items in tests:  # each test on its own, nothing remembered
        ensemble._remembered.clear()
        fresh.append(ensemble_projection(items))
    ensemble._remembered.clear()
    warm = [ensemble_projection(items) for items in tests]  # later tests reuse earlier rows
    assert ensemble._remembered
    assert warm == fresh
    for items, projection in zip(tests, warm, strict=True):
        counts = [[int(i.counts[k]) for k in ("A", "B", "C", "D") if k in i.counts] for i in items]
        for m in (3, 5):
            width = max(len(c) for c in counts)
            padded = np.array([c + [0] * (width - len(c)) for c in counts])
            hit = vote_probabilities(padded, m)[:, 0]  # target "A" is each item's first label
            error = float(np.mean(2.0 * (1.0 - hit)))
            row = _rows(projection, "majority")[m]
            assert row.error == pytest.approx(error, rel=1e-14, abs=1e-15)


def test_rows_summed_together_are_each_row_summed_alone() -> None:
    """Both methods' rows (and the error-only rows) are summed in one pass: every row's
    figures must be, bit for bit, those of the row summed on its own."""
    from pytest_hotmess.stats.ensemble import _summaries

    rng = np.random.default_rng(21)
    for n in (1, 2, 3, 9, 50, 130):
        for zero_weight in (False, True):
            errors = rng.uniform(0.0, 1.0, size=(7, n))
            variances = errors[:5] * rng.uniform(0.0, 1.2, size=(5, n))
            errors[2] = 0.0  # no error: no incoherence
            errors[6, 0] = -1e-15  # a vote's rounding below zero
            weights = rng.choice([0.5, 1.0, 3.0], size=n)
            if zero_weight:
                weights[0] = 0.0
            ms = [1, 3, 5, 9, 17, 33, 65]
            notes = [None] * 5 + ["error only", "error only too"]
            together = _summaries(ms, errors, variances, weights, 0.9, notes)
            for row in range(7):
                paired = variances[row : row + 1] if row < 5 else None
                alone = _summaries(
                    [ms[row]], errors[row : row + 1], paired, weights, 0.9, [notes[row]]
                )
                assert together[row] == alone[0]


def test_a_projection_is_the_same_with_its_methods_summed_apart() -> None:
    """Averaging and majority rows share one pass when their items (so weights) are the same;
    summed apart (as when a KL or numeric item leaves one method) they give the same rows."""
    from pytest_hotmess.stats import ensemble

    rng = np.random.default_rng(5)
    original = ensemble._sum_rows

    def apart(methods: Any, ms: Any, confidence: float) -> None:
        for method in methods:
            original([method], ms, confidence)

    for trial in range(30):
        items = []
        for i in range(int(rng.integers(2, 40))):
            k = int(rng.choice([4, 10, 20]))
            drawn = rng.multinomial(k, rng.dirichlet(np.ones(4)))
            counts = {label: int(n) for label, n in zip("ABCD", drawn, strict=True) if n}
            item = _categorical(f"q{i}", counts, target=str(rng.choice(list("ABCDE"))))
            items.append(dataclasses.replace(item, weight=float(rng.choice([0.0, 1.0, 2.0]))))
        together = ensemble_projection(items, confidence=0.9)
        ensemble._sum_rows = apart  # type: ignore[assignment]
        try:
            separate = ensemble_projection(items, confidence=0.9)
        finally:
            ensemble._sum_rows = original  # type: ignore[assignment]
        assert together == separate, trial


def test_the_common_vote_classes_are_those_of_the_general_reading() -> None:
    """A categorical item's counts are read by a shortcut; any other mapping goes the general
    way: both give the same answer counts, target index and scale."""
    from collections.abc import Mapping as AbcMapping

    from pytest_hotmess.stats.ensemble import _vote_classes

    class Counts(AbcMapping[str, int]):
        def __init__(self, data: dict[str, int]) -> None:
            self.data = data

        def __getitem__(self, key: str) -> int:
            return self.data[key]

        def __iter__(self) -> Any:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

    for counts, target in [
        ({"A": 3, "B": 1}, "A"),
        ({"B": 1, "A": 3}, "A"),
        ({"B": 1, "C": 2}, "A"),
        ({"1": 2, "2": 5}, 2),
        ({INVALID_LABEL: 2, "B": 1}, "B"),
        ({}, "A"),
    ]:
        item = _categorical("q", {"Z": 2})
        common = dataclasses.replace(item, counts=counts, target=target)
        general = dataclasses.replace(item, counts=Counts(counts), target=target)
        assert _vote_classes(common) == _vote_classes(general)
