"""The recording file: answers keyed by request and sample index, read, merged and saved.

The file is JSON Lines: a header line, then one line per sample, sorted by request then sample
index, every object with sorted keys, so the same samples always give the same bytes and a
re-recording diffs line by line. A line holds the canonical request (provider, base URL, model
id, messages, parameters: never headers or keys; the test it was made for), the sample index, the
name of the model that recorded it (not part of the key) and the completion's fields. A user
callable's answer that is not a completion (a string, a number, JSON data, a ``Sample``) is held
as ``value`` instead: ``{"data": ..., "covariates": {...}}``.

Version 1 files (keyed by the model's name) are still read; their answers keep their version-1
request until a recording session reuses them, which rewrites them with a version-2 key.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..config.atomic import write_atomic
from ..sampling.completion import Completion
from .journal import Journal
from .record_key import (
    describe_request,
    is_legacy,
    jsonable,
    legacy_request,
    request_differences,
    request_key,
)

__all__ = [
    "FORMAT",
    "READABLE_VERSIONS",
    "VERSION",
    "PartRead",
    "RecordedSample",
    "Recording",
    "RecordingFormatError",
]

FORMAT = "pytest-hotmess-recording"
VERSION = 2
READABLE_VERSIONS = (1, 2)
_Key = tuple[str, int]

_COMPLETION_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "model": (str,),
    "finish_reason": (str,),
    "input_tokens": (int,),
    "output_tokens": (int,),
    "reasoning_tokens": (int,),
    "latency_s": (int, float),
}
_V1_REQUEST = {"model", "messages", "params"}
_V2_REQUEST = {*_V1_REQUEST, "provider", "base_url"}
_V2_OPTIONAL = {"test", "item"}
"""Per-test keys (``test``) and a callable's item (``item``): absent in older version-2 files."""


class RecordingFormatError(ValueError):
    """A recording file that cannot be read; the message names the file and the line."""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _header(version: int = VERSION) -> str:
    # "callables": this file also holds the answers of users' callables (files written before
    # they were recorded lack it, and replaying them calls callables as those releases did)
    return _dumps({"callables": True, "format": FORMAT, "version": version})


def _completion_json(completion: Completion) -> dict[str, Any]:
    return {key: value for key, value in completion.to_dict().items() if value is not None}


@dataclasses.dataclass(frozen=True)
class RecordedSample:
    """One stored answer; ``name`` is the model that recorded it (kept, never part of the key)."""

    request: dict[str, Any]
    sample: int
    completion: Completion | None
    name: str | None = None
    value: dict[str, Any] | None = None
    """A callable's answer that is not a completion: ``{"data": ..., "covariates": {...}}``."""

    @property
    def answer(self) -> tuple[Completion | None, str | None]:
        """What two answers are compared by (completion, or the value's canonical JSON)."""
        return self.completion, None if self.value is None else _dumps(self.value)

    @property
    def key(self) -> _Key:
        return (request_key(self.request), self.sample)

    @property
    def name_key(self) -> _Key | None:
        """The version-1 key this answer also answers to: its request under its model's name."""
        if is_legacy(self.request):
            return self.key
        if self.name is None:
            return None
        return (request_key(legacy_request(self.name, self.request)), self.sample)

    def line(self) -> str:
        name = f'"name": {_dumps(self.name)}, ' if self.name is not None else ""
        if self.completion is None:
            return (
                f'{{"request": {_dumps(self.request)}, "sample": {self.sample}, {name}'
                f'"value": {_dumps(self.value)}}}'
            )
        return (
            f'{{"request": {_dumps(self.request)}, "sample": {self.sample}, {name}'
            f'"completion": {_dumps(_completion_json(self.completion))}}}'
        )


@dataclasses.dataclass(frozen=True)
class PartRead:
    """A worker's part file as read back: its answers and the lines that could not be read."""

    recording: Recording
    damaged: list[str]


