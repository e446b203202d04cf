"""Builders of the typed records: one test's record from its gate and figures, and run totals."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..sampling.resampler import ItemResult
from ..stats.aggregate import Aggregate, aggregate_one_loss
from ..stats.columns import ItemColumns
from ..stats.decompose import ItemEstimate
from ..stats.ensemble import EnsembleProjection
from ..stats.gate import GateOutcome
from ..stats.kinds import NOTHING
from ..stats.length import LengthAnalysis
from ..stats.plain import plain
from ..stats.ranges import out_of_range, unclipped
from .notes import Note
from .records import (
    CallStats,
    ItemRecord,
    ModelBucketRow,
    RunTotals,
    SequentialRecord,
    TestRecord,
    Totals,
    kept_figures,
    verdict_counts,
)

__all__ = [
    "build_record",
    "item_record",
    "kept_row",
    "model_bucket_rows",
    "pooled_totals",
    "totals_from",
]


def item_record(result: ItemResult) -> ItemRecord:
    """One sampled item as a record (what ``ItemResult.to_dict`` reports, typed)."""
    covariates = [
        {str(k): plain(v) for k, v in row.items()} if row else {} for row in result.covariates
    ]
    estimate = result.estimate
    if estimate is None:
        return ItemRecord(
            id=result.id,
            target=None if result.target is NOTHING else plain(result.target),
            k=result.k,
            outcomes=plain(result.outcomes),
            invalid=result.invalid,
            covariates=covariates,
            problem=result.problem,
        )
    return ItemRecord(
        id=estimate.id,
        kind=estimate.kind,
        loss=estimate.loss,
        estimator=estimate.estimator,
        k=estimate.k,
        invalid=result.invalid,
        weight=_plain_number(estimate.weight),
        error=_plain_number(estimate.error),
        bias=_plain_number(estimate.bias),
        variance=_plain_number(estimate.variance),
        target=_plain_label(estimate.target),
        counts=None if estimate.counts is None else dict(estimate.counts),
        outcomes=None if estimate.outcomes is None else plain(estimate.outcomes),
        covariates=covariates,
        problem=result.problem,
        out_of_range=out_of_range(estimate.error, estimate.bias, estimate.variance) or None,
    )


def kept_row(result: ItemResult) -> dict[str, Any] | None:
    """What the run keeps of one sampled item (``results.kept``), without its record: exactly
    ``item_record(result).kept_plain()``; None for an item without an estimate (not kept)."""
    estimate = result.estimate
    if estimate is None:
        return None
    figure = _plain_number
    return kept_figures(
        estimate.k, result.invalid, figure(estimate.weight), figure(estimate.error),
        figure(estimate.bias), figure(estimate.variance), estimate.loss, None,
    )  # fmt: skip


def _plain_number(value: Any) -> Any:
    """``plain`` of an estimate's figure, which is nearly always a finite float already."""
    return value if type(value) is float and math.isfinite(value) else plain(value)


def _plain_label(value: Any) -> Any:
    """``plain`` of a target, which is nearly always a string (a categorical label) already."""
    return value if type(value) is str else plain(value)


def totals_from(
    agg: Aggregate,
    losses: Sequence[str],
    estimates: Sequence[ItemEstimate] | ItemColumns = (),
    *,
    clipped: Mapping[str, float] | None = None,
) -> Totals:
    """The typed totals of an aggregate; ``estimates`` (or their columns) give the unclipped
    figures, or ``clipped`` gives them already computed (``stats.pooled``)."""
    shown = len(losses) <= 1 and agg.error is not None
    return Totals(
        items=agg.items,
        error=agg.error,
        bias=agg.bias,
        variance=agg.variance,
        incoherence=agg.incoherence,
        incoherence_low=agg.incoherence_low,
        incoherence_high=agg.incoherence_high,
        confidence=agg.confidence,
        targeted_items=agg.targeted_items,
        k_min=agg.k_min,
        k_max=agg.k_max,
        invalid=agg.invalid,
        interval_method=agg.interval_method,
        losses=list(losses),
        clipped=({} if not shown else unclipped(estimates) if clipped is None else dict(clipped)),
        interval_approximate=(
            agg.interval_approximate
            if agg.incoherence_low is not None or agg.pending is not None
            else None
        ),
        effective_items=agg.effective_items,
        interval_skewness=agg.interval_skewness,
    )


