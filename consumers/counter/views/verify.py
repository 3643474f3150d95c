"""Check a certified paper: anyone uploads a photo or scan of it (or the certified PDF) and sees, field by field,
what the paper must say, whether its signature and certificate hold, and who certified it and when; for a photo,
each field whose printed text differs from the signed data is flagged (consumers.auditor: verify_input, OCR).

No sign-in. Each upload costs a QR decode and, for a photo, a few seconds of OCR, so uploads are limited per
address (``CounterSettings.verify_limit`` in ten minutes, as /me limits card checks). Verification is
offline: the counter is no auditor agency, so log proofs are checked when the PDF carries them, and
revocation is not asked (the page says so).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from consumers.auditor import PaperReport, Report, TrustInputs, VerificationError, parse_input, verify_input
from consumers.auditor.report import NAMES_TH
from consumers.counter.errors import TooManyAttempts
from consumers.counter.pages import render
from consumers.counter.state import STATE

__all__ = ["UPLOAD_BYTES", "verify", "verify_form"]

UPLOAD_BYTES: Final = 12 * 1024 * 1024  # a phone's photo of an A4 page; a certified PDF is ~100 kB
_KINDS: Final = ("image/png", "image/jpeg", "image/gif", "application/pdf")


async def verify_form(request: web.Request) -> web.StreamResponse:
    return render(request, "verify.html", result=None, error=None)


async def verify(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    key = f"verify:{request.remote or 'unknown'}"
    if state.verify_limiter.blocked(key):
        raise TooManyAttempts("verify_limited", "ตรวจเอกสารจากที่อยู่นี้หลายครั้งเกินไป กรุณารอ 10 นาทีแล้วลองใหม่",
                              "Too many papers checked from this address; wait 10 minutes and try again.")
    state.verify_limiter.fail(key)  # every upload counts: each one costs seconds of OCR
    form = await request.post()
    upload = form.get("photo")
    if not isinstance(upload, web.FileField):
        return render(request, "verify.html", status=400, result=None, error=(
            "กรุณาเลือกไฟล์ภาพถ่ายหรือภาพสแกนของเอกสาร (PNG หรือ JPEG) หรือไฟล์ PDF ที่รับรองแล้ว",
            "Choose a photo or scan of the paper (PNG or JPEG), or the certified PDF."))
    raw = upload.file.read(UPLOAD_BYTES + 1)
    name = upload.filename or "upload"
    home = state.settings.home.root
    try:
        # Decoding the picture, validating a PDF and reading the printed text are all blocking: off the loop.
        report = await asyncio.to_thread(_check, raw, name, home)
    except VerificationError as err:
        return render(request, "verify.html", status=422, result=None, error=(
            f"อ่านไม่ได้: {err.message_th or 'ไฟล์นี้ไม่ใช่เอกสารรับรองที่ตรวจได้'}", f"Cannot check: {err.message}"))
    return render(request, "verify.html", result=_view(report), error=None)


def _check(raw: bytes, name: str, home: Path) -> Report | PaperReport:
    return verify_input(parse_input(raw, name), TrustInputs(home=home).load(agencies=True), ocr=True)


def _view(report: Report | PaperReport) -> dict[str, Any]:
    """What the page shows of a report: the verdict, the checks with Thai names, and the paper's text."""
    checks = report.checks if isinstance(report, Report) else report.all_checks()
    seen: dict[tuple[int, bool | None], Any] = {}
    for c in checks:  # the same check of every document once: the page is for a person, not an auditor
        seen.setdefault((c.number, c.ok), {"number": c.number, "name_th": NAMES_TH[c.number], "name": c.name,
                                           "ok": c.ok, "detail": c.detail})
    text = report.text if isinstance(report, PaperReport) else None
    return {"valid": report.valid, "checks": sorted(seen.values(), key=lambda c: (c["number"], c["ok"] is not False)),
            "text": text, "problems": list(report.problems) if isinstance(report, PaperReport) else [],
            "form": report.form if isinstance(report, PaperReport) else "printout"}
