"""Fees by Thai QR (issue 14, item 2): a submitted application's bill as a Thai QR, the mock payment switch
paying it and notifying the counter with a signed notice, the receipt; and every notice the counter must refuse
(forged, duplicate, late, another amount, another reference, unknown bill, malformed) refused, logged, and
changing nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from consumers.counter.applications.fees import BILLER_ID
from linkage.payments import SIGNATURE_HEADER, Notice, load_or_make_switch_key, sign_notice
from linkage.thaiqr import read_bill_payment
from tests.counter.conftest import Counter, csrf_of
from tests.counter.pdfcheck import pyhanko_status, tool

SERVICE = "street-vending"  # 300.00 baht
FORM = {"phone": "0812345678", "goods": "ผลไม้ตามฤดูกาล", "manner": "stall", "place": "หน้าตลาดเทศบาล",
        "helpers": "1"}


async def submitted_application(counter: Counter, personas: list[dict[str, Any]]) -> str:
    """A street-vending application, confirmed: its page's URL."""
    await counter.sign_in()
    subject = next(p["id"] for p in personas if p["kind"] == "citizen"
                   and {"dopa.card", "dopa.house"} <= set(p["doc_types"]))
    token = await counter.csrf(f"/cases/new/{SERVICE}")
    resp = await counter.client.post(f"/cases/new/{SERVICE}", data={"csrf": token, "subject_id": subject,
                                                                    "citizen_present": "1"}, allow_redirects=False)
    where = resp.headers["Location"]
    resp = await counter.client.post(f"{where}/application", data={**FORM, "csrf": token, "doc_lang": "th"},
                                     allow_redirects=False)
    assert resp.status == 303, await resp.text()
    app_url = str(resp.headers["Location"])
    # No QR for a draft: the bill is made only once the applicant has confirmed.
    assert (await counter.client.get(f"{app_url}/qr.png")).status == 404
    await counter.client.post(f"{app_url}/confirm", data={"csrf": token, "citizen_confirms": "1"})
    return app_url


