"""Tracking and feedback on a real SQLite file: deadlines from the manual (working days skip weekends and Thai
holidays), moves in order only, by the case's agency only, overdue flagged once to the office head, the outbox,
ratings once per completed case of one's own; and over HTTP, a counter of another agency sharing the file
cannot move a case."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consumers.counter.app import create_app
from consumers.counter.display import BANGKOK
from consumers.counter.feedback import Feedback, FeedbackRefused
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from consumers.counter.store import Case, CaseRow, CounterStore
from consumers.counter.tracking import HEAD, Tracker, TrackRefused, promised
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, csrf_of, persona
from tests.counter.passkeys import http_sign_in
from tests.counter.test_citizen import _form, _me

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=BANGKOK)
MUNI, OTHER = "phrae-municipality", "phrae-hospital"
OFFICERS = frozenset({"3100600213459", "1101700207030"})
CITIZEN, STRANGER = "1100400123455", "1539900011113"
REF = "PHR-2569-00001"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _parts(path: Path, clock: Clock) -> tuple[Tracker, Feedback]:
    store = CounterStore(path)
    return Tracker(store, load_manuals(DEFAULT_FOLDER), clock), Feedback(store, clock)


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_deadlines_count_working_days_past_weekends_and_thai_holidays() -> None:
    # Hand-counted: 20 working days from Tue 1 Dec 2026 skip 7 Dec (substitute holiday), 10 Dec (Constitution
    # Day), 31 Dec and 1 Jan (New Year) and the weekends: Mon 4 Jan 2027; 10 more: Mon 18 Jan; 15 days: 2 Feb.
    got = promised(NOW, ["15 นาที", "20 วันทำการ", "10 วันทำการ", "15 วัน", "ตามที่ตกลง"])
    want = [dt.datetime(2026, 12, 1, 9, 15), dt.datetime(2027, 1, 4, 9, 15), dt.datetime(2027, 1, 18, 9, 15),
            dt.datetime(2027, 2, 2, 9, 15), None]
    assert got == [w.replace(tzinfo=BANGKOK) if w else None for w in want]


def test_moves_in_order_by_the_case_agency_only_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    clock = Clock(NOW.timestamp())
    tracker, _ = _parts(path, clock)
    officer = "3100600213459"
    track = tracker.received(REF, "elderly-allowance", MUNI, CITIZEN, officer)
    assert track.status == "received" and track.due == dt.datetime(2027, 1, 18, 9, 15, tzinfo=BANGKOK).timestamp()
    assert tracker.received(REF, "elderly-allowance", MUNI, CITIZEN, officer).events == track.events  # idempotent
    events, messages = _count(path, "case_event"), _count(path, "outbox")
    refusals = [
        (("approved", officer, MUNI, OFFICERS), "track_out_of_order"),
        (("completed", officer, MUNI, OFFICERS), "track_out_of_order"),
        (("under_review", officer, OTHER, OFFICERS), "track_other_agency"),
        (("under_review", "1234567890121", MUNI, OFFICERS), "track_other_agency"),
        (("no_such_status", officer, MUNI, OFFICERS), "track_out_of_order"),
    ]
    for args, code in refusals:
        with pytest.raises(TrackRefused) as info:
            tracker.move(REF, *args)
        assert info.value.code == code and info.value.message_th and info.value.message_en
    assert (_count(path, "case_event"), _count(path, "outbox")) == (events, messages)  # nothing written
    clock.t += 600
    tracker.move(REF, "under_review", "1101700207030", MUNI, OFFICERS)
    with pytest.raises(TrackRefused) as info:
        tracker.move(REF, "refused", officer, MUNI, OFFICERS, "  ")
    assert info.value.code == "track_reason_needed"
    tracker.move(REF, "waiting_citizen", officer, MUNI, OFFICERS, "สมุดบัญชีธนาคาร")
    tracker.move(REF, "under_review", officer, MUNI, OFFICERS)
    tracker.move(REF, "refused", officer, MUNI, OFFICERS, "อายุไม่ถึงหกสิบปี")
    done = tracker.move(REF, "completed", officer, MUNI, OFFICERS)
    assert [e.status for e in done.events] == ["received", "under_review", "waiting_citizen", "under_review",
                                               "refused", "completed"]
    assert done.events[1].officer_id == "1101700207030" and done.events[4].reason == "อายุไม่ถึงหกสิบปี"
    assert [s.late for s in done.steps] == [False, False, False]
    with pytest.raises(TrackRefused):
        tracker.move(REF, "under_review", officer, MUNI, OFFICERS)  # completed is the end
    outbox = tracker.outbox()
    assert len(outbox) == 6 and outbox[0].recipient == "1-1004-xxxxx-45-5"
    assert "อายุไม่ถึงหกสิบปี" in outbox[1].text_th and "ไม่อนุมัติ" in outbox[1].text_th
    # The citizen follows it with their own ID only.
    assert tracker.follow(REF, CITIZEN).status == "completed"
    with pytest.raises(TrackRefused):
        tracker.follow(REF, STRANGER)
    assert [t.case_ref for t in tracker.cases_of(CITIZEN)] == [REF] and tracker.cases_of(STRANGER) == []


def test_overdue_is_flagged_once_to_the_office_head(tmp_path: Path) -> None:
    clock = Clock(NOW.timestamp())
    tracker, _ = _parts(tmp_path / "c.sqlite", clock)
    tracker.received(REF, "elderly-allowance", MUNI, CITIZEN, "3100600213459")
    assert tracker.open_tracks(MUNI)[0].overdue is False
    clock.t += 16 * 60  # the counter step promised 15 minutes and the case is not yet under review
    tracks = tracker.open_tracks(MUNI)
    assert tracks[0].overdue and tracks[0].steps[0].late
    tracker.open_tracks(MUNI)
    assert [m.recipient for m in tracker.outbox()].count(HEAD) == 1
    tracker.move(REF, "under_review", "3100600213459", MUNI, OFFICERS)
    assert tracker.track(REF).steps[0].late and not tracker.track(REF).overdue  # late, but done
    assert tracker.open_tracks(OTHER) == []


def test_feedback_once_per_completed_case_of_ones_own(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    clock = Clock(NOW.timestamp())
    tracker, feedback = _parts(path, clock)
    officer = "3100600213459"
    for i, service in enumerate(["elderly-allowance", "elderly-allowance", "street-vending"]):
        tracker.received(f"{REF[:-1]}{i}", service, MUNI, CITIZEN, officer)
    with pytest.raises(FeedbackRefused) as info:
        feedback.give(f"{REF[:-1]}0", CITIZEN, "5", "")
    assert info.value.code == "feedback_not_completed"
    for i in range(3):
        for status in ("under_review", "approved", "completed"):
            tracker.move(f"{REF[:-1]}{i}", status, officer, MUNI, OFFICERS)
    for args, code in [((f"{REF[:-1]}0", STRANGER, "5", ""), "feedback_not_yours"),
                       ((f"{REF[:-1]}0", CITIZEN, "6", ""), "feedback_bad_rating"),
                       (("PHR-2569-99999", CITIZEN, "5", ""), "feedback_not_yours")]:
        with pytest.raises(FeedbackRefused) as info:
            feedback.give(*args)
        assert info.value.code == code
    assert _count(path, "feedback") == 0
    feedback.give(f"{REF[:-1]}0", CITIZEN, "5", "รวดเร็ว ไม่ต้องถ่ายสำเนา")
    feedback.give(f"{REF[:-1]}1", CITIZEN, "2", "")
    feedback.give(f"{REF[:-1]}2", CITIZEN, "4", "ดี")
    with pytest.raises(FeedbackRefused) as info:
        feedback.give(f"{REF[:-1]}0", CITIZEN, "1", "เปลี่ยนใจ")
    assert info.value.code == "feedback_twice"
    ratings = feedback.by_service()
    assert ratings["elderly-allowance"].count == 2 and ratings["elderly-allowance"].mean == pytest.approx(3.5)
    assert ratings["elderly-allowance"].spread == (0, 1, 0, 0, 1) and ratings["street-vending"].mean == 4
    assert feedback.comments("elderly-allowance") == [(5, "รวดเร็ว ไม่ต้องถ่ายสำเนา")]


async def test_an_officer_of_another_agency_cannot_move_a_case(
        counter: Counter, stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    """Two counters share the file: the hospital's officer, signed in at the hospital's counter, is refused."""
    await counter.sign_in()
    citizen = persona(personas, "dopa.card")
    token = await counter.csrf("/cases/new/elderly-allowance")
    resp = await counter.client.post("/cases/new/elderly-allowance", data={"csrf": token, "subject_id": citizen},
                                     allow_redirects=False)
    assert resp.status == 303
    page = await (await counter.client.get(resp.headers["Location"])).text()
    ref = re.search(r"/tracking/(PHR-\d{4}-\d{5})", page)
    assert ref is not None
    settings = counter.settings.__class__(**{**counter.settings.__dict__, "agency": OTHER})
    async with TestClient(TestServer(create_app(settings))) as other:
        officer = sorted(stack.settings.agencies[OTHER].officers)[0]
        assert await http_sign_in(other, stack.home, OTHER, officer, stack.counter_origin) == "/"
        resp = await other.get(f"/tracking/{ref.group(1)}")
        assert resp.status == 404 and "ไม่พบเรื่องนี้ในหน่วยงานของท่าน" in await resp.text()  # not shown either
        page = await (await other.get("/tracking")).text()
        assert ref.group(1) not in page
        resp = await other.post(f"/tracking/{ref.group(1)}/move",
                                data={"csrf": csrf_of(page), "status": "under_review"})
        text = await resp.text()
        assert resp.status == 403 and "หน่วยงานอื่น" in text and "another agency" in text
        assert "/tracking" in text and ref.group(1) in text
    # The municipality's own officer moves it.
    page = await (await counter.client.get(f"/tracking/{ref.group(1)}")).text()
    resp = await counter.client.post(f"/tracking/{ref.group(1)}/move", allow_redirects=False,
                                     data={"csrf": csrf_of(page), "status": "under_review"})
    assert resp.status == 303
    with sqlite3.connect(counter.settings.database or "") as db:
        assert [r[0] for r in db.execute("SELECT status FROM case_event ORDER BY seq")] == ["received",
                                                                                            "under_review"]


async def test_the_citizen_sees_their_cases_on_me(counter: Counter, personas: list[dict[str, Any]]) -> None:
    me = _me(personas)
    await counter.sign_in()
    token = await counter.csrf("/cases/new/elderly-allowance")
    resp = await counter.client.post("/cases/new/elderly-allowance", data={"csrf": token, "subject_id": me["id"]},
                                     allow_redirects=False)
    ref = re.search(r"/tracking/(PHR-\d{4}-\d{5})", await (await counter.client.get(resp.headers["Location"])).text())
    assert ref is not None
    counter.client.session.cookie_jar.clear()  # the citizen's own browser
    token = await counter.csrf("/me")
    page = await (await counter.client.post("/me", data=_form(me, token))).text()
    mine = page.split('data-testid="my-cases"', 1)[1].split("</section>", 1)[0]
    assert ref.group(1) in mine and "รับเรื่องแล้ว" in mine
    assert 'data-testid="my-cases"' not in await (await counter.client.get("/me")).text()  # nothing before the check


def test_the_time_counts_from_the_queue_ticket_the_officer_called(tmp_path: Path) -> None:
    from consumers.counter.queue import Queue, load_hours

    clock = Clock(NOW.timestamp())
    tracker, _ = _parts(tmp_path / "c.sqlite", clock)
    queue = Queue(tracker.store, load_hours(DEFAULT_FOLDER / "queue" / "hours.toml", list(tracker.manuals)), clock)
    walk_in = queue.walk_in("elderly-allowance")
    clock.t += 20 * 60
    assert queue.call_next("3100600213459") is not None
    clock.t += 5 * 60
    other = tracker.received("PHR-2569-00002", "street-vending", MUNI, CITIZEN, "3100600213459")
    mine = tracker.received(REF, "elderly-allowance", MUNI, CITIZEN, "3100600213459")
    assert mine.arrived == walk_in.ready and mine.opened == walk_in.ready + 25 * 60
    assert other.arrived == other.opened  # no ticket of that service was called


def test_a_case_and_its_timeline_are_written_together_or_not_at_all(tmp_path: Path) -> None:
    """open_case writes the case and its tracking timeline in one transaction: a timeline that cannot be
    written leaves no case behind, and one that can is there with the case."""
    store = CounterStore(tmp_path / "c.sqlite")
    tracker = Tracker(store, load_manuals(DEFAULT_FOLDER), Clock(NOW.timestamp()))

    def case(case_id: str) -> Case:
        return Case(id=case_id, ref="", service_id="elderly-allowance", subject_id=CITIZEN, citizen_present=True,
                    officer_id="3100600213459", created=NOW.timestamp(), opened_at=NOW.isoformat())

    def row(c: Case) -> CaseRow:
        return CaseRow(case_ref=c.ref, service_id=c.service_id, day=c.opened_at[:10], required=3, linked=2,
                       fetched=0, brought=1)

    def broken(db: sqlite3.Connection, c: Case) -> None:
        tracker.received_in(db, c.ref, "elderly-allowance", MUNI, CITIZEN, c.officer_id)
        raise sqlite3.OperationalError("disk I/O error")  # as if the disk failed after the timeline's rows

    with pytest.raises(sqlite3.OperationalError):
        store.open_case(case("a"), "PHR-2569-", row, also=broken)
    assert (_count(tmp_path / "c.sqlite", "open_case"), _count(tmp_path / "c.sqlite", "case_track")) == (0, 0)
    opened = store.open_case(case("b"), "PHR-2569-", row, also=lambda db, c: tracker.received_in(
        db, c.ref, "elderly-allowance", MUNI, CITIZEN, c.officer_id))
    assert tracker.track(opened.ref).status == "received" and _count(tmp_path / "c.sqlite", "open_case") == 1
