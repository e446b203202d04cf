"""Group-sequential boundaries, decisions and their error rates (pytest_hotmess.stats.sequential).

Monte Carlo tolerances: a rate estimated from n independent runs has standard error
sqrt(p (1 - p) / n); under the claim p <= alpha, a run above alpha + 3 SE happens with
probability about 0.13%, and every simulation here is seeded, so the checks are deterministic.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import special, stats

from pytest_hotmess.stats.aggregate import gate_incoherence, gate_mean
from pytest_hotmess.stats.decompose import ItemEstimate, categorical_terms, estimate_item
from pytest_hotmess.stats.sequential import (
    SequentialPlan,
    decide,
    default_looks,
    look_bounds,
    make_plan,
    obf_spending,
    plan_looks,
)

ALPHA = 0.05
CONFIDENCE = 0.95


def mc_tolerance(p: float, n: int) -> float:
    """Three Monte Carlo standard errors of a rate p estimated from n runs."""
    return 3.0 * math.sqrt(p * (1.0 - p) / n)


# ----------------------------------------------------------------------------------------
# schedules and plans


@pytest.mark.parametrize(
    ("initial", "max_samples", "step", "looks"),
    [
        (2, 20, 9, (2, 11, 20)),
        (4, 20, 4, (4, 8, 12, 16, 20)),
        (3, 10, 4, (3, 7, 10)),
        (5, 5, 3, (5,)),
    ],
)
def test_plan_looks_ends_at_max_samples(
    initial: int, max_samples: int, step: int, looks: tuple[int, ...]
) -> None:
    assert plan_looks(initial, max_samples, step) == looks


def test_default_looks_is_the_benchmarked_schedule() -> None:
    assert default_looks(20) == (2, 11, 20)
    assert default_looks(30) == (2, 16, 30)
    assert default_looks(3) == (2, 3)
    assert default_looks(2) == (2,)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1, 20, 2), ValueError),
        ((5, 4, 1), ValueError),
        ((2, 20, 0), ValueError),
        ((2.0, 20, 2), TypeError),
        ((2, 20, True), TypeError),
    ],
)
def test_plan_looks_rejects_bad_schedules(args: tuple[object, ...], error: type) -> None:
    with pytest.raises(error):
        plan_looks(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("looks", "confidence", "error"),
    [
        ((), 0.95, ValueError),
        ((1, 20), 0.95, ValueError),
        ((4, 4, 20), 0.95, ValueError),
        ((8, 4), 0.95, ValueError),
        ((4, 20), 1.0, ValueError),
        ((4, 20), 0.0, ValueError),
        ((4.0, 20), 0.95, TypeError),
        (tuple(range(2, 103)), 0.95, ValueError),
    ],
)
def test_make_plan_rejects_bad_input(
    looks: tuple[object, ...], confidence: float, error: type
) -> None:
    with pytest.raises(error):
        make_plan(looks, confidence)  # type: ignore[arg-type]


def test_plan_is_cached_per_looks_and_confidence() -> None:
    assert make_plan([4, 8, 20], 0.95) is make_plan((4, 8, 20), 0.95)
    assert make_plan((4, 8, 20), 0.9) is not make_plan((4, 8, 20), 0.95)


# ----------------------------------------------------------------------------------------
# boundaries


def test_one_look_is_the_fixed_one_sided_critical_value() -> None:
    plan = make_plan((20,), CONFIDENCE)
    assert plan.upper[0] == pytest.approx(stats.norm.ppf(CONFIDENCE), abs=1e-12)
    assert plan.lower[0] == -plan.upper[0]
    assert plan.spent == (plan.alpha,)
    # the t-scale value the gate uses is exactly the fixed gate's quantile (the same function)
    assert plan.critical_t(0, 99) == float(special.stdtrit(99, CONFIDENCE))
    assert plan.critical_t(0, 99) == pytest.approx(stats.t.ppf(CONFIDENCE, 99), rel=1e-12)


def test_spending_function_is_the_one_sided_lan_demets_obrien_fleming() -> None:
    z = stats.norm.ppf(1 - ALPHA / 2)
    fractions = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9]
    for t in fractions:
        expected = 2 * (1 - stats.norm.cdf(z / math.sqrt(t)))
        assert obf_spending(t, ALPHA) == pytest.approx(expected, rel=1e-9)
    spent = [obf_spending(t, ALPHA) for t in [*fractions, 1.0]]
    assert spent[-1] == ALPHA
    assert all(a < b for a, b in itertools.pairwise(spent))
    with pytest.raises(ValueError):
        obf_spending(0.0, ALPHA)
    with pytest.raises(ValueError):
        obf_spending(0.5, 1.0)


def test_matches_published_lan_demets_obrien_fleming_boundaries() -> None:
    # Five equally spaced looks, one-sided alpha = 0.025: the standard textbook/gsDesign
    # (sfLDOF) critical values 4.8769, 3.3569, 2.6803, 2.2898, 2.0310.
    plan = make_plan((4, 8, 12, 16, 20), 0.975)
    published = (4.8769, 3.3569, 2.6803, 2.2898, 2.0310)
    assert plan.upper == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize("looks", [(5, 10, 15, 20), (2, 11, 20)])
def test_boundaries_match_multivariate_normal_cdf(looks: tuple[int, ...]) -> None:
    """Independent check: P(no crossing up to look j) = 1 - alpha(t_j) by Genz's algorithm."""
    plan = make_plan(looks, CONFIDENCE)
    t = np.asarray(plan.information)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    for j in range(len(looks)):
        below = stats.multivariate_normal.cdf(
            np.asarray(plan.upper[: j + 1]),
            mean=np.zeros(j + 1),
            cov=cov[: j + 1, : j + 1],
            abseps=1e-8,
            releps=1e-8,
            maxpts=2_000_000,
        )
        assert 1.0 - below == pytest.approx(plan.spent[j], abs=2e-6)


