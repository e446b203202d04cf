"""Record then replay: same completions offline, stable bytes, clear errors for gaps and damage."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from _client_fixtures import make_client
from _fake_llm_server import FakeLLMServer

from pytest_hotmess.models.clients import OpenAIChatModel
from pytest_hotmess.models.recording import (
    Recording,
    RecordingFormatError,
    RecordingModel,
    ReplayMissError,
    ReplayModel,
    canonical_request,
    request_key,
)
from pytest_hotmess.sampling.completion import Completion, Model, Prompt
from pytest_hotmess.sampling.context import sample_scope

ITEMS = {"q1": "What is 2+2?", "q2": "Capital of France?"}
K = 4


def local_client(server: FakeLLMServer) -> OpenAIChatModel:
    return make_client(
        OpenAIChatModel,
        model="gpt-test",
        base_url=server.openai_base_url,
        api_key="sk-rec",
        name="local",
        params={"temperature": 1.0},
        max_attempts=2,
    )


def sample_all(model: Model, order: list[tuple[str, int]] | None = None) -> dict[Any, Completion]:
    """K samples of every item, in the resampler's way: the sample index set in context."""
    order = order or [(item, index) for item in ITEMS for index in range(K)]
    out = {}
    for item, index in order:
        with sample_scope(item, index):
            out[item, index] = model(ITEMS[item])
    return out


def without_latency(completion: Completion) -> Completion:
    return dataclasses.replace(completion, latency_s=None)


# -- keys --------------------------------------------------------------------------------------


def test_canonical_request_normalises_prompt_and_params() -> None:
    as_text = canonical_request("m", "hi", {"top_p": 0.9, "temperature": 1.0, "seed": None})
    as_messages = canonical_request("m", ({"role": "user", "content": "hi"},), {})
    assert as_text == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "params": {"temperature": 1.0, "top_p": 0.9},
    }
    assert as_messages["messages"] == as_text["messages"]
    assert list(as_text["params"]) == ["temperature", "top_p"]
    assert request_key(as_text) == request_key(
        canonical_request("m", "hi", {"temperature": 1.0, "top_p": 0.9})
    )
    assert request_key(as_text) != request_key(canonical_request("m2", "hi", {}))


def test_canonical_request_drops_credentials_and_rejects_non_json() -> None:
    request = canonical_request(
        "m", "hi", {"api_key": "sk-x", "Authorization": "Bearer y", "stop": ("a", "b")}
    )
    assert request["params"] == {"stop": ["a", "b"]}
    with pytest.raises(TypeError, match=r"params\.stop"):
        canonical_request("m", "hi", {"stop": {1, 2}})
    with pytest.raises(ValueError, match="JSON"):
        canonical_request("m", "hi", {"temperature": float("nan")})


# -- record and replay -------------------------------------------------------------------------


def test_record_then_replay_with_the_server_stopped(tmp_path: Path) -> None:
    path = tmp_path / "recordings" / "local.jsonl"
    with FakeLLMServer() as server:
        store = Recording()
        live = sample_all(RecordingModel(local_client(server), store))
        store.save(path)
        assert server.count() == len(ITEMS) * K
    # The server is gone: any network call would fail.
    replay = ReplayModel(Recording.load(path), name="local", params={"temperature": 1.0})
    assert isinstance(replay, Model)
    replayed = sample_all(replay)
    assert replayed == {key: without_latency(c) for key, c in live.items()}
    assert replayed["q1", 3].text == "What is 2+2?#3"


def test_async_record_and_replay(server: FakeLLMServer, tmp_path: Path) -> None:
    store = Recording(tmp_path / "a.jsonl")
    recorder = RecordingModel(local_client(server), store)

    async def sample(model: Model) -> list[Completion]:
        async def one(index: int) -> Completion:
            with sample_scope("q1", index):
                return await model.acall("async prompt")

        return list(await asyncio.gather(*(one(index) for index in range(K))))

    live = asyncio.run(asyncio.wait_for(sample(recorder), 20))
    store.save()
    server.stop()
    replay = ReplayModel(Recording.load(store.path or ""), name="local", params=recorder.params)
    replayed = asyncio.run(asyncio.wait_for(sample(replay), 20))
    assert replayed == [without_latency(c) for c in live]


class _Scripted:
    """A model that answers each (item, sample) with a given completion (sim-like)."""

    def __init__(
        self, answers: dict[Any, Completion], *, name: str, params: dict[str, Any]
    ) -> None:
        self.answers = answers
        self.name = name
        self.params = params

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        from pytest_hotmess.sampling.context import current_item, current_sample

        return self.answers[current_item.get(), current_sample.get()]

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        return self(prompt, **params)


