"""The run object behind the hooks: settings, models, per-test records and the reports.

``HotmessRun`` is built at configure time and stashed once on the config; every hook hands off
to it. Per-item state lives in one ``ItemState`` per test item. Heavy modules (numpy, scipy,
HTTP clients, YAML) are imported inside the methods that need them, on first use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .. import __version__
from ..config.marker import DEFAULT_CONFIDENCE, CoherenceSpec, MarkerError, parse_marker_kwargs
from ..config.settings import Settings, SettingsError
from ..models.registry import ModelRegistry
from ..reports.baseline import BaselineError, baseline_path, load_baseline
from ..reports.progress import LiveProgress
from ..sampling.budget import Budget, Prices
from .options import read_settings

if TYPE_CHECKING:
    from ..config.file import HotmessConfig
    from ..models.recording import Recording
    from ..results.comparison import Comparison, Regression
    from ..results.judge import Judgement
    from ..results.records import RunRecord, TestRecord
    from ..sampling.resampler import TestState

__all__ = [
    "ITEM_KEY",
    "MARKER_ERROR_PREFIX",
    "RUN_KEY",
    "HotmessRun",
    "ItemState",
    "final_outcome",
    "hotmess_run",
    "item_state",
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


RUN_KEY = pytest.StashKey["HotmessRun"]()
ITEM_KEY = pytest.StashKey[ItemState]()


def hotmess_run(config: pytest.Config) -> HotmessRun:
    return config.stash[RUN_KEY]


def item_state(item: pytest.Item) -> ItemState:
    """The item's one state object, made on first use."""
    entry = item.stash.get(ITEM_KEY, None)
    if entry is None:
        entry = item.stash[ITEM_KEY] = ItemState()
    return entry


def _sampling_error(state: TestState | None, raised: BaseException | None) -> Exception | None:
    """The error ``resample`` raised, if the test's own exception is it or was caused by it."""
    if state is None or state.error is None:
        return None
    seen: set[int] = set()
    while raised is not None and id(raised) not in seen:
        if raised is state.error:
            return state.error
        seen.add(id(raised))
        raised = raised.__cause__ or raised.__context__
    return None


def _first_line(error: BaseException, limit: int = 300) -> str:
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _usage_error(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"pytest-hotmess: {message}")


