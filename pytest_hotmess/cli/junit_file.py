"""A JUnit XML file of a report run: one test case per source, the ``hotmess.*`` properties.

The plugin adds the same properties to pytest's own JUnit file; without pytest this module
writes the whole file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..config.atomic import write_atomic
from ..reports.junit import suite_properties, testcase_properties
from ..results.records import RunRecord

__all__ = ["write_junit"]


def write_junit(path: str | Path, run: RunRecord, failures: dict[str, str]) -> None:
    """``failures`` maps a test's node id to the message it fails with."""
    suite = ET.Element(
        "testsuite",
        name="pytest-hotmess",
        tests=str(len(run.tests)),
        failures=str(len(failures)),
        errors="0",
        skipped="0",
    )
    _properties(suite, suite_properties(run.totals))
    for record in run.tests:
        case = ET.SubElement(suite, "testcase", classname="hotmess.report", name=record.nodeid)
        _properties(case, testcase_properties(record))
        message = failures.get(record.nodeid)
        if message is not None:
            failure = ET.SubElement(case, "failure", message=" ".join(message.split()))
            failure.text = message
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    write_atomic(path, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _properties(parent: ET.Element, props: list[tuple[str, str]]) -> None:
    element = ET.SubElement(parent, "properties")
    for name, value in props:
        ET.SubElement(element, "property", name=name, value=value)
