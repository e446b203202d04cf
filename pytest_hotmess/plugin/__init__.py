"""pytest glue: options, the ``coherence`` marker, the ``resample`` fixture, gating and reports.

The statistics live in pure modules; this file only moves data between pytest's hooks and them.
Results cross xdist on the call-phase test report (``report.hotmess``, plain builtins only).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .. import __version__
from ..config.marker import (
    DEFAULT_CONFIDENCE,
    MARKER_HELP,
    CoherenceSpec,
    MarkerError,
    parse_marker_kwargs,
)
from ..config.settings import Settings
from ..models.registry import ModelRegistry, UnknownModelError
from ..reports.baseline import BaselineError, baseline_path, load_baseline
from ..reports.progress import LiveProgress
from ..sampling.budget import Budget, Prices
from .options import add_options, read_settings
from .run import HotmessSession

# pytest loads this plugin in every run, with or without a coherence test. Only what
# configuration and collection need is imported above (no numpy, scipy, HTTP client or YAML);
# the engine, the model clients, the config file reader and the reports are imported inside
# the hooks and fixtures that use them, on first use.
if TYPE_CHECKING:
    from ..config.file import HotmessConfig
    from ..models.recording import Recording
    from ..sampling.completion import Model
    from ..sampling.resampler import Resampler, TestState
    from ..stats.compare import Rule

SETTINGS_KEY = pytest.StashKey[Settings]()
SESSION_KEY = pytest.StashKey[HotmessSession]()
SPEC_KEY = pytest.StashKey["CoherenceSpec | None"]()
STATE_KEY = pytest.StashKey["TestState"]()
RECORD_KEY = pytest.StashKey[dict[str, Any]]()
MARKED_KEY = pytest.StashKey[bool]()
FILE_CONFIG_KEY = pytest.StashKey["HotmessConfig | None"]()
REGISTRY_KEY = pytest.StashKey[ModelRegistry]()
RECORD_PARTS_KEY = pytest.StashKey[list[str]]()
RUN_BUDGET_KEY = pytest.StashKey[Budget]()
BASELINE_KEY = pytest.StashKey[tuple[Path, dict[str, Any]]]()
WRITE_ERRORS_KEY = pytest.StashKey[list[str]]()
COMPARISON_KEY = pytest.StashKey[tuple[dict[str, Any], list[dict[str, Any]]]]()
MARKER_ERROR_KEY = pytest.StashKey[bool]()

MARKER_ERROR_PREFIX = "pytest-hotmess: bad coherence marker"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- configuration -------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    file_config = _load_file_config(config, read_settings(config).config)
    settings = read_settings(config, file_config.file_values() if file_config else None)
    config.stash[SETTINGS_KEY] = settings
    config.stash[FILE_CONFIG_KEY] = file_config
    config.stash[SESSION_KEY] = HotmessSession(confidence=settings.confidence or DEFAULT_CONFIDENCE)
    config.stash[REGISTRY_KEY] = _model_registry(settings, file_config)
    config.stash[RUN_BUDGET_KEY] = _run_budget(config, settings, file_config)
    if settings.compare and not _is_worker(config):
        try:
            config.stash[BASELINE_KEY] = load_baseline(settings.compare, _baseline_dir(config))
        except BaselineError as exc:
            raise pytest.UsageError(
                f"pytest-hotmess: {settings.sources['compare']}: {exc}"
            ) from None
    if settings.save:
        try:
            baseline_path(settings.save, _baseline_dir(config))
        except BaselineError as exc:
            raise pytest.UsageError(f"pytest-hotmess: {settings.sources['save']}: {exc}") from None
    if settings.compare_fail and not settings.compare:
        raise pytest.UsageError(
            "pytest-hotmess: --hotmess-compare-fail needs a baseline (--hotmess-compare NAME)"
        )


def _run_budget(
    config: pytest.Config, settings: Settings, file_config: HotmessConfig | None
) -> Budget:
    """The run's call and cost budget; under xdist each worker gets an equal share."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    prices = None
    model = settings.model  # hotmess.yaml's defaults.model arrives here too
    entry = file_config.models.get(model) if file_config and model else None
    if entry is not None and entry.prices:
        prices = Prices(entry.prices.get("input_price", 0.0), entry.prices.get("output_price", 0.0))
    if settings.max_cost is not None and prices is None:
        raise pytest.UsageError(
            f"pytest-hotmess: {settings.sources['max_cost']}: a cost budget needs token prices; "
            f"add input_price/output_price to the model entry {model or 'sim'!r} in hotmess.yaml"
        )
    return Budget(
        # an equal share per worker, rounded up so that no worker gets nothing
        max_calls=None if settings.max_run_calls is None else -(-settings.max_run_calls // workers),
        max_cost=None if settings.max_cost is None else settings.max_cost / workers,
        prices=prices,
        label="run",
    )


def _load_file_config(config: pytest.Config, path: str | None) -> HotmessConfig | None:
    """``--hotmess-config``/``hotmess_config``, else ``hotmess.yaml`` at the rootdir if present."""
    if path is None:
        default = config.rootpath / "hotmess.yaml"
        if not default.is_file():
            return None
        path = str(default)
    elif not Path(path).is_file():
        raise pytest.UsageError(f"pytest-hotmess: configuration file not found: {path}")
    from ..config.file import ConfigError, load_config  # YAML: only when there is a file to read
    from ..models.providers import provider_names

    try:
        return load_config(path, providers=provider_names())
    except ConfigError as exc:
        raise pytest.UsageError(f"pytest-hotmess: {exc}") from None


def _model_registry(settings: Settings, file_config: HotmessConfig | None) -> ModelRegistry:
    if settings.record and settings.replay:
        raise pytest.UsageError(
            "pytest-hotmess: --hotmess-record and --hotmess-replay cannot be used together "
            f"(record from {settings.sources['record']}, replay from {settings.sources['replay']})"
        )
    record: Recording | None = None
    replay: Recording | None = None
    if settings.record:
        from ..models.recording import Recording

        record = Recording()
    elif settings.replay:
        from ..models.recording import Recording, RecordingFormatError

        try:
            replay = Recording.load(settings.replay)
        except FileNotFoundError:
            raise pytest.UsageError(
                f"pytest-hotmess: recording to replay not found: {settings.replay}"
            ) from None
        except RecordingFormatError as exc:
            raise pytest.UsageError(f"pytest-hotmess: {exc}") from None
    from ..config.settings import SettingsError

    try:
        registry = ModelRegistry(
            file_config,
            seed=settings.seed,
            record=record,
            replay=replay,
            transport=settings.transport,
            transport_source=settings.sources.get("transport", "transport"),
        )
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-hotmess: {exc}") from None
    if settings.model is not None and settings.model not in registry.names():
        raise pytest.UsageError(
            f"pytest-hotmess: {settings.sources['model']}: unknown model {settings.model!r}; "
            f"known models: {', '.join(registry.names())}"
        )
    return registry


def pytest_unconfigure(config: pytest.Config) -> None:
    registry = config.stash.get(REGISTRY_KEY, None)
    if registry is not None:
        registry.close()


def _marker_spec(item: pytest.Item) -> CoherenceSpec | None:
    """Merge every ``coherence`` marker on the item, the closest one winning per argument."""
    spec: CoherenceSpec | None = None
    for marker in item.iter_markers("coherence"):  # closest first
        parsed = parse_marker_kwargs(marker.args, marker.kwargs)
        spec = parsed if spec is None else spec.merged_over(parsed)
    return spec


def _effective_spec(item: pytest.Item) -> CoherenceSpec | None:
    """Marker > command line/ini > the config file's rules for this node id > file defaults."""
    marker = _marker_spec(item)
    file_config = item.config.stash[FILE_CONFIG_KEY]
    rules = file_config.thresholds_for(item.nodeid) if file_config is not None else {}
    if marker is None and not rules:
        return None
    try:
        from_file = parse_marker_kwargs((), rules)
    except MarkerError as exc:
        raise MarkerError(f"hotmess.yaml thresholds for this test: {exc}") from None
    spec = (marker or CoherenceSpec()).merged_over(from_file)
    settings = item.config.stash[SETTINGS_KEY]
    overrides = {}
    for name in ("samples", "confidence", "max_samples"):
        # a run option given explicitly beats a per-test rule of the file, not the marker
        if name in settings.explicit and (marker is None or getattr(marker, name) is None):
            overrides[name] = getattr(settings, name)
    spec = dataclasses.replace(spec, **overrides) if overrides else spec
    spec.check()  # the merged spec must still make sense (e.g. max_samples >= samples)
    return spec


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    problems = []
    for item in items:
        item.stash[MARKED_KEY] = item.get_closest_marker("coherence") is not None
        try:
            item.stash[SPEC_KEY] = _effective_spec(item)
        except MarkerError as exc:
            where = "@pytest.mark.coherence: " if item.stash[MARKED_KEY] else ""
            problems.append(f"{item.nodeid}: {where}{exc}")
    if problems:
        message = MARKER_ERROR_PREFIX + "\n" + "\n".join(problems)
        if _is_worker(config):
            # An exception here would crash the xdist worker after it announced its items; stop
            # the session cleanly instead, and the controller reports the message.
            session.shouldstop = message  # the controller turns this into a usage error
            items[:] = []
            return
        raise pytest.UsageError(message)


# -- the fixture ---------------------------------------------------------------------------


def _progress_factory(config: pytest.Config, item: pytest.Item) -> Any:
    """A live progress line on an interactive, non-quiet, non-worker terminal; else nothing."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if terminal is None or _is_worker(config) or config.get_verbosity() < 0:
        return None
    if not getattr(terminal, "isatty", False):
        return None

    def write(text: str) -> None:
        if capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write(text, flush=True)
        else:
            terminal.write(text, flush=True)

    def make(planned: int) -> LiveProgress:
        return LiveProgress(item.name, planned, write)

    return make


def _state(item: pytest.Item) -> TestState:
    state = item.stash.get(STATE_KEY, None)
    if state is None:
        from ..sampling.resampler import TestState

        settings = item.config.stash[SETTINGS_KEY]
        spec = item.stash.get(SPEC_KEY, None) or CoherenceSpec()
        state = TestState(
            nodeid=item.nodeid,
            samples=spec.samples or settings.samples,
            concurrency=settings.concurrency,
            loss=spec.loss,
            estimator=spec.estimator or "unbiased",
            confidence=spec.confidence or settings.confidence or DEFAULT_CONFIDENCE,
            thresholds=spec.thresholds(),
            max_samples=spec.max_samples or settings.max_samples,
            budget=Budget(
                max_calls=settings.max_calls,
                prices=item.config.stash[RUN_BUDGET_KEY].prices,
                parent=item.config.stash[RUN_BUDGET_KEY],
                label="test",
            ),
            progress=_progress_factory(item.config, item),
        )
        item.stash[STATE_KEY] = state
    return state


@pytest.fixture
def resample(request: pytest.FixtureRequest) -> Resampler:
    """Sample a model K times per item; gated when the test has a ``coherence`` marker."""
    from ..sampling.resampler import Resampler

    return Resampler(_state(request.node))


@pytest.fixture
def hotmess_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed (``--hotmess-seed``), for seeding simulated models of your own."""
    return request.config.stash[SETTINGS_KEY].seed


@pytest.fixture
def hotmess_model(request: pytest.FixtureRequest) -> Model:
    """The model chosen by ``--hotmess-model``: built once per run, simulated by default."""
    config = request.config
    name = config.stash[SETTINGS_KEY].model
    try:
        return config.stash[REGISTRY_KEY].get(name)
    except (UnknownModelError, ValueError) as exc:  # a ModelConfigError is a ValueError
        problem = str(exc)
    pytest.fail(f"pytest-hotmess: cannot build model {name or 'sim'!r}: {problem}", pytrace=False)


# -- gating inside the call phase -------------------------------------------------------------


def _finish(item: pytest.Item, body_raised: bool = False) -> str | None:
    """Build the test's record; return a failure message when the gate (or usage) fails it.

    When the body raised (failed, skipped, xfailed) its own outcome stands: a record is kept
    only for what was sampled, and an empty test is not called a failure.
    """
    spec = item.stash.get(SPEC_KEY, None)
    state = item.stash.get(STATE_KEY, None)
    if spec is None and (state is None or not state.used):
        return None
    if state is None or not state.items:
        if body_raised or not item.stash.get(MARKED_KEY, False):
            return None
        state = _state(item)  # an empty record still shows the test in every report
        exhausted = state.budget.exhausted if state.budget is not None else None
        message = (
            f"coherence test recorded no samples: {exhausted} before it drew any"
            if exhausted
            else "coherence test recorded no samples: call the `resample` fixture "
            "(resample(...), resample.map(...) or resample.record(...)) in the test"
        )
        item.stash[RECORD_KEY] = _record(item, note=message, verdict_override="fail")
        return message
    record = _record(item)
    item.stash[RECORD_KEY] = record
    return record["message"] if record["fails"] else None


def _record(
    item: pytest.Item, note: str | None = None, verdict_override: str | None = None
) -> dict[str, Any]:
    from ..results.judge import judge_test

    return judge_test(
        item.nodeid,
        item.stash.get(SPEC_KEY, None) or CoherenceSpec(),
        item.stash[STATE_KEY],
        item.config.stash[SETTINGS_KEY],
        note=note,
        verdict_override=verdict_override,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    try:
        result = yield
    except BaseException:
        _finish(item, body_raised=True)  # the body's own outcome takes precedence
        _attach_properties(item)
        raise
    message = _finish(item)
    _attach_properties(item)
    if message is not None:
        pytest.fail(message, pytrace=False)
    return result


def _attach_properties(item: pytest.Item) -> None:
    record = item.stash.get(RECORD_KEY, None)
    if record is not None:
        from ..reports.junit import testcase_properties

        kept: list[tuple[str, object]] = [
            (k, v) for k, v in item.user_properties if not str(k).startswith("hotmess.")
        ]
        item.user_properties[:] = [*kept, *testcase_properties(record)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # A rerun (pytest-rerunfailures) runs the same item again: start from nothing.
    if STATE_KEY in item.stash:
        del item.stash[STATE_KEY]
    if RECORD_KEY in item.stash:
        del item.stash[RECORD_KEY]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        state = item.stash.get(STATE_KEY, None)
        if state is not None:
            state.close()  # the test's thread pool and event loop


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call":
        record = item.stash.get(RECORD_KEY, None)
        if record is not None:
            payload = {k: v for k, v in record.items() if k != "fails"}
            report.hotmess = payload  # type: ignore[attr-defined]
    return report


# -- end of run: reports ----------------------------------------------------------------------


class _RunObserver:
    """Per-run hooks that need the config: registered at session start."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On the controller this includes the reports replayed from xdist workers, which
        # carry each test's record.
        self.config.stash[SESSION_KEY].observe(report)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Under xdist a worker's bad-marker stop reaches the controller as an interruption.
        if str(excinfo.value).startswith(MARKER_ERROR_PREFIX):
            self.config.stash[MARKER_ERROR_KEY] = True


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    config.pluginmanager.register(_RunObserver(config), "hotmess-observer")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    _save_recording(config)
    if _is_worker(config):
        return
    if config.stash.get(MARKER_ERROR_KEY, False):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR  # an xdist worker found a bad marker
    hotmess = config.stash[SESSION_KEY]
    settings = config.stash[SETTINGS_KEY]
    if not hotmess.records and not settings.json:
        return  # nothing was gated and no report was asked for: nothing to total or write
    from ..reports.json_report import build_report, write_json_atomic
    from ..reports.junit import suite_properties

    totals = hotmess.totals()
    if hotmess.records:
        _add_junit_suite_properties(config, suite_properties(totals))
    report = build_report(hotmess.tests(), totals, plugin_version=__version__, exitstatus=None)
    baseline = config.stash.get(BASELINE_KEY, None)
    if baseline is not None and hotmess.records:
        from ..stats.compare import compare_reports, regressions

        path, data = baseline
        comparison = compare_reports(report, data, seed=settings.seed)
        comparison["baseline_path"] = str(path)
        found = regressions(comparison, [_rule(text) for text in settings.compare_fail])
        report["comparison"] = comparison
        report["regressions"] = found
        config.stash[COMPARISON_KEY] = (comparison, found)
        if found and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    report["exitstatus"] = int(session.exitstatus)
    writes: list[tuple[str, Callable[[], object]]] = []
    if settings.json:  # written even when nothing was gated, so no stale report survives
        writes.append((settings.json, functools.partial(write_json_atomic, settings.json, report)))
    if settings.save and hotmess.records:
        target = baseline_path(settings.save, _baseline_dir(config))
        writes.append((str(target), functools.partial(write_json_atomic, target, report)))
    if settings.html and hotmess.records:
        writes.append((settings.html, functools.partial(_write_html, settings.html, report)))
    failed = []
    for where, write in writes:
        try:
            write()
        except OSError as exc:
            failed.append(f"pytest-hotmess: could not write {where}: {exc}")
    if failed:
        config.stash[WRITE_ERRORS_KEY] = failed
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _rule(text: str) -> Rule:
    from ..stats.compare import parse_fail_rules

    return parse_fail_rules([text])[0]


def _baseline_dir(config: pytest.Config) -> Path:
    folder = config.stash[SETTINGS_KEY].baseline_dir
    return Path(folder) if folder else config.rootpath / ".hotmess"


def _write_html(path: str, report: dict[str, Any]) -> None:
    from ..config.atomic import write_atomic
    from ..reports.html import render_html

    tests = report["tests"]
    page = render_html(
        report,
        comparison=report.get("comparison"),
        length={t["nodeid"]: t["length"] for t in tests if t.get("length")},
        ensembles={t["nodeid"]: t["ensembles"] for t in tests if t.get("ensembles")},
    )
    write_atomic(path, page.encode("utf-8"))


def _save_recording(config: pytest.Config) -> None:
    """Workers save a part file and announce it; the controller merges the parts into PATH."""
    settings = config.stash[SETTINGS_KEY]
    recording = config.stash[REGISTRY_KEY].record
    if recording is None or settings.record is None:
        return
    from ..models.recording import Recording

    if _is_worker(config):
        worker = config.workerinput["workerid"]  # type: ignore[attr-defined]
        saved = recording.save(f"{settings.record}.{worker}.part")
        config.workeroutput["hotmess_record_part"] = str(saved)  # type: ignore[attr-defined]
        return
    parts = config.stash.get(RECORD_PARTS_KEY, [])
    merged = Recording()
    conflicts = merged.merge([recording, *(Recording.load(part) for part in parts)])
    merged.save(settings.record)
    for part_path in parts:
        Path(part_path).unlink(missing_ok=True)
    if conflicts:
        config.issue_config_time_warning(
            pytest.PytestWarning(
                f"pytest-hotmess: {len(conflicts)} sample(s) were recorded twice with different "
                f"answers; kept one of each: {'; '.join(conflicts[:3])}"
            ),
            stacklevel=2,
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: collect each worker's recording part file on the controller."""
    part = getattr(node, "workeroutput", {}).get("hotmess_record_part")
    if part:
        node.config.stash.setdefault(RECORD_PARTS_KEY, []).append(part)


def _add_junit_suite_properties(config: pytest.Config, props: list[tuple[str, str]]) -> None:
    """Suite-level properties go to the junitxml plugin object of this (controller) process."""
    for plugin in config.pluginmanager.get_plugins():
        add = getattr(plugin, "add_global_property", None)
        if add is not None and callable(add):
            for name, value in props:
                add(name, value)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _is_worker(config):
        return
    for problem in config.stash.get(WRITE_ERRORS_KEY, []):
        terminalreporter.write_line(problem, red=True)
    hotmess = config.stash[SESSION_KEY]
    if not hotmess.records:
        return
    from ..reports.terminal import render_comparison, render_details, render_table

    terminalreporter.write_sep("=", "hotmess coherence")
    for line in render_table(hotmess.tests(), hotmess.totals()):
        terminalreporter.write_line(line)
    settings = config.stash[SETTINGS_KEY]
    if settings.details:
        terminalreporter.write_sep("-", "hotmess details")
        for line in render_details(hotmess.tests()):
            terminalreporter.write_line(line)
    compared = config.stash.get(COMPARISON_KEY, None)
    if compared is not None:
        terminalreporter.write_sep("-", "hotmess baseline comparison")
        for line in render_comparison(*compared):
            terminalreporter.write_line(line, red=line.startswith("REGRESSION"))
    for label, path in (("JSON report", settings.json), ("HTML report", settings.html)):
        if path:
            terminalreporter.write_line(f"{label}: {path}")
    if settings.save:
        saved = baseline_path(settings.save, _baseline_dir(config))
        terminalreporter.write_line(f"baseline saved: {saved}")
