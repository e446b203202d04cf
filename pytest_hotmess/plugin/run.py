"""The run object behind the hooks: it composes what configure builds, the items and reports.

``HotmessRun`` is built at configure time and stashed once on the config; every hook hands off
to it. What configure builds is in ``setup``, per-item state and specs in ``items``, the
recording in ``recording``, the run's record in ``totals`` and the terminal summary in
``summary``. Here are the steps of the run itself: one test's sampling state and verdict, the
records of every test, and the reports written at its end. Heavy modules (numpy, scipy, HTTP
clients, YAML) are imported inside the methods that need them, on first use.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..config.marker import DEFAULT_CONFIDENCE, CoherenceSpec
from ..config.settings import Settings
from ..reports.spool import Spool
from ..sampling.budget import Budget
from .items import ItemState, collect_specs, final_outcome
from .junit import junit_family, set_case_properties, write_run_to_junit
from .options import read_settings
from .progress import RunProgress
from .recording import RecordingKeeper
from .setup import baseline_folder, check_baselines, load_file_config, model_registry, run_budget
from .summary import write_summary
from .totals import run_record

if TYPE_CHECKING:
    from ..results.judge import Judgement
    from ..results.kept import KeptItems
    from ..results.records import RunRecord, TestRecord
    from ..results.settle import PendingBound
    from ..sampling.callables import CallRecorder
    from ..sampling.resampler import TestState

__all__ = ["RUN_KEY", "HotmessRun", "hotmess_run"]


RUN_KEY = pytest.StashKey["HotmessRun"]()

_SETTLE_EVERY = 64
"""Tests whose intervals wait to be solved together (``results.settle``): enough to pay
numpy's per-call overhead once for many, few enough that their items take little memory."""

_ON_REPORT = ("nodeid", "verdict", "message")
"""What a test report keeps of its record once the run has read it (pytest keeps reports)."""


def _on_report(record: TestRecord) -> dict[str, Any]:
    """``report.hotmess`` once the run has the record: the summary a report keeps."""
    return {"nodeid": record.nodeid, "verdict": record.verdict, "message": record.message}


def hotmess_run(config: pytest.Config) -> HotmessRun:
    """The run object that configure stashed on this config."""
    return config.stash[RUN_KEY]


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


def _covariate_names(record: TestRecord) -> set[str]:
    return {name for item in record.items for row in item.covariates for name in row}


_PLUGIN_FIXTURES = frozenset({"resample", "hotmess_model"})


def uses_plugin(item: pytest.Item, entry: ItemState) -> bool:
    """Marked, sampled, or asking for a fixture that samples: the test belongs in the reports."""
    if entry.spec is not None or (entry.state is not None and entry.state.used):
        return True
    return not _PLUGIN_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def _is_failure(raised: BaseException | None) -> bool:
    """A failed (or erroring) body; not a skip, an xfail, an exit or an interrupt."""
    if isinstance(raised, (pytest.skip.Exception, pytest.xfail.Exception)):
        return False
    return isinstance(raised, (Exception, pytest.fail.Exception))


def _nothing_drawn(state: TestState, marked: bool, *, failed: bool) -> tuple[str, str | None]:
    """The note of a test that drew nothing, and its verdict override ("fail" when marked)."""
    exhausted = state.budget.exhausted if state.budget is not None else None
    if failed:
        why = "the test failed before it drew any"
    elif exhausted:
        why = f"{exhausted} before it drew any"
    else:
        why = (
            "call the `resample` fixture (resample(...), resample.map(...) or "
            "resample.record(...)) in the test"
        )
    prefix = "coherence test recorded no samples" if marked else "no samples recorded"
    return f"{prefix}: {why}", "fail" if marked else None


