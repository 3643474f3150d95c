"""The Department of Business Development's registry (กรมพัฒนาธุรกิจการค้า): companies and sole traders.

``dbd.juristic`` is keyed by the 13-digit juristic-person ID; ``dbd.commerce`` (a sole
trader's commercial registration) by the owner's personal ID.
"""

from __future__ import annotations

from linkage.ids import IdKind
from providers.dopa import ADDRESS_FIELDS
from providers.registry import RECORD_INDEX, RECORD_TABLE, Registry, doc_type, field, record_query

__all__ = ["REGISTRY"]

_JURISTIC = doc_type("dbd.juristic", "หนังสือรับรองการจดทะเบียนนิติบุคคล", "Company registration certificate",
                     IdKind.JURISTIC, [
    field("juristic_id", "เลขทะเบียนนิติบุคคล", "Juristic-person ID"),
    field("name_th", "ชื่อนิติบุคคล", "Name (Thai)"),
    field("name_en", "ชื่อนิติบุคคล (อังกฤษ)", "Name"),
    field("type", "ประเภทนิติบุคคล", "Type (company_limited / limited_partnership / public_company_limited)"),
    field("type_th", "ประเภทนิติบุคคล (ไทย)", "Type (Thai)"),
    field("registration_date", "วันที่จดทะเบียน (พ.ศ.)", "Date of registration (BE, YYYYMMDD)"),
    field("capital", "ทุนจดทะเบียน (บาท)", "Registered capital (baht)", "number"),
    field("status", "สถานะนิติบุคคล", "Status (active / dissolved / bankrupt)"),
    field("status_th", "สถานะนิติบุคคล (ไทย)", "Status (Thai)"),
    *ADDRESS_FIELDS,
    field("directors", "กรรมการ / หุ้นส่วนผู้จัดการ", "Directors (personal_id, name_th)", "array"),
    field("signing_rule", "อำนาจกรรมการ", "Who may sign for it"),
    field("objectives", "วัตถุประสงค์ (รหัส TSIC)", "Objectives (TSIC 2009 code, description)", "array"),
])

_COMMERCE = doc_type("dbd.commerce", "ทะเบียนพาณิชย์ (บุคคลธรรมดา)", "Commercial registration (sole trader)",
                     IdKind.CITIZEN, [
    field("personal_id", "เลขประจำตัวประชาชนผู้ประกอบพาณิชยกิจ", "Owner's personal ID"),
    field("owner_name_th", "ชื่อผู้ประกอบพาณิชยกิจ", "Owner's name (Thai)"),
    field("registration_no", "เลขทะเบียนพาณิชย์", "Registration number"),
    field("shop_name", "ชื่อที่ใช้ในการประกอบพาณิชยกิจ", "Trading name"),
    field("business", "ชนิดแห่งพาณิชยกิจ (รหัส TSIC)", "Line of business (TSIC 2009 code, description)", "object"),
    *ADDRESS_FIELDS,
    field("registration_date", "วันที่จดทะเบียน (พ.ศ.)", "Date of registration (BE, YYYYMMDD)"),
    field("status", "สถานะ", "Status (active / cancelled)"),
])

REGISTRY = Registry(
    name="dbd",
    member="TH/GOV/DBD/business-registry",
    title_th="กรมพัฒนาธุรกิจการค้า — ทะเบียนธุรกิจ",
    title_en="Department of Business Development — business registry",
    doc_types={t.code: t for t in (_JURISTIC, _COMMERCE)},
    queries={code: record_query(code) for code in ("dbd.juristic", "dbd.commerce")},
    schema=(RECORD_TABLE,),
    indexes=(RECORD_INDEX,),
)
