"""Judge one test: gate its aggregate against its thresholds and gather its analyses.

No pytest hooks here: the plugin hands over the test's spec, sampled state and the run's settings,
and gets back a ``Judgement``: the typed record every report is built from, and whether (and
why) the test must fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..config.marker import DEFAULT_CONFIDENCE, THRESHOLDS, CoherenceSpec
from ..config.settings import Settings
from ..sampling.resampler import TestState
from ..stats.aggregate import Aggregate, aggregate_one_loss
from ..stats.columns import ItemColumns
from ..stats.decompose import ItemEstimate
from ..stats.gate import Check, GateOutcome, evaluate, resolve_inconclusive
from ..stats.length import LengthAnalysis
from .difficulty import difficulty_deferred
from .insights import ensembles_for, length_for, slope_verdict
from .notes import notes_for
from .record import build_record, item_record, kept_row
from .records import CallStats, DifficultyRecord, ItemRecord, SequentialRecord, TestRecord
from .settle import PendingBound

__all__ = ["DEFAULT_CONFIDENCE", "Judgement", "judge_test"]  # DEFAULT_CONFIDENCE: config.marker


@dataclasses.dataclass(frozen=True)
class Judgement:
    """One test judged: its record, and the message it fails with (None when it passes)."""

    record: TestRecord
    message: str | None
    pending: tuple[PendingBound, ...] = ()
    """Intervals of the record left to solve (``judge_test(defer_intervals=True)``): its
    bounds are None until ``results.settle`` fills them in."""
    kept: list[dict[str, Any]] | None = None
    """The items' kept figures when the record leaves its items out (``item_records``)."""

    @property
    def fails(self) -> bool:
        return self.message is not None


def judge_test(
    nodeid: str,
    spec: CoherenceSpec,
    state: TestState,
    settings: Settings,
    *,
    note: str | None = None,
    verdict_override: str | None = None,
    reference: Mapping[str, float] | None = None,
    by_difficulty: bool = False,
    defer_intervals: bool = False,
    item_records: bool = True,
) -> Judgement:
    """The test's record (gate verdict, figures, items, analyses) and whether it fails.

    ``verdict_override`` replaces the gate's verdict ("fail" also fails the test; "error",
    sampling failed, wins over everything and its message is ``note``). ``reference`` maps
    item ids to their error in the ``--hotmess-compare`` baseline (a difficulty source);
    ``by_difficulty`` asks for the figures by difficulty bucket when no report file, details
    or comparison does (the JUnit properties show them). ``defer_intervals`` leaves the
    incoherence intervals of a test that does not fail to be solved with other tests'
    (``Judgement.pending``); a failing test's message shows its bounds, solved at once.
    Without ``item_records`` (nothing will read the items of the record: the caller keeps only
    their figures) and when no analysis needs them, the record has no items and
    ``Judgement.kept`` their kept figures.
    """
    estimates = state.estimates()
    columns = ItemColumns.of(estimates)  # read once: the aggregate and the totals use them
    agg, losses = aggregate_one_loss(
        columns, confidence=state.confidence, defer_interval=defer_intervals
    )
    spec, skipped = _skip_file_thresholds(spec, estimates, agg)
    if skipped:
        note = f"{skipped}\n{note}" if note else skipped
    thresholds = spec.thresholds()
    decided = state.sequential_verdicts()
    confidence = spec.confidence or settings.confidence
    if confidence is None and decided is not None:
        confidence = state.confidence  # sequential sampling always decides statistically
    usage = _usage_problem(nodeid, spec, estimates, agg, losses)
    if usage is not None:
        # what cannot be measured is not gated; the problem itself fails the test
        keep = "max_variance" if len(losses) <= 1 else None
        thresholds = {n: v for n, v in thresholds.items() if n == keep}
    insight_level = confidence or DEFAULT_CONFIDENCE
    # the analyses cost milliseconds per test: only when a report shows them or a gate needs them
    shown = bool(settings.json or settings.html or settings.details or settings.save)
    length = (
        length_for(state.items, confidence=insight_level, covariate=settings.length_covariate)
        if shown or "max_incoherence_slope" in thresholds
        else None
    )
    ensembles = ensembles_for(estimates, confidence=insight_level) if shown else None
    extra = []
    if "max_incoherence_slope" in thresholds:
        extra.append(
            _slope_check(length, thresholds["max_incoherence_slope"], confidence, settings)
        )
    gated = {n: v for n, v in thresholds.items() if n in THRESHOLDS}

    def gate_of(agg: Aggregate) -> GateOutcome:
        return evaluate(
            estimates,
            agg,
            gated,
            confidence=confidence,
            inconclusive=settings.inconclusive,
            decided=decided,
            extra=extra,
        )

    gate = gate_of(agg)
    if gate.message is not None and agg.pending is not None:
        agg = agg.settled()  # the failure message shows the interval
        gate = gate_of(agg)
    analysed = shown or by_difficulty or settings.compare  # the difficulty reads the items
    kept = None
    if item_records or analysed:
        items = [item_record(i) for i in state.items]
    else:  # ~10 us an item less: the run keeps a few figures of each, nothing else
        items, kept = [], [row for i in state.items if (row := kept_row(i)) is not None]
    difficulty = None
    pending = [PendingBound(None, agg.pending)] if agg.pending is not None else []
    if analysed:
        difficulty, items, by_bucket = _difficulty(
            items, state, reference, insight_level, losses, defer=defer_intervals
        )
        pending.extend(by_bucket)
    budget = state.budget
    stopped_by = budget.exhausted if budget is not None else None
    if stopped_by is not None:
        stop_note = f"sampling stopped early: {stopped_by}; decided with the samples drawn"
        note = f"{note}\n{stop_note}" if note else stop_note
    record = build_record(
        nodeid=nodeid,
        samples=state.sequential.samples
        if decided is not None and state.sequential is not None
        else state.samples,
        loss=spec.loss,
        estimator=state.estimator,
        confidence=confidence,
        thresholds=spec.thresholds(),
        items=items,
        agg=agg,
        losses=losses,
        gate=gate,
        calls=_calls_summary(state),
        sequential=_sequential_summary(state),
        stopped_by=stopped_by,
        note=note,
        length=length,
        ensembles=ensembles,
        verdict=_verdict(verdict_override, usage),
        message=_message(verdict_override, usage, gate.message, note),
        notes=notes_for(state.items, estimates, state.models),
        columns=columns,
    )
    record = dataclasses.replace(record, difficulty=difficulty)
    fails = gate.fails_test or usage is not None or verdict_override in ("fail", "error")
    return Judgement(record, record.message if fails else None, tuple(pending), kept)


