"""The plugin's 95% delta interval covers the simulators' true incoherence.

Each check runs 50 seeded experiments of N = 40 items x K = 10 samples through the engine
(``estimate_item`` + ``aggregate``) and counts how often the interval holds the truth.
The truth is what the unbiased estimator estimates: the ratio of the items' population
variance and error sums (``true_incoherence``), which does not depend on K.

Tolerance: with true coverage 0.95, the number of misses in 50 runs is Binomial(50, 0.05),
mean 2.5; P(misses >= 6) = 4%. The criterion ">= 45 of 50" is that threshold. Measured over 400
runs: hot_mess 94.5%, coherent 99.3%, scattering 95.8%; optimizer 100% (conditional truth:
the interval also allows for between-problem spread, so it is conservative) and 95.3%
(population truth over random problems). Every check is seeded, so its
outcome is fixed; the negative controls show that a wrong truth is not covered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from pytest_hotmess.sim import (
    MultipleChoiceSim,
    QuadraticOptimizerSim,
    coherent,
    extract_letter,
    hot_mess,
    scattering,
)
from pytest_hotmess.stats.aggregate import Aggregate, aggregate
from pytest_hotmess.stats.decompose import ItemEstimate, estimate_item
from pytest_hotmess.stats.kinds import INVALID

RUNS, ITEMS, K = 50, 40, 10
REQUIRED = 45


def interval(result: Aggregate) -> tuple[float, float]:
    assert result.incoherence_low is not None and result.incoherence_high is not None
    return result.incoherence_low, result.incoherence_high


def covered(bounds: Sequence[tuple[float, float]], truths: Sequence[float]) -> int:
    return sum(low <= truth <= high for (low, high), truth in zip(bounds, truths, strict=True))


def answerer_run(model: MultipleChoiceSim, prompts: list[str]) -> Aggregate:
    estimates: list[ItemEstimate] = []
    for index, prompt in enumerate(prompts):
        letters = [extract_letter(model.sample(prompt, k).text) for k in range(K)]
        outcomes = [INVALID if letter is None else letter for letter in letters]
        answer = model.profile(prompt).answer
        estimates.append(estimate_item(outcomes, answer, kind="categorical", item_id=str(index)))
    return aggregate(estimates, confidence=0.95)


@pytest.mark.parametrize("factory", [hot_mess, coherent, scattering])
def test_answerer_interval_covers_true_incoherence(
    factory: Callable[..., MultipleChoiceSim],
) -> None:
    bounds, truths, plugin_truths, population = [], [], [], []
    for run in range(RUNS):
        model = factory(seed=run)
        # Fresh prompts each run: new items (new difficulties, answers) as well as new samples.
        prompts = [f"run {run}, question {i}: which option is right?" for i in range(ITEMS)]
        bounds.append(interval(answerer_run(model, prompts)))
        truth = model.true_incoherence(prompts)
        plugin_truth = model.true_incoherence(prompts, K, "plugin")
        assert truth is not None and plugin_truth is not None
        truths.append(truth)
        plugin_truths.append(plugin_truth)
        pop = model.population_incoherence()
        assert pop is not None
        population.append(pop)
    assert covered(bounds, truths) >= REQUIRED
    # Items are fresh draws, so the population value is a target too, but the delta interval
    # covers it only ~93% of the time for these skewed item mixtures with N = 40 (400-run
    # measurement: coherent 93.3%, scattering 95.5%), too close to the 90% line for a 50-run
    # check. At 93% coverage, misses ~ Binomial(50, 0.07): P(misses > 10) < 0.5%.
    assert covered(bounds, population) >= 40
    # Negative control: the plug-in expectation (lower by (K-1)/K, which the unbiased
    # estimator does NOT target) is missed far more often; hot_mess's exact numbers: 0.726
    # vs 0.654 with intervals ~0.07 wide.
    if factory is hot_mess:
        assert covered(bounds, plugin_truths) < REQUIRED - 20


def optimizer_run(problems: list[QuadraticOptimizerSim], length: int) -> Aggregate:
    estimates = [
        estimate_item(
            list(sim.run_batch(length, range(K))), sim.optimum, kind="vector", item_id=str(i)
        )
        for i, sim in enumerate(problems)
    ]
    return aggregate(estimates, confidence=0.95)


def ratio_of_true_sums(problems: list[QuadraticOptimizerSim], length: int) -> float:
    terms = np.array([sim.true_terms(length) for sim in problems])
    return float(terms[:, 2].sum() / terms[:, 0].sum())


def test_optimizer_interval_covers_true_incoherence_of_its_problems() -> None:
    length = 16
    problems = [QuadraticOptimizerSim(problem_seed=i) for i in range(ITEMS)]
    truth = ratio_of_true_sums(problems, length)
    shorter = ratio_of_true_sums(problems, length // 2)
    bounds = []
    for run in range(RUNS):
        noisy = [QuadraticOptimizerSim(problem_seed=i, seed=run) for i in range(ITEMS)]
        bounds.append(interval(optimizer_run(noisy, length)))
    assert covered(bounds, [truth] * RUNS) >= REQUIRED
    # Negative control: the truth at half the length is a different number and is missed.
    assert covered(bounds, [shorter] * RUNS) < REQUIRED - 20


def test_optimizer_interval_covers_population_incoherence_over_random_problems() -> None:
    """Fresh problems every run; the target is the ratio of expected sums over problems.

    That expectation is computed from the exact terms of 2,000 other problems. Its own Monte
    Carlo error: the linearised ratio has per-problem sd ~0.085 (from the run-to-run spread),
    so ~0.085 / sqrt(2000) = 0.002, a tenth of the interval's half-width (~0.026).
    """
    length = 16
    reference = [QuadraticOptimizerSim(problem_seed=10**6 + j) for j in range(2000)]
    population = ratio_of_true_sums(reference, length)
    bounds = []
    for run in range(RUNS):
        problems = [
            QuadraticOptimizerSim(problem_seed=ITEMS * run + i, seed=run) for i in range(ITEMS)
        ]
        bounds.append(interval(optimizer_run(problems, length)))
    assert covered(bounds, [population] * RUNS) >= REQUIRED
