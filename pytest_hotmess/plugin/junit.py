"""JUnit glue: each test's properties where its junit family allows them, and the run's cases.

Suite properties and the run-level cases (``hotmess::regressions``, ``hotmess::budget``) that
CI reporters count reach pytest's junitxml plugin here; what is written is decided in
``reports.junit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..results.records import RunRecord, TestRecord

__all__ = ["junit_family", "set_case_properties", "write_run_to_junit"]


def junit_family(config: pytest.Config) -> str | None:
    """The junit family of the XML this run writes (also on an xdist worker); None if none."""
    if not getattr(config.option, "xmlpath", None):
        return None
    try:
        family = config.getini("junit_family")
    except ValueError:  # the junitxml plugin is disabled
        return None
    return str(family or "xunit2")


def set_case_properties(item: pytest.Item, record: TestRecord) -> None:
    """The test's ``hotmess.*`` user properties, unless the junit family cannot carry them.

    pytest writes every user property into the test case; ``xunit2`` forbids that, so there the
    figures go to the suite (``write_run_to_junit``) instead. Without a JUnit XML nothing reads
    them, and every report of the test would carry a copy (pytest keeps reports to the end;
    under xdist each is a copy of its own): none are set.
    """
    from ..reports.junit import PER_CASE_FAMILIES, testcase_properties

    family = junit_family(item.config)
    ours = testcase_properties(record) if family in PER_CASE_FAMILIES else []
    properties = item.user_properties
    if ours or any(str(name).startswith("hotmess.") for name, _ in properties):
        # a rerun replaces the properties of the run before
        kept = [(k, v) for k, v in properties if not str(k).startswith("hotmess.")]
        properties[:] = [*kept, *ours]


def _logxml(config: pytest.Config) -> Any | None:
    for plugin in config.pluginmanager.get_plugins():
        if callable(getattr(plugin, "add_global_property", None)) and hasattr(plugin, "family"):
            return plugin
    return None


def write_run_to_junit(config: pytest.Config, run: RunRecord, tests: list[TestRecord]) -> None:
    """Suite properties and run-level cases, into this (controller) process's junit XML."""
    xml = _logxml(config)
    if xml is None:
        return
    from ..reports.junit import PER_CASE_FAMILIES, bucket_properties, run_cases, suite_properties

    if tests:
        per_case = str(xml.family) in PER_CASE_FAMILIES
        for name, value in suite_properties(run.totals, tests, per_case=per_case):
            xml.add_global_property(name, value)
        for name, value in bucket_properties(run):
            xml.add_global_property(name, value)
    for case in run_cases(run):
        nodeid = f"hotmess::{case.name}"
        details = case.details.replace("\n", "; ")
        longrepr: Any = (
            ("hotmess", 0, f"Skipped: {case.message}: {details}")
            if case.outcome == "skipped"
            else f"{case.message}\n{case.details}"
        )
        for when, outcome in (("call", case.outcome), ("teardown", "passed")):
            report = pytest.TestReport(
                nodeid=nodeid,
                location=("hotmess", None, case.name),
                keywords={},
                outcome=outcome,  # type: ignore[arg-type]
                longrepr=longrepr if when == "call" else None,
                when=when,  # type: ignore[arg-type]
                sections=[],
            )
            xml.pytest_runtest_logreport(report)
