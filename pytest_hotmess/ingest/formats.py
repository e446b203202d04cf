"""The one list of formats, in the order a file is tried against them: add a reader here."""

from __future__ import annotations

from .inspect_log import read_inspect, sniff_inspect
from .lm_eval import read_lm_eval, sniff_lm_eval
from .plain import read_plain_csv, read_plain_jsonl, sniff_plain_csv, sniff_plain_jsonl
from .promptfoo import read_promptfoo, sniff_promptfoo
from .reader import Reader

__all__ = ["FORMATS"]

_PLAIN = "any tool (item, sample, outcome[, target])"

FORMATS: dict[str, Reader] = {
    reader.name: reader
    for reader in (
        Reader("inspect", "inspect_ai", sniff_inspect, read_inspect),
        Reader("promptfoo", "promptfoo", sniff_promptfoo, read_promptfoo),
        Reader("lm-eval", "lm-evaluation-harness", sniff_lm_eval, read_lm_eval),
        Reader("jsonl", _PLAIN, sniff_plain_jsonl, read_plain_jsonl),
        Reader("csv", _PLAIN, sniff_plain_csv, read_plain_csv),
    )
}