class HotmessRun:
    """Everything one pytest run does for pytest-hotmess, in the order the hooks call it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        early = read_settings(config)
        self.file_config = self._load_file_config(early.config, early.sources.get("config"))
        values = self.file_config.file_values() if self.file_config else None
        self.settings: Settings = read_settings(config, values)
        self.record_base: Recording | None = None
        """The recording file as it was at configure time (controller or single process)."""
        self.record_parts: list[str] = []
        self.record_unwritten: list[bytes] = []
        self.record_notes: list[tuple[str, bool]] = []
        self.registry = self._model_registry()
        self.budget = self._run_budget()
        self.baseline: tuple[Path, RunRecord] | None = None
        self.records: dict[str, TestRecord] = {}
        self.outcomes: dict[str, str] = {}
        self.write_errors: list[str] = []
        self.written: list[tuple[str, str]] = []
        """(what, where) of each report file this run wrote: the summary names only these."""
        self.marker_error = False
        self.result: RunRecord | None = None
        self._check_baselines()

    # -- configuration -----------------------------------------------------------------------

    @property
    def baseline_dir(self) -> Path:
        folder = self.settings.baseline_dir
        return Path(folder) if folder else self.config.rootpath / ".hotmess"

    def _load_file_config(self, path: str | None, source: str | None) -> HotmessConfig | None:
        """``--hotmess-config``/``hotmess_config``, else ``hotmess.yaml`` at the rootdir.

        Anything named ``hotmess.yaml`` there is read: a directory (or a dangling link) in its
        place is an error naming it, never silently a run without the file.
        """
        if path is None:
            default = self.config.rootpath / "hotmess.yaml"
            if not (default.exists() or default.is_symlink()):
                return None
            path = str(default)
        elif not Path(path).exists():
            raise _usage_error(f"{source or 'config'}: configuration file not found: {path}")
        from ..config.file import ConfigError, load_config  # YAML: only with a file to read
        from ..models.providers import provider_names

        try:
            return load_config(path, providers=provider_names())
        except ConfigError as exc:
            raise _usage_error(str(exc)) from None

    def _model_registry(self) -> ModelRegistry:
        settings, sources = self.settings, self.settings.sources
        if settings.record and settings.replay:
            raise _usage_error(
                "--hotmess-record and --hotmess-replay cannot be used together "
                f"(record from {sources['record']}, replay from {sources['replay']})"
            )
        record: Recording | None = None
        replay: Recording | None = None
        if settings.record:
            record = self._open_recording(settings.record)
        elif settings.replay:
            from ..models.recording import Recording, RecordingFormatError

            try:
                replay = Recording.load(settings.replay)
            except FileNotFoundError:
                raise _usage_error(f"recording to replay not found: {settings.replay}") from None
            except RecordingFormatError as exc:
                raise _usage_error(str(exc)) from None
        try:
            registry = ModelRegistry(
                self.file_config,
                seed=settings.seed,
                record=record,
                replay=replay,
                transport=settings.transport,
                transport_source=settings.sources.get("transport", "transport"),
            )
        except SettingsError as exc:
            raise _usage_error(str(exc)) from None
        if settings.model is not None and settings.model not in registry.names():
            raise _usage_error(
                f"{sources['model']}: unknown model {settings.model!r}; "
                f"known models: {', '.join(registry.names())}"
            )
        return registry

    def _open_recording(self, path: str) -> Recording:
        """The store answers are recorded into; the file is checked and read now, not at the end.

        In ``merge`` mode the store is the file's content (recorded answers are reused); in
        ``overwrite`` mode it starts empty and replaces the answers it gets at session end. An
        xdist worker also appends every new answer to its part file as it arrives.
        """
        from ..models.recording import Recording, RecordingFormatError

        source = self.settings.sources.get("record", "--hotmess-record")
        target = Path(path)
        if not self.is_worker:
            problem = _write_problem(target)
            if problem is not None:
                raise _usage_error(f"{source}: cannot write the recording {path}: {problem}")
        base = Recording(target)
        if target.exists():
            try:
                base = Recording.load(target)
            except RecordingFormatError as exc:
                raise _usage_error(
                    f"{source}: {exc}; recording adds to this file: repair or move it"
                ) from None
            except OSError as exc:
                raise _usage_error(f"{source}: cannot read the recording {path}: {exc}") from None
        store = base if self.settings.record_mode == "merge" else Recording(target)
        if self.is_worker:
            worker = self.config.workerinput["workerid"]  # type: ignore[attr-defined]
            store.journal_to(f"{path}.{worker}.part")
        else:
            self.record_base = base
        return store

    def _run_budget(self) -> Budget:
        """The run's call and cost budget; under xdist each worker gets an equal share."""
        settings, model = self.settings, self.settings.model
        workers = int(getattr(self.config, "workerinput", {}).get("workercount", 1))
        entry = self.file_config.models.get(model) if self.file_config and model else None
        prices = None
        if entry is not None and entry.prices:
            prices = Prices(
                entry.prices.get("input_price", 0.0), entry.prices.get("output_price", 0.0)
            )
        if settings.max_cost is not None and prices is None:
            raise _usage_error(
                f"{settings.sources['max_cost']}: a cost budget needs token prices; add "
                f"input_price/output_price to the model entry {model or 'sim'!r} in hotmess.yaml"
            )
        calls, retries, wait = settings.max_run_calls, settings.max_retries, settings.max_retry_wait
        return Budget(
            # an equal share per worker, rounded up so that no worker gets nothing
            max_calls=None if calls is None else -(-calls // workers),
            max_cost=None if settings.max_cost is None else settings.max_cost / workers,
            max_retries=None if retries is None else -(-retries // workers),
            max_retry_wait=None if wait is None else wait / workers,
            prices=prices,
            label="run",
        )

    def _check_baselines(self) -> None:
        settings = self.settings
        try:
            if settings.compare and not self.is_worker:
                self.baseline = load_baseline(settings.compare, self.baseline_dir)
        except BaselineError as exc:
            raise _usage_error(f"{settings.sources['compare']}: {exc}") from None
        try:
            if settings.save:
                baseline_path(settings.save, self.baseline_dir)
        except BaselineError as exc:
            raise _usage_error(f"{settings.sources['save']}: {exc}") from None
        if settings.compare_fail and not settings.compare:
            raise _usage_error("--hotmess-compare-fail needs a baseline (--hotmess-compare NAME)")

    # -- collection --------------------------------------------------------------------------

    def _marker_spec(self, item: pytest.Item) -> CoherenceSpec | None:
        """Merge every ``coherence`` marker on the item, the closest one winning per argument."""
        spec: CoherenceSpec | None = None
        for marker in item.iter_markers("coherence"):  # closest first
            parsed = parse_marker_kwargs(marker.args, marker.kwargs)
            spec = parsed if spec is None else spec.merged_over(parsed)
        return spec

    def effective_spec(self, item: pytest.Item) -> CoherenceSpec | None:
        """Marker > command line/ini > the config file's rules for this node id > file defaults."""
        marker = self._marker_spec(item)
        file_config = self.file_config
        rules = file_config.thresholds_for(item.nodeid) if file_config is not None else {}
        if marker is None and not rules:
            return None
        try:
            from_file = parse_marker_kwargs((), rules)
        except MarkerError as exc:
            raise MarkerError(f"hotmess.yaml thresholds for this test: {exc}") from None
        spec = (marker or CoherenceSpec()).merged_over(from_file)
        overrides = {}
        for name in ("samples", "confidence", "max_samples", "call_timeout"):
            # a run option given explicitly beats a per-test rule of the file, not the marker
            explicit = name in self.settings.explicit
            if explicit and (marker is None or getattr(marker, name) is None):
                overrides[name] = getattr(self.settings, name)
        spec = dataclasses.replace(spec, **overrides) if overrides else spec
        spec.check()  # the merged spec must still make sense (e.g. max_samples >= samples)
        return spec

    def collect(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        problems = []
        for item in items:
            entry = item_state(item)
            entry.marked = item.get_closest_marker("coherence") is not None
            try:
                entry.spec = self.effective_spec(item)
            except MarkerError as exc:
                where = "@pytest.mark.coherence: " if entry.marked else ""
                problems.append(f"{item.nodeid}: {where}{exc}")
        if not problems:
            return
        message = MARKER_ERROR_PREFIX + "\n" + "\n".join(problems)
        if self.is_worker:
            # An exception here would crash the xdist worker after it announced its items;
            # stop the session cleanly instead, and the controller reports the message.
            session.shouldstop = message
            items[:] = []
            return
        raise pytest.UsageError(message)

    # -- one test ----------------------------------------------------------------------------

    def test_state(self, item: pytest.Item, entry: ItemState) -> TestState:
        """The item's sampling state, made on first use (by the fixture or the gate)."""
        if entry.state is None:
            from ..sampling.resampler import TestState

            settings, spec = self.settings, entry.spec or CoherenceSpec()
            entry.state = TestState(
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
                    prices=self.budget.prices,
                    parent=self.budget,
                    label="test",
                ),
                progress=self._progress_factory(item),
                call_timeout=spec.call_timeout or settings.call_timeout,
            )
        return entry.state

    def _progress_factory(self, item: pytest.Item) -> Callable[[int], LiveProgress] | None:
        """A live progress line on an interactive, non-quiet, non-worker terminal; else none."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if terminal is None or self.is_worker or self.config.get_verbosity() < 0:
            return None
        if not getattr(terminal, "isatty", False):
            return None

        def write(text: str) -> None:
            if capture is not None:
                with capture.global_and_fixture_disabled():
                    terminal.write(text, flush=True)
            else:
                terminal.write(text, flush=True)

        return lambda planned: LiveProgress(item.name, planned, write)

    def finish_test(
        self,
        item: pytest.Item,
        entry: ItemState,
        body_raised: bool,
        raised: BaseException | None = None,
    ) -> str | None:
        """Judge the test; return a failure message when the gate (or usage) fails it.

        When the body raised (failed, skipped, xfailed) its own outcome stands: a record is
        kept only for what was sampled, and an empty test is not called a failure. When what
        it raised (``raised``) came from ``resample``, sampling failed: the verdict is
        ``error``, with the calls made and the error's first line, in every report.
        """
        state = entry.state
        if entry.spec is None and (state is None or not state.used):
            return None
        note = override = None
        error = _sampling_error(state, raised) if body_raised else None
        if state is not None and error is not None:
            note, override = f"sampling failed: {_first_line(error)}", "error"
        elif state is None or not state.items:
            if body_raised or not entry.marked:
                return None
            state = self.test_state(item, entry)  # an empty record still shows in every report
            exhausted = state.budget.exhausted if state.budget is not None else None
            note = (
                f"coherence test recorded no samples: {exhausted} before it drew any"
                if exhausted
                else "coherence test recorded no samples: call the `resample` fixture "
                "(resample(...), resample.map(...) or resample.record(...)) in the test"
            )
            override = "fail"
        from ..reports.junit import testcase_properties
        from ..results.judge import judge_test

        spec = entry.spec or CoherenceSpec()
        entry.judgement = judge_test(
            item.nodeid, spec, state, self.settings, note=note, verdict_override=override
        )
        kept = [(k, v) for k, v in item.user_properties if not str(k).startswith("hotmess.")]
        item.user_properties[:] = [*kept, *testcase_properties(entry.judgement.record)]
        return note if override else entry.judgement.message

    def observe(self, report: pytest.TestReport) -> None:
        """Every test report (on the controller, also those replayed from xdist workers)."""
        payload = getattr(report, "hotmess", None)
        if isinstance(payload, Mapping):
            from ..results.records import TestRecord

            self.records[report.nodeid] = TestRecord.from_plain(payload)
        if report.nodeid in self.records or payload is not None:
            previous = self.outcomes.get(report.nodeid)
            self.outcomes[report.nodeid] = final_outcome(previous, report)

    # -- end of run --------------------------------------------------------------------------

    def tests(self) -> list[TestRecord]:
        """Records in a stable order (by node id), each with its final outcome."""
        return [
            self.records[nodeid].with_outcome(self.outcomes.get(nodeid))
            for nodeid in sorted(self.records)
        ]

    def finish(self, session: pytest.Session) -> None:
        """Total, compare and write the reports (controller only); a worker hands over its part.

        The recording is saved later, by :meth:`save_recording`, once xdist's workers are down.
        """
        if self.is_worker:
            self._hand_over_part()
            return
        if self.marker_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR  # an xdist worker found a bad marker
        if not self.records and not self.settings.json:
            return  # nothing was gated and no report was asked for
        self.result = run = self._run_record()
        if self.records:
            from ..reports.junit import suite_properties

            self._add_junit_suite_properties(suite_properties(run.totals))
        if run.regressions and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.result = run = dataclasses.replace(run, exitstatus=int(session.exitstatus))
        from ..reports.writers import planned_writes

        for writer, target in planned_writes(
            self.settings, self.baseline_dir, has_records=bool(self.records)
        ):
            try:
                writer.write(target, run)
            except Exception as exc:  # one failed report must not cost the others
                reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
                where = self.settings.sources.get(writer.option, writer.option)
                self.write_errors.append(
                    f"pytest-hotmess: could not write {writer.name} {target} ({where}): {reason}"
                )
            else:
                self.written.append((writer.name, str(target)))
        if self.write_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _run_record(self) -> RunRecord:
        from ..reports.json_report import created_now
        from ..results.record import pooled_totals
        from ..results.records import RunInfo, RunRecord

        settings, tests = self.settings, self.tests()
        confidence = settings.confidence or DEFAULT_CONFIDENCE
        comparison, found = self._compare(tests)
        info = RunInfo(
            plugin_version=__version__,
            transport=self.registry.transport,
            model=settings.model or "sim",
            seed=settings.seed,
            record=settings.record,
            replay=settings.replay,
        )
        return RunRecord(
            plugin_version=__version__,
            created=created_now(),
            run=info,
            tests=tests,
            totals=pooled_totals(tests, confidence=confidence),
            comparison=comparison,
            regressions=found,
        )

    def _compare(
        self, tests: list[TestRecord]
    ) -> tuple[Comparison | None, list[Regression] | None]:
        if self.baseline is None or not tests:
            return None, None
        from ..results.compare_runs import compare_runs, find_regressions
        from ..results.records import RunRecord
        from ..stats.compare import parse_fail_rules

        path, before = self.baseline
        comparison = compare_runs(
            RunRecord(tests=tests), before, seed=self.settings.seed, baseline_path=str(path)
        )
        rules = parse_fail_rules(list(self.settings.compare_fail))
        return comparison, find_regressions(comparison, rules)

    def _add_junit_suite_properties(self, props: list[tuple[str, str]]) -> None:
        """Suite-level properties go to the junitxml plugin object of this (controller) process."""
        for plugin in self.config.pluginmanager.get_plugins():
            add = getattr(plugin, "add_global_property", None)
            if add is not None and callable(add):
                for name, value in props:
                    add(name, value)

    def _hand_over_part(self) -> None:
        """A worker's end: close its part file and tell the controller about it."""
        recording = self.registry.record
        journal = recording.close_journal() if recording is not None else None
        if journal is None:
            return
        output = self.config.workeroutput  # type: ignore[attr-defined]
        output["hotmess_record_part"] = str(journal.path)
        output["hotmess_record_unwritten"] = list(journal.unwritten)
        output["hotmess_record_error"] = journal.error

    def worker_down(self, output: Mapping[str, Any]) -> None:
        """xdist: a worker finished; note its part file and the answers it could not write."""
        part = output.get("hotmess_record_part")
        if isinstance(part, str):
            self.record_parts.append(part)
        unwritten = output.get("hotmess_record_unwritten") or []
        self.record_unwritten.extend(line.encode("utf-8") for line in unwritten)
        if unwritten:
            error = output.get("hotmess_record_error")
            self.record_notes.append(
                (
                    f"pytest-hotmess: {len(unwritten)} answer(s) could not be written to the "
                    f"part file ({error}); the worker handed them over at its end",
                    True,
                )
            )

    def _part_files(self, path: Path) -> list[Path]:
        """Every worker part of the recording: announced by a worker, or left on disk by one
        that crashed or was interrupted (or by an earlier session that could not merge it)."""
        pattern = re.compile(re.escape(path.name) + r"\.gw\d+\.part")
        found = {Path(part) for part in self.record_parts}
        if path.parent.is_dir():
            found.update(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))
        return sorted(p for p in found if p.is_file())

    def save_recording(self, session: pytest.Session) -> None:
        """Merge this session's answers (and every worker part) into the recording file.

        Runs after xdist has shut its workers down, so that an interrupted worker's last
        answers are in its part. A session with no new answer leaves the file untouched;
        the parts are removed only once the file holding their answers is written.
        """
        store, base, path = self.registry.record, self.record_base, self.settings.record
        if self.is_worker or store is None or base is None or path is None:
            return
        from ..models.recording import Recording

        incoming, lost, read = Recording(), [], []
        sources = [] if store is base else [store]
        for part in self._part_files(Path(path)):
            try:
                found = Recording.read_part(part)
            except OSError as exc:
                lost.append(f"{part}: cannot be read ({exc}); it is left in place")
                continue
            read.append(part)
            sources.append(found.recording)
            lost.extend(found.damaged)
        if self.record_unwritten:
            handed = Recording.read_lines(self.record_unwritten, "answers handed over by workers")
            sources.append(handed.recording)
            lost.extend(handed.damaged)
        conflicts = incoming.merge(sources)
        mode = self.settings.record_mode
        conflicts += base.merge([incoming], prefer="incoming" if mode == "overwrite" else "held")
        new = base.fresh
        if new:
            try:
                base.save(path)
            except OSError as exc:
                kept = f"; the worker parts are kept: {', '.join(map(str, read))}" if read else ""
                self.write_errors.append(
                    f"pytest-hotmess: could not write the recording {path}: {exc}; "
                    f"{new} new answer(s) were not saved{kept}"
                )
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
                return
            self.record_notes.append(
                (f"hotmess recording: {path}: {new} new answer(s), {len(base)} in the file", False)
            )
        for part in read:
            part.unlink(missing_ok=True)
        if lost:
            self.record_notes.append(
                (f"pytest-hotmess: {len(lost)} recorded answer(s) could not be recovered:", True)
            )
            self.record_notes.extend((f"  {problem}", True) for problem in lost)
        if conflicts:
            self.record_notes.append(
                (
                    f"pytest-hotmess: {len(conflicts)} sample(s) were recorded twice with "
                    f"different answers; kept one of each: {'; '.join(conflicts[:3])}",
                    True,
                )
            )

    def summary(self, terminal: Any) -> None:
        """The terminal summary: write problems, the table, details and the comparison."""
        if self.is_worker:
            return
        for problem in self.write_errors:
            terminal.write_line(problem, red=True)
        for note, alarm in self.record_notes:
            terminal.write_line(note, red=alarm)
        run = self.result
        if run is None or not run.tests:
            return
        from ..reports.terminal import render_comparison, render_details, render_table
        from ..results.insights import missing_covariate

        settings = self.settings
        rows = (row for test in run.tests for item in test.items for row in item.covariates)
        unknown = missing_covariate(rows, settings.length_covariate)
        if unknown is not None:
            where = settings.sources.get("length_covariate", "length_covariate")
            terminal.write_line(f"pytest-hotmess: {where}: {unknown}", yellow=True)
        terminal.write_sep("=", "hotmess coherence")
        for line in render_table(run):
            terminal.write_line(line)
        if settings.details:
            terminal.write_sep("-", "hotmess details")
            for line in render_details(run.tests):
                terminal.write_line(line)
        if run.comparison is not None:
            terminal.write_sep("-", "hotmess baseline comparison")
            for line in render_comparison(run.comparison, run.regressions or []):
                terminal.write_line(line, red=line.startswith("REGRESSION"))
        for label, where in self.written:  # only what was written; failures are listed above
            terminal.write_line(
                f"baseline saved: {where}" if label == "baseline" else f"{label}: {where}"
            )


def _write_problem(target: Path) -> str | None:
    """Why ``target`` cannot be written (tried with a temporary file beside it), or None.

    Folders created for the try are removed again: nothing is left behind by a session that
    records nothing.
    """
    if target.is_dir():
        return "it is a folder"
    missing, folder = [], target.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".probe"
        )
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return str(exc)
    finally:
        for created in missing:  # deepest first
            with contextlib.suppress(OSError):
                created.rmdir()
    return None