class Recording:
    """Answers keyed by (canonical request, sample index); thread-safe; saved atomically.

    Answers stored in this session are *fresh* (a session that stored none need not write the
    file); with :meth:`journal_to` each fresh answer is also appended to a part file at once.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.version = VERSION
        """The format version of the file this was loaded from."""
        self.covers_callables = True
        """Whether users' callables were recorded too (False for files of older releases)."""
        self._entries: dict[_Key, RecordedSample] = {}
        self._by_name: dict[_Key, _Key] = {}
        self._fresh: set[_Key] = set()
        self._journal: Journal | None = None
        self._lock = threading.RLock()

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

    @property
    def fresh(self) -> int:
        """How many answers were stored or changed since loading (or creating) this recording."""
        with self._lock:
            return len(self._fresh)

    # -- storing -------------------------------------------------------------------------------

    def _add(self, entry: RecordedSample, *, fresh: bool = True) -> None:
        """Store ``entry`` (lock held), replacing the answer under its key and any version-1
        answer it supersedes."""
        key, name_key = entry.key, entry.name_key
        old = self._entries.get(key)
        if old is not None and old.name_key is not None:
            self._by_name.pop(old.name_key, None)
        if name_key is not None:
            twin = self._by_name.get(name_key)
            if twin is not None and twin != key and is_legacy(self._entries[twin].request):
                del self._entries[twin]  # the v1 answer now lives under its v2 key
                self._fresh.discard(twin)
            self._by_name[name_key] = key
        self._entries[key] = entry
        if fresh:
            self._fresh.add(key)
            if self._journal is not None:
                self._journal.append(entry.line())

    def put(
        self,
        request: Mapping[str, Any],
        sample: int,
        completion: Completion,
        *,
        name: str | None = None,
    ) -> None:
        """Store (or replace) the answer for ``sample`` of ``request``."""
        _check_sample(sample)
        plain: dict[str, Any] = jsonable(request, "request")
        with self._lock:
            self._add(RecordedSample(plain, sample, completion, name))

    def setdefault(
        self,
        request: Mapping[str, Any],
        sample: int,
        completion: Completion,
        *,
        name: str | None = None,
    ) -> Completion:
        """Store the answer unless one is held already; return the one held.

        A request sent again for the same sample (its key includes the test that sent it) gets
        the recorded answer, just as it will on replay, so a replayed run reproduces the
        recorded one exactly.
        """
        _check_sample(sample)
        plain: dict[str, Any] = jsonable(request, "request")
        with self._lock:
            held = self._entries.get((request_key(plain), sample))
            if held is not None and held.completion is not None:
                return held.completion
            self._add(RecordedSample(plain, sample, completion, name))
        return completion

    def entry(self, request: Mapping[str, Any], sample: int) -> RecordedSample | None:
        """The stored answer to ``request`` and ``sample``, completion or value."""
        with self._lock:
            return self._entries.get((request_key(request), sample))

    def keep(self, entry: RecordedSample) -> RecordedSample:
        """Store ``entry`` unless an answer is held under its key already; return the one held."""
        _check_sample(entry.sample)
        plain = dataclasses.replace(entry, request=jsonable(entry.request, "request"))
        with self._lock:
            held = self._entries.get(plain.key)
            if held is not None:
                return held
            self._add(plain)
        return plain

    def get(self, request: Mapping[str, Any], sample: int) -> Completion | None:
        with self._lock:
            entry = self._entries.get((request_key(request), sample))
        return None if entry is None else entry.completion

    def get_by_name(
        self, request: Mapping[str, Any], sample: int, *, legacy_only: bool = False
    ) -> Completion | None:
        """The answer to a version-1 ``request`` (keyed by the model's name): a version-1 answer,
        or (unless ``legacy_only``) a version-2 answer recorded by a model of that name."""
        with self._lock:
            key = self._by_name.get((request_key(request), sample))
            entry = None if key is None else self._entries.get(key)
        if entry is None or (legacy_only and not is_legacy(entry.request)):
            return None
        return entry.completion

    def upgrade(
        self, legacy: Mapping[str, Any], request: Mapping[str, Any], sample: int, name: str
    ) -> Completion | None:
        """Re-key the version-1 answer to ``legacy`` as the version-2 ``request``; None if absent.

        A recording session reuses the answer (it was paid for) and the file is upgraded.
        """
        plain: dict[str, Any] = jsonable(request, "request")
        with self._lock:
            key = self._by_name.get((request_key(legacy), sample))
            entry = None if key is None else self._entries.get(key)
            if key is None or entry is None or entry.completion is None:
                return None
            if not is_legacy(entry.request):
                return None
            del self._entries[key]
            del self._by_name[key]
            self._add(RecordedSample(plain, sample, entry.completion, name))
        return entry.completion

    def merge(self, others: Iterable[Recording], *, prefer: str = "sorted") -> list[str]:
        """Add the samples of ``others``; returns the conflicts found.

        A conflict is one (request, sample) held with two different answers. ``prefer`` says
        which is kept: ``sorted`` (the default) the answer whose line sorts first, so the result
        does not depend on merge order; ``held`` the one held here; ``incoming`` the new one
        (then no conflict is reported: it is an overwrite).
        """
        if prefer not in ("sorted", "held", "incoming"):
            raise ValueError(f"prefer must be sorted, held or incoming, got {prefer!r}")
        conflicts: list[str] = []
        incoming = list(itertools.chain.from_iterable(list(other) for other in others))
        with self._lock:
            for entry in incoming:
                held = self._entries.get(entry.key)
                if held is None:
                    self._add(entry)
                elif prefer == "incoming":
                    if held != entry:
                        self._add(entry)
                elif held.answer != entry.answer:
                    conflicts.append(describe_request(entry.request, entry.sample))
                    if prefer == "sorted" and entry.line() < held.line():
                        self._add(entry)
        return conflicts

    # -- explaining a miss ---------------------------------------------------------------------

    def explain_miss(self, request: Mapping[str, Any], sample: int) -> str:
        """Why nothing answers ``request``: the nearest recorded request and what differs."""
        with self._lock:
            entries = list(self._entries.values())
        same = [e for e in entries if e.request["messages"] == request["messages"]]
        samples = sorted(e.sample for e in same if e.request == request)
        if samples:
            return f"only samples {_ranges(samples)} of this request were recorded"
        diffs: list[list[str]] = [
            request_differences(e.request, request)
            for e in same
            if is_legacy(e.request) == is_legacy(request)
        ]
        if diffs:
            nearest: list[str] = min(diffs, key=len)
            return "; ".join(nearest)
        if same:
            return "this prompt was recorded only in a version-1 recording by another model name"
        return "this prompt was never recorded"

    # -- files ---------------------------------------------------------------------------------

    def journal_to(self, path: str | os.PathLike[str]) -> Journal:
        """Append every fresh answer to ``path`` from now on (a worker's part file)."""
        with self._lock:
            self._journal = Journal(path, _header())
            return self._journal

    def close_journal(self) -> Journal | None:
        with self._lock:
            journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()
        return journal

    def dumps(self) -> str:
        """The file's text."""
        lines = [_header()] + [entry.line() for entry in self]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the file atomically (temp file in the same folder, then ``os.replace``)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no path given and the recording was not loaded from a file")
        self.path = write_atomic(target, self.dumps().encode("utf-8"))
        with self._lock:
            self._fresh.clear()
        return self.path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a recording; a damaged file raises :class:`RecordingFormatError`."""
        recording = cls(path)
        raw_lines = Path(path).read_bytes().splitlines()
        if not raw_lines:
            raise RecordingFormatError(f"{path}: empty file; expected a {FORMAT} header line")
        seen: dict[_Key, int] = {}
        for number, raw in enumerate(raw_lines, start=1):
            if number > 1 and not raw.strip():
                continue
            where = f"{path}:{number}"
            data = _json_line(raw, where)
            if number == 1:
                recording.version = _check_header(data, where)
                recording.covers_callables = data.get("callables") is True
                continue
            entry = _parse_entry(data, where, recording.version)
            if entry.key in seen:
                raise RecordingFormatError(
                    f"{where}: duplicate of line {seen[entry.key]} "
                    f"({describe_request(entry.request, entry.sample)})"
                )
            seen[entry.key] = number
            recording._add(entry, fresh=False)
        return recording

    @classmethod
    def read_part(cls, path: str | os.PathLike[str]) -> PartRead:
        """Read a worker's part file leniently: a line cut short by a crash, or otherwise
        unreadable, is listed in ``damaged`` (file:line and what it holds) instead of raised."""
        return cls.read_lines(Path(path).read_bytes().splitlines(), str(path), path)

    @classmethod
    def read_lines(
        cls,
        lines: Iterable[bytes],
        source: str,
        path: str | os.PathLike[str] | None = None,
    ) -> PartRead:
        """Journal lines (a part file's, or those a worker could not write) read leniently."""
        recording, damaged = cls(path), []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            where = f"{source}:{number}"
            try:
                data = _json_line(raw, where)
                if isinstance(data, dict) and "format" in data:
                    _check_header(data, where)
                    continue
                entry = _parse_entry(data, where, VERSION)
            except RecordingFormatError as exc:
                excerpt = raw[:120].decode("utf-8", "replace")
                damaged.append(f"{exc} (line starts {excerpt!r})")
                continue
            recording._add(entry)  # a later line for the same key wins, as in a journal
        return PartRead(recording, damaged)


def _ranges(numbers: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``0-2, 5``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _json_line(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordingFormatError(f"{where}: not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:
        raise RecordingFormatError(f"{where}: not a JSON object ({exc})") from None


def _check_sample(sample: int) -> None:
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise ValueError(f"a sample index is an int >= 0, got {sample!r}")


def _check_header(data: Any, where: str) -> int:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordingFormatError(f"{where}: not a {FORMAT} file (missing header line)")
    version = data.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise RecordingFormatError(
            f"{where}: format version {version!r}; this plugin reads versions {readable}"
        )
    return int(version)


def _shape_ok(request: dict[str, Any], version: int) -> bool:
    keys = set(request)
    if version == 1 or keys == _V1_REQUEST:
        return keys == _V1_REQUEST
    return _V2_REQUEST <= keys <= _V2_REQUEST | _V2_OPTIONAL and all(
        isinstance(request[name], str) for name in keys & _V2_OPTIONAL
    )


def _check_request(request: Any, version: int, where: str) -> None:
    if (
        not isinstance(request, dict)
        or not _shape_ok(request, version)
        or not isinstance(request.get("model"), str)
        or not isinstance(request.get("messages"), list)
        or not isinstance(request.get("params"), dict)
    ):
        fields = "'model' (str), 'messages' (list), 'params' (object)"
        if version > 1:
            fields += (
                ", and 'provider' (str) and 'base_url' (str or null) or neither"
                " (and maybe 'test' and 'item', str)"
            )
        raise RecordingFormatError(f"{where}: 'request' must hold {fields}")
    if "provider" in request and (
        not isinstance(request["provider"], str)
        or not isinstance(request["base_url"], (str, type(None)))
    ):
        raise RecordingFormatError(
            f"{where}: 'request' must hold 'provider' (str) and 'base_url' (str or null)"
        )


def _parse_value(value: Any, where: str) -> dict[str, Any]:
    """A callable's recorded ``value``: ``data`` (JSON), maybe ``covariates`` (name: number)."""
    if (
        not isinstance(value, dict)
        or "data" not in value
        or not set(value) <= {"data", "covariates"}
    ):
        raise RecordingFormatError(f"{where}: 'value' must be an object with 'data'")
    covariates = value.get("covariates", {})
    if not isinstance(covariates, dict) or any(
        isinstance(number, bool) or not isinstance(number, (int, float))
        for number in covariates.values()
    ):
        raise RecordingFormatError(f"{where}: 'value.covariates' must map names to numbers")
    return value


def _parse_entry(data: Any, where: str, version: int) -> RecordedSample:
    if version > 1 and isinstance(data, dict) and "value" in data and "completion" not in data:
        shape, allowed = {"request", "sample", "value"}, {"request", "sample", "value", "name"}
        if not shape <= set(data) <= allowed:
            raise RecordingFormatError(
                f"{where}: expected an object with 'request', 'sample' and 'value'"
            )
        _check_request(data["request"], version, where)
        sample, name = data["sample"], data.get("name")
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
            raise RecordingFormatError(f"{where}: 'sample' must be an int >= 0, got {sample!r}")
        if name is not None and not isinstance(name, str):
            raise RecordingFormatError(f"{where}: 'name' must be a string, got {name!r}")
        value = _parse_value(data["value"], where)
        return RecordedSample(data["request"], sample, None, name, value)
    required = {"request", "sample", "completion"}
    allowed = required if version == 1 else {*required, "name"}
    if not isinstance(data, dict) or not required <= set(data) <= allowed:
        raise RecordingFormatError(
            f"{where}: expected an object with 'request', 'sample' and 'completion'"
        )
    request, sample, fields = data["request"], data["sample"], data["completion"]
    name = data.get("name")
    _check_request(request, version, where)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        raise RecordingFormatError(f"{where}: 'sample' must be an int >= 0, got {sample!r}")
    if name is not None and not isinstance(name, str):
        raise RecordingFormatError(f"{where}: 'name' must be a string, got {name!r}")
    if not isinstance(fields, dict) or not isinstance(fields.get("text"), str):
        raise RecordingFormatError(f"{where}: 'completion' must be an object with a 'text'")
    for field, value in fields.items():
        kinds = _COMPLETION_TYPES.get(field)
        if kinds is None:
            raise RecordingFormatError(f"{where}: unknown completion field {field!r}")
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise RecordingFormatError(f"{where}: completion field {field!r} has a wrong type")
    return RecordedSample(request, sample, Completion.from_dict(fields), name)