@pytest.mark.parametrize("looks", [(2, 11, 20), (5, 10, 15, 20), tuple(range(2, 21))])
def test_null_crossing_probability_is_alpha_by_monte_carlo(looks: tuple[int, ...]) -> None:
    """Simulate the canonical process (Brownian motion at the information fractions)."""
    plan = make_plan(looks, CONFIDENCE)
    n = 200_000
    rng = np.random.default_rng(20260131)
    t = np.asarray(plan.information)
    increments = rng.standard_normal((n, len(t))) * np.sqrt(np.diff(t, prepend=0.0))
    z = np.cumsum(increments, axis=1) / np.sqrt(t)
    crossed_by = np.maximum.accumulate(z >= np.asarray(plan.upper), axis=1).sum(axis=0)
    for j, spent in enumerate(plan.spent):
        # exact binomial check (early looks expect far less than one crossing in n paths,
        # where the normal approximation does not hold): a central 99.8% interval
        low, high = stats.binom.interval(0.998, n, spent)
        assert low <= crossed_by[j] <= high, (j, crossed_by[j], n * spent)
    assert abs(crossed_by[-1] / n - ALPHA) <= mc_tolerance(ALPHA, n)


@pytest.mark.parametrize("looks", [(2, 11, 20), (4, 8, 12, 16, 20), tuple(range(2, 21))])
def test_boundaries_have_obrien_fleming_shape(looks: tuple[int, ...]) -> None:
    plan = make_plan(looks, CONFIDENCE)
    fixed = stats.norm.ppf(CONFIDENCE)
    assert all(a > b for a, b in zip(plan.upper, plan.upper[1:], strict=False))
    assert plan.upper[0] > fixed + 2.0  # early looks need overwhelming evidence
    assert fixed < plan.upper[-1] < fixed + 0.25  # the last look costs a little power
    assert plan.lower == tuple(-c for c in plan.upper)
    assert all(a > b for a, b in zip(plan.nominal[1:], plan.nominal, strict=False))
    assert plan.critical_t(0, 99) > plan.critical_t(len(looks) - 1, 99) > stats.t.ppf(0.95, 99)
    with pytest.raises(IndexError):
        plan.critical_t(len(looks), 99)


# ----------------------------------------------------------------------------------------
# decisions


def _suite(rng: np.random.Generator, items: int, *, untargeted: int = 0) -> list[ItemEstimate]:
    """Categorical items (options A-D, target A) with random answer distributions and weights."""
    labels = ["A", "B", "C", "D"]
    estimates = []
    for i in range(items + untargeted):
        p = rng.dirichlet(np.full(4, 0.7))
        k = int(rng.integers(4, 12))
        outcomes = list(rng.choice(labels, size=k, p=p))
        weight = float(rng.choice([0.0, 0.5, 1.0, 2.0], p=[0.1, 0.2, 0.5, 0.2]))
        target = "A" if i < items else None
        if target is None:
            estimates.append(estimate_item(outcomes, item_id=f"v{i}", weight=weight))
        else:
            estimates.append(estimate_item(outcomes, target, item_id=f"q{i}", weight=weight))
    return estimates


