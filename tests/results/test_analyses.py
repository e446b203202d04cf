"""The analyses computed in stats travel as their own typed records: the judge's record holds
them as they are, their plain form keeps the JSON report's keys and order, and an xdist report
or a baseline file rebuilds them, nested records included."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest

from pytest_hotmess.results.compare_runs import compare_runs
from pytest_hotmess.results.insights import ensembles_for, length_for
from pytest_hotmess.results.plain_record import from_plain_data, to_plain_value
from pytest_hotmess.results.records import RunRecord, TestRecord
from pytest_hotmess.sampling.resampler import ItemResult
from pytest_hotmess.stats.compare import Change, ItemFigures, figure_changes, ratio_change
from pytest_hotmess.stats.decompose import estimate_item
from pytest_hotmess.stats.ensemble import (
    EnsembleMethod,
    EnsembleProjection,
    EnsembleRow,
    ensemble_projection,
)
from pytest_hotmess.stats.length import (
    LengthAnalysis,
    LengthBin,
    Overthinking,
    RatioSummary,
    SkippedItem,
    Slope,
    items_from_results,
    length_analysis,
)


def _results(seed: int = 5, n: int = 12) -> list[ItemResult]:
    """Numeric items whose samples carry an output length, plus one item that cannot split."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        outcomes = tuple(float(x) for x in rng.normal(1.0, 0.3 + 0.1 * (i % 4), size=8))
        rows = tuple({"output_tokens": float(rng.integers(10, 4000))} for _ in outcomes)
        out.append(ItemResult(f"q{i}", 1.2, outcomes, rows, estimate_item(list(outcomes), 1.2)))
    same = (1.0, 2.0, 3.0)
    flat = ({"output_tokens": 5.0},) * 3  # one length: no item half below the median
    out.append(ItemResult("flat", 1.2, same, flat, estimate_item(list(same), 1.2)))
    return out


def _categorical() -> list[Any]:
    rng = np.random.default_rng(2)
    items = [
        estimate_item(list(rng.choice(list("ABC"), size=10, p=[0.6, 0.3, 0.1])), "A")
        for _ in range(6)
    ]
    return [*items, estimate_item([1.0, 2.0, 2.5], 2.0, item_id="numeric")]


def _assert_builtins(value: Any) -> None:
    """Every leaf is a builtin (no numpy scalar) and every float finite."""
    if isinstance(value, dict):
        for v in value.values():
            _assert_builtins(v)
    elif isinstance(value, list):
        for v in value:
            _assert_builtins(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)
        assert not (isinstance(value, float) and not math.isfinite(value))


