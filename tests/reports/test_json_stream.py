"""Streamed JSON reports and bounded memory (issue #19).

The report is assembled from a spool of finished tests; the run keeps each item's figures in
run-wide columns, not its samples. Checked here: each ``--hotmess-json-detail`` level (schema
and fields), the streamed document against the records it came from (every figure, pooled
the old way), ``-n 2`` parity, an interrupted or crashed run keeping its finished tests,
baselines at each detail, and what a judged test leaves behind in the process.
"""

from __future__ import annotations

import io
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_hotmess.plugin.items import ITEM_KEY
from pytest_hotmess.plugin.run import RUN_KEY
from pytest_hotmess.reports.json_layout import join_test, split_test, write_document
from pytest_hotmess.reports.json_report import write_json_atomic
from pytest_hotmess.results.kept import ROW, KeptItems
from pytest_hotmess.results.record import pooled_totals
from pytest_hotmess.results.records import ItemRecord, RunRecord, TestRecord
from pytest_hotmess.stats import pooled

SCHEMA: dict[str, Any] = json.loads(
    resources.files("pytest_hotmess").joinpath("data/report.schema.json").read_text()
)

# every outcome kind and loss, a variance-only test, covariates, a failing body, two files
MIXED = {
    "test_kinds_a": """
import random
import pytest

@pytest.mark.coherence(max_incoherence=0.9, samples=12)
def test_categorical(resample):
    for i in range(20):
        rng = random.Random(i)
        rows = [{"output_tokens": float(10 + j + i)} for j in range(12)]
        resample.record(rng.choices("abcd", [60, 20, 10, 10], k=12), target="a",
                        item=f"c{i}", covariates=rows)

@pytest.mark.coherence(max_incoherence=0.95, loss="kl")
def test_distribution_kl(resample):
    for i in range(12):
        rng = random.Random(100 + i)
        samples = []
        for _ in range(6):
            p = rng.random()
            samples.append({"a": p, "b": 1 - p})
        resample.record(samples, target="a", item=f"d{i}")

def test_numeric(resample):
    for i in range(15):
        rng = random.Random(200 + i)
        resample.record([rng.gauss(1.0, 0.4) for _ in range(8)], target=1.1, item=f"n{i}")
""",
    "test_kinds_b": """
import random
import pytest

@pytest.mark.coherence(max_variance=0.5, samples=6)
def test_binary(resample):
    for i in range(18):
        rng = random.Random(300 + i)
        resample.record([rng.random() < 0.7 for _ in range(6)], target=True, item=f"b{i}")

@pytest.mark.coherence(max_variance=0.9)
def test_variance_only(resample):
    for i in range(9):
        rng = random.Random(400 + i)
        resample.record(rng.choices("xyz", k=5), item=f"v{i}")

@pytest.mark.coherence(max_incoherence=0.5)
def test_body_failure(resample):
    for i in range(4):
        resample.record(random.Random(500 + i).choices("ab", k=10), target="a", item=f"f{i}")
    raise AssertionError("body failed")
""",
}

ONE_LOSS = """
import random
import pytest

@pytest.mark.parametrize("n", range(6))
@pytest.mark.coherence(max_incoherence=0.99)
def test_quiz(resample, n):
    for i in range(10 + n):
        rng = random.Random(1000 * n + i)
        rows = [{"output_tokens": float(j)} for j in range(8)]
        resample.record(rng.choices("abc", [5, 3, 2], k=8), target="a", item=f"q{i}",
                        covariates=rows)
"""


def _report(pytester: pytest.Pytester, *args: str, name: str = "report.json") -> dict[str, Any]:
    pytester.runpytest_subprocess("--hotmess-json", name, "-p", "no:randomly", *args)
    data: dict[str, Any] = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    return data


