"""The mock payment switch's web app: ``create_app(home, callback_url)`` and ``serve(home, port, ready)``.

A paid bill is announced to the biller at ``callback_url`` (the counter's /payments/callback) with a notice signed
by the switch's Ed25519 key (linkage/payments.py). Every answer is JSON; a bad request gets ``{"error": code,
"message": …}`` with 400, a biller that cannot be reached 502; nothing is kept but a log line per payment.
Bulk credit transfers (an agency's signed payment batch, ``POST /disbursements``) are batches.py's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
from collections.abc import Callable
from decimal import Decimal

import aiohttp
from aiohttp import web

from linkage.config import Home, load_settings
from linkage.payments import SIGNATURE_HEADER, Notice, load_or_make_switch_key, sign_notice
from linkage.thaiqr import ThaiQrError, read_bill_payment
from providers.payswitch.batches import HOME, KEY, MAX_BATCH_BYTES, disburse

__all__ = ["CALLBACK_ENV", "create_app", "serve"]

CALLBACK_ENV = "LINKAGE_PAYMENTS_CALLBACK"
_log = logging.getLogger("providers.payswitch")
_KEY = KEY
_CALLBACK = web.AppKey("payswitch_callback", str)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def _pay(request: web.Request) -> web.Response:
    if (request.content_length or 0) > 16 * 1024:
        return _error(413, "too_large", "a payment request is at most 16 KiB")
    try:
        doc = await request.json()
    except ValueError:
        return _error(400, "not_json", "the body must be JSON: {\"payload\": \"<Thai QR payload>\"}")
    payload = doc.get("payload") if isinstance(doc, dict) else None
    if not isinstance(payload, str):
        return _error(400, "no_payload", "the body must be {\"payload\": \"<Thai QR payload>\"}")
    try:
        bill = read_bill_payment(payload)
    except ThaiQrError as err:
        return _error(400, "bad_qr", str(err))
    notice = Notice(txn_id=f"TXN{secrets.token_hex(8).upper()}", biller_id=bill.biller_id, ref1=bill.ref1,
                    ref2=bill.ref2, amount=f"{bill.amount.quantize(Decimal('0.01'))}",
                    paid_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))
    body, signature = sign_notice(notice, request.app[_KEY])
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.post(
                request.app[_CALLBACK], data=body, headers={"Content-Type": "application/json",
                                                            SIGNATURE_HEADER: signature}) as resp:
            status, answer = resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        _log.warning("paid %s but the biller could not be told: %s", notice.txn_id, type(exc).__name__)
        return _error(502, "biller_unreachable", f"paid as {notice.txn_id}, but the biller at"
                                                 f" {request.app[_CALLBACK]} could not be reached")
    _log.info("paid %s: %s baht to biller %s ref %s; the biller answered %s", notice.txn_id, notice.amount,
              notice.biller_id, notice.ref1, status)
    return web.json_response({"txn_id": notice.txn_id, "amount": notice.amount, "paid_at": notice.paid_at,
                              "callback_status": status, "callback_answer": answer[:2000]})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "serving"})


def create_app(home: Home, callback_url: str) -> web.Application:
    """The switch; it makes its signing key in DIR/pki/payswitch/ the first time."""
    app = web.Application(client_max_size=MAX_BATCH_BYTES)
    app[_KEY] = load_or_make_switch_key(home)
    app[HOME] = home
    app[_CALLBACK] = callback_url
    app.router.add_post("/sandbox/pay", _pay)
    app.router.add_post("/disbursements", disburse)
    app.router.add_get("/health", _health)
    return app


async def serve(home: Home, port: int | None, ready: Callable[[int], None]) -> None:
    """Run the switch until cancelled on [payments] host and ``port`` (None: the configured one); the biller's
    callback is LINKAGE_PAYMENTS_CALLBACK, else the configured counter's /payments/callback."""
    settings = load_settings(home)
    config = settings.payments
    callback = os.environ.get(CALLBACK_ENV) or f"http://{settings.counter.address}/payments/callback"
    runner = web.AppRunner(create_app(home, callback), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port if port is None else port)
        await site.start()
        ready(int(runner.addresses[0][1]))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
