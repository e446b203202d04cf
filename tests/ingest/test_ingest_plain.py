"""Plain JSONL and CSV files of ``item, sample, outcome[, target]``: reading, and every
problem named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _known import assert_same_figures, run_twin

from pytest_hotmess import NOTHING
from pytest_hotmess.ingest import IngestError, read_source

KNOWN = [
    ("q1", ["A", "A", "B", "A", "C"], "A"),
    ("q2", [3.0, 2.5, 3.5, 3.0, 3.0], 3.0),
    ("q3", ["x", "y", "x", "x", "x"], None),
]


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _known_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for item_id, samples, target in KNOWN:
        for index, outcome in reversed(list(enumerate(samples))):  # any order: by sample index
            row: dict[str, object] = {"item": item_id, "sample": index, "outcome": outcome}
            if target is not None:
                row["target"] = target
            row["covariates"] = {"output_tokens": 10 + index}
            rows.append(row)
    return rows


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_jsonl_items_in_first_seen_order_samples_by_index(tmp_path: Path) -> None:
    items = read_source(_jsonl(tmp_path / "s.jsonl", _known_rows()))
    got = [(i.item_id, list(i.samples), None if i.target is NOTHING else i.target) for i in items]
    assert got == KNOWN
    assert items[0].covariates[0] == {"output_tokens": 10}


def test_csv_cells_become_labels_numbers_and_covariates(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "s.csv",
        "item,sample,outcome,target,latency_s\n"
        "a,0,yes,yes,0.5\na,1,no,yes,1.5\nb,0,2,2,\nb,1,2.5,2,\nc,0,true,,\nc,1,,,\n",
    )
    items = read_source(path)
    assert [(i.item_id, i.samples, i.target) for i in items] == [
        ("a", ("yes", "no"), "yes"),
        ("b", (2, 2.5), 2),
        ("c", (True, None), NOTHING),
    ]
    assert items[0].covariates == ({"latency_s": 0.5}, {"latency_s": 1.5})


def test_figures_match_the_plugins_own_decomposition_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    source = _jsonl(pytester.path / "s.jsonl", _known_rows())
    ingested, recorded = run_twin(pytester, source, KNOWN, "-n", "2")
    assert_same_figures(ingested, recorded)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("item,outcome\n", "line 1: field 'sample': missing column"),
        ("item,sample,outcome\na,x,1\n", "line 2: field 'sample': expected a sample index"),
        ("item,sample,outcome\na,0,1\na,0,2\n", "line 3: item 'a' sample 0 appears twice"),
        ("item,sample,outcome,target\na,0,1,1\na,1,1,2\n", "line 3: field 'target': item 'a'"),
        ("item,sample,outcome,tokens\na,0,1,many\n", "line 2: field 'tokens': extra columns"),
        ("item,sample,outcome\n,0,1\n", "line 2: field 'item': an item id"),
        ("item,sample,outcome\n", "no samples in this file"),
    ],
    ids=[
        "no-sample-column",
        "bad-index",
        "twice",
        "two-targets",
        "text-covariate",
        "no-id",
        "empty",
    ],
)
def test_a_bad_csv_names_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = _csv(tmp_path / "s.csv", text)
    with pytest.raises(IngestError) as info:
        read_source(path)
    assert str(info.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"item": "a", "sample": 1}', "line 2: field 'outcome': missing"),
        ('{"item": "a", "sample": 1, "outcome": 1, "why": 2}', "line 2: field 'why': unknown"),
        (
            '{"item": "a", "sample": 1, "outcome": 1, "covariates": {"t": "x"}}',
            "line 2: field 't': a covariate must be a number",
        ),
    ],
    ids=["syntax", "array", "no-outcome", "unknown-field", "text-covariate"],
)
def test_a_bad_jsonl_names_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"item": "a", "sample": 0, "outcome": 1}\n' + line + "\n")
    with pytest.raises(IngestError) as info:
        read_source(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_an_item_in_two_files_names_both(tmp_path: Path) -> None:
    first = _jsonl(tmp_path / "a.jsonl", [{"item": "q", "sample": 0, "outcome": 1}])
    second = _jsonl(tmp_path / "b.jsonl", [{"item": "q", "sample": 0, "outcome": 1}])
    with pytest.raises(
        IngestError, match=r"b\.jsonl: line 1: item 'q' was already read at .*a\.jsonl: line 1"
    ):
        read_source([first, second])


def test_an_unknown_file_says_which_formats_were_tried(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(
        IngestError,
        match=r"notes\.txt: cannot tell which tool wrote this file "
        r"\(tried inspect, promptfoo, lm-eval, jsonl, csv\)",
    ):
        read_source(path)
    with pytest.raises(IngestError, match="unknown format 'yaml'"):
        read_source(path, format="yaml")
    with pytest.raises(IngestError, match=r"missing\.txt: no such file"):
        read_source(tmp_path / "missing.txt")


def test_extract_failures_are_invalid_samples(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "s.jsonl",
        [{"item": "a", "sample": i, "outcome": text} for i, text in enumerate(["1", "x", "3"])],
    )
    (item,) = read_source(path, extract=int)
    assert item.samples == (1, None, 3)
