"""OpenAI-compatible Chat Completions client (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM, OpenRouter).

With ``n_per_request = n > 1`` the K samples of one item are fetched n at a time: the calls for
sample indices ``b*n .. b*n+n-1`` of the same request share one HTTP request with ``n=n`` and
take choices ``0 .. n-1`` of it (see :class:`_SampleBatcher`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..sampling.completion import Completion, Prompt, TokenLogprob
from ..sampling.context import current_item, current_sample
from .http import (
    ChatModelBase,
    JSONReply,
    ModelAPIError,
    messages_from_prompt,
    optional_dict,
    optional_int,
    optional_str,
    text_of_blocks,
)
from .sse import StreamAssembler, assemble_openai
from .tools import answer_text, tool_call

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .http import ChatSettings

__all__ = ["OpenAIChatModel"]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

# Batches whose choices were not all taken (K not a multiple of n) stay cached until this many
# batches are held, then the oldest finished ones are dropped.
_MAX_CACHED_BATCHES = 4096


class _OwnerGone(Exception):
    """The call that was fetching a batch was cancelled: a waiter must fetch it itself."""


class _Batch:
    """One shared HTTP request and which of its choices have been handed out."""

    __slots__ = ("future", "taken")

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[JSONReply] = concurrent.futures.Future()
        # Running futures cannot be cancelled: a waiter that is cancelled (which cancels what
        # ``asyncio.wrap_future`` wraps) must not cancel the batch for the other samples.
        self.future.set_running_or_notify_cancel()
        self.taken: set[int] = set()


class _SampleBatcher:
    """Hands each sample its choice of a shared request; safe across threads and event loops.

    The cache key is (item id, canonical request body, block). A choice index that was already
    handed out starts a fresh batch, so a re-run of the same sample never reuses old answers,
    and two items with the same prompt never share samples.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._lock = threading.Lock()
        self._batches: dict[tuple[str | None, str, int], _Batch] = {}

    def claim(self, request_key: str, sample: int) -> tuple[_Batch, int, bool]:
        """The batch for ``sample``, its choice index, and whether this caller must fetch it."""
        block, choice = divmod(sample, self.n)
        key = (current_item.get(), request_key, block)
        with self._lock:
            batch = self._batches.get(key)
            owner = batch is None or choice in batch.taken
            if batch is None or owner:
                batch = _Batch()
                self._batches[key] = batch
                self._trim()
            batch.taken.add(choice)
            if len(batch.taken) == self.n:
                del self._batches[key]
        return batch, choice, owner

    def forget(self, batch: _Batch) -> None:
        """Drop a batch whose fetch was abandoned, so that the next claim fetches it anew."""
        with self._lock:
            for key, held in list(self._batches.items()):
                if held is batch:
                    del self._batches[key]

    def _trim(self) -> None:
        if len(self._batches) <= _MAX_CACHED_BATCHES:
            return
        for key, held in list(self._batches.items()):
            if held.future.done():
                del self._batches[key]
            if len(self._batches) <= _MAX_CACHED_BATCHES // 2:
                break


