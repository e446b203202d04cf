"""promptfoo results files: a committed one from a real ``promptfoo eval --repeat 4`` run
(promptfoo 0.118.0 against ``_sampling_server.py``; ``tests/data/ingest/
make_promptfoo_results.py`` reproduces it), and a live run when promptfoo is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _known import assert_same_figures, run_twin
from _promptfoo_run import REPEAT, find_promptfoo, run_promptfoo
from _sampling_server import ANSWERS, TARGETS

from pytest_hotmess.ingest import IngestError, read_source

RESULTS = Path(__file__).parent.parent / "data" / "ingest" / "promptfoo_results.json"
PASSES = [(q, [a == TARGETS[q] for a in ANSWERS[q]], True) for q in ANSWERS]
OUTPUTS = [(q, ANSWERS[q], TARGETS[q]) for q in ANSWERS]


def _ids(question: str) -> str:
    return json.dumps({"question": question})


def test_test_cases_are_items_and_repeats_samples_of_their_verdict() -> None:
    items = read_source(RESULTS)
    assert [(i.item_id, list(i.samples), i.target) for i in items] == [
        (_ids(q), samples, target) for q, samples, target in PASSES
    ]
    assert items[0].covariates[0]["input_tokens"] == 7
    assert items[0].covariates[0]["output_tokens"] == 1
    assert items[0].covariates[0]["latency_s"] > 0


def test_extract_reads_outputs_against_the_equals_assertion() -> None:
    items = read_source(RESULTS, extract=str.strip)
    assert [(i.item_id, list(i.samples), i.target) for i in items] == [
        (_ids(q), list(samples), target) for q, samples, target in OUTPUTS
    ]


@pytest.mark.parametrize("extract", [False, True], ids=["verdicts", "outputs"])
def test_figures_match_the_plugins_own_decomposition_under_xdist(
    pytester: pytest.Pytester, extract: bool
) -> None:
    known = OUTPUTS if extract else PASSES
    known = [(_ids(q), samples, target) for q, samples, target in known]
    ingested, recorded = run_twin(
        pytester, RESULTS, known, "-n", "2", ingest_args=", extract=str.strip" if extract else ""
    )
    assert_same_figures(ingested, recorded)


def _edit(tmp_path: Path, change: Any) -> Path:
    data = json.loads(RESULTS.read_text())
    change(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    return path


def test_a_failed_call_is_an_invalid_sample(tmp_path: Path) -> None:
    def fail_first(data: dict[str, Any]) -> None:
        first = data["results"]["results"][0]
        first.update(failureReason=2, error="API error: 500", success=False)
        first["gradingResult"]["pass"] = False

    items = read_source(_edit(tmp_path, fail_first))
    assert items[0].samples[0] is None and items[0].samples[1:] == (True, False, True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["results"].pop("results"), "field 'results.results': missing"),
        (lambda d: d["results"]["results"][3].pop("testCase"), "results[3]: field 'testCase'"),
        (
            lambda d: d["results"]["results"][5]["gradingResult"].update({"pass": "yes"}),
            "results[5]: field 'gradingResult.pass': not a boolean",
        ),
    ],
    ids=["no-results", "no-test-case", "pass-not-bool"],
)
def test_a_bad_file_names_the_record_and_field(tmp_path: Path, change: Any, message: str) -> None:
    path = _edit(tmp_path, change)
    with pytest.raises(IngestError) as info:
        read_source(path, format="promptfoo")
    assert str(info.value).startswith(f"{path}: {message}")


def test_a_live_promptfoo_run_reads_as_its_known_samples(tmp_path: Path) -> None:
    command, why = find_promptfoo()
    if command is None:
        pytest.skip(why)
    items = read_source(run_promptfoo(command, tmp_path), extract=str.strip)
    assert all(len(i.samples) == REPEAT for i in items)
    assert [(i.item_id, list(i.samples), i.target) for i in items] == [
        (_ids(q), list(samples), target) for q, samples, target in OUTPUTS
    ]