def _by_test(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::")[1]: t for t in report["tests"]}


def test_each_detail_level_is_valid_and_holds_what_it_says(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**MIXED)
    levels = {level: _report(pytester, "--hotmess-json-detail", level, name=f"{level}.json")
              for level in ("tests", "items", "samples")}  # fmt: skip
    for level, report in levels.items():
        jsonschema.validate(report, SCHEMA)
        assert report["detail"] == level
        assert len(report["tests"]) == 6
    # tests: no item list anywhere, the figures all there
    assert all("items" not in test for test in levels["tests"]["tests"])
    # items: each item's figures, none of its samples
    items = _by_test(levels["items"])
    for test in items.values():
        for item in test["items"]:
            assert not {"counts", "outcomes", "covariates"} & set(item)
            assert {"id", "k", "error", "bias", "variance", "weight"} <= set(item)
    assert [i["id"] for i in items["test_categorical"]["items"]] == [f"c{i}" for i in range(20)]
    # samples: counts for categorical items, outcomes for the others, covariates as recorded
    samples = _by_test(levels["samples"])
    first = samples["test_categorical"]["items"][0]
    assert sum(first["counts"].values()) == 12
    assert first["covariates"][0] == {"output_tokens": 10.0}
    assert len(samples["test_numeric"]["items"][0]["outcomes"]) == 8
    assert len(samples["test_distribution_kl"]["items"][0]["outcomes"]) == 6
    # the same figures at every level: only the per-item data differs
    strip = ("counts", "outcomes", "covariates")
    for name, test in samples.items():
        slim = [{k: v for k, v in item.items() if k not in strip} for item in test["items"]]
        assert slim == items[name]["items"]
        without = {k: v for k, v in test.items() if k != "items"}
        assert without == {k: v for k, v in items[name].items() if k != "items"}
        assert without == _by_test(levels["tests"])[name]
    assert levels["tests"]["totals"] == levels["items"]["totals"] == levels["samples"]["totals"]


def test_the_ini_twin_and_the_variable_set_the_detail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_one=ONE_LOSS)
    pytester.makeini("[pytest]\nhotmess_json_detail = tests\n")
    assert _report(pytester)["detail"] == "tests"
    monkeypatch.setenv("HOTMESS_JSON_DETAIL", "samples")
    report = _report(pytester)
    assert report["detail"] == "samples"
    assert report["run"]["settings"]["json_detail"] == {
        "value": "samples",
        "source": "environment variable HOTMESS_JSON_DETAIL",
    }
    bad = pytester.runpytest_subprocess("--hotmess-json-detail", "all")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--hotmess-json-detail" in bad.stderr.str()


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_the_streamed_report_holds_every_figure_of_the_records(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    pytester.makepyfile(**MIXED)
    report = _report(pytester, "--hotmess-json-detail", "samples", *workers)
    jsonschema.validate(report, SCHEMA)
    run = RunRecord.from_plain(report)
    # the document is the records' plain form, key for key and value for value
    assert json.dumps(run.to_plain()) == json.dumps(report)
    # run totals from the kept columns == pooled the old way, over the full records
    assert run.totals.losses == ["brier", "kl", "squared"]  # mixed: counts only
    assert run.totals == pooled_totals(run.tests, confidence=0.95)
    assert run.totals.items == 20 + 12 + 15 + 18 + 9 + 4
    assert [t.outcome for t in run.tests if t.nodeid.endswith("test_body_failure")] == ["failed"]
    # and the bytes are what the writer lays out for the same record held whole
    again = pytester.path / "again.json"
    write_json_atomic(again, run)
    assert again.read_bytes() == (pytester.path / "report.json").read_bytes()


def test_one_loss_totals_and_xdist_parity_at_the_default_detail(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_one=ONE_LOSS)
    serial = _report(pytester, name="serial.json")
    parallel = _report(pytester, "-n", "2", name="parallel.json")
    samples = _report(pytester, "--hotmess-json-detail", "samples", name="samples.json")
    for report in (serial, parallel):
        del report["created"], report["run"]["settings"]["json"]
    assert serial == parallel
    whole = RunRecord.from_plain(samples)
    assert serial["totals"] == samples["totals"]
    assert RunRecord.from_plain(serial).totals == pooled_totals(whole.tests, confidence=0.95)
    totals = serial["totals"]
    assert totals["items"] == sum(10 + n for n in range(6)) and totals["incoherence"] is not None
    assert totals["incoherence_low"] < totals["incoherence"] < totals["incoherence_high"]


INTERRUPTED = """
import os
import pytest

@pytest.mark.coherence(max_incoherence=1.0)
def test_a_first(resample):
    resample.record(list("aabb"), target="a", item="x")

@pytest.mark.coherence(max_incoherence=1.0)
def test_b_second(resample):
    resample.record(list("abab"), target="a", item="y")

def test_c_stop():
    raise {stop}

def test_d_never(resample):
    resample.record(list("aaaa"), target="a", item="z")
"""


def test_an_interrupted_run_keeps_every_finished_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_stop=INTERRUPTED.format(stop="KeyboardInterrupt"))
    report = _report(pytester)
    assert report["exitstatus"] == pytest.ExitCode.INTERRUPTED
    tests = _by_test(report)
    assert set(tests) == {"test_a_first", "test_b_second"}
    assert [i["id"] for i in tests["test_b_second"]["items"]] == ["y"]
    assert report["totals"]["items"] == 2


