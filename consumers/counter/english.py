"""The citizen's manuals in English: ``manuals/en/<service>.toml`` holds the English text of every part of the
Thai manual beside it (criteria, agency, channels, steps and total time, documents, fees, complaints), row for
row in the same order; the name is already in both languages in the Thai file.

``load_english`` checks each English file against its Thai manual (every part, the same number of rows, a note
where the Thai row has one, the same link for an online complaint channel, no Thai text left) and returns the
manual with its texts in English, keyed by service. It raises only ``ManualError``, so a missing part stops the
counter at start. A manual without an English file is shown in Thai on the English page (a folder of manuals
from elsewhere may have none); tests/counter/test_english.py requires one for every manual shipped.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from consumers.counter.errors import ManualError
from consumers.counter.manuals import Channel, Complaint, Document, Fee, Manual, Step

__all__ = ["ENGLISH", "english_manual", "load_english"]

ENGLISH = web.AppKey("counter_manuals_en", dict[str, Manual])
_THAI = re.compile("[\u0e00-\u0e7f]")
_ROWS: dict[str, tuple[str, ...]] = {"channels": ("place", "hours"), "steps": ("text", "duration", "unit"),
                                     "fees": ("item", "amount"), "complaints": ("channel", "contact")}


def load_english(folder: Path, manuals: Mapping[str, Manual]) -> dict[str, Manual]:
    """Every manual of ``manuals`` that has ``folder/<id>.toml``, in English. Raises ManualError."""
    out = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        manual = manuals.get(path.stem)
        if manual is None:
            raise ManualError(path, 1, f"ไม่มีคู่มือภาษาไทย {path.stem}.toml / no Thai manual {path.stem}.toml for"
                                       " this English text")
        out[manual.id] = english_manual(path, manual)
    return out


def english_manual(path: Path, manual: Manual) -> Manual:
    """The manual with the English text of ``path``. Raises ManualError naming the part that is wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManualError(path, 0, f"อ่านไฟล์ไม่ได้ / cannot read the file: {exc}") from exc

    def fail(problem: str) -> ManualError:
        return ManualError(path, 1, f"ข้อความภาษาอังกฤษไม่ครบหรือไม่ตรงกับคู่มือภาษาไทย / the English text {problem}")

    def text(value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail(f"lacks {where}")
        if _THAI.search(value):
            raise fail(f"has Thai text in {where}")
        return value

    known = {"total_time", "criteria", "agency", "documents", *_ROWS}
    if unknown := set(raw) - known:
        raise fail(f"has unknown parts: {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(known))}")

    def rows(part: str, count: int) -> list[dict[str, Any]]:
        value = raw.get(part)
        if not isinstance(value, list) or len(value) != count or not all(isinstance(r, dict) for r in value):
            got = len(value) if isinstance(value, list) else 0
            raise fail(f"has {got} [[{part}]], the Thai manual {count}")
        return value

    criteria = raw.get("criteria")
    if not isinstance(criteria, list) or len(criteria) != len(manual.criteria):
        raise fail(f"has {len(criteria) if isinstance(criteria, list) else 0} criteria, the Thai manual"
                   f" {len(manual.criteria)}")
    agency = raw.get("agency")
    if not isinstance(agency, dict):
        raise fail("lacks [agency]")
    parts: dict[str, list[tuple[str, ...]]] = {}
    thai: dict[str, tuple[Any, ...]] = {"channels": manual.channels, "steps": manual.steps, "fees": manual.fees,
                                        "complaints": manual.complaints}
    for part, keys in _ROWS.items():
        found = rows(part, len(thai[part]))
        for n, row in enumerate(found, 1):
            if set(row) != set(keys):
                raise fail(f"[[{part}]] #{n} must have exactly {', '.join(keys)}")
        parts[part] = [tuple(text(row[k], f"{part} #{n}.{k}") for k in keys) for n, row in enumerate(found, 1)]
    for n, (en, th) in enumerate(zip(parts["complaints"], manual.complaints, strict=True), 1):
        if th.contact.startswith("/") and en[1] != th.contact:
            raise fail(f"complaints #{n}.contact must be the same link, {th.contact}")
    documents = []
    for n, (row, doc) in enumerate(zip(rows("documents", len(manual.documents)), manual.documents, strict=True), 1):
        if set(row) - {"name", "note"} or ("note" in row) != bool(doc.note):
            raise fail(f"[[documents]] #{n} must have a name{', and a note as the Thai row does' if doc.note else ''}")
        documents.append(Document(name=text(row["name"], f"documents #{n}.name"), doc_type=doc.doc_type,
                                  copies=doc.copies, note=text(row["note"], f"documents #{n}.note")
                                  if doc.note else ""))
    return dataclasses.replace(
        manual, agency=text(agency.get("name"), "agency.name"),
        unit=text(agency.get("unit"), "agency.unit"), law=text(agency.get("law"), "agency.law"),
        criteria=tuple(text(c, f"criteria #{n}") for n, c in enumerate(criteria, 1)),
        channels=tuple(Channel(*r) for r in parts["channels"]), steps=tuple(Step(*r) for r in parts["steps"]),
        total_time=text(raw.get("total_time"), "total_time"), documents=tuple(documents),
        fees=tuple(Fee(*r) for r in parts["fees"]), complaints=tuple(Complaint(*r) for r in parts["complaints"]))
