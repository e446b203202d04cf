"""The run's record at session end: every test's record pooled, the run described, compared.

One typed ``RunRecord`` is what every report reads (terminal, JUnit, JSON, baseline, HTML).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..config.marker import DEFAULT_CONFIDENCE
from ..config.settings import Settings

if TYPE_CHECKING:
    from ..config.file import HotmessConfig
    from ..results.comparison import Comparison, Regression
    from ..results.records import ModelInfo, RunRecord, RunTotals, SettingValue, TestRecord
    from ..stats.decompose import ItemEstimate

__all__ = ["model_info", "run_record", "settings_in_force"]


def run_record(
    settings: Settings,
    tests: list[TestRecord],
    *,
    transport: str,
    baseline: tuple[Path, RunRecord] | None,
    file_config: HotmessConfig | None = None,
    totals: RunTotals | None = None,
    whole: Callable[[], list[TestRecord]] | None = None,
    bucketed: Callable[[TestRecord], Iterable[tuple[str | None, ItemEstimate]]] | None = None,
) -> RunRecord:
    """The run's totals, metadata and (with a baseline) its comparison and regressions.

    ``tests`` may be slim (no items); then ``totals`` are the run's pooled totals, and
    ``whole`` gives the tests with their items for a baseline comparison and ``bucketed`` a
    test's (bucket, estimate) pairs for the by-model table.
    """
    from ..reports.json_report import created_now
    from ..results.record import model_bucket_rows, pooled_totals
    from ..results.records import RunInfo, RunRecord

    confidence = settings.confidence or DEFAULT_CONFIDENCE
    comparison, found = _compare(settings, tests, baseline, whole)
    info = RunInfo(
        plugin_version=__version__,
        transport=transport,
        model=settings.model or "sim",
        seed=settings.seed,
        record=settings.record,
        replay=settings.replay,
        models=[
            model_info(name, file_config)
            for name in dict.fromkeys([settings.model or "sim", *settings.models])
        ],
        settings=settings_in_force(settings),
    )
    return RunRecord(
        plugin_version=__version__,
        created=created_now(),
        run=info,
        tests=tests,
        totals=totals or pooled_totals(tests, confidence=confidence),
        comparison=comparison,
        regressions=found,
        by_model=(
            model_bucket_rows(tests, settings.models, confidence, items=bucketed)
            if settings.models
            else None
        ),
    )


_SECRET_WORDS = ("key", "token", "secret", "auth", "header", "password", "cookie", "credential")


def _public(params: Mapping[str, object]) -> dict[str, object]:
    """``params`` without anything named like a credential or a header (nested too)."""
    out: dict[str, object] = {}
    for name, value in params.items():
        if any(word in name.lower() for word in _SECRET_WORDS):
            continue
        out[name] = _public(value) if isinstance(value, Mapping) else value
    return out


def model_info(name: str, file_config: HotmessConfig | None) -> ModelInfo:
    """The run's model as hotmess.yaml (or the built-in simulator) describes it, no secrets."""
    from ..models.record_key import public_base_url
    from ..results.records import ModelInfo

    entry = file_config.models.get(name) if file_config is not None else None
    if entry is None:
        return ModelInfo(name=name, provider="sim" if name == "sim" else None)
    if entry.provider == "sim":
        sim = {k: v for k, v in entry.settings.items() if k not in ("name", "dataset")}
        if entry.settings.get("dataset") is not None:  # its file name: the path differs on CI
            sim["dataset"] = Path(str(entry.settings["dataset"])).name
        return ModelInfo(name=name, provider="sim", params=_public(sim))
    model_id, base_url = entry.settings.get("model"), entry.settings.get("base_url")
    return ModelInfo(
        name=name,
        provider=entry.provider,
        model=None if model_id is None else str(model_id),
        base_url=public_base_url(None if base_url is None else str(base_url)),
        params=_public(entry.params),
    )


def settings_in_force(settings: Settings) -> dict[str, SettingValue]:
    """Every run option's resolved value and its source (flag, variable, ini, file, default)."""
    from ..config.settings import OPTIONS
    from ..results.records import SettingValue

    out: dict[str, SettingValue] = {}
    for option in OPTIONS:
        if any(word in option.name for word in _SECRET_WORDS):
            continue
        value = getattr(settings, option.name)
        plain = list(value) if isinstance(value, tuple) else value
        out[option.name] = SettingValue(plain, settings.sources.get(option.name, "default"))
    return out


def _compare(
    settings: Settings,
    tests: list[TestRecord],
    baseline: tuple[Path, RunRecord] | None,
    whole: Callable[[], list[TestRecord]] | None,
) -> tuple[Comparison | None, list[Regression] | None]:
    if baseline is None or not tests:
        return None, None
    tests = whole() if whole is not None else tests
    from ..results.compare_runs import compare_runs, find_regressions
    from ..results.records import RunRecord
    from ..stats.compare import parse_fail_rules

    path, before = baseline
    comparison = compare_runs(
        RunRecord(tests=tests), before, seed=settings.seed, baseline_path=str(path)
    )
    rules = parse_fail_rules(list(settings.compare_fail))
    return comparison, find_regressions(comparison, rules)
