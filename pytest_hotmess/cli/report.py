"""``report``: judge each source as one test and write the same table and files as a run."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from ..config.marker import CoherenceSpec, MarkerError, parse_marker_kwargs
from ..config.settings import Settings
from ..ingest import IngestError
from ..reports.json_report import ReportInput, created_now
from ..reports.terminal import render_details, render_table
from ..reports.writers import WRITERS
from ..results.judge import Judgement, judge_test
from ..results.record import pooled_totals
from ..results.records import RunInfo, RunRecord
from ..sampling.resampler import Resampler, TestState
from ..stats.kinds import KINDS
from .exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .junit_file import write_junit

__all__ = ["regex_extract", "run_report"]

_THRESHOLDS = ("max_incoherence", "max_bias", "max_variance", "max_error")


class _Usage(Exception):
    """An option or source the report cannot use; the message names it."""


def regex_extract(pattern: str) -> Callable[[Any], Any]:
    """The first group of ``pattern`` in a sample's text (or the whole match); None if none."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise _Usage(f"--extract: not a regular expression: {exc}") from None

    def extract(text: Any) -> Any:
        found = compiled.search(str(text)) if text is not None else None
        if found is None:
            return None
        return found.group(1) if compiled.groups else found.group(0)

    return extract


def run_report(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    try:
        spec = _spec(args)
        judgements = [_judge(Path(source), spec, args) for source in args.sources]
    except (_Usage, IngestError, MarkerError) as exc:
        err.write(f"pytest-hotmess report: {exc}\n")
        return EXIT_USAGE
    settings = _settings(args)
    tests = [j.record for j in judgements]
    run = RunRecord(
        plugin_version=__version__,
        created=created_now(),
        run=RunInfo(plugin_version=__version__, transport=None, model="ingested", seed=None),
        tests=tests,
        totals=pooled_totals(tests, confidence=spec.confidence or 0.95),
    )
    for line in render_table(run):
        out.write(line + "\n")
    if args.details:
        for line in render_details(run.tests):
            out.write(line + "\n")
    failures = {j.record.nodeid: j.message for j in judgements if j.message is not None}
    for nodeid, message in failures.items():
        out.write(f"FAILED {nodeid}: {message}\n")
    _write_files(args, run, failures, settings, out)
    return EXIT_FAILED if failures else EXIT_OK


def _spec(args: argparse.Namespace) -> CoherenceSpec:
    if args.kind is not None and args.kind not in KINDS:
        raise _Usage(f"--kind must be one of {', '.join(KINDS)}, got {args.kind!r}")
    values = {name: getattr(args, name) for name in _THRESHOLDS}
    values.update(loss=args.loss, estimator=args.estimator, confidence=args.confidence)
    try:
        return parse_marker_kwargs((), values)
    except MarkerError as exc:
        raise _Usage(f"--{str(exc).replace('_', '-')}") from None


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        json=args.json,
        json_detail=args.json_detail,
        html=args.html,
        details=args.details,
        confidence=args.confidence,
        inconclusive=args.inconclusive,
    )


def _judge(path: Path, spec: CoherenceSpec, args: argparse.Namespace) -> Judgement:
    """One source, read as one test's items and judged by the spec."""
    state = TestState(
        nodeid=str(path),
        samples=0,
        concurrency=1,
        loss=spec.loss,
        estimator=spec.estimator or "unbiased",
        confidence=spec.confidence or 0.95,
        thresholds=spec.thresholds(),
    )
    extract = regex_extract(args.extract) if args.extract else None
    try:
        items = Resampler(state).ingest(path, extract=extract, kind=args.kind, format=args.format)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, IngestError):
            raise
        raise _Usage(f"{path}: {exc}") from None
    state.samples = max((item.k for item in items), default=0)
    return judge_test(str(path), spec, state, _settings(args), by_difficulty=True)


def _write_files(
    args: argparse.Namespace,
    run: RunRecord,
    failures: dict[str, str],
    settings: Settings,
    out: TextIO,
) -> None:
    """The plugin's own writers (JSON, HTML; no baseline here), then the JUnit file."""
    for writer in WRITERS:
        target = getattr(settings, writer.option) if writer.option != "save" else None
        if target:
            writer.write(target, ReportInput(run, detail=settings.json_detail))
            out.write(f"{writer.name}: {target}\n")
    if args.junitxml:
        write_junit(args.junitxml, run, failures)
        out.write(f"JUnit XML: {args.junitxml}\n")
