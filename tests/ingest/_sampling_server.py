"""The fake OpenAI-compatible server, answering like a sampler with known answer frequencies.

Draw ``d`` of a question answers ``ANSWERS[question][d % len]``: a tool that samples each
question K times (promptfoo ``--repeat``, lm-eval ``repeats``) gets known samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from _fake_llm_server import OPENAI_PATH, FakeLLMServer, _last_user_text

__all__ = ["ANSWERS", "TARGETS", "SamplingServer"]

ANSWERS: dict[str, list[str]] = {
    "What is the capital of France?": ["Paris", "Paris", "Lyon", "Paris"],
    "What is 2 + 2?": ["4", "4", "4", "4"],
    "What colour is the sky?": ["blue", "grey", "blue", "green"],
}
TARGETS = {
    "What is the capital of France?": "Paris",
    "What is 2 + 2?": "4",
    "What colour is the sky?": "blue",
}


def _question(text: str) -> str:
    for question in ANSWERS:
        if question in text:
            return question
    raise AssertionError(f"the sampling server knows no question in {text!r}")


class SamplingServer(FakeLLMServer):
    def _openai(self, body: Mapping[str, Any]) -> dict[str, Any]:
        n = int(body.get("n", 1))
        answers = ANSWERS[_question(_last_user_text(body))]
        texts = [answers[d % len(answers)] for d in self._draw(OPENAI_PATH, body, n)]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": f"{body.get('model')}-served",
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
                for index, text in enumerate(texts)
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
        }
