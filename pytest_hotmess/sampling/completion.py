"""The uniform result of one model call, whatever the provider."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["Completion", "Message", "Model", "Prompt", "Sample"]

Message = Mapping[str, Any]
Prompt: TypeAlias = "str | Sequence[Message]"

_COVARIATE_FIELDS = ("input_tokens", "output_tokens", "reasoning_tokens", "latency_s", "batch")


@dataclasses.dataclass(frozen=True)
class Completion:
    """One sampled answer. Fields the API does not report are ``None``.

    ``batch`` numbers the request that returned several samples of one item together
    (``n_per_request > 1``); the report tests whether samples of one batch agree more than
    samples of different batches (docs/statistics.md, 'Batched samples').
    """

    text: str
    model: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = None
    batch: int | None = None

    def covariates(self) -> dict[str, float]:
        """Token counts and latency that are known, as plain numbers for the reports."""
        out: dict[str, float] = {}
        for name in _COVARIATE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value) if name == "latency_s" else int(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown completion field(s): {', '.join(sorted(unknown))}")
        return cls(**dict(data))


@dataclasses.dataclass(frozen=True)
class Sample:
    """A model output with numbers of your own attached, e.g. ``Sample(answer, {"length": 412})``.

    Return one from the callable you give ``resample``: ``extract`` sees ``value`` and the
    covariates join the sample's row in the report (a ``length`` covariate feeds the
    reasoning-length analysis).
    """

    value: Any
    covariates: Mapping[str, float] = dataclasses.field(default_factory=dict)


@runtime_checkable
class Model(Protocol):
    """What ``hotmess_model`` and every client offer: a sync and an async call."""

    name: str

    def __call__(self, prompt: Prompt, **params: Any) -> Completion: ...

    async def acall(self, prompt: Prompt, **params: Any) -> Completion: ...
