"""Fees: the Thai QR of an application's bill, the payment switch's notice that settles it, and the receipt.

``POST /payments/callback`` is the one route no browser posts to: the payment switch calls it, it carries no
CSRF token and no session, and it is trusted only through the notice's Ed25519 signature
(linkage/payments.py). It answers JSON: ``{"status": "accepted", "receipt": …}`` with 200, or ``{"error": code,
"message_th": …, "message_en": …}`` with 401 (forged), 400 (malformed), 503 (the switch has no key yet) or 409
(a notice the bill refuses: applications/fees.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging

from aiohttp import web

from consumers.counter.applications.fees import Bill, BillStore, refusal_text
from consumers.counter.applications.forms import FORMS
from consumers.counter.applications.receipt import Receipt, sign_receipt_async
from consumers.counter.applications.store import Application, ApplicationStore
from consumers.counter.display import BANGKOK
from consumers.counter.errors import Conflict, PageNotFound, ServiceUnavailable
from consumers.counter.pages import current_session
from consumers.counter.paper import qr_png
from consumers.counter.printout import PrintoutError
from consumers.counter.state import STATE, STORE
from linkage.payments import SIGNATURE_HEADER, NoticeError, read_notice, switch_public_key

__all__ = ["payment_callback", "payment_qr", "receipt_pdf"]

_log = logging.getLogger("consumers.counter")
_NOTICE_BYTES = 4096


def _refused(code: str, status: int) -> web.Response:
    th, en = refusal_text(code)
    return web.json_response({"error": code, "message_th": th, "message_en": en}, status=status,
                             dumps=functools.partial(json.dumps, ensure_ascii=False))


async def payment_callback(request: web.Request) -> web.StreamResponse:
    bills = BillStore(request.app[STORE])
    now = dt.datetime.now(dt.UTC)
    body = await request.read()  # held to the app's 64 KiB; a notice is a few hundred bytes
    if len(body) > _NOTICE_BYTES:
        return _refused(bills.refuse("malformed", None, "notice too large", now).code, 400)
    try:
        key = switch_public_key(request.app[STATE].settings.home)
        notice = read_notice(body, request.headers.get(SIGNATURE_HEADER, ""), key)
    except NoticeError as err:
        bills.refuse(err.code, None, err.message, now)
        return _refused(err.code, {"forged": 401, "no_key": 503}.get(err.code, 400))
    settled = bills.settle(notice, now, f"PHR-RCP-{now.astimezone(BANGKOK).year + 543}-")
    if not settled.accepted:
        return _refused(settled.code, 409)
    return web.json_response({"status": "accepted", "receipt": settled.receipt_no})


def _bill_of(request: web.Request, want_paid: bool) -> tuple[Application, Bill]:
    """The officer's application and its bill: open (for its QR) or paid (for its receipt); else a 404 or 409."""
    session = current_session(request)
    app = ApplicationStore(request.app[STORE]).get(request.match_info["app_id"], session.officer_id)
    if app is None:
        raise PageNotFound("application_not_found", "ไม่พบคำขอนี้ หรือคำขอนี้ไม่ได้รับโดยท่าน",
                           "No such application, or it was not taken by you.")
    bill = BillStore(request.app[STORE]).bill(app.id)
    if bill is None:
        raise PageNotFound("bill_not_found", "คำขอนี้ไม่มีค่าธรรมเนียมที่ต้องชำระ หรือยังไม่ได้ยื่น",
                           "This application has no fee to pay, or it has not been submitted yet.")
    if bill.paid and not want_paid:
        raise Conflict("bill_closed", "คำขอนี้ชำระค่าธรรมเนียมแล้ว จึงไม่ออกคิวอาร์โค้ดชำระเงินอีก",
                       "This application's fee is paid; its payment QR code is closed.")
    if want_paid and not bill.paid:
        raise Conflict("bill_not_paid", "ยังไม่ได้รับแจ้งการชำระเงินที่ตรวจสอบแล้ว จึงยังออกใบเสร็จไม่ได้",
                       "No verified payment notice yet: no receipt can be issued.")
    return app, bill


async def payment_qr(request: web.Request) -> web.StreamResponse:
    _, bill = _bill_of(request, want_paid=False)
    return web.Response(body=qr_png(bill.payload, scale=6), content_type="image/png")


async def receipt_pdf(request: web.Request) -> web.StreamResponse:
    app, bill = _bill_of(request, want_paid=True)
    state = request.app[STATE]
    session = current_session(request)
    receipt = Receipt(application=app, bill=bill, form=request.app[FORMS][app.service_id],
                      agency_title=state.agency.title, officer_name=session.name or session.officer_id,
                      officer_id=session.officer_id)
    try:
        pdf = await sign_receipt_async(receipt, state.signer)
    except PrintoutError as err:
        _log.warning("receipt %s not printed: %s", bill.receipt_no, err.code)
        raise ServiceUnavailable(err.code, err.message_th, err.message) from err
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{bill.receipt_no}.pdf"'})
