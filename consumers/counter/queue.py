"""The queue: citizens book a slot online, walk-ins take a number at the desk, the officer calls the next.

    Hours            per service: days, opening hours, lunch, slot length, capacity per slot (manuals/queue/hours.toml)
    load_hours       that file, checked at start (ManualError naming the file and the problem)
    Queue            book / cancel / rebook / walk_in / today / call_next / finish / stats, on the counter's store

A ticket's ``state``: ``booked`` (a slot, not yet called), ``waiting`` (a walk-in's number), ``called``, then
``served`` or ``no_show``; ``cancelled`` by the citizen. Bookings of a day gone by that were never called
become ``no_show`` on the next change. Waiting time is from the slot's start (booked) or the number's issue
(walk-in) to the call.

Two citizens never get the last seat: a booking counts the seats taken and writes its own inside one
``BEGIN IMMEDIATE`` transaction (one writer at a time, across processes sharing the file), and the unique
index ``queue_seat`` (service, day, slot, seat) refuses a second row for a seat even if that were bypassed.
A citizen holds at most one live booking per service (index ``queue_one_booking``). Rebooking cancels the
old booking and books the new in one transaction: if the new slot is refused, the old one is kept.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import holidays

from consumers.counter.display import BANGKOK
from consumers.counter.errors import CounterError, ManualError
from consumers.counter.ledger import subject_hash
from consumers.counter.store import CounterStore

__all__ = ["DAYS", "Hours", "Queue", "QueueRefused", "Ticket", "holiday_name", "load_hours"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYS_TH = ("จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์")
_KEYS = {"days", "open", "close", "lunch", "slot_minutes", "capacity", "book_ahead_days"}
Clock = Callable[[], float]


class QueueRefused(CounterError):
    """A booking, cancellation or call that cannot be done; nothing was written."""

    status = 409


@dataclass(frozen=True)
class Hours:
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    open: dt.time = dt.time(8, 30)
    close: dt.time = dt.time(16, 30)
    lunch: tuple[dt.time, dt.time] | None = (dt.time(12), dt.time(13))
    slot_minutes: int = 30
    capacity: int = 2
    book_ahead_days: int = 30

    def slots(self) -> list[str]:
        """The slots' start times of an open day, "HH:MM"."""
        out, t = [], dt.datetime.combine(dt.date(2000, 1, 1), self.open)
        end = dt.datetime.combine(t.date(), self.close)
        step = dt.timedelta(minutes=self.slot_minutes)
        while t + step <= end:
            if self.lunch is None or not (self.lunch[0] <= t.time() < self.lunch[1]):
                out.append(t.strftime("%H:%M"))
            t += step
        return out


def load_hours(path: Path, services: list[str]) -> dict[str, Hours]:
    """Each service's hours from the file (defaults where it says nothing; every service when it is missing)."""
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ManualError(path, 0, f"อ่านไฟล์เวลาเปิดรับจองไม่ได้ / cannot read the opening hours: {exc}") from exc
    default = _hours(path, Hours(), raw.get("default", {}))
    per = raw.get("services", {})
    for name in per:
        if name not in services:
            raise ManualError(path, 0, f"ไม่มีบริการ {name!r} ในคู่มือ / no manual for service {name!r}")
    return {s: _hours(path, default, per.get(s, {})) for s in services}


def _hours(path: Path, base: Hours, raw: Mapping[str, Any]) -> Hours:
    unknown = set(raw) - _KEYS
    if unknown:
        raise ManualError(path, 0, f"ไม่รู้จักหัวข้อ / unknown keys: {', '.join(sorted(unknown))}")
    try:
        out = base
        if "days" in raw:
            out = replace(out, days=tuple(DAYS.index(d) for d in raw["days"]))
        if "open" in raw:
            out = replace(out, open=dt.time.fromisoformat(raw["open"]))
        if "close" in raw:
            out = replace(out, close=dt.time.fromisoformat(raw["close"]))
        if "lunch" in raw:
            lunch = raw["lunch"]
            out = replace(out, lunch=(dt.time.fromisoformat(lunch[0]), dt.time.fromisoformat(lunch[1]))
                          if lunch else None)
        for key in ("slot_minutes", "capacity", "book_ahead_days"):
            if key in raw:
                if not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 1:
                    raise ValueError(f"{key} must be a whole number ≥ 1")
                out = replace(out, **{key: raw[key]})
    except (ValueError, TypeError, IndexError) as exc:
        raise ManualError(path, 0, f"เวลาเปิดรับจองไม่ถูกต้อง / invalid opening hours: {exc}") from exc
    if out.open >= out.close or not out.slots():
        raise ManualError(path, 0, "เวลาเปิดต้องก่อนเวลาปิด / opening must come before closing")
    return out


