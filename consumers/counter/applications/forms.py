"""Application forms (แบบคำขอ): one TOML file per service, ``manuals/forms/<service>.toml`` beside its manual.

    [title]            th, en: the form's title in both languages
    [declaration]      th, en: what the citizen confirms when they sign
    [[fields]]         one per value, in the order the form shows them:
        name           a-z, 0-9, _ (the value's key in the store)
        th, en         the label in both languages
        kind           text, date, integer, phone, id13, choice or bank_account
        doc_type       and field: the linkage document and its data field that fill it (a prefilled value, traced
                       to the sealed printout it came from); the document must be one the manual fetches
        citizen = true or else the citizen writes it at the counter (the officer types what they say)
        required       default true
        max_length     text only (default 200)
        min, max       integer only
        past = true    date only: not after today
        [[fields.choices]] value, th, en (choice only)
        help_th, help_en  optional, both or neither
    [fee]              optional: th, en (what is paid for) and amount = "20.00" (baht, two decimals): the fee
                       paid by Thai QR once the application is submitted (a service without it charges none)

Every text a citizen reads is given in Thai and in English, and a form that lacks one is refused: the same
rule the manuals follow for their names. ``load_forms`` raises only ``ManualError`` (file, line, problem),
so a mistake made by staff stops the counter at start instead of showing a wrong form to citizens.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from consumers.counter.errors import ManualError
from consumers.counter.manuals import Manual

__all__ = ["FORMS", "KINDS", "AppForm", "Choice", "FormFee", "FormField", "load_form", "load_forms"]

KINDS: Final = ("text", "date", "integer", "phone", "id13", "choice", "bank_account")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FIELD_KEYS: Final = {"name", "th", "en", "kind", "doc_type", "field", "citizen", "required", "max_length", "min",
                      "max", "past", "choices", "help_th", "help_en"}
_TOP: Final = {"title", "declaration", "fields", "fee"}


@dataclass(frozen=True)
class Choice:
    value: str
    th: str
    en: str


@dataclass(frozen=True)
class FormField:
    """One value of a form: prefilled from ``doc_type``/``field`` of a printout, or written by the citizen."""

    name: str
    th: str
    en: str
    kind: str
    doc_type: str | None = None
    field: str | None = None
    required: bool = True
    max_length: int = 200
    min: int | None = None
    max: int | None = None
    past: bool = False
    choices: tuple[Choice, ...] = ()
    help_th: str = ""
    help_en: str = ""

    @property
    def prefilled(self) -> bool:
        return self.doc_type is not None

    def label(self, lang: str) -> str:
        return self.th if lang == "th" else self.en

    def help(self, lang: str) -> str:
        return self.help_th if lang == "th" else self.help_en


@dataclass(frozen=True)
class FormFee:
    """The fee of a service, paid once its application is submitted."""

    th: str
    en: str
    amount: Decimal

    def label(self, lang: str) -> str:
        return self.th if lang == "th" else self.en


@dataclass(frozen=True)
class AppForm:
    """A service's application form, as its file says it."""

    service_id: str
    path: Path
    title_th: str
    title_en: str
    declaration_th: str
    declaration_en: str
    fields: tuple[FormField, ...]
    fee: FormFee | None = None

    def title(self, lang: str) -> str:
        return self.title_th if lang == "th" else self.title_en

    def declaration(self, lang: str) -> str:
        return self.declaration_th if lang == "th" else self.declaration_en

    @property
    def doc_types(self) -> tuple[str, ...]:
        """The linkage documents that fill this form, once each, in the form's order."""
        return tuple(dict.fromkeys(f.doc_type for f in self.fields if f.doc_type is not None))


FORMS = web.AppKey("counter_forms", dict[str, AppForm])


