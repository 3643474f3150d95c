"""A form field's value: taken from a sealed printout, read from a form post, and shown in either language.

Values are stored in one canonical text form whatever the language they were written in: a date as
``YYYY-MM-DD`` (Gregorian), a phone number, ID or account number as its digits, an integer as its digits.
The Thai form reads and shows dates in the Buddhist era (5/3/2510, "5 มีนาคม 2510"), the English form in the
Gregorian era (5/3/1967, "5 March 1967"); the registries' own dates are Buddhist-era ``YYYYMMDD``.

``parse`` raises only ``FieldProblem``, whose Thai and English messages say what is expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from consumers.counter.applications.forms import AppForm, FormField
from consumers.counter.display import BANGKOK, THAI_MONTHS
from consumers.counter.store import DocSlot
from linkage.errors import InvalidRequest
from linkage.ids import parse_id

__all__ = ["FieldProblem", "Filled", "date_text", "parse", "prefill", "shown", "typed"]

_EN_MONTHS: Final = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                     "October", "November", "December")
_DATE: Final = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})\s*$")
_BE: Final = 543


class FieldProblem(Exception):
    """A value the form cannot take; the messages say what is expected, in Thai and in English."""

    def __init__(self, th: str, en: str) -> None:
        super().__init__(en)
        self.th = th
        self.en = en

    def message(self, lang: str) -> str:
        return self.th if lang == "th" else self.en


@dataclass(frozen=True)
class Filled:
    """A value and where it came from: ``printout`` (doc_type, field, printout_id of the sealed printout that
    holds it), ``citizen`` (written by the citizen at the counter) or ``officer`` (a prefilled field whose
    document could not be fetched, typed by the officer from the paper the citizen brought)."""

    value: str
    source: str
    doc_type: str = ""
    field: str = ""
    printout_id: str = ""


def prefill(form: AppForm, slots: Mapping[str, DocSlot]) -> dict[str, Filled]:
    """The values the case's fetched printouts give, by field name. A field whose document was not fetched, or
    whose value the registry left empty, is not in the answer (the officer fills it from paper)."""
    out: dict[str, Filled] = {}
    for f in form.fields:
        if f.doc_type is None or f.field is None:
            continue
        slot = slots.get(f.doc_type)
        if slot is None or not slot.fetched:
            continue
        data = slot.payload.get("data", {})
        value = _canonical(f, data.get(f.field)) if isinstance(data, Mapping) else ""
        if value:
            out[f.name] = Filled(value, "printout", f.doc_type, f.field, slot.printout_id)
    return out


def _canonical(f: FormField, value: Any) -> str:
    """A registry value in the form's canonical text (a Buddhist-era YYYYMMDD date becomes YYYY-MM-DD)."""
    if value is None or isinstance(value, Mapping | list):
        return ""
    text = str(value).strip()
    if f.kind == "date" and len(text) == 8 and text.isdigit():
        try:
            return dt.date(int(text[:4]) - _BE, int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            return ""
    return text


def parse(f: FormField, raw: str, lang: str, today: dt.date | None = None) -> str:
    """The canonical value of what was typed into ``f`` on a form in ``lang`` ("" for an empty optional field).
    Raises FieldProblem saying what is expected."""
    text = raw.strip()
    if not text:
        if f.required:
            raise FieldProblem(f"กรุณากรอก{f.th}", f"Please fill in {f.en.lower()}.")
        return ""
    if f.kind == "text":
        if len(text) > f.max_length:
            raise FieldProblem(f"ยาวได้ไม่เกิน {f.max_length} ตัวอักษร (กรอกมา {len(text)})",
                               f"At most {f.max_length} characters (this has {len(text)}).")
        return text
    if f.kind == "date":
        return _parse_date(f, text, lang, today or dt.datetime.now(BANGKOK).date())
    digits = text.replace("-", "").replace(" ", "")  # 081-234-5678, 1-1017-00230-70-8
    if f.kind == "integer":
        digits = text.replace(",", "").replace(" ", "")  # 12,000; a minus sign stays and is refused
        if not digits.isascii() or not digits.isdigit():
            raise FieldProblem("กรอกเป็นจำนวนเต็มด้วยตัวเลข 0-9 เช่น 12000", "A whole number in digits 0-9, e.g. 12000.")
        number = int(digits)
        if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
            low, high = f.min if f.min is not None else 0, f.max
            raise FieldProblem(f"ต้องอยู่ระหว่าง {low:,} ถึง {high:,}" if high is not None else f"ต้องไม่น้อยกว่า {low:,}",
                               f"Must be between {low:,} and {high:,}." if high is not None
                               else f"Must be at least {low:,}.")
        return str(number)
    if f.kind == "phone":
        if not digits.isascii() or not digits.isdigit() or not re.fullmatch(r"0\d{8,9}", digits):
            raise FieldProblem("หมายเลขโทรศัพท์ 9 หรือ 10 หลัก ขึ้นต้นด้วย 0 เช่น 0812345678",
                               "A Thai phone number: 9 or 10 digits starting with 0, e.g. 0812345678.")
        return digits
    if f.kind == "bank_account":
        if not digits.isascii() or not digits.isdigit() or not 10 <= len(digits) <= 12:
            raise FieldProblem(f"เลขที่บัญชีธนาคาร 10 ถึง 12 หลัก (กรอกมา {len(digits)} หลัก)",
                               f"A bank account number of 10 to 12 digits (this has {len(digits)}).")
        return digits
    if f.kind == "id13":
        try:
            return str(parse_id(text))
        except InvalidRequest as err:
            raise FieldProblem(err.message_th, _sentence(err.message_en)) from err
    if f.kind == "choice":
        for c in f.choices:
            if text == c.value:
                return c.value
        raise FieldProblem("เลือกได้เฉพาะ: " + ", ".join(c.th for c in f.choices),
                           "Choose one of: " + ", ".join(c.en for c in f.choices) + ".")
    raise AssertionError(f"unknown kind {f.kind}")  # load_form accepts only KINDS


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _parse_date(f: FormField, text: str, lang: str, today: dt.date) -> str:
    found = _DATE.match(text)
    if not found:
        # Each message is shown only on its own language's form, so each names that form's era.
        raise FieldProblem("วันที่ในรูปแบบ วว/ดด/ปปปป ปีพุทธศักราช เช่น 5/3/2510",
                           "A date as DD/MM/YYYY, Gregorian year, e.g. 5/3/1967.")
    day, month, year = (int(g) for g in found.groups())
    if lang == "th":
        if not 2400 <= year <= 2700:
            raise FieldProblem(f"ปี {year} ไม่ใช่ปีพุทธศักราช กรอกปี พ.ศ. เช่น 2510",
                               f"{year} is not a Buddhist-era year; give the BE year, e.g. 2510.")
        year -= _BE
    elif not 1857 <= year <= 2157:
        raise FieldProblem(f"ปี {year} ไม่ใช่ปีคริสต์ศักราช กรอกปี ค.ศ. เช่น 1967",
                           f"{year} is not a Gregorian year; give the year CE, e.g. 1967.")
    try:
        when = dt.date(year, month, day)
    except ValueError:
        raise FieldProblem(f"ไม่มีวันที่ {day}/{month} ในปฏิทิน", f"There is no day {day}/{month} in the calendar.") \
            from None
    if f.past and when > today:
        raise FieldProblem("วันที่ต้องไม่เลยวันนี้", "The date cannot be after today.")
    return when.isoformat()


def date_text(iso: str, lang: str) -> str:
    """A canonical date in words: "5 มีนาคม 2510" in Thai, "5 March 1967" in English."""
    try:
        when = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    if lang == "th":
        return f"{when.day} {THAI_MONTHS[when.month - 1]} {when.year + _BE}"
    return f"{when.day} {_EN_MONTHS[when.month - 1]} {when.year}"


def typed(f: FormField, value: str, lang: str) -> str:
    """A canonical value as it is typed into the form of ``lang`` (a date as d/m/yyyy in that language's era)."""
    if f.kind == "date" and value:
        try:
            when = dt.date.fromisoformat(value)
        except ValueError:
            return value
        return f"{when.day}/{when.month}/{when.year + (_BE if lang == 'th' else 0)}"
    return value


def shown(f: FormField, value: str, lang: str) -> str:
    """A canonical value as the form and the PDF of ``lang`` show it."""
    if not value:
        return "—"
    if f.kind == "date":
        return date_text(value, lang)
    if f.kind == "choice":
        return next((c.th if lang == "th" else c.en for c in f.choices if c.value == value), value)
    if f.kind == "integer":
        return f"{int(value):,}"
    return value