def test_single_look_reduces_exactly_to_the_fixed_gate() -> None:
    rng = np.random.default_rng(11)
    plan = make_plan((10,), CONFIDENCE)
    seen = set()
    for _ in range(40):
        estimates = _suite(rng, int(rng.integers(3, 40)), untargeted=int(rng.integers(0, 4)))
        targeted = [e for e in estimates if e.has_target]
        thresholds = {
            "max_incoherence": float(rng.uniform(0.2, 0.8)),
            "max_error": float(rng.uniform(0.5, 1.5)),
            "max_bias": float(rng.uniform(0.1, 0.8)),
            "max_variance": float(rng.uniform(0.2, 0.7)),
        }
        decision = decide(plan, 0, estimates, thresholds)
        fixed = {
            "max_incoherence": gate_incoherence(
                estimates, thresholds["max_incoherence"], confidence=CONFIDENCE
            )
        }
        for name, figure, population in [
            ("max_error", "error", targeted),
            ("max_bias", "bias", targeted),
            ("max_variance", "variance", estimates),
        ]:
            values = [float(getattr(e, figure)) for e in population]
            weights = [e.weight for e in population]
            fixed[name] = gate_mean(values, weights, thresholds[name], confidence=CONFIDENCE)
        assert decision.stop  # one look is the last look
        for name, gate in fixed.items():
            test = decision.tests[name]
            assert test.verdict == gate.verdict, name
            assert (test.statistic, test.low, test.high) == (gate.statistic, gate.low, gate.high)
            seen.add(test.verdict)
    assert seen == {"pass", "fail", "inconclusive"}  # every branch was compared


def _estimates(counts: Sequence[Sequence[int]], weight: float = 1.0) -> list[ItemEstimate]:
    labels = ["A", "B", "C", "D"]
    return [
        estimate_item(
            [label for label, n in zip(labels, row, strict=False) for _ in range(n)],
            "A",
            item_id=f"q{i}",
            labels=labels,
            weight=weight,
        )
        for i, row in enumerate(counts)
    ]


def test_stops_only_when_every_threshold_is_decided_and_keeps_verdicts() -> None:
    plan = make_plan((4, 8, 12), CONFIDENCE)
    # 20 items always right, 20 always wrong the same way: incoherence is 0 (clearly below
    # 0.5) while the mean error, 1.0, sits exactly on its threshold.
    counts = [[4, 0, 0, 0]] * 20 + [[0, 4, 0, 0]] * 20
    thresholds = {"max_incoherence": 0.5, "max_error": 1.0}
    first = decide(plan, 0, _estimates(counts), thresholds)
    assert first.verdicts == {"max_incoherence": "pass", "max_error": "continue"}
    assert not first.stop
    assert first.samples == 4
    # next look: only 8 of the 40 items are wrong (error 0.4, clearly below 1.0), and
    # scattered (incoherence would now fail 0.5, but its verdict was already given)
    later = [[8, 0, 0, 0]] * 32 + [[0, 3, 3, 2]] * 8
    second = decide(plan, 1, _estimates(later), thresholds, previous=first)
    assert second.tests["max_incoherence"] is first.tests["max_incoherence"]  # kept, not re-tested
    assert second.tests["max_error"].look_index == 1
    assert second.verdicts == {"max_incoherence": "pass", "max_error": "pass"}
    assert second.stop
    with pytest.raises(ValueError, match="previous decision"):
        decide(plan, 1, _estimates(counts), thresholds, previous=second)


def test_undecided_at_the_last_look_is_inconclusive() -> None:
    plan = make_plan((4, 8), CONFIDENCE)
    counts = [[2, 2, 0, 0], [1, 1, 1, 1], [3, 0, 1, 0], [0, 4, 0, 0]]
    thresholds = {"max_incoherence": 0.4}
    assert decide(plan, 0, _estimates(counts), thresholds).verdicts == {
        "max_incoherence": "continue"
    }
    last = decide(plan, 1, _estimates([[2 * n for n in row] for row in counts]), thresholds)
    assert last.verdicts == {"max_incoherence": "inconclusive"}
    assert last.stop


def test_no_errors_and_too_few_items_never_decide_incoherence() -> None:
    plan = make_plan((4, 8), CONFIDENCE)
    perfect = decide(plan, 0, _estimates([[4, 0, 0, 0]] * 30), {"max_incoherence": 0.3})
    assert perfect.verdicts == {"max_incoherence": "continue"}  # undefined: no error yet
    single = decide(plan, 0, _estimates([[1, 3, 0, 0]]), {"max_incoherence": 0.3})
    assert single.tests["max_incoherence"].verdict == "continue"
    assert single.tests["max_incoherence"].high == math.inf
    nothing = decide(plan, 0, _estimates([[1, 3, 0, 0]] * 3, weight=0.0), {"max_error": 1.0})
    assert nothing.tests["max_error"].statistic is None
    assert decide(plan, 0, _estimates([[4, 0, 0, 0]] * 3), {}).stop


