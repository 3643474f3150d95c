"""What the kit found: a Result per check, a Report per target, and the JUnit XML that CI reads."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from linkage.cli.conformance.errors import ConformanceError

__all__ = ["Report", "Result", "write_junit", "write_junit_error"]


@dataclass(frozen=True)
class Result:
    name: str
    passed: bool
    summary: str
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    def line(self) -> str:
        """One line: the summary when passed, else the first problem and how many more."""
        if self.passed:
            return f"PASS  {self.name:<17} {self.summary}"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"FAIL  {self.name:<17} {self.problems[0]}{more}"


@dataclass(frozen=True)
class Report:
    target: str
    provider: str
    member: str
    results: tuple[Result, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.passed]



def write_junit(report: Report, path: Path) -> None:
    """Write report as JUnit XML at path, atomically (a temporary file renamed into place)."""
    suite = ET.Element("testsuite", name="linkage.cli.conformance", tests=str(len(report.results)),
                       failures=str(len(report.failed())), errors="0",
                       time=f"{sum(r.seconds for r in report.results):.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("target", report.target), ("provider", report.provider), ("member", report.member)):
        ET.SubElement(props, "property", name=key, value=value)
    classname = f"linkage.cli.conformance.{report.provider or 'provider'}"
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=classname, name=r.name, time=f"{r.seconds:.3f}")
        if r.passed:
            ET.SubElement(case, "system-out").text = r.summary
        else:
            failure = ET.SubElement(case, "failure", message=r.problems[0], type="nonconformance")
            failure.text = "\n".join(r.problems)
    _write_atomic(path, ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n")


def write_junit_error(target: str, err: ConformanceError, path: Path) -> None:
    suite = ET.Element("testsuite", name="linkage.cli.conformance", tests="1", failures="0", errors="1", time="0")
    case = ET.SubElement(suite, "testcase", classname="linkage.cli.conformance", name="connect", time="0")
    ET.SubElement(case, "error", message=err.message, type=err.code).text = f"{target}: {err.message}"
    _write_atomic(path, ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