@lru_cache(maxsize=8)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("TH", years=year, language="th")


def holiday_name(day: dt.date) -> str | None:
    """The Thai public holiday on this day (its Thai name), or None."""
    name = _calendar(day.year).get(day)
    return str(name) if name else None


@dataclass(frozen=True)
class Ticket:
    id: int
    code: str
    day: str
    service_id: str
    kind: str
    number: str
    slot: str
    state: str
    ready: float
    called: float | None
    finished: float | None
    officer_id: str

    @property
    def waited_minutes(self) -> float | None:
        return None if self.called is None else max(0.0, self.called - self.ready) / 60


_COLUMNS = "id, code, day, service_id, kind, number, slot, state, ready, called, finished, officer_id"


class Queue:
    """The queue on the counter's store. ``clock``: wall-clock seconds (tests move it)."""

    def __init__(self, store: CounterStore, hours: Mapping[str, Hours], clock: Clock = time.time) -> None:
        self.store = store
        self.hours = hours
        self.clock = clock

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), BANGKOK)

    # --- what is open ----------------------------------------------------------------------------------------

    def closed_reason(self, service_id: str, day: dt.date) -> tuple[str, str] | None:
        """Why the office takes no bookings that day (Thai, English), or None when it is open."""
        hours = self._hours(service_id)
        name = holiday_name(day)
        if name:
            return f"วันหยุดราชการ: {name}", "a Thai public holiday"
        if day.weekday() not in hours.days:
            return f"วัน{DAYS_TH[day.weekday()]} ไม่เปิดให้บริการ", "the office is closed on that day of the week"
        return None

    def free_seats(self, service_id: str, day: dt.date) -> dict[str, int]:
        """Each slot of the day that is still ahead, with its free seats; {} when the office is closed."""
        hours = self._hours(service_id)
        if self.closed_reason(service_id, day) is not None:
            return {}
        now = self.now()
        with self.store.read() as db:
            taken = dict(db.execute(
                "SELECT slot, COUNT(*) FROM queue_ticket WHERE service_id = ? AND day = ? AND kind = 'booked'"
                " AND state != 'cancelled' GROUP BY slot", (service_id, day.isoformat())).fetchall())
        return {s: hours.capacity - int(taken.get(s, 0)) for s in hours.slots()
                if _start(day, s) > now}

    # --- the citizen's side ----------------------------------------------------------------------------------

    def book(self, service_id: str, day: str, slot: str, subject_id: str) -> Ticket:
        """Book a seat; raises QueueRefused (past, closed, outside hours, full, or already booked)."""
        when = self._check_slot(service_id, day, slot)
        with self.store.write() as db:
            return self._book(db, service_id, when, slot, subject_hash(db, subject_id))

    def find(self, code: str, subject_id: str) -> Ticket:
        """The citizen's booking by its code and their ID; QueueRefused if it is not theirs."""
        with self.store.write() as db:
            row = db.execute(f"SELECT {_COLUMNS}, subject_hash FROM queue_ticket WHERE code = ?",
                             (code.strip().upper(),)).fetchone()
            if row is None or row[-1] != subject_hash(db, subject_id):
                raise QueueRefused("booking_not_found", "ไม่พบการจองตามรหัสและเลขประจำตัวที่ให้มา",
                                   "No booking with that code for that ID.")
        return Ticket(*row[:-1])

    def cancel(self, code: str, subject_id: str) -> Ticket:
        ticket = self.find(code, subject_id)
        with self.store.write() as db:
            if db.execute("UPDATE queue_ticket SET state = 'cancelled', finished = ? WHERE id = ? AND"
                          " state = 'booked'", (self.clock(), ticket.id)).rowcount != 1:
                raise _not_live()
        return self.ticket(ticket.id)

    def rebook(self, code: str, subject_id: str, day: str, slot: str) -> Ticket:
        """Move a live booking to another slot in one transaction: the old one is kept if the new is refused."""
        old = self.find(code, subject_id)
        when = self._check_slot(old.service_id, day, slot)
        with self.store.write() as db:
            if db.execute("UPDATE queue_ticket SET state = 'cancelled', finished = ? WHERE id = ? AND"
                          " state = 'booked'", (self.clock(), old.id)).rowcount != 1:
                raise _not_live()
            return self._book(db, old.service_id, when, slot, subject_hash(db, subject_id))

    def _check_slot(self, service_id: str, day: str, slot: str) -> dt.date:
        hours = self._hours(service_id)
        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            raise QueueRefused("booking_bad_day", "วันที่ไม่ถูกต้อง", "That is not a date.") from None
        now = self.now()
        if slot not in hours.slots():
            raise QueueRefused("booking_outside_hours",
                               f"เวลา {slot[:5]} อยู่นอกเวลารับจอง ({hours.open:%H:%M}-{hours.close:%H:%M} น."
                               f" ช่วงละ {hours.slot_minutes} นาที ยกเว้นพักกลางวัน)",
                               f"{slot[:5]} is outside the booking hours ({hours.open:%H:%M}-{hours.close:%H:%M},"
                               f" {hours.slot_minutes}-minute slots, lunch excepted).")
        if _start(when, slot) <= now:
            raise QueueRefused("booking_in_past", "ช่วงเวลานี้ผ่านไปแล้ว กรุณาเลือกวันและเวลาที่ยังมาไม่ถึง",
                               "That slot has passed; choose one still to come.")
        if when > now.date() + dt.timedelta(days=hours.book_ahead_days):
            raise QueueRefused("booking_too_far", f"จองล่วงหน้าได้ไม่เกิน {hours.book_ahead_days} วัน",
                               f"Bookings open at most {hours.book_ahead_days} days ahead.")
        closed = self.closed_reason(service_id, when)
        if closed is not None:
            raise QueueRefused("booking_closed_day", f"สำนักงานปิดในวันนั้น ({closed[0]}) กรุณาเลือกวันอื่น",
                               f"The office is closed that day ({closed[1]}); choose another day.")
        return when

    def _book(self, db: sqlite3.Connection, service_id: str, day: dt.date, slot: str, who: str) -> Ticket:
        self._sweep(db)
        if db.execute("SELECT 1 FROM queue_ticket WHERE service_id = ? AND subject_hash = ? AND state = 'booked'",
                      (service_id, who)).fetchone():
            raise QueueRefused("booking_twice", "ท่านมีการจองบริการนี้อยู่แล้ว กรุณายกเลิกหรือเลื่อนการจองเดิม",
                               "You already hold a booking for this service; cancel or move it instead.")
        taken = {r[0] for r in db.execute(
            "SELECT seat FROM queue_ticket WHERE service_id = ? AND day = ? AND slot = ? AND kind = 'booked'"
            " AND state != 'cancelled'", (service_id, day.isoformat(), slot))}
        free = [s for s in range(1, self._hours(service_id).capacity + 1) if s not in taken]
        if not free:
            raise _full()
        try:
            return self._insert(db, service_id, day, "booked", slot, free[0], who,
                                _start(day, slot).timestamp())
        except sqlite3.IntegrityError:
            raise _full() from None

    # --- the desk ---------------------------------------------------------------------------------------------

    def walk_in(self, service_id: str) -> Ticket:
        """A number for a citizen at the desk, today."""
        self._hours(service_id)
        with self.store.write() as db:
            return self._insert(db, service_id, self.now().date(), "walkin", "", 0, "", self.clock())

    def today(self) -> list[Ticket]:
        """Today's tickets (not cancelled), in the order they are called."""
        with self.store.write() as db:
            self._sweep(db)
            rows = db.execute(f"SELECT {_COLUMNS} FROM queue_ticket WHERE day = ? AND state != 'cancelled'"
                              " ORDER BY ready, number", (self.now().date().isoformat(),)).fetchall()
        return [Ticket(*r) for r in rows]

    def call_next(self, officer_id: str, service_id: str | None = None) -> Ticket | None:
        """The first waiting walk-in or booking whose slot has begun, now called by this officer; None if none."""
        now = self.clock()
        with self.store.write() as db:
            row = db.execute(
                "SELECT id FROM queue_ticket WHERE day = ? AND state IN ('booked', 'waiting') AND ready <= ?"
                " AND (? IS NULL OR service_id = ?) ORDER BY ready, number LIMIT 1",
                (self.now().date().isoformat(), now, service_id, service_id)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE queue_ticket SET state = 'called', called = ?, officer_id = ? WHERE id = ?",
                       (now, officer_id, row[0]))
        return self.ticket(int(row[0]))

    def finish(self, ticket_id: int, outcome: str, officer_id: str) -> Ticket:
        """A called ticket served, or marked a no-show; only by the officer who called it."""
        if outcome not in ("served", "no_show"):
            raise QueueRefused("queue_bad_outcome", "ผลการเรียกคิวไม่ถูกต้อง", "Unknown outcome.")
        with self.store.write() as db:
            if db.execute("UPDATE queue_ticket SET state = ?, finished = ? WHERE id = ? AND state = 'called' AND"
                          " officer_id = ?", (outcome, self.clock(), ticket_id, officer_id)).rowcount != 1:
                raise QueueRefused("queue_not_called", "คิวนี้ไม่ได้ถูกเรียกโดยท่าน หรือปิดไปแล้ว",
                                   "This ticket was not called by you, or is already closed.")
        return self.ticket(ticket_id)

    def ticket(self, ticket_id: int) -> Ticket:
        with self.store.read() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM queue_ticket WHERE id = ?", (ticket_id,)).fetchone()
        return Ticket(*row)

    def stats(self, since: str, until: str) -> dict[str, dict[str, float]]:
        """Per service over days [since, until]: tickets, served, no-shows, cancelled, mean and longest wait."""
        out: dict[str, dict[str, float]] = {}
        with self.store.read() as db:
            rows = db.execute("SELECT service_id, state, kind, ready, called FROM queue_ticket WHERE day"
                              " BETWEEN ? AND ?", (since, until)).fetchall()
        for service, state, kind, ready, called in rows:
            s = out.setdefault(service, {"tickets": 0, "booked": 0, "walk_ins": 0, "served": 0, "no_show": 0,
                                         "cancelled": 0, "waits": 0, "wait_total": 0.0, "wait_max": 0.0})
            s["tickets"] += 1
            s["booked" if kind == "booked" else "walk_ins"] += 1
            if state in ("served", "no_show", "cancelled"):
                s[state] += 1
            if called is not None:
                wait = max(0.0, called - ready) / 60
                s["waits"] += 1
                s["wait_total"] += wait
                s["wait_max"] = max(s["wait_max"], wait)
        for s in out.values():
            s["wait_mean"] = s["wait_total"] / s["waits"] if s["waits"] else 0.0
        return out

    # --- inside -----------------------------------------------------------------------------------------------

    def _hours(self, service_id: str) -> Hours:
        hours = self.hours.get(service_id)
        if hours is None:
            raise QueueRefused("service_not_found", "ไม่มีบริการนี้ในคู่มือของหน่วยงาน",
                               "There is no such service in this office's manuals.")
        return hours

    def _sweep(self, db: sqlite3.Connection) -> None:
        """Bookings of days gone by that were never called are no-shows."""
        db.execute("UPDATE queue_ticket SET state = 'no_show' WHERE state IN ('booked', 'waiting') AND day < ?",
                   (self.now().date().isoformat(),))

    def _insert(self, db: sqlite3.Connection, service_id: str, day: dt.date, kind: str, slot: str, seat: int,
                who: str, ready: float) -> Ticket:
        letter = "B" if kind == "booked" else "W"
        count = db.execute("SELECT COUNT(*) FROM queue_ticket WHERE day = ? AND kind = ?",
                           (day.isoformat(), kind)).fetchone()[0]
        code = secrets.token_hex(4).upper()
        cur = db.execute(
            "INSERT INTO queue_ticket (code, day, service_id, kind, number, slot, seat, subject_hash, state,"
            " created, ready) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, day.isoformat(), service_id, kind, f"{letter}{count + 1:03d}", slot, seat, who,
             "booked" if kind == "booked" else "waiting", self.clock(), ready))
        row = db.execute(f"SELECT {_COLUMNS} FROM queue_ticket WHERE id = ?", (cur.lastrowid,)).fetchone()
        return Ticket(*row)


def _start(day: dt.date, slot: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(slot), BANGKOK)


def _full() -> QueueRefused:
    return QueueRefused("booking_full", "ช่วงเวลานี้เต็มแล้ว กรุณาเลือกช่วงเวลาอื่น",
                        "That slot is full; choose another.")


def _not_live() -> QueueRefused:
    return QueueRefused("booking_not_live", "การจองนี้ถูกยกเลิก ถูกเรียกคิว หรือหมดอายุแล้ว",
                        "This booking was cancelled, called or has lapsed.")
