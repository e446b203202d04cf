"""Record model answers once, replay them offline: a store keyed by request and sample index.

The file is JSON Lines: a header line, then one line per sample, sorted by request then
sample index, every object with sorted keys, so the same samples always give the same bytes
and a re-recording diffs line by line. A line holds the canonical request (model name,
messages, parameters: never headers or keys) and the completion's fields.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..config.atomic import write_atomic
from ..sampling.completion import Completion, Model, Prompt
from ..sampling.context import current_sample
from .messages import messages_from_prompt

__all__ = [
    "RecordedSample",
    "Recording",
    "RecordingFormatError",
    "RecordingModel",
    "ReplayMissError",
    "ReplayModel",
    "canonical_request",
    "request_key",
]

FORMAT = "pytest-hotmess-recording"
VERSION = 1
_HEADER = {"format": FORMAT, "version": VERSION}
_EXCERPT_CHARS = 60

# Never part of a request key or a recording, even when passed as a call parameter.
_SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "authorization", "x-api-key", "headers", "extra_headers"}
)

_COMPLETION_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "model": (str,),
    "finish_reason": (str,),
    "input_tokens": (int,),
    "output_tokens": (int,),
    "reasoning_tokens": (int,),
    "latency_s": (int, float),
}


class RecordingFormatError(ValueError):
    """A recording file that cannot be read; the message names the file and the line."""


class ReplayMissError(LookupError):
    """Replay was asked for a sample that the recording does not hold."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # LookupError would show the repr of the message otherwise
        return self.message


def _jsonable(value: Any, where: str) -> Any:
    """A plain-JSON copy of ``value`` (tuples become lists), or a TypeError naming ``where``."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} cannot be stored in JSON")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: mapping keys must be str, got {key!r}")
            out[key] = _jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} is not JSON data")


def canonical_request(
    model: str, prompt: Prompt, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What identifies a request: model name, messages (a str prompt is one user message),
    parameters without None values and without anything that could hold a credential."""
    clean = {
        key: value
        for key, value in (params or {}).items()
        if value is not None and key.lower() not in _SECRET_PARAMS
    }
    return {
        "model": model,
        "messages": _jsonable(messages_from_prompt(prompt), "prompt"),
        "params": _jsonable(dict(sorted(clean.items())), "params"),
    }


def request_key(request: Mapping[str, Any]) -> str:
    """The canonical request as one stable string: the sort key and the lookup key."""
    return json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _completion_json(completion: Completion) -> dict[str, Any]:
    return {key: value for key, value in completion.to_dict().items() if value is not None}


def _describe(request: Mapping[str, Any], sample: int) -> str:
    """Model, a short excerpt of the last message, and the sample index, for error messages."""
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    text = content if isinstance(content, str) else _dumps(content)
    text = " ".join(text.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 1] + "…"
    return f"model {request.get('model')!r}, prompt {text!r}, sample {sample}"


@dataclasses.dataclass(frozen=True)
class RecordedSample:
    """One stored answer."""

    request: dict[str, Any]
    sample: int
    completion: Completion

    def line(self) -> str:
        return (
            f'{{"request": {_dumps(self.request)}, "sample": {self.sample}, '
            f'"completion": {_dumps(_completion_json(self.completion))}}}'
        )


