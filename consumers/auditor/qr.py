"""The paper alone: a certified printout's QR code(s), as text or read from a picture of the page.

Two formats. The paper code since 2026-11 (``consumers.auditor.papercode``: "LP1", a COSE_Sign1 by the
counter agency holding every printed field, in one QR code or a set of parts) is checked by
``verify_paper``; the JWS summary of copies printed before (``consumers.auditor.summary``: the subject,
the name and each printout's id and digest) by ``verify_qr``. Both report a ``PaperReport``:

    1  certificate chain    the code's signer is one of the agency certificates the auditor trusts
                            (each chained to the linkage CA when loaded), valid when the paper was printed
    3  officer's signature  ES256 by that certificate's key over the code (COSE or JWS)
    9  printed text         paper code from a photo only: the photo's printed text, read by Tesseract
                            (``consumers.auditor.ocr``), compared field by field with the signed fields;
                            failed naming each field printed differently, skipped when no field is legible
    and per printout it names:
    2  hub's seal           skipped: the paper holds the printout's digest, not its seal
    4, 5, 6                 online: the log's entry for the printout (found as for a PDF attachment) has
                            this id, type and agency and a digest that begins with the code's, and is
                            proved into a checkpoint signed by the pinned log key; offline, skipped
    7                       online: not revoked
    8                       a quorum of known witnesses cosigned the checkpoint that proves it

A paper code's report also carries what the paper must say (``PaperText``): every field, who certified it
and when, so whoever holds the paper can compare it line by line.

``decode_picture`` reads the QR codes of a PNG, JPEG or GIF with zxing-cpp.
Raises UnreadableInput for a picture without a readable QR code, a set with parts missing (naming them),
or a code that is not one of the two formats; BadTrustRoot when no agency certificates are given to
identify the signer; HubUnreachable online.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any, Final

from consumers.auditor.bundle import PaperCode, QrSummary
from consumers.auditor.errors import BadTrustRoot, UnreadableInput
from consumers.auditor.log import LogSource
from consumers.auditor.logcheck import check_log, conclude, fetch_proof
from consumers.auditor.papercode import (
    IncompleteSet,
    PaperClaims,
    be_datetime,
    expected_fields,
    join_parts,
    verify_paper_code,
)
from consumers.auditor.report import (
    Check,
    DocumentReport,
    PaperReport,
    PaperText,
    Report,
    SignedField,
    failed,
    passed,
    skipped,
)
from consumers.auditor.state import AuditorState
from consumers.auditor.summary import (
    BadSignature,
    BadSummaryTrust,
    SignerNotValid,
    SummaryError,
    SummaryTrust,
    UnknownSigner,
    UnreadableSummary,
    verify_summary,
)
from consumers.auditor.verify import Trust
from linkage.seal import b64url_decode

__all__ = ["MAX_PIXELS", "decode_picture", "verify_paper", "verify_qr"]

MAX_PIXELS: Final = 60_000_000  # an A4 page scanned at 600 dpi is ~35 million
_NO_SEAL: Final = "the paper holds the printout's digest, not its seal: the PDF or the bundle carries the seal"


def decode_picture(raw: bytes, name: str) -> list[str]:
    """The texts of the QR codes in the picture ``raw``, largest first; raises UnreadableInput if there are none."""
    import zxingcpp
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UnreadableInput(f"{name}: the picture is {width}x{height} pixels, more than {MAX_PIXELS}; "
                                      "scan the page at 150-300 dpi", "ภาพใหญ่เกินไป สแกนที่ 150-300 dpi")
            # The reader wants luminance only: a JPEG decodes straight to it (half the time of RGB), and zxing-cpp
            # converts colour pictures itself several times slower than Pillow does.
            image.draft("L", image.size)
            image.load()
            if image.mode != "L":
                image = image.convert("L")
    except UnreadableInput:
        raise
    except Exception as exc:
        # Pillow's decoders meet hostile bytes here; whatever they raise, the picture cannot be read.
        raise UnreadableInput(f"{name}: not a readable picture ({type(exc).__name__}: {exc})",
                              "ไฟล์นี้ไม่ใช่ภาพที่อ่านได้") from exc
    try:
        # A paper's code is never printed inverted, and QR detection finds any rotation by itself.
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
                                       try_rotate=False, try_invert=False)
    except Exception as exc:
        raise UnreadableInput(f"{name}: the QR code reader failed on this picture ({exc})") from exc
    texts = [code.text for code in sorted(found, key=_area, reverse=True) if code.valid and code.text]
    if not texts:
        raise UnreadableInput(f"{name}: no readable QR code in this {width}x{height} picture; photograph or scan "
                              "the QR code beside the officer's certification, flat and sharp (150 dpi or more)",
                              "ไม่พบคิวอาร์โค้ดที่อ่านได้ในภาพ (ภาพเบลอ หรือไม่มีคิวอาร์โค้ด) ถ่ายหรือสแกนคิวอาร์โค้ดข้างคำรับรอง"
                              "ของเจ้าหน้าที่ให้ตรงและคมชัด")
    return texts


def _area(code: Any) -> float:
    p = code.position
    return float(abs((p.top_right.x - p.top_left.x) * (p.bottom_left.y - p.top_left.y)))


def verify_qr(summary: QrSummary, trust: Trust, *, now: dt.datetime | None = None,
              state: AuditorState | None = None, log: LogSource | None = None) -> PaperReport:
    """Check the QR summary offline (1, 3) and, with ``log``, each printout it names in the log (4-7).

    ``now`` is unused by the summary checks (the signer is judged at the
    printed time the summary states) and kept for the same call shape as
    the other forms. Raises UnreadableInput, BadTrustRoot or HubUnreachable.
    """
    del now
    signers = _signers(trust)
    try:
        said = verify_summary(summary.text, signers)
    except UnreadableSummary as exc:
        raise UnreadableInput(f"{summary.name}: not a readable printout summary: {exc.message}") from exc
    except SummaryError as exc:
        return PaperReport("qr", summary.name, _refused(exc, summary.name, "summary", "ES256"), (), ())
    check1 = passed(1, f"{said.signer}, an agency certificate issued by {trust.ca.subject.rfc4514_string()}, "
                       f"valid when the paper was printed ({said.printed_at:%Y-%m-%dT%H:%M:%SZ})")
    check3 = passed(3, f"ES256 by {said.signer}'s key: {said.subject_id} {said.subject_name}, case "
                       f"{said.case_ref or '-'}, certified by officer {said.officer_id or '-'}")
    documents = tuple(DocumentReport(f"{doc.doc_type} {doc.printout_id}", _document(
        doc.doc_type, doc.printout_id, b64url_decode(doc.digest).hex(), said.subject_id, said.signer, check1, check3,
        trust, state, log)) for doc in said.documents)
    return PaperReport("qr", summary.name, (check1, check3), (), documents)


def _refused(exc: SummaryError, name: str, what: str, alg: str) -> tuple[Check, Check]:
    """Checks 1 and 3 of a code whose signer or signature is refused; UnreadableInput for any other error (a kind
    added to the tree later: still ours to report, not a crash)."""
    if isinstance(exc, UnknownSigner):
        return (failed(1, f"{exc.message}: signed by no agency of the linkage CA known here"),
                skipped(3, "no trusted certificate to check the signature with (see check 1)"))
    if isinstance(exc, BadSignature):
        return (skipped(1, f"the signature does not verify, so nothing the {what} says is trusted (see check 3)"),
                failed(3, exc.message))
    if isinstance(exc, SignerNotValid):
        return failed(1, exc.message), passed(3, f"{alg} by the named agency certificate's key")
    raise UnreadableInput(f"{name}: the {what} cannot be checked: {exc.message} ({exc.code})") from exc


def _document(doc_type: str, printout_id: str, digest_hex: str, subject_id: str, signer: str, check1: Check,
              check3: Check, trust: Trust, state: AuditorState | None, log: LogSource | None) -> Report:
    check2 = skipped(2, _NO_SEAL)
    proof, no_proof = None, None
    if log is None:
        no_proof = skipped(4, "a QR code carries no log proof; online, the printout's entry is fetched from the hub")
    elif trust.log_key is None or not trust.origin:
        no_proof = skipped(4, "the log's verifier key and origin are not given (--log-key and --origin, or --home)")
    else:
        proof, no_proof = fetch_proof(log, printout_id, subject_id)
    # The log leaf must name this printout, its type and the agency that signed the paper; the paper holds only
    # the first 128 bits of the printout's digest.
    expected = {"printout_id": printout_id, "doc_type": doc_type, "agency": signer}
    logged = check_log(proof, no_proof, expected, digest_hex, prefix=True, key=trust.log_trust,
                       witnesses=trust.witnesses, revocations=trust.revocations,
                       origin=trust.origin, state=state, log=log, fetched=True)
    checks = (check1, check2, check3, *logged.checks)
    valid = conclude(checks, [check1, check3], logged, state)
    printout = {"printout_id": printout_id, "doc_type": doc_type, "digest": digest_hex,
                "subject_id": subject_id, "agency": signer} if valid else None
    return Report(valid, checks, printout)


# --- the paper code (since 2026-11): every printed field, signed ---------------------------------------------------

def verify_paper(code: PaperCode, trust: Trust, *, now: dt.datetime | None = None,
                 state: AuditorState | None = None, log: LogSource | None = None, ocr: bool = True) -> PaperReport:
    """Check a paper code offline (1, 3), each printout it names in the log with ``log`` (4-7), and, for a photo
    with ``ocr``, the photo's printed text against the signed fields (9).

    Raises UnreadableInput (not a paper code, or parts missing: the message names them), BadTrustRoot or
    HubUnreachable. ``now`` is unused, as for ``verify_qr``.
    """
    del now
    signers = _signers(trust)
    try:
        whole, parts = join_parts(code.texts)
        said = verify_paper_code(whole, signers, parts=parts)
    except IncompleteSet as exc:
        raise UnreadableInput(f"{code.name}: incomplete set of QR codes: {exc.message}",
                              "คิวอาร์โค้ดไม่ครบชุด ถ่ายภาพให้เห็นคิวอาร์โค้ดทุกรหัสข้างคำรับรองพร้อมกัน") from exc
    except UnreadableSummary as exc:
        raise UnreadableInput(f"{code.name}: not a readable paper QR code: {exc.message}",
                              "คิวอาร์โค้ดอ่านได้แต่ข้อมูลเสียหาย ไม่ใช่เอกสารรับรองที่ตรวจได้") from exc
    except SummaryError as exc:
        return PaperReport("qr", code.name, _refused(exc, code.name, "QR code", "COSE ES256"), (), ())
    claims = said.claims
    when = f"{be_datetime(claims.printed_at)} ({claims.printed_at:%Y-%m-%dT%H:%M:%SZ})"
    check1 = passed(1, f"{said.signer}, an agency certificate issued by {trust.ca.subject.rfc4514_string()}, "
                       f"valid when the paper was printed ({claims.printed_at:%Y-%m-%dT%H:%M:%SZ})")
    check3 = passed(3, f"COSE ES256 by {said.signer}'s key over every printed field: {claims.subject_id} "
                       f"{claims.subject_name}, case {claims.case_ref or '-'}, certified by officer "
                       f"{claims.officer_name} ({claims.officer_id})")
    documents = tuple(DocumentReport(f"{doc.doc_type} {doc.printout_id}", _document(
        doc.doc_type, doc.printout_id, doc.digest.hex(), claims.subject_id, said.signer, check1, check3, trust,
        state, log)) for doc in claims.documents)
    fields, check9 = _printed(code, claims, ocr)
    text = PaperText(f"{claims.officer_name} ({claims.officer_id})", f"{claims.agency_title} [{said.signer}]", when,
                     parts, fields, check9)
    return PaperReport("qr", code.name, (check1, check3), (), documents, text)


def _signers(trust: Trust) -> SummaryTrust:
    if not trust.agencies:
        raise BadTrustRoot("a paper's QR code names its signer by certificate fingerprint only: the agency "
                           "certificates are needed to know it (--home DIR: DIR/pki/clients/*.pem, or --agency-certs)")
    try:
        return SummaryTrust.build(trust.ca, trust.agencies)
    except BadSummaryTrust as exc:
        raise BadTrustRoot(f"agency certificates: {exc.message}") from exc


def _printed(code: PaperCode, claims: PaperClaims, ocr: bool) -> tuple[tuple[SignedField, ...], Check | None]:
    """The signed fields, and check 9 when a photo's printed text is compared with them."""
    plain = tuple(SignedField(section, label, value) for section, label, value in expected_fields(claims))
    if code.picture is None or not ocr:
        return plain, None
    from PIL import Image

    from consumers.auditor.ocr import OcrUnavailable, compare, read_page

    try:
        with Image.open(io.BytesIO(code.picture)) as image:
            text = compare(claims, read_page(image))
    except OcrUnavailable as exc:
        return plain, skipped(9, f"the printed text cannot be read here: {exc.message}")
    fields = tuple(SignedField(r.section, r.label, r.value, r.status, r.printed) for r in text.readings)
    differing = [f"{r.section + ': ' if r.section else ''}{r.label}" for r in text.differing]
    if differing:
        return fields, failed(9, "the paper does not print what its QR code signs: " + "; ".join(differing)
                              + f" ({text.engine})")
    if not text.legible:
        return fields, skipped(9, f"no field is legible in this photo ({text.engine})")
    return fields, passed(9, f"{text.legible} of {len(fields)} fields read as signed; "
                             f"{len(fields) - text.legible} not legible or not in the photo ({text.engine})")
