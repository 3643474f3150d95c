"""Tracking a counter case: its status timeline, who moved it and when, each step against the manual's promise.

    received → under_review → (waiting_citizen → under_review)* → approved | refused (with reasons) → completed

A case is tracked from the moment it is opened (``received``, by the officer who opened it). Only an officer of
the agency that opened it may move it, and only along the arrows above; anything else is refused and nothing
is written. Each move writes an event (status, officer, time, reason) and a message to the citizen in the
notification outbox (the sandbox's stand-in for SMS / LINE, shown at /outbox), in one transaction.

The manual's steps ([[steps]] duration: "15 นาที", "20 วันทำการ", "15 วัน") give each step a deadline counted
from the case's opening: working days skip weekends and Thai public holidays. The first step is done when the
case is first taken under review, every later step when it is approved or refused. A step not done by its
deadline is late; a case with a late step still open is overdue, and is flagged once to the office head (a
message in the outbox, and the list at /tracking).

The citizen's ID is kept only as a keyed hash (ledger.py) and a masked form for the outbox's address line.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from consumers.counter.display import BANGKOK, masked_id
from consumers.counter.errors import CounterError
from consumers.counter.ledger import subject_hash
from consumers.counter.manuals import Manual
from consumers.counter.queue import holiday_name
from consumers.counter.store import CounterStore

__all__ = ["FINAL", "LABELS", "NEXT", "Event", "Message", "NotYours", "StepCheck", "Track", "TrackRefused", "Tracker",
           "promised"]

Clock = Callable[[], float]

LABELS: Mapping[str, tuple[str, str]] = {
    "received": ("รับเรื่องแล้ว", "received"),
    "under_review": ("อยู่ระหว่างพิจารณา", "under review"),
    "waiting_citizen": ("รอเอกสารหรือข้อมูลจากผู้ยื่น", "waiting for the citizen"),
    "approved": ("อนุมัติ", "approved"),
    "refused": ("ไม่อนุมัติ", "refused"),
    "completed": ("เสร็จสิ้น", "completed"),
}
NEXT: Mapping[str, frozenset[str]] = {
    "received": frozenset({"under_review"}),
    "under_review": frozenset({"waiting_citizen", "approved", "refused"}),
    "waiting_citizen": frozenset({"under_review"}),
    "approved": frozenset({"completed"}),
    "refused": frozenset({"completed"}),
    "completed": frozenset(),
}
FINAL = "completed"
_DECIDED = ("approved", "refused")
_DURATION = re.compile(r"(\d+)\s*(นาที|ชั่วโมง|วันทำการ|วัน)")
HEAD = "หัวหน้าสำนักงาน"


class TrackRefused(CounterError):
    """A move or a look-up that cannot be done; nothing was written."""

    status = 409


class NotYours(TrackRefused):
    status = 403


def promised(start: dt.datetime, durations: list[str]) -> list[dt.datetime | None]:
    """Each step's deadline, counted on from the one before (None from a duration that cannot be read)."""
    out: list[dt.datetime | None] = []
    at: dt.datetime | None = start
    for text in durations:
        found = _DURATION.search(text)
        if at is None or found is None:
            at = None
        else:
            n, unit = int(found.group(1)), found.group(2)
            if unit == "นาที":
                at = at + dt.timedelta(minutes=n)
            elif unit == "ชั่วโมง":
                at = at + dt.timedelta(hours=n)
            elif unit == "วัน":
                at = at + dt.timedelta(days=n)
            else:
                at = _working_days(at, n)
        out.append(at)
    return out


def _working_days(start: dt.datetime, n: int) -> dt.datetime:
    at = start
    while n > 0:
        at += dt.timedelta(days=1)
        if at.weekday() < 5 and holiday_name(at.date()) is None:
            n -= 1
    return at


@dataclass(frozen=True)
class Event:
    seq: int
    status: str
    officer_id: str
    at: float
    reason: str


@dataclass(frozen=True)
class StepCheck:
    text: str
    duration: str
    deadline: float | None
    done: float | None
    late: bool


@dataclass(frozen=True)
class Message:
    id: int
    at: float
    recipient: str
    case_ref: str
    text_th: str
    text_en: str


@dataclass
class Track:
    case_ref: str
    service_id: str
    agency: str
    recipient: str
    status: str
    opened: float
    due: float
    arrived: float
    events: list[Event] = field(default_factory=list)
    steps: list[StepCheck] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return self.status != FINAL and any(s.late and s.done is None for s in self.steps)


