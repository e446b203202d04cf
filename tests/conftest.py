"""Shared test set-up: pytester runs see the same plugin configuration a user's suite would."""

from __future__ import annotations

import pytest

# HTTP client test fixtures: a local fake LLM server; tracked clients closed after each test.
from _client_fixtures import close_models, server  # noqa: F401


@pytest.fixture(autouse=True)
def _quiet_pytester_plugins(request: pytest.FixtureRequest) -> None:
    """Runs inside pytester have no ini file; give pytest-asyncio the setting it warns about."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