def load_forms(folder: Path, manuals: Mapping[str, Manual]) -> dict[str, AppForm]:
    """The form of every manual that has one (``folder/<service>.toml``), keyed by service. A form file without a
    manual, or a form naming a document its manual does not fetch, is refused. Raises ManualError."""
    forms: dict[str, AppForm] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        manual = manuals.get(path.stem)
        if manual is None:
            raise ManualError(path, 1, f"ไม่มีคู่มือ {path.stem}.toml สำหรับแบบคำขอนี้ / no manual {path.stem}.toml"
                                       f" for this form; known: {', '.join(manuals)}")
        forms[manual.id] = load_form(path, manual)
    return forms


def load_form(path: Path, manual: Manual) -> AppForm:
    """One form file, checked against its manual. Raises ManualError naming the file, the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ManualError(path, 0, f"อ่านไฟล์ไม่ได้ / cannot read the file: {type(exc).__name__}") from exc
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        raise ManualError(path, int(found.group(1)) if found else 0,
                          f"ไม่ใช่ TOML ที่ถูกต้อง / not valid TOML: {exc}") from exc
    return _Reader(path, text, manual).form(raw)


class _Reader:
    def __init__(self, path: Path, text: str, manual: Manual) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.manual = manual

    def fail(self, line: int, problem: str) -> ManualError:
        return ManualError(self.path, line, problem)

    def line_of(self, pattern: str) -> int:
        found = re.compile(pattern)
        return next((i for i, line in enumerate(self.lines, start=1) if found.search(line)), 1)

    def both(self, raw: Mapping[str, Any], what: str, line: int, th: str = "th", en: str = "en") -> tuple[str, str]:
        values = []
        for key, language_th, language_en in ((th, "ภาษาไทย", "Thai"), (en, "ภาษาอังกฤษ", "English")):
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                raise self.fail(line, f"{what}: ขาดข้อความ{language_th} ({key})"
                                      f" / missing its {language_en} text ({key})")
            values.append(value.strip())
        return values[0], values[1]

    def form(self, raw: dict[str, Any]) -> AppForm:
        for key in raw:
            if key not in _TOP:
                raise self.fail(self.line_of(rf"^\s*\[?\[?{re.escape(key)}\b"),
                                f"ไม่รู้จักหัวข้อ {key!r} / unknown key {key!r}; allowed: {', '.join(sorted(_TOP))}")
        for part in ("title", "declaration"):
            if not isinstance(raw.get(part), dict):
                raise self.fail(1, f"ขาด [{part}] / missing the table [{part}] (th, en)")
        title = self.both(raw["title"], "title", self.line_of(r"^\s*\[title\]"))
        declaration = self.both(raw["declaration"], "declaration", self.line_of(r"^\s*\[declaration\]"))
        rows = raw.get("fields")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise self.fail(1, "ต้องมีอย่างน้อยหนึ่งช่อง [[fields]] / a form needs one or more [[fields]]")
        fields = [self.field(row) for row in rows]
        names = [f.name for f in fields]
        for name in names:
            if names.count(name) > 1:
                raise self.fail(self.line_of(rf'^\s*name\s*=\s*"{name}"'),
                                f"ชื่อช่อง {name!r} ซ้ำ / the field name {name!r} is used twice")
        return AppForm(service_id=self.manual.id, path=self.path, title_th=title[0], title_en=title[1],
                       declaration_th=declaration[0], declaration_en=declaration[1], fields=tuple(fields),
                       fee=self.fee(raw["fee"]) if "fee" in raw else None)

    def fee(self, raw: Any) -> FormFee:
        line = self.line_of(r"^\s*\[fee\]")
        if not isinstance(raw, dict) or set(raw) != {"th", "en", "amount"}:
            raise self.fail(line, "[fee] มี th, en และ amount / [fee] has exactly th, en and amount")
        th, en = self.both(raw, "fee", line)
        try:
            amount = Decimal(raw["amount"]) if isinstance(raw["amount"], str) else Decimal("NaN")
            valid = amount.is_finite() and amount.as_tuple().exponent == -2 and Decimal("0.01") <= amount
        except InvalidOperation:
            valid = False
        if not valid:
            raise self.fail(line, f"ค่าธรรมเนียมต้องเป็นจำนวนบาท ทศนิยมสองตำแหน่ง เช่น \"20.00\" / the amount must be baht"
                                  f" with two decimals, e.g. \"20.00\"; got {raw['amount']!r}")
        return FormFee(th, en, amount)

    def field(self, row: Mapping[str, Any]) -> FormField:
        name = row.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise self.fail(self.line_of(r"^\s*\[\[fields\]\]"),
                            f"ชื่อช่องต้องเป็น a-z 0-9 _ / a field's name must be a-z, 0-9 and _, got {name!r}")
        line = self.line_of(rf'^\s*name\s*=\s*"{name}"')
        for key in row:
            if key not in _FIELD_KEYS:
                raise self.fail(line, f"{name}: ไม่รู้จักหัวข้อ {key!r} / unknown key {key!r};"
                                      f" allowed: {', '.join(sorted(_FIELD_KEYS))}")
        th, en = self.both(row, f"ช่อง / field {name}", line)
        kind = row.get("kind")
        if kind not in KINDS:
            raise self.fail(line, f"{name}: kind ต้องเป็นหนึ่งใน / kind must be one of {', '.join(KINDS)};"
                                  f" got {kind!r}")
        doc_type, source, citizen = row.get("doc_type"), row.get("field"), row.get("citizen")
        if (doc_type is None) != (source is None) or (doc_type is None) == (citizen is not True):
            raise self.fail(line, f"{name}: ต้องระบุ doc_type กับ field (กรอกจากเอกสารในระบบเชื่อมโยง) หรือ"
                                  f" citizen = true (ผู้ยื่นกรอกเอง) อย่างใดอย่างหนึ่ง / give either doc_type and field"
                                  f" (filled from a linkage document) or citizen = true (written by the citizen)")
        if doc_type is not None and doc_type not in self.manual.linked_doc_types:
            raise self.fail(line, f"{name}: คู่มือไม่ได้ดึงเอกสาร {doc_type!r} / the manual does not fetch"
                                  f" {doc_type!r}; it fetches {', '.join(self.manual.linked_doc_types)}")
        if source is not None and (not isinstance(source, str) or not _NAME.match(source)):
            raise self.fail(line, f"{name}: field must name a field of {doc_type}, got {source!r}")
        choices = tuple(self.choice(name, line, c) for c in row.get("choices", []))
        if (kind == "choice") != bool(choices):
            raise self.fail(line, f"{name}: ช่องแบบ choice ต้องมี [[fields.choices]] และช่องอื่นต้องไม่มี"
                                  f" / a choice field needs [[fields.choices]], and only a choice field may have them")
        help_th, help_en = ("", "")
        if "help_th" in row or "help_en" in row:
            help_th, help_en = self.both(row, f"help of {name}", line, "help_th", "help_en")
        return FormField(
            name=name, th=th, en=en, kind=kind, doc_type=doc_type, field=source,
            required=self.flag(row, "required", line, default=True), max_length=self.number(row, "max_length", line)
            or 200, min=self.number(row, "min", line), max=self.number(row, "max", line),
            past=self.flag(row, "past", line, default=False), choices=choices, help_th=help_th, help_en=help_en)

    def choice(self, name: str, line: int, raw: Any) -> Choice:
        if not isinstance(raw, dict) or not isinstance(raw.get("value"), str) or set(raw) - {"value", "th", "en"}:
            raise self.fail(line, f"{name}: each choice is value, th, en")
        th, en = self.both(raw, f"choice {raw['value']!r} of {name}", line)
        return Choice(raw["value"], th, en)

    def flag(self, row: Mapping[str, Any], key: str, line: int, *, default: bool) -> bool:
        value = row.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(line, f"{row['name']}: {key} must be true or false")
        return value

    def number(self, row: Mapping[str, Any], key: str, line: int) -> int | None:
        value = row.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.fail(line, f"{row['name']}: {key} must be a whole number")
        return value
