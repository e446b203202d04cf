"""The paired change of a ratio of sums, and fail rules (report pairing: tests/results)."""

from __future__ import annotations

import math

import pytest

from pytest_hotmess.stats.compare import Rule, parse_fail_rules, ratio_change


def test_ratio_change_rejects_ragged_or_non_finite_columns() -> None:
    with pytest.raises(ValueError, match="equal length"):
        ratio_change([1, 2], [1, 2], [1], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        ratio_change([1, math.nan], [1, 2], [1, 2], [1, 2])
    assert ratio_change([], [], [], []).note == "no item on both sides"


def test_parse_fail_rules_accepts_lists_commas_case_and_spaces() -> None:
    rules = parse_fail_rules(["incoherence:0.05", " Error : 0.1 , variance:0"])
    assert rules == [Rule("incoherence", 0.05), Rule("error", 0.1), Rule("variance", 0.0)]
    assert str(rules[0]) == "incoherence:0.05"
    assert parse_fail_rules("bias:1e-3") == [Rule("bias", 0.001)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("coherence:0.1", "unknown figure 'coherence'"),
        ("incoherence", "FIGURE:TOLERANCE"),
        ("incoherence:abc", "'abc' is not a number"),
        ("incoherence:-0.1", ">= 0"),
        ("incoherence:nan", ">= 0"),
        ("incoherence:inf", ">= 0"),
        ("", "empty"),
    ],
)
def test_bad_fail_rules_raise_naming_the_rule(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_fail_rules([spec])
    assert repr(spec) in str(info.value)


def test_fail_rules_must_be_strings() -> None:
    with pytest.raises(TypeError, match="strings"):
        parse_fail_rules([0.05])  # type: ignore[list-item]
