"""Record a user callable's answers, replay them with no call: the recording's side of it.

The resampler keys each call (:class:`~..sampling.callables.CallKey`: test, item, the callable's
identity, its canonical inputs) and asks this recorder; answers live in the same file as the
built-in clients' (:class:`.recording_store.Recording`), so they are merged, journalled by xdist
workers and saved exactly like those. A request of a callable has ``provider: "callable"``.
"""

from __future__ import annotations

from typing import Any

from ..sampling.callables import CallKey
from ..sampling.completion import Completion, Sample
from .record_key import describe_request, jsonable
from .recording import ReplayMissError
from .recording_store import RecordedSample, Recording

__all__ = ["CallableRecorder", "callable_request"]

PROVIDER = "callable"


def callable_request(key: CallKey) -> dict[str, Any]:
    """The canonical request of a callable's call (the store's key, with the sample index)."""
    return {
        "provider": PROVIDER,
        "base_url": None,
        "model": key.model,
        "messages": [],
        "params": key.inputs,
        "test": key.test,
        "item": key.item,
    }


class CallableRecorder:
    """Stores callables' answers in ``store``, or (``replaying``) answers from it alone."""

    def __init__(self, store: Recording, *, replaying: bool) -> None:
        self.recording = store
        self._replaying = replaying

    def __repr__(self) -> str:
        return f"CallableRecorder(recording={self.recording!r}, replaying={self._replaying})"

    @property
    def replaying(self) -> bool:
        return self._replaying

    def recall(self, key: CallKey, sample: int) -> tuple[bool, Any]:
        entry = self.recording.entry(callable_request(key), sample)
        return (False, None) if entry is None else (True, _answer(entry))

    def store(self, key: CallKey, sample: int, answer: Any) -> Any:
        request = callable_request(key)
        kept = self.recording.keep(_entry(request, sample, answer, key.model))
        return _answer(kept)

    def miss(self, key: CallKey, sample: int) -> Exception:
        request = callable_request(key)
        where = (
            str(self.recording.path) if self.recording.path is not None else "(unsaved recording)"
        )
        return ReplayMissError(
            f"no recorded answer for {describe_request(request, sample)} in {where}: "
            f"{self.recording.explain_miss(request, sample)}; record it again (--hotmess-record), "
            "or pass record_key=False to call this callable even on replay"
        )


def _entry(request: dict[str, Any], sample: int, answer: Any, name: str) -> RecordedSample:
    """The answer as a stored line: a completion as one, anything else as JSON ``value``."""
    if isinstance(answer, Completion):
        return RecordedSample(request, sample, answer, name)
    covariates: dict[str, float] = {}
    data = answer
    if isinstance(answer, Sample):
        data, covariates = answer.value, dict(answer.covariates)
    try:
        value: dict[str, Any] = {"data": jsonable(data, "answer")}
        if covariates:
            value["covariates"] = jsonable(covariates, "covariates")
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot record the answer of {name}: {exc}; return a str, JSON data, a "
            "Completion, a Sample of JSON data, or an openai/anthropic response object"
        ) from None
    return RecordedSample(request, sample, None, name, value)


def _answer(entry: RecordedSample) -> Any:
    """What a recorded answer replays as: the completion, the data, or a Sample of them."""
    if entry.completion is not None:
        return entry.completion
    value = entry.value or {}
    covariates = value.get("covariates")
    if covariates:
        return Sample(value.get("data"), dict(covariates))
    return value.get("data")