def build_record(
    *,
    nodeid: str,
    samples: int,
    loss: str | None,
    estimator: str,
    confidence: float | None,
    thresholds: Mapping[str, float],
    items: Sequence[ItemRecord],
    agg: Aggregate,
    losses: Sequence[str],
    gate: GateOutcome,
    calls: CallStats,
    sequential: SequentialRecord | None = None,
    stopped_by: str | None = None,
    note: str | None = None,
    length: LengthAnalysis | None = None,
    ensembles: EnsembleProjection | None = None,
    verdict: str | None = None,
    message: str | None = None,
    notes: Sequence[Note] = (),
    columns: ItemColumns | None = None,
) -> TestRecord:
    """The per-test record: everything the terminal, JUnit, JSON and HTML reports need.

    ``verdict`` and ``message`` replace the gate's when given (a usage problem, an empty test).
    ``columns`` are the estimated items' figures when the caller has them (the judge does),
    instead of reading them back from ``items``.
    """
    if columns is None:
        columns = ItemColumns.of([e for item in items if (e := item.estimate()) is not None])
    used_loss = losses[0] if len(losses) == 1 else ("mixed" if losses else loss)
    return TestRecord(
        nodeid=nodeid,
        verdict=verdict or gate.verdict,
        message=message or "\n".join(m for m in (gate.message, note) if m) or None,
        loss=used_loss,
        estimator=estimator,
        samples=samples,
        confidence=confidence,
        thresholds=dict(thresholds),
        checks=list(gate.checks),
        calls=calls,
        sequential=sequential,
        stopped_by=stopped_by,
        length=length,
        ensembles=ensembles,
        totals=totals_from(agg, losses, columns),
        items=list(items),
        notes=list(notes),
    )


def pooled_totals(records: Sequence[TestRecord], confidence: float = 0.95) -> RunTotals:
    """Totals over every estimated item of every coherence test: the run's own aggregate.

    Error, bias and variance are in the units of their loss (Brier, KL in nats, squared
    distance), so items are pooled only when every item shares one loss; otherwise the
    figures are undefined and ``losses`` says why.
    """
    estimates = [
        estimate
        for record in records
        for item in record.items
        if (estimate := item.estimate()) is not None
    ]
    totals = totals_from(*aggregate_one_loss(estimates, confidence=confidence), estimates)
    fields: dict[str, Any] = {name: getattr(totals, name) for name in totals.__dataclass_fields__}
    return RunTotals(**fields, tests=len(records), verdicts=verdict_counts(records))


def model_bucket_rows(
    records: Sequence[TestRecord],
    models: Sequence[str],
    confidence: float = 0.95,
    *,
    items: Callable[[TestRecord], Iterable[tuple[str | None, ItemEstimate]]] | None = None,
) -> list[ModelBucketRow]:
    """The "by model and difficulty" table: every estimated item of the tests that ran on a
    model (``TestRecord.model``) pooled per model and bucket, like the run's totals.

    Models in ``models`` order (any other after them, sorted); buckets easy, medium, hard,
    then items without a bucket; a model's empty bucket has no row. ``items`` gives a test's
    (bucket, estimate) pairs when its record no longer holds them (the run's kept columns).
    """
    from ..stats.difficulty import BUCKETS

    groups: dict[tuple[str, str | None], list[ItemEstimate]] = {}
    for record in records:
        if record.model is None:
            continue
        for bucket, estimate in (items or _bucketed)(record):
            groups.setdefault((record.model, bucket), []).append(estimate)
    seen = {model for model, _ in groups}
    order = [m for m in models if m in seen] + sorted(seen - set(models))
    rows = []
    for model in order:
        for bucket in (*BUCKETS, None):
            estimates = groups.get((model, bucket))
            if estimates:
                aggregate = aggregate_one_loss(estimates, confidence=confidence)
                rows.append(ModelBucketRow(model, bucket, totals_from(*aggregate, estimates)))
    return rows


def _bucketed(record: TestRecord) -> list[tuple[str | None, ItemEstimate]]:
    """A test's estimated items with their difficulty buckets, from its record."""
    return [
        (item.bucket, estimate)
        for item in record.items
        if (estimate := item.estimate()) is not None
    ]
