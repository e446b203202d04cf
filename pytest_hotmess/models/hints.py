"""The likely cause of a failed HTTP status, for the error message: which key, which URL form.

A 401 or a 404 from a model endpoint is nearly always the configuration, not the server: no
key, the wrong key, or a ``base_url`` in the other provider's form (Anthropic's with ``/v1``
becomes ``/v1/v1/messages``). The hint says which, in the user's terms (``api_key_env``, the
variable's name, ``base_url``). No key value ever reaches a hint.
"""

from __future__ import annotations

import dataclasses

__all__ = ["BASE_URL_FORMS", "EndpointFacts", "status_hint"]

BASE_URL_FORMS = {
    "openai": "the URL up to and including /v1, e.g. https://api.openai.com/v1 or "
    "http://localhost:8000/v1 (the client appends /chat/completions)",
    "anthropic": "the host without /v1, e.g. https://api.anthropic.com (the client appends "
    "/v1/messages)",
    "azure": "the resource URL, e.g. https://NAME.openai.azure.com (the client appends "
    "/openai/deployments/DEPLOYMENT/chat/completions?api-version=VERSION)",
}
"""The ``base_url`` form each provider expects, as hints and the README state it."""


@dataclasses.dataclass(frozen=True)
class EndpointFacts:
    """What a hint may say about an endpoint: never the key, only where it came from."""

    provider: str
    base_url: str
    key_sent: bool
    key_source: str | None = None
    """Where the key came from, e.g. ``environment variable OPENAI_API_KEY``."""
    deployment: str | None = None


def status_hint(facts: EndpointFacts, status: int | None) -> str | None:
    """The likely cause of ``status`` from this endpoint, or None when there is nothing to say."""
    if status in (401, 403):
        return _key_hint(facts, status)
    if status == 404:
        return _url_hint(facts)
    if status is not None and status >= 500 and not facts.key_sent:
        return (
            "no API key was sent; some gateways answer a missing key with a server error: "
            "name the key's environment variable with api_key_env (or pass api_key=)"
        )
    return None


def _key_hint(facts: EndpointFacts, status: int) -> str:
    if not facts.key_sent:
        return (
            "no API key was sent: name the environment variable that holds it with "
            "api_key_env in hotmess.yaml (or pass api_key=)"
        )
    source = f"the key from {facts.key_source}" if facts.key_source else "the API key"
    refused = "was refused" if status == 401 else "has no access to this model or endpoint"
    return f"{source} {refused}; check that it belongs to this provider and base_url"


def _url_hint(facts: EndpointFacts) -> str:
    base = facts.base_url.rstrip("/")
    form = BASE_URL_FORMS.get(facts.provider)
    expected = f"{facts.provider} expects base_url as {form}" if form else "check base_url"
    if facts.provider == "anthropic" and base.endswith("/v1"):
        return (
            "base_url ends in /v1 and the client appends /v1/messages (giving /v1/v1/messages): "
            "drop the /v1; anthropic's base_url is the host, e.g. https://api.anthropic.com"
        )
    if facts.provider == "openai" and base.endswith("/chat/completions"):
        return f"base_url {base!r} already holds /chat/completions: drop it ({expected})"
    if facts.provider == "openai" and not base.endswith("/v1"):
        return f"base_url {base!r} does not end in /v1; {expected}"
    if facts.provider == "azure" and facts.deployment is not None:
        return (
            f"no deployment {facts.deployment!r} at this resource, or an unsupported "
            f"api_version; {expected}"
        )
    return f"the endpoint was not found (or the model id is unknown); {expected}"
