"""One entry for every form ``linkage audit verify`` accepts: a printout (bundle, JWS), a signed PDF, a paper's QR code
(the paper code, or the JWS summary of older copies)."""

from __future__ import annotations

import datetime as dt

from consumers.auditor.bundle import AuditInput, PaperCode, PdfFile, Printout
from consumers.auditor.log import LogSource
from consumers.auditor.report import PaperReport, Report
from consumers.auditor.state import AuditorState
from consumers.auditor.verify import Trust, verify_printout

__all__ = ["verify_input"]


def verify_input(item: AuditInput, trust: Trust, *, now: dt.datetime | None = None,
                 state: AuditorState | None = None, log: LogSource | None = None,
                 ocr: bool = True) -> Report | PaperReport:
    """``verify_printout``, ``verify_pdf``, ``verify_paper`` or ``verify_qr``, as ``item`` (from ``load_input``)
    needs; ``ocr``: compare a photo's printed text with its paper code (check 9).

    Raises what they raise, all ``VerificationError``: UnreadableInput, BadTrustRoot, HubUnreachable.
    """
    if isinstance(item, Printout):
        return verify_printout(item, trust, now=now, state=state, log=log)
    # The PDF and paper checks (pyHanko, CBOR, COSE) are imported when such an item comes: a bundle's
    # verification, the common case on the command line, does not pay for them.
    if isinstance(item, PdfFile):
        from consumers.auditor.pdf import verify_pdf

        return verify_pdf(item, trust, now=now, state=state, log=log)
    from consumers.auditor.qr import verify_paper, verify_qr

    if isinstance(item, PaperCode):
        return verify_paper(item, trust, now=now, state=state, log=log, ocr=ocr)
    return verify_qr(item, trust, now=now, state=state, log=log)
