"""The JSON report: schema ``pytest-hotmess/1``, strict JSON (null, not NaN), written atomically.

A run's report is streamed: the tests' texts come from the run's spool (``spool.Spool``) or,
for a ``RunRecord`` that holds its tests whole (``python -m pytest_hotmess report``), are laid
out one by one; either way the document is written piece by piece into a temporary file that
replaces the target at the end.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable, Iterable

from ..config.atomic import atomic_text
from ..results.records import SCHEMA, RunRecord
from .json_layout import join_test, split_test, write_document

__all__ = ["SCHEMA", "LaidOutTests", "ReportInput", "created_now", "write_json_atomic"]

LaidOutTests = Callable[[bool], Iterable[str]]
"""The run's tests laid out for the report, in node-id order; the flag: with their items."""


@dataclasses.dataclass(frozen=True)
class ReportInput:
    """What a report writer reads: the run's record and, for the JSON documents, its tests.

    ``run.tests`` may be slim (no items: those stay in the spool); ``texts`` then gives the
    tests as the report writes them. ``detail`` is ``--hotmess-json-detail``.
    """

    run: RunRecord
    detail: str = "samples"
    texts: LaidOutTests | None = None


def created_now() -> str:
    """The creation time; SOURCE_DATE_EPOCH pins it for reproducible reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    else:
        moment = datetime.datetime.now(datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def _laid_out(run: RunRecord, detail: str) -> LaidOutTests:
    level = "samples" if detail == "samples" else "items"

    def texts(with_items: bool) -> Iterable[str]:
        for test in run.tests:
            segments = split_test(test.plain_at(level))
            yield join_test(test.nodeid, test.outcome, segments, with_items=with_items)

    return texts


def write_json_atomic(
    path: str | os.PathLike[str], source: RunRecord | ReportInput, detail: str | None = None
) -> None:
    """The run as strict JSON (``allow_nan=False``), streamed into ``path`` atomically.

    ``detail`` (default: the input's) is how much per-item data goes in: ``tests`` leaves
    out every test's ``items``, ``items`` their samples, ``samples`` nothing.
    """
    given = source if isinstance(source, ReportInput) else ReportInput(source)
    level = detail or given.detail
    texts = given.texts or _laid_out(given.run, level)
    plain = dataclasses.replace(given.run, tests=[], detail=level).to_plain()
    with atomic_text(path) as out:
        write_document(plain, out, texts(level != "tests"))
