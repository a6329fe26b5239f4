"""JUnit XML read back by a parser, against the common schema's required attributes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from workbench.cli.junit import Case, junit_xml

SUITE_REQUIRED = {
    "name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname", "id",
    "package",
}  # fmt: skip
CASE_REQUIRED = {"name", "classname", "time"}


def test_cases_become_suites_with_counts_and_failures():
    cases = [
        Case("grid.smollm2", "add[t=0]", "repeat 1: tests", "passed", "", 1.25),
        Case(
            "grid.smollm2", "add[t=0]", "repeat 1: contains:def", "failed", "not found: 'def'", 1.25
        ),
        Case("grid.gemma3", "add[t=0]", "repeat 1", "error", "worker died <&>", 0.5),
    ]
    root = ET.fromstring(junit_xml(cases, name="workbench grid g"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["grid.smollm2", "grid.gemma3"]
    for suite in suites:
        assert set(suite.attrib) >= SUITE_REQUIRED
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        for case in suite.findall("testcase"):
            assert set(case.attrib) >= CASE_REQUIRED
            float(case.get("time"))
    first, second = suites[0].findall("testcase")
    assert first.find("failure") is None and first.find("error") is None
    assert second.find("failure").get("message") == "not found: 'def'"
    error = suites[1].find("testcase/error")
    assert error.text == "worker died <&>"  # escaped on the way out, whole on the way in
    assert suites[0].get("time") == "2.500"


def test_no_cases_is_still_a_valid_document():
    root = ET.fromstring(junit_xml([], name="empty"))
    assert root.get("tests") == "0" and root.findall("testsuite") == []
