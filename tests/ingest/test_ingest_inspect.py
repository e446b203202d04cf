"""inspect_ai logs, built here by a real ``inspect_ai.eval`` with the offline ``mockllm``
model and ``epochs``, read back as ``.eval`` and ``.json``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _known import assert_same_figures, run_twin
from _sampling_server import ANSWERS, TARGETS

from pytest_hotmess.ingest import IngestError, read_source

pytest.importorskip(
    "inspect_ai", reason="inspect_ai is not installed (pip install 'pytest-hotmess[inspect]')"
)

EPOCHS = 4
KNOWN = [(question, ANSWERS[question], TARGETS[question]) for question in ANSWERS]

_EVAL = """
import sys
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate

ANSWERS = {answers!r}
TARGETS = {targets!r}
drawn = {{}}


def answer(messages, tools, tool_choice, config):
    # each question's answers in turn: its epochs get exactly ANSWERS[question]
    question = next(q for q in ANSWERS if q in messages[-1].text)
    index = drawn.get(question, 0)
    drawn[question] = index + 1
    text = ANSWERS[question][index % len(ANSWERS[question])]
    output = ModelOutput.from_content(model="mockllm/model", content=text)
    output.usage = ModelUsage(input_tokens=7, output_tokens=len(text), total_tokens=7 + len(text))
    return output


def run(scorers, log_format, log_dir, epochs):
    drawn.clear()
    dataset = [Sample(input=q, target=TARGETS[q], id=q) for q in ANSWERS]
    task = Task(dataset=dataset, solver=generate(), scorer=scorers)
    model = get_model("mockllm/model", custom_outputs=answer)
    (log,) = eval(
        task, model=model, epochs=epochs, log_dir=log_dir, log_format=log_format,
        display="none", max_connections=1,
    )
    assert log.status == "success", log.error
    print(log.location)


out = sys.argv[1]
run(match(), "eval", out + "/eval", {epochs})
run(match(), "json", out + "/json", {epochs})
run([match(), includes()], "eval", out + "/two", 2)
"""


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("inspect")
    script = out / "make_logs.py"
    script.write_text(
        textwrap.dedent(_EVAL).format(answers=ANSWERS, targets=TARGETS, epochs=EPOCHS)
    )
    env_free = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=out,
    )
    assert env_free.returncode == 0, env_free.stderr[-3000:]
    found = {}
    for name, suffix in (("eval", ".eval"), ("json", ".json"), ("two", ".eval")):
        (found[name],) = (out / name).glob(f"*{suffix}")
    return found


@pytest.mark.parametrize("kind", ["eval", "json"])
def test_sample_ids_are_items_and_epochs_are_samples(logs: dict[str, Path], kind: str) -> None:
    items = read_source(logs[kind])
    got = {item.item_id: (sorted(item.samples), item.target) for item in items}
    assert got == {q: (sorted(samples), target) for q, samples, target in KNOWN}
    for item in items:
        assert len(item.covariates) == EPOCHS
        for outcome, row in zip(item.samples, item.covariates, strict=True):
            assert row == {
                "input_tokens": 7,
                "output_tokens": len(outcome),
                "total_tokens": 7 + len(outcome),
            }


def test_extract_reads_the_completion(logs: dict[str, Path]) -> None:
    items = read_source(logs["eval"], extract=lambda text: text.lower()[:1])
    sky = next(item for item in items if item.item_id == "What colour is the sky?")
    assert sorted(sky.samples) == ["b", "b", "g", "g"]


def test_several_scorers_name_the_sample_and_field(logs: dict[str, Path]) -> None:
    with pytest.raises(IngestError) as info:
        read_source(logs["two"])
    message = str(info.value)
    assert message.startswith(f"{logs['two']}: sample 0 (id ")
    assert "field 'scores': several scorers (match, includes)" in message
    assert len(read_source(logs["two"], extract=str)) == len(ANSWERS)


def test_a_file_that_is_not_a_log_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.eval"
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip: no log inside
    with pytest.raises(IngestError, match=r"broken\.eval: not a readable inspect_ai log"):
        read_source(path)


@pytest.mark.parametrize("kind", ["eval", "json"])
def test_figures_match_the_plugins_own_decomposition_under_xdist(
    pytester: pytest.Pytester, logs: dict[str, Path], kind: str
) -> None:
    ingested, recorded = run_twin(pytester, logs[kind], KNOWN, "-n", "2")
    assert_same_figures(ingested, recorded)
