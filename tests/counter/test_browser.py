"""The counter in a real browser: Debian's chromium driven by Playwright (no browser download).

Signs in by keyboard, opens a case for a persona, fetches, sees the Thai name and the seal
status, checks the Sarabun web font is in use and that the page fits 1366x768 and a tablet,
then certifies and downloads the PDF and checks it with pyHanko, pdfsig, pdftotext and its QR code.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect
from pypdf import PdfReader

from consumers.auditor.papercode import join_parts, verify_paper_code
from consumers.auditor.summary import SummaryTrust
from consumers.counter.app import create_app
from linkage.seal import unverified_payload
from tests.conftest import RunningStack
from tests.counter.conftest import MUNI, counter_settings, persona
from tests.counter.passkeys import browser_passkey
from tests.counter.pdfcheck import pdfsig, pyhanko_status, read_qr, tool

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SERVICE = "health-hazard-business"


@pytest.fixture
async def base_url(stack: RunningStack, tmp_path: Path) -> AsyncIterator[str]:
    """The counter at http://localhost:PORT, the origin whose passkeys the test's hub accepts (WebAuthn needs a
    secure context; localhost is one)."""
    runner = web.AppRunner(create_app(counter_settings(stack, tmp_path)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", stack.settings.counter.port)
    await site.start()
    try:
        yield stack.counter_origin
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("no /usr/bin/chromium: apt-get install chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def sign_in_by_keyboard(page: Any, base_url: str, officer: str) -> None:
    """Sign in as an officer at the desk does: /signin (the passkey page while the hub requires sessions; give the
    browser the passkey first, tests.counter.passkeys.browser_passkey), the ID field has the focus on arrival, type
    the ID, press Enter.

    Chromium gives an ``autofocus`` field the focus at its next rendering step, which may come after the load
    event that ends ``page.goto`` (on a busy machine, up to some tens of milliseconds after): a key typed before
    then goes to the page body and is lost, and the ID sent is one digit short, refused, and the wait for "/" never
    ends. So wait for the focus, as the officer waits for the caret, and then type.
    """
    await page.goto(f"{base_url}/signin")
    await expect(page.locator("#officer_id")).to_be_focused()
    await page.keyboard.type(officer)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base_url}/")


async def test_officer_opens_a_case_and_sees_sealed_documents(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]], tmp_path: Path) -> None:
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    citizen = persona(personas, "dbd.commerce")
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await ctx.new_page()
    await browser_passkey(ctx, page, base_url, stack.home, MUNI, officer, stack.counter_origin)
    # Whatever the Content-Security-Policy blocks is reported on the console; nothing may be.
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type in ("error", "warning") else None)
    assert "frame-ancestors 'none'" in (await page.request.get(f"{base_url}/signin")).headers[
        "content-security-policy"]
    # Keyboard only, on the passkey page /signin leads to: the ID field has focus, Enter submits, the passkey
    # answers (the virtual authenticator finds the officer present and verified).
    await sign_in_by_keyboard(page, base_url, officer)
    officer_name = await page.get_by_test_id("officer").inner_text()
    assert officer_name and officer_name != officer

    await page.goto(f"{base_url}/cases/new/{SERVICE}")
    # A malformed ID is answered next to the field.
    await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").fill(citizen[:12])
    await page.get_by_role("button", name="ดึงเอกสาร").click()
    error = page.locator("#subject_id-error")
    assert "13 หลัก" in await error.inner_text()
    assert await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").get_attribute(
        "aria-describedby") == "subject_id-error"

    await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").fill(citizen)
    await page.get_by_label("ผู้ยื่นคำขอมาแสดงตนพร้อมบัตรประจำตัวประชาชน").check()
    await page.get_by_role("button", name="ดึงเอกสาร").click()
    await page.wait_for_url(f"{base_url}/cases/**")
    assert await page.get_by_test_id("subject").inner_text() == citizen

    # The citizen's Thai name, from the civil registry, in the person card.
    data = next(p for p in personas if p["id"] == citizen)
    card = page.locator("#doc-dopa-person")
    first_name = await card.locator("tr", has_text="ชื่อ").first.locator("td").inner_text()
    assert first_name and all("\u0e00" <= ch <= "\u0e7f" for ch in first_name.replace(" ", ""))
    seals = page.get_by_test_id("seal")
    linked = [t for t in data["doc_types"] if t in ("dopa.card", "dopa.house", "dopa.person", "dbd.commerce",
                                                    "edu.degree")]
    assert await seals.count() == len(linked)
    for i in range(await seals.count()):
        assert "ตราประทับอิเล็กทรอนิกส์ถูกต้อง" in await seals.nth(i).inner_text()
    assert "แผนที่ตั้ง" in await page.get_by_test_id("brought").inner_text()

    # Thai is drawn with the Sarabun web font the app serves, not a fallback.
    assert await page.evaluate("document.fonts.check('16px Sarabun', 'ทดสอบ')")
    loaded = await page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert any("Sarabun" in f for f in loaded)
    # Fits 1366x768 without sideways scrolling, and a tablet too.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1366
    await page.set_viewport_size({"width": 768, "height": 1024})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768

    # The certified printout: reached by keyboard, one key press, one signed PDF downloaded.
    certify = page.get_by_test_id("certify")
    assert await certify.is_visible()
    await certify.focus()
    assert await page.evaluate("document.activeElement.dataset.testid") == "certify"
    async with page.expect_download() as info:
        await page.keyboard.press("Enter")
    download = await info.value
    pdf_path = tmp_path / "certified.pdf"
    await download.save_as(pdf_path)
    await _check_certified_pdf(pdf_path, stack, citizen, len(linked), tmp_path)
    await _verify_a_photo(browser, base_url, pdf_path, citizen, tmp_path)

    # English switch.
    await page.get_by_role("link", name="English").click()
    assert await page.get_by_test_id("certify").inner_text() == "Print certified copy (PDF)"
    assert not [m for m in console if "Content Security Policy" in m], console
    await ctx.close()


async def _check_certified_pdf(path: Path, stack: RunningStack, citizen: str, documents: int, tmp: Path) -> None:
    """The downloaded PDF as an auditor would check it: pyHanko, pdfsig, its Thai text, its QR code."""
    pdf = path.read_bytes()
    status = await pyhanko_status(pdf, stack.home.ca.cert)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    out = pdfsig(path, stack.home.ca.cert, tmp)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out
    assert "Signer Certificate Common Name: phrae-municipality" in out, out
    text = subprocess.run([tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    attached = PdfReader(io.BytesIO(pdf)).attachments
    jws = [j.decode("ascii") for name, [j] in attached.items() if name.endswith(".jws")]
    # Each printout's log proof rides beside it: the PDF proves itself offline.
    assert sorted(n for n in attached if n.endswith(".log.json")) == sorted(
        f"{unverified_payload(j)['printout_id']}.log.json" for j in jws)
    assert len(jws) == documents
    data = next(unverified_payload(j)["data"] for j in jws if unverified_payload(j)["doc_type"] == "dopa.person")
    name = f"{data['title']}{data['first_name_th']} {data['last_name_th']}"
    assert name in text and citizen in text, text[:1500]
    whole, parts = join_parts(read_qr(path, tmp))
    report = verify_paper_code(whole, SummaryTrust.from_pki_dir(stack.home.pki), parts=parts)
    said = report.claims
    assert said.subject_id == citizen and said.subject_name == name and report.signer == "phrae-municipality"
    assert sorted(d.printout_id for d in said.documents) == sorted(unverified_payload(j)["printout_id"] for j in jws)
    for doc in said.documents:
        assert any(doc.matches(j) for j in jws)


async def _verify_a_photo(browser: Any, base_url: str, pdf_path: Path, citizen: str, tmp: Path) -> None:
    """Anyone, not signed in, uploads a JPEG photo of the certified paper's last page on /verify by keyboard, and
    sees every signed field, the certifying officer and the photo's printed text compared."""
    from PIL import Image

    subprocess.run([tool("pdftoppm"), "-r", "150", "-png", str(pdf_path), str(tmp / "photo")], check=True,
                   capture_output=True, timeout=60)
    photo = tmp / "photo.jpg"
    Image.open(sorted(tmp.glob("photo*.png"))[-1]).convert("RGB").save(photo, "JPEG", quality=85)
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})  # no cookies: not signed in
    page = await ctx.new_page()
    await page.goto(f"{base_url}/verify")
    await expect(page.locator("#photo")).to_be_focused()  # autofocus, given at the first rendering step
    await page.set_input_files("#photo", str(photo))
    # The answer page comes once the photo's printed text is read (OCR, off the loop): about 2 s of CPU, but tens of
    # seconds on a two-core machine that other work keeps busy. The click waits for that page: the ceiling is its.
    await page.get_by_role("button", name="ตรวจสอบ").click(timeout=90_000)
    verdict = await page.get_by_test_id("verdict").inner_text()
    assert "ถูกต้อง" in verdict.splitlines()[0] and "ไม่ถูกต้อง" not in verdict.splitlines()[0], verdict
    assert "phrae-municipality" in await page.get_by_test_id("certified-by").inner_text()
    fields = page.get_by_test_id("fields")
    assert citizen in await fields.inner_text()
    # Five documents take two pages: the photo of the last one (with the QR code) shows the header's print time
    # and the certification; what page 1 prints is listed, as not in this photo.
    assert await fields.locator('tr[data-status="matches"]').count() >= 1
    assert await fields.locator('tr[data-status="unreadable"]').count() > 10
    assert await fields.locator('tr[data-status="differs"]').count() == 0
    await ctx.close()


