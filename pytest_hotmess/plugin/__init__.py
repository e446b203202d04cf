"""pytest glue: the hooks, each handing off to the run object (``run.HotmessRun``).

The statistics, models and reports live in their own layers; results cross xdist on the
call-phase test report (``report.hotmess``, the test record's plain form, rebuilt on the
controller); a single process hands the record over as it is. Loading this plugin imports no
numpy, scipy, HTTP client or YAML.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from ..config.marker import MARKER_HELP
from ..sampling.budget import current_budget
from ..sampling.context import current_test
from .fixtures import hotmess_model, hotmess_seed, parametrize_models, resample
from .items import ITEM_KEY, MARKER_ERROR_PREFIX, item_state
from .options import add_options
from .run import RUN_KEY, HotmessRun, hotmess_run

__all__ = ["MARKER_ERROR_PREFIX", "hotmess_model", "hotmess_seed", "resample"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.stash[RUN_KEY] = HotmessRun(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_models(metafunc)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.progress.stop()
        run.registry.close()


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    hotmess_run(config).collect(session, items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # A rerun (pytest-rerunfailures) runs the same item again: start from nothing but the spec.
    entry = item_state(item)
    entry.state, entry.judgement = None, None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    run, entry = hotmess_run(item.config), item_state(item)
    # model calls made by the test count their retries on its budget (or the run's)
    budget = entry.state.budget if entry.state is not None else run.budget
    token = current_budget.set(budget)
    test_token = current_test.set(item.nodeid)  # recordings keep each test's answers apart
    try:
        result = yield
    except BaseException as raised:
        run.finish_test(item, entry, body_raised=True, raised=raised)  # its outcome stands
        raise
    finally:
        current_test.reset(test_token)
        current_budget.reset(token)
    message = run.finish_test(item, entry, body_raised=False)
    if message is not None:
        pytest.fail(message, pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        entry = item.stash.get(ITEM_KEY, None)
        if entry is not None and entry.state is not None:
            entry.state.close()  # the test's thread pool and event loop
        if entry is not None:
            # judged and reported: the item (kept by pytest to the end) keeps no samples
            entry.state, entry.judgement = None, None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    entry = item.stash.get(ITEM_KEY, None)
    if call.when == "setup" and call.excinfo is not None and entry is not None:
        # before the report is made, so that it carries the test's hotmess.* properties
        hotmess_run(item.config).setup_failed(item, entry, call.excinfo.value)
    report = yield
    if call.when in ("setup", "call") and entry is not None and entry.judgement is not None:
        # xdist's edge: on a worker the record travels as plain builtins
        hotmess_run(item.config).hand_over(report, entry.judgement)
    return report


class _RunObserver:
    """Per-run hooks that need the run object: registered at session start."""

    def __init__(self, run: HotmessRun) -> None:
        self.run = run

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.run.observe(report)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, object, object]:
        # Innermost wrapper: after every plain implementation (xdist shuts its workers down in
        # one), before the terminal reporter's summary.
        try:
            return (yield)
        finally:
            self.run.recording.save(session)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Under xdist a worker's bad-marker stop reaches the controller as an interruption.
        if str(excinfo.value).startswith(MARKER_ERROR_PREFIX):
            self.run.marker_error = True


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.pluginmanager.register(
        _RunObserver(hotmess_run(session.config)), "hotmess-observer"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    hotmess_run(session.config).finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: tell each starting worker where to write its sampling progress."""
    hotmess_run(node.config).progress.configure_node(node.workerinput)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: collect each worker's recording part file on the controller."""
    output = getattr(node, "workeroutput", None)
    if isinstance(output, dict):
        hotmess_run(node.config).recording.worker_down(output)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    hotmess_run(config).summary(terminalreporter)
