"""inspect_ai logs (``.eval`` and ``.json``), read through ``inspect_ai.log.read_eval_log``.

Items are sample ids, samples are epochs. The outcome is the scorer's ``answer`` (with the
sample's target), else its ``value`` (``C``/``I`` and booleans as correct or not, against
``True``; a number variance-only); ``extract`` takes the model's completion text instead.
Token usage becomes covariates. Needs the ``[inspect]`` extra.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..stats.kinds import NOTHING
from .common import Grouped, apply_extract, covariate_row, item_id_text
from .reader import Extract
from .records import IngestedItem, IngestError, where

__all__ = ["read_inspect", "sniff_inspect"]

_CORRECT = {"C": True, "I": False}
_USAGE = ("input_tokens", "output_tokens", "reasoning_tokens", "total_tokens")


def sniff_inspect(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".eval":
        return zipfile.is_zipfile(path)
    if path.suffix.lower() != ".json":
        return False
    return b'"eval"' in head and b'"version"' in head and b'"task"' in head


def read_inspect(path: Path, extract: Extract | None) -> list[IngestedItem]:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise IngestError(
            f"{path}: reading inspect_ai logs needs inspect_ai: "
            "pip install 'pytest-hotmess[inspect]'"
        ) from None
    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # pydantic, zip and JSON errors alike: name the file
        raise IngestError(f"{path}: not a readable inspect_ai log ({_first_line(exc)})") from None
    if not log.samples:
        raise IngestError(f"{path}: the log has no samples (status {log.status!r})")
    grouped = Grouped(path)
    for index, sample in enumerate(log.samples):
        at = f"sample {index} (id {sample.id!r}, epoch {sample.epoch})"
        item_id = item_id_text(sample.id, path, at, "id")
        target = _target(sample.target, path, at)
        if sample.error is not None:
            outcome: Any = None  # the sample errored: an invalid sample, as a failed call
        elif extract is not None:
            outcome = apply_extract(sample.output.completion if sample.output else None, extract)
        else:
            outcome, target = _scored(sample.scores, target, path, at)
        grouped.add(item_id, sample.epoch, outcome, target, _usage(sample, path, at), at)
    return grouped.items()


def _target(target: Any, path: Path, at: str) -> Any:
    if isinstance(target, list):
        if len(target) != 1:
            raise IngestError(
                f"{where(str(path), at, 'target')}: {len(target)} targets; one is needed "
                "to measure bias against"
            )
        target = target[0]
    return NOTHING if target in (None, "") else target


def _scored(scores: Any, target: Any, path: Path, at: str) -> tuple[Any, Any]:
    """The outcome and target from the sample's one scorer."""
    if not scores:
        raise IngestError(f"{where(str(path), at, 'scores')}: the sample was not scored")
    if len(scores) != 1:
        raise IngestError(
            f"{where(str(path), at, 'scores')}: several scorers ({', '.join(scores)}); "
            "pass extract=... to read the completion instead, or log one scorer"
        )
    ((name, score),) = scores.items()
    if score.answer is not None:
        return score.answer, target
    value = score.value
    if isinstance(value, str) and value in _CORRECT:
        return _CORRECT[value], True
    if isinstance(value, bool):
        return value, True
    if isinstance(value, (int, float)):
        return value, NOTHING
    raise IngestError(
        f"{where(str(path), at, f'scores.{name}.value')}: cannot use {value!r} as an outcome "
        "(no answer either); pass extract=... to read the completion"
    )


def _usage(sample: Any, path: Path, at: str) -> dict[str, float]:
    """Token counts summed over the models the sample used."""
    totals: dict[str, Any] = {}
    for usage in (sample.model_usage or {}).values():
        for name in _USAGE:
            value = getattr(usage, name, None)
            if value is not None:
                totals[name] = totals.get(name, 0) + value
    return covariate_row(totals, path, at)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
