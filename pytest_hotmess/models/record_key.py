"""What a recorded answer is keyed by: the model's identity, the messages and the parameters.

Format version 2 keys every answer by provider, base URL (credentials removed), the provider's
model id and every parameter sent with the request, so that pointing an entry at another model
is a replay miss, not a silent replay of the old model's answers. Version 1 files keyed by the
model's *name* (the hotmess.yaml entry) instead; their requests have no ``provider`` and are
matched by name (see ``legacy_request``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..sampling.completion import Prompt
from .messages import messages_from_prompt

__all__ = [
    "ModelIdentity",
    "canonical_request",
    "describe_request",
    "identity_of",
    "is_legacy",
    "jsonable",
    "legacy_request",
    "public_base_url",
    "request_differences",
    "request_key",
]

_EXCERPT_CHARS = 60

# Never part of a request key or a recording, even when passed as a call parameter.
_SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "authorization", "x-api-key", "headers", "extra_headers"}
)
# Query parameters of a base URL that may carry a credential: dropped from the key.
_SECRET_QUERY = frozenset(
    {"key", "api_key", "apikey", "api-key", "token", "access_token", "sig", "signature", "secret"}
)


def jsonable(value: Any, where: str) -> Any:
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
            out[key] = jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [jsonable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} is not JSON data")


def public_base_url(url: str | None) -> str | None:
    """The base URL without user info and without query parameters that may hold a key."""
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    query = urllib.parse.urlencode(
        [
            (name, value)
            for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            if name.lower() not in _SECRET_QUERY
        ]
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@dataclasses.dataclass(frozen=True)
class ModelIdentity:
    """Which model answered: provider, endpoint (no credentials), model id, default parameters.

    ``params`` are the settings that change answers besides a call's own parameters: a chat
    client's default request parameters, a simulator's settings and seed.
    """

    provider: str
    model: str
    base_url: str | None = None
    params: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )

    def describe(self) -> str:
        where = f", {self.base_url}" if self.base_url else ""
        return f"model {self.model!r} ({self.provider}{where})"


def identity_of(model: object) -> ModelIdentity:
    """The identity a model shows: an HTTP client's provider, model id and base URL, its default
    ``params``; a model without them is identified by its ``name``."""
    provider = getattr(model, "provider", None)
    model_id = getattr(model, "model", None)
    params = getattr(model, "params", None)
    params = params if isinstance(params, Mapping) else {}
    if isinstance(provider, str) and isinstance(model_id, str):
        base_url = getattr(model, "base_url", None)
        return ModelIdentity(
            provider,
            model_id,
            public_base_url(base_url if isinstance(base_url, str) else None),
            types.MappingProxyType(dict(params)),
        )
    name = getattr(model, "name", None)
    return ModelIdentity(
        "custom",
        name if isinstance(name, str) else type(model).__name__,
        None,
        types.MappingProxyType(dict(params)),
    )


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    clean = {
        key: value
        for key, value in (params or {}).items()
        if value is not None and key.lower() not in _SECRET_PARAMS
    }
    plain: dict[str, Any] = jsonable(dict(sorted(clean.items())), "params")
    return plain


def canonical_request(
    model: str,
    prompt: Prompt,
    params: Mapping[str, Any] | None = None,
    *,
    provider: str | None = None,
    base_url: str | None = None,
    test: str | None = None,
) -> dict[str, Any]:
    """What identifies a request: model, messages (a str prompt is one user message), parameters
    without None values and without anything that could hold a credential.

    With ``provider`` it is a version-2 request (provider, base URL, model id); without, the
    version-1 form keyed by the model's name. ``test`` (a version-2 request only) is the node
    id of the test the request was sent for: each test keeps its own answers.
    """
    request: dict[str, Any] = {
        "model": model,
        "messages": jsonable(messages_from_prompt(prompt), "prompt"),
        "params": _clean_params(params),
    }
    if provider is not None:
        request["provider"] = provider
        request["base_url"] = public_base_url(base_url)
        if test is not None:
            request["test"] = test
    return request


def legacy_request(name: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """The version-1 form of ``request`` for a model called ``name``: how v1 files are matched."""
    return {"model": name, "messages": request["messages"], "params": request["params"]}


def is_legacy(request: Mapping[str, Any]) -> bool:
    """A version-1 request: keyed by the model's name, with no provider."""
    return "provider" not in request


def request_key(request: Mapping[str, Any]) -> str:
    """The canonical request as one stable string: the sort key and the lookup key."""
    return json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def describe_request(request: Mapping[str, Any], sample: int) -> str:
    """Model, a short excerpt of the last message, and the sample index, for error messages."""
    where = f" in {request['test']}" if isinstance(request.get("test"), str) else ""
    if request.get("provider") == "callable":
        inputs = json.dumps(request.get("params"), ensure_ascii=False, sort_keys=True)
        if len(inputs) > _EXCERPT_CHARS:
            inputs = inputs[: _EXCERPT_CHARS - 1] + "…"
        return (
            f"callable {request.get('model')!r}{where}, item {request.get('item')!r}, "
            f"inputs {inputs}, sample {sample}"
        )
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 1] + "…"
    if not is_legacy(request):
        base_url = request.get("base_url")
        where = f" ({request.get('provider')}{', ' + str(base_url) if base_url else ''}){where}"
    return f"model {request.get('model')!r}{where}, prompt {text!r}, sample {sample}"


def request_differences(recorded: Mapping[str, Any], asked: Mapping[str, Any]) -> list[str]:
    """What differs between a recorded request and the one asked for, field by field
    (messages aside): ``recorded for model 'a', asked for 'b'``."""
    out = []
    for field in ("provider", "base_url", "model", "test", "item"):
        if recorded.get(field) != asked.get(field):
            out.append(
                f"recorded for {field} {recorded.get(field)!r}, asked for {asked.get(field)!r}"
            )
    before, after = recorded.get("params") or {}, asked.get("params") or {}
    for name in sorted({*before, *after}):
        if before.get(name) != after.get(name):
            was = repr(before[name]) if name in before else "unset"
            now = repr(after[name]) if name in after else "unset"
            out.append(f"recorded with {name}={was}, asked with {name}={now}")
    return out
