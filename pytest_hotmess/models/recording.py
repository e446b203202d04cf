"""Record model answers once, replay them offline: the recording and replaying model wrappers.

The file and its keys live in :mod:`.recording_store` and :mod:`.record_key`; this module wraps
a model so that its answers are stored (:class:`RecordingModel`) or answered from a recording
with no network (:class:`ReplayModel`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from ..sampling.completion import Completion, Model, Prompt
from ..sampling.context import current_sample, current_test
from .record_key import (
    ModelIdentity,
    canonical_request,
    describe_request,
    identity_of,
    request_key,
)
from .recording_store import RecordedSample, Recording, RecordingFormatError

__all__ = [
    "ModelIdentity",
    "RecordedSample",
    "Recording",
    "RecordingFormatError",
    "RecordingModel",
    "ReplayMissError",
    "ReplayModel",
    "canonical_request",
    "request_key",
]


class ReplayMissError(LookupError):
    """Replay was asked for a sample that the recording does not hold."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # LookupError would show the repr of the message otherwise
        return self.message


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


def _request(identity: ModelIdentity, prompt: Prompt, params: Mapping[str, Any]) -> dict[str, Any]:
    """The version-2 request: the identity's defaults overridden by the call's parameters, and
    the test it is sent for (when made inside a test), so that tests never share answers."""
    return canonical_request(
        identity.model,
        prompt,
        {**identity.params, **params},
        provider=identity.provider,
        base_url=identity.base_url,
        test=current_test.get(),
    )


def _shared(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request as recorded before answers were kept per test (no ``test``), or None."""
    if "test" not in request:
        return None
    return {key: value for key, value in request.items() if key != "test"}


class RecordingModel:
    """Calls ``inner`` and stores every answer in ``store`` (which the caller saves).

    Answers are keyed by ``identity`` (by default the inner model's provider, base URL, model id
    and default ``params``), the messages, the call's parameters and the test that sent them (two
    tests sending the same request each get, and keep, their own answers). An answer ``store``
    already holds is returned without calling the model: a repeated request in one test, or
    (when the store was loaded from a file) an answer recorded earlier; answers recorded before
    answers were kept per test, and version-1 answers, are then re-keyed. Latency is a
    wall-clock measurement that differs on every run; it is left out unless ``keep_latency``
    is set, so re-recording the same answers gives the same bytes.
    """

    hotmess_no_record = True
    """Not recorded again as a user callable: it records itself, or is local and seeded."""

    def __init__(
        self,
        inner: Model,
        store: Recording,
        *,
        keep_latency: bool = False,
        identity: ModelIdentity | None = None,
    ) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name
        self.keep_latency = keep_latency
        self.identity = identity if identity is not None else identity_of(inner)
        self._counter = _SampleCounter()

    def __repr__(self) -> str:
        return f"RecordingModel(inner={self.inner!r}, store={self.store!r})"

    @property
    def params(self) -> Mapping[str, Any]:
        return _default_params(self.inner)

    def _held(
        self, prompt: Prompt, params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], int, Completion | None]:
        request = _request(self.identity, prompt, params)
        sample = self._counter.index(request)
        held = self.store.get(request, sample)
        shared = _shared(request)
        if held is None and shared is not None:  # recorded before answers were kept per test
            held = self.store.get(shared, sample)
            if held is not None:
                held = self.store.setdefault(request, sample, held, name=self.name)
        if held is None:  # an answer of a version-1 file, recorded under the model's name
            legacy = canonical_request(self.name, prompt, {**self.params, **params})
            held = self.store.upgrade(legacy, request, sample, self.name)
        return request, sample, held

    def _store(self, request: dict[str, Any], sample: int, completion: Completion) -> Completion:
        """Keep the first answer for (request, sample) and return what replay will return."""
        kept = completion if self.keep_latency else dataclasses.replace(completion, latency_s=None)
        return self.store.setdefault(request, sample, kept, name=self.name)

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        request, sample, held = self._held(prompt, params)
        if held is not None:
            return held
        return self._store(request, sample, self.inner(prompt, **params))

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        request, sample, held = self._held(prompt, params)
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

    With ``identity`` (what the plugin passes) answers are matched by provider, base URL, model
    id and parameters, and answers of version-1 files by ``name``. Without it, by ``name`` and
    ``params`` only, as before version 2: the name the answers were recorded under.
    """

    hotmess_no_record = True
    """Not recorded again as a user callable: it records itself, or is local and seeded."""

    def __init__(
        self,
        store: Recording,
        *,
        name: str,
        params: Mapping[str, Any] | None = None,
        identity: ModelIdentity | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.params: Mapping[str, Any] = dict(params or {})
        self.identity = identity
        self._counter = _SampleCounter()

    def __repr__(self) -> str:
        return f"ReplayModel(name={self.name!r}, store={self.store!r})"

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        legacy = canonical_request(self.name, prompt, {**self.params, **params})
        if self.identity is None:
            request = legacy
            sample = self._counter.index(request)
            completion = self.store.get_by_name(request, sample)
        else:
            request = _request(self.identity, prompt, params)
            sample = self._counter.index(request)
            completion = self.store.get(request, sample)
            shared = _shared(request)
            if completion is None and shared is not None:
                completion = self.store.get(shared, sample)  # recorded before per-test keys
            if completion is None:
                completion = self.store.get_by_name(legacy, sample, legacy_only=True)
        if completion is None:
            where = str(self.store.path) if self.store.path is not None else "(unsaved recording)"
            raise ReplayMissError(
                f"no recorded answer for {describe_request(request, sample)} in {where}: "
                f"{self.store.explain_miss(request, sample)}; record it again "
                "(--hotmess-record) or check the model and its parameters"
            )
        return completion

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        return self(prompt, **params)

    def close(self) -> None:
        """Nothing to release: present so that replay can stand in for a client."""

    async def aclose(self) -> None:
        """Nothing to release."""
