"""Judge one test: gate its aggregate against its thresholds and gather its analyses.

No pytest hooks here: the plugin hands over the test's spec, sampled state and the run's settings,
and gets back the plain-data record that every report is built from.
"""

from __future__ import annotations

from typing import Any

from ..config.marker import DEFAULT_CONFIDENCE, THRESHOLDS, CoherenceSpec
from ..config.settings import Settings
from ..sampling.resampler import TestState
from ..stats.gate import Check, evaluate, resolve_inconclusive
from .insights import ensembles_for, length_for, slope_verdict
from .record import build_record

__all__ = ["DEFAULT_CONFIDENCE", "judge_test"]  # DEFAULT_CONFIDENCE lives in the light _marker


def judge_test(
    nodeid: str,
    spec: CoherenceSpec,
    state: TestState,
    settings: Settings,
    *,
    note: str | None = None,
    verdict_override: str | None = None,
) -> dict[str, Any]:
    """The test's record: its gate verdict, figures, items and analyses, as plain data.

    ``record["fails"]`` says whether the test must fail, with ``record["message"]`` as why.
    """
    estimates = state.estimates()
    agg, losses = state.aggregate_with_losses()
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
    gate = evaluate(
        estimates,
        agg,
        {n: v for n, v in thresholds.items() if n in THRESHOLDS},
        confidence=confidence,
        inconclusive=settings.inconclusive,
        decided=decided,
        extra=extra,
    )
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
        estimates=estimates,
        items=[i.to_dict() for i in state.items],
        agg=agg,
        losses=losses,
        gate=gate,
        calls=_calls_summary(state),
        sequential=_sequential_summary(state),
        stopped_by=stopped_by,
        note=note,
        length=length,
        ensembles=ensembles,
    )
    if usage is not None:
        record["verdict"] = "fail"
        record["message"] = usage + ("\n" + gate.message if gate.message else "")
    elif verdict_override is not None:
        record["verdict"] = verdict_override
    record["fails"] = gate.fails_test or usage is not None or verdict_override == "fail"
    return record


def _usage_problem(
    nodeid: str,
    spec: CoherenceSpec,
    estimates: list[Any],
    agg: Any,
    losses: list[str],
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
    length: dict[str, Any] | None, threshold: float, confidence: float | None, settings: Settings
) -> Check:
    verdict, value, problem = slope_verdict(length, threshold, statistical=confidence is not None)
    slope = (length or {}).get("slope") or {}
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
        low=slope.get("low"),
        high=slope.get("high"),
        problem=problem,
    )


def _calls_summary(state: TestState) -> dict[str, Any]:
    usage = state.budget.usage if state.budget is not None else None
    summary: dict[str, Any] = {
        "made": state.calls,
        "failed": state.failed_calls,
        "saved": state.calls_saved,
    }
    if usage is not None:
        summary.update(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost=usage.cost if state.budget is not None and state.budget.prices else None,
        )
    return summary


def _sequential_summary(state: TestState) -> dict[str, Any] | None:
    decision = state.sequential
    if decision is None:
        return None
    plan = state.sequential_plan()
    return {
        "max_samples": state.max_samples,
        "looks": list(plan.looks) if plan is not None else None,
        "stopped_at_look": decision.look_index,
        "samples_per_item": decision.samples,
        "verdicts": decision.verdicts,
    }
