"""Compare this run with a baseline run: pair tests by node id and items by id, then let
``stats.compare`` put a paired interval on every change; fail rules turn changes into
regressions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..stats.compare import Change, ItemFigures, Pair, Rule, check_options, figure_changes
from ..stats.difficulty import BUCKETS
from .comparison import (
    BucketChange,
    Comparison,
    Regression,
    TestComparison,
    TotalComparison,
    VerdictPair,
)
from .records import ItemRecord, RunRecord, TestRecord

__all__ = ["compare_runs", "find_regressions"]


def _tests_by_nodeid(run: RunRecord, side: str) -> dict[str, TestRecord]:
    out: dict[str, TestRecord] = {}
    for test in run.tests:
        if test.nodeid in out:
            raise ValueError(f"the {side} report lists test {test.nodeid!r} twice")
        out[test.nodeid] = test
    return out


def _items_by_id(test: TestRecord, side: str) -> dict[str, ItemRecord]:
    out: dict[str, ItemRecord] = {}
    for item in test.items:
        if item.id in out:
            raise ValueError(f"the {side} report lists item {item.id!r} twice in {test.nodeid}")
        out[item.id] = item
    return out


def _figures(item: ItemRecord) -> ItemFigures:
    weight = 1.0 if item.weight is None else item.weight
    return ItemFigures(item.error, item.bias, item.variance, weight)


def _changes(
    pairs: Sequence[Pair],
    confidence: float,
    method: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, Change]:
    return figure_changes(
        pairs, confidence=confidence, method=method, n_resamples=n_resamples, rng=rng
    )


BucketedPair = tuple[str | None, Pair]
"""A paired item and its difficulty bucket (None when neither side has one)."""


def _bucket_changes(
    pairs: Sequence[BucketedPair],
    confidence: float,
    method: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> list[BucketChange]:
    """The paired changes over each bucket's items: easy, medium, hard, those with items."""
    out = []
    for bucket in BUCKETS:
        chosen = [pair for name, pair in pairs if name == bucket]
        if chosen:
            figures = _changes(chosen, confidence, method, n_resamples, rng)
            out.append(BucketChange(bucket=bucket, items_paired=len(chosen), figures=figures))
    return out


def _settings_warnings(now: TestRecord, before: TestRecord) -> list[str]:
    notes = []
    for name in ("loss", "estimator"):
        was, is_now = getattr(before, name), getattr(now, name)
        if is_now != was:
            notes.append(f"{name} differs: {was!r} before, {is_now!r} now")
    return notes


def _compare_test(
    now: TestRecord,
    before: TestRecord,
    confidence: float,
    method: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[TestComparison, list[BucketedPair]]:
    items_now, items_before = _items_by_id(now, "current"), _items_by_id(before, "baseline")
    common = [i for i in items_now if i in items_before]
    pairs = [(_figures(items_now[i]), _figures(items_before[i])) for i in common]
    # an item's bucket is the current run's; the baseline's when the current item has none
    buckets = [items_now[i].bucket or items_before[i].bucket for i in common]
    unestimated = [
        i for i in common if items_now[i].variance is None or items_before[i].variance is None
    ]
    entry = TestComparison(
        nodeid=now.nodeid,
        verdict=VerdictPair(now.verdict, before.verdict),
        items_current=len(items_now),
        items_baseline=len(items_before),
        items_paired=len(common),
        items_only_current=[i for i in items_now if i not in items_before],
        items_only_baseline=[i for i in items_before if i not in items_now],
        items_unestimated=unestimated,
        warnings=_settings_warnings(now, before),
        figures=_changes(pairs, confidence, method, n_resamples, rng),
    )
    return entry, list(zip(buckets, pairs, strict=True))


def compare_runs(
    current: RunRecord,
    baseline: RunRecord,
    *,
    confidence: float = 0.95,
    method: str = "delta",
    seed: int | None = None,
    n_resamples: int = 2000,
    baseline_path: str | None = None,
) -> Comparison:
    """Per-test changes (current - baseline) and the pooled change over all paired items.

    Tests are listed in the current run's order; deterministic for a given ``seed``.
    """
    confidence = check_options(confidence, method)
    tests_now = _tests_by_nodeid(current, "current")
    tests_before = _tests_by_nodeid(baseline, "baseline")
    rng = np.random.default_rng(seed)
    entries: list[TestComparison] = []
    bucketed: list[list[BucketedPair]] = []
    for nodeid, now in tests_now.items():
        if nodeid in tests_before:
            entry, pairs = _compare_test(
                now, tests_before[nodeid], confidence, method, n_resamples, rng
            )
            entries.append(entry)
            bucketed.append(pairs)
    all_pairs = [pair for pairs in bucketed for pair in pairs]
    total = TotalComparison(
        items_paired=len(all_pairs),
        figures=_changes([pair for _, pair in all_pairs], confidence, method, n_resamples, rng),
    )
    # the buckets draw from the generator after everything else: the rest stays as it was
    entries = [
        dataclasses.replace(
            entry, buckets=_bucket_changes(pairs, confidence, method, n_resamples, rng)
        )
        for entry, pairs in zip(entries, bucketed, strict=True)
    ]
    total = dataclasses.replace(
        total, buckets=_bucket_changes(all_pairs, confidence, method, n_resamples, rng)
    )
    return Comparison(
        confidence=confidence,
        method=method,
        tests=entries,
        tests_only_current=[t for t in tests_now if t not in tests_before],
        tests_only_baseline=[t for t in tests_before if t not in tests_now],
        total=total,
        baseline_path=baseline_path,
    )


def _violation(scope: str, rule: Rule, figure: Change, confidence: float) -> Regression:
    assert figure.change is not None and figure.low is not None and figure.high is not None
    percent = f"{100 * confidence:g}%"
    where = "" if rule.bucket is None else f" on its {rule.bucket} items ({figure.items} paired)"
    message = (
        f"{scope}: {rule.figure}{where} rose by {figure.change:.4g} ({percent} interval "
        f"{figure.low:.4g} to {figure.high:.4g}; baseline {figure.baseline:.4g}, now "
        f"{figure.current:.4g}): even the lower bound exceeds the tolerance {rule.tolerance:g}"
    )
    return Regression(
        nodeid=scope,
        figure=rule.figure,
        tolerance=rule.tolerance,
        change=figure.change,
        low=figure.low,
        high=figure.high,
        current=figure.current,
        baseline=figure.baseline,
        message=message,
        bucket=rule.bucket,
    )


def find_regressions(
    comparison: Comparison, rules: Sequence[Rule], *, include_total: bool = False
) -> list[Regression]:
    """Violations of ``rules``: the lower bound of a figure's increase above its tolerance.

    Figures without an interval never violate. A bucket rule looks at the test's change over
    that bucket's items (a test without paired items in the bucket has nothing to violate).
    With ``include_total`` the pooled total is checked too, under the scope ``"<total>"``.
    """
    scopes: list[tuple[str, dict[str, Change], Sequence[BucketChange]]] = [
        (test.nodeid, test.figures, test.buckets) for test in comparison.tests
    ]
    if include_total:
        total = comparison.total
        scopes.append(("<total>", total.figures, total.buckets))
    found = []
    for scope, figures, buckets in scopes:
        by_bucket = {entry.bucket: entry.figures for entry in buckets}
        for rule in rules:
            changes = figures if rule.bucket is None else by_bucket.get(rule.bucket, {})
            figure = changes.get(rule.figure)
            if figure is not None and figure.low is not None and figure.low > rule.tolerance:
                found.append(_violation(scope, rule, figure, comparison.confidence))
    return found
