"""An application as a signed A4 PDF, in the language chosen for it (Thai: Buddhist-era dates; English:
Gregorian), typeset like the certified copy (consumers/counter/typeset.py: Sarabun, shaped, extractable) and
PAdES-signed the same way (printout.sign_pdf).

Every prefilled value carries a mark [n] naming the sealed printout it came from; the printouts are listed
with their ids and log indexes, and attached inside the PDF byte for byte (``<printout_id>.jws``, with its
log proof when the case had one), so an auditor traces each value to a seal offline. Every seal is checked
against the linkage CA before anything is printed: ``render_application_pdf`` raises ``SealInvalid`` (a
``PrintoutError``) for one that does not verify.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from consumers.auditor.bundle import LOG_PROOF_SUFFIX
from consumers.auditor.verify import verify_printout
from consumers.counter.applications.forms import AppForm
from consumers.counter.applications.store import Application
from consumers.counter.applications.values import date_text, shown
from consumers.counter.display import BANGKOK
from consumers.counter.manuals import Manual
from consumers.counter.printout import CounterSigner, SealInvalid, sign_pdf
from consumers.counter.typeset import Page, add_sarabun, cell, use_font, write_rows, write_text
from linkage.v1 import common_pb2

__all__ = ["ApplicationPaper", "new_page", "render_application_pdf", "rule", "sign_application",
           "sign_application_async", "when_text"]

_MARGIN = 15.0


@dataclass(frozen=True)
class ApplicationPaper:
    """What one application's PDF shows: the application, its form and manual, who printed it."""

    application: Application
    form: AppForm
    manual: Manual
    agency_title: str
    officer_name: str
    officer_id: str
    doc_types: Mapping[str, common_pb2.DocumentType] = field(default_factory=dict)
    printed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def when_text(iso: str | dt.datetime, lang: str) -> str:
    """A time in Thailand in words: Buddhist era in Thai, Gregorian in English."""
    when = dt.datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    local = when.astimezone(BANGKOK)
    day = date_text(local.date().isoformat(), lang)
    return f"{day} เวลา {local:%H:%M} น." if lang == "th" else f"{day}, {local:%H:%M} (UTC+7)"


def new_page(title: str, lang: str, officer_name: str, agency_title: str, created: dt.datetime, *,
             footer: str) -> Page:
    """An A4 document with its first page added: Sarabun, the margins of the certified copy, its metadata."""
    pdf = Page(orientation="P", unit="mm", format="A4")
    pdf.set_margins(_MARGIN, 12, _MARGIN)
    pdf.set_auto_page_break(True, margin=16)
    add_sarabun(pdf)
    pdf.set_title(title)
    pdf.set_author(f"{officer_name} ({agency_title})")
    pdf.set_creator("linkage counter")
    pdf.set_lang(lang)
    pdf.set_creation_date(created)
    pdf.footer_text = footer
    pdf.add_page()
    return pdf


