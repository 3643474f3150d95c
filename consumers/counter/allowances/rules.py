"""The allowances' rules as data (manuals/allowances/rates.toml): each allowance's monthly amount by age, the age
it starts at, and the municipality's area; and the month a run pays, as officers write it (Buddhist era).

``load_rules(path, services)`` raises ManualError naming the file and the problem (the counter refuses to start with
a wrong file, as with a manual); ``parse_month(text)`` raises BadMonth with a Thai and an English message saying
what is expected.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from consumers.counter.display import THAI_MONTHS
from consumers.counter.errors import BadForm, ManualError

__all__ = ["Allowance", "BadMonth", "Month", "Rules", "load_rules", "parse_month"]

_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
_MONTH = re.compile(r"\s*(\d{4})\s*[-/]\s*(\d{1,2})\s*")


class BadMonth(BadForm):
    """The month of a run is not a Buddhist-era year and month."""


@dataclass(frozen=True, order=True)
class Month:
    """A month a run pays for: ``text`` is its key, "2569-12" (Buddhist era)."""

    year_be: int
    month: int

    @property
    def text(self) -> str:
        return f"{self.year_be}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year_be - 543, self.month, 1)

    def label(self, lang: str) -> str:
        if lang == "th":
            return f"{THAI_MONTHS[self.month - 1]} {self.year_be}"
        return f"{_EN_MONTHS[self.month - 1]} {self.year_be - 543}"


def parse_month(text: str) -> Month:
    """The month in "2569-12" (Buddhist-era year, month). Raises BadMonth saying what is expected."""
    found = _MONTH.fullmatch(text or "")
    if found is None:
        raise BadMonth("month_malformed", f"เดือนที่จ่ายต้องเขียนเป็น ปี พ.ศ.-เดือน เช่น 2569-12 (ได้รับ {text[:20]!r})",
                       f"The month paid is written Buddhist-era year-month, e.g. 2569-12 (got {text[:20]!r}).")
    year, month = int(found.group(1)), int(found.group(2))
    if 1900 <= year <= 2199:
        raise BadMonth("month_not_buddhist_era", f"ปี {year} เป็นปีคริสต์ศักราช กรุณาใช้ปีพุทธศักราช ({year + 543})",
                       f"{year} is a Gregorian year; write the Buddhist-era year ({year + 543}).")
    if not 2500 <= year <= 2700 or not 1 <= month <= 12:
        raise BadMonth("month_out_of_range", "ปี พ.ศ. ต้องอยู่ระหว่าง 2500 ถึง 2700 และเดือนระหว่าง 1 ถึง 12",
                       "The Buddhist-era year is from 2500 to 2700 and the month from 1 to 12.")
    return Month(year, month)


@dataclass(frozen=True)
class Allowance:
    service_id: str
    th: str
    en: str
    min_age: int
    rates: tuple[tuple[int, Decimal], ...]  # (from_age, baht a month), by age

    def name(self, lang: str) -> str:
        return self.th if lang == "th" else self.en

    def purpose(self, month: Month) -> str:
        """Why the run reads a recipient's records, as the hub logs it."""
        return f"จ่าย{self.th} ประจำเดือน{month.label('th')}"

    def amount(self, birth: dt.date, month: Month) -> Decimal | None:
        """The month's amount for someone born on birth (their age on its first day); None below min_age."""
        first = month.first_day
        age = first.year - birth.year - ((first.month, first.day) < (birth.month, birth.day))
        if age < self.min_age:
            return None
        return next(baht for from_age, baht in reversed(self.rates) if age >= from_age)


@dataclass(frozen=True)
class Rules:
    province: str
    district: str
    area_th: str
    area_en: str
    allowances: Mapping[str, Allowance]

    def area(self, lang: str) -> str:
        return self.area_th if lang == "th" else self.area_en

    def inside(self, address: Mapping[str, Any]) -> bool:
        """Whether a civil-registry address (dopa.person's ``address``) is in the municipality's area."""
        return address.get("province") == self.province and address.get("district") == self.district


def load_rules(path: Path, services: Iterable[str]) -> Rules:
    """The rates file at path. Raises ManualError (a missing file, unknown keys, a service without a manual,
    rates that do not start at min_age or do not rise in age, a non-positive amount)."""
    known = set(services)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManualError(path, 0, f"อ่านไฟล์อัตราเบี้ยยังชีพไม่ได้ / cannot read the allowance rates: {exc}") from exc

    def problem(text: str) -> ManualError:
        return ManualError(path, 0, text)

    if set(raw) != {"area", "services"}:
        raise problem("ต้องมีหัวข้อ [area] และ [services.*] เท่านั้น / the file has [area] and [services.*], nothing else")
    area = raw["area"]
    if not isinstance(area, dict) or set(area) != {"province", "district", "th", "en"}:
        raise problem("[area] มี province, district, th, en / [area] has province, district, th and en")
    allowances = {}
    for service_id, spec in raw["services"].items():
        if service_id not in known:
            raise problem(f"ไม่มีคู่มือของบริการ {service_id!r} / no manual for service {service_id!r}")
        if not isinstance(spec, dict) or set(spec) != {"th", "en", "min_age", "rates"}:
            raise problem(f"[services.{service_id}] มี th, en, min_age, rates / has th, en, min_age and rates")
        try:
            rates = tuple((int(r["from_age"]), Decimal(int(r["baht"]))) for r in spec["rates"])
            min_age = int(spec["min_age"])
        except (KeyError, TypeError, ValueError) as exc:
            raise problem(f"[services.{service_id}] rates: each is {{ from_age = N, baht = N }} ({exc})") from exc
        ages = [a for a, _ in rates]
        if not rates or ages[0] != min_age or ages != sorted(set(ages)) or any(b <= 0 for _, b in rates):
            raise problem(f"[services.{service_id}] อัตราต้องเริ่มที่ min_age อายุเรียงจากน้อยไปมาก และจำนวนเงินมากกว่า 0"
                          " / the rates start at min_age, rise in age, and pay more than 0")
        allowances[service_id] = Allowance(service_id, str(spec["th"]), str(spec["en"]), min_age, rates)
    return Rules(str(area["province"]), str(area["district"]), str(area["th"]), str(area["en"]), allowances)
