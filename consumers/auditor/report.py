"""What verification reports: one ``Check`` per numbered step, a ``Report`` per printout, a ``PaperReport`` per file
that holds several (a signed PDF, a QR summary).

    Check        number, name, ok (True passed, False failed, None skipped), detail
    Report       one printout: checks 1-7, valid, the payload when valid
    PaperReport  one PDF or QR summary: the checks about the paper as a whole (3 for a PDF; 1 and 3 for a QR),
                 problems that make it invalid whatever its documents say (no printout attached, ...),
                 and one ``DocumentReport`` (a ``Report`` and where it came from) per printout it carries

Both reports render for people (Thai first, English beside it) and serialise
to JSON with the same keys: ``valid``, ``checks``, ``failed``, ``skipped``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["NAMES", "Check", "DocumentReport", "PaperForm", "PaperReport", "Report", "failed", "passed", "skipped"]

NAMES: Final = {
    1: "certificate chain",
    2: "hub's seal",
    3: "officer's signature",
    4: "log inclusion",
    5: "checkpoint signature",
    6: "log consistency",
    7: "not revoked",
    8: "witness cosignatures",
}

PaperForm = Literal["pdf", "qr"]


@dataclass(frozen=True)
class Check:
    """One numbered step: ``ok`` is True (passed), False (failed) or None (skipped)."""

    number: int
    name: str
    ok: bool | None
    detail: str

    def render(self) -> str:
        mark = {True: "✓", False: "✗", None: "-"}[self.ok]
        return f"[{self.number}] {mark} {self.name}: {self.detail}"


def passed(number: int, detail: str) -> Check:
    return Check(number, NAMES[number], True, detail)


def failed(number: int, detail: str) -> Check:
    return Check(number, NAMES[number], False, detail)


def skipped(number: int, why: str) -> Check:
    return Check(number, NAMES[number], None, f"skipped: {why}")


def _numbers(checks: tuple[Check, ...], ok: bool | None) -> list[int]:
    return sorted({c.number for c in checks if c.ok is ok})


@dataclass(frozen=True)
class Report:
    """The outcome of ``verify_printout``; ``printout`` is the payload only when ``valid``."""

    valid: bool
    checks: tuple[Check, ...]
    printout: dict[str, Any] | None

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.ok is False)

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.ok is None)

    def verdict(self) -> str:
        skipped_ = ", ".join(str(c.number) for c in self.skipped)
        if self.valid and self.printout is not None:
            return (f"ถูกต้อง / VALID: printout {self.printout['printout_id']}"
                    + (f" (ข้าม / skipped: {skipped_})" if skipped_ else ""))
        numbers = ", ".join(str(c.number) for c in self.failed) or f"none (skipped: {skipped_})"
        return f"ไม่ถูกต้อง / INVALID: failed check(s) {numbers}"

    def render(self) -> str:
        """Human form: one line per check, then the verdict (Thai first, English beside it)."""
        return "\n".join([*(c.render() for c in self.checks), self.verdict()])

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "failed": _numbers(self.checks, False),
            "skipped": _numbers(self.checks, None),
            "printout": self.printout,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class DocumentReport:
    """One printout carried by a paper: where it was found (``source``: the attachment's name, or the summary's
    line) and its report."""

    source: str
    report: Report


@dataclass(frozen=True)
class PaperReport:
    """The outcome of verifying a signed PDF or a QR summary: valid when the paper's own checks passed, nothing
    is wrong with it as a whole, it carries at least one printout, and every printout is valid."""

    form: PaperForm
    name: str
    checks: tuple[Check, ...]
    problems: tuple[str, ...]
    documents: tuple[DocumentReport, ...]

    @property
    def valid(self) -> bool:
        return (not self.problems and bool(self.documents) and all(c.ok is True for c in self.checks)
                and all(d.report.valid for d in self.documents))

    def _all_checks(self) -> tuple[Check, ...]:
        return self.checks + tuple(c for d in self.documents for c in d.report.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self._all_checks() if c.ok is False)

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self._all_checks() if c.ok is None)

    def render(self) -> str:
        what = "signed PDF" if self.form == "pdf" else "QR summary"
        lines = [f"{self.name}: {what}, {len(self.documents)} printout(s)", *(c.render() for c in self.checks)]
        lines += [f"ปัญหา / problem: {p}" for p in self.problems]
        for n, doc in enumerate(self.documents, 1):
            lines.append(f"— {n}/{len(self.documents)} {doc.source}")
            lines += [f"  {c.render()}" for c in doc.report.checks]
            lines.append(f"  {doc.report.verdict()}")
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        """The last line of ``render``: valid or not, and why not."""
        what = "signed PDF" if self.form == "pdf" else "QR summary"
        skipped_ = ", ".join(str(n) for n in _numbers(self._all_checks(), None))
        if self.valid:
            return (f"ถูกต้อง / VALID: {what} {self.name}, {len(self.documents)} printout(s)"
                    + (f" (ข้าม / skipped: {skipped_})" if skipped_ else ""))
        why = [f"failed check(s) {', '.join(str(n) for n in _numbers(self._all_checks(), False))}"
               ] if self.failed else []
        why += list(self.problems)
        if not why:
            why = [f"nothing passed that must (skipped: {skipped_})"]
        return f"ไม่ถูกต้อง / INVALID: {what} {self.name}: {'; '.join(why)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "form": self.form,
            "file": self.name,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "problems": list(self.problems),
            "documents": [{"source": d.source, **d.report.as_dict()} for d in self.documents],
            "failed": _numbers(self._all_checks(), False),
            "skipped": _numbers(self._all_checks(), None),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)