class Recording:
    """Answers keyed by (canonical request, sample index); thread-safe; saved atomically."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._entries: dict[tuple[str, int], RecordedSample] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Recording(path={str(self.path) if self.path else None!r}, samples={len(self)})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[RecordedSample]:
        """The samples in file order: by request, then sample index."""
        with self._lock:
            ordered = sorted(self._entries.items(), key=lambda pair: pair[0])
        return iter([entry for _, entry in ordered])

    def put(self, request: Mapping[str, Any], sample: int, completion: Completion) -> None:
        """Store (or replace) the answer for ``sample`` of ``request``."""
        _check_sample(sample)
        plain: dict[str, Any] = _jsonable(request, "request")
        entry = RecordedSample(plain, sample, completion)
        with self._lock:
            self._entries[(request_key(plain), sample)] = entry

    def setdefault(
        self, request: Mapping[str, Any], sample: int, completion: Completion
    ) -> Completion:
        """Store the answer unless one is held already; return the one held.

        Two tests of one run that send the same request get the same recorded answer, just
        as they will on replay, so a replayed run reproduces the recorded one exactly.
        """
        _check_sample(sample)
        plain: dict[str, Any] = _jsonable(request, "request")
        with self._lock:
            held = self._entries.setdefault(
                (request_key(plain), sample), RecordedSample(plain, sample, completion)
            )
        return held.completion

    def get(self, request: Mapping[str, Any], sample: int) -> Completion | None:
        with self._lock:
            entry = self._entries.get((request_key(request), sample))
        return None if entry is None else entry.completion

    def merge(self, others: Iterable[Recording]) -> list[str]:
        """Add the samples of ``others`` (xdist part files); returns the conflicts found.

        A conflict is one (request, sample) recorded with two different answers. The answer
        whose line sorts first is kept, so the merged file does not depend on merge order.
        """
        conflicts: list[str] = []
        incoming = list(itertools.chain.from_iterable(list(other) for other in others))
        with self._lock:
            for entry in incoming:
                key = (request_key(entry.request), entry.sample)
                held = self._entries.get(key)
                if held is None:
                    self._entries[key] = entry
                elif held.completion != entry.completion:
                    conflicts.append(_describe(entry.request, entry.sample))
                    if entry.line() < held.line():
                        self._entries[key] = entry
        return conflicts

    def dumps(self) -> str:
        """The file's text."""
        lines = [_dumps(_HEADER)] + [entry.line() for entry in self]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the file atomically (temp file in the same folder, then ``os.replace``)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no path given and the recording was not loaded from a file")
        self.path = write_atomic(target, self.dumps().encode("utf-8"))
        return self.path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a recording; a damaged file raises :class:`RecordingFormatError`."""
        recording = cls(path)
        raw_lines = Path(path).read_bytes().splitlines()
        if not raw_lines:
            raise RecordingFormatError(f"{path}: empty file; expected a {FORMAT} header line")
        seen: dict[tuple[str, int], int] = {}
        for number, raw in enumerate(raw_lines, start=1):
            if number > 1 and not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise RecordingFormatError(f"{where}: not UTF-8 text ({exc.reason})") from None
            except ValueError as exc:
                raise RecordingFormatError(f"{where}: not a JSON object ({exc})") from None
            if number == 1:
                _check_header(data, where)
                continue
            entry = _parse_entry(data, where)
            key = (request_key(entry.request), entry.sample)
            if key in seen:
                raise RecordingFormatError(
                    f"{where}: duplicate of line {seen[key]} "
                    f"({_describe(entry.request, entry.sample)})"
                )
            seen[key] = number
            recording._entries[key] = entry
        return recording


def _check_sample(sample: int) -> None:
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ValueError(f"a sample index is an int >= 0, got {sample!r}")


def _check_header(data: Any, where: str) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordingFormatError(f"{where}: not a {FORMAT} file (missing header line)")
    if data.get("version") != VERSION:
        raise RecordingFormatError(
            f"{where}: format version {data.get('version')!r}; this plugin reads {VERSION}"
        )


def _parse_entry(data: Any, where: str) -> RecordedSample:
    if not isinstance(data, dict) or set(data) != {"request", "sample", "completion"}:
        raise RecordingFormatError(
            f"{where}: expected an object with 'request', 'sample' and 'completion'"
        )
    request, sample, fields = data["request"], data["sample"], data["completion"]
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("model"), str)
        or not isinstance(request.get("messages"), list)
        or not isinstance(request.get("params"), dict)
        or set(request) != {"model", "messages", "params"}
    ):
        raise RecordingFormatError(
            f"{where}: 'request' must hold 'model' (str), 'messages' (list), 'params' (object)"
        )
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise RecordingFormatError(f"{where}: 'sample' must be an int >= 0, got {sample!r}")
    if not isinstance(fields, dict) or not isinstance(fields.get("text"), str):
        raise RecordingFormatError(f"{where}: 'completion' must be an object with a 'text'")
    for name, value in fields.items():
        kinds = _COMPLETION_TYPES.get(name)
        if kinds is None:
            raise RecordingFormatError(f"{where}: unknown completion field {name!r}")
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise RecordingFormatError(f"{where}: completion field {name!r} has a wrong type")
    return RecordedSample(request, sample, Completion.from_dict(fields))


class _SampleCounter:
    """Sample indices for calls made outside the resampler: the n-th call of a request is n."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def index(self, request: Mapping[str, Any]) -> int:
        sample = current_sample.get()
        if sample is not None:
            return sample
        key = request_key(request)
        with self._lock:
            index = self._counts.get(key, 0)
            self._counts[key] = index + 1
        return index


