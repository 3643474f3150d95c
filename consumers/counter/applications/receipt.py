"""The electronic receipt (ใบเสร็จรับเงินอิเล็กทรอนิกส์) of a fee paid by Thai QR: one A4 page in the application's
language, typeset like the certified copy and PAdES-signed the same way (printout.sign_pdf). Printed only for a
bill settled by a verified payment notice (fees.py): its receipt number, the payment's transaction id and time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from consumers.counter.applications.fees import BILLER_ID, Bill
from consumers.counter.applications.forms import AppForm
from consumers.counter.applications.pdf import new_page, rule, when_text
from consumers.counter.applications.store import Application
from consumers.counter.printout import CounterSigner, sign_pdf
from consumers.counter.typeset import Page, cell, use_font, write_rows, write_text

__all__ = ["Receipt", "payer_name", "render_receipt_pdf", "sign_receipt", "sign_receipt_async"]


@dataclass(frozen=True)
class Receipt:
    application: Application
    bill: Bill
    form: AppForm
    agency_title: str
    officer_name: str
    officer_id: str
    printed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def payer_name(app: Application) -> str:
    """Who paid: the applicant's name as the application holds it (a person's, else a company's)."""
    values = {name: v.value for name, v in app.values.items()}
    if values.get("first_name"):
        return f"{values.get('title', '')}{values['first_name']} {values.get('last_name', '')}".strip()
    return values.get("company_name", "")


def render_receipt_pdf(receipt: Receipt, signer: CounterSigner) -> bytes:
    """The unsigned receipt. Raises ValueError for a bill that is not paid (the view never asks for one)."""
    app, bill, lang = receipt.application, receipt.bill, receipt.application.lang
    if not bill.paid:
        raise ValueError(f"bill {bill.ref1} is not paid")

    def tr(th: str, en: str) -> str:
        return th if lang == "th" else en

    title = tr("ใบเสร็จรับเงินอิเล็กทรอนิกส์", "Electronic receipt")
    pdf: Page = new_page(f"{title} {bill.receipt_no}", lang, receipt.officer_name, receipt.agency_title,
                         receipt.printed_at, footer=f"{title} {bill.receipt_no}")
    use_font(pdf, 12, bold=True)
    cell(pdf, 0, 6, receipt.agency_title, new_x="LMARGIN", new_y="NEXT", align="C")
    use_font(pdf, 16, bold=True)
    write_text(pdf, 0, 8, title, align="C")
    pdf.ln(1.5)
    write_rows(pdf, [
        (tr("ใบเสร็จเลขที่", "Receipt number"), bill.receipt_no),
        (tr("คำขอเลขที่", "Application number"), app.number),
        (tr("ได้รับเงินจาก", "Received from"), payer_name(app)),
        (tr("เลขประจำตัวผู้ยื่นคำขอ", "Applicant's ID"), app.subject_id),
    ], size=10.5)
    rule(pdf)
    write_rows(pdf, [
        (tr("รายการ", "For"), receipt.form.fee.label(lang) if receipt.form.fee else ""),
        (tr("จำนวนเงิน", "Amount"), tr(f"{bill.amount:,.2f} บาท", f"{bill.amount:,.2f} baht")),
        (tr("ชำระโดย", "Paid by"), tr("Thai QR Payment (ชำระค่าบริการ)", "Thai QR Payment (bill payment)")),
        (tr("เลขที่รายการชำระเงิน", "Transaction"), bill.txn_id),
        (tr("ชำระเมื่อ", "Paid on"), when_text(bill.paid_at.replace("Z", "+00:00"), lang)),
        (tr("รหัสผู้รับชำระ (Biller ID)", "Biller ID"), BILLER_ID),
        (tr("เลขอ้างอิง 1 / 2", "References 1 / 2"), f"{bill.ref1} / {bill.ref2}"),
    ], size=10.5)
    rule(pdf)
    use_font(pdf, 10)
    write_text(pdf, 0, 4.8, tr("ได้รับเงินตามรายการข้างต้นไว้ถูกต้องแล้ว เมื่อผู้ให้บริการชำระเงินแจ้งการชำระเงินที่ลงนามแล้ว"
                               " และหน่วยงานตรวจลายมือชื่อ จำนวนเงิน และเลขอ้างอิงแล้ว",
                               "The amount above was received: the payment switch's signed notice was checked for its"
                               " signature, amount and references."))
    pdf.ln(3)
    write_text(pdf, 0, 5.2, f"({receipt.officer_name})", align="C")
    use_font(pdf, 7.5)
    pdf.set_text_color(60, 60, 60)
    write_text(pdf, 0, 3.4, tr("ลงลายมือชื่ออิเล็กทรอนิกส์ (PAdES) ด้วยใบรับรองของหน่วยงาน"
                               f" พิมพ์เมื่อ {when_text(receipt.printed_at, lang)}",
                               "Signed electronically (PAdES) with the agency's certificate;"
                               f" printed {when_text(receipt.printed_at, lang)}."))
    pdf.set_text_color(0, 0, 0)
    return bytes(pdf.output())


def sign_receipt(receipt: Receipt, signer: CounterSigner) -> bytes:
    return sign_pdf(render_receipt_pdf(receipt, signer), signer, officer_name=receipt.officer_name,
                    officer_id=receipt.officer_id, location=receipt.agency_title)


async def sign_receipt_async(receipt: Receipt, signer: CounterSigner) -> bytes:
    """``sign_receipt`` in a worker thread (pyHanko's synchronous signing refuses to run in a loop)."""
    return await asyncio.to_thread(sign_receipt, receipt, signer)
