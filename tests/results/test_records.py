"""Typed records: a real run's JSON report reads back into a RunRecord and writes out unchanged."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from pytest_hotmess.results.comparison import TestComparison
from pytest_hotmess.results.records import KEPT_FIELDS, ItemRecord, RunRecord, TestRecord

pytest_plugins = ["pytester"]

SCHEMA = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)

SUITE = """
import random
import pytest

@pytest.mark.coherence(max_incoherence=0.99, max_incoherence_slope=5.0, confidence=0.9)
def test_letters(resample):
    for i in range(8):
        rng = random.Random(i)
        outcomes = rng.choices("ABCD", weights=[6, 2, 1, 1], k=6)
        lengths = [{"output_tokens": rng.randint(20, 2000)} for _ in outcomes]
        resample.record(outcomes, target="A", item=f"q{i}", covariates=lengths)

@pytest.mark.coherence(max_variance=0.9, max_samples=12)
def test_numbers(resample):
    for i in range(6):
        rng = random.Random(100 + i)
        resample.record([rng.gauss(0, 1) for _ in range(5)], item=f"n{i}")

def test_unsampled_failure(resample):
    resample.record(["x", "y", "x"], target="x", item="only")
    raise AssertionError("body failed")
"""


def _report(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_subprocess(
        "--hotmess-json", "report.json", "--hotmess-details", "-p", "no:randomly", *args
    )
    data: dict[str, Any] = json.loads((pytester.path / "report.json").read_text())
    return data


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_real_report_validates_and_round_trips_through_the_records(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    data = _report(pytester, "--hotmess-seed", "7", *workers)
    jsonschema.validate(data, SCHEMA)
    assert data["run"] == {
        "plugin_version": data["plugin_version"],
        "transport": data["run"]["transport"],
        "model": "sim",
        "seed": 7,
        "record": None,
        "replay": None,
        "models": [
            {"name": "sim", "provider": "sim", "model": None, "base_url": None, "params": {}}
        ],
        "settings": data["run"]["settings"],
    }
    assert data["run"]["settings"]["seed"] == {"value": 7, "source": "--hotmess-seed"}
    assert isinstance(data["run"]["transport"], str)
    run = RunRecord.from_plain(data)
    assert [t.nodeid for t in run.tests] == sorted(t["nodeid"] for t in data["tests"])
    letters = run.tests[0]
    assert letters.length is not None and letters.length.buckets
    assert letters.ensembles is not None and letters.ensembles.averaging.rows
    assert [c.name for c in letters.checks] == ["max_incoherence", "max_incoherence_slope"]
    again = run.to_plain()
    assert json.dumps(again) == json.dumps(data)  # same keys, same order, same values
    assert RunRecord.from_plain(again) == run


def test_items_keep_their_optional_keys_only_when_set() -> None:
    estimated = {
        "id": "q",
        "kind": "categorical",
        "loss": "brier",
        "estimator": "unbiased",
        "k": 3,
        "invalid": 0,
        "weight": 1.0,
        "error": 0.5,
        "bias": 0.25,
        "variance": 0.25,
        "target": "A",
        "counts": {"A": 2, "B": 1},
        "covariates": [],
    }
    unestimated = {
        "id": "u",
        "target": None,
        "k": 1,
        "error": None,
        "bias": None,
        "variance": None,
        "outcomes": ["A"],
        "invalid": 0,
        "covariates": [{"output_tokens": 3.0}],
        "problem": "fewer than 2 samples",
    }
    for data in (estimated, unestimated):
        item = ItemRecord.from_plain(data)
        assert list(item.to_plain().items()) == list(data.items())
    assert ItemRecord.from_plain(estimated).estimate() is not None
    assert ItemRecord.from_plain(unestimated).estimate() is None


def test_the_kept_fields_of_an_item_are_its_plain_forms() -> None:
    """A single process hands items to the kept columns without ``to_plain``: the same values,
    non-finite figures null, numpy scalars builtins, a missing bucket null."""
    import numpy as np

    items = [
        ItemRecord(id="a", k=5, invalid=1, error=0.5, bias=0.25, variance=0.25, kind="categorical",
                   loss="brier", estimator="unbiased", weight=2.0, bucket="hard"),
        ItemRecord(id="b", k=4, error=float("inf"), bias=float("nan"), variance=np.float64(0.125),
                   kind="numeric", loss="squared", estimator="plugin", weight=None),
        ItemRecord(id="c", k=1, problem="fewer than 2 samples"),
    ]  # fmt: skip
    for item in items:
        plain = item.to_plain(samples=False)
        kept = item.kept_plain()
        assert kept == {name: plain.get(name) for name in KEPT_FIELDS}
        assert all(type(kept[name]) is type(plain.get(name)) for name in KEPT_FIELDS)
    assert items[1].kept_plain()["error"] is None and items[1].kept_plain()["bias"] is None
    assert type(items[1].kept_plain()["variance"]) is float


def test_a_record_missing_a_required_field_is_refused() -> None:
    with pytest.raises(ValueError, match="TestRecord: missing 'nodeid'"):
        TestRecord.from_plain({"verdict": "pass"})
    with pytest.raises(ValueError, match="no 'tests' list"):
        RunRecord.from_plain({"schema": "pytest-hotmess/1"})
    with pytest.raises(ValueError, match="schema"):
        RunRecord.from_plain({"schema": "pytest-hotmess/0", "tests": []})


def test_a_nested_field_of_the_wrong_shape_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"TestRecord\.items: expected a list, got dict"):
        TestRecord.from_plain({"nodeid": "t", "items": {}})
    with pytest.raises(ValueError, match=r"TestComparison\.figures: expected an object"):
        TestComparison.from_plain({"nodeid": "t", "figures": []})


# ----------------------------------------------------------------------------------------
# the plain forms are laid out without dataclasses.replace / asdict: the same values, types
# and key order as the general definitions below (the code before the fast paths)


def _general_value(value: object) -> Any:
    """``to_plain_value`` as first written: records by ``to_plain``, other dataclasses by
    ``plain(dataclasses.asdict(...))``, containers walked, the rest by ``plain``."""
    import dataclasses
    from collections.abc import Mapping

    from pytest_hotmess.results.plain_record import PlainRecord
    from pytest_hotmess.stats.plain import plain

    if isinstance(value, PlainRecord):
        return _general_record(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, (list, tuple)):
        return [_general_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _general_value(v) for k, v in value.items()}
    return plain(value)


def _general_record(record: Any) -> dict[str, Any]:
    import dataclasses

    if isinstance(record, ItemRecord):
        return _general_item(record, True)
    out: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if value is None and field.name in record.OMIT_NONE:
            continue
        out[field.name] = _general_value(value)
    return out


def _general_item(item: ItemRecord, samples: bool) -> dict[str, Any]:
    import math

    if item.estimated:
        head = ("id", "kind", "loss", "estimator", "k", "invalid", "weight")
        order: tuple[str, ...] = (*head, "error", "bias", "variance", "target", "counts")
        order = (*order, "outcomes")
    else:
        order = ("id", "target", "k", "error", "bias", "variance", "outcomes", "invalid")
    out: dict[str, Any] = {}
    tail = ("invalid", "covariates", "problem", "out_of_range", "difficulty", "bucket")
    for name in (*order, *tail):
        if not samples and name in ("counts", "outcomes", "covariates"):
            continue
        value = getattr(item, name)
        if not value and name == "out_of_range":
            continue
        if value is None and name in ("counts", "outcomes", "problem", "difficulty", "bucket"):
            continue
        if type(value) is float:
            out[name] = value if math.isfinite(value) else None
        elif value is None or type(value) in (str, int):
            out[name] = value
        else:
            out[name] = _general_value(value)
    return out


def _same(found: Any, expected: Any) -> None:
    """Equal values of equal types in the same key order (what the JSON text shows)."""
    assert json.dumps(found) == json.dumps(expected)
    assert found == expected


def _varied_items() -> list[ItemRecord]:
    import numpy as np

    from pytest_hotmess.stats.kinds import INVALID

    nan, inf = float("nan"), float("inf")
    return [
        ItemRecord(id="a", k=3, error=0.5, bias=0.25, variance=0.25, target="A",
                   kind="categorical", loss="brier", estimator="unbiased", weight=1.0,
                   counts={"A": 2, "B": 1}, covariates=[{"output_tokens": 3.0}],
                   difficulty=0.5, bucket="hard"),
        ItemRecord(id="b", k=4, error=inf, bias=nan, variance=np.float64(0.125), target=True,
                   kind="binary", loss="squared", estimator="plugin", weight=None,
                   counts={"True": 3, "False": 1}, out_of_range=[], difficulty="easy"),
        ItemRecord(id="c", k=2, error=-0.0, bias=-0.5, variance=0.5, target=np.int64(3),
                   kind="numeric", loss="squared", estimator="jackknife", weight=2.5,
                   outcomes=[1, np.float64(2.5), nan], out_of_range=["bias<0"]),
        ItemRecord(id="d", k=1, outcomes=["A", INVALID], invalid=1, problem="fewer than 2",
                   covariates=[{}, {"reasoning_tokens": 7.0}], target=None),
        ItemRecord(id="é\"\n", k=0, target=("x", 1), kind=None, out_of_range=None),
        ItemRecord(id="f", k=5, error=0.1, bias=0.0, variance=0.1, kind="categorical",
                   loss="kl", estimator="unbiased", weight=0.0, target=None, counts={},
                   outcomes=None, bucket="medium", difficulty=np.float64(0.3)),
    ]  # fmt: skip


def test_item_plain_forms_are_the_general_ones() -> None:
    for item in _varied_items():
        for samples in (True, False):
            _same(item.to_plain(samples), _general_item(item, samples))


def test_analyses_and_records_plain_forms_are_the_general_ones() -> None:
    """Dataclass analyses walked field by field equal ``plain(dataclasses.asdict(...))``,
    also with non-finite floats, numpy scalars, tuples, nested records and odd dict keys."""
    import dataclasses

    import numpy as np

    from pytest_hotmess.results.plain_record import dataclass_plain, to_plain_value
    from pytest_hotmess.results.records import BucketRecord, DifficultyRecord, Totals
    from pytest_hotmess.stats.decompose import estimate_item
    from pytest_hotmess.stats.difficulty import DifficultySlope
    from pytest_hotmess.stats.ensemble import ensemble_projection

    @dataclasses.dataclass(frozen=True)
    class Odd:
        numbers: tuple[object, ...]
        keyed: dict[object, object]
        nested: object

    estimates = [
        estimate_item(list("AABAC"), "A", item_id="q1"),
        estimate_item(list("BBBBA"), "A", item_id="q2", weight=2.0),
        estimate_item([True, False, True], True, item_id="q3"),
        estimate_item([0.5, 1.5, -0.25], 0.0, item_id="q4", loss="squared"),
    ]
    slope = DifficultySlope(float("nan"), None, float("inf"), -0.0, "u", 3, 1, None)
    values = [
        ensemble_projection(estimates),
        slope,
        Odd((1.0, np.float64(2.0), float("-inf")), {1: "a", "b": [np.int64(2)]}, slope),
        Odd((), {"k": {"x": float("nan")}}, Totals(items=2, error=float("nan"))),
        [slope, (slope, {"s": slope})],
    ]
    for value in values:
        _same(to_plain_value(value), _general_value(value))
    _same(dataclass_plain(values[2]), _general_value(values[2]))
    record = TestRecord(
        nodeid="t",
        model=None,
        items=_varied_items(),
        ensembles=ensemble_projection(estimates),
        totals=Totals(items=2, error=0.5, incoherence=float("nan"), clipped={"bias": -0.1}),
        difficulty=DifficultyRecord("run", "tertile", 0.95, [BucketRecord("easy")], slope),
    )
    for detail in ("tests", "items", "samples"):
        expected = _general_record(dataclasses.replace(record, items=[]))
        if detail == "tests":
            del expected["items"]
        else:
            expected["items"] = [_general_item(i, detail == "samples") for i in record.items]
        _same(record.plain_at(detail), expected)
    run = RunRecord(tests=[record, record], detail="items")
    expected_run = _general_record(dataclasses.replace(run, tests=[]))
    expected_run["tests"] = [record.plain_at("items")] * 2
    schema = expected_run.pop("schema")
    _same(run.to_plain(), {"schema": schema, **expected_run})