class Tracker:
    def __init__(self, store: CounterStore, manuals: Mapping[str, Manual], clock: Clock = time.time) -> None:
        self.store = store
        self.manuals = manuals
        self.clock = clock

    def received(self, case_ref: str, service_id: str, agency: str, subject_id: str, officer_id: str) -> Track:
        """Start tracking an opened case (idempotent: a case already tracked is left as it is)."""
        with self.store.write() as db:
            self.received_in(db, case_ref, service_id, agency, subject_id, officer_id)
        return self.track(case_ref)

    def received_in(self, db: sqlite3.Connection, case_ref: str, service_id: str, agency: str, subject_id: str,
                    officer_id: str) -> None:
        """``received`` inside the caller's transaction: the store's ``open_case`` writes the case and its
        timeline together, so no case is ever left without one."""
        now = self.clock()
        deadlines = self._deadlines(service_id, now)
        due = max((d for d in deadlines if d is not None), default=now)
        today = dt.datetime.fromtimestamp(now, BANGKOK).date().isoformat()
        # The citizen's arrival: the queue ticket this officer called for this service today (its slot's start,
        # or when the walk-in's number was issued), else the case's opening.
        ticket = db.execute("SELECT ready FROM queue_ticket WHERE officer_id = ? AND service_id = ? AND day = ?"
                            " AND state = 'called' ORDER BY called DESC LIMIT 1",
                            (officer_id, service_id, today)).fetchone()
        cur = db.execute("INSERT OR IGNORE INTO case_track (case_ref, service_id, agency, subject_hash, recipient,"
                         " status, opened, due, updated, arrived) VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?, ?)",
                         (case_ref, service_id, agency, subject_hash(db, subject_id), masked_id(subject_id),
                          now, due, now, min(float(ticket[0]), now) if ticket else now))
        if cur.rowcount == 1:
            self._event(db, case_ref, "received", officer_id, now, "")

    def move(self, case_ref: str, status: str, officer_id: str, agency: str, officers: frozenset[str],
             reason: str = "") -> Track:
        """Move the case on; refused (TrackRefused) out of order, without a reason for a refusal, or by an officer
        who is not one of the case's agency's."""
        reason = reason.strip()
        now = self.clock()
        with self.store.write() as db:
            row = db.execute("SELECT status, agency FROM case_track WHERE case_ref = ?", (case_ref,)).fetchone()
            if row is None:
                raise _not_found()
            current, owner = row
            if owner != agency or officer_id not in officers:
                raise NotYours("track_other_agency", "เรื่องนี้อยู่ในความรับผิดชอบของหน่วยงานอื่น ท่านเปลี่ยนสถานะไม่ได้",
                               "This case belongs to another agency; you cannot change its status.")
            if status not in NEXT.get(current, frozenset()):
                now_th, now_en = LABELS[current]
                to_th, to_en = LABELS.get(status, (status, status))
                raise TrackRefused("track_out_of_order",
                                   f"เปลี่ยนสถานะจาก “{now_th}” เป็น “{to_th}” ไม่ได้ ต้องทำตามลำดับขั้นตอน",
                                   f"A case cannot go from “{now_en}” to “{to_en}”; the steps go in order.")
            if status in ("refused", "waiting_citizen") and not reason:
                raise TrackRefused("track_reason_needed", "กรุณาระบุเหตุผลหรือสิ่งที่ต้องการจากผู้ยื่น",
                                   "Please give the reasons, or what the citizen must bring.")
            db.execute("UPDATE case_track SET status = ?, updated = ?, steps = steps + 1, completed = ? WHERE"
                       " case_ref = ?", (status, now, now if status == FINAL else None, case_ref))
            self._event(db, case_ref, status, officer_id, now, reason)
        return self.track(case_ref)

    def track(self, case_ref: str) -> Track:
        with self.store.read() as db:
            found = self._load(db, case_ref)
        if found is None:
            raise _not_found()
        return found

    def follow(self, case_ref: str, subject_id: str) -> Track:
        """The citizen's own case by its number and their ID; the same refusal whether absent or not theirs."""
        with self.store.write() as db:
            row = db.execute("SELECT subject_hash FROM case_track WHERE case_ref = ?", (case_ref.strip(),)).fetchone()
            if row is None or row[0] != subject_hash(db, subject_id):
                raise _not_found()
        return self.track(case_ref.strip())

    def cases_of(self, subject_id: str) -> list[Track]:
        """Every tracked case of this citizen, newest first."""
        with self.store.write() as db:
            refs = [r[0] for r in db.execute("SELECT case_ref FROM case_track WHERE subject_hash = ? ORDER BY"
                                             " opened DESC", (subject_hash(db, subject_id),))]
        return [self.track(r) for r in refs]

    def open_tracks(self, agency: str) -> list[Track]:
        """The agency's cases not completed, oldest first; newly overdue ones are flagged to the office head."""
        with self.store.read() as db:
            refs = [r[0] for r in db.execute("SELECT case_ref FROM case_track WHERE agency = ? AND status != ?"
                                             " ORDER BY opened", (agency, FINAL))]
        tracks = [self.track(r) for r in refs]
        late = [t for t in tracks if t.overdue]
        if late:
            now = self.clock()
            with self.store.write() as db:
                for t in late:
                    if db.execute("UPDATE case_track SET flagged = 1 WHERE case_ref = ? AND flagged = 0",
                                  (t.case_ref,)).rowcount:
                        db.execute("INSERT INTO outbox (at, recipient, case_ref, text_th, text_en) VALUES"
                                   " (?, ?, ?, ?, ?)", (now, HEAD, t.case_ref,
                                                        f"เรื่อง {t.case_ref} เกินระยะเวลาที่คู่มือกำหนด",
                                                        f"Case {t.case_ref} is past the manual's deadline."))
        return tracks

    def outbox(self, limit: int = 200) -> list[Message]:
        with self.store.read() as db:
            return [Message(*r) for r in db.execute(
                "SELECT id, at, recipient, case_ref, text_th, text_en FROM outbox ORDER BY id DESC LIMIT ?",
                (limit,))]

    # --- inside -----------------------------------------------------------------------------------------------

    def _deadlines(self, service_id: str, opened: float) -> list[float | None]:
        manual = self.manuals.get(service_id)
        if manual is None:
            return []
        start = dt.datetime.fromtimestamp(opened, BANGKOK)
        return [d.timestamp() if d else None for d in promised(start, [s.duration for s in manual.steps])]

    def _event(self, db: sqlite3.Connection, case_ref: str, status: str, officer_id: str, at: float,
               reason: str) -> None:
        seq = db.execute("SELECT COUNT(*) FROM case_event WHERE case_ref = ?", (case_ref,)).fetchone()[0]
        db.execute("INSERT INTO case_event VALUES (?, ?, ?, ?, ?, ?)", (case_ref, seq, status, officer_id, at, reason))
        recipient = db.execute("SELECT recipient FROM case_track WHERE case_ref = ?", (case_ref,)).fetchone()[0]
        th, en = LABELS[status]
        why = f" เหตุผล: {reason}" if reason else ""
        db.execute("INSERT INTO outbox (at, recipient, case_ref, text_th, text_en) VALUES (?, ?, ?, ?, ?)",
                   (at, recipient, case_ref, f"เรื่อง {case_ref} ของท่าน: {th}{why}",
                    f"Your case {case_ref}: {en}{' - ' + reason if reason else ''}"))

    def _load(self, db: sqlite3.Connection, case_ref: str) -> Track | None:
        row = db.execute("SELECT case_ref, service_id, agency, recipient, status, opened, due,"
                         " COALESCE(arrived, opened) FROM case_track"
                         " WHERE case_ref = ?", (case_ref,)).fetchone()
        if row is None:
            return None
        track = Track(*row)
        track.events = [Event(*r) for r in db.execute(
            "SELECT seq, status, officer_id, at, reason FROM case_event WHERE case_ref = ? ORDER BY seq", (case_ref,))]
        first_review = next((e.at for e in track.events if e.status == "under_review"), None)
        decided = next((e.at for e in track.events if e.status in _DECIDED), None)
        manual = self.manuals.get(track.service_id)
        now = self.clock()
        if manual is not None:
            for i, (step, deadline) in enumerate(zip(manual.steps, self._deadlines(track.service_id, track.opened),
                                                     strict=True)):
                done = first_review if i == 0 else decided
                late = deadline is not None and ((done or now) > deadline)
                track.steps.append(StepCheck(step.text, step.duration, deadline, done, late))
        return track


def _not_found() -> TrackRefused:
    return TrackRefused("track_not_found", "ไม่พบเรื่องตามเลขที่และเลขประจำตัวที่ให้มา",
                        "No case with that number for that ID.")
