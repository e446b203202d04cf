"""Datasets: both file shapes, the prompt format, the bundled questions, and errors that name
file, line, item and field."""

from __future__ import annotations

import pickle
import textwrap
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from _yaml_errors import assert_points_at

from pytest_hotmess.config.datasets import (
    DatasetError,
    DatasetItem,
    choice_labels,
    format_prompt,
    load_bundled_questions,
    load_items,
    parse_items,
)

LISTED = """\
- id: capital
  prompt: What is the capital of France?
  choices: [Paris, Lyon, Nice, Lille]
  answer: A
  metadata: {difficulty: easy}
- id: 7
  prompt: Pick the even number.
  choices: {X: "3", Y: 4}
  answer: Y
- id: open
  prompt: How many legs does a spider have?
  answer: 8
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_list_and_an_items_mapping_give_the_same_items(tmp_path: Path) -> None:
    listed = load_items(write(tmp_path, LISTED))
    nested = parse_items("items:\n" + textwrap.indent(LISTED, "  "))
    assert listed == nested
    capital, even, open_item = listed
    assert capital == DatasetItem(
        "capital",
        "What is the capital of France?",
        ["Paris", "Lyon", "Nice", "Lille"],
        "A",
        {"difficulty": "easy"},
    )
    assert even.id == "7" and even.choices == {"X": "3", "Y": "4"}
    assert open_item.choices is None and open_item.answer == 8 and open_item.metadata == {}


def test_format_prompt_letters_the_choices_and_asks_for_one_letter(tmp_path: Path) -> None:
    capital, even, open_item = load_items(write(tmp_path, LISTED))
    assert format_prompt(capital) == (
        "What is the capital of France?\n\n"
        "A) Paris\nB) Lyon\nC) Nice\nD) Lille\n\n"
        "Answer with a single letter (A, B, C or D)."
    )
    assert format_prompt(even).endswith("X) 3\nY) 4\n\nAnswer with a single letter (X or Y).")
    assert format_prompt(open_item) == "How many legs does a spider have?"
    assert choice_labels(3) == ["A", "B", "C"]
    with pytest.raises(ValueError):
        choice_labels(27)


def test_bundled_questions_are_a_balanced_multiple_choice_set() -> None:
    items = load_bundled_questions()
    assert len(items) >= 40
    assert len({item.id for item in items}) == len(items)
    assert len({item.prompt for item in items}) == len(items)
    for item in items:
        choices = item.labelled_choices()
        assert choices is not None and list(choices) == ["A", "B", "C", "D"]
        assert len(set(choices.values())) == 4, item.id
        assert item.answer in choices
    answers = Counter(str(item.answer) for item in items)
    assert min(answers.values()) >= len(items) // 4 - 2
    assert Counter(item.metadata["difficulty"] for item in items).keys() == {
        "easy",
        "medium",
        "hard",
    }
    assert {item.metadata["topic"] for item in items} == {"general", "arithmetic", "logic"}


def test_bundled_arithmetic_answers_are_right() -> None:
    """Recompute what can be computed, so a typo in the shipped file cannot go unnoticed."""
    by_id = {item.id: item for item in load_bundled_questions()}
    expected = {
        "ar-add": str(17 + 26),
        "ar-multiply": str(12 * 13),
        "ar-subtract": str(1000 - 387),
        "ar-divide": str(144 // 6),
        "ar-power-of-two": str(2**10),
        "ar-square-root": str(next(n for n in range(100) if n * n == 196)),
        "ar-percent": str(240 * 15 // 100),
        "ar-square": str(23**2),
        "ar-fractions": str(Fraction(3, 4) + Fraction(1, 6)),
        "ar-order-of-operations": str(2 + 3 * 4 - 6 // 2),
        "ar-lcm": str(next(n for n in range(1, 300) if n % 12 == 0 and n % 18 == 0)),
        "ar-missing-value": str(8 * 5 - (5 + 7 + 9 + 10)),
        "ar-average-speed": f"{180 * 2 // 5} km/h",
        "ar-up-then-down": str(200 * 11 * 9 // 100),
        "ar-digit-sum": str(sum(int(d) for d in str(2**10))),
        "ar-remainder": str(1000 % 7),
        "lo-sequence": str(6 * 7),
        "lo-fibonacci": str(5 + 8),
    }
    for item_id, value in expected.items():
        item = by_id[item_id]
        choices = item.labelled_choices()
        assert choices is not None
        assert choices[str(item.answer)] == value, item_id
    prime = by_id["ar-prime"]
    choices = prime.labelled_choices()
    assert choices is not None
    primes = [t for t in choices.values() if all(int(t) % p for p in range(2, int(t)))]
    assert primes == [choices[str(prime.answer)]]


# Each case: YAML text, expected line, key path, words of the problem.
ERRORS = [
    ("- id: q\n  prompt: 'unterminated\n", 3, "(YAML syntax)", "quoted scalar"),
    ("- id: q1\n  prompt: hi\n  choices: [a, b]\n", 1, "items[0] (id 'q1')", "missing 'answer'"),
    ("- id: q1\n  answer: A\n", 1, "items[0] (id 'q1')", "missing 'prompt'"),
    ("- prompt: hi\n  answer: A\n", 1, "items[0]", "missing 'id'"),
    (
        "- {id: a, prompt: p, answer: x}\n- {id: b, prompt: p, answer: y}\n"
        "- {id: a, prompt: q, answer: z}\n",
        3,
        "items[2] (id 'a').id",
        "duplicate id (first used on line 1)",
    ),
    (
        "items:\n  - id: q1\n    prompt: hi\n    choices: [Paris, Lyon]\n    answer: Paris\n",
        5,
        "items[0] (id 'q1').answer",
        "'Paris' is not among the choice labels A, B (it is the text of choice A",
    ),
    (
        "- id: q1\n  prompt: hi\n  choices: {A: x, B: y}\n  answer: C\n",
        4,
        "items[0] (id 'q1').answer",
        "'C' is not among the choice labels A, B",
    ),
    ("- id: q1\n  prompt: [hi]\n  answer: A\n", 2, "items[0] (id 'q1').prompt", "got a list"),
    ("- id: [q]\n  prompt: hi\n  answer: A\n", 1, "items[0].id", "expected a string, got a list"),
    (
        "- id: q1\n  prompt: hi\n  answer: A\n  difficulty: hard\n",
        4,
        "items[0] (id 'q1').difficulty",
        "unknown field; expected id, prompt, choices, answer, metadata (put anything else",
    ),
    (
        "- id: q1\n  prompt: hi\n  choices: [yes, no]\n  answer: A\n",
        3,
        "items[0] (id 'q1').choices[0]",
        "got a boolean",
    ),
    (
        "- id: q1\n  prompt: hi\n  choices: [0.10, 0.05]\n  answer: A\n",
        3,
        "items[0] (id 'q1').choices[0]",
        "quote numbers",
    ),
    (
        "- id: q1\n  prompt: hi\n  choices: [only]\n  answer: A\n",
        3,
        "items[0] (id 'q1').choices",
        "expected 2 to 26 choices",
    ),
    (
        "- id: q1\n  prompt: hi\n  choices: x\n  answer: A\n",
        3,
        "items[0] (id 'q1').choices",
        "expected a list or a mapping",
    ),
    ("- {id: q, prompt: p, answer: null}\n", 1, "items[0] (id 'q').answer", "must not be null"),
    (
        "- {id: q, prompt: p, answer: 1, metadata: [1]}\n",
        1,
        "items[0] (id 'q').metadata",
        "expected a mapping",
    ),
    ("", 1, "(top level)", "no items"),
    ("items: []\n", 1, "items", "no items"),
    ("questions: []\n", 1, "questions", "unknown key"),
    ("hello\n", 1, "(top level)", "expected a list of items"),
    ("- {id: q, prompt: p, answer: 1}\n- 5\n", 2, "items[1]", "expected a mapping"),
]


@pytest.mark.parametrize(("text", "line", "key", "problem"), ERRORS)
def test_errors_name_file_line_item_and_field(
    tmp_path: Path, text: str, line: int, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DatasetError) as info:
        load_items(path)
    error = info.value
    assert_points_at(error, path, line, key, problem)
    assert isinstance(error, ValueError)


def test_unreadable_files_and_pickled_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nowhere\.yaml:1: \(file\): cannot read"):
        load_items(tmp_path / "nowhere.yaml")
    with pytest.raises(DatasetError) as info:
        parse_items("- {id: q}\n", file="q.yaml")
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, DatasetError) and str(again) == str(info.value)