def test_the_stats_functions_return_typed_records_all_the_way_down() -> None:
    analysis = length_analysis(items_from_results(_results()), buckets=3)
    assert isinstance(analysis, LengthAnalysis)
    assert all(isinstance(b, LengthBin) for b in analysis.buckets) and len(analysis.buckets) == 3
    assert isinstance(analysis.slope, Slope)
    split = analysis.overthinking
    assert isinstance(split, Overthinking)
    assert isinstance(split.short, RatioSummary) and isinstance(split.long, RatioSummary)
    assert isinstance(split.change, Change)
    assert split.items_skipped == [
        SkippedItem("flat", "fewer than 2 samples on one side of the median length")
    ]
    projection = ensemble_projection(_categorical(), ms=(1, 3))
    assert isinstance(projection, EnsembleProjection)
    assert isinstance(projection.majority, EnsembleMethod)
    assert all(isinstance(r, EnsembleRow) for r in projection.majority.rows)
    assert projection.majority.excluded[0].id == "numeric"
    change = ratio_change([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [1.0, 1.5, 2.0], [2.0, 3.0, 4.0])
    assert isinstance(change, Change) and change.items == 3 and change.method == "delta"
    pairs = [(ItemFigures(0.5, 0.2, 0.3), ItemFigures(0.4, 0.2, 0.2))] * 3
    changes = figure_changes(pairs)
    assert list(changes) == ["error", "bias", "variance", "incoherence"]
    assert all(isinstance(c, Change) for c in changes.values())
    for record in (analysis, projection, change):
        _assert_builtins(dataclasses.asdict(record))  # None where undefined, never NaN


def test_the_insights_hand_the_stats_records_over_unconverted() -> None:
    results = _results()
    length = length_for(results, confidence=0.9, buckets=3)
    expected = length_analysis(items_from_results(results), 3, 0.9)
    assert type(length) is LengthAnalysis and length == expected
    estimates = [r.estimate for r in results if r.estimate is not None]
    ensembles = ensembles_for(estimates, confidence=0.9)
    assert type(ensembles) is EnsembleProjection
    assert ensembles == ensemble_projection(estimates, (1, 3, 5), confidence=0.9)


def test_the_plain_form_keeps_the_field_order_and_reads_back_equal() -> None:
    analysis = length_analysis(items_from_results(_results()), buckets=3)
    projection = ensemble_projection(_categorical(), ms=(1, 3, 9))
    for record in (analysis, projection, analysis.overthinking, analysis.slope):
        assert record is not None
        data = to_plain_value(record)
        assert list(data) == [f.name for f in dataclasses.fields(record)]
        again = from_plain_data(type(record), json.loads(json.dumps(data, allow_nan=False)))
        assert again == record
    rebuilt = from_plain_data(LengthAnalysis, to_plain_value(analysis))
    assert type(rebuilt.buckets[0]) is LengthBin
    assert rebuilt.overthinking is not None and type(rebuilt.overthinking.change) is Change
    assert type(rebuilt.overthinking.items_skipped[0]) is SkippedItem
    assert type(from_plain_data(EnsembleProjection, to_plain_value(projection)).majority.rows[0])
    assert list(to_plain_value(analysis.buckets[0])) == [
        "bucket",
        "length_min",
        "length_max",
        "length",
        "items",
        "error",
        "variance",
        "incoherence",
        "low",
        "high",
    ]


def test_a_test_record_carries_the_stats_records_through_its_plain_form() -> None:
    results = _results()
    estimates = [r.estimate for r in results if r.estimate is not None]
    record = TestRecord(
        nodeid="t.py::test_x",
        length=length_for(results, confidence=0.95),
        ensembles=ensembles_for(estimates, confidence=0.95),
    )
    again = TestRecord.from_plain(json.loads(json.dumps(record.to_plain())))
    assert again == record
    assert type(again.length) is LengthAnalysis and type(again.ensembles) is EnsembleProjection


def test_a_comparison_holds_the_stats_change_records() -> None:
    def report(shift: float) -> dict[str, Any]:
        items = [
            {"id": f"q{i}", "error": 0.5 + shift, "bias": 0.2, "variance": 0.3 + 0.01 * i}
            for i in range(5)
        ]
        return {"schema": "pytest-hotmess/1", "tests": [{"nodeid": "t", "items": items}]}

    comparison = compare_runs(RunRecord.from_plain(report(0.1)), RunRecord.from_plain(report(0)))
    figures = comparison.tests[0].figures
    assert all(type(change) is Change for change in figures.values())
    assert figures["error"].change == pytest.approx(0.1)
    assert type(comparison.total.figures["incoherence"]) is Change


SLOPE = Slope(0.1, 0.0, 0.2, "incoherence per doubling of length", 0.5, 300.0, 9, 7, None)


def test_a_missing_field_of_a_stats_record_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Slope: missing 'df'"):
        from_plain_data(Slope, {k: v for k, v in to_plain_value(SLOPE).items() if k != "df"})
    with pytest.raises(ValueError, match="Change: expected an object, got list"):
        from_plain_data(Change, [1, 2])


def test_item_result_to_dict_is_the_items_json_record() -> None:
    """The public ``ItemResult.to_dict`` and the plugin's typed item record write one shape."""
    from pytest_hotmess.results.record import item_record
    from pytest_hotmess.stats.kinds import INVALID, NOTHING

    outcomes = ("A", "B", INVALID, "A")
    cases = [
        *_results(n=2),
        ItemResult(
            "c",
            "A",
            outcomes,
            ({"output_tokens": 3.0},) * 4,
            estimate_item(list(outcomes), "A", item_id="c", weight=2.0),
        ),
        ItemResult("v", NOTHING, (1.0, 2.0), ({}, {}), estimate_item([1.0, 2.0], item_id="v")),
        ItemResult("u", NOTHING, ("x",), ({"reasoning_tokens": 1.0},), None, "too few"),
    ]
    for result in cases:
        assert json.dumps(result.to_dict()) == json.dumps(item_record(result).to_plain())