def test_re_recording_against_a_fresh_server_is_byte_identical(tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        with FakeLLMServer() as server:
            store = Recording()
            sample_all(RecordingModel(local_client(server), store))
            saved = store.save(tmp_path / f"{run}.jsonl").read_bytes()
            # each fresh server has its own port, and the base URL is part of the key
            outputs.append(saved.replace(server.openai_base_url.encode(), b"BASE_URL"))
    assert outputs[0] == outputs[1]
    lines = outputs[0].decode().splitlines()
    assert json.loads(lines[0]) == {
        "callables": True,
        "format": "pytest-hotmess-recording",
        "version": 2,
    }
    assert len(lines) == 1 + len(ITEMS) * K
    first = json.loads(lines[1])
    assert list(first) == ["request", "sample", "name", "completion"]
    assert first["name"] == "local"  # who recorded it: not part of the key
    assert first["request"]["params"] == {"temperature": 1.0}  # the client's defaults count
    assert (first["request"]["provider"], first["request"]["model"]) == ("openai", "gpt-test")
    assert first["request"]["base_url"] == "BASE_URL"
    assert "latency_s" not in first["completion"]  # wall time would change every run


def test_file_bytes_do_not_depend_on_call_order(tmp_path: Path) -> None:
    answers = {
        (item, index): Completion(text=f"{item}-{index}", output_tokens=index, latency_s=0.5)
        for item in ITEMS
        for index in range(K)
    }
    forward = list(answers)
    outputs = []
    for order in (forward, forward[::-1]):
        store = Recording()
        sample_all(RecordingModel(_Scripted(answers, name="sim", params={}), store), order)
        outputs.append(store.dumps())
    assert outputs[0] == outputs[1]
    samples = [json.loads(line)["sample"] for line in outputs[0].splitlines()[1:]]
    assert samples == list(range(K)) * len(ITEMS)  # sorted by request, then sample index


def test_keep_latency_stores_the_measured_wall_time(server: FakeLLMServer) -> None:
    store = Recording()
    completion = RecordingModel(local_client(server), store, keep_latency=True)("hi")
    (entry,) = list(store)
    assert entry.completion == completion and completion.latency_s is not None


def test_calls_outside_the_resampler_are_numbered_per_request(server: FakeLLMServer) -> None:
    store = Recording()
    recorder = RecordingModel(local_client(server), store)
    live = [recorder("same").text for _ in range(3)] + [recorder("other").text]
    assert sorted(entry.sample for entry in store) == [0, 0, 1, 2]
    replay = ReplayModel(store, name="local", params={"temperature": 1.0})
    assert [replay("same").text for _ in range(3)] + [replay("other").text] == live


def test_wraps_any_model_and_passes_closing_on(server: FakeLLMServer) -> None:
    closed: list[str] = []

    class Sim:
        name = "sim"

        def __call__(self, prompt: Prompt, **params: Any) -> Completion:
            return Completion(text="A", input_tokens=3)

        async def acall(self, prompt: Prompt, **params: Any) -> Completion:
            return Completion(text="B")

        def close(self) -> None:
            closed.append("sync")

        async def aclose(self) -> None:
            closed.append("async")

    store = Recording()
    recorder = RecordingModel(Sim(), store)
    assert recorder.name == "sim" and dict(recorder.params) == {}
    assert recorder("q").text == "A"
    assert asyncio.run(recorder.acall("q")).text == "B"
    recorder.close()
    asyncio.run(recorder.aclose())
    assert closed == ["sync", "async"]
    replay = ReplayModel(store, name="sim")
    assert replay("q") == Completion(text="A", input_tokens=3)
    assert replay("q") == Completion(text="B")


# -- misses and damage -------------------------------------------------------------------------


def test_a_missing_sample_names_model_prompt_sample_and_file(tmp_path: Path) -> None:
    store = Recording()
    store.put(canonical_request("local", "known", {}), 0, Completion(text="x"))
    path = store.save(tmp_path / "r.jsonl")
    replay = ReplayModel(Recording.load(path), name="local")
    assert replay("known").text == "x"
    long_prompt = "Please explain, in detail, the history of the Byzantine Empire " * 3
    with sample_scope("q1", 7), pytest.raises(ReplayMissError) as caught:
        replay(long_prompt)
    message = str(caught.value)
    assert "model 'local'" in message
    assert "'Please explain, in detail, the history of the Byzantine Emp…'" in message
    assert "sample 7" in message and str(path) in message
    with pytest.raises(ReplayMissError, match="sample 1"):
        replay("known")  # only sample 0 was recorded
    with pytest.raises(ReplayMissError, match="sample 0"):
        ReplayModel(Recording.load(path), name="other")("known")  # the name is in the key


def good_file(tmp_path: Path) -> tuple[Path, list[str]]:
    store = Recording()
    for index in range(2):
        store.put(canonical_request("m", "p", {}), index, Completion(text=f"t{index}"))
    path = store.save(tmp_path / "good.jsonl")
    return path, path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("mutate", "line", "pattern"),
    [
        (lambda lines: [*lines[:2], "{not json", *lines[2:]], 3, "not a JSON object"),
        (lambda lines: lines[1:], 1, "missing header"),
        (lambda lines: [lines[0].replace("2", "9"), *lines[1:]], 1, "format version 9"),
        (lambda lines: [*lines, lines[1]], 4, "duplicate of line 2"),
        (lambda lines: [*lines, '{"request": {}, "sample": 0}'], 4, "'request', 'sample'"),
        (lambda lines: [lines[0], lines[1].replace('"sample": 0', '"sample": -1')], 2, "sample"),
        (lambda lines: [lines[0], lines[1].replace('"text"', '"txt"')], 2, "'text'"),
        (
            lambda lines: [lines[0], lines[1].replace('"text": "t0"', '"text": "t0", "x": 1')],
            2,
            "unknown completion field 'x'",
        ),
        (
            lambda lines: [lines[0], lines[1].replace('"text": "t0"', '"text": "t0", "model": 5')],
            2,
            "'model' has a wrong type",
        ),
        (lambda lines: [lines[0], lines[1].replace('"model": "m"', '"model": 1')], 2, "request"),
    ],
)
def test_a_damaged_file_names_the_file_and_line(
    tmp_path: Path, mutate: Any, line: int, pattern: str
) -> None:
    path, lines = good_file(tmp_path)
    path.write_text("\n".join(mutate(lines)) + "\n", encoding="utf-8")
    with pytest.raises(RecordingFormatError, match=pattern) as caught:
        Recording.load(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_empty_and_binary_files_are_format_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(RecordingFormatError, match="empty file"):
        Recording.load(empty)
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(RecordingFormatError, match=r"bin.jsonl:1: not UTF-8"):
        Recording.load(binary)


def test_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path, lines = good_file(tmp_path)
    path.write_text("\n".join([lines[0], "", lines[1], "  ", lines[2], ""]), encoding="utf-8")
    assert len(Recording.load(path)) == 2


# -- saving and merging ------------------------------------------------------------------------


def test_save_is_atomic_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = good_file(tmp_path)
    before = path.read_bytes()
    store = Recording.load(path)
    store.put(canonical_request("m", "new", {}), 0, Completion(text="n"))

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.save()
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]
    monkeypatch.undo()
    store.save()
    assert len(Recording.load(path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


def test_save_without_a_path_is_an_error() -> None:
    with pytest.raises(ValueError, match="no path"):
        Recording().save()


def test_merging_worker_parts_equals_recording_in_one_process(tmp_path: Path) -> None:
    request_a = canonical_request("m", "a", {})
    request_b = canonical_request("m", "b", {})
    whole, part1, part2 = Recording(), Recording(), Recording()
    for index in range(3):
        for store, request in ((whole, request_a), (part1, request_a)):
            store.put(request, index, Completion(text=f"a{index}"))
        for store, request in ((whole, request_b), (part2, request_b)):
            store.put(request, index, Completion(text=f"b{index}"))
    part1.save(tmp_path / "part1.jsonl")
    part2.save(tmp_path / "part2.jsonl")
    merged = Recording()
    parts = [Recording.load(tmp_path / name) for name in ("part2.jsonl", "part1.jsonl")]
    assert merged.merge(parts) == []
    assert merged.dumps() == whole.dumps()


def test_merge_conflicts_are_reported_and_resolved_independently_of_order() -> None:
    request = canonical_request("m", "a", {})
    left, right = Recording(), Recording()
    left.put(request, 0, Completion(text="zebra"))
    right.put(request, 0, Completion(text="apple"))
    first, second = Recording(), Recording()
    conflicts = first.merge([left, right])
    assert second.merge([right, left]) == conflicts
    assert conflicts == ["model 'm', prompt 'a', sample 0"]
    assert first.dumps() == second.dumps()
    assert next(iter(first)).completion.text == "apple"


def test_a_repeated_request_in_one_run_gets_the_recorded_answer() -> None:
    """Two tests sending the same request see one answer, as they will on replay."""
    from pytest_hotmess.sampling.context import sample_scope

    class Counting:
        name = "counting"

        def __init__(self) -> None:
            self.calls = 0

        def __call__(self, prompt: object, **params: object) -> Completion:
            self.calls += 1
            return Completion(text=f"answer {self.calls}")

        async def acall(self, prompt: object, **params: object) -> Completion:
            return self(prompt, **params)

    inner = Counting()
    store = Recording()
    model = RecordingModel(inner, store)
    with sample_scope("first-test-item", 0):
        first = model("same prompt")
    with sample_scope("second-test-item", 0):
        second = model("same prompt")
    with sample_scope("second-test-item", 1):
        third = model("same prompt")
    assert first == second == Completion(text="answer 1")
    assert third == Completion(text="answer 2")
    assert inner.calls == 2
    replay = ReplayModel(store, name="counting")
    with sample_scope("x", 0):
        assert replay("same prompt") == first


def test_the_v2_key_holds_the_base_url_without_credentials() -> None:
    from pytest_hotmess.models.record_key import public_base_url

    url = "https://user:sk-secret@api.example.com:8443/v1?api-version=2&key=sk-q&token=t"
    assert public_base_url(url) == "https://api.example.com:8443/v1?api-version=2"
    request = canonical_request("m", "hi", {}, provider="openai", base_url=url)
    assert "sk-" not in request_key(request) and request["provider"] == "openai"
