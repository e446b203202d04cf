"""The live progress line of one test, drawn only where a person is watching."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..reports.progress import LiveProgress

__all__ = ["progress_factory"]


def progress_factory(
    config: pytest.Config, name: str, *, is_worker: bool
) -> Callable[[int], LiveProgress] | None:
    """A live progress line on an interactive, non-quiet, non-worker terminal; else none."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if terminal is None or is_worker or config.get_verbosity() < 0:
        return None
    if not getattr(terminal, "isatty", False):
        return None

    def write(text: str) -> None:
        if capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write(text, flush=True)
        else:
            terminal.write(text, flush=True)

    return lambda planned: LiveProgress(name, planned, write)
