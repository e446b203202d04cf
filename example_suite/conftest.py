"""Example-suite set-up: the JUnit XML report goes to out/junit.xml next to this file."""

from __future__ import annotations

from pathlib import Path

import pytest

OUT = Path(__file__).parent / "out"
"""Where the run's reports go (git-ignored): hotmess.json (set in hotmess.yaml) and junit.xml."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Write the JUnit XML report to out/junit.xml unless the run names its own --junitxml.

    An ini file cannot do this: a path in ``addopts = --junitxml=...`` is relative to the
    directory pytest is started from, not to the ini file. The junitxml plugin reads the option
    in its own pytest_configure, which runs after this one (tryfirst).
    """
    # The attribute is missing when the junitxml plugin is off (-p no:junitxml).
    if getattr(config.option, "xmlpath", "") is None:
        config.option.xmlpath = str(OUT / "junit.xml")
