"""The certified printout: one A4 PDF per case, in Thai, signed PAdES by the counter agency for the officer.

``certify(case, signer)`` = ``sign_pdf(render_case_pdf(case, signer), signer, ...)``; from event-loop
code call ``await certify_async(case, signer)`` (a worker thread: pyHanko's synchronous signing refuses
to run inside a loop, and rendering is CPU-bound). ``case_claims`` makes what the page prints, once:
the header rows (``consumers.auditor.papercode.header_rows``) and every printout's fields as label/value
rows (``display.field_rows``); the page prints exactly those (Sarabun, text shaped by HarfBuzz,
Buddhist-era dates), with each printout's id and seal status, the documents the citizen must still bring,
the certification sentence naming the officer, and the QR code(s) of ``consumers.auditor.papercode``
holding the same rows signed by the agency (one code beside the certification, or a set of parts below
it). Every printout's JWS is attached inside the PDF as ``<printout_id>.jws``, byte for byte, and its log
proof, when the case has it, as ``<printout_id>.log.json`` (leaf, inclusion proof, checkpoint), so the
PDF proves itself offline.

``CounterSigner`` loads the agency key and certificate once (pyHanko ``SimpleSigner`` for the PDF, the
same key for the QR code) and reserves the signature's room so signing is one pass.

Error tree (what ``render_case_pdf``, ``certify`` and ``CounterSigner.load`` raise)::

    PrintoutError         code (stable snake_case), message (English), message_th
    ├── BadCase           bad_case        the case cannot be printed: no printout, a printout that is
    │                                     not a JWS, printouts about another subject
    ├── SealInvalid       seal_invalid    a printout's hub seal does not verify against the linkage CA:
    │                                     the officer must not certify it
    ├── SignerUnavailable signer_unavailable  the agency's certificate or key cannot be loaded, or pyHanko
    │                                     refuses it (revoked: the CA's CRL lists it)
    └── TimestampUnavailable timestamp_unavailable  the time-stamping authority did not answer, or answered
                                          with no good timestamp: nothing is certified (longterm.py)

With a ``LongTerm`` (``CounterSigner(..., long_term=...)``; ``linkage up`` gives the counter its TSA) the
signature is PAdES baseline B-LT: an RFC 3161 signature timestamp from the sandbox's TSA, then the chain and
the CA's CRL in the document security store (DSS), an incremental update after the signed revision. Without
one (tests, a counter run by hand with no TSA) it is B-B, as before 2026-12.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

import aiohttp
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko_certvalidator.errors import PathError, RevokedError, ValidationError

from consumers.auditor.bundle import LOG_PROOF_SUFFIX
from consumers.auditor.papercode import (
    PaperClaims,
    be_datetime,
    header_rows,
    make_paper_code,
    paper_doc,
    section_title,
)
from consumers.auditor.verify import verify_printout
from consumers.counter.display import field_rows
from consumers.counter.longterm import LongTerm
from consumers.counter.pageband import FOOT, Band, band_codes
from consumers.counter.typeset import Page, add_sarabun, cell, use_font, wrap, write_rows, write_text
from linkage.config import Home
from linkage.crl import crl_path
from linkage.pki import load_private_key
from linkage.seal import unverified_payload
from linkage.v1 import common_pb2

__all__ = [
    "LOG_PROOF_SUFFIX",
    "SIGNATURE_FIELD",
    "BadCase",
    "CounterSigner",
    "PrintCase",
    "PrintoutError",
    "SealInvalid",
    "SignerUnavailable",
    "TimestampUnavailable",
    "be_datetime",
    "case_claims",
    "certify",
    "certify_async",
    "render_case_pdf",
    "sign_pdf",
]

SIGNATURE_FIELD: Final = "CounterCertification"
TITLE_TH: Final = "สำเนาเอกสารจากระบบเชื่อมโยงข้อมูล"
TITLE_EN: Final = "Certified printout from the government data linkage system"
# A P-256 CMS with the agency certificate, the CA and signed attributes is ~1.9 kB; with a timestamp token
# (the TSA's certificate and the CA's inside) ~3.5 kB; room to spare.
_SIG_BYTES: Final = 8192
_MARGIN: Final = 15.0
_GENERIC_TITLE: Final = "เอกสารจากระบบเชื่อมโยงข้อมูล"


class PrintoutError(Exception):
    """Base of everything this module raises about a case or the signer."""

    code: ClassVar[str] = "printout_error"

    def __init__(self, message: str, message_th: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.message_th = message_th or message


class BadCase(PrintoutError):
    code = "bad_case"


class SealInvalid(PrintoutError):
    code = "seal_invalid"


class SignerUnavailable(PrintoutError):
    code = "signer_unavailable"


class TimestampUnavailable(PrintoutError):
    code = "timestamp_unavailable"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class PrintCase:
    """Everything one certified printout shows. ``printouts`` are the hub's compact JWS strings."""

    service_name: str
    subject_id: str
    subject_name: str
    officer_name: str
    officer_id: str
    agency_title: str
    case_ref: str
    printouts: Sequence[str]
    still_to_bring: Sequence[str] = ()
    printed_at: dt.datetime = field(default_factory=_now)
    # Titles of the document types as the hub describes them (ListServices); a type not here gets a generic title.
    doc_types: Mapping[str, common_pb2.DocumentType] = field(default_factory=dict)
    # Each printout's log proof as the hub answered it (``LogProof`` JSON: leaf, inclusion proof, checkpoint),
    # by printout id; attached beside its JWS so the PDF proves itself offline.
    log_proofs: Mapping[str, str] = field(default_factory=dict)


