"""QuadraticOptimizerSim: the problem it promises, exact population moments, reproducible
noise, and incoherence that rises with trajectory length (true and measured)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pytest_hotmess.sampling.context import sample_scope
from pytest_hotmess.sim import QuadraticOptimizerSim
from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import estimate_item


def test_problem_is_a_seeded_positive_definite_quadratic_with_condition_number_50() -> None:
    sim = QuadraticOptimizerSim(problem_seed=5)
    eigenvalues = np.linalg.eigvalsh(sim.matrix)
    assert eigenvalues == pytest.approx(np.geomspace(1.0, 50.0, 4), rel=1e-10)
    assert np.allclose(sim.matrix, sim.matrix.T)
    assert sim.dim == 4
    assert np.linalg.norm(sim.start - sim.optimum) == pytest.approx(2.0)
    assert sim.loss(sim.optimum) == 0.0
    assert sim.loss(sim.start) > 0.0
    same = QuadraticOptimizerSim(problem_seed=5, seed=9)
    other = QuadraticOptimizerSim(problem_seed=6)
    assert np.array_equal(sim.matrix, same.matrix) and np.array_equal(sim.optimum, same.optimum)
    assert not np.allclose(sim.optimum, other.optimum)


def test_noiseless_run_is_the_true_mean_and_without_undershoot_reaches_the_optimum() -> None:
    sim = QuadraticOptimizerSim(noise=0.0, problem_seed=2)
    for length in (0, 1, 7, 40):
        mean, covariance = sim.mean_and_covariance(length)
        assert np.allclose(sim.run(length, 0), mean, atol=1e-12)
        assert np.allclose(covariance, 0.0)
    # The mean converges to the aim point x* + 0.3 (x0 - x*): bias -> 0.09 * |x0 - x*|^2 = 0.36.
    assert sim.true_terms(3000) == pytest.approx((0.36, 0.36, 0.0), abs=1e-12)
    exact = QuadraticOptimizerSim(noise=0.0, undershoot=0.0, problem_seed=2)
    # The slowest mode contracts by 1 - 1/50 per step: 0.98^3000 ~ 1e-26.
    assert np.allclose(exact.run(3000, 0), exact.optimum, atol=1e-12)


def test_population_moments_match_simulation() -> None:
    sim = QuadraticOptimizerSim(problem_seed=1, seed=4)
    length, n = 16, 4000
    points = sim.run_batch(length, range(n))
    mean, covariance = sim.mean_and_covariance(length)
    # The final point is exactly Gaussian (affine in Gaussian noise). Each coordinate's sample
    # mean has sd sqrt(S_jj / n); allow 4 sd.
    assert np.all(np.abs(points.mean(axis=0) - mean) <= 4 * np.sqrt(np.diag(covariance) / n))
    # Sample covariance (ddof 1) of a Gaussian: Var(tr S_hat) = 2 tr(S^2) / (n - 1).
    trace_hat = float(np.trace(np.cov(points.T)))
    trace_sd = math.sqrt(2 * float(np.trace(covariance @ covariance)) / (n - 1))
    assert abs(trace_hat - float(np.trace(covariance))) <= 4 * trace_sd
    # Final losses: their mean and their mean square (= loss error vs target 0) within 4 SE.
    losses = np.array([sim.loss(p) for p in points])
    error, bias, variance = sim.true_loss_terms(length)
    assert error == pytest.approx(bias + variance)
    assert abs(losses.mean() - math.sqrt(bias)) <= 4 * losses.std(ddof=1) / math.sqrt(n)
    squares = losses**2
    assert abs(squares.mean() - error) <= 4 * squares.std(ddof=1) / math.sqrt(n)


def test_samples_are_reproducible_and_longer_trajectories_continue_shorter_ones() -> None:
    sim = QuadraticOptimizerSim(seed=3)
    assert np.array_equal(sim.run(10, 5), QuadraticOptimizerSim(seed=3).run(10, 5))
    assert not np.allclose(sim.run(10, 5), sim.run(10, 6))
    assert not np.allclose(sim.run(10, 5), QuadraticOptimizerSim(seed=4).run(10, 5))
    assert not np.allclose(
        QuadraticOptimizerSim(problem_seed=1).run(10, 5)
        - QuadraticOptimizerSim(problem_seed=1).optimum,
        QuadraticOptimizerSim(problem_seed=2).run(10, 5)
        - QuadraticOptimizerSim(problem_seed=2).optimum,
    )
    long = sim.trajectories(20, [0, 1])
    short = sim.trajectories(8, [0, 1])
    assert np.array_equal(long[:, :9], short)
    assert np.array_equal(sim.run_batch(20, [1, 0])[0], long[1, -1])
    with sample_scope("problem", 6):
        assert np.array_equal(sim.run(10), sim.run(10, 6))
    counted = QuadraticOptimizerSim(seed=3)
    assert np.array_equal(counted.run(10), sim.run(10, 0))
    assert np.array_equal(counted.run(10), sim.run(10, 1))
    assert counted.final_loss(10, 2) == sim.loss(sim.run(10, 2))


LENGTHS = [1, 4, 16, 64]


def test_true_incoherence_rises_with_trajectory_length() -> None:
    for problem in range(10):
        sim = QuadraticOptimizerSim(problem_seed=problem)
        terms = [sim.true_terms(t) for t in range(1, 200)]
        biases = [b for _, b, _ in terms]
        variances = [v for _, _, v in terms]
        # Bias falls and variance grows at every step, so their ratio rises (see the class doc).
        assert all(b2 <= b1 + 1e-15 for b1, b2 in itertools.pairwise(biases))
        assert all(v2 > v1 for v1, v2 in itertools.pairwise(variances))
        ratios = [sim.true_incoherence(t) for t in LENGTHS]
        assert all(r2 > r1 for r1, r2 in itertools.pairwise(ratios))
    assert QuadraticOptimizerSim().true_incoherence(1) == pytest.approx(0.0249, abs=1e-4)
    assert QuadraticOptimizerSim().true_incoherence(64) == pytest.approx(0.4813, abs=1e-4)


def test_measured_incoherence_rises_with_trajectory_length() -> None:
    problems = [QuadraticOptimizerSim(problem_seed=p, seed=17) for p in range(20)]
    measured, truth = [], []
    for length in LENGTHS:
        estimates = []
        for index, sim in enumerate(problems):
            points = sim.run_batch(length, range(30))
            estimates.append(
                estimate_item(list(points), sim.optimum, kind="vector", item_id=str(index))
            )
        result = aggregate(estimates)
        assert result.incoherence is not None
        measured.append(result.incoherence)
        terms = [sim.true_terms(length) for sim in problems]
        truth.append(sum(t[2] for t in terms) / sum(t[0] for t in terms))
    assert all(m2 > m1 for m1, m2 in itertools.pairwise(measured)), measured
    assert all(t2 > t1 for t1, t2 in itertools.pairwise(truth)), truth


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 0}, "dim"),
        ({"condition_number": 0.5}, "condition_number"),
        ({"undershoot": 1.5}, "undershoot"),
        ({"noise": -1.0}, "noise"),
        ({"step_size": 0.05}, "step_size"),
        ({"seed": "1"}, "seed"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuadraticOptimizerSim(**kwargs)  # type: ignore[arg-type]


def test_bad_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="trajectory_length"):
        QuadraticOptimizerSim().run(-1, 0)
    with pytest.raises(ValueError, match="trajectory_length"):
        QuadraticOptimizerSim().true_terms(2.5)  # type: ignore[arg-type]