@pytest.mark.parametrize(
    "thresholds",
    [{"max_coherence": 0.3}, {"max_incoherence": 1.5}, {"max_error": math.nan}],
)
def test_bad_thresholds_are_rejected(thresholds: dict[str, float]) -> None:
    plan = make_plan((4, 8), CONFIDENCE)
    with pytest.raises(ValueError):
        decide(plan, 0, _estimates([[3, 1, 0, 0]] * 5), thresholds)


def test_look_bounds_rejects_bad_input() -> None:
    plan = make_plan((4, 8), CONFIDENCE)
    with pytest.raises(ValueError):
        look_bounds(plan, 0, [1.0])
    with pytest.raises(ValueError):
        look_bounds(plan, 0, [1.0, 2.0], [1.0, 0.0])


# ----------------------------------------------------------------------------------------
# error rates of whole sequential runs

_WRONG = np.asarray([0.10, 0.80, 0.05, 0.05])
_SCATTERED = np.asarray([0.55, 0.15, 0.15, 0.15])


def _answer_distribution(incoherence: float) -> NDArray[np.float64]:
    """The blend of a confidently wrong and a scattered profile with this exact incoherence."""
    low, high = 0.0, 1.0  # incoherence 0.19 and 0.70 at the ends, continuous between
    for _ in range(80):
        middle = (low + high) / 2
        p = (1 - middle) * _WRONG + middle * _SCATTERED
        if (1 - p @ p) / (2 * (1 - p[0])) < incoherence:
            low = middle
        else:
            high = middle
    result: NDArray[np.float64] = (1 - low) * _WRONG + low * _SCATTERED
    return result


def _run_categorical(
    plans: Sequence[SequentialPlan],
    p: NDArray[np.float64],
    *,
    suites: int,
    items: int,
    tau: float,
    seed: int,
    naive: bool = False,
) -> list[tuple[NDArray[np.int8], NDArray[np.float64]]]:
    """Verdicts (-1 pass, +1 fail, 0 none) and samples used per suite, for each plan.

    Every item of every suite has answer distribution ``p``; all plans share the samples.
    ``naive`` re-tests at the fixed critical value at every look instead of the boundaries.
    """
    looks = sorted({k for plan in plans for k in plan.looks})
    rng = np.random.default_rng(seed)
    counts = np.zeros((suites, items, len(p)), dtype=np.int64)
    verdicts = [np.zeros(suites, dtype=np.int8) for _ in plans]
    samples = [np.full(suites, float(plan.looks[-1])) for plan in plans]
    drawn = 0
    for k in looks:
        counts += rng.multinomial(k - drawn, np.broadcast_to(p, counts.shape))
        drawn = k
        error, _, variance = categorical_terms(
            counts.reshape(-1, len(p)), np.zeros(suites * items, dtype=np.int64)
        )
        values = (variance - tau * error).reshape(suites, items)
        for plan, verdict, used in zip(plans, verdicts, samples, strict=True):
            if k not in plan.looks:
                continue
            if naive:
                _, low, high = look_bounds(make_plan((k,), plan.confidence), 0, values)
            else:
                _, low, high = look_bounds(plan, plan.looks.index(k), values)
            open_ = verdict == 0
            passed, failed = open_ & (high < 0), open_ & (low > 0)
            verdict[passed], verdict[failed] = -1, 1
            used[passed | failed] = k
    return list(zip(verdicts, samples, strict=True))


def test_false_verdicts_at_the_threshold_stay_within_alpha_and_naive_retests_do_not() -> None:
    tau, suites = 0.4, 4000
    p = _answer_distribution(tau)  # every item's incoherence is exactly the threshold
    sequential, fixed = make_plan((2, 11, 20), CONFIDENCE), make_plan((20,), CONFIDENCE)
    (seq, _), (fix, _) = _run_categorical(
        [sequential, fixed], p, suites=suites, items=100, tau=tau, seed=3
    )
    ((naive, _),) = _run_categorical(
        [sequential], p, suites=suites, items=100, tau=tau, seed=3, naive=True
    )
    limit = ALPHA + mc_tolerance(ALPHA, suites)
    assert np.mean(seq == -1) <= limit
    assert np.mean(naive == -1) > limit  # re-testing at 1.66 each look spends alpha 3 times
    assert np.mean(naive == 1) > limit
    # The fail side: the fixed t test itself runs a little above alpha here (the per-item
    # terms are skewed); the boundaries must add nothing to it. Paired comparison on the same
    # samples: the difference of two indicators has SD <= sqrt(P(they differ) / n).
    discordant = float(np.mean((seq == 1) != (fix == 1)))
    assert np.mean(seq == 1) <= np.mean(fix == 1) + 3 * math.sqrt(discordant / suites) + 1e-12