class CounterSigner:
    """The counter agency's signing key and certificate, loaded once; cheap to use for every case."""

    def __init__(self, cert: Path, key: Path, ca: Path, *, long_term: LongTerm | None = None) -> None:
        """Load PEM files; raises SignerUnavailable if any is missing or they do not belong together.
        ``long_term``: sign B-LT with its TSA and CRL (else B-B)."""
        self.long_term = long_term
        try:
            self.cert = x509.load_pem_x509_certificate(cert.read_bytes())
            self.ca_root = x509.load_pem_x509_certificate(ca.read_bytes())
            self.key = load_private_key(key)
            loaded = signers.SimpleSigner.load(str(key), str(cert),  # type: ignore[no-untyped-call]
                                               ca_chain_files=(str(ca),))
        except (OSError, ValueError) as exc:
            raise SignerUnavailable(f"cannot load the counter's signing certificate {cert}: {exc}",
                                    "ไม่สามารถโหลดใบรับรองสำหรับลงนามของหน่วยงานได้") from exc
        if not isinstance(loaded, signers.SimpleSigner) or self.cert.public_key() != self.key.public_key():
            raise SignerUnavailable(f"{key} does not belong to {cert}",
                                    "กุญแจลงนามไม่ตรงกับใบรับรองของหน่วยงาน")
        self._pdf_signer: signers.SimpleSigner = loaded
        try:
            self.cert.verify_directly_issued_by(self.ca_root)
        except Exception as exc:
            raise SignerUnavailable(f"{cert} is not issued by the CA {ca}",
                                    "ใบรับรองของหน่วยงานไม่ได้ออกโดยผู้ออกใบรับรองของระบบ") from exc

    @classmethod
    def from_home(cls, home: Home, agency: str, *, tsa_url: str | None = None) -> CounterSigner:
        """The agency's client certificate and key in a sandbox, with the sandbox CA; with ``tsa_url``, B-LT
        with that TSA and the CA's CRL (DIR/pki/ca.crl)."""
        paths = home.client_cert(agency)
        long_term = LongTerm(tsa_url, home.ca.cert, crl_path(home.ca)) if tsa_url else None
        return cls(paths.cert, paths.key, home.ca.cert, long_term=long_term)

    @property
    def pdf_signer(self) -> signers.SimpleSigner:
        return self._pdf_signer