def render_application_pdf(paper: ApplicationPaper, signer: CounterSigner) -> bytes:
    """The unsigned PDF of the application. Raises SealInvalid if a source printout's seal does not verify."""
    app, lang = paper.application, paper.application.lang

    def tr(th: str, en: str) -> str:
        return th if lang == "th" else en

    for p in app.printouts:
        report = verify_printout(p.jws, signer.ca_root)
        if not report.valid:
            raise SealInvalid(f"the hub's seal on printout {p.printout_id} does not verify",
                              "ตราประทับของศูนย์กลางบนเอกสารที่ใช้กรอกคำขอไม่ถูกต้อง จึงพิมพ์คำขอไม่ได้")
    pdf = new_page(f"{paper.form.title(lang)} {app.number}", lang, paper.officer_name, paper.agency_title,
                   paper.printed_at, footer=f"{tr('คำขอเลขที่', 'Application')} {app.number}")
    pdf.set_subject(tr(paper.manual.name_th, paper.manual.name_en))
    use_font(pdf, 12, bold=True)
    cell(pdf, 0, 6, paper.agency_title, new_x="LMARGIN", new_y="NEXT", align="C")
    use_font(pdf, 15, bold=True)
    write_text(pdf, 0, 7.5, paper.form.title(lang), align="C")
    pdf.ln(1.5)
    write_rows(pdf, [
        (tr("คำขอเลขที่", "Application number"), app.number),
        (tr("งานบริการ", "Service"), tr(paper.manual.name_th, paper.manual.name_en)),
        (tr("เลขที่เรื่อง", "Case number"), app.case_ref),
        (tr("ยื่นเมื่อ", "Submitted"), when_text(app.confirmed_at or app.created_at, lang)),
        (tr("เจ้าหน้าที่ผู้รับคำขอ", "Received by"), f"{paper.officer_name} ({paper.officer_id})"),
    ], size=10.5)
    # The values, each prefilled one marked with the number of the printout it came from.
    marks = {p.printout_id: n for n, p in enumerate(app.printouts, 1)}
    rows = []
    for f in paper.form.fields:
        v = app.values.get(f.name)
        value = shown(f, v.value if v is not None else "", lang)
        if v is not None and v.printout_id in marks:
            value = f"{value} [{marks[v.printout_id]}]"
        elif v is not None and v.source == "officer":
            value = f"{value} ({tr('เจ้าหน้าที่กรอกจากเอกสารที่นำมา', 'typed by the officer from paper')})"
        rows.append((f.label(lang), value))
    rule(pdf)
    use_font(pdf, 11.5, bold=True)
    write_text(pdf, 0, 6, tr("ข้อมูลในคำขอ", "Particulars"))
    write_rows(pdf, rows, size=10)
    rule(pdf)
    use_font(pdf, 11, bold=True)
    write_text(pdf, 0, 5.5, tr("ที่มาของข้อมูล: เอกสารจากระบบเชื่อมโยงข้อมูล (แนบต้นฉบับที่มีตราประทับในไฟล์นี้)",
                               "Where the values come from: sealed linkage printouts (attached in this file)"))
    use_font(pdf, 9.5)
    for p in app.printouts:
        spec = paper.doc_types.get(p.doc_type)
        title = (spec.title_th if lang == "th" else spec.title_en) if spec is not None else p.doc_type
        write_text(pdf, 0, 4.6, f"[{marks[p.printout_id]}]  {title} · {tr('เลขที่', 'printout')} {p.printout_id}"
                                f" · {tr('ลำดับในบันทึก', 'log index')} {p.log_index}")
        pdf.embed_file(bytes=p.jws.encode("ascii"), basename=f"{p.printout_id}.jws", mime_type="application/jose",
                       desc=f"{p.doc_type} sealed printout (JWS)", creation_date=paper.printed_at,
                       modification_date=paper.printed_at)
        if p.log_proof:
            pdf.embed_file(bytes=p.log_proof.encode("utf-8"), basename=f"{p.printout_id}{LOG_PROOF_SUFFIX}",
                           mime_type="application/json", desc=f"{p.doc_type} inclusion proof and checkpoint",
                           creation_date=paper.printed_at, modification_date=paper.printed_at)
    if not app.printouts:
        write_text(pdf, 0, 4.6, tr("ไม่มี (ทุกช่องกรอกด้วยมือ)", "None (every value was written by hand)"))
    rule(pdf)
    use_font(pdf, 11, bold=True)
    write_text(pdf, 0, 5.5, tr("คำยืนยันของผู้ยื่นคำขอ", "The applicant's declaration"))
    use_font(pdf, 10)
    write_text(pdf, 0, 4.8, paper.form.declaration(lang))
    if app.confirmed_at:
        write_text(pdf, 0, 4.8, tr(f"ผู้ยื่นคำขอตรวจข้อมูลและยืนยันต่อหน้าเจ้าหน้าที่ เมื่อ {when_text(app.confirmed_at, lang)}",
                                   f"The applicant checked and confirmed it before the officer on"
                                   f" {when_text(app.confirmed_at, lang)}."))
    pdf.ln(4)
    write_text(pdf, 0, 5.2, tr("(ลงชื่อ) ........................................ ผู้ยื่นคำขอ",
                               "(signed) ........................................ applicant"), align="C")
    write_text(pdf, 0, 5.2, tr("(ลงชื่อ) ........................................ เจ้าหน้าที่ผู้รับคำขอ",
                               "(signed) ........................................ receiving officer"), align="C")
    write_text(pdf, 0, 5.2, f"({paper.officer_name})", align="C")
    pdf.ln(1.5)
    use_font(pdf, 7.5)
    pdf.set_text_color(60, 60, 60)
    write_text(pdf, 0, 3.4, tr("ลงลายมือชื่ออิเล็กทรอนิกส์ (PAdES) ด้วยใบรับรองของหน่วยงานในนามของเจ้าหน้าที่ข้างต้น"
                               f" พิมพ์เมื่อ {when_text(paper.printed_at, lang)}",
                               "Signed electronically (PAdES) with the agency's certificate for the officer above;"
                               f" printed {when_text(paper.printed_at, lang)}."))
    pdf.set_text_color(0, 0, 0)
    return bytes(pdf.output())


def rule(pdf: Page) -> None:
    pdf.ln(1.5)
    pdf.set_draw_color(140, 140, 140)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.set_draw_color(0, 0, 0)
    pdf.ln(1)


def sign_application(paper: ApplicationPaper, signer: CounterSigner) -> bytes:
    """The signed PDF: ``render_application_pdf`` then ``printout.sign_pdf``. Raises PrintoutError."""
    return sign_pdf(render_application_pdf(paper, signer), signer, officer_name=paper.officer_name,
                    officer_id=paper.officer_id, location=paper.agency_title)


async def sign_application_async(paper: ApplicationPaper, signer: CounterSigner) -> bytes:
    """``sign_application`` in a worker thread (pyHanko's synchronous signing refuses to run in a loop)."""
    return await asyncio.to_thread(sign_application, paper, signer)
