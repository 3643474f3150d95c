"""The preset zlib dictionary of paper codes "LP1" (RFC 1950 FDICT): the Thai words every certified paper repeats.

A paper's QR code is a few kilobytes of CBOR, mostly Thai labels and values in UTF-8 (three bytes a
character). zlib alone takes it to about a third; primed with these phrases (the field titles of every
document type as the hub served them on 2026-12-03, month names, the words of addresses, names and company
records) it compresses about 28 % further, measured on the sandbox's cases: a house of six with the
person's record and ID card from 1 928 to 1 391 Base45 characters (two QR codes to one), the largest
company from 1 740 to 1 275 (scripts/bench_paper.py prints both).

FROZEN: the dictionary is part of the "LP1" format. A paper printed today must decode in ten years, so
these bytes never change (tests/auditor/test_papercode.py pins their SHA-256); a new dictionary is a new
prefix ("LP2") and a new constant beside this one. The dictionary changes only the size, never what a
code says: a field title added later simply compresses less.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DICTIONARY_V1"]

_PHRASES: Final = (
    "ลงลายมือชื่อและประทับตราสำคัญของบริษัท", "กรรมการสองคนลงลายมือชื่อร่วมกันและประทับตราสำคัญของ",
    "ห้างหุ้นส่วนจำกัด", "บริษัทมหาชนจำกัด", "บริษัทจำกัด", "ยังดำเนินกิจการอยู่", "เลิกกิจการ", "การขายปลีก",
    "การผลิต", "ร้าน", "มหาวิทยาลัย", "ปริญญาตรี", "บัณฑิต", "สาขาวิชา", "กรุงเทพมหานคร", "แขวง", "เขต", "เด็กชาย",
    "เด็กหญิง", "นางสาว", "นาง", "นาย", "ผู้อาศัย", "เจ้าบ้าน (เจ้าของบ้าน)", "resident", "owner", "ชาย", "หญิง",
    "ไทย", "THA", "มีชีวิต", "ถึงแก่กรรม", "ใช้งาน", "ยกเลิก", "งานบริการ", "เลขที่เรื่อง", "ผู้ยื่นคำขอ",
    "วันเวลาที่พิมพ์", "เจ้าหน้าที่ผู้รับรอง", "เทศบาล", "สำนักงานเขต", " จังหวัด", " อำเภอ", "ตำบล", " หมู่ที่ ",
    " เวลา ", " น.", " · ", "ข้อมูลทะเบียนราษฎร", "เลขประจำตัวประชาชน", "คำนำหน้านาม", "ชื่อ", "ชื่อสกุล",
    "คำนำหน้านาม (อังกฤษ)", "ชื่อ (อังกฤษ)", "ชื่อสกุล (อังกฤษ)", "วันเกิด (พ.ศ.)", "เพศ", "สัญชาติ", "รหัสสัญชาติ",
    "สถานะบุคคล", "วันที่ถึงแก่กรรม (พ.ศ.)", "รหัสประจำบ้าน", "ที่อยู่", "ที่อยู่ (บรรทัดเดียว)", "ทะเบียนบ้าน",
    "จำนวนผู้อาศัย", "ผู้มีชื่ออยู่ในทะเบียนบ้าน", "บัตรประจำตัวประชาชน", "เลขประจำตัวประชาชนบนบัตร",
    "วันออกบัตร (พ.ศ.)", "วันบัตรหมดอายุ (พ.ศ.)", "สถานที่ออกบัตร", "สถานะบัตร",
    "หนังสือรับรองการจดทะเบียนนิติบุคคล", "เลขทะเบียนนิติบุคคล", "ชื่อนิติบุคคล", "ชื่อนิติบุคคล (อังกฤษ)",
    "ประเภทนิติบุคคล", "ประเภทนิติบุคคล (ไทย)", "วันที่จดทะเบียน (พ.ศ.)", "ทุนจดทะเบียน (บาท)", "สถานะนิติบุคคล",
    "สถานะนิติบุคคล (ไทย)", "กรรมการ / หุ้นส่วนผู้จัดการ", "อำนาจกรรมการ", "วัตถุประสงค์ (รหัส TSIC)",
    "ทะเบียนพาณิชย์ (บุคคลธรรมดา)", "เลขประจำตัวประชาชนผู้ประกอบพาณิชยกิจ", "ชื่อผู้ประกอบพาณิชยกิจ",
    "เลขทะเบียนพาณิชย์", "ชื่อที่ใช้ในการประกอบพาณิชยกิจ", "ชนิดแห่งพาณิชยกิจ (รหัส TSIC)", "สถานะ",
    "ข้อมูลวุฒิการศึกษา", "ชื่อ-ชื่อสกุล", "ชื่อ-ชื่อสกุล (อังกฤษ)", "วุฒิการศึกษา", "มกราคม", "กุมภาพันธ์",
    "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)

DICTIONARY_V1: Final = "".join(_PHRASES).encode("utf-8")
