"""The paper alone: the QR summary printed on a certified printout, as text or read from a picture of the page.

The summary (``consumers.auditor.summary``) is a compact JWS signed by the counter
agency's key, naming its certificate by fingerprint, and listing the case's
printouts as ``[doc_type, printout_id, first 128 bits of the printout's digest]``.
``verify_qr`` reports it as a ``PaperReport``:

    1  certificate chain    the summary's signer is one of the agency certificates the auditor trusts
                            (each chained to the linkage CA when loaded), valid when the paper was printed
    3  officer's signature  ES256 by that certificate's key over the summary
    and per printout it names:
    2  hub's seal           skipped: the paper holds the printout's digest, not its seal
    4, 5, 6                 online: the log's entry for the printout (found as for a PDF attachment) has
                            this id, type and agency and a digest that begins with the summary's, and is
                            proved into a checkpoint signed by the pinned log key; offline, skipped
    7                       online: not revoked

``decode_picture`` reads the QR codes of a PNG, JPEG or GIF with zxing-cpp.
Raises UnreadableInput for a picture without a readable QR code or a summary
that is not one (wrong type, not JSON, fields missing); BadTrustRoot when no
agency certificates are given to identify the signer; HubUnreachable online.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any, Final

from consumers.auditor.bundle import QrSummary
from consumers.auditor.errors import BadTrustRoot, UnreadableInput
from consumers.auditor.log import LogSource
from consumers.auditor.logcheck import check_log, conclude, fetch_proof
from consumers.auditor.report import Check, DocumentReport, PaperReport, Report, failed, passed, skipped
from consumers.auditor.state import AuditorState
from consumers.auditor.summary import (
    BadSignature,
    BadSummaryTrust,
    SignerNotValid,
    SummaryDoc,
    SummaryError,
    SummaryReport,
    SummaryTrust,
    UnknownSigner,
    UnreadableSummary,
    verify_summary,
)
from consumers.auditor.verify import Trust
from linkage.seal import b64url_decode

__all__ = ["MAX_PIXELS", "decode_picture", "verify_qr"]

MAX_PIXELS: Final = 60_000_000  # an A4 page scanned at 600 dpi is ~35 million
_NO_SEAL: Final = "the paper holds the printout's digest, not its seal: the PDF or the bundle carries the seal"


def decode_picture(raw: bytes, name: str) -> list[str]:
    """The texts of the QR codes in the picture ``raw``, largest first; raises UnreadableInput if there are none."""
    import zxingcpp
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UnreadableInput(f"{name}: the picture is {width}x{height} pixels, more than {MAX_PIXELS}; "
                                      "scan the page at 150-300 dpi")
            image.load()
    except UnreadableInput:
        raise
    except Exception as exc:
        # Pillow's decoders meet hostile bytes here; whatever they raise, the picture cannot be read.
        raise UnreadableInput(f"{name}: not a readable picture ({type(exc).__name__}: {exc})") from exc
    try:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    except Exception as exc:
        raise UnreadableInput(f"{name}: the QR code reader failed on this picture ({exc})") from exc
    texts = [code.text for code in sorted(found, key=_area, reverse=True) if code.valid and code.text]
    if not texts:
        raise UnreadableInput(f"{name}: no readable QR code in this {width}x{height} picture; photograph or scan "
                              "the QR code beside the officer's certification, flat and sharp (150 dpi or more)")
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
    if not trust.agencies:
        raise BadTrustRoot("a QR summary names its signer by certificate fingerprint only: the agency "
                           "certificates are needed to know it (--home DIR: DIR/pki/clients/*.pem, or --agency-certs)")
    try:
        signers = SummaryTrust.build(trust.ca, trust.agencies)
    except BadSummaryTrust as exc:
        raise BadTrustRoot(f"agency certificates: {exc.message}") from exc
    try:
        said = verify_summary(summary.text, signers)
    except UnreadableSummary as exc:
        raise UnreadableInput(f"{summary.name}: not a readable printout summary: {exc.message}") from exc
    except UnknownSigner as exc:
        return _refused(summary, failed(1, f"{exc.message}: signed by no agency of the linkage CA known here"),
                        skipped(3, "no trusted certificate to check the signature with (see check 1)"))
    except BadSignature as exc:
        return _refused(summary, skipped(1, "the signature does not verify, so nothing the summary says is "
                                            "trusted (see check 3)"), failed(3, exc.message))
    except SignerNotValid as exc:
        return _refused(summary, failed(1, exc.message), passed(3, "ES256 by the named agency certificate's key"))
    except SummaryError as exc:  # a kind added to the counter's tree later: still ours to report, not a crash
        raise UnreadableInput(f"{summary.name}: the summary cannot be checked: {exc.message} ({exc.code})") from exc
    check1 = passed(1, f"{said.signer}, an agency certificate issued by {trust.ca.subject.rfc4514_string()}, "
                       f"valid when the paper was printed ({said.printed_at:%Y-%m-%dT%H:%M:%SZ})")
    check3 = passed(3, f"ES256 by {said.signer}'s key: {said.subject_id} {said.subject_name}, case "
                       f"{said.case_ref or '-'}, certified by officer {said.officer_id or '-'}")
    documents = tuple(DocumentReport(f"{doc.doc_type} {doc.printout_id}",
                                     _document(doc, said, check1, check3, trust, state, log))
                      for doc in said.documents)
    return PaperReport("qr", summary.name, (check1, check3), (), documents)


def _refused(summary: QrSummary, check1: Check, check3: Check) -> PaperReport:
    return PaperReport("qr", summary.name, (check1, check3), (), ())


def _document(doc: SummaryDoc, said: SummaryReport, check1: Check, check3: Check, trust: Trust,
              state: AuditorState | None, log: LogSource | None) -> Report:
    check2 = skipped(2, _NO_SEAL)
    proof, no_proof = None, None
    if log is None:
        no_proof = skipped(4, "a QR summary carries no log proof; online, the printout's entry is fetched from "
                              "the hub")
    elif trust.log_key is None or not trust.origin:
        no_proof = skipped(4, "the log's verifier key and origin are not given (--log-key and --origin, or --home)")
    else:
        proof, no_proof = fetch_proof(log, doc.printout_id, said.subject_id)
    # The log leaf must name this printout, its type and the agency that signed the paper; the paper holds only
    # the first 128 bits of the printout's digest.
    expected = {"printout_id": doc.printout_id, "doc_type": doc.doc_type, "agency": said.signer}
    logged = check_log(proof, no_proof, expected, b64url_decode(doc.digest).hex(), prefix=True, key=trust.log_trust,
                       witnesses=trust.witnesses,
                       origin=trust.origin, state=state, log=log, fetched=True)
    checks = (check1, check2, check3, *logged.checks)
    valid = conclude(checks, [check1, check3], logged, state)
    printout = {"printout_id": doc.printout_id, "doc_type": doc.doc_type, "digest": doc.digest,
                "subject_id": said.subject_id, "agency": said.signer} if valid else None
    return Report(valid, checks, printout)
