"""The citizen's consent on their own page, in a real browser (Debian's chromium, Playwright): an office asks,
the citizen checks their card, sees what would be sent, approves one request and refuses another; the office's
fetch uses the approved one once, and the page lists it, checked against the log."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.client import HubClient
from linkage.errors import LinkageError
from tests.conftest import RunningStack
from tests.counter.test_browser import base_url, browser
from tests.officers import session

__all__ = ["base_url", "browser"]  # the fixtures, shared with the counter's browser test

MUNI = "phrae-municipality"
PURPOSE = "ขอรับเบี้ยยังชีพผู้สูงอายุออนไลน์"


async def _show_my_page(page: Any, base: str, me: dict[str, Any]) -> None:
    await page.goto(f"{base}/me")
    for name, value in (("subject_id", me["id"]), *me["card"].items()):
        await page.locator(f"#{name}").fill(value)
    await page.get_by_role("button", name="ดูประวัติการเข้าถึง").click()
    await page.get_by_test_id("me-subject").wait_for()


async def test_the_citizen_approves_one_request_and_refuses_another(
        browser: Any, base_url: str, stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    me = next(p for p in personas if p["name"] == "ordinary")
    officer = sorted(stack.settings.agencies[MUNI].officers)[0]
    async with HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(MUNI)) as hub:
        wanted = await hub.request_consent(["dopa.person"], me["id"], purpose=PURPOSE, officer_id=officer,
                                           case_ref="ONLINE-0042")
        unwanted = await hub.request_consent(["dopa.house"], me["id"], purpose="ตรวจสอบทะเบียนบ้าน",
                                             officer_id=officer)
        page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
        await _show_my_page(page, base_url, me)
        mine = page.locator(f"[data-consent='{wanted.consent_id}']")
        # The preview: what the office would receive, the citizen's own name among it.
        assert me["card"]["first_name_th"] in await mine.get_by_test_id("consent-preview").inner_text()
        await mine.get_by_test_id("approve").click()
        assert "ท่านให้ความยินยอมแล้ว" in await page.get_by_test_id("me-notice").inner_text()
        assert await page.locator(f"[data-consent='{wanted.consent_id}']").get_attribute("data-status") == "approved"
        await page.locator(f"[data-consent='{unwanted.consent_id}']").get_by_test_id("refuse").click()
        assert "ท่านปฏิเสธแล้ว" in await page.get_by_test_id("me-notice").inner_text()

        signed_in = await session(stack, MUNI, officer)
        doc = await hub.fetch_document("dopa.person", me["id"], purpose=PURPOSE, officer_session=signed_in,
                                       case_ref="ONLINE-0042", consent_id=wanted.consent_id)
        with pytest.raises(LinkageError) as refused:
            await hub.fetch_document("dopa.house", me["id"], purpose="ตรวจสอบทะเบียนบ้าน", officer_session=signed_in,
                                     consent_id=unwanted.consent_id)
        assert refused.value.code == "consent_refused"

    # Back on the page: the read is listed as made on the citizen's consent, and proved in the log.
    await _show_my_page(page, base_url, me)
    row = page.locator("[data-testid='accesses'] tr", has_text=doc.printout_id)
    assert "ความยินยอมของท่าน" in await row.inner_text()
    proved = page.get_by_test_id("me-proved")
    assert await proved.get_attribute("data-ok") == "True", await proved.inner_text()
    assert "ตรวจกับบันทึกแล้ว" in await proved.inner_text()
    assert await page.locator(f"[data-consent='{wanted.consent_id}']").get_attribute("data-status") == "used"