def test_a_crashed_worker_loses_no_finished_test(pytester: pytest.Pytester) -> None:
    source = INTERRUPTED.format(stop="SystemExit(os._exit(3))")
    pytester.makepyfile(test_crash=source)
    report = _report(pytester, "-n", "2")
    tests = _by_test(report)
    assert {"test_a_first", "test_b_second", "test_d_never"} <= set(tests)
    assert report["totals"]["items"] == 3


def test_a_baseline_needs_items_and_a_tests_detail_report_is_refused(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_one=ONE_LOSS)
    # --hotmess-save keeps items whatever the detail of the JSON report
    report = _report(pytester, "--hotmess-json-detail", "tests", "--hotmess-save", "base")
    assert "items" not in report["tests"][0]
    saved = json.loads((pytester.path / ".hotmess" / "base.json").read_text())
    assert saved["detail"] == "items" and len(saved["tests"][0]["items"]) == 10
    compared = _report(pytester, "--hotmess-compare", "base", name="compared.json")
    assert compared["comparison"]["total"]["items_paired"] == sum(10 + n for n in range(6))
    refused = pytester.runpytest_subprocess("--hotmess-compare", "report.json")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    text = refused.stderr.str() + refused.stdout.str()
    assert "--hotmess-json-detail tests" in text and "no items to pair" in text


def test_a_judged_test_leaves_no_samples_behind(pytester: pytest.Pytester) -> None:
    """What the run keeps after judging: per item a few figures, never outcome lists."""
    pytester.makepyfile(test_one=ONE_LOSS)
    recorder = pytester.inline_run("-p", "no:randomly", "--hotmess-json", "out.json")
    session = recorder.getcalls("pytest_sessionfinish")[0].session
    run = session.config.stash[RUN_KEY]
    items = sum(10 + n for n in range(6))
    # the items of the session keep neither their sampling state nor their judgement
    for item in session.items:
        entry = item.stash[ITEM_KEY]
        assert entry.state is None and entry.judgement is None
    # the run's records hold no items; the reports pytest keeps hold no items either
    assert len(run.records) == 6 and all(r.items == [] for r in run.records.values())
    reports = [r for r in recorder.getreports("pytest_runtest_logreport") if r.when == "call"]
    assert all("items" not in r.hotmess for r in reports)
    # the kept rows: one per item, numbers only (52 bytes, in a spilled file)
    assert len(run.kept) == items and run.kept.read(0, items).dtype == ROW
    assert run.kept.losses == ["brier"]
    assert sorted(run.kept.rows) == sorted(run.records)
    # and the report still has every item with its figures
    written = json.loads((pytester.path / "out.json").read_text())
    assert sum(len(t["items"]) for t in written["tests"]) == items


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_the_run_pools_its_spilled_rows_in_passes_as_the_records_do(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]
) -> None:
    """The controller (in this process under xdist too) keeps one row per item in its file,
    and its totals, read back in passes far smaller than the run, are the records' own."""
    monkeypatch.setattr(pooled, "LEAF", 16)  # 75 items: five ranges in the first pass
    pytester.makepyfile(test_one=ONE_LOSS)
    args = ("-p", "no:randomly", "--hotmess-json", "out.json", "--hotmess-json-detail")
    recorder = pytester.inline_run(*args, "samples", *workers)
    run = recorder.getcalls("pytest_sessionfinish")[0].session.config.stash[RUN_KEY]
    items = sum(10 + n for n in range(6))
    assert len(run.kept) == items and run.kept.read(0, items).dtype == ROW
    assert len(run.records) == 6 and all(r.items == [] for r in run.records.values())
    report = RunRecord.from_plain(json.loads((pytester.path / "out.json").read_text()))
    assert report.totals == pooled_totals(report.tests, confidence=0.95)
    assert report.totals.items == items and report.totals.incoherence_low is not None