async def test_officer_revokes_a_misprinted_copy_and_fetches_a_new_one(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    import asyncio
    import json
    import re

    from consumers.auditor.client import AuditClient

    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    citizen = persona(personas, "dbd.commerce")
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    await browser_passkey(ctx, page, base_url, stack.home, MUNI, officer, stack.counter_origin)
    await sign_in_by_keyboard(page, base_url, officer)
    await page.goto(f"{base_url}/cases/new/{SERVICE}")
    await page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้ยื่นคำขอ").fill(citizen)
    await page.get_by_label("ผู้ยื่นคำขอมาแสดงตนพร้อมบัตรประจำตัวประชาชน").check()
    await page.get_by_role("button", name="ดึงเอกสาร").click()
    await page.wait_for_url(f"{base_url}/cases/**")
    card = page.locator("#doc-dopa-person")
    found = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", await card.inner_text())
    assert found, await card.inner_text()
    printout_id = found.group(0)

    # A reason is required: the browser will not send the form without one.
    await page.get_by_test_id("revoke-open-dopa.person").click()
    await page.get_by_test_id("revoke-dopa.person").click()
    assert await card.get_by_label("เหตุผลที่เพิกถอน").evaluate("e => e.validity.valueMissing")
    await card.get_by_label("เหตุผลที่เพิกถอน").fill("พิมพ์ผิดฉบับ ชื่อไม่ชัด")
    await page.get_by_test_id("revoke-dopa.person").click()
    await page.wait_for_url(f"{base_url}/cases/**#doc-dopa-person")
    text = await card.inner_text()
    assert "ถูกเพิกถอนแล้ว" in text and "printout_revoked" not in await card.locator(".problem").inner_text()
    assert await page.get_by_test_id("seal").count() >= 1  # the other documents stand

    # The hub logged it: the revocation names this agency, the signed-in officer and the reason.
    def logged() -> dict[str, Any]:
        own = stack.home.client_cert("auditor")
        with AuditClient.connect(stack.hub_address, stack.home.ca.cert, own) as log:
            revocation = log.revocation(printout_id)
            assert revocation.revoked and revocation.reason == "พิมพ์ผิดฉบับ ชื่อไม่ชัด"
            [entry] = log.entries(revocation.log_index, revocation.log_index + 1)
            leaf: dict[str, Any] = json.loads(entry.leaf)
            return leaf

    leaf = await asyncio.to_thread(logged)
    assert (leaf["kind"], leaf["agency"], leaf["officer_id"]) == ("revocation", "phrae-municipality", officer)

    # A new copy: retry fetches a new printout, sealed, with another id.
    await page.get_by_test_id("retry-dopa.person").click()
    await page.wait_for_url(f"{base_url}/cases/**")
    assert "ตราประทับอิเล็กทรอนิกส์ถูกต้อง" in await card.get_by_test_id("seal").inner_text()
    assert printout_id not in await card.inner_text()
    await ctx.close()