async def post_notice(counter: Counter, notice: Notice, key: Ed25519PrivateKey) -> tuple[int, dict[str, Any]]:
    body, signature = sign_notice(notice, key)
    resp = await counter.client.post("/payments/callback", data=body,
                                     headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"})
    return resp.status, await resp.json()


def _outcomes(counter: Counter) -> list[str]:
    db = sqlite3.connect(counter.settings.database or "")
    return [r[0] for r in db.execute("SELECT outcome FROM payment_notice ORDER BY id")]


async def test_a_fee_is_paid_by_thai_qr_through_the_switch_and_receipted(
        counter: Counter, switch: str, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    app_url = await submitted_application(counter, personas)
    page = await (await counter.client.get(app_url)).text()
    assert page.count('data-testid="fee-qr"') == 1 and 'data-testid="fee-awaiting"' in page
    assert "<section" not in page.split("<title>", 1)[1].split("</title>", 1)[0]
    # The QR code drawn on the page holds the bill: decoded from the image, then field by field.
    png = await (await counter.client.get(f"{app_url}/qr.png")).read()
    [code] = [c.text for c in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    bill = read_bill_payment(code)
    number = page.split('data-testid="application-number">', 1)[1].split("<", 1)[0]
    assert (bill.biller_id, bill.ref1, str(bill.amount)) == (BILLER_ID, number.replace("-", ""), "300.00")
    assert bill.ref2.startswith("PHR25")
    assert code in page  # the payload is shown too, for an auditor

    # A payload the switch cannot read is answered as such; nothing is paid.
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{switch}/sandbox/pay", json={"payload": code[:-1] + "0"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"] == "bad_qr"
        async with http.post(f"{switch}/sandbox/pay", json={"payload": code}) as resp:
            paid = await resp.json()
    assert paid["callback_status"] == 200, paid
    page = await (await counter.client.get(app_url)).text()
    assert 'data-testid="fee-paid"' in page and paid["txn_id"] in page and "ชำระค่าธรรมเนียมแล้ว" in page
    # A paid application's QR is closed.
    resp = await counter.client.get(f"{app_url}/qr.png")
    assert resp.status == 409 and "ชำระค่าธรรมเนียมแล้ว" in await resp.text()

    resp = await counter.client.post(f"{app_url}/receipt", data={"csrf": csrf_of(page)})
    assert resp.status == 200 and resp.content_type == "application/pdf", await resp.text()
    pdf = await resp.read()
    status = await pyhanko_status(pdf, counter.stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted
    (tmp_path / "receipt.pdf").write_bytes(pdf)
    text = subprocess.run([tool("pdftotext"), "-layout", str(tmp_path / "receipt.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    receipt_no = resp.headers["Content-Disposition"].split('filename="', 1)[1].rstrip('"')[:-4]
    for expected in ("ใบเสร็จรับเงินอิเล็กทรอนิกส์", receipt_no, number, "300.00 บาท", paid["txn_id"]):
        assert expected in text, (expected, text[:1500])
    assert _outcomes(counter) == ["accepted"]


async def test_notices_the_counter_must_refuse_are_refused_logged_and_change_nothing(
        counter: Counter, personas: list[dict[str, Any]]) -> None:
    app_url = await submitted_application(counter, personas)
    page = await (await counter.client.get(app_url)).text()
    bill = read_bill_payment(page.split('data-testid="fee-payload">', 1)[1].split("<", 1)[0])
    key = load_or_make_switch_key(counter.stack.home)  # the switch's own key, as it signs with it
    now = dt.datetime.now(dt.UTC)
    good = Notice(txn_id="TXN0001", biller_id=BILLER_ID, ref1=bill.ref1, ref2=bill.ref2, amount="300.00",
                  paid_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"))
    late = (now + dt.timedelta(days=4)).isoformat(timespec="seconds").replace("+00:00", "Z")
    cases = [
        (good, Ed25519PrivateKey.generate(), 401, "forged"),
        (dataclasses.replace(good, amount="30.00"), key, 409, "wrong_amount"),
        (dataclasses.replace(good, ref2="PHR000000000"), key, 409, "wrong_reference"),
        (dataclasses.replace(good, paid_at=late), key, 409, "late"),
        (dataclasses.replace(good, ref1="PHRAPP999999999"), key, 409, "unknown_bill"),
        (dataclasses.replace(good, biller_id="010555000000100"), key, 409, "wrong_biller"),
        (dataclasses.replace(good, amount="300"), key, 400, "malformed"),
    ]
    for notice, signer, status, code in cases:
        got, answer = await post_notice(counter, notice, signer)
        assert (got, answer.get("error")) == (status, code), (code, answer)
        assert answer["message_th"] and answer["message_en"]
    # A notice with no signature at all, and one whose body was changed after signing.
    resp = await counter.client.post("/payments/callback", data=good.body())
    assert resp.status == 401
    body, signature = sign_notice(good, key)
    resp = await counter.client.post("/payments/callback", data=body.replace(b"300.00", b"3.00"),
                                     headers={SIGNATURE_HEADER: signature})
    assert resp.status == 401
    resp = await counter.client.post("/payments/callback", data=b"{" + b" " * 5000 + b"}",
                                     headers={SIGNATURE_HEADER: signature})
    assert resp.status == 400 and (await resp.json())["error"] == "malformed"  # too large to be a notice
    page = await (await counter.client.get(app_url)).text()
    assert 'data-testid="fee-awaiting"' in page and 'data-testid="fee-paid"' not in page  # still unpaid
    assert _outcomes(counter) == [c[3] for c in cases] + ["forged", "forged", "malformed"]

    # The right notice settles it once; the same notice again (a replay) and a second payment are refused.
    status, answer = await post_notice(counter, good, key)
    assert status == 200 and answer["status"] == "accepted" and answer["receipt"].startswith("PHR-RCP-25")
    assert await post_notice(counter, good, key) == (409, {"error": "duplicate", **_texts("duplicate")})
    again = dataclasses.replace(good, txn_id="TXN0002")
    assert (await post_notice(counter, again, key))[0] == 409
    db = sqlite3.connect(counter.settings.database or "")
    assert db.execute("SELECT txn_id, status FROM application_bill").fetchall() == [("TXN0001", "paid")]
    assert _outcomes(counter)[-3:] == ["accepted", "duplicate", "duplicate"]


def _texts(code: str) -> dict[str, str]:
    from consumers.counter.applications.fees import refusal_text

    th, en = refusal_text(code)
    return {"message_th": th, "message_en": en}
