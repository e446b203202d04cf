"""The paper's synthetic optimizer in miniature: the longer the run, the more its error scatters.

Each item is one random quadratic (d = 4, condition number 50); the "model" runs T steps of a
steepest descent that aims slightly short of the optimum (a systematic error) and takes a noisy
step every time (scatter that piles up). Its final point is a vector outcome, scored by squared
distance to the optimum. As T grows the systematic part shrinks toward its floor while the
scatter grows, so the incoherence column of the report rises with T (pooled truth over these
problems: 0.06, 0.12, 0.20, 0.32, 0.43), as in the paper's experiment.
"""

from __future__ import annotations

import pytest

from pytest_hotmess import Resampler
from pytest_hotmess.sim import QuadraticOptimizerSim

SEED = 0
"""Seed of the step noise: fixed, so the demo gives the same numbers on every run."""

PROBLEMS = [QuadraticOptimizerSim(problem_seed=problem, seed=SEED) for problem in range(8)]
"""Eight random problems: the items of each test."""

LENGTHS = (5, 10, 20, 40, 80)
"""Trajectory lengths T; zero-padded ids keep the report's rows (sorted by node id) in order."""


@pytest.mark.coherence(samples=20)
@pytest.mark.parametrize("steps", LENGTHS, ids=lambda steps: f"{steps:03d}-steps")
def test_final_point(resample: Resampler, steps: int) -> None:
    """Ungated: the report shows error, bias, variance and incoherence for each length."""
    for problem in PROBLEMS:
        resample(problem.run, steps, item=f"problem-{problem.problem_seed}", target=problem.optimum)


@pytest.mark.coherence(samples=20, max_incoherence=0.4)
def test_final_loss(resample: Resampler) -> None:
    """A numeric outcome: the objective value f(x_T) at the end of an 80-step run, target 0.

    The final *point* of these runs is about 0.43 incoherent, yet their final *loss* only about
    0.14 (truth): the scatter piles up along the flat directions of each quadratic, where it
    barely changes f, while the aim short of the optimum lies partly along steep ones, where it
    costs a lot, the same in every run. What you score decides how much of the error is scatter.
    """
    for problem in PROBLEMS:
        resample(problem.final_loss, 80, item=f"problem-{problem.problem_seed}", target=0.0)