def _new_pdf(case: PrintCase) -> Page:
    pdf = Page(orientation="P", unit="mm", format="A4")
    pdf.set_margins(_MARGIN, 12, _MARGIN)
    pdf.set_auto_page_break(True, margin=16)
    # One font file only: every extra face costs a font subset (~15 ms) at output; bold is drawn as
    # filled-and-stroked text instead.
    add_sarabun(pdf)
    pdf.set_title(f"{TITLE_TH} {case.case_ref}")
    pdf.set_author(f"{case.officer_name} ({case.agency_title})")
    pdf.set_subject(case.service_name)
    pdf.set_creator("linkage counter")
    pdf.set_lang("th")
    pdf.set_creation_date(case.printed_at)
    pdf.footer_text = f"{TITLE_TH} · {case.case_ref} · {case.subject_id}"
    return pdf


def _check_case(case: PrintCase) -> list[dict[str, Any]]:
    if not case.printouts:
        raise BadCase("a certified printout needs at least one fetched document",
                      "ยังไม่มีเอกสารที่ดึงได้ จึงพิมพ์สำเนารับรองไม่ได้")
    payloads = []
    for jws in case.printouts:
        try:
            payload = unverified_payload(jws)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadCase("a printout is not a compact JWS", "เอกสารฉบับหนึ่งไม่อยู่ในรูปแบบที่ระบบออกให้") from exc
        if payload.get("subject_id") != case.subject_id:
            raise BadCase(f"printout {payload.get('printout_id')} is about another subject",
                          "เอกสารฉบับหนึ่งเป็นของบุคคลอื่น ไม่ใช่ของผู้ยื่นคำขอ")
        payloads.append(payload)
    return payloads


def _check_seals(case: PrintCase, ca_root: x509.Certificate, payloads: list[dict[str, Any]]) -> None:
    for jws, payload in zip(case.printouts, payloads, strict=True):
        report = verify_printout(jws, ca_root)
        if not report.valid:
            failed = ", ".join(f"[{c.number}] {c.name}" for c in report.failed)
            raise SealInvalid(f"the hub's seal on printout {payload.get('printout_id')} does not verify: {failed}",
                              "ตราประทับของศูนย์กลางบนเอกสารฉบับหนึ่งไม่ถูกต้อง จึงรับรองสำเนาไม่ได้")


def case_claims(case: PrintCase) -> PaperClaims:
    """What the paper of ``case`` will print, field by field: the rows are made once, here, and both printed
    and signed into the QR code. Raises BadCase."""
    payloads = _check_case(case)
    docs = []
    for jws, payload in zip(case.printouts, payloads, strict=True):
        spec = case.doc_types.get(str(payload.get("doc_type", "")))
        data = payload.get("data")
        try:
            # The document's Thai title, never its code (a type the hub did not describe gets a generic one).
            docs.append(paper_doc(jws, spec.title_th if spec is not None else _GENERIC_TITLE,
                                  field_rows(spec, data if isinstance(data, Mapping) else {}, "th")))
        except (KeyError, ValueError) as exc:
            raise BadCase(f"printout {payload.get('printout_id')} has no readable issue time",
                          "เอกสารฉบับหนึ่งไม่มีเวลาที่ออกที่อ่านได้") from exc
    # The QR code holds whole seconds: the page shows the same time.
    return PaperClaims(
        subject_id=case.subject_id, subject_name=case.subject_name,
        printed_at=case.printed_at.replace(microsecond=0), officer_id=case.officer_id,
        officer_name=case.officer_name, case_ref=case.case_ref, service=case.service_name,
        agency_title=case.agency_title, documents=tuple(docs), still_to_bring=tuple(case.still_to_bring))