@pytest.mark.parametrize("looks", [(2, 11, 20), (4, 8, 12, 16, 20)])
@pytest.mark.parametrize(("between_sd", "items"), [(0.0, 50), (1.0, 50), (0.0, 200)])
def test_error_rates_with_exactly_normal_item_terms(
    looks: tuple[int, ...], between_sd: float, items: int
) -> None:
    """Where the t test is exact, each direction's rate is alpha (no item spread) or below.

    Item i has a fixed effect b_i ~ N(0, between_sd^2) (population mean 0: D = 0) and its
    estimate after k samples is b_i + the mean of k N(0, 1) draws, nested across looks.
    Item spread makes the looks more correlated than k_j / k_L plans for: conservative.
    """
    plan, suites = make_plan(looks, CONFIDENCE), 20_000
    rng = np.random.default_rng(5)
    effect = rng.normal(0.0, between_sd, (suites, items))
    total = np.zeros((suites, items))
    verdict = np.zeros(suites, dtype=np.int8)
    drawn = 0
    for j, k in enumerate(looks):
        total += rng.normal(0.0, math.sqrt(k - drawn), (suites, items))
        drawn = k
        _, low, high = look_bounds(plan, j, effect + total / k)
        open_ = verdict == 0
        verdict[open_ & (high < 0)] = -1
        verdict[open_ & (low > 0)] = 1
    tolerance = mc_tolerance(ALPHA, suites)
    for rate in (np.mean(verdict == -1), np.mean(verdict == 1)):
        assert rate <= ALPHA + tolerance
        if between_sd == 0.0:
            assert rate >= ALPHA - tolerance  # the design uses the alpha it is allowed


def test_stops_early_far_from_the_threshold() -> None:
    tau, suites = 0.4, 400
    plans = [make_plan((4, 8, 12, 16, 20), CONFIDENCE), make_plan((2, 11, 20), CONFIDENCE)]
    for truth, verdict_sign in [(0.2, -1), (0.6, 1)]:
        results = _run_categorical(
            plans, _answer_distribution(truth), suites=suites, items=100, tau=tau, seed=9
        )
        (every_4, used_4), (default, used_default) = results
        assert np.all(every_4 == verdict_sign) and np.all(default == verdict_sign)
        assert np.mean(used_4) <= 8.0  # at most 40% of max_samples
        assert np.mean(used_default) <= 11.0


# ----------------------------------------------------------------------------------------
# the benchmark script


def _benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "sequential.py"
    spec = importlib.util.spec_from_file_location("hotmess_benchmark_sequential", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_generators_hit_the_target_exactly() -> None:
    bench = _benchmark()
    rng = np.random.default_rng(1)
    for name, generate in bench.SCENARIOS.items():
        for truth in (0.25, 0.4, 0.55):
            p = generate(rng, 8, 30, truth)
            assert p.shape == (8, 30, 4), name
            assert np.allclose(p.sum(axis=-1), 1.0) and np.all(p >= 0)
            assert np.max(np.abs(bench.population_incoherence(p) - truth)) <= 1e-9


def test_benchmark_runs_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _benchmark()
    out = tmp_path / "sequential.json"
    argv = ["--suites", "12", "--items", "30", "--truths", "0.25,0.4,0.55", "--out", str(out)]
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| 0.25 |" in printed and "**uniform**" in printed and "**mixed**" in printed
    payload = json.loads(out.read_text())
    assert payload["config"]["looks"] == [2, 11, 20]
    for scenario in payload["scenarios"].values():
        assert [row["truth"] for row in scenario["rows"]] == [0.25, 0.4, 0.55]
        for row in scenario["rows"]:
            for design in ("fixed", "seq"):
                rates = [row[f"{design}_{v}"] for v in ("pass", "fail", "inconclusive")]
                assert sum(rates) == pytest.approx(1.0)
            assert 2 <= row["seq_samples"] <= 20
