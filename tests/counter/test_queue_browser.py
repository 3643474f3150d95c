"""The queue in a real browser (Debian's chromium through Playwright): a citizen books a slot, finds and
cancels it; an officer gives a walk-in a number, calls it and marks it served; bad bookings are refused on
the page with a Thai and an English message and nothing is written."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import RunningStack
from tests.counter.conftest import persona
from tests.counter.passkeys import browser_passkey
from tests.counter.test_browser import base_url, browser  # noqa: F401  (fixtures)

SERVICE = "elderly-allowance"


def _tickets(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "counter.sqlite") as db:
        return [(r[0], r[1]) for r in db.execute("SELECT number, state FROM queue_ticket ORDER BY id")]


async def test_citizen_books_and_cancels_and_officer_calls_a_walk_in(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]],  # noqa: F811
        tmp_path: Path) -> None:
    citizen = persona(personas, "dopa.card")
    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    await page.goto(f"{base_url}/queue/book")
    assert "จองคิว" in await page.locator("h1").inner_text()
    await page.select_option("#service", SERVICE)
    await page.get_by_role("button", name="ดูช่วงเวลาที่ว่าง").click()
    # Weekends (and any holiday in the next fortnight) are listed as closed, with the reason in Thai.
    closed = page.locator("[data-testid^=closed-]")
    assert await closed.count() >= 4
    assert "ปิดทำการ" in await closed.first.inner_text()
    # Booking without choosing a slot is refused on the page, nothing written.
    await page.fill("#subject_id", citizen)
    await page.get_by_test_id("book").click()
    error = page.get_by_test_id("booking-error")
    assert "กรุณาเลือกวันและเวลา" in await error.inner_text() and "Please choose" in await error.inner_text()
    assert _tickets(tmp_path) == []
    first_slot = page.locator("input[name=choice]:not([disabled])").first
    chosen = await first_slot.get_attribute("value")
    await first_slot.check()
    await page.fill("#subject_id", citizen)
    await page.get_by_test_id("book").click()
    done = page.get_by_test_id("booking-done")
    assert "จองคิวแล้ว" in await done.inner_text()
    code = await page.get_by_test_id("booking-code").inner_text()
    assert re.fullmatch(r"[0-9A-F]{8}", code)
    assert chosen is not None and chosen[11:] in await done.inner_text()
    # Twice: refused with the reason.
    await page.locator("input[name=choice]:not([disabled])").nth(1).check()
    await page.fill("#subject_id", citizen)
    await page.get_by_test_id("book").click()
    assert "มีการจองบริการนี้อยู่แล้ว" in await page.get_by_test_id("booking-error").inner_text()
    assert _tickets(tmp_path) == [("B001", "booked")]

    # The citizen finds the booking by code and ID, and cancels it.
    await page.goto(f"{base_url}/queue/mine")
    await page.fill("#code", code)
    await page.fill("#subject_id", citizen)
    await page.get_by_role("button", name="ค้นหา").click()
    assert await page.get_by_test_id("booking-state").inner_text() == "จองไว้"
    assert str(int(chosen[:4]) + 543) in await page.get_by_test_id("booking").inner_text()  # Buddhist era
    await page.get_by_test_id("cancel").click()
    assert "ยกเลิกการจองแล้ว" in await page.get_by_test_id("booking-notice").inner_text()
    assert await page.get_by_test_id("booking-state").inner_text() == "ยกเลิกแล้ว"
    assert _tickets(tmp_path) == [("B001", "cancelled")]

    # The officer: a walk-in's number, called and served.
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    await browser_passkey(ctx, page, base_url, stack.home, "phrae-municipality", officer, stack.counter_origin)
    await page.goto(f"{base_url}/signin?next=/queue")
    await page.fill("#officer_id", officer)
    await page.keyboard.press("Enter")
    await page.get_by_test_id("call-next").wait_for()
    await page.get_by_test_id("call-next").click()
    assert "ไม่มีผู้รอคิว" in await page.get_by_test_id("queue-error").inner_text()
    await page.select_option("#walkin-service", SERVICE)
    await page.get_by_test_id("walk-in").click()
    assert "W001" in await page.get_by_test_id("issued").inner_text()
    assert "W001" in await page.get_by_test_id("waiting").inner_text()
    await page.get_by_test_id("call-next").click()
    assert await page.get_by_test_id("called-number").inner_text() == "W001"
    await page.get_by_test_id("served").click()
    assert await page.get_by_test_id("calling").count() == 0
    assert "รับบริการแล้ว" in await page.get_by_test_id("done").inner_text()
    stats = await page.get_by_test_id("queue-stats").inner_text()
    assert "การลงทะเบียนและยื่นคำขอรับเงินเบี้ยยังชีพผู้สูงอายุ" in stats
    assert ("W001", "served") in _tickets(tmp_path)
    await ctx.close()
