"""The uniform result of one model call, whatever the provider."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["Completion", "Message", "Model", "Prompt", "Sample", "TokenLogprob", "ToolCall"]

Message = Mapping[str, Any]
Prompt: TypeAlias = "str | Sequence[Message]"

_COVARIATE_FIELDS = ("input_tokens", "output_tokens", "reasoning_tokens", "latency_s", "batch")


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """One tool (function) call of an answer: its name and its arguments, parsed from JSON
    (the raw string when they are not valid JSON)."""

    name: str
    arguments: Any
    id: str | None = None


@dataclasses.dataclass(frozen=True)
class TokenLogprob:
    """One answer token's log-probability, with the most likely alternatives at its position
    (``top_logprobs``; each of those has no alternatives of its own)."""

    token: str
    logprob: float
    top_logprobs: tuple[TokenLogprob, ...] = ()


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
    tool_calls: tuple[ToolCall, ...] = ()
    """The answer's tool calls; an answer of tool calls only has them, as JSON, as its text."""
    logprobs: tuple[TokenLogprob, ...] | None = None
    """Per-token log-probabilities, when asked for (``logprobs: true``) and returned."""

    def covariates(self) -> dict[str, float]:
        """Token counts and latency that are known, as plain numbers for the reports."""
        out: dict[str, float] = {}
        for name in _COVARIATE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value) if name == "latency_s" else int(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the fields added for batches, tool calls and log-probabilities only when
        set, so that recordings of plain answers stay as they were."""
        data = dataclasses.asdict(self)
        data["tool_calls"] = [dataclasses.asdict(call) for call in self.tool_calls]
        if not self.tool_calls:
            del data["tool_calls"]
        if self.batch is None:
            del data["batch"]
        if self.logprobs is None:
            del data["logprobs"]
        else:
            data["logprobs"] = [_logprob_dict(entry) for entry in self.logprobs]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown completion field(s): {', '.join(sorted(unknown))}")
        fields = dict(data)
        if "tool_calls" in fields:
            fields["tool_calls"] = tuple(ToolCall(**dict(call)) for call in fields["tool_calls"])
        if fields.get("logprobs") is not None:
            fields["logprobs"] = tuple(_logprob_of(entry) for entry in fields["logprobs"])
        return cls(**fields)


def _logprob_dict(entry: TokenLogprob) -> dict[str, Any]:
    out: dict[str, Any] = {"token": entry.token, "logprob": entry.logprob}
    if entry.top_logprobs:
        out["top_logprobs"] = [_logprob_dict(top) for top in entry.top_logprobs]
    return out


def _logprob_of(data: Mapping[str, Any]) -> TokenLogprob:
    top = tuple(_logprob_of(entry) for entry in data.get("top_logprobs") or ())
    return TokenLogprob(str(data["token"]), float(data["logprob"]), top)


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
