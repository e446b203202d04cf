"""Azure OpenAI: the OpenAI client on a deployment URL, with the ``api-key`` header.

Azure serves Chat Completions at
``{base_url}/openai/deployments/{deployment}/chat/completions?api-version={api_version}``, and
takes the key in an ``api-key`` header instead of ``Authorization: Bearer``. Answers are
OpenAI's, so everything else (batching, streaming, tools, log-probabilities) is inherited.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from .openai import OpenAIChatModel

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .http import ChatSettings

__all__ = ["DEFAULT_AZURE_API_VERSION", "AzureOpenAIChatModel"]

DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""The generally available data-plane API version the client asks for unless told otherwise."""


class AzureOpenAIChatModel(OpenAIChatModel):
    """A deployment of Azure OpenAI. ``deployment`` defaults to ``model``; ``base_url`` is the
    resource URL (``https://NAME.openai.azure.com``) and has no default."""

    provider = "azure"
    key_header = "api-key"
    key_prefix = ""

    def __init__(
        self,
        *,
        deployment: str | None = None,
        api_version: str = DEFAULT_AZURE_API_VERSION,
        n_per_request: int = 1,
        **settings: Unpack[ChatSettings],
    ) -> None:
        deployment = settings["model"] if deployment is None else deployment
        if not isinstance(deployment, str) or not deployment.strip():
            raise ValueError(f"deployment must be a non-empty string, got {deployment!r}")
        if not isinstance(api_version, str) or not api_version.strip():
            raise ValueError(f"api_version must be a non-empty string, got {api_version!r}")
        if not settings.get("base_url"):
            raise ValueError(
                "base_url is required: the resource URL, e.g. https://NAME.openai.azure.com"
            )
        self.deployment = deployment.strip()
        self.api_version = api_version.strip()
        super().__init__(n_per_request=n_per_request, **settings)
        # What recordings are keyed by: the deployment and API version change the answers.
        self.base_url = self._deployment_url(self.base_url)

    def _deployment_url(self, base_url: str) -> str:
        deployment = urllib.parse.quote(self.deployment, safe="")
        query = urllib.parse.urlencode({"api-version": self.api_version})
        return f"{base_url}/openai/deployments/{deployment}?{query}"

    def endpoint_url(self, base_url: str) -> str:
        path, _, query = self._deployment_url(base_url).partition("?")
        return f"{path}{self.endpoint_path}?{query}"

    def deployment_name(self) -> str | None:
        return self.deployment
