"""Turning printout data into what the counter shows: labelled rows, Thai dates, readable values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from linkage.v1 import common_pb2

__all__ = ["BANGKOK", "THAI_MONTHS", "be_date", "field_rows", "issued_text", "masked_id", "value_text"]

THAI_MONTHS = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม",
               "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
BANGKOK = dt.timezone(dt.timedelta(hours=7))
# Registry codes shown in Thai on the Thai page.
_CODES_TH = {"male": "ชาย", "female": "หญิง", "alive": "มีชีวิต", "deceased": "ถึงแก่กรรม", "active": "ใช้งาน",
             "voided": "ยกเลิก", "cancelled": "ยกเลิก", "dissolved": "เลิกกิจการ", "bankrupt": "ล้มละลาย"}
# Shown by their one-line form instead, which takes their title: the registry's "ที่อยู่ (บรรทัดเดียว)" /
# "Address (one line)" names a field for programmers; the paper and the page say "ที่อยู่" / "Address".
_HIDDEN = {"address": "address_text"}


def masked_id(value: str) -> str:
    """A 13-digit ID as Thai systems show it on screen, its middle five digits hidden: "1-4601-xxxxx-65-4".
    Anything else is hidden whole."""
    if len(value) != 13 or not value.isdigit():
        return "x" * len(value)
    return f"{value[0]}-{value[1:5]}-xxxxx-{value[10:12]}-{value[12]}"


def be_date(value: str, lang: str) -> str:
    """A Buddhist-era YYYYMMDD date in words ("5 มีนาคม 2510"); anything else unchanged."""
    if len(value) != 8 or not value.isdigit():
        return value
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return value
    if lang == "th":
        return f"{day} {THAI_MONTHS[month - 1]} {year}"
    return f"{day} {_EN_MONTHS[month - 1]} {year} BE ({year - 543} CE)"


def issued_text(rfc3339: str, lang: str) -> str:
    """An RFC 3339 UTC time as Bangkok time, with a Buddhist-era year in Thai."""
    try:
        when = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(BANGKOK)
    except ValueError:
        return rfc3339
    if lang == "th":
        return f"{when.day} {THAI_MONTHS[when.month - 1]} {when.year + 543} เวลา {when:%H:%M:%S} น."
    return f"{when.day} {_EN_MONTHS[when.month - 1]} {when.year} {when:%H:%M:%S} (UTC+7)"


def value_text(name: str, value: Any, lang: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return ("ใช่" if value else "ไม่ใช่") if lang == "th" else ("yes" if value else "no")
    if isinstance(value, str):
        if name.endswith("_date"):
            return be_date(value, lang)
        return _CODES_TH.get(value, value) if lang == "th" and name in ("sex", "status") else value
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return " · ".join(value_text(k, v, lang) for k, v in value.items()
                          if not isinstance(v, Mapping | list) and not _coded(k, value, lang))
    if isinstance(value, list):
        return "\n".join(value_text(name, v, lang) for v in value)
    return str(value)


def _coded(name: str, data: Mapping[str, Any], lang: str) -> bool:
    """True for a registry code that has its Thai form beside it (``role`` and ``role_th``, ``type`` and
    ``type_th``): the Thai page shows only the Thai form, the English page only the code's."""
    if lang == "th":
        return f"{name}_th" in data
    return name.endswith("_th") and name[:-3] in data


def _shown_for(name: str, data: Mapping[str, Any], lang: str) -> str | None:
    """The field whose place ``name`` takes on the page (its title is the one a reader knows): ``address`` for
    ``address_text``; on the Thai page ``type`` for ``type_th`` (its title, not "... (ไทย)")."""
    for hidden, shown in _HIDDEN.items():
        if name == shown and hidden in data:
            return hidden
    if lang == "th" and name.endswith("_th") and name[:-3] in data:
        return name[:-3]
    return None


def field_rows(doc_type: common_pb2.DocumentType | None, data: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) pairs in the document type's field order; labels from its FieldSpec titles."""
    specs = {f.name: f for f in doc_type.fields} if doc_type is not None else {}
    order = [name for name in specs if name in data] + [name for name in data if name not in specs]
    rows = []
    for name in order:
        if (name in _HIDDEN and _HIDDEN[name] in data) or _coded(name, data, lang):
            continue
        spec = specs.get(_shown_for(name, data, lang) or name)
        label = (spec.title_th if lang == "th" else spec.title_en) if spec is not None else name
        rows.append((label, value_text(name, data[name], lang)))
    return rows
