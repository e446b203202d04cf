"""Notes on one test's figures: what the numbers cannot be trusted for, said where they show.

Two notes exist (docs/statistics.md): ``kl-small-k``, the test uses a bias-corrected KL
estimator (``unbiased``, ``jackknife``, ``bootstrap``; ``plugin`` is the paper's split, biased
by design) with fewer samples per item than it needs for a bias within 5% of the
incoherence; and
``batch-dependence``, samples fetched in one request (``n_per_request > 1``) agree more
than samples of different requests, so they are not the independent draws the split assumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..sampling.resampler import ItemResult
from ..stats.batches import LEVEL, batch_dependence
from ..stats.decompose import ItemEstimate
from ..stats.kl_bootstrap import KL_RELIABLE_K
from .plain_record import PlainRecord

__all__ = ["Note", "notes_for"]


@dataclasses.dataclass(frozen=True)
class Note(PlainRecord):
    """One note on a test: a stable ``code`` for tools, and a ``message`` for people."""

    code: str
    message: str


def _kl_note(estimates: Sequence[ItemEstimate]) -> Note | None:
    small = [e for e in estimates if e.loss == "kl" and e.estimator != "plugin"]
    small = [e for e in small if e.k < KL_RELIABLE_K]
    if not small:
        return None
    k_min = min(e.k for e in small)
    return Note(
        "kl-small-k",
        f"KL with K={k_min} samples per item: below K={KL_RELIABLE_K} the KL variance "
        f"estimate ({small[0].estimator}) can be off by more than 5% of the incoherence "
        "(docs/statistics.md, 'KL at small K'); raise samples",
    )


def _batch_note(items: Sequence[ItemResult], models: Sequence[str]) -> Note | None:
    grouped = []
    for item in items:
        if item.covariates and "batch" not in item.covariates[0]:
            continue  # its first sample has no batch (n_per_request 1, or recorded): not grouped
        batches = [row.get("batch") for row in item.covariates]
        if len(batches) != len(item.outcomes) or any(b is None for b in batches):
            continue
        grouped.append((list(item.outcomes), [int(b) for b in batches if b is not None]))
    result = batch_dependence(grouped)
    if result is None or not result.dependent:
        return None
    model = ", ".join(models) or "the model"
    rates = ""
    if result.within_agreement is not None and result.across_agreement is not None:
        rates = (
            f": answers agree {result.within_agreement:.0%} of the time within a request, "
            f"{result.across_agreement:.0%} across requests"
        )
    return Note(
        "batch-dependence",
        f"samples of {model} fetched together (n_per_request > 1) are not independent"
        f"{rates} (permutation test over {result.items} items, p={result.p_value:.3f} < "
        f"{LEVEL}); the variance and incoherence are understated: use n_per_request: 1",
    )


def notes_for(
    items: Sequence[ItemResult], estimates: Sequence[ItemEstimate], models: Sequence[str]
) -> list[Note]:
    """The notes that apply to one test, in a stable order."""
    found = (_kl_note(estimates), _batch_note(items, models))
    return [note for note in found if note is not None]
