"""The queue on a real SQLite file: booking rules (past, outside hours, holiday, twice, full), cancel and rebook,
walk-ins, calling and no-shows, and the last seat under concurrent bookings from separate connections.

The counter's store is SQLite only (store.py: one file, BEGIN IMMEDIATE); there is no PostgreSQL store to test.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from consumers.counter.display import BANGKOK
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from consumers.counter.queue import Hours, Queue, QueueRefused, holiday_name, load_hours
from consumers.counter.store import CounterStore
from tests.counter.conftest import Counter, persona

# Tuesday 1 December 2026 (2569 BE), 09:00 in Bangkok. Monday 7 December is the substitute holiday for
# King Bhumibol's birthday (5 Dec, a Saturday); Thursday 10 December is Constitution Day.
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=BANGKOK).timestamp()
ELDERLY = "elderly-allowance"    # capacity 4 (manuals/queue/hours.toml)
PERMIT = "building-permit"       # capacity 1, 60-minute slots
A, B = "1101700207030", "3100600213459"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _queue(path: Path, clock: Clock) -> Queue:
    hours = load_hours(DEFAULT_FOLDER / "queue" / "hours.toml", list(load_manuals(DEFAULT_FOLDER)))
    return Queue(CounterStore(path), hours, clock)


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM queue_ticket").fetchone()[0])


def test_the_hours_file_and_the_holiday_calendar() -> None:
    hours = load_hours(DEFAULT_FOLDER / "queue" / "hours.toml", list(load_manuals(DEFAULT_FOLDER)))
    assert hours[ELDERLY].capacity == 4 and hours[PERMIT].capacity == 1 and hours["food-premises"].capacity == 2
    assert hours[ELDERLY].slots()[:2] == ["08:30", "09:00"] and "12:00" not in hours[ELDERLY].slots()
    assert hours[PERMIT].slots()[-1] == "15:30"  # 60-minute slots must end by 16:30
    assert holiday_name(dt.date(2026, 12, 10)) == "วันรัฐธรรมนูญ"
    assert holiday_name(dt.date(2026, 12, 8)) is None
    assert Hours().slots()[0] == "08:30"


def test_bad_bookings_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    q = _queue(path, Clock(NOW))
    cases = {
        "booking_in_past": ("2026-11-30", "10:00"),
        "booking_outside_hours": ("2026-12-02", "07:00"),
        "booking_closed_day": ("2026-12-10", "10:00"),
    }
    for code, (day, slot) in cases.items():
        with pytest.raises(QueueRefused) as info:
            q.book(ELDERLY, day, slot, A)
        assert info.value.code == code and info.value.message_th and info.value.message_en
    with pytest.raises(QueueRefused) as info:
        q.book(ELDERLY, "2026-12-07", "10:00", A)  # the substitute holiday
    assert "ชดเชย" in info.value.message_th
    with pytest.raises(QueueRefused):
        q.book(ELDERLY, "2026-12-05", "10:00", A)  # a Saturday (and a holiday)
    with pytest.raises(QueueRefused) as info:
        q.book(ELDERLY, "2026-12-01", "08:30", A)  # today, but that slot has begun
    assert info.value.code == "booking_in_past"
    assert _rows(path) == 0
    first = q.book(ELDERLY, "2026-12-02", "10:00", A)
    with pytest.raises(QueueRefused) as info:
        q.book(ELDERLY, "2026-12-03", "11:00", A)
    assert info.value.code == "booking_twice"
    assert _rows(path) == 1 and first.number == "B001" and first.state == "booked"


def test_cancel_and_rebook_keep_the_old_booking_when_the_new_slot_is_refused(tmp_path: Path) -> None:
    q = _queue(tmp_path / "c.sqlite", Clock(NOW))
    mine = q.book(PERMIT, "2026-12-02", "09:30", A)
    q.book(PERMIT, "2026-12-02", "10:30", B)  # the only seat of 10:30
    with pytest.raises(QueueRefused) as info:
        q.rebook(mine.code, A, "2026-12-02", "10:30")
    assert info.value.code == "booking_full"
    assert q.find(mine.code, A).state == "booked"  # kept
    with pytest.raises(QueueRefused):
        q.find(mine.code, B)  # not B's
    moved = q.rebook(mine.code, A, "2026-12-03", "13:30")
    assert moved.slot == "13:30" and q.find(mine.code, A).state == "cancelled"
    assert q.free_seats(PERMIT, dt.date(2026, 12, 2))["09:30"] == 1  # freed
    q.cancel(moved.code, A)
    with pytest.raises(QueueRefused) as info:
        q.cancel(moved.code, A)
    assert info.value.code == "booking_not_live"
    again = q.book(PERMIT, "2026-12-02", "09:30", A)  # a cancelled booking does not count as one held
    assert again.state == "booked"


def test_walk_ins_calls_waiting_times_and_no_shows(tmp_path: Path) -> None:
    clock = Clock(NOW)
    q = _queue(tmp_path / "c.sqlite", clock)
    booked = q.book(ELDERLY, "2026-12-01", "09:30", A)
    walk = q.walk_in(ELDERLY)
    assert walk.number == "W001" and walk.state == "waiting"
    later = q.book(ELDERLY, "2026-12-02", "09:30", B)  # tomorrow's: never called today
    clock.t += 20 * 60  # 09:20: the 09:30 booking is not due yet, the walk-in is
    called = q.call_next("3100600213459")
    assert called is not None and called.id == walk.id and called.waited_minutes == pytest.approx(20)
    assert q.call_next("3100600213459") is None
    clock.t += 25 * 60  # 09:45
    with pytest.raises(QueueRefused):
        q.finish(walk.id, "served", "1101700207030")  # not the officer who called it
    q.finish(walk.id, "served", "3100600213459")
    second = q.call_next("3100600213459")
    assert second is not None and second.id == booked.id and second.waited_minutes == pytest.approx(15)
    q.finish(booked.id, "no_show", "3100600213459")
    clock.t += 2 * 86400  # Thursday: Wednesday's booking was never called
    q.today()
    stats = q.stats("2026-12-01", "2026-12-02")[ELDERLY]
    assert (stats["tickets"], stats["served"], stats["no_show"], stats["walk_ins"]) == (3, 1, 2, 1)
    assert stats["wait_mean"] == pytest.approx(17.5) and stats["wait_max"] == pytest.approx(20)
    assert q.find(later.code, B).state == "no_show"


def test_two_citizens_never_get_the_last_seat(tmp_path: Path) -> None:
    """Eight citizens book the one seat of a slot at once, each through its own connection to the file (as
    separate counter processes would): exactly one gets it, the others are told it is full."""
    path = tmp_path / "c.sqlite"
    _queue(path, Clock(NOW)).store.close()  # the tables exist before the threads start
    ids = ["1101700207030", "3100600213459", "1100400123455", "1234567890121", "3101700211113",
           "1103700001110", "1539900011113", "3100100344556"]
    start = threading.Barrier(len(ids))
    won: list[str] = []
    refused: list[str] = []

    def book(subject: str) -> None:
        q = _queue(path, Clock(NOW))
        try:
            start.wait()
            q.book(PERMIT, "2026-12-02", "09:30", subject)
            won.append(subject)
        except QueueRefused as err:
            refused.append(err.code)
        finally:
            q.store.close()

    threads = [threading.Thread(target=book, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and refused == ["booking_full"] * (len(ids) - 1)
    assert _rows(path) == 1


def test_the_seat_index_refuses_a_second_row_for_a_seat(tmp_path: Path) -> None:
    """The database itself holds the line: a row for a taken seat written past the queue's check is refused."""
    path = tmp_path / "c.sqlite"
    q = _queue(path, Clock(NOW))
    t = q.book(PERMIT, "2026-12-02", "09:30", A)
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO queue_ticket (code, day, service_id, kind, number, slot, seat, subject_hash, state,"
                   " created, ready) VALUES ('X', ?, ?, 'booked', 'B999', ?, 1, 'h', 'booked', 0, 0)",
                   (t.day, t.service_id, t.slot))


