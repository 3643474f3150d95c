"""Tracking and feedback in a real browser (Debian's chromium through Playwright): an officer opens a case and
moves it on; the citizen follows it by number and ID, sees no rating form until it is completed, rates it once;
the outbox shows the messages to a masked ID; the reports show the rating per service."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningStack
from tests.counter.conftest import persona
from tests.counter.passkeys import browser_passkey
from tests.counter.test_browser import base_url, browser  # noqa: F401  (fixtures)

SERVICE = "elderly-allowance"


async def test_officer_moves_a_case_and_the_citizen_follows_and_rates_it(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]]) -> None:  # noqa: F811
    citizen = persona(personas, "dopa.card")
    officer_ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    desk = await officer_ctx.new_page()
    officer = sorted(stack.settings.agencies["phrae-municipality"].officers)[0]
    await browser_passkey(officer_ctx, desk, base_url, stack.home, "phrae-municipality", officer, stack.counter_origin)
    await desk.goto(f"{base_url}/signin?next=/cases/new/{SERVICE}")
    await desk.fill("#officer_id", officer)
    await desk.keyboard.press("Enter")
    await desk.locator("#subject_id").wait_for()
    await desk.fill("#subject_id", citizen)
    await desk.get_by_role("button", name="ดึงเอกสาร").click()
    await desk.get_by_test_id("tracking-link").click()
    ref = (await desk.locator("h1").inner_text()).split()[-1]
    assert ref.startswith("PHR-25")
    assert await desk.get_by_test_id("track-status").inner_text() == "รับเรื่องแล้ว"
    # Out of order is not offered; "under review" is.
    options = await desk.locator("#status option").all_inner_texts()
    assert options == ["อยู่ระหว่างพิจารณา"]
    await desk.get_by_test_id("move").click()
    assert "อยู่ระหว่างพิจารณา" in await desk.get_by_test_id("track-status").inner_text()
    # Refusing without reasons is refused, with the reason why, nothing written.
    await desk.select_option("#status", "refused")
    await desk.get_by_test_id("move").click()
    assert "กรุณาระบุเหตุผล" in await desk.get_by_test_id("move-error").inner_text()
    assert await desk.locator("[data-testid=timeline] li").count() == 2

    citizen_ctx = await browser.new_context(viewport={"width": 390, "height": 844})
    me = await citizen_ctx.new_page()

    async def follow() -> None:
        await me.goto(f"{base_url}/track")
        await me.fill("#case_ref", ref)
        await me.fill("#subject_id", citizen)
        await me.get_by_test_id("follow").click()

    await follow()
    assert await me.get_by_test_id("track-status").inner_text() == "อยู่ระหว่างพิจารณา"
    assert await me.get_by_test_id("feedback-form").count() == 0  # not completed yet
    timeline = await me.get_by_test_id("timeline").inner_text()
    assert "รับเรื่องแล้ว" in timeline and "โดย" not in timeline  # officers are not named to the public
    steps = await me.get_by_test_id("steps").inner_text()
    assert "20 วันทำการ" in steps and "25" in steps  # the manual's steps, deadlines in the Buddhist era

    await desk.select_option("#status", "approved")
    await desk.get_by_test_id("move").click()
    await desk.select_option("#status", "completed")
    await desk.get_by_test_id("move").click()
    assert await desk.get_by_test_id("track-status").inner_text() == "เสร็จสิ้น"
    assert "โดย" in await desk.get_by_test_id("timeline").inner_text()  # officers see who moved it

    await follow()
    assert await me.get_by_test_id("track-status").inner_text() == "เสร็จสิ้น"
    await me.get_by_test_id("rate").click()  # no rating chosen
    assert "กรุณาให้คะแนน 1 ถึง 5" in await me.get_by_test_id("track-error").inner_text()
    await me.check("input[name=rating][value='4']")
    await me.fill("#comment", "ไม่ต้องถ่ายสำเนาบัตร สะดวกมาก")
    await me.get_by_test_id("rate").click()
    assert "ขอบคุณ" in await me.get_by_test_id("track-notice").inner_text()
    assert await me.get_by_test_id("rated").count() == 1 and await me.get_by_test_id("feedback-form").count() == 0
    # Someone else's ID finds nothing.
    await me.goto(f"{base_url}/track")
    await me.fill("#case_ref", ref)
    await me.fill("#subject_id", next(str(p["id"]) for p in personas if p["kind"] == "citizen" and p["id"] != citizen))
    await me.get_by_test_id("follow").click()
    assert "ไม่พบเรื่อง" in await me.get_by_test_id("track-error").inner_text()

    await me.goto(f"{base_url}/outbox")  # not public: statuses and reasons of everyone's cases
    assert await me.get_by_test_id("outbox").count() == 0 and "/signin" in me.url
    await desk.goto(f"{base_url}/outbox")
    outbox = await desk.get_by_test_id("outbox").inner_text()
    assert f"เรื่อง {ref} ของท่าน: เสร็จสิ้น" in outbox and citizen not in outbox
    assert f"{citizen[0]}-{citizen[1:5]}-xxxxx" in outbox

    await desk.goto(f"{base_url}/reports")
    ratings = await desk.get_by_test_id("ratings").inner_text()
    assert "การลงทะเบียนและยื่นคำขอรับเงินเบี้ยยังชีพผู้สูงอายุ" in ratings and "4.0" in ratings
    await officer_ctx.close()
    await citizen_ctx.close()
