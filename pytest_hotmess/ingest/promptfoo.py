"""promptfoo output files (``promptfoo eval --repeat N -o results.json``).

Items are test cases (one per provider, prompt and test), samples their repeats in file
order. Without ``extract`` the outcome is the test's assertion verdict (``pass``, against
``True``), or the output itself when the test has no assertions (variance only); with
``extract`` it is ``extract(output)``, against the value of the test's first ``equals``
assertion when it has one. A failed call is an invalid sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..stats.kinds import NOTHING
from .common import Grouped, apply_extract, covariate_row, load_json
from .reader import Extract
from .records import IngestedItem, IngestError, where

__all__ = ["read_promptfoo", "sniff_promptfoo"]


def sniff_promptfoo(path: Path, head: bytes) -> bool:
    if path.suffix.lower() != ".json":
        return False
    return b'"evalId"' in head or (b'"results"' in head and b'"promptIdx"' in head)


def read_promptfoo(path: Path, extract: Extract | None) -> list[IngestedItem]:
    data = load_json(path)
    results = _results(data, path)
    keys = [_case_key(result, path, f"results[{i}]") for i, result in enumerate(results)]
    names = _item_names(keys)
    grouped = Grouped(path)
    counts: dict[str, int] = {}
    for index, (result, key) in enumerate(zip(results, keys, strict=True)):
        at = f"results[{index}]"
        item_id = names[key]
        sample = counts.get(item_id, 0)
        counts[item_id] = sample + 1
        outcome, target = _outcome(result, extract, path, at)
        grouped.add(item_id, sample, outcome, target, _covariates(result, path, at), at)
    return grouped.items()


def _results(data: Any, path: Path) -> list[dict[str, Any]]:
    body = data.get("results") if isinstance(data, dict) else None
    rows = body.get("results") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise IngestError(
            f"{where(str(path), None, 'results.results')}: missing; is this the file "
            "`promptfoo eval -o results.json` wrote?"
        )
    if not rows:
        raise IngestError(f"{path}: no results in this file")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise IngestError(f"{where(str(path), f'results[{index}]')}: expected an object")
    return rows


def _case_key(result: dict[str, Any], path: Path, at: str) -> tuple[str, str, str]:
    """(provider, prompt, test): the same test case across its repeats."""
    provider = result.get("provider")
    provider_id = provider.get("id") if isinstance(provider, dict) else provider
    prompt = result.get("prompt")
    prompt_label = prompt.get("label") or prompt.get("raw") if isinstance(prompt, dict) else None
    case = result.get("testCase")
    if not isinstance(case, dict):
        raise IngestError(f"{where(str(path), at, 'testCase')}: missing or not an object")
    description = case.get("description")
    test = description if isinstance(description, str) and description else None
    if test is None:
        test = json.dumps(case.get("vars") or result.get("vars") or {}, sort_keys=True)
    return (str(provider_id or ""), str(prompt_label or result.get("promptIdx", "")), test)


def _item_names(keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """Short item ids: the test alone, with prompt and provider only where they vary."""
    providers = {key[0] for key in keys}
    prompts = {key[1] for key in keys}
    names: dict[tuple[str, str, str], str] = {}
    for key in keys:
        parts = [key[2]]
        if len(prompts) > 1:
            parts.insert(0, key[1])
        if len(providers) > 1:
            parts.insert(0, key[0])
        names[key] = " | ".join(parts)
    return names


def _outcome(
    result: dict[str, Any], extract: Extract | None, path: Path, at: str
) -> tuple[Any, Any]:
    response = result.get("response")
    output = response.get("output") if isinstance(response, dict) else None
    # failureReason 2 is a failed call; 1, a failed assertion, is an outcome like any other
    failed = result.get("failureReason") == 2 or (
        response.get("error") if isinstance(response, dict) else result.get("error")
    )
    grading = result.get("gradingResult")
    if extract is not None:
        target = _equals_target(result.get("testCase") or {})
        return (None if failed else apply_extract(output, extract)), target
    if isinstance(grading, dict):
        verdict = grading.get("pass")
        if not isinstance(verdict, bool):
            raise IngestError(f"{where(str(path), at, 'gradingResult.pass')}: not a boolean")
        return (None if failed and not verdict else verdict), True
    return (None if failed else output), NOTHING


def _equals_target(case: dict[str, Any]) -> Any:
    for assertion in case.get("assert") or []:
        if isinstance(assertion, dict) and assertion.get("type") == "equals":
            value = assertion.get("value")
            return NOTHING if value is None else value
    return NOTHING


def _covariates(result: dict[str, Any], path: Path, at: str) -> dict[str, float]:
    response = result.get("response")
    usage = response.get("tokenUsage") if isinstance(response, dict) else None
    values: dict[str, Any] = {}
    if isinstance(usage, dict):
        values["input_tokens"] = usage.get("prompt")
        values["output_tokens"] = usage.get("completion")
    latency = result.get("latencyMs")
    if isinstance(latency, (int, float)) and not isinstance(latency, bool):
        values["latency_s"] = latency / 1000.0
    return covariate_row(values, path, at)
