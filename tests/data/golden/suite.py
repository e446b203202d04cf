"""The golden suite: every outcome kind x every loss x every estimator, through the plugin.

Run by ``tests/data/golden/make_golden.py`` (which writes ``report.json`` beside it) and by
``tests/results/test_golden_report.py`` (which compares a fresh run with that file). Outcomes
come from a seeded numpy generator and the models are seeded, so every figure is reproducible.
It covers weights (zero included), invalid outcomes, variance-only items, covariates (length
analysis), ``resample.map`` with sequential looks, single-item calls and simulated models.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_hotmess import format_prompt, load_bundled_questions
from pytest_hotmess.sampling.context import current_sample
from pytest_hotmess.sim import coherent, extract_letter, hot_mess

ESTIMATORS = ("unbiased", "plugin", "jackknife", "bootstrap")
LABELS = ("A", "B", "C", "D")
N_ITEMS = 14


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def _k(rng: np.random.Generator) -> int:
    return int(rng.integers(3, 13))


def _weight(rng: np.random.Generator, i: int) -> float:
    return 0.0 if i == 5 else float(rng.choice([1.0, 0.5, 2.0, 3.25]))


def _covariates(rng: np.random.Generator, k: int) -> list[dict[str, float]]:
    return [{"tokens": float(rng.integers(10, 400))} for _ in range(k)]


def _categorical(resample, rng: np.random.Generator) -> None:
    for i in range(N_ITEMS):
        k = _k(rng)
        p = rng.dirichlet(np.full(len(LABELS), 0.3 + i / 4))
        answers: list[object] = [str(LABELS[j]) for j in rng.choice(len(LABELS), size=k, p=p)]
        if i % 4 == 1:
            answers[0] = None  # invalid: a wrong answer of its own
        if i == 7:
            answers = ["B"] * k  # unanimous
        kwargs = {} if i % 6 == 3 else {"target": LABELS[i % len(LABELS)]}
        resample.record(
            answers,
            item=f"cat-{i}",
            weight=_weight(rng, i),
            covariates=_covariates(rng, k),
            **kwargs,
        )


def _distribution(resample, rng: np.random.Generator, as_vectors: bool) -> None:
    for i in range(N_ITEMS):
        k = _k(rng)
        rows = rng.dirichlet(np.full(len(LABELS), 0.5 + i / 3), size=k)
        if i == 4:
            rows = np.tile(rows[:1], (k, 1))  # identical samples
        if as_vectors:
            samples: list[object] = [[float(x) for x in row] for row in rows]
            target: object = i % len(LABELS)
        else:
            samples = [{lab: float(x) for lab, x in zip(LABELS, row, strict=True)} for row in rows]
            target = LABELS[i % len(LABELS)]
        if i % 5 == 2:
            samples[1] = None  # invalid: left out
        kwargs = {} if i % 6 == 3 else {"target": target}
        resample.record(
            samples, item=f"dist-{i}", kind="distribution", weight=_weight(rng, i), **kwargs
        )


def _binary(resample, rng: np.random.Generator) -> None:
    for i in range(N_ITEMS):
        k = _k(rng)
        answers: list[object] = [bool(x) for x in rng.random(k) < rng.uniform(0.2, 0.95)]
        if i % 3 == 0:
            answers[-1] = None
        resample.record(
            answers, item=f"bin-{i}", weight=_weight(rng, i), covariates=_covariates(rng, k)
        )


def _numeric(resample, rng: np.random.Generator) -> None:
    for i in range(N_ITEMS):
        k = _k(rng)
        centre = float(rng.normal(10.0, 3.0))
        answers: list[object] = [float(x) for x in rng.normal(centre, 0.5 + i / 5, size=k)]
        if i % 4 == 2:
            answers[0] = None
        if i == 9:
            answers = [centre] * k
        target = round(centre + float(rng.normal(0, 1)), 3)
        if i % 6 == 3:
            resample.record(answers, item=f"num-{i}", weight=_weight(rng, i))
        else:
            resample.record(
                answers,
                item=f"num-{i}",
                target=target,
                weight=_weight(rng, i),
                covariates=_covariates(rng, k),
            )


def _vector(resample, rng: np.random.Generator) -> None:
    for i in range(N_ITEMS):
        k = _k(rng)
        centre = rng.normal(0.0, 2.0, size=3)
        answers: list[object] = [[float(x) for x in centre + rng.normal(0, 1, 3)] for _ in range(k)]
        if i % 5 == 1:
            answers[2] = None
        target = [float(x) for x in centre + rng.normal(0, 0.5, 3)]
        if i % 6 == 3:
            resample.record(answers, item=f"vec-{i}", weight=_weight(rng, i))
        else:
            resample.record(answers, item=f"vec-{i}", target=target, weight=_weight(rng, i))


def _coverage(resample, rng: np.random.Generator) -> None:
    for i in range(N_ITEMS):
        k = _k(rng)
        rates = rng.uniform(0.3, 1.0, size=4)
        answers: list[object] = [[bool(x) for x in rng.random(4) < rates] for _ in range(k)]
        if i % 4 == 3:
            answers[1] = None
        resample.record(answers, item=f"cov-{i}", weight=_weight(rng, i))


def _gated(names: tuple[str, ...], **thresholds: float) -> list[object]:
    """One case per (name, estimator), each with its own coherence marker."""
    return [
        pytest.param(
            name,
            estimator,
            marks=pytest.mark.coherence(
                estimator=estimator,
                **({"loss": name} if name in ("brier", "kl") else {}),
                **thresholds,
            ),
        )
        for name in names
        for estimator in ESTIMATORS
    ]


@pytest.mark.parametrize(
    ("loss", "estimator"), _gated(("brier", "kl"), max_incoherence=0.5, max_error=1.2)
)
def test_categorical(resample, loss, estimator):
    _categorical(resample, _rng(1, ESTIMATORS.index(estimator), len(loss)))


@pytest.mark.parametrize(
    ("loss", "estimator"), _gated(("brier", "kl"), max_incoherence=0.4, max_bias=0.5)
)
@pytest.mark.parametrize("as_vectors", [False, True])
def test_distribution(resample, loss, estimator, as_vectors):
    _distribution(resample, _rng(2, ESTIMATORS.index(estimator), len(loss)), as_vectors)


FILLS = {"binary": _binary, "numeric": _numeric, "vector": _vector, "coverage": _coverage}


@pytest.mark.parametrize(
    ("name", "estimator"), _gated(tuple(FILLS), max_incoherence=0.6, max_variance=0.8)
)
def test_squared(resample, name, estimator):
    FILLS[name](resample, _rng(3, ESTIMATORS.index(estimator), len(name)))


@pytest.mark.coherence(max_variance=0.5)
def test_variance_only(resample):
    rng = _rng(4)
    for i in range(N_ITEMS):
        resample.record([str(x) for x in rng.choice(list("xyz"), size=6)], item=f"v-{i}")


def test_no_marker_mixed_losses(resample):
    rng = _rng(5)
    _numeric(resample, rng)
    for i in range(4):
        resample.record(["a", "b", "a", "a"], item=f"extra-{i}", target="a")


QUESTIONS = load_bundled_questions()
PROMPTS = [format_prompt(q) for q in QUESTIONS]
ANSWERS = [q.answer for q in QUESTIONS]
IDS = [q.id for q in QUESTIONS]


@pytest.mark.coherence(max_incoherence=0.4, max_samples=20)
def test_sequential_coherent(resample):
    resample.map(
        coherent(items=QUESTIONS, seed=1),
        PROMPTS,
        targets=ANSWERS,
        items=IDS,
        extract=extract_letter,
    )


@pytest.mark.coherence(max_incoherence=0.4, max_samples=20)
def test_sequential_hot_mess(resample):
    resample.map(
        hot_mess(items=QUESTIONS, seed=2),
        PROMPTS,
        targets=ANSWERS,
        items=IDS,
        extract=extract_letter,
    )


@pytest.mark.coherence(max_incoherence=0.3, max_bias=0.6, samples=8, loss="kl")
def test_sim_fixed_k(resample):
    weights = [1.0 + (i % 3) for i in range(len(PROMPTS))]
    resample.map(
        hot_mess(items=QUESTIONS, seed=3),
        PROMPTS,
        targets=ANSWERS,
        items=IDS,
        extract=extract_letter,
        weights=weights,
    )
    resample(
        hot_mess(items=QUESTIONS, seed=4),
        PROMPTS[0],
        item="single",
        target=ANSWERS[0],
        extract=extract_letter,
    )


@pytest.mark.coherence(max_incoherence=0.5, samples=6)
def test_map_invalid_outcomes(resample):
    def flaky(prompt: str) -> str:
        sample = current_sample.get()
        if "a" in prompt[:3] and sample % 2 == 0:
            raise RuntimeError("down")
        return "xyz"[(len(prompt) + sample) % 3] if sample % 3 else prompt[-1]

    resample.map(
        flaky,
        [f"q{i}{'a' if i % 4 == 0 else 'b'}{'xyz'[i % 3]}" for i in range(12)],
        targets=["x"] * 12,
        on_error="invalid",
    )
