"""What verification reports: one ``Check`` per numbered step, a ``Report`` per printout, a ``PaperReport`` per file
that holds several (a signed PDF, a QR summary).

    Check        number, name, ok (True passed, False failed, None skipped), detail
    Report       one printout: checks 1-7, valid, the payload when valid
    PaperReport  one PDF or QR code: the checks about the paper as a whole (3 for a PDF; 1 and 3 for a QR),
                 problems that make it invalid whatever its documents say (no printout attached, ...),
                 one ``DocumentReport`` (a ``Report`` and where it came from) per printout it carries,
                 and for a paper code (``PaperText``) what the paper must print, field by field, with
                 check 9 when a photo's printed text was compared with it

Both reports render for people (Thai first, English beside it) and serialise
to JSON with the same keys: ``valid``, ``checks``, ``failed``, ``skipped``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["NAMES", "NAMES_TH", "Check", "DocumentReport", "PaperForm", "PaperReport", "PaperText", "Report",
           "SignedField", "failed", "passed", "skipped"]

NAMES: Final = {
    1: "certificate chain",
    2: "hub's seal",
    3: "officer's signature",
    4: "log inclusion",
    5: "checkpoint signature",
    6: "log consistency",
    7: "not revoked",
    8: "witness cosignatures",
    9: "printed text",
    10: "officer session",
    11: "citizen present or consented",
    12: "long-term validity",
}
NAMES_TH: Final = {
    1: "ห่วงโซ่ใบรับรอง",
    2: "ตราประทับของศูนย์กลาง",
    3: "ลายมือชื่อของเจ้าหน้าที่",
    4: "อยู่ในบันทึกการแลกเปลี่ยน",
    5: "ลายมือชื่อของจุดตรวจ",
    6: "บันทึกสอดคล้องกัน",
    7: "ไม่ถูกเพิกถอน",
    8: "พยานลงนามรับรองร่วม",
    9: "ข้อความที่พิมพ์",
    10: "การลงชื่อเข้าใช้ของเจ้าหน้าที่",
    11: "เจ้าของข้อมูลมาแสดงตนหรือให้ความยินยอม",
    12: "ยืนยันได้ในระยะยาว",
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


def _named(numbers: list[int]) -> str:
    """"2 (ตราประทับของศูนย์กลาง / hub's seal), 4 (...)": the failed checks, in Thai and English."""
    return ", ".join(f"{n} ({NAMES_TH[n]} / {NAMES[n]})" for n in numbers)


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
        numbers = _named(_numbers(self.checks, False)) or f"none (skipped: {skipped_})"
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


_MARK: Final = {"matches": "✓ ตรงกับที่พิมพ์ / as printed", "differs": "✗ ไม่ตรงกับที่พิมพ์ / PRINTED DIFFERENTLY",
                 "unreadable": "? อ่านไม่ได้ในภาพ / not legible in the photo"}


@dataclass(frozen=True)
class SignedField:
    """One field the paper must print, as signed; ``status`` is what the photo shows there (None: not compared)."""

    section: str
    label: str
    value: str
    status: str | None = None  # "matches", "differs", "unreadable"
    printed: str = ""  # the normalised text read there (see consumers.auditor.ocr)


@dataclass(frozen=True)
class PaperText:
    """What a paper code says the paper must print, who certified it and when; ``check`` is check 9 (the photo's
    printed text compared with it), None when there was no photo to compare or the comparison was not asked."""

    officer: str
    agency: str
    printed_at: str
    parts: int
    fields: tuple[SignedField, ...]
    check: Check | None = None

    def render(self) -> list[str]:
        lines = [f"รับรองโดย / certified by: {self.officer}, {self.agency}",
                 f"เมื่อ / at: {self.printed_at}",
                 f"ข้อความที่เอกสารต้องแสดง / what the paper must say ({self.parts} QR code(s)):"]
        section = None
        for f in self.fields:
            if f.section != section:
                section = f.section
                lines.append(f"  {section or 'หัวเอกสาร / header'}")
            mark = f"  [{_MARK.get(f.status or '', f.status)}]" if f.status else ""
            value = f.value.replace("\n", " / ")
            lines.append(f"    {f.label}: {value}{mark}")
            if f.status == "differs":
                lines.append(f"      ภาพอ่านได้ / the photo reads: {f.printed!r}")
        if self.check is not None:
            lines.append(self.check.render())
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {"officer": self.officer, "agency": self.agency, "printed_at": self.printed_at, "parts": self.parts,
                "fields": [dataclasses.asdict(f) for f in self.fields],
                "printed_text": dataclasses.asdict(self.check) if self.check is not None else None}


@dataclass(frozen=True)
class PaperReport:
    """The outcome of verifying a signed PDF or a QR summary: valid when the paper's own checks passed, nothing
    is wrong with it as a whole, it carries at least one printout, and every printout is valid."""

    form: PaperForm
    name: str
    checks: tuple[Check, ...]
    problems: tuple[str, ...]
    documents: tuple[DocumentReport, ...]
    text: PaperText | None = None

    @property
    def valid(self) -> bool:
        printed = self.text.check if self.text is not None else None
        return (not self.problems and bool(self.documents) and all(c.ok is True for c in self.checks)
                and all(d.report.valid for d in self.documents) and (printed is None or printed.ok is not False))

    def all_checks(self) -> tuple[Check, ...]:
        """The paper's own checks, check 9, then every document's."""
        printed = (self.text.check,) if self.text is not None and self.text.check is not None else ()
        return self.checks + printed + tuple(c for d in self.documents for c in d.report.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.all_checks() if c.ok is False)

    @property
    def skipped(self) -> tuple[Check, ...]:
        return tuple(c for c in self.all_checks() if c.ok is None)

    def render(self) -> str:
        what = "signed PDF" if self.form == "pdf" else "QR summary" if self.text is None else "paper QR code"
        lines = [f"{self.name}: {what}, {len(self.documents)} printout(s)", *(c.render() for c in self.checks)]
        lines += [f"ปัญหา / problem: {p}" for p in self.problems]
        if self.text is not None:
            lines += self.text.render()
        for n, doc in enumerate(self.documents, 1):
            lines.append(f"— {n}/{len(self.documents)} {doc.source}")
            lines += [f"  {c.render()}" for c in doc.report.checks]
            lines.append(f"  {doc.report.verdict()}")
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        """The last line of ``render``: valid or not, and why not."""
        what = "signed PDF" if self.form == "pdf" else "QR summary" if self.text is None else "paper QR code"
        skipped_ = ", ".join(str(n) for n in _numbers(self.all_checks(), None))
        if self.valid:
            return (f"ถูกต้อง / VALID: {what} {self.name}, {len(self.documents)} printout(s)"
                    + (f" (ข้าม / skipped: {skipped_})" if skipped_ else ""))
        why = [f"failed check(s) {_named(_numbers(self.all_checks(), False))}"] if self.failed else []
        why += list(self.problems)
        if not why:
            why = [f"nothing passed that must (skipped: {skipped_})"]
        if self.text is not None and self.text.check is not None and self.text.check.ok is False:
            why.append("the paper does not print what its QR code signs: " + ", ".join(
                f"{f.section + ' ' if f.section else ''}{f.label}" for f in self.text.fields if f.status == "differs"))
        return f"ไม่ถูกต้อง / INVALID: {what} {self.name}: {'; '.join(why)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "form": self.form,
            "file": self.name,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "problems": list(self.problems),
            "documents": [{"source": d.source, **d.report.as_dict()} for d in self.documents],
            "paper": self.text.as_dict() if self.text is not None else None,
            "failed": _numbers(self.all_checks(), False),
            "skipped": _numbers(self.all_checks(), None),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)
