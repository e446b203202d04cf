"""Anthropic Messages API client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..sampling.completion import Completion, Prompt
from .http import (
    ChatModelBase,
    JSONReply,
    messages_from_prompt,
    optional_dict,
    optional_int,
    optional_str,
    text_of_blocks,
)
from .sse import StreamAssembler, assemble_anthropic
from .tools import answer_text, tool_call

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .http import ChatSettings

__all__ = ["AnthropicMessagesModel"]

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
"""The Messages API requires max_tokens; this is sent when neither defaults nor call set it."""


class AnthropicMessagesModel(ChatModelBase):
    """A Claude model behind the Messages API (``POST {base_url}/v1/messages``).

    Parameters: ``temperature``, ``top_p``, ``top_k``, ``max_tokens`` (default 1024, or the
    thinking budget + 1024 when thinking is on), ``stop`` (sent as ``stop_sequences``),
    ``system`` (top level; system messages in the prompt are moved there too), ``thinking``
    (an int budget of tokens, or the API's own object). The API has no seed: ``seed`` is
    accepted, so that harness-wide seeding works, and not sent. Other fields pass through
    (``tools``, ``tool_choice``, ``stream``); ``tool_use`` blocks become
    :attr:`Completion.tool_calls`. ``anthropic_version`` is the ``anthropic-version`` header
    (default ``2023-06-01``).
    """

    provider = "anthropic"
    default_base_url = DEFAULT_ANTHROPIC_BASE_URL
    endpoint_path = "/v1/messages"
    endpoint_headers: ClassVar[Mapping[str, str]] = {
        "Accept": "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
    }
    key_header = "x-api-key"
    key_prefix = ""

    def __init__(
        self, *, anthropic_version: str = ANTHROPIC_VERSION, **settings: Unpack[ChatSettings]
    ) -> None:
        if not isinstance(anthropic_version, str) or not anthropic_version.strip():
            raise ValueError(
                f"anthropic_version must be a non-empty string, got {anthropic_version!r}"
            )
        self.anthropic_version = anthropic_version.strip()
        super().__init__(**settings)

    def fixed_headers(self) -> Mapping[str, str]:
        return {**self.endpoint_headers, "anthropic-version": self.anthropic_version}

    def stream_assembler(self) -> StreamAssembler | None:
        return assemble_anthropic

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        __tracebackhide__ = True
        return self._parse(self._endpoint.post(self.request_body(prompt, params)))

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        __tracebackhide__ = True
        return self._parse(await self._endpoint.apost(self.request_body(prompt, params)))

    def request_body(self, prompt: Prompt, params: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body of one call."""
        merged = self.merged_params(params)
        merged.pop("seed", None)
        if "n" in merged:
            raise ValueError("the Messages API returns one sample per request: drop n")
        messages = messages_from_prompt(prompt)
        system_parts = [_as_text(m.get("content")) for m in messages if m["role"] == "system"]
        messages = [m for m in messages if m["role"] != "system"]
        if not messages:
            raise ValueError("the prompt has only system messages; add a user message")
        system = merged.pop("system", None)
        if system is not None:
            system_parts.insert(0, _as_text(system))
        stop = merged.pop("stop", None)
        if stop is not None:
            merged["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        budget = _thinking_budget(merged)
        merged.setdefault("max_tokens", DEFAULT_MAX_TOKENS + (budget or 0))
        body: dict[str, Any] = {"model": self.model, "messages": messages, **merged}
        if system_parts:
            body["system"] = "\n\n".join(part for part in system_parts if part)
        return body

    def _parse(self, reply: JSONReply) -> Completion:
        data = reply.data
        content = data.get("content")
        if not isinstance(content, list):
            raise self._endpoint.error("the answer has no 'content' list", attempts=reply.attempts)
        text = "".join(
            block["text"]
            for block in content
            if isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        )
        calls = tuple(
            tool_call({"name": block.get("name")}, block.get("id"), block.get("input", {}))
            for block in content
            if isinstance(block, dict) and block.get("type") == "tool_use"
        )
        usage = optional_dict(data.get("usage"))
        return Completion(
            text=answer_text(text, calls),
            tool_calls=calls,
            model=optional_str(data.get("model")),
            finish_reason=optional_str(data.get("stop_reason")),
            input_tokens=optional_int(usage.get("input_tokens")),
            output_tokens=optional_int(usage.get("output_tokens")),
            # The Messages API counts thinking inside output_tokens and does not split it out.
            reasoning_tokens=optional_int(usage.get("reasoning_tokens")),
            latency_s=reply.latency_s,
        )


def _thinking_budget(merged: dict[str, Any]) -> int | None:
    """Normalise ``thinking`` in place (an int budget becomes the API object); the budget."""
    thinking = merged.pop("thinking", None)
    if thinking is None or thinking is False:
        return None
    if isinstance(thinking, bool):
        raise ValueError("thinking takes a token budget (int) or the API's thinking object")
    if isinstance(thinking, int):
        merged["thinking"] = {"type": "enabled", "budget_tokens": thinking}
        return thinking
    if isinstance(thinking, Mapping):
        merged["thinking"] = dict(thinking)
        budget = thinking.get("budget_tokens")
        return budget if isinstance(budget, int) and not isinstance(budget, bool) else None
    raise ValueError(f"thinking takes an int budget or a mapping, got {type(thinking).__name__}")


def _as_text(content: Any) -> str:
    """A system prompt given as a string or as a list of text blocks, as one string."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return text_of_blocks(content)
    return "" if content is None else str(content)
