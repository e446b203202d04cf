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
