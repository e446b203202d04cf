"""One test's result as plain builtins: what crosses xdist and what every report is built from."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._decompose import ItemEstimate
from ._gate import GateOutcome
from ._uncertainty import Aggregate, aggregate

__all__ = ["TOTAL_FIELDS", "build_record", "plain", "pooled_totals"]

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


def plain(value: Any) -> Any:
    """Recursively turn numpy scalars into builtins and non-finite floats into None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return plain(value.item())
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    return str(value)


def totals_dict(agg: Aggregate) -> dict[str, Any]:
    data = agg.to_dict()
    out = {name: data.get(name) for name in TOTAL_FIELDS}
    for extra in ("targeted_items", "k_min", "k_max", "invalid", "interval_method"):
        out[extra] = data.get(extra)
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
    gate: GateOutcome,
    calls: Mapping[str, Any],
    sequential: Mapping[str, Any] | None = None,
    stopped_by: str | None = None,
    note: str | None = None,
    length: Mapping[str, Any] | None = None,
    ensembles: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The per-test payload: everything the terminal, JUnit and JSON reports need."""
    losses = sorted({e.loss for e in estimates})
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
        "totals": totals_dict(agg),
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
    losses = sorted({estimate.loss for estimate in estimates})
    totals = totals_dict(aggregate(estimates if len(losses) <= 1 else [], confidence=confidence))
    if len(losses) > 1:
        totals["items"] = len(estimates)
        totals["k_min"] = min(estimate.k for estimate in estimates)
        totals["k_max"] = max(estimate.k for estimate in estimates)
    totals["losses"] = losses
    totals["tests"] = len(records)
    verdicts: dict[str, int] = {}
    for record in records:
        verdicts[record["verdict"]] = verdicts.get(record["verdict"], 0) + 1
    totals["verdicts"] = verdicts
    return totals
