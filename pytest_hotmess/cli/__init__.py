"""The command line, for pipelines that do not run pytest: ``python -m pytest_hotmess``."""

from __future__ import annotations

from .main import main

__all__ = ["main"]
