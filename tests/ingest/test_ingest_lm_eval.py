"""lm-evaluation-harness ``--log_samples`` files: a committed file from a real run.

``tests/data/ingest/samples_hotmess_questions.jsonl`` was written by lm-eval 0.4.13
(``local-chat-completions`` with ``repeats: 4``) against the sampling server in
``_sampling_server.py``; ``tests/data/ingest/make_lm_eval_samples.py`` reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _known import assert_same_figures, run_twin
from _sampling_server import ANSWERS, TARGETS

from pytest_hotmess.ingest import IngestError, read_source

DATA = Path(__file__).parent.parent / "data" / "ingest"
LOG = DATA / "samples_hotmess_questions.jsonl"
KNOWN = [(str(i), ANSWERS[q], TARGETS[q]) for i, q in enumerate(ANSWERS)]


def test_reads_docs_as_items_and_repeats_as_samples() -> None:
    items = read_source(LOG)
    assert [(i.item_id, list(i.samples), i.target) for i in items] == KNOWN
    assert items[0].source == f"{LOG}: line 1"


def test_extract_applies_to_each_response() -> None:
    items = read_source(LOG, extract=lambda text: text.lower()[:1])
    assert list(items[2].samples) == ["b", "g", "b", "g"]


def test_figures_match_the_plugins_own_decomposition_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    ingested, recorded = run_twin(pytester, LOG, KNOWN, "-n", "2")
    assert_same_figures(ingested, recorded)
    assert ingested["totals"]["items"] == 3


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "doc_id": 0,
        "target": "x",
        "resps": [["a", "b"]],
        "filtered_resps": ["a"],
        "filter": "none",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_record(resps=[[["-1.2", "False"]], [["-0.3", "True"]]]), "line 2: field 'resps'"),
        (_record(resps=[["only"]]), "line 2: field 'resps': 1 response"),
        (_record(doc_id=None), "line 2: field 'doc_id': missing"),
        (_record(doc_id=[1]), "line 2: field 'doc_id': an item id"),
    ],
    ids=["loglikelihood", "one-response", "no-doc-id", "list-doc-id"],
)
def test_a_bad_record_names_file_line_and_field(
    tmp_path: Path, record: dict[str, object], message: str
) -> None:
    path = _write(tmp_path / "samples_t.jsonl", [_record(doc_id=5), record])
    with pytest.raises(IngestError) as info:
        read_source(path, format="lm-eval")
    assert str(info.value).startswith(f"{path}: {message}")


def test_per_response_filters_are_used_and_several_filters_prefix_ids(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "samples_t.jsonl",
        [
            _record(resps=[["The answer is 1", "The answer is 2"]], filtered_resps=[["1", "2"]]),
            _record(filter="take_first", filtered_resps=["a"]),
        ],
    )
    items = read_source(path)
    assert [(i.item_id, i.samples) for i in items] == [
        ("none/0", ("1", "2")),
        ("take_first/0", ("a", "b")),
    ]
