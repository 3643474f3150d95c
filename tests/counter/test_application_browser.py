"""Applications in a real browser (Debian's chromium through Playwright, as tests/counter/test_browser.py):
counter case → prefilled form, in English → bad values answered next to their fields in English → the
applicant confirms → the signed PDF, in English with Gregorian dates; and a service with a fee: the Thai QR
on screen, paid at the mock payment switch, the signed receipt."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import zxingcpp
from aiohttp.test_utils import TestServer
from PIL import Image

from consumers.counter.applications.values import date_text
from linkage.thaiqr import read_bill_payment
from providers.payswitch.server import create_app as create_switch
from tests.conftest import RunningStack
from tests.counter.passkeys import browser_passkey
from tests.counter.pdfcheck import pyhanko_status, tool
from tests.counter.test_browser import base_url, browser, sign_in_by_keyboard  # noqa: F401 (fixtures)

SERVICE = "elderly-allowance"


async def test_officer_fills_an_application_from_the_case_and_prints_it_in_english(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]],  # noqa: F811
        tmp_path: Path) -> None:
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    person = next(p for p in personas if p["kind"] == "citizen"
                  and {"dopa.card", "dopa.house", "dopa.person"} <= set(p["doc_types"]))
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await ctx.new_page()
    await browser_passkey(ctx, page, base_url, stack.home, "phrae-municipality", officer, stack.counter_origin)
    await sign_in_by_keyboard(page, base_url, officer)
    await page.goto(f"{base_url}/cases/new/{SERVICE}")
    await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").fill(person["id"])
    await page.get_by_label("ผู้ยื่นคำขอมาแสดงตนพร้อมบัตรประจำตัวประชาชน").check()
    await page.get_by_role("button", name="ดึงเอกสาร").click()
    await page.wait_for_url(f"{base_url}/cases/**")

    # The form, prefilled from the printouts: read-only, each naming the printout it came from.
    await page.get_by_test_id("application-start").click()
    await page.wait_for_url("**/application")
    first_name = await page.get_by_test_id("prefilled-first_name").input_value()
    assert first_name and all("\u0e00" <= ch <= "\u0e7f" for ch in first_name)
    assert await page.get_by_test_id("prefilled-first_name").get_attribute("readonly") is not None
    assert "จากระบบเชื่อมโยง: บัตรประจำตัวประชาชน" in await page.locator("#f-first_name-src").inner_text()
    # The application in English (the page around it stays Thai): labels and dates in English, Gregorian.
    await page.get_by_test_id("doc-lang-en").click()
    await page.wait_for_url("**/application?doc_lang=en")
    born = await page.get_by_test_id("prefilled-birth_date").input_value()
    assert born[-4:].isdigit() and int(born[-4:]) < 2100, born  # a Gregorian year
    await page.get_by_label("Phone number").fill("12345")
    await page.get_by_label("Monthly income (baht)").fill("lots")
    await page.get_by_label("Marital status").select_option("married")
    await page.get_by_label("To be paid by").select_option("promptpay")
    await page.get_by_test_id("application-save").click()
    error = page.locator("#f-phone-error")
    assert "9 or 10 digits starting with 0" in await error.inner_text()
    assert await page.get_by_label("Phone number").get_attribute("aria-describedby") == "f-phone-error"
    assert "A whole number" in await page.locator("#f-monthly_income-error").inner_text()
    assert await page.get_by_label("Phone number").input_value() == "12345"  # kept as typed
    await page.get_by_label("Phone number").fill("054-511-111")
    await page.get_by_label("Monthly income (baht)").fill("2,500")
    await page.get_by_test_id("application-save").click()
    await page.wait_for_url(f"{base_url}/applications/**")

    # The applicant checks it and confirms; then the signed PDF.
    number = await page.get_by_test_id("application-number").inner_text()
    assert "054511111" in await page.get_by_test_id("value-phone").inner_text()
    await page.get_by_label("The applicant has checked every value and confirms it").check()
    await page.get_by_test_id("application-confirm").click()
    await page.wait_for_selector('[data-testid="application-pdf"]')
    assert "Submitted" in await page.get_by_test_id("application-status").inner_text()
    async with page.expect_download() as info:
        await page.get_by_test_id("application-pdf").click()
    download = await info.value
    path = tmp_path / "application.pdf"
    await download.save_as(path)
    assert download.suggested_filename == f"{number}.pdf"
    status = await pyhanko_status(path.read_bytes(), stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted
    text = subprocess.run([tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Application for registration for the elderly allowance" in text and number in text
    assert date_text(_iso(born), "en") in " ".join(text.split()), text[:2000]
    await ctx.close()


def _iso(typed: str) -> str:
    months = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
    day, month, year = typed.split()
    return f"{year}-{months.index(month) + 1:02d}-{int(day):02d}"


async def test_a_fee_is_paid_by_scanning_the_qr_on_screen_and_the_receipt_follows(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]],  # noqa: F811
        tmp_path: Path) -> None:
    """Counter case → prefilled form → fee QR on screen → the mock switch pays what the screen shows → receipt."""
    switch = TestServer(create_switch(stack.home, f"{base_url}/payments/callback"))
    await switch.start_server()
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    person = next(p for p in personas if p["kind"] == "citizen" and {"dopa.card", "dopa.house"} <= set(p["doc_types"]))
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await ctx.new_page()
    try:
        await browser_passkey(ctx, page, base_url, stack.home, "phrae-municipality", officer, stack.counter_origin)
        await sign_in_by_keyboard(page, base_url, officer)
        await page.goto(f"{base_url}/cases/new/street-vending")
        await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").fill(person["id"])
        await page.get_by_label("ผู้ยื่นคำขอมาแสดงตนพร้อมบัตรประจำตัวประชาชน").check()
        await page.get_by_role("button", name="ดึงเอกสาร").click()
        await page.wait_for_url(f"{base_url}/cases/**")
        await page.get_by_test_id("application-start").click()
        await page.wait_for_url("**/application")
        assert await page.get_by_test_id("prefilled-last_name").input_value()
        await page.get_by_label("หมายเลขโทรศัพท์ที่ติดต่อได้").fill("0812345678")
        await page.get_by_label("ชนิดสินค้าที่จำหน่าย").fill("ผลไม้")
        await page.get_by_label("ลักษณะการจำหน่าย").select_option("hawking")
        await page.get_by_label("จุดที่ขอจำหน่าย").fill("ถนนเจริญเมือง")
        await page.get_by_label("จำนวนผู้ช่วยจำหน่าย").fill("9")
        await page.get_by_test_id("application-save").click()
        assert "ต้องอยู่ระหว่าง 0 ถึง 5" in await page.locator("#f-helpers-error").inner_text()
        await page.get_by_label("จำนวนผู้ช่วยจำหน่าย").fill("0")
        await page.get_by_test_id("application-save").click()
        await page.wait_for_url(f"{base_url}/applications/**")
        assert not await page.get_by_test_id("fee-qr").count()  # no QR before the applicant confirms
        await page.get_by_label("ผู้ยื่นคำขอได้ตรวจข้อมูลทุกช่องแล้ว และยืนยันว่าถูกต้อง").check()
        await page.get_by_test_id("application-confirm").click()

        # The QR as the screen shows it, read as a banking app would, and paid at the switch.
        qr = page.get_by_test_id("fee-qr")
        await qr.wait_for()
        assert await page.get_by_test_id("fee-amount").inner_text() == "300.00"
        shot = tmp_path / "qr.png"
        await qr.screenshot(path=str(shot))
        [payload] = [c.text for c in zxingcpp.read_barcodes(Image.open(shot))]
        assert read_bill_payment(payload).amount == Decimal("300.00")
        async with aiohttp.ClientSession() as http, http.post(
                str(switch.make_url("/sandbox/pay")), json={"payload": payload}) as resp:
            paid = await resp.json()
        assert paid["callback_status"] == 200, paid
        await page.reload()
        assert paid["txn_id"] in await page.get_by_test_id("fee-paid").inner_text()
        assert await page.get_by_test_id("fee-qr").count() == 0
        async with page.expect_download() as info:
            await page.get_by_test_id("receipt-pdf").click()
        download = await info.value
        path = tmp_path / "receipt.pdf"
        await download.save_as(path)
        status = await pyhanko_status(path.read_bytes(), stack.home.ca.cert)
        assert status.intact and status.valid and status.trusted
        text = subprocess.run([tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "ใบเสร็จรับเงินอิเล็กทรอนิกส์" in text and "300.00 บาท" in text and paid["txn_id"] in text
    finally:
        await ctx.close()
        await switch.close()
