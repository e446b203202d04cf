"""Exit statuses of the command line, as pytest's where they mean the same."""

from __future__ import annotations

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED = 1
"""A gate failed (pytest: tests failed)."""
EXIT_USAGE = 4
"""Bad options or an unreadable source (pytest: usage error)."""
