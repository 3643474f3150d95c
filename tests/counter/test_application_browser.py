"""An application in a real browser (Debian's chromium through Playwright, as tests/counter/test_browser.py):
counter case → prefilled form, in English → bad values answered next to their fields in English → the
applicant confirms → the signed PDF, in English with Gregorian dates."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from consumers.counter.applications.values import date_text
from tests.conftest import RunningStack
from tests.counter.pdfcheck import pyhanko_status, tool
from tests.counter.test_browser import base_url, browser  # noqa: F401 (fixtures)

SERVICE = "elderly-allowance"


async def test_officer_fills_an_application_from_the_case_and_prints_it_in_english(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]],  # noqa: F811
        tmp_path: Path) -> None:
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    person = next(p for p in personas if p["kind"] == "citizen"
                  and {"dopa.card", "dopa.house", "dopa.person"} <= set(p["doc_types"]))
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await ctx.new_page()
    await page.goto(f"{base_url}/signin")
    await page.keyboard.type(officer)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base_url}/")
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
