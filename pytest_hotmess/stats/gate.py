"""Compare a test's aggregate with its thresholds and decide a verdict (no pytest import).

Point gate: a figure over its threshold fails. Statistical gate (a confidence is set): the
one-sided tests of docs/statistics.md, 'Gates', decide pass / fail / inconclusive, and an
inconclusive verdict is resolved by the run's ``inconclusive`` mode without hiding that it was
inconclusive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

from .aggregate import Aggregate, gate_incoherence, gate_mean
from .decompose import ItemEstimate
from .plain import format_k

__all__ = ["Check", "GateOutcome", "evaluate", "format_k", "resolve_inconclusive"]

CheckVerdict = Literal["pass", "fail", "inconclusive", "no-errors"]

FIGURE = {
    "max_incoherence": "incoherence",
    "max_bias": "bias",
    "max_variance": "variance",
    "max_error": "error",
    "max_incoherence_slope": "incoherence slope per doubling of length",
}


@dataclasses.dataclass(frozen=True)
class Check:
    """One threshold against its measured figure."""

    name: str
    threshold: float
    value: float | None
    verdict: CheckVerdict
    fails_test: bool
    low: float | None = None
    high: float | None = None
    problem: str | None = None


@dataclasses.dataclass(frozen=True)
class GateOutcome:
    verdict: str
    checks: tuple[Check, ...]
    message: str | None

    @property
    def fails_test(self) -> bool:
        return self.message is not None


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def resolve_inconclusive(point_fails: bool, mode: str) -> bool:
    """Whether an inconclusive verdict fails the test under ``--hotmess-inconclusive``."""
    return {"point": point_fails, "fail": True, "pass": False}[mode]


def _statistical(
    name: str,
    threshold: float,
    estimates: Sequence[ItemEstimate],
    confidence: float,
) -> Literal["pass", "fail", "inconclusive"]:
    targeted = [e for e in estimates if e.has_target]
    population = estimates if name == "max_variance" else targeted
    if len(population) < 2:
        return "inconclusive"
    if name == "max_incoherence":
        return gate_incoherence(targeted, threshold, confidence=confidence).verdict
    figure = FIGURE[name]
    values = [float(getattr(e, figure)) for e in population]
    weights = [e.weight for e in population]
    return gate_mean(values, weights, threshold, confidence=confidence).verdict


def evaluate(
    estimates: Sequence[ItemEstimate],
    agg: Aggregate,
    thresholds: Mapping[str, float],
    *,
    confidence: float | None,
    inconclusive: str = "point",
    decided: Mapping[str, str] | None = None,
    extra: Sequence[Check] = (),
) -> GateOutcome:
    """Decide the verdict of one test; ``message`` is set when the test must fail.

    ``decided`` holds verdicts a sequential design already reached at its boundaries; they are
    used as they are (re-testing at the fixed level would inflate the error rate).
    """
    if not thresholds and not extra:
        return GateOutcome("ungated", (), None)
    checks: list[Check] = []
    for name, threshold in thresholds.items():
        value = getattr(agg, FIGURE[name])
        if name == "max_incoherence" and value is None and agg.targeted_items:
            checks.append(Check(name, threshold, None, "no-errors", False))
            continue
        point_fails = value is not None and value > threshold
        if confidence is None:
            verdict: CheckVerdict = "fail" if point_fails else "pass"
            checks.append(Check(name, threshold, value, verdict, point_fails))
            continue
        if decided is not None and name in decided:
            verdict = "inconclusive" if decided[name] == "continue" else decided[name]  # type: ignore[assignment]
        else:
            verdict = _statistical(name, threshold, estimates, confidence)
        if verdict == "inconclusive":
            fails = resolve_inconclusive(point_fails, inconclusive)
        else:
            fails = verdict == "fail"
        checks.append(Check(name, threshold, value, verdict, fails))
    checks.extend(extra)

    verdicts = {c.verdict for c in checks}
    if "fail" in verdicts:
        overall = "fail"
    elif agg.targeted_items and agg.error == 0.0:
        overall = "no-errors"
    elif "inconclusive" in verdicts:
        overall = "inconclusive"
    else:
        overall = "pass"
    failing = [c for c in checks if c.fails_test]
    message = _message(failing, agg, confidence, inconclusive) if failing else None
    return GateOutcome(overall, tuple(checks), message)


def _message(
    failing: Sequence[Check], agg: Aggregate, confidence: float | None, inconclusive: str
) -> str:
    k = format_k(agg.k_min, agg.k_max)
    lines = []
    for check in failing:
        if check.problem is not None:
            lines.append(f"{check.name}: {check.problem}")
            continue
        figure = FIGURE[check.name]
        text = f"{figure} {_fmt(check.value)}"
        if check.low is not None and check.high is not None:
            text += f" [{_fmt(check.low)}, {_fmt(check.high)}]"
        elif figure == "incoherence" and agg.incoherence_low is not None:
            text += f" [{_fmt(agg.incoherence_low)}, {_fmt(agg.incoherence_high)}]"
        relation = ">" if check.value is not None and check.value > check.threshold else "vs"
        items = f"{agg.items} item" + ("" if agg.items == 1 else "s")
        text += f" {relation} {check.name} {check.threshold:g} ({items}, K={k}"
        if confidence is not None:
            level = f"{confidence:.0%}"
            if check.verdict == "inconclusive":
                how = (
                    "the point estimate"
                    if inconclusive == "point"
                    else f"--hotmess-inconclusive={inconclusive}"
                )
                text += f"; inconclusive at {level} confidence, decided by {how}"
            else:
                text += f"; fails at {level} confidence"
        lines.append(text + ")")
    return "coherence gate failed:\n  " + "\n  ".join(lines)
