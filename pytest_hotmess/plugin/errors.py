"""How the plugin refuses a run: a usage error, prefixed so the user sees who complains."""

from __future__ import annotations

import pytest

__all__ = ["usage_error"]


def usage_error(message: str) -> pytest.UsageError:
    """A ``pytest.UsageError`` saying it comes from pytest-hotmess."""
    return pytest.UsageError(f"pytest-hotmess: {message}")
