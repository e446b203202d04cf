"""Per-item state and the spec each test is gated on, merged at collection.

Each test item carries one ``ItemState`` in its stash: its effective spec (markers merged over
the run options and the hotmess.yaml rules for its node id), what it sampled and how it was
judged. A bad spec is a usage error at collection that names the test and the argument.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from ..config.marker import CoherenceSpec, MarkerError, parse_marker_kwargs
from ..config.settings import Settings

if TYPE_CHECKING:
    from ..config.file import HotmessConfig
    from ..results.judge import Judgement
    from ..sampling.resampler import TestState

__all__ = [
    "ITEM_KEY",
    "MARKER_ERROR_PREFIX",
    "ItemState",
    "collect_specs",
    "effective_spec",
    "final_outcome",
    "item_state",
    "marker_spec",
]

MARKER_ERROR_PREFIX = "pytest-hotmess: bad coherence marker"


def final_outcome(previous: str | None, report: pytest.TestReport) -> str:
    """The test's outcome as a user reads it: passed, failed, skipped, xfailed, xpassed, error."""
    if report.when in ("setup", "teardown") and report.failed:
        return "error"
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        return report.outcome
    if report.when == "setup" and report.skipped:
        return "skipped"
    return previous or report.outcome


@dataclasses.dataclass
class ItemState:
    """One test item: its effective spec, what it sampled, and how it was judged."""

    spec: CoherenceSpec | None = None
    marked: bool = False
    state: TestState | None = None
    judgement: Judgement | None = None
    model: str | None = None
    """The model ``--hotmess-models`` gave this test's ``hotmess_model`` (None otherwise)."""


ITEM_KEY = pytest.StashKey[ItemState]()


def item_state(item: pytest.Item) -> ItemState:
    """The item's one state object, made on first use."""
    entry = item.stash.get(ITEM_KEY, None)
    if entry is None:
        entry = item.stash[ITEM_KEY] = ItemState()
    return entry


def marker_spec(item: pytest.Item) -> CoherenceSpec | None:
    """Merge every ``coherence`` marker on the item, the closest one winning per argument."""
    spec: CoherenceSpec | None = None
    for marker in item.iter_markers("coherence"):  # closest first
        parsed = parse_marker_kwargs(marker.args, marker.kwargs)
        spec = parsed if spec is None else spec.merged_over(parsed)
    return spec


def effective_spec(
    item: pytest.Item, file_config: HotmessConfig | None, settings: Settings
) -> CoherenceSpec | None:
    """Marker > command line/ini > the config file's rules for this node id > file defaults."""
    marker = marker_spec(item)
    from_file = file_config.spec_for(item.nodeid) if file_config is not None else None
    if marker is None and from_file is None:
        return None
    spec = (marker or CoherenceSpec()).merged_over(from_file or CoherenceSpec())
    overrides = {}
    for name in ("samples", "confidence", "max_samples", "call_timeout"):
        # a run option given explicitly beats a per-test rule of the file, not the marker
        explicit = name in settings.explicit
        if explicit and (marker is None or getattr(marker, name) is None):
            overrides[name] = getattr(settings, name)
    spec = dataclasses.replace(spec, **overrides) if overrides else spec
    spec.check()  # the merged spec must still make sense (e.g. max_samples >= samples)
    return spec


def collect_specs(
    session: pytest.Session,
    items: list[pytest.Item],
    file_config: HotmessConfig | None,
    settings: Settings,
    *,
    is_worker: bool,
) -> None:
    """Give every item its spec; every bad one is listed in one usage error."""
    problems = []
    for item in items:
        entry = item_state(item)
        entry.marked = item.get_closest_marker("coherence") is not None
        try:
            entry.spec = effective_spec(item, file_config, settings)
        except MarkerError as exc:
            where = "@pytest.mark.coherence: " if entry.marked else ""
            problems.append(f"{item.nodeid}: {where}{exc}")
    if not problems:
        return
    message = MARKER_ERROR_PREFIX + "\n" + "\n".join(problems)
    if is_worker:
        # An exception here would crash the xdist worker after it announced its items;
        # stop the session cleanly instead, and the controller reports the message.
        session.shouldstop = message
        items[:] = []
        return
    raise pytest.UsageError(message)
