"""Paired changes per difficulty bucket and fail rules on a bucket (issue 18, item 2).

Reports are written in their JSON shape and read into ``RunRecord``s, as a baseline file is;
the expected numbers are computed by hand in the comments (unit weights: the delta interval
of a mean is the paired t interval of the per-item differences).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_hotmess.config.settings import RawOptions, SettingsError, resolve_settings
from pytest_hotmess.results.compare_runs import compare_runs, find_regressions
from pytest_hotmess.results.comparison import Comparison
from pytest_hotmess.results.record import model_bucket_rows
from pytest_hotmess.results.records import RunRecord, TestRecord
from pytest_hotmess.stats.compare import Rule, parse_fail_rules

T_2 = 4.302652729911275  # t quantile, 2 degrees of freedom, 0.975 (statistical tables)


def _item(item_id: str, error: float, variance: float, bucket: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "error": error, "bias": error - variance}
    item.update(variance=variance, weight=1.0, kind="categorical", loss="brier")
    item["estimator"] = "unbiased"
    if bucket is not None:
        item["bucket"] = bucket
    return item


def _run(*tests: tuple[str, list[dict[str, Any]]]) -> RunRecord:
    return RunRecord.from_plain(
        {
            "schema": "pytest-hotmess/1",
            "tests": [
                {"nodeid": nodeid, "loss": "brier", "estimator": "unbiased", "items": items}
                for nodeid, items in tests
            ],
            "totals": {},
        }
    )


# hard items h1..h3: errors 0.5, 0.7, 0.9 now and 0.4, 0.5, 0.6 before (differences 0.1, 0.2,
# 0.3: mean 0.2, sd 0.1); variances 0.25, 0.35, 0.45 now (incoherence 1.05 / 2.1 = 0.5) and
# 0.1 each before (0.3 / 1.5 = 0.2). Easy items e1, e2 do not change. h3 has no bucket now:
# the baseline's ("hard") counts. x only now, y only before: left out.
NOW = [
    _item("h3", 0.9, 0.45, None),
    _item("e1", 0.2, 0.02, "easy"),
    _item("h1", 0.5, 0.25, "hard"),
    _item("x", 0.9, 0.9, "hard"),
    _item("h2", 0.7, 0.35, "hard"),
    _item("e2", 0.4, 0.04, "easy"),
]
BEFORE = [
    _item("h2", 0.5, 0.1, "hard"),
    _item("y", 0.0, 0.0, "hard"),
    _item("h1", 0.4, 0.1, "hard"),
    _item("e2", 0.4, 0.04, "easy"),
    _item("h3", 0.6, 0.1, "hard"),
    _item("e1", 0.2, 0.02, "easy"),
]


def _comparison() -> Comparison:
    return compare_runs(_run(("t::a", NOW)), _run(("t::a", BEFORE)), seed=0)


def test_per_bucket_paired_changes_match_the_hand_computation() -> None:
    test = _comparison().tests[0]
    assert [b.bucket for b in test.buckets] == ["easy", "hard"]  # no medium item: no row
    assert test.items_only_current == ["x"] and test.items_only_baseline == ["y"]
    hard = test.bucket("hard")
    assert hard is not None and hard.items_paired == 3
    error = hard.figures["error"]
    assert error.items == 3
    assert error.current == pytest.approx(0.7) and error.baseline == pytest.approx(0.5)
    half_width = T_2 * 0.1 / math.sqrt(3)  # 0.248414
    assert error.change == pytest.approx(0.2)
    assert error.low == pytest.approx(0.2 - half_width)
    assert error.high == pytest.approx(0.2 + half_width)
    # incoherence 0.5 - 0.2; the delta terms: now (v - 0.5 e) / mean(e) = 0, 0, 0; before
    # (v - 0.2 e) / 0.5 = 0.04, 0, -0.04; their differences -0.04, 0, 0.04 have sd 0.04
    inc = hard.figures["incoherence"]
    assert inc.current == pytest.approx(0.5) and inc.baseline == pytest.approx(0.2)
    assert inc.change == pytest.approx(0.3)
    assert inc.low == pytest.approx(0.3 - T_2 * 0.04 / math.sqrt(3))
    assert inc.high == pytest.approx(0.3 + T_2 * 0.04 / math.sqrt(3))
    easy = test.bucket("easy")
    assert easy is not None and easy.items_paired == 2
    assert easy.figures["incoherence"].change == pytest.approx(0.0)
    # the test's own figures still pool every paired item (5 of them)
    assert test.figures["error"].items == 5


def test_buckets_pool_over_tests_in_the_total() -> None:
    comparison = compare_runs(
        _run(("t::a", NOW), ("t::b", NOW[:2])), _run(("t::a", BEFORE), ("t::b", BEFORE)), seed=0
    )
    hard = next(b for b in comparison.total.buckets if b.bucket == "hard")
    assert hard.items_paired == 4  # h1, h2, h3 of a; h3 of b
    assert comparison.total.items_paired == 7


def test_bucket_changes_survive_the_json_round_trip() -> None:
    comparison = _comparison()
    again = Comparison.from_plain(comparison.to_plain())
    assert again == comparison
    assert again.tests[0].buckets[1].figures["incoherence"].change == pytest.approx(0.3)


def test_a_bucket_rule_fails_when_the_lower_bound_exceeds_its_tolerance() -> None:
    comparison = _comparison()
    # the hard incoherence interval is 0.3 +- 0.0994: lower bound 0.2006
    found = find_regressions(comparison, parse_fail_rules(["incoherence@hard:0.15"]))
    assert len(found) == 1
    regression = found[0]
    assert (regression.nodeid, regression.figure, regression.bucket) == (
        "t::a",
        "incoherence",
        "hard",
    )
    assert regression.change == pytest.approx(0.3)
    assert regression.low == pytest.approx(0.3 - T_2 * 0.04 / math.sqrt(3))
    assert "t::a: incoherence on its hard items (3 paired) rose by 0.3 " in regression.message
    assert "tolerance 0.15" in regression.message
    assert regression.to_plain()["bucket"] == "hard"


def test_a_bucket_rule_passes_within_tolerance_and_other_buckets_do_not_count() -> None:
    comparison = _comparison()
    assert find_regressions(comparison, parse_fail_rules(["incoherence@hard:0.25"])) == []
    assert find_regressions(comparison, parse_fail_rules(["incoherence@easy:0"])) == []
    assert find_regressions(comparison, parse_fail_rules(["incoherence@medium:0"])) == []
    # over all five paired items the rise is diluted: the same tolerance does not fire
    assert find_regressions(comparison, parse_fail_rules(["incoherence:0.15"])) == []
    # a rule without a bucket keeps its old plain form (no "bucket" key)
    found = find_regressions(comparison, [Rule("error", 0.0)])
    assert found == [] or "bucket" not in found[0].to_plain()


def test_bucket_rules_parse_and_print_back() -> None:
    rules = parse_fail_rules(["incoherence@HARD:0.05, error:0.1", " bias @ easy : 0"])
    assert rules == [
        Rule("incoherence", 0.05, "hard"),
        Rule("error", 0.1),
        Rule("bias", 0.0, "easy"),
    ]
    assert [str(rule) for rule in rules] == ["incoherence@hard:0.05", "error:0.1", "bias@easy:0"]
    assert parse_fail_rules([str(rule) for rule in rules]) == rules


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "incoherence@tricky:0.05",
            "unknown difficulty bucket 'tricky'; use one of easy, medium, hard",
        ),
        ("incoherence@:0.05", "unknown difficulty bucket ''"),
        ("wobble@hard:0.05", "unknown figure 'wobble'"),
        ("incoherence@hard", "write FIGURE:TOLERANCE or FIGURE@BUCKET:TOLERANCE"),
        ("incoherence@hard:-1", "the tolerance must be a finite number >= 0"),
    ],
)
def test_bad_bucket_rules_name_the_rule_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="bad fail rule") as caught:
        parse_fail_rules([text])
    assert problem in str(caught.value)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("cli", "--hotmess-compare-fail: bad fail rule 'variance@tough:0.1'"),
        ("env", "environment variable HOTMESS_COMPARE_FAIL: bad fail rule 'variance@tough:0.1'"),
        ("ini", "tox.ini: hotmess_compare_fail: bad fail rule 'variance@tough:0.1'"),
    ],
)
def test_a_bad_bucket_is_a_settings_error_naming_its_source(source: str, expected: str) -> None:
    rule = "variance@tough:0.1"
    raw = RawOptions(
        cli={"compare_fail": [rule]} if source == "cli" else {},
        ini={"compare_fail": [rule]} if source == "ini" else {},
        inifile="tox.ini",
        invocation_dir=Path("/here"),
        rootdir=Path("/root"),
    )
    environ = {"HOTMESS_COMPARE_FAIL": rule} if source == "env" else {}
    with pytest.raises(SettingsError) as caught:
        resolve_settings(raw, {}, environ)
    assert str(caught.value).startswith(expected)
    assert "unknown difficulty bucket 'tough'" in str(caught.value)


def test_bucket_rules_resolve_from_settings_in_their_canonical_form() -> None:
    raw = RawOptions(
        cli={"compare_fail": ["Incoherence@Hard:0.050"]},
        ini={},
        inifile=None,
        invocation_dir=Path("/here"),
        rootdir=Path("/root"),
    )
    assert resolve_settings(raw, {}, {}).compare_fail == ("incoherence@hard:0.05",)


# ----------------------------------------------------------------------------------------
# the "by model and difficulty" table


def _record(nodeid: str, model: str | None, items: list[dict[str, Any]]) -> TestRecord:
    return TestRecord.from_plain({"nodeid": nodeid, "model": model, "items": items})


def test_model_rows_pool_each_models_items_per_bucket_over_its_tests() -> None:
    records = [
        # model "small": easy items in two tests, a hard one, one without a bucket
        _record(
            "t::a[small]", "small", [_item("q1", 0.2, 0.1, "easy"), _item("q2", 0.8, 0.2, "hard")]
        ),
        _record(
            "t::b[small]", "small", [_item("q1", 0.4, 0.1, "easy"), _item("q9", 0.5, 0.5, None)]
        ),
        _record(
            "t::a[large]", "large", [_item("q1", 0.1, 0.01, "easy"), _item("q2", 0.6, 0.3, "hard")]
        ),
        _record("t::plain", None, [_item("q1", 1.0, 1.0, "hard")]),  # no model: not in the table
    ]
    rows = model_bucket_rows(records, ["large", "small"], confidence=0.9)
    assert [(r.model, r.bucket, r.totals.items) for r in rows] == [
        ("large", "easy", 1),
        ("large", "hard", 1),
        ("small", "easy", 2),
        ("small", "hard", 1),
        ("small", None, 1),
    ]
    small_easy = rows[2].totals
    # errors 0.2, 0.4 -> 0.3; variances 0.1, 0.1 -> 0.1; incoherence 0.2 / 0.6
    assert small_easy.error == pytest.approx(0.3)
    assert small_easy.variance == pytest.approx(0.1)
    assert small_easy.bias == pytest.approx(0.2)
    assert small_easy.incoherence == pytest.approx(1 / 3)
    assert small_easy.confidence == 0.9
    assert rows[1].totals.incoherence == pytest.approx(0.5)  # large, hard: 0.3 / 0.6
    assert rows[0].totals.incoherence == pytest.approx(0.1)  # large, easy: 0.01 / 0.1


def test_model_rows_keep_the_given_model_order_then_any_other_sorted() -> None:
    records = [
        _record("t::a[z]", "z", [_item("q", 0.5, 0.1, "easy")]),
        _record("t::a[b]", "b", [_item("q", 0.5, 0.1, "easy")]),
        _record("t::a[a]", "a", [_item("q", 0.5, 0.1, "easy")]),
    ]
    rows = model_bucket_rows(records, ["b", "missing"])
    assert [r.model for r in rows] == ["b", "a", "z"]
    assert model_bucket_rows([_record("t::x", None, [_item("q", 0.5, 0.1, "easy")])], []) == []


def test_hotmess_yaml_defaults_take_bucket_rules_and_models_with_their_line() -> None:
    from pytest_hotmess.config.file import ConfigError, parse_config

    text = "defaults:\n  models: small, large\n  compare_fail: [incoherence@Hard:0.05, error:0.1]\n"
    values = parse_config(text, file="h.yaml").file_values()
    assert values["models"] == (("small", "large"), "h.yaml:2: defaults.models")
    assert values["compare_fail"] == (
        ("incoherence@hard:0.05", "error:0.1"),
        "h.yaml:3: defaults.compare_fail",
    )
    with pytest.raises(ConfigError) as caught:
        parse_config("defaults:\n  compare_fail: incoherence@tough:0.05\n", file="h.yaml")
    message = str(caught.value)
    assert message.startswith("h.yaml:2: defaults.compare_fail: bad fail rule")
    assert "unknown difficulty bucket 'tough'" in message
