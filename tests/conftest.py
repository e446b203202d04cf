"""Shared test set-up: pytester runs see the same plugin configuration a user's suite would."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

# The plugin imports scipy lazily, on first use. In-process pytester runs drop every module they
# imported when they end, and numpy's and scipy's C extensions cannot be loaded twice in one
# process: import them out here, once, so that no inner run is the first to load them.
import scipy.optimize
import scipy.special
import scipy.stats  # noqa: F401

# HTTP client test fixtures: a local fake LLM server; tracked clients closed after each test.
from _client_fixtures import close_models, server  # noqa: F401


@pytest.fixture
def ctrl_c_reaches_children() -> Iterator[None]:
    """Processes this test starts take SIGINT as a terminal's Ctrl-C, whoever started this run.

    A signal ignored at exec stays ignored, and Python then installs no handler: a run started
    with SIGINT ignored (a background job of a non-interactive shell, some CI runners) would
    start children that never see the interrupt a test sends. A handled signal is reset to the
    default at exec, so handle it here while the test runs.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def _quiet_pytester_plugins(request: pytest.FixtureRequest) -> None:
    """Runs inside pytester have no ini file; give pytest-asyncio the setting it warns about."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")


@pytest.fixture(autouse=True)
def _no_run_settings_from_the_environment() -> Iterator[None]:
    """Every option reads ``HOTMESS_<NAME>``, and CI sets ``GITHUB_STEP_SUMMARY``: a developer's
    or CI's environment must not change the runs these tests make (a test sets what it needs).

    Not through ``monkeypatch``: an autouse fixture that takes it would make it the first fixture
    set up and the last torn down, after fixtures that rely on undoing their own patches first.
    """
    from pytest_hotmess.config.settings import OPTIONS

    names = {name for option in OPTIONS for name in (option.env_var, *option.fallback_env)}
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(saved)