def _difficulty(
    items: list[ItemRecord],
    state: TestState,
    reference: Mapping[str, float] | None,
    confidence: float,
    losses: Sequence[str],
    *,
    defer: bool,
) -> tuple[DifficultyRecord | None, list[ItemRecord], list[PendingBound]]:
    """The test's figures by bucket and its items with their difficulty and bucket (no
    figures when the items use several losses, whose figures cannot be pooled), and the
    buckets' intervals left pending with ``defer``."""
    if len(losses) > 1:
        return None, items, []
    sources: dict[str, Mapping[str, float | str]] = dict(state.difficulties)
    sources["reference"] = dict(reference or {})
    return difficulty_deferred(items, sources, confidence=confidence, defer=defer)


def _verdict(override: str | None, usage: str | None) -> str | None:
    if override == "error":
        return override  # sampling failed: what was drawn decides nothing
    return "fail" if usage is not None else override


def _message(
    override: str | None, usage: str | None, gate_message: str | None, note: str | None
) -> str | None:
    if override == "error":
        return note
    if usage is None:
        return None
    return usage + ("\n" + gate_message if gate_message else "")


def _skip_file_thresholds(
    spec: CoherenceSpec, estimates: Sequence[ItemEstimate], agg: Aggregate
) -> tuple[CoherenceSpec, str | None]:
    """Leave out hotmess.yaml thresholds that need targets when no item has one.

    A glob rule (``tests/*``) also matches variance-only tests; failing them would make the
    rule unusable. The same threshold on the test's own marker is still a usage error.
    """
    if not estimates or agg.targeted_items:
        return spec, None
    names = [n for n in spec.target_thresholds() if n in spec.from_file]
    if not names:
        return spec, None
    spec = spec.without(names)
    return spec, (
        f"hotmess.yaml {', '.join(names)} not applied: no item of this test has a target "
        "(variance-only items)"
    )


def _usage_problem(
    nodeid: str,
    spec: CoherenceSpec,
    estimates: Sequence[ItemEstimate],
    agg: Aggregate,
    losses: Sequence[str],
) -> str | None:
    """Thresholds this test's items cannot be measured against (a usage error, not a verdict)."""
    if spec.thresholds() and len(losses) > 1:
        return (
            f"{nodeid}: the items of this test use different losses ({', '.join(losses)}), "
            "whose figures cannot be pooled; gate them in separate tests"
        )
    wanted = spec.target_thresholds()
    if wanted and estimates and agg.targeted_items == 0:
        return (
            f"{nodeid}: {', '.join(wanted)} needs targets, but no item of this test has one "
            "(pass target=... to resample, or gate variance-only items with max_variance)"
        )
    return None


def _slope_check(
    length: LengthAnalysis | None, threshold: float, confidence: float | None, settings: Settings
) -> Check:
    verdict, value, problem = slope_verdict(length, threshold, confidence=confidence)
    slope = length.slope if length is not None else None
    if verdict == "inconclusive":
        point_fails = value is not None and value > threshold
        fails = resolve_inconclusive(point_fails, settings.inconclusive)
    else:
        fails = verdict == "fail"
    return Check(
        "max_incoherence_slope",
        threshold,
        value,
        verdict,  # type: ignore[arg-type]
        fails,
        low=slope.low if slope is not None else None,
        high=slope.high if slope is not None else None,
        problem=problem,
    )


def _calls_summary(state: TestState) -> CallStats:
    calls = CallStats(made=state.calls, failed=state.failed_calls, saved=state.calls_saved)
    usage = state.budget.usage if state.budget is not None else None
    if usage is None:
        return calls
    return dataclasses.replace(
        calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        retried=usage.retries,
        cost=usage.cost if state.budget is not None and state.budget.prices else None,
    )


def _sequential_summary(state: TestState) -> SequentialRecord | None:
    decision = state.sequential
    if decision is None:
        return None
    plan = state.sequential_plan()
    return SequentialRecord(
        max_samples=state.max_samples,
        looks=list(plan.looks) if plan is not None else None,
        stopped_at_look=decision.look_index,
        samples_per_item=decision.samples,
        verdicts={str(k): str(v) for k, v in decision.verdicts.items()},
    )