def render_case_pdf(case: PrintCase, signer: CounterSigner, *, qr_texts: Sequence[str] | None = None) -> bytes:
    """The unsigned PDF of ``case``: A4, one page unless the data overflows.

    Every printout's hub seal is verified against the signer's CA first (a broken seal is
    never certified); the QR codes hold ``qr_texts`` (default: the paper code of ``case_claims``,
    signed with the signer's key: one code, or parts of a set). Raises BadCase or SealInvalid.
    """
    _check_seals(case, signer.ca_root, _check_case(case))
    claims = case_claims(case)
    if qr_texts is None:
        try:
            qr_texts = band_codes(lambda chars: make_paper_code(claims, signer.key, signer.cert, part_chars=chars))
        except ValueError as exc:
            raise BadCase(f"the case's data does not fit its QR codes: {exc}",
                          "ข้อมูลของเรื่องนี้มากเกินกว่าที่คิวอาร์โค้ดจะบรรจุได้") from exc
    pdf = _new_pdf(case)
    # Every page ends with the certification line and the whole set of QR codes (consumers/counter/pageband.py).
    band = Band.make(_band_lines(case, claims, len(qr_texts)), qr_texts)
    pdf.band = band.draw
    pdf.set_auto_page_break(True, margin=FOOT + 4 + band.height(pdf))
    pdf.add_page()
    # Header: agency, title, the case.
    use_font(pdf, 12, bold=True)
    cell(pdf, 0, 6, claims.agency_title, new_x="LMARGIN", new_y="NEXT", align="C")
    use_font(pdf, 16, bold=True)
    cell(pdf, 0, 8, TITLE_TH, new_x="LMARGIN", new_y="NEXT", align="C")
    use_font(pdf, 9)
    cell(pdf, 0, 4.5, TITLE_EN, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.ln(1.5)
    write_rows(pdf, header_rows(claims), size=10.5)
    # The documents, one section each.
    for n, (jws, doc) in enumerate(zip(case.printouts, claims.documents, strict=True), 1):
        if pdf.get_y() > pdf.page_break_trigger - 25:
            pdf.add_page()
        pdf.ln(1.5)
        pdf.set_draw_color(140, 140, 140)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
        pdf.set_draw_color(0, 0, 0)
        pdf.ln(1)
        use_font(pdf, 12, bold=True)
        # The document's Thai title, never its code (the code is in the attached .jws for an auditor).
        write_text(pdf, 0, 6, section_title(n, doc))
        use_font(pdf, 8)
        pdf.set_text_color(60, 60, 60)
        write_text(pdf, 0, 3.8, f"เลขที่ {doc.printout_id} · ออกโดยศูนย์กลาง {be_datetime(doc.issued_at)} · "
                                f"ตราประทับถูกต้อง · แนบต้นฉบับในไฟล์นี้")
        pdf.set_text_color(0, 0, 0)
        write_rows(pdf, doc.rows)
        _attach(pdf, case, doc.printout_id, doc.doc_type, jws)
    # What the citizen must still bring.
    pdf.ln(1.5)
    pdf.set_draw_color(140, 140, 140)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(1)
    use_font(pdf, 11, bold=True)
    write_text(pdf, 0, 5.5, "เอกสารที่ผู้ยื่นคำขอยังต้องนำมาแสดง")
    use_font(pdf, 10)
    for item in claims.still_to_bring or ("ไม่มี (ใช้เอกสารจากระบบเชื่อมโยงข้อมูลแทนทั้งหมด)",):
        write_text(pdf, 0, 4.8, f"•  {item}")
    _certification(pdf, case, claims)
    return bytes(pdf.output())


def _attach(pdf: Page, case: PrintCase, printout_id: str, doc_type: str, jws: str) -> None:
    """The sealed JWS, byte for byte, and beside it the log proof it came with (``<id>.log.json``)."""
    pdf.embed_file(bytes=jws.encode("ascii"), basename=f"{printout_id}.jws", mime_type="application/jose",
                   desc=f"{doc_type} sealed printout (JWS)", creation_date=case.printed_at,
                   modification_date=case.printed_at)
    proof = case.log_proofs.get(printout_id)
    if proof:
        pdf.embed_file(bytes=proof.encode("utf-8"), basename=f"{printout_id}{LOG_PROOF_SUFFIX}",
                       mime_type="application/json", desc=f"{doc_type} inclusion proof and checkpoint",
                       creation_date=case.printed_at, modification_date=case.printed_at)


def _band_lines(case: PrintCase, claims: PaperClaims, codes: int) -> tuple[str, ...]:
    """The certification line every page carries, and what its QR codes hold."""
    every = f" (ถ่ายภาพให้ครบทั้ง {codes} รหัส)" if codes > 1 else ""
    every_en = f" (photograph all {codes} codes)" if codes > 1 else ""
    return ("รับรองสำเนาถูกต้อง · Certified copy",
            f"โดย {case.officer_name} เลขประจำตัว {case.officer_id} เจ้าหน้าที่ของ{claims.agency_title}",
            f"ให้ไว้ ณ วันที่ {be_datetime(claims.printed_at)}",
            f"คิวอาร์โค้ดในทุกหน้า: ข้อความทุกช่องของเอกสารนี้ ลงนามโดยหน่วยงาน ตรวจได้แบบออฟไลน์{every}",
            f"QR on every page: every field printed here, signed by the agency, checkable offline{every_en}")


def _certification(pdf: Page, case: PrintCase, claims: PaperClaims) -> None:
    """The officer's full certification, kept together on one page (each page's band repeats its gist)."""
    text_w = pdf.epw
    phrases = (f"ข้าพเจ้า {case.officer_name} เลขประจำตัว {case.officer_id}",
               f"เจ้าหน้าที่ของ{claims.agency_title}",
               "ขอรับรองว่าเอกสารนี้พิมพ์จากระบบเชื่อมโยงข้อมูลของทางราชการ",
               "และข้อมูลข้างต้นตรงกับที่หน่วยงานเจ้าของข้อมูลส่งมา",
               "โดยมีตราประทับอิเล็กทรอนิกส์ของศูนย์กลางกำกับทุกฉบับ",
               f"ให้ไว้ ณ วันที่ {be_datetime(claims.printed_at)}")
    note = "ลงลายมือชื่ออิเล็กทรอนิกส์ (PAdES) ด้วยใบรับรองของหน่วยงานในนามของเจ้าหน้าที่ข้างต้น"
    use_font(pdf, 10)
    lines = sum(len(wrap(pdf, text_w, p)) for p in phrases)
    use_font(pdf, 7.5)
    height = 6 + lines * 4.8 + 4 + 2 * 5.2 + 1.5 + len(wrap(pdf, text_w, note)) * 3.4
    if pdf.get_y() + 2 + height > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(2)
    use_font(pdf, 11.5, bold=True)
    write_text(pdf, text_w, 6, "คำรับรองของเจ้าหน้าที่")
    use_font(pdf, 10)
    # Thai has no spaces between words: the sentence is written in phrases so that lines break cleanly.
    for phrase in phrases:
        write_text(pdf, text_w, 4.8, phrase)
    pdf.ln(4)
    write_text(pdf, text_w, 5.2, "(ลงชื่อ) ........................................ ผู้รับรอง", align="C")
    write_text(pdf, text_w, 5.2, f"({case.officer_name})", align="C")
    pdf.ln(1.5)
    use_font(pdf, 7.5)
    pdf.set_text_color(60, 60, 60)
    write_text(pdf, text_w, 3.4, note)
    pdf.set_text_color(0, 0, 0)


def sign_pdf(pdf: bytes, signer: CounterSigner, *, officer_name: str, officer_id: str, location: str = "") -> bytes:
    """PAdES-sign ``pdf`` (an incremental update) with the agency's key, naming the officer; B-LT when the
    signer has a ``LongTerm`` (a timestamp, then the DSS in a second incremental update).

    Raises SignerUnavailable if pyHanko cannot sign (e.g. a PDF it cannot read, a revoked certificate),
    TimestampUnavailable if the TSA gives no good timestamp.
    """
    long_term = signer.long_term
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=f"certified copy / รับรองสำเนาถูกต้อง: {officer_name} ({officer_id})",
        name=officer_name, location=location or None)
    stamper = None
    if long_term is not None:
        try:
            context = long_term.validation_context()
        except (OSError, ValueError) as exc:
            raise SignerUnavailable(f"the linkage CA's revocation list {long_term.crl} cannot be read: {exc}",
                                    "อ่านรายการเพิกถอนใบรับรองของระบบไม่ได้ จึงรับรองสำเนาไม่ได้") from exc
        meta = dataclasses.replace(meta, embed_validation_info=True, validation_context=context, use_pades_lta=False)
        stamper = long_term.timestamper()
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = signers.sign_pdf(writer, meta, signer=signer.pdf_signer, timestamper=stamper, bytes_reserved=_SIG_BYTES)
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:  # TimestampRequestError is an OSError
        raise TimestampUnavailable(
            f"the time-stamping authority {long_term.tsa_url if long_term else ''} gave no timestamp ({exc}); "
            "nothing was certified: try again in a moment (a copy without a timestamp could not be checked once "
            "the agency's certificate is renewed)",
            "ระบบประทับเวลาไม่ตอบ จึงยังรับรองสำเนาไม่ได้ กรุณาลองอีกครั้งในอีกสักครู่ "
            "(สำเนาที่ไม่มีการประทับเวลาจะตรวจสอบไม่ได้เมื่อใบรับรองของหน่วยงานหมดอายุ)") from exc
    except (PathError, ValidationError) as exc:  # the timestamp's (the signer's comes wrapped in SigningError)
        raise TimestampUnavailable(
            f"the time-stamping authority at {long_term.tsa_url if long_term else ''} is not one the linkage CA "
            f"issued ({exc}); nothing was certified",
            "ระบบประทับเวลาที่ตอบไม่ได้รับการรับรองจากระบบ จึงยังรับรองสำเนาไม่ได้ กรุณาแจ้งผู้ดูแลระบบ") from exc
    except (SigningError, ValueError) as exc:
        if isinstance(exc.__cause__, RevokedError):
            raise SignerUnavailable(f"the agency's certificate is revoked on the linkage CA's list: {exc.__cause__}",
                                    "ใบรับรองของหน่วยงานถูกเพิกถอนแล้ว จึงรับรองสำเนาไม่ได้") from exc
        if isinstance(exc.__cause__, (PathError, ValidationError)):
            raise SignerUnavailable(f"the agency's certificate does not validate against the linkage CA and its "
                                    f"revocation list: {exc.__cause__}",
                                    "ใบรับรองของหน่วยงานใช้ไม่ได้แล้ว จึงรับรองสำเนาไม่ได้") from exc
        raise SignerUnavailable(f"signing failed: {exc}", "ลงนามเอกสารไม่สำเร็จ") from exc
    signed: bytes = out.getvalue()
    return signed


def certify(case: PrintCase, signer: CounterSigner) -> bytes:
    """The signed, certified PDF for ``case``: ``render_case_pdf`` then ``sign_pdf``.

    Raises BadCase, SealInvalid or SignerUnavailable (all PrintoutError).
    """
    return sign_pdf(render_case_pdf(case, signer), signer, officer_name=case.officer_name,
                    officer_id=case.officer_id, location=case.agency_title)


async def certify_async(case: PrintCase, signer: CounterSigner) -> bytes:
    """``certify`` in a worker thread, for event-loop code (the aiohttp app).

    Rendering is ~0.2 s of CPU that would stall every other request, and pyHanko's synchronous
    ``sign_pdf`` refuses to run inside an event loop. Same errors as ``certify``.
    """
    return await asyncio.to_thread(certify, case, signer)
