"""Citizen's manuals (คู่มือสำหรับประชาชน): one TOML file per service, with the eight parts the cabinet names.

    (1) name            [name] th, en
    (2) agency          [agency] name, unit, law
    (3) criteria        criteria = ["…", …]: criteria, method and conditions
    (4) channels        [[channels]] place, hours
    (5) steps and time  [[steps]] text, duration, unit; total_time = "…"
    (6) documents       [[documents]] name, and doc_type = "dopa.card" (fetched through linkage)
                        or brings = true (the citizen must still bring it); copies, note optional
    (7) fees            [[fees]] item, amount
    (8) complaints      [[complaints]] channel, contact

and optionally ``[before]`` documents, steps, days: the process before the measure (the documents the
citizen brought, the steps, the total time in days), from which the reports measure the cut;
besides ``subject`` ("citizen" or "juristic": whose ID the counter asks for) and
``purpose`` (what the hub records as the purpose of each fetch). Unknown keys are
refused. ``load_manuals`` raises only ``ManualError``, naming the file, the line
and the problem, so that a mistake made by staff stops the counter at start
instead of showing a wrong list of documents to citizens.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumers.counter.errors import ManualError
from linkage.ids import IdKind

__all__ = ["DEFAULT_FOLDER", "DOC_TYPE_KINDS", "Before", "Channel", "Complaint", "Document", "Fee", "Manual", "Step",
           "load_manuals"]

DEFAULT_FOLDER = Path(__file__).resolve().parent / "manuals"

DOC_TYPE_KINDS: Mapping[str, IdKind] = {
    "dopa.person": IdKind.CITIZEN,
    "dopa.house": IdKind.CITIZEN,
    "dopa.card": IdKind.CITIZEN,
    "dbd.juristic": IdKind.JURISTIC,
    "dbd.commerce": IdKind.CITIZEN,
    "edu.degree": IdKind.CITIZEN,
}
"""The linkage document types a manual may name, with the kind of ID each is keyed by."""

_PARTS = ("name", "agency", "criteria", "channels", "steps", "documents", "fees", "complaints")
_PART_TH = {"name": "(1) ชื่อกระบวนงาน", "agency": "(2) หน่วยงานที่รับผิดชอบ",
            "criteria": "(3) หลักเกณฑ์ วิธีการ เงื่อนไข", "channels": "(4) ช่องทางการให้บริการ",
            "steps": "(5) ขั้นตอนและระยะเวลา", "documents": "(6) รายการเอกสารหลักฐาน",
            "fees": "(7) ค่าธรรมเนียม", "complaints": "(8) ช่องทางการร้องเรียน"}
_TOP = {*_PARTS, "subject", "purpose", "total_time", "order", "before"}
_TABLES: dict[str, tuple[set[str], set[str]]] = {
    # part: (required keys, optional keys)
    "name": ({"th", "en"}, set()),
    "agency": ({"name", "unit", "law"}, set()),
    "channels": ({"place", "hours"}, set()),
    "steps": ({"text", "duration", "unit"}, set()),
    "documents": ({"name"}, {"doc_type", "brings", "copies", "note"}),
    "fees": ({"item", "amount"}, set()),
    "complaints": ({"channel", "contact"}, set()),
}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Channel:
    place: str
    hours: str


@dataclass(frozen=True)
class Step:
    text: str
    duration: str
    unit: str


@dataclass(frozen=True)
class Document:
    """One required document: fetched through linkage when ``doc_type`` is set, else brought by the citizen."""

    name: str
    doc_type: str | None
    copies: int = 1
    note: str = ""

    @property
    def linked(self) -> bool:
        return self.doc_type is not None


@dataclass(frozen=True)
class Fee:
    item: str
    amount: str


@dataclass(frozen=True)
class Complaint:
    channel: str
    contact: str


@dataclass(frozen=True)
class Before:
    """The process before the measure, as the office recorded it: documents the citizen brought, steps, days."""

    documents: int
    steps: int
    days: float


@dataclass(frozen=True)
class Manual:
    """One service's citizen's manual, as the file says it."""

    id: str
    path: Path
    order: int
    name_th: str
    name_en: str
    agency: str
    unit: str
    law: str
    subject: IdKind
    purpose: str
    criteria: tuple[str, ...]
    channels: tuple[Channel, ...]
    steps: tuple[Step, ...]
    total_time: str
    documents: tuple[Document, ...]
    fees: tuple[Fee, ...]
    complaints: tuple[Complaint, ...]
    before: Before | None = None

    @property
    def linked_doc_types(self) -> tuple[str, ...]:
        """The linkage document types this service fetches, once each, in the manual's order."""
        seen: dict[str, None] = {}
        for doc in self.documents:
            if doc.doc_type is not None:
                seen.setdefault(doc.doc_type)
        return tuple(seen)

    @property
    def brought(self) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if not d.linked)


