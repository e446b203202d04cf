"""One test's result as plain builtins: what crosses xdist and what every report is built from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..stats.aggregate import Aggregate, aggregate_one_loss
from ..stats.decompose import ItemEstimate
from ..stats.gate import GateOutcome
from ..stats.plain import plain

__all__ = ["TOTAL_FIELDS", "build_record", "pooled_totals"]

TOTAL_FIELDS = (
    "items",
    "error",
    "bias",
    "variance",
    "incoherence",
    "incoherence_low",
    "incoherence_high",
    "confidence",
)


_ESTIMATE_FIELDS = tuple(field.name for field in dataclasses.fields(ItemEstimate))


def totals_dict(agg: Aggregate, losses: Sequence[str]) -> dict[str, Any]:
    data = agg.to_dict()
    out = {name: data.get(name) for name in TOTAL_FIELDS}
    for extra in ("targeted_items", "k_min", "k_max", "invalid", "interval_method"):
        out[extra] = data.get(extra)
    out["losses"] = list(losses)
    return plain(out)  # type: ignore[no-any-return]


def build_record(
    *,
    nodeid: str,
    samples: int,
    loss: str | None,
    estimator: str,
    confidence: float | None,
    thresholds: Mapping[str, float],
    estimates: Sequence[ItemEstimate],
    items: Sequence[Mapping[str, Any]],
    agg: Aggregate,
    losses: Sequence[str],
    gate: GateOutcome,
    calls: Mapping[str, Any],
    sequential: Mapping[str, Any] | None = None,
    stopped_by: str | None = None,
    note: str | None = None,
    length: Mapping[str, Any] | None = None,
    ensembles: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The per-test payload: everything the terminal, JUnit and JSON reports need."""
    used_loss = losses[0] if len(losses) == 1 else ("mixed" if losses else loss)
    record = {
        "nodeid": nodeid,
        "verdict": gate.verdict,
        "message": "\n".join(m for m in (gate.message, note) if m) or None,
        "loss": used_loss,
        "estimator": estimator,
        "samples": samples,
        "confidence": confidence,
        "thresholds": dict(thresholds),
        "checks": [dataclasses.asdict(check) for check in gate.checks],
        "totals": totals_dict(agg, losses),
        "calls": dict(calls),
        "sequential": None if sequential is None else dict(sequential),
        "stopped_by": stopped_by,
        "length": None if length is None else dict(length),
        "ensembles": None if ensembles is None else dict(ensembles),
        "items": [dict(item) for item in items],
    }
    return plain(record)  # type: ignore[no-any-return]


def pooled_totals(records: Sequence[Mapping[str, Any]], confidence: float = 0.95) -> dict[str, Any]:
    """Totals over every estimated item of every coherence test: the run's own aggregate.

    Error, bias and variance are in the units of their loss (Brier, KL in nats, squared
    distance), so items are pooled only when every item shares one loss; otherwise the
    figures are undefined and ``losses`` says why.
    """
    estimates = [
        ItemEstimate.from_dict({name: item.get(name) for name in _ESTIMATE_FIELDS})
        for record in records
        for item in record["items"]
        if item.get("variance") is not None
    ]
    totals = totals_dict(*aggregate_one_loss(estimates, confidence=confidence))
    totals["tests"] = len(records)
    verdicts: dict[str, int] = {}
    for record in records:
        verdicts[record["verdict"]] = verdicts.get(record["verdict"], 0) + 1
    totals["verdicts"] = verdicts
    return totals
