"""Thai 13-digit identifiers: personal IDs (first digit 1-8) and juristic-person IDs (first digit 0).

The last digit is a check digit: (11 - sum_{i=1..12} d_i * (14 - i) mod 11) mod 10.
Every parser here raises only ``InvalidRequest`` (from ``linkage.errors``), with a
stable code and a message in Thai and English that says what would be right.
"""

from __future__ import annotations

import enum
from typing import NewType

from linkage.errors import InvalidRequest

__all__ = [
    "IdKind",
    "NationalId",
    "check_digit",
    "id_kind",
    "parse_id",
    "parse_officer_id",
    "with_check_digit",
]

NationalId = NewType("NationalId", str)
"""A 13-digit ID whose length, digits and check digit have been verified."""


class IdKind(enum.Enum):
    CITIZEN = "citizen"
    JURISTIC = "juristic"


_KIND_TH = {IdKind.CITIZEN: "เลขประจำตัวประชาชน", IdKind.JURISTIC: "เลขทะเบียนนิติบุคคล"}
_KIND_EN = {IdKind.CITIZEN: "a personal ID", IdKind.JURISTIC: "a juristic-person ID"}


def check_digit(first12: str) -> int:
    """The check digit for the first twelve digits of an ID."""
    if len(first12) != 12 or not first12.isascii() or not first12.isdigit():
        raise ValueError("check_digit needs exactly 12 ASCII digits")
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def with_check_digit(first12: str) -> NationalId:
    """Complete twelve digits into a valid 13-digit ID."""
    return NationalId(first12 + str(check_digit(first12)))


def id_kind(national_id: NationalId) -> IdKind:
    return IdKind.JURISTIC if national_id[0] == "0" else IdKind.CITIZEN


def parse_id(raw: str, expected: IdKind | None = None, *, what: str = "subject_id") -> NationalId:
    """Verify a 13-digit ID and, when given, that it is of the expected kind.

    Raises InvalidRequest with code ``id_wrong_length``, ``id_not_digits``,
    ``id_bad_first_digit``, ``check_digit_mismatch`` or ``id_wrong_kind``.
    """
    value = raw.strip().replace("-", "").replace(" ", "")
    if not value.isascii() or not value.isdigit():
        raise InvalidRequest(
            "id_not_digits", "เลขประจำตัวต้องเป็นตัวเลข 0-9 เท่านั้น",
            f"the ID must contain only the digits 0-9 (got {_show(raw)})", field=what,
        )
    if len(value) != 13:
        raise InvalidRequest(
            "id_wrong_length", f"เลขประจำตัวต้องมี 13 หลัก แต่ได้ {len(value)} หลัก",
            f"the ID must have 13 digits, got {len(value)}", field=what,
        )
    if value[0] == "9":
        raise InvalidRequest(
            "id_bad_first_digit", "ไม่มีเลขประจำตัวที่ขึ้นต้นด้วย 9",
            "no Thai ID begins with 9 (personal IDs begin with 1-8, juristic-person IDs with 0)", field=what,
        )
    expected_digit = check_digit(value[:12])
    if int(value[12]) != expected_digit:
        raise InvalidRequest(
            "check_digit_mismatch",
            f"เลขตรวจสอบ (หลักที่ 13) ควรเป็น {expected_digit} ไม่ใช่ {value[12]} — กรุณาตรวจเลขอีกครั้ง",
            f"check digit should be {expected_digit}, not {value[12]}: please check the number", field=what,
        )
    national_id = NationalId(value)
    kind = id_kind(national_id)
    if expected is not None and kind is not expected:
        raise InvalidRequest(
            "id_wrong_kind", f"ต้องใช้{_KIND_TH[expected]} แต่ได้{_KIND_TH[kind]}",
            f"{_KIND_EN[expected]} is needed here, but this is {_KIND_EN[kind]}", field=what,
        )
    return national_id


def parse_officer_id(raw: str) -> NationalId:
    """An officer's personal ID (the Linkage Center's AgentID). Raises InvalidRequest."""
    if not raw.strip():
        raise InvalidRequest(
            "officer_id_missing", "ต้องระบุเลขประจำตัวประชาชนของเจ้าหน้าที่ผู้ขอข้อมูล",
            "the officer's personal ID is required: the officer is accountable for the request", field="officer_id",
        )
    return parse_id(raw, IdKind.CITIZEN, what="officer_id")


def _show(raw: str) -> str:
    return repr(raw if len(raw) <= 20 else raw[:20] + "…")
