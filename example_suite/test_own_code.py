"""Your own model code as the model: a plain function calling an endpoint through the openai SDK.

Most suites already have model code of their own (an SDK call, an agent loop, a chain). Pass it
to ``resample`` like any model: its samples are gated, its SDK answers become completions (token
counts and latency in the reports), and ``--hotmess-record``/``--hotmess-replay`` record and
replay it too. It needs an OpenAI-compatible endpoint, so it runs only when ``--hotmess-model``
names one (the ``local`` entry of hotmess.yaml, say) and is skipped otherwise:

    pytest example_suite --hotmess-model local
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_hotmess import Model, Resampler, format_prompt, load_bundled_questions
from pytest_hotmess.sim import extract_letter

QUESTIONS = load_bundled_questions()[:4]


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str


@pytest.fixture
def openai_endpoint(hotmess_model: Model) -> Endpoint:
    """The OpenAI-compatible endpoint ``--hotmess-model`` names; the test is skipped otherwise."""
    pytest.importorskip("openai", reason="the openai SDK is not installed (pip install openai)")
    shown: Any = getattr(hotmess_model, "identity", hotmess_model)  # also when recorded/replayed
    base_url, model = getattr(shown, "base_url", None), getattr(shown, "model", None)
    if getattr(shown, "provider", None) != "openai" or not base_url or not isinstance(model, str):
        pytest.skip(
            "--hotmess-model names no OpenAI-compatible endpoint (run with --hotmess-model "
            "local after enabling the `local` entry of hotmess.yaml)"
        )
    return Endpoint(base_url, model)


@pytest.mark.coherence(max_incoherence=0.4, samples=5)
def test_own_code_through_the_openai_sdk(resample: Resampler, openai_endpoint: Endpoint) -> None:
    from openai import OpenAI

    client = OpenAI(
        base_url=openai_endpoint.base_url,
        api_key=os.environ.get("OPENAI_API_KEY") or "no-key",  # a local server needs none
        max_retries=2,
    )

    def ask(prompt: str) -> Any:
        """Plain user code: one chat completion, returned as the SDK gives it."""
        return client.chat.completions.create(
            model=openai_endpoint.model,
            messages=[{"role": "user", "content": prompt}],
            temperature=1.0,
        )

    resample.map(
        ask,
        [format_prompt(question) for question in QUESTIONS],
        targets=[question.answer for question in QUESTIONS],
        items=[question.id for question in QUESTIONS],
        extract=extract_letter,
    )
    client.close()