async def test_the_booking_page_refuses_bad_slots_in_thai_and_english(counter: Counter,
                                                                       personas: list[dict[str, Any]]) -> None:
    citizen = persona(personas, "dopa.card")
    today = dt.datetime.now(BANGKOK).date()
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7)
    ahead = [today + dt.timedelta(days=i) for i in range(1, 20)]
    weekday = next(d for d in ahead if d.weekday() < 5 and holiday_name(d) is None)
    cases = [
        ("2020-01-06T09:00", "ผ่านไปแล้ว", "has passed"),
        (f"{weekday.isoformat()}T07:00", "นอกเวลารับจอง", "outside the booking hours"),
        (f"{saturday.isoformat()}T09:00", "สำนักงานปิด", "closed"),
        (f"{weekday.isoformat()}T09:00", "", ""),  # accepted
        (f"{weekday.isoformat()}T10:00", "มีการจองบริการนี้อยู่แล้ว", "already hold a booking"),
    ]
    for choice, th, en in cases:
        token = await counter.csrf(f"/queue/book?service={ELDERLY}")
        resp = await counter.client.post("/queue/book", data={"csrf": token, "service": ELDERLY, "choice": choice,
                                                              "subject_id": citizen})
        page = await resp.text()
        if th:
            assert resp.status == 409 and th in page and en in page, (choice, resp.status)
        else:
            assert resp.status == 200 and 'data-testid="booking-code"' in page
    with sqlite3.connect(counter.settings.database or "") as db:
        assert db.execute("SELECT COUNT(*) FROM queue_ticket").fetchone()[0] == 1