def _default_params(model: object) -> Mapping[str, Any]:
    params = getattr(model, "params", None)
    return params if isinstance(params, Mapping) else {}


class RecordingModel:
    """Calls ``inner`` and stores every answer in ``store`` (which the caller saves).

    The key includes the inner model's default ``params`` (when it has them), so changing a
    configured temperature changes the key. Latency is a wall-clock measurement that differs
    on every run; it is left out of the file unless ``keep_latency`` is set, so re-recording
    the same answers gives the same bytes.
    """

    def __init__(self, inner: Model, store: Recording, *, keep_latency: bool = False) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name
        self.keep_latency = keep_latency
        self._counter = _SampleCounter()

    def __repr__(self) -> str:
        return f"RecordingModel(inner={self.inner!r}, store={self.store!r})"

    @property
    def params(self) -> Mapping[str, Any]:
        return _default_params(self.inner)

    def _request(self, prompt: Prompt, params: Mapping[str, Any]) -> dict[str, Any]:
        return canonical_request(self.name, prompt, {**self.params, **params})

    def _store(self, request: dict[str, Any], sample: int, completion: Completion) -> Completion:
        """Keep the first answer for (request, sample) and return what replay will return."""
        kept = completion if self.keep_latency else dataclasses.replace(completion, latency_s=None)
        return self.store.setdefault(request, sample, kept)

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        request = self._request(prompt, params)
        sample = self._counter.index(request)
        held = self.store.get(request, sample)
        if held is not None:  # the same request was already answered in this run
            return held
        return self._store(request, sample, self.inner(prompt, **params))

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        request = self._request(prompt, params)
        sample = self._counter.index(request)
        held = self.store.get(request, sample)
        if held is not None:
            return held
        return self._store(request, sample, await self.inner.acall(prompt, **params))

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    async def aclose(self) -> None:
        aclose = getattr(self.inner, "aclose", None)
        if callable(aclose):
            await aclose()


class ReplayModel:
    """Answers from a recording, with no network; a missing sample raises ReplayMissError.

    ``name`` and ``params`` must match the recorded model's (its config entry), since both
    are part of the key.
    """

    def __init__(
        self, store: Recording, *, name: str, params: Mapping[str, Any] | None = None
    ) -> None:
        self.store = store
        self.name = name
        self.params: Mapping[str, Any] = dict(params or {})
        self._counter = _SampleCounter()

    def __repr__(self) -> str:
        return f"ReplayModel(name={self.name!r}, store={self.store!r})"

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        request = canonical_request(self.name, prompt, {**self.params, **params})
        sample = self._counter.index(request)
        completion = self.store.get(request, sample)
        if completion is None:
            where = str(self.store.path) if self.store.path is not None else "(unsaved recording)"
            raise ReplayMissError(
                f"no recorded answer for {_describe(request, sample)} in {where}; "
                "record it again (--hotmess-record) or check the model's name and parameters"
            )
        return completion

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        return self(prompt, **params)

    def close(self) -> None:
        """Nothing to release: present so that replay can stand in for a client."""

    async def aclose(self) -> None:
        """Nothing to release."""
