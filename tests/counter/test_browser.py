"""The counter in a real browser: Debian's chromium driven by Playwright (no browser download).

Signs in by keyboard, opens a case for a persona, fetches, sees the Thai name and the seal
status, checks the Sarabun web font is in use and that the page fits 1366x768 and a tablet.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from consumers.counter.app import create_app
from tests.conftest import RunningStack
from tests.counter.conftest import counter_settings, persona

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SERVICE = "health-hazard-business"


@pytest.fixture
async def base_url(stack: RunningStack, tmp_path: Path) -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(counter_settings(stack, tmp_path)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
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


async def test_officer_opens_a_case_and_sees_sealed_documents(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    citizen = persona(personas, "dbd.commerce")
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await ctx.new_page()
    await page.goto(f"{base_url}/signin")
    # Keyboard only: the ID field has focus, Enter submits.
    assert await page.evaluate("document.activeElement.id") == "officer_id"
    await page.keyboard.type(officer)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base_url}/")
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

    # The certified printout button is there and reachable by keyboard.
    certify = page.get_by_test_id("certify")
    assert await certify.is_visible()
    await certify.focus()
    assert await page.evaluate("document.activeElement.dataset.testid") == "certify"

    # English switch.
    await page.get_by_role("link", name="English").click()
    assert await page.get_by_test_id("certify").inner_text() == "Print certified copy (PDF)"
    await ctx.close()