def _item(name: str, loss: str, error: float | None, variance: float, **extra: Any) -> ItemRecord:
    bias = None if error is None else error - variance
    return ItemRecord(
        id=name,
        kind="categorical",
        loss=loss,
        estimator="unbiased",
        k=5,
        error=error,
        bias=bias,
        variance=variance,
        weight=extra.pop("weight", 1.0),
        **extra,
    )


def test_kept_columns_pool_exactly_as_the_records_do() -> None:
    tests = [
        TestRecord(
            nodeid="t::b",
            items=[
                _item("1", "brier", 0.5, 0.2),
                _item("2", "brier", None, 0.3),  # variance only
                ItemRecord(id="3", k=4, problem="not estimated"),
                _item("4", "brier", 0.1, 0.15, weight=2.5, invalid=1),  # negative bias
            ],
        ),
        TestRecord(
            nodeid="t::a", items=[_item("1", "brier", 0.9, 0.1), _item("2", "brier", 0.3, 0.0)]
        ),
    ]
    kept = KeptItems()
    for test in reversed(tests):  # finished in another order than reported
        kept.add(test.nodeid, (item.to_plain(samples=False) for item in test.items))
    ordered = sorted(tests, key=lambda t: t.nodeid)
    expected = pooled_totals(ordered, confidence=0.9)
    got = kept.pooled_totals(ordered, confidence=0.9)
    assert got == expected
    assert got.items == 5 and got.targeted_items == 4 and got.invalid == 1
    # a test added again (a rerun) counts once, with its last items
    kept.add("t::a", [_item("1", "kl", 0.4, 0.1).to_plain()])
    mixed = kept.pooled_totals(ordered, confidence=0.9)
    assert mixed.losses == ["brier", "kl"] and mixed.error is None and mixed.items == 4


def test_the_layout_is_json_of_the_same_values() -> None:
    odd = {"nodeid": 'a::b["x\\ny"]', "outcome": None, "verdict": "fail", "message": "é\n\"",
           "totals": {"items": 1, "clipped": {}}, "items": [{"id": "ü", "target": [1, None]}],
           "notes": []}  # fmt: skip
    plain = {"schema": "s", "created": "c", "tests": [], "totals": {"x": [1.5, None]}}
    for tests in ([], [odd, {**odd, "items": []}]):
        out = io.StringIO()
        texts = (
            join_test(t["nodeid"], t["outcome"], split_test(t), with_items=True) for t in tests
        )
        write_document(plain, out, texts)
        assert json.loads(out.getvalue()) == {**plain, "tests": tests}
    without = join_test("n", "passed", split_test(odd), with_items=False)
    assert json.loads(without) == {
        "nodeid": "n",
        "outcome": "passed",
        **{k: v for k, v in odd.items() if k not in ("nodeid", "outcome", "items")},
    }


