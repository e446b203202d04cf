"""Custom HTTP headers of a model entry: which carry credentials, and environment references;
and the entry keys that only some providers take or that are refused.

Shared by ``hotmess.yaml``'s validation (which checks the form, at the line) and the clients'
builder (which reads the variables). A header value is a literal, ``{env: NAME}``, or a string
with ``${NAME}`` references; a header that carries a credential must take its value from the
environment, as keys do.
"""

from __future__ import annotations

import re

__all__ = ["ENV_REFERENCE", "PROVIDER_ONLY", "SDK_ONLY", "credential_header"]

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``${NAME}`` inside a header value: replaced by that environment variable's value."""

_CREDENTIAL_WORDS = ("key", "token", "secret", "password", "auth", "cookie", "signature")


def credential_header(name: str) -> bool:
    """Whether a header carries a credential (``Authorization``, ``api-key``, ``X-Auth-Token``):
    its value must come from the environment, never from the config."""
    lowered = name.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS)


PROVIDER_ONLY = {"anthropic_version": "anthropic", "deployment": "azure", "api_version": "azure"}
"""Entry settings that one provider takes, and which."""

SDK_ONLY = {
    "extra_headers": "custom headers go under 'headers:' (a mapping of header name to value)",
}
"""Arguments of the openai/anthropic SDKs that are not request fields: sent as a body field, a
header meant for the gateway would be silently lost, so it is refused, saying what to use."""