class OpenAIChatModel(ChatModelBase):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    ``params`` are sent on every call and overridden per call: ``temperature``, ``top_p``,
    ``max_tokens``, ``seed``, ``stop``, ``reasoning_effort`` and any other body field pass
    through unchanged; ``system`` becomes a leading system message. ``stream=True`` reads
    the answer as server-sent events (usage asked for with ``stream_options``); ``tools``,
    ``response_format``, ``logprobs`` and ``top_logprobs`` pass through, and their answers fill
    :attr:`Completion.tool_calls` and :attr:`Completion.logprobs`.
    """

    provider = "openai"
    batches_samples = True
    default_base_url = DEFAULT_OPENAI_BASE_URL
    endpoint_path = "/chat/completions"

    def __init__(self, *, n_per_request: int = 1, **settings: Unpack[ChatSettings]) -> None:
        if isinstance(n_per_request, bool) or not isinstance(n_per_request, int):
            raise TypeError(f"n_per_request must be an int, got {n_per_request!r}")
        if n_per_request < 1:
            raise ValueError(f"n_per_request must be >= 1, got {n_per_request}")
        super().__init__(**settings)
        self.n_per_request = n_per_request
        self._batcher = _SampleBatcher(n_per_request) if n_per_request > 1 else None

    # -- the Model protocol --------------------------------------------------------------------

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        __tracebackhide__ = True
        body = self.request_body(prompt, params)
        plan = self._plan(body)
        if plan is None:
            return self._parse(self._endpoint.post(body), choice=0, batched=False)
        request_key, sample = plan
        assert self._batcher is not None
        while True:
            batch, choice, owner = self._batcher.claim(request_key, sample)
            if owner:
                self._fetch(batch, body)
            try:
                reply = batch.future.result()
            except _OwnerGone:
                continue
            except ModelAPIError as exc:
                failure = exc
            else:
                return self._parse(
                    reply, choice=choice, batched=True, batch=sample // self.n_per_request
                )
            raise self._copy_error(failure)  # outside ``except``: no exception context

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        __tracebackhide__ = True
        body = self.request_body(prompt, params)
        plan = self._plan(body)
        if plan is None:
            return self._parse(await self._endpoint.apost(body), choice=0, batched=False)
        request_key, sample = plan
        assert self._batcher is not None
        while True:
            batch, choice, owner = self._batcher.claim(request_key, sample)
            if owner:
                await self._afetch(batch, body)
            try:
                reply = await asyncio.wrap_future(batch.future)
            except _OwnerGone:
                continue
            except ModelAPIError as exc:
                failure = exc
            else:
                return self._parse(
                    reply, choice=choice, batched=True, batch=sample // self.n_per_request
                )
            raise self._copy_error(failure)  # outside ``except``: no exception context

    # -- requests ----------------------------------------------------------------------------

    def request_body(self, prompt: Prompt, params: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body of one call (without ``n``; batching adds it)."""
        merged = self.merged_params(params)
        if "n" in merged:
            raise ValueError(
                "pass n_per_request to the client instead of n: each call returns one sample"
            )
        system = merged.pop("system", None)
        messages = messages_from_prompt(prompt)
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        if merged.get("stream") is True:  # usage comes in a final chunk only when asked for
            merged["stream_options"] = {"include_usage": True, **merged.get("stream_options", {})}
        return {"model": self.model, "messages": messages, **merged}

    def stream_assembler(self) -> StreamAssembler | None:
        return assemble_openai

    def _plan(self, body: Mapping[str, Any]) -> tuple[str, int] | None:
        """(canonical request, sample index) when this call can share a batch, else None."""
        if self._batcher is None:
            return None
        sample = current_sample.get()
        if sample is None:
            return None
        return json.dumps(body, sort_keys=True, separators=(",", ":")), sample

    def _batch_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {**body, "n": self.n_per_request}

    def _fetch(self, batch: _Batch, body: Mapping[str, Any]) -> None:
        try:
            reply = self._endpoint.post(self._batch_body(body))
        except ModelAPIError as exc:
            batch.future.set_exception(exc)
        except BaseException:
            self._abandon(batch)
            raise
        else:
            batch.future.set_result(reply)

    async def _afetch(self, batch: _Batch, body: Mapping[str, Any]) -> None:
        try:
            reply = await self._endpoint.apost(self._batch_body(body))
        except ModelAPIError as exc:
            batch.future.set_exception(exc)
        except BaseException:  # cancelled (or a bug): let a waiter fetch the batch instead
            self._abandon(batch)
            raise
        else:
            batch.future.set_result(reply)

    def _abandon(self, batch: _Batch) -> None:
        assert self._batcher is not None
        self._batcher.forget(batch)
        batch.future.set_exception(_OwnerGone())

    def _copy_error(self, error: ModelAPIError) -> ModelAPIError:
        """One error object per failing sample, naming that sample's item."""
        return ModelAPIError(**{**error.fields(), "item": current_item.get()})

    # -- answers -----------------------------------------------------------------------------

    def _parse(
        self, reply: JSONReply, *, choice: int, batched: bool, batch: int | None = None
    ) -> Completion:
        data = reply.data
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise self._endpoint.error("the answer has no 'choices' list", attempts=reply.attempts)
        if choice >= len(choices):
            raise self._endpoint.error(
                f"asked for n={self.n_per_request} choices but the server returned "
                f"{len(choices)}; it may not support n: use n_per_request=1",
                attempts=reply.attempts,
            )
        picked = _choice_by_index(choices, choice)
        message = picked.get("message")
        if not isinstance(message, dict):
            raise self._endpoint.error(
                f"choice {choice} has no 'message' object", attempts=reply.attempts
            )
        usage = optional_dict(data.get("usage"))
        details = optional_dict(usage.get("completion_tokens_details"))
        calls = tuple(
            tool_call(call.get("function"), call.get("id"))
            for call in message.get("tool_calls") or []
            if isinstance(call, dict)
        )
        return Completion(
            text=answer_text(_message_text(message.get("content")), calls),
            tool_calls=calls,
            logprobs=_logprobs(picked.get("logprobs")),
            model=optional_str(data.get("model")),
            finish_reason=optional_str(picked.get("finish_reason")),
            input_tokens=optional_int(usage.get("prompt_tokens")),
            # With n > 1 the API reports only the total over all choices: no per-sample count.
            output_tokens=None if batched else optional_int(usage.get("completion_tokens")),
            reasoning_tokens=None if batched else optional_int(details.get("reasoning_tokens")),
            latency_s=reply.latency_s,
            batch=batch,
        )


def _choice_by_index(choices: list[Any], choice: int) -> dict[str, Any]:
    """Choice number ``choice``, by its ``index`` field when servers reorder them."""
    for candidate in choices:
        if isinstance(candidate, dict) and candidate.get("index") == choice:
            return candidate
    fallback = choices[choice]
    return fallback if isinstance(fallback, dict) else {}


def _logprobs(value: Any) -> tuple[TokenLogprob, ...] | None:
    """A choice's ``logprobs.content`` (one entry per answer token), or None when absent."""
    content = value.get("content") if isinstance(value, dict) else None
    if not isinstance(content, list):
        return None
    return tuple(_tokens(content, top=True))


def _tokens(entries: list[Any], *, top: bool) -> list[TokenLogprob]:
    """The well-formed entries: a token and a finite log-probability (others are skipped)."""
    out = []
    for entry in entries:
        logprob = entry.get("logprob") if isinstance(entry, dict) else None
        if isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
            continue
        if not math.isfinite(logprob):
            continue
        alternatives = entry.get("top_logprobs") if top else None
        out.append(
            TokenLogprob(
                token=str(entry.get("token", "")),
                logprob=float(logprob),
                top_logprobs=tuple(
                    _tokens(alternatives, top=False) if isinstance(alternatives, list) else ()
                ),
            )
        )
    return out


def _message_text(content: Any) -> str:
    """The text of a message: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return text_of_blocks(content)
    return ""
