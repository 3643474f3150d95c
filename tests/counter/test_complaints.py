"""Complaints that go somewhere: owner, replies and an end; unanswered ones forwarded to the mock OPDC inbox
after the set days; counted against the office that demanded copies; and the public form's guards (flood from
one address, a bot's honeypot, the same text twice, links) refuse with a Thai and an English message, nothing
stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import create_app
from consumers.counter.complaint_desk import ComplaintDesk, ComplaintRefused
from consumers.counter.display import BANGKOK
from consumers.counter.store import CounterStore
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, counter_settings

FILED = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BANGKOK)
OFFICER = "3100600213459"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _file(store: CounterStore, office: str, demanded: str, details: str, days_after: float = 0) -> int:
    at = (FILED + dt.timedelta(days=days_after)).isoformat(timespec="seconds")
    return store.add_complaint(at, office, "building-permit", demanded, details, "0812345678")


def test_owner_replies_close_and_escalation_to_the_opdc(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "c.sqlite")
    clock = Clock(FILED.timestamp())
    desk = ComplaintDesk(store, escalate_days=15, clock=clock)
    left = _file(store, "กองช่าง", "สำเนาทะเบียนบ้าน", "ขอสำเนาทะเบียนบ้านสองชุด")
    taken = _file(store, "กองช่าง ", "สำเนาบัตร", "ขอสำเนาบัตร", 1)
    answered = _file(store, "กองคลัง", "", "รอนาน", 2)
    assert desk.one(left).status == "received" and desk.one(left).owner == ""  # the head's until taken
    with pytest.raises(ComplaintRefused) as info:
        desk.close(answered, OFFICER)  # nothing answered yet
    assert info.value.code == "complaint_out_of_order"
    with pytest.raises(ComplaintRefused):
        desk.reply(answered, OFFICER, "   ")
    desk.take(taken, OFFICER)
    desk.reply(answered, OFFICER, "ขออภัย ได้ปรับขั้นตอนแล้ว")
    assert (desk.one(taken).status, desk.one(taken).owner) == ("in_progress", OFFICER)
    assert [r.text for r in desk.one(answered).replies] == ["ขออภัย ได้ปรับขั้นตอนแล้ว"]
    clock.t = (FILED + dt.timedelta(days=15, minutes=1)).timestamp()
    assert desk.escalate_due() == 1  # only the first is 15 days old
    clock.t = (FILED + dt.timedelta(days=17)).timestamp()
    assert desk.escalate_due() == 1  # the taken one, still unanswered; the answered one stays with the office
    assert [c.status for c in desk.all()] == ["answered", "escalated", "escalated"]
    inbox = desk.inbox()
    assert [r[0] for r in inbox] == [taken, left] and all("0812345678" not in map(str, r) for r in inbox)
    with pytest.raises(ComplaintRefused):
        desk.reply(left, OFFICER, "ช้าไป")  # with the OPDC now
    desk.close(answered, OFFICER)
    assert desk.one(answered).status == "closed"
    # Counted against the office that demanded copies (the one with none named is not).
    assert desk.against_offices() == [("กองช่าง", 2, 0)]


async def test_the_public_form_refuses_floods_bots_and_repeats(counter: Counter) -> None:
    c = counter.client

    async def send(details: str, **extra: str) -> tuple[int, str]:
        token = await counter.csrf("/complaints/new")
        resp = await c.post("/complaints/new", data={"csrf": token, "office": "กองช่าง", "service": "other",
                                                     "demanded": "สำเนาบัตร", "details": details, **extra})
        return resp.status, await resp.text()

    def stored() -> int:
        with sqlite3.connect(counter.settings.database or "") as db:
            return int(db.execute("SELECT COUNT(*) FROM complaint").fetchone()[0])

    status, page = await send("ขอสำเนา", website="http://spam.example")
    assert status == 400 and "ช่องที่ผู้ใช้ทั่วไปมองไม่เห็น" in page
    assert "looks automated" in page and stored() == 0
    status, page = await send("ดู http://a.example http://b.example www.c.example")
    assert status == 400 and "ลิงก์มากเกินไป" in page and "Too many links" in page and stored() == 0
    status, _ = await send("เรื่องที่หนึ่ง")
    assert status == 200 and stored() == 1
    status, page = await send("  เรื่องที่หนึ่ง ")
    assert status == 400 and "ข้อความเดียวกันนี้" in page and "same text" in page and stored() == 1
    for i in range(4):
        assert (await send(f"เรื่องที่ {i + 2}"))[0] == 200
    status, page = await send("เรื่องที่เจ็ด")
    assert status == 429 and "หลายครั้งเกินไป" in page and "Too many complaints" in page
    assert stored() == 5
    # The office: the head owns it until an officer takes it, replies and closes; the reports count it.
    await counter.sign_in()
    page = await (await c.get("/complaints")).text()
    assert "หัวหน้าสำนักงาน" in page and "รับเรื่องแล้ว รอผู้รับผิดชอบ" in page
    for action, data in (("take", {}), ("reply", {"text": "ขออภัย จะไม่เรียกสำเนาอีก"}), ("close", {})):
        token = await counter.csrf("/complaints/1")
        resp = await c.post(f"/complaints/1/{action}", data={"csrf": token, **data}, allow_redirects=False)
        assert resp.status == 303, await resp.text()
    page = await (await c.get("/complaints/1")).text()
    assert "ปิดเรื่องแล้ว" in page and "ขออภัย จะไม่เรียกสำเนาอีก" in page
    token = await counter.csrf("/complaints/1")
    resp = await c.post("/complaints/1/reply", data={"csrf": token, "text": "อีกครั้ง"})
    assert resp.status == 409 and "ปิดเรื่องแล้ว" in await resp.text()
    page = await (await c.get("/reports")).text()
    assert 'data-testid="against"' in page and "กองช่าง" in page


async def test_a_complaint_nobody_opens_is_still_escalated_on_time(stack: RunningStack, tmp_path: Path) -> None:
    """The counter escalates on its own (a round every followup_sweep_s), not only when a page is opened."""
    settings = counter_settings(stack, tmp_path, complaint_escalate_days=15, followup_sweep_s=0.05)
    database = settings.database
    assert database is not None
    store = CounterStore(database)
    old = (dt.datetime.now(BANGKOK) - dt.timedelta(days=16)).isoformat(timespec="seconds")
    new = dt.datetime.now(BANGKOK).isoformat(timespec="seconds")
    late = store.add_complaint(old, "กองช่าง", "building-permit", "สำเนาทะเบียนบ้าน", "ขอสำเนาสองชุด", "")
    fresh = store.add_complaint(new, "กองช่าง", "building-permit", "", "รอนาน", "")
    store.close()
    async with TestClient(TestServer(create_app(settings))):  # no page is asked for
        for _ in range(200):
            with sqlite3.connect(database) as db:
                inbox = [r[0] for r in db.execute("SELECT * FROM opdc_inbox")]
            if inbox:
                break
            await asyncio.sleep(0.05)
    assert inbox == [late]  # the fresh one stays with the office
    desk = ComplaintDesk(CounterStore(database), escalate_days=15)
    assert (desk.one(late).status, desk.one(fresh).status) == ("escalated", "received")
