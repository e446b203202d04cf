"""Incoherence by item difficulty: a larger model is more coherent on easy items, not on hard.

The paper's second finding: scale makes models more coherent on easy tasks but not on hard
ones. A test's one incoherence figure hides that; the report splits it by difficulty bucket
(easy, medium, hard: the dataset's ``metadata.difficulty``, here numbers ranked into thirds).

Two simulated models of different "scale" answer the same 150 questions of known difficulty:
``small`` errs scattered on easy questions and consistently wrong on hard ones; ``large``
errs rarely and consistently on easy questions (misconceptions) but scatters on hard ones.
Run ``pytest example_suite -k difficulty --hotmess-details`` to see both tables; the JSON
report (``out/hotmess.json``) has them under each test's ``difficulty``.
"""

from __future__ import annotations

import pytest

from pytest_hotmess import DatasetItem, Resampler, format_prompt
from pytest_hotmess.sim import extract_letter, large, small

QUESTIONS = [
    DatasetItem(
        id=f"q{index:03d}",
        prompt=f"Synthetic question {index}: which option is right?",
        choices=["first", "second", "third", "fourth"],
        answer="ABCD"[index % 4],
        metadata={"difficulty": (index + 0.5) / 150},
    )
    for index in range(150)
]
"""Questions whose difficulty (0 easiest, 1 hardest) both models know: the dataset's numbers."""

MODELS = {"small": small, "large": large}


@pytest.mark.parametrize("scale", list(MODELS))
@pytest.mark.coherence(samples=10)
def test_incoherence_by_difficulty(resample: Resampler, scale: str) -> None:
    """Not gated: the report's per-bucket figures are the point (true incoherence easy /
    medium / hard: small 0.85 / 0.50 / 0.14, large 0.13 / 0.45 / 0.54)."""
    model = MODELS[scale](items=QUESTIONS, seed=0)

    def ask(question: DatasetItem) -> object:
        return model(format_prompt(question))

    resample.map(
        ask,
        QUESTIONS,  # dataset items: their metadata.difficulty is the difficulty
        targets=[question.answer for question in QUESTIONS],
        items=[question.id for question in QUESTIONS],
        extract=extract_letter,
    )