def test_a_failed_write_leaves_the_old_report(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def broken(with_items: bool) -> Any:
        yield "{}"
        raise OSError("disk full")

    from pytest_hotmess.reports.json_report import ReportInput

    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(target, ReportInput(RunRecord(), texts=broken))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_layout_is_json_dumps_indent_2_byte_for_byte() -> None:
    """Containers of scalars are written by one encoder call each; the text must still be what
    ``json.dumps(indent=2)`` writes, at every depth, and NaN must still be refused."""
    import random

    from pytest_hotmess.reports.json_layout import _dumps

    def reference(value: object, depth: int) -> str:
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        return text.replace("\n", "\n" + "  " * depth)

    leaves = [None, True, False, 0, -3, 2**70, 1.5, -0.0, 0.1 + 0.2, 1e-300, "", 'é\n"\\', "\u2028"]
    rng = random.Random(3)

    def value(depth: int) -> object:
        roll = rng.random()
        if depth > 3 or roll < 0.4:
            return rng.choice(leaves)
        if roll < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {
            rng.choice(["a", "ü", "k\n"]) + str(i): value(depth + 1)
            for i in range(rng.randint(0, 4))
        }

    odd: list[object] = [{1: 2, "a": [1]}, {True: {"x": 1}}, ({"a": (1, 2)},), [[], {}], {"a": {}}]
    for one in [value(0) for _ in range(2000)] + odd:
        for depth in (0, 1, 3):
            assert _dumps(one, depth) == reference(one, depth)
    for bad in (math.nan, -math.inf, [math.nan], {"a": [1, {"b": math.inf}]}):
        with pytest.raises(ValueError, match="not JSON compliant"):
            _dumps(bad, 1)


def test_a_record_laid_out_itself_is_its_plain_form_laid_out() -> None:
    """A single process spools the record it judged without its plain form
    (``record_segments``): the same text as ``split_test(record.plain_at(...))``, byte for
    byte, for items of every shape and at both item details."""
    import numpy as np

    from pytest_hotmess.reports.json_layout import record_segments
    from pytest_hotmess.reports.spool import Spool
    from pytest_hotmess.results.records import ItemRecord, TestRecord, Totals
    from pytest_hotmess.stats.decompose import estimate_item
    from pytest_hotmess.stats.ensemble import ensemble_projection
    from pytest_hotmess.stats.kinds import INVALID

    nan, inf = math.nan, math.inf
    items = [
        ItemRecord(id="a", k=3, error=0.5, bias=0.25, variance=0.25, target="A",
                   kind="categorical", loss="brier", estimator="unbiased", weight=1.0,
                   counts={"A": 2, "B": 1}, covariates=[{"output_tokens": 3.0}],
                   difficulty=0.5, bucket="hard"),
        ItemRecord(id="a2", k=3, error=0.5, bias=0.25, variance=0.25, target="A",
                   kind="categorical", loss="brier", estimator="unbiased", weight=1.0,
                   difficulty=-0.0, bucket="easy"),
        ItemRecord(id="b", k=4, error=inf, bias=nan, variance=np.float64(0.125), target=True,
                   kind="binary", loss="squared", estimator="plugin", weight=None,
                   counts={"True": 3, "False": 1}, out_of_range=[], difficulty="easy"),
        ItemRecord(id="c", k=2, error=-0.0, bias=-0.5, variance=0.5, target=np.int64(3),
                   kind="numeric", loss="squared", estimator="jackknife", weight=2.5,
                   outcomes=[1, np.float64(2.5), nan], out_of_range=["bias<0"]),
        ItemRecord(id="d", k=1, outcomes=["A", INVALID], invalid=1, problem="fewer than 2",
                   covariates=[{}, {"reasoning_tokens": 7.0}], target=None),
        ItemRecord(id='é"\n\u2028', k=0, target=("x", 1.5), kind=None, error=0.0),
    ]  # fmt: skip
    estimates = [estimate_item(list("AABAC"), "A", item_id="q1")]
    estimates.append(estimate_item(list("BBBBA"), "A", item_id="q2"))
    records = [
        TestRecord(nodeid="t", items=items, ensembles=ensemble_projection(estimates),
                   totals=Totals(items=6, error=0.5, incoherence=nan, clipped={"bias": -0.1})),
        TestRecord(nodeid="u", verdict="fail", message="m\n", items=[]),
        TestRecord(nodeid="v", items=items[:2] * 30),
    ]  # fmt: skip
    for record in records:
        for samples in (True, False):
            plain = record.plain_at("samples" if samples else "items")
            assert record_segments(record, samples) == split_test(plain)
            by_record, by_plain = Spool(), Spool()
            by_record.add_record(record.nodeid, record, samples=samples)
            by_plain.add(record.nodeid, plain)
            assert by_record.segments(record.nodeid) == by_plain.segments(record.nodeid)
            assert json.loads(by_record.text(record.nodeid, "passed", with_items=True)) == (
                json.loads(json.dumps({**plain, "outcome": "passed"}))
            )
            by_record.close()
            by_plain.close()
