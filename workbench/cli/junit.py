"""JUnit XML for CI: one test case per cell and check, as Jenkins, GitLab and GitHub read it.

The attributes are those the common JUnit schema requires (``testsuite``: name,
tests, failures, errors, skipped, time, timestamp, hostname, id, package;
``testcase``: name, classname, time), so strict readers accept the file.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workbench.errors import UsageError


@dataclass(frozen=True)
class Case:
    """One check of one answer: passed, failed, or an error (no answer to check)."""

    suite: str  # e.g. the grid's name and the model
    classname: str  # e.g. the prompt and the settings
    name: str  # the check
    outcome: str  # passed | failed | error
    message: str = ""
    time_s: float = 0.0


def junit_xml(cases: Sequence[Case], *, name: str) -> bytes:
    """The XML document of ``cases``, one ``testsuite`` per distinct ``Case.suite``."""
    root = ET.Element("testsuites", name=name)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    host = socket.gethostname()
    suites: dict[str, list[Case]] = {}
    for case in cases:
        suites.setdefault(case.suite, []).append(case)
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for index, (suite_name, members) in enumerate(suites.items()):
        failures = sum(c.outcome == "failed" for c in members)
        errors = sum(c.outcome == "error" for c in members)
        seconds = sum(c.time_s for c in members)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=suite_name,
            tests=str(len(members)),
            failures=str(failures),
            errors=str(errors),
            skipped="0",
            time=f"{seconds:.3f}",
            timestamp=stamp,
            hostname=host,
            id=str(index),
            package=name,
        )
        ET.SubElement(suite, "properties")
        for case in members:
            element = ET.SubElement(
                suite,
                "testcase",
                name=case.name,
                classname=case.classname,
                time=f"{case.time_s:.3f}",
            )
            if case.outcome in ("failed", "error"):
                tag = "failure" if case.outcome == "failed" else "error"
                detail = ET.SubElement(element, tag, message=case.message[:500], type=tag)
                detail.text = case.message
        totals["tests"] += len(members)
        totals["failures"] += failures
        totals["errors"] += errors
        totals["time"] += seconds
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", f"{totals['time']:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | Path, cases: Sequence[Case], *, name: str) -> None:
    """Write ``cases`` to ``path``; a path that cannot be written is a usage error."""
    try:
        Path(path).write_bytes(junit_xml(cases, name=name))
    except OSError as exc:
        raise UsageError(f"--junit {path}: cannot write it: {exc.strerror or exc}") from None