class HotmessRun:
    """Everything one pytest run does for pytest-hotmess, in the order the hooks call it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        early = read_settings(config)
        self.file_config = load_file_config(config, early.config, early.sources.get("config"))
        values = self.file_config.file_values() if self.file_config else None
        self.settings: Settings = read_settings(config, values)
        self.recording = RecordingKeeper(config, self.settings)
        self.registry = model_registry(self.settings, self.file_config, self.recording)
        self.budget = run_budget(config, self.settings, self.file_config)
        self.baseline_dir: Path = baseline_folder(config, self.settings)
        self.baseline = check_baselines(self.settings, self.baseline_dir, is_worker=self.is_worker)
        self.progress = RunProgress(
            config, self.settings.progress_interval, is_worker=self.is_worker
        )
        self.records: dict[str, TestRecord] = {}
        """Each test's record without its items: those are in ``spool`` and ``kept``."""
        self._handed: dict[tuple[str, str], Judgement] = {}
        """Tests judged in this process, by (node id, phase), until their report is logged."""
        self._waiting: dict[str, Judgement] = {}
        """Tests whose intervals are still to solve, by node id (``_settle``)."""
        self._waiting_plain: dict[str, tuple[dict[str, Any], tuple[PendingBound, ...]]] = {}
        """The same for records that came from xdist workers as plain data."""
        self._kept: KeptItems | None = None
        self.spool = Spool()
        self.spooling = bool(self.settings.json or self.settings.save or self.settings.compare)
        """Whether tests are laid out into the spool: only for a JSON document or a comparison."""
        self.covariates: set[str] = set()
        """Names of the samples' covariates seen (to tell a misspelt length covariate)."""
        self.outcomes: dict[str, str] = {}
        self.write_errors: list[str] = []
        self.written: list[tuple[str, str]] = []
        """(what, where) of each report file this run wrote: the summary names only these."""
        self.marker_error = False
        self.result: RunRecord | None = None
        self._callable_recorder: CallRecorder | None = None

    @functools.cached_property
    def defer_intervals(self) -> bool:
        """Whether tests' intervals wait to be solved in batches (``_settle``), on the
        controller (an xdist worker sends them with the record): unless the JUnit XML's test
        cases carry them as properties during the call."""
        from ..reports.junit import PER_CASE_FAMILIES

        return junit_family(self.config) not in PER_CASE_FAMILIES

    @functools.cached_property
    def item_records(self) -> bool:
        """Whether a judged test's record must hold its items: for an xdist worker (the
        controller keeps them), the report spool, and the names of the samples' covariates.
        Otherwise the run keeps only their figures (``Judgement.kept``)."""
        return self.is_worker or self.spooling or self.settings.length_covariate is not None

    @property
    def kept(self) -> KeptItems:
        """The kept figures of every judged test's items (numpy: made on first use)."""
        if self._kept is None:
            from ..results.kept import KeptItems

            self._kept = KeptItems()
        return self._kept

    def collect(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        collect_specs(session, items, self.file_config, self.settings, is_worker=self.is_worker)

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
                    max_cost=settings.max_test_cost,
                    prices=self.budget.prices,
                    parent=self.budget,
                    label="test",
                ),
                progress=self.progress.sink_factory(item.name),
                call_timeout=spec.call_timeout or settings.call_timeout,
                seed=settings.seed,
                recorder=self.callable_recorder(),
            )
        return entry.state

    def callable_recorder(self) -> CallRecorder | None:
        """What records (or replays) the answers of users' callables: the run's recording
        (None when not recording, or when replaying a file written before callables were)."""
        if self._callable_recorder is None:
            record, replay = self.registry.record, self.registry.replay
            store = record if record is not None else replay  # an empty one is falsy
            if store is None or (replay is not None and not replay.covers_callables):
                # a recording of an older release holds no callable's answers: call them
                return None
            from ..models.callable_recording import CallableRecorder

            self._callable_recorder = CallableRecorder(
                store, replaying=self.registry.replay is not None
            )
        return self._callable_recorder

    def finish_test(
        self,
        item: pytest.Item,
        entry: ItemState,
        body_raised: bool,
        raised: BaseException | None = None,
    ) -> str | None:
        """Judge the test; return a failure message when the gate (or usage) fails it.

        When the body raised (failed, skipped, xfailed) its own outcome stands, and the message
        returned is not used. When what it raised (``raised``) came from ``resample``, sampling
        failed: the verdict is ``error``, with the calls made and the error's first line, in
        every report. Every test that used the plugin (marked, or asking for ``resample`` or
        ``hotmess_model``) gets a record, also one that drew nothing: the record says why. Only
        a test skipped (or xfailed, or interrupted) before it drew anything has none.
        """
        state = entry.state
        if not uses_plugin(item, entry):
            return None
        note = override = None
        error = _sampling_error(state, raised) if body_raised else None
        if state is not None and error is not None:
            note, override = f"sampling failed: {_first_line(error)}", "error"
        elif state is None or not state.items:
            if body_raised and not _is_failure(raised):
                return None  # skipped, xfailed or interrupted before sampling: nothing to show
            state = self.test_state(item, entry)  # an empty record still shows in every report
            note, override = _nothing_drawn(state, entry.marked, failed=body_raised)
        from ..results.judge import judge_test

        spec = entry.spec or CoherenceSpec()
        entry.judgement = judge_test(
            item.nodeid,
            spec,
            state,
            self.settings,
            note=note,
            verdict_override=override,
            reference=self.reference_errors(item.nodeid),
            # the JUnit properties and the --hotmess-models table need the buckets
            by_difficulty=junit_family(self.config) is not None or entry.model is not None,
            defer_intervals=self.defer_intervals,
            item_records=self.item_records,
        )
        if entry.model is not None:  # --hotmess-models: the record says which model it ran
            record = dataclasses.replace(entry.judgement.record, model=entry.model)
            entry.judgement = dataclasses.replace(entry.judgement, record=record)
        set_case_properties(item, entry.judgement.record)
        return note if override else entry.judgement.message

    def setup_failed(self, item: pytest.Item, entry: ItemState, error: BaseException) -> None:
        """A test that used the plugin and errored in setup: verdict ``error`` in every report."""
        if not uses_plugin(item, entry) or not _is_failure(error):
            return
        from ..results.judge import judge_test

        note = f"setup failed: {_first_line(error)}"
        entry.judgement = judge_test(
            item.nodeid,
            entry.spec or CoherenceSpec(),
            self.test_state(item, entry),
            self.settings,
            note=note,
            verdict_override="error",
        )
        set_case_properties(item, entry.judgement.record)

    @functools.cached_property
    def reference_run(self) -> RunRecord | None:
        """The ``--hotmess-compare`` baseline as a difficulty reference (docs/statistics.md,
        'Difficulty'). An xdist worker reads it too (the controller checked the name), so a
        test's record is the same wherever it ran."""
        if not self.settings.compare:
            return None
        if self.baseline is not None:
            return self.baseline[1]
        from ..reports.baseline import BaselineError, load_baseline

        try:
            return load_baseline(self.settings.compare, self.baseline_dir)[1]
        except BaselineError:
            return None

    def reference_errors(self, nodeid: str) -> dict[str, float] | None:
        """This test's item errors in the baseline, if there is one."""
        baseline = self.reference_run
        if baseline is None:
            return None
        from ..results.difficulty import reference_errors

        return reference_errors(baseline.test(nodeid))

    def payload(self, record: TestRecord) -> dict[str, Any]:
        """A judged test's record as it travels on its report: its items' samples only when
        the JSON report asks for them (``--hotmess-json-detail samples``)."""
        return record.plain_at("samples" if self.settings.json_detail == "samples" else "items")

    def hand_over(self, report: pytest.TestReport, judgement: Judgement) -> None:
        """Put a judged test's record on its report (``pytest_runtest_makereport``).

        An xdist worker sends it as plain data (``report.hotmess``), rebuilt on the controller.
        A single process hands the judgement itself to ``observe``: no plain round trip; the
        report gets the summary it keeps anyway.
        """
        record = judgement.record
        if self.is_worker:
            report.hotmess = self.payload(record)  # type: ignore[attr-defined]
            if judgement.pending:  # solved on the controller, with other tests'
                pending = [bound.to_plain() for bound in judgement.pending]
                report.hotmess_pending = pending  # type: ignore[attr-defined]
            if self.settings.length_covariate is not None:  # the summary names a misspelt one
                report.hotmess_covariates = sorted(_covariate_names(record))  # type: ignore[attr-defined]
            return
        self._handed[report.nodeid, report.when] = judgement
        report.hotmess = _on_report(record)  # type: ignore[attr-defined]

    def observe(self, report: pytest.TestReport) -> None:
        """Every test report (on the controller, also those replayed from xdist workers).

        A test's record goes to the spool (its report text) and the kept columns (its items'
        figures); the run keeps the record without items (nor, unless the details or the HTML
        page show them, its analyses), and the report, which pytest's terminal reporter keeps
        until the end of the run, keeps its verdict and message only.
        """
        if self.is_worker:
            return  # the controller keeps the records; the report must reach it whole
        handed = self._handed.pop((report.nodeid, report.when), None)
        payload = None if handed is not None else getattr(report, "hotmess", None)
        if handed is not None:
            self._waiting.pop(report.nodeid, None)  # a rerun's record replaces the one before
            if handed.pending:
                self._waiting[report.nodeid] = handed
                self._wait()
            else:
                self._keep(report.nodeid, handed.record, handed.kept)
        elif isinstance(payload, Mapping):
            self._keep_plain(report, payload)
        seen = report.nodeid in self.records or report.nodeid in self._waiting
        if seen or payload is not None or report.nodeid in self._waiting_plain:
            previous = self.outcomes.get(report.nodeid)
            self.outcomes[report.nodeid] = final_outcome(previous, report)

    @functools.cached_property
    def _not_kept(self) -> tuple[str, ...]:
        """A record's analyses the run need not keep: they are in the spool, and only the
        details, the HTML page (and, for the difficulty buckets, the JUnit XML) show them."""
        if self.settings.details or self.settings.html:
            return ()
        analyses = ("length", "ensembles")
        return analyses if junit_family(self.config) is not None else (*analyses, "difficulty")

    def _wait(self) -> None:
        """One more record waits for its intervals: settle once enough do."""
        if len(self._waiting) + len(self._waiting_plain) >= _SETTLE_EVERY:
            self._settle()

    def _settle(self) -> None:
        """Solve the intervals of the waiting records together, then keep the records."""
        if not self._waiting and not self._waiting_plain:
            return  # nothing to import either: a run without coherence tests loads no numpy
        from ..results.settle import settle, settle_plain

        if self._waiting:
            waiting, self._waiting = self._waiting, {}
            settled = settle([(judged.record, judged.pending) for judged in waiting.values()])
            for (nodeid, judged), record in zip(waiting.items(), settled, strict=True):
                self._keep(nodeid, record, judged.kept)
        if self._waiting_plain:
            plain, self._waiting_plain = self._waiting_plain, {}
            settle_plain(list(plain.values()))
            for nodeid, (payload, _) in plain.items():
                self._keep_payload(nodeid, payload)

    def _keep(
        self, nodeid: str, record: TestRecord, kept: list[dict[str, Any]] | None = None
    ) -> None:
        """What the run keeps of a record handed over in this process (see ``_keep_plain``):
        its items' figures are ``kept`` when the record left its items out."""
        self.kept.add(nodeid, kept if kept is not None else [i.kept_plain() for i in record.items])
        if self.spooling:
            self.spool.add_record(nodeid, record, samples=self.settings.json_detail == "samples")
        if self.settings.length_covariate is not None:
            self.covariates.update(_covariate_names(record))
        dropped: dict[str, Any] = dict.fromkeys(self._not_kept)
        self.records[nodeid] = dataclasses.replace(record, items=[], **dropped)

    def _keep_plain(self, report: pytest.TestReport, payload: Mapping[str, Any]) -> None:
        """What the run keeps of a record that came from an xdist worker as plain data: kept
        at once, or once its intervals are solved (``hotmess_pending``)."""
        from ..results.settle import PendingBound

        nodeid = report.nodeid
        self._waiting_plain.pop(nodeid, None)  # a rerun's record replaces the one before
        pending = tuple(
            PendingBound.from_plain(bound) for bound in getattr(report, "hotmess_pending", ())
        )
        if pending:
            self._waiting_plain[nodeid] = dict(payload), pending
            self._wait()
        else:
            self._keep_payload(nodeid, payload)
        self.covariates.update(getattr(report, "hotmess_covariates", None) or ())
        # pytest (and xdist) keep every report to the end: leave it the summary only
        report.hotmess = {key: payload[key] for key in _ON_REPORT if key in payload}  # type: ignore[attr-defined]
        for extra in ("hotmess_covariates", "hotmess_pending"):
            if hasattr(report, extra):
                delattr(report, extra)

    def _keep_payload(self, nodeid: str, payload: Mapping[str, Any]) -> None:
        """Keep a plain record's items' figures, its report text and the record without
        items."""
        from ..results.records import TestRecord

        dropped = ("items", *self._not_kept)
        slim = {key: value for key, value in payload.items() if key not in dropped}
        self.kept.add(nodeid, payload.get("items") or ())
        if self.spooling:
            self.spool.add(nodeid, payload)
        self.records[nodeid] = TestRecord.from_plain(slim)

    # -- end of run --------------------------------------------------------------------------

    def tests(self) -> list[TestRecord]:
        """Records in a stable order (by node id), each with its final outcome (replaced in
        ``records`` one by one, so that the run never holds two copies of them)."""
        records = self.records
        for nodeid, record in records.items():
            outcome = self.outcomes.get(nodeid)
            if outcome != record.outcome:
                records[nodeid] = record.with_outcome(outcome)
        return [records[nodeid] for nodeid in sorted(records)]

    def finish(self, session: pytest.Session) -> None:
        """Total, compare and write the reports (controller only); a worker hands over its part.

        The recording is saved later, by ``recording.save``, once xdist's workers are down.
        """
        if self.is_worker:
            self.recording.hand_over_part()
            return
        self.progress.stop()
        self._settle()
        if self.marker_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR  # an xdist worker found a bad marker
        if not self.records and not self.settings.json:
            return  # nothing was gated and no report was asked for
        tests = self.tests()
        transport, baseline = self.registry.transport, self.baseline
        confidence = self.settings.confidence or DEFAULT_CONFIDENCE
        self.result = run = run_record(
            self.settings,
            tests,
            transport=transport,
            baseline=baseline,
            file_config=self.file_config,
            totals=self.kept.pooled_totals(tests, confidence),
            whole=lambda: self._whole(tests),
            bucketed=self.kept.bucketed,
        )
        write_run_to_junit(self.config, run, tests)
        if run.regressions and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.result = run = dataclasses.replace(run, exitstatus=int(session.exitstatus))
        from ..reports.json_report import ReportInput
        from ..reports.writers import planned_writes

        order = {test.nodeid: test.outcome for test in tests}
        source = ReportInput(
            run,
            detail=self.settings.json_detail,
            texts=lambda with_items: self.spool.texts(order, with_items=with_items),
        )
        for writer, target in planned_writes(
            self.settings, self.baseline_dir, has_records=bool(self.records)
        ):
            try:
                writer.write(target, source)
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
        self.spool.close()

    def _whole(self, tests: list[TestRecord]) -> list[TestRecord]:
        """The tests with their items read back from the spool (for a baseline comparison)."""
        from ..results.records import TestRecord

        return [
            TestRecord.from_plain(self.spool.plain(test.nodeid, test.outcome))
            for test in tests
            if test.nodeid in self.spool
        ]

    def summary(self, terminal: Any) -> None:
        """The terminal summary: write problems, the table, details and the comparison."""
        if self.is_worker:
            return
        for problem in self.write_errors:
            terminal.write_line(problem, red=True)
        self.recording.report(terminal)
        write_summary(
            terminal,
            self.result,
            self.settings,
            self.written,
            junit_family(self.config),
            covariates=self.covariates,
        )
