"""DOPA's civil registry (กรมการปกครอง): persons, house registrations, ID cards.

``dopa.house`` is asked for by a member's personal ID and answers the household the
person is registered in. ``dopa.card`` is served only with the citizen present; its
laser code is kept apart (table ``card_check``) and read only by ``CheckCard``.
"""

from __future__ import annotations

from linkage.ids import IdKind
from providers.registry import RECORD_INDEX, RECORD_TABLE, Registry, doc_type, field, record_query

__all__ = ["ADDRESS_FIELDS", "REGISTRY"]

ADDRESS_FIELDS = [
    field("address", "ที่อยู่", "Address", "object"),
    field("address_text", "ที่อยู่ (บรรทัดเดียว)", "Address (one line)"),
]

_PERSON = doc_type("dopa.person", "ข้อมูลทะเบียนราษฎร", "Civil registration record", IdKind.CITIZEN, [
    field("personal_id", "เลขประจำตัวประชาชน", "Personal ID"),
    field("title", "คำนำหน้านาม", "Title (Thai)"),
    field("first_name_th", "ชื่อ", "First name (Thai)"),
    field("last_name_th", "ชื่อสกุล", "Last name (Thai)"),
    field("title_en", "คำนำหน้านาม (อังกฤษ)", "Title"),
    field("first_name_en", "ชื่อ (อังกฤษ)", "First name"),
    field("last_name_en", "ชื่อสกุล (อังกฤษ)", "Last name"),
    field("birth_date", "วันเกิด (พ.ศ.)", "Date of birth (BE, YYYYMMDD)"),
    field("sex", "เพศ", "Sex (male / female)"),
    field("nationality", "สัญชาติ", "Nationality (Thai)"),
    field("nationality_code", "รหัสสัญชาติ", "Nationality (ISO 3166 alpha-3)"),
    field("status", "สถานะบุคคล", "Status (alive / deceased)"),
    field("death_date", "วันที่ถึงแก่กรรม (พ.ศ.)", "Date of death (BE, YYYYMMDD; null when alive)"),
    field("house_code", "รหัสประจำบ้าน", "House code"),
    *ADDRESS_FIELDS,
])

_HOUSE = doc_type("dopa.house", "ทะเบียนบ้าน", "House registration", IdKind.CITIZEN, [
    field("house_code", "รหัสประจำบ้าน", "House code"),
    *ADDRESS_FIELDS,
    field("member_count", "จำนวนผู้อาศัย", "Number of members", "integer"),
    field("members", "ผู้มีชื่ออยู่ในทะเบียนบ้าน", "Registered members (personal_id, name, role)", "array"),
])

_CARD = doc_type("dopa.card", "บัตรประจำตัวประชาชน", "National ID card", IdKind.CITIZEN, [
    field("card_id", "เลขประจำตัวประชาชนบนบัตร", "Card number (the personal ID)"),
    field("title", "คำนำหน้านาม", "Title (Thai)"),
    field("first_name_th", "ชื่อ", "First name (Thai)"),
    field("last_name_th", "ชื่อสกุล", "Last name (Thai)"),
    field("issue_date", "วันออกบัตร (พ.ศ.)", "Date of issue (BE, YYYYMMDD)"),
    field("expiry_date", "วันบัตรหมดอายุ (พ.ศ.)", "Date of expiry (BE, YYYYMMDD)"),
    field("issued_at", "สถานที่ออกบัตร", "Issuing office"),
    field("status", "สถานะบัตร", "Status (active / voided)"),
], requires_citizen_present=True)

REGISTRY = Registry(
    name="dopa",
    member="TH/GOV/DOPA/civil-registry",
    title_th="กรมการปกครอง — ทะเบียนราษฎร",
    title_en="Department of Provincial Administration — civil registry",
    doc_types={t.code: t for t in (_PERSON, _HOUSE, _CARD)},
    queries={
        "dopa.person": record_query("dopa.person"),
        "dopa.card": record_query("dopa.card"),
        "dopa.house": "SELECT h.data FROM house_member AS m JOIN house AS h ON h.house_code = m.house_code"
                      " WHERE m.subject_id = ?",
    },
    schema=(
        RECORD_TABLE,
        "CREATE TABLE house (house_code TEXT NOT NULL, data TEXT NOT NULL)",
        "CREATE TABLE house_member (subject_id TEXT NOT NULL, house_code TEXT NOT NULL)",
        # What the card shows and the laser code on its back; active is 1 for a card in use.
        "CREATE TABLE card_check (subject_id TEXT NOT NULL, first_name_th TEXT NOT NULL, last_name_th TEXT NOT NULL,"
        " birth_date TEXT NOT NULL, laser_code TEXT NOT NULL, active INTEGER NOT NULL)",
    ),
    indexes=(
        RECORD_INDEX,
        "CREATE UNIQUE INDEX house_key ON house (house_code)",
        "CREATE UNIQUE INDEX house_member_key ON house_member (subject_id)",
        "CREATE UNIQUE INDEX card_check_key ON card_check (subject_id)",
    ),
    checks_cards=True,
)
