"""The gate as JUnit XML, the format every CI system can show as test results.

One ``<testsuite>`` per kind of check (run, criteria, audit, regression, and "this change
against BASE, side by side" for a run that measured its base revision) and one ``<testcase>``
per check: a failed check is a ``<failure>``, one not judged (by design, for want of data, or
left to the target-load answer) is ``<skipped>`` with the reason, so a CI page shows exactly what
held the gate up; an advisory one passes with its finding in ``<system-out>``. A first suite,
"answers", carries the run's verdict and target load per candidate as passing cases: shown, not
gated.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from .checks import GateCheck
from .result import GateResult

__all__ = ["ANSWERS_SUITE", "junit_xml", "write_junit"]

# XML 1.0 cannot carry most control characters, even escaped: a recorded error text could hold one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# What a CI page shows as skipped: not judged, for want of data, by design, or on this machine.
_SKIPPED = ("not judged", "target", "skipped")
ANSWERS_SUITE = "harness gate: answers (not gated)"


def _text(value: str) -> str:
    return _NOT_XML.sub("?", value)


def _case_name(check: GateCheck) -> str:
    return _text(f"{check.name} [{check.service} @ {check.load}]")


def _testcase(suite: ET.Element, check: GateCheck) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        name=_case_name(check),
        classname=_text(f"harness.gate.{check.suite}.{check.service}"),
        time="0",
    )
    summary = f"{check.result}: value {check.value}; threshold {check.threshold}"
    if check.outcome == "fail":
        failure = ET.SubElement(case, "failure", message=_text(summary), type=check.result)
        failure.text = _text(check.detail)
    elif check.outcome in _SKIPPED:
        ET.SubElement(case, "skipped", message=_text(f"{check.result}: {check.detail}"))
    out = ET.SubElement(case, "system-out")
    out.text = _text(f"{summary}\n{check.detail}")


def _testsuite(parent: ET.Element, name: str, checks: Sequence[GateCheck]) -> ET.Element:
    suite = ET.SubElement(
        parent,
        "testsuite",
        name=_text(f"harness gate: {name}"),
        tests=str(len(checks)),
        failures=str(sum(c.outcome == "fail" for c in checks)),
        errors="0",
        skipped=str(sum(c.outcome in _SKIPPED for c in checks)),
        time="0",
    )
    for check in checks:
        _testcase(suite, check)
    return suite


def _answers_suite(parent: ET.Element, gate: GateResult) -> None:
    suite = ET.SubElement(
        parent, "testsuite", name=ANSWERS_SUITE, tests=str(len(gate.answers)), failures="0", errors="0", skipped="0"
    )
    suite.set("time", "0")
    for answer in gate.answers:
        case = ET.SubElement(
            suite,
            "testcase",
            name=_text(f"{answer.service}: verdict and target load"),
            classname="harness.gate.answers",
        )
        case.set("time", "0")
        ET.SubElement(case, "system-out").text = _text(answer.line)


def junit_xml(gate: GateResult) -> str:
    root = ET.Element("testsuites", name=_text(f"harness gate {gate.run_id}: {gate.status}"))
    if gate.answers:
        _answers_suite(root, gate)
    suites: dict[str, list[GateCheck]] = {}
    for check in gate.checks:
        suites.setdefault(check.suite, []).append(check)
    for name, checks in suites.items():
        _testsuite(root, gate.side_by_side_title if name == "side by side" else name, checks)
    root.set("tests", str(len(gate.checks) + len(gate.answers)))
    root.set("failures", str(len(gate.with_outcome("fail"))))
    root.set("errors", "0")
    root.set("skipped", str(sum(len(gate.with_outcome(outcome)) for outcome in _SKIPPED)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(gate: GateResult, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(gate), encoding="utf-8")
    return path