def load_manuals(folder: Path) -> dict[str, Manual]:
    """Every ``*.toml`` in folder, keyed by file stem, in (order, stem) order. Raises ManualError."""
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise ManualError(folder, 0, "ไม่มีไฟล์คู่มือ (*.toml) ในโฟลเดอร์นี้ / no manual files (*.toml) in this folder")
    manuals = [load_manual(p) for p in paths]
    manuals.sort(key=lambda m: (m.order, m.id))
    return {m.id: m for m in manuals}


def load_manual(path: Path) -> Manual:
    """One manual file. Raises ManualError naming the file, the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManualError(path, 0, f"อ่านไฟล์ไม่ได้ / cannot read the file: {type(exc).__name__}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends "(at line L, column C)".
        found = re.search(r"at line (\d+)", str(exc))
        raise ManualError(path, int(found.group(1)) if found else 0,
                          f"ไม่ใช่ TOML ที่ถูกต้อง / not valid TOML: {exc}") from exc
    return _Reader(path, text).manual(raw)


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, line: int, problem: str) -> ManualError:
        return ManualError(self.path, line, problem)

    def line_of_key(self, key: str, after: int = 0) -> int:
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i, line in enumerate(self.lines[after:], start=after + 1):
            if pattern.match(line):
                return i
        return after or 1

    def line_of_table(self, part: str, index: int) -> int:
        """The line of the index-th ``[[part]]`` header (or of ``part =`` / ``[part]``)."""
        headers = [i for i, line in enumerate(self.lines, start=1)
                   if re.match(rf"^\s*\[\[?\s*{re.escape(part)}\s*\]\]?\s*(#.*)?$", line)]
        if index < len(headers):
            return headers[index]
        return self.line_of_key(part)

    def manual(self, raw: dict[str, Any]) -> Manual:
        stem = self.path.stem
        if not _ID.match(stem):
            raise self.fail(1, f"ชื่อไฟล์ต้องเป็น a-z 0-9 - / the file name must be lower-case a-z, 0-9 and '-',"
                               f" got {stem!r}")
        for key in raw:
            if key not in _TOP:
                raise self.fail(self.line_of_key(key) if key not in _TABLES else self.line_of_table(key, 0),
                                f"ไม่รู้จักหัวข้อ {key!r} / unknown key {key!r}; allowed: {', '.join(sorted(_TOP))}")
        for part in (*_PARTS, "subject", "purpose", "total_time"):
            if part not in raw:
                what = _PART_TH.get(part, part)
                raise self.fail(1, f"ขาดส่วน {what} / missing part {part!r}: a citizen's manual has eight parts"
                                   " (name, agency, criteria, channels, steps, documents, fees, complaints)"
                                   " and subject, purpose, total_time")
        subject_raw = self.text(raw, "subject")
        try:
            subject = IdKind(subject_raw)
        except ValueError:
            raise self.fail(self.line_of_key("subject"), f"subject ต้องเป็น \"citizen\" หรือ \"juristic\""
                                                         f" / subject must be \"citizen\" or \"juristic\","
                                                         f" got {subject_raw!r}") from None
        order = raw.get("order", 100)
        if not isinstance(order, int) or isinstance(order, bool):
            raise self.fail(self.line_of_key("order"), "order must be an integer")
        name = self.table(raw, "name")
        agency = self.table(raw, "agency")
        criteria = raw["criteria"]
        if not isinstance(criteria, list) or not criteria or not all(isinstance(c, str) and c.strip()
                                                                     for c in criteria):
            raise self.fail(self.line_of_key("criteria"), "criteria ต้องเป็นรายการข้อความอย่างน้อยหนึ่งข้อ"
                                                          " / criteria must be a non-empty list of strings")
        documents = tuple(self.document(i, row, subject) for i, row in enumerate(self.rows(raw, "documents")))
        return Manual(
            id=stem, path=self.path, order=order, name_th=name["th"], name_en=name["en"],
            agency=agency["name"], unit=agency["unit"], law=agency["law"], subject=subject,
            purpose=self.text(raw, "purpose"), criteria=tuple(criteria),
            channels=tuple(Channel(r["place"], r["hours"]) for r in self.rows(raw, "channels")),
            steps=tuple(Step(r["text"], r["duration"], r["unit"]) for r in self.rows(raw, "steps")),
            total_time=self.text(raw, "total_time"), documents=documents,
            fees=tuple(Fee(r["item"], r["amount"]) for r in self.rows(raw, "fees")),
            complaints=tuple(Complaint(r["channel"], r["contact"]) for r in self.rows(raw, "complaints")),
            before=self.before(raw.get("before")),
        )

    def before(self, raw: Any) -> Before | None:
        if raw is None:
            return None
        line = self.line_of_table("before", 0)
        if not isinstance(raw, dict) or set(raw) != {"documents", "steps", "days"}:
            raise self.fail(line, "[before] ต้องมี documents, steps, days / [before] needs exactly documents, steps"
                                  " and days")
        ok = all(isinstance(raw[k], int) and not isinstance(raw[k], bool) and raw[k] > 0 for k in ("documents",
                                                                                                  "steps"))
        if not ok or not isinstance(raw["days"], int | float) or isinstance(raw["days"], bool) or raw["days"] <= 0:
            raise self.fail(line, "[before] documents และ steps ต้องเป็นจำนวนเต็มบวก days เป็นจำนวนบวก"
                                  " / [before] documents and steps must be whole numbers > 0, days a number > 0")
        return Before(raw["documents"], raw["steps"], float(raw["days"]))

    def text(self, raw: Mapping[str, Any], key: str) -> str:
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(self.line_of_key(key), f"{key} ต้องเป็นข้อความที่ไม่ว่าง / {key} must be non-empty text")
        return value

    def table(self, raw: Mapping[str, Any], part: str) -> dict[str, str]:
        value = raw[part]
        if not isinstance(value, dict):
            raise self.fail(self.line_of_key(part), f"{part} ต้องเป็นตาราง [{part}] / {part} must be a table")
        return self.checked(part, 0, value)

    def rows(self, raw: Mapping[str, Any], part: str) -> list[dict[str, Any]]:
        value = raw[part]
        if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
            raise self.fail(self.line_of_table(part, 0),
                            f"{_PART_TH[part]}: ต้องมีอย่างน้อยหนึ่งรายการ [[{part}]]"
                            f" / {part} must be one or more [[{part}]] tables")
        return [self.checked(part, i, row) for i, row in enumerate(value)]

    def checked(self, part: str, index: int, row: dict[str, Any]) -> dict[str, Any]:
        required, optional = _TABLES[part]
        header = self.line_of_table(part, index)
        for key in row:
            if key not in required | optional:
                raise self.fail(self.line_of_key(key, header - 1 if header > 1 else 0),
                                f"{part}: ไม่รู้จักหัวข้อ {key!r} / unknown key {key!r} in {part};"
                                f" allowed: {', '.join(sorted(required | optional))}")
        for key in sorted(required):
            if key not in row:
                raise self.fail(header, f"{_PART_TH[part]}: ขาด {key!r} / {part} #{index + 1} is missing {key!r}")
            if not isinstance(row[key], str) or not row[key].strip():
                raise self.fail(self.line_of_key(key, header - 1 if header > 1 else 0),
                                f"{part}.{key} ต้องเป็นข้อความที่ไม่ว่าง / {part}.{key} must be non-empty text")
        return row

    def document(self, index: int, row: Mapping[str, Any], subject: IdKind) -> Document:
        header = self.line_of_table("documents", index)
        doc_type = row.get("doc_type")
        brings = row.get("brings", False)
        if (doc_type is None) == (brings is not True):
            raise self.fail(header, f"เอกสาร {row['name']!r}: ต้องระบุ doc_type (ดึงผ่านระบบเชื่อมโยง) หรือ brings = true"
                                    " (ประชาชนต้องนำมาเอง) อย่างใดอย่างหนึ่ง / each document needs exactly one of"
                                    " doc_type = \"…\" (fetched through linkage) or brings = true")
        if doc_type is not None:
            if not isinstance(doc_type, str) or doc_type not in DOC_TYPE_KINDS:
                raise self.fail(self.line_of_key("doc_type", header - 1),
                                f"ไม่รู้จักประเภทเอกสาร {doc_type!r} / unknown doc type {doc_type!r};"
                                f" known: {', '.join(DOC_TYPE_KINDS)}")
            if DOC_TYPE_KINDS[doc_type] is not subject:
                raise self.fail(self.line_of_key("doc_type", header - 1),
                                f"{doc_type} ใช้เลขประจำตัวแบบ {DOC_TYPE_KINDS[doc_type].value} แต่บริการนี้ใช้"
                                f" {subject.value} / {doc_type} is keyed by a {DOC_TYPE_KINDS[doc_type].value} ID"
                                f" but this service asks for a {subject.value} ID")
        copies = row.get("copies", 1)
        if not isinstance(copies, int) or isinstance(copies, bool) or copies < 1:
            raise self.fail(self.line_of_key("copies", header - 1), "copies must be a whole number ≥ 1")
        note = row.get("note", "")
        if not isinstance(note, str):
            raise self.fail(self.line_of_key("note", header - 1), "note must be text")
        return Document(name=row["name"], doc_type=doc_type, copies=copies, note=note)


