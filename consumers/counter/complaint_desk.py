"""Complaints that go somewhere: a status, an owner, replies, and escalation to the supervising body.

    received → in_progress (an officer takes it: the owner) → answered (a reply sent) → closed
                 └──────────── unanswered after ``escalate_days`` ─────────────→ escalated (to the OPDC inbox)

A complaint nobody has taken is owned by the office head. One not answered within ``escalate_days`` of its
filing is forwarded, whole but without the contact, to a mock inbox of the Office of the Public Sector
Development Commission (สำนักงาน ก.พ.ร., shown at /opdc), in the transaction that marks it escalated; the
sweep runs whenever the complaints or the inbox are looked at. Complaints that name copies demanded count
against the office named (``against_offices``), for the reports.

The public form is guarded without a CAPTCHA service (``SpamGuard``): a field hidden from people that bots fill
in (a honeypot), at most ``per_address`` (5) accepted complaints per address in ten minutes, the same text twice in
a day refused, and no more than two links. Each refusal is a Thai and English message and nothing is stored.

The complaint itself stays in store.py's ``complaint`` table; the follow-up is in tables of its own (ledger.py).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from consumers.counter.display import BANGKOK
from consumers.counter.errors import CounterError, TooManyAttempts
from consumers.counter.sessions import Limiter
from consumers.counter.store import CounterStore

__all__ = ["STATUS", "ComplaintDesk", "ComplaintRefused", "Followed", "Reply", "SpamGuard"]


STATUS = {
    "received": ("รับเรื่องแล้ว รอผู้รับผิดชอบ", "received, no owner yet"),
    "in_progress": ("อยู่ระหว่างดำเนินการ", "in progress"),
    "answered": ("ตอบกลับแล้ว", "answered"),
    "closed": ("ปิดเรื่องแล้ว", "closed"),
    "escalated": ("ส่งต่อสำนักงาน ก.พ.ร. แล้ว", "forwarded to the OPDC"),
}
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
Clock = Callable[[], float]


class ComplaintRefused(CounterError):
    status = 409


@dataclass(frozen=True)
class Reply:
    at: float
    officer_id: str
    text: str


@dataclass
class Followed:
    id: int
    created: str
    office: str
    service: str
    demanded: str
    details: str
    contact: str
    status: str
    owner: str
    replies: list[Reply] = field(default_factory=list)


class SpamGuard:
    """Checks a public complaint before it is stored; raises ComplaintRefused / TooManyAttempts."""

    def __init__(self, per_address: int = 5, window: float = 600.0, clock: Clock = time.monotonic) -> None:
        self.limiter = Limiter(per_address, window, clock)

    def check(self, address: str, honeypot: str, details: str, recent: list[str]) -> None:
        if honeypot.strip():
            raise ComplaintRefused("complaint_looks_automated",
                                   "แบบฟอร์มถูกกรอกช่องที่ผู้ใช้ทั่วไปมองไม่เห็น ระบบจึงไม่รับเรื่องนี้ หากท่านกรอกเอง"
                                   " กรุณาเปิดหน้าใหม่แล้วส่งอีกครั้ง",
                                   "A field people cannot see was filled in, so this looks automated and was not"
                                   " taken; if you filled it yourself, reload the page and send again.")
        if self.limiter.blocked(f"complaint:{address}"):
            raise TooManyAttempts("complaint_flood", "ส่งเรื่องร้องเรียนจากเครื่องนี้หลายครั้งเกินไป กรุณารอ 10 นาทีแล้วลองใหม่",
                                  "Too many complaints from this address; wait 10 minutes and try again.")
        if len(_LINK.findall(details)) > 2:
            raise ComplaintRefused("complaint_links", "รายละเอียดมีลิงก์มากเกินไป กรุณาเล่าเหตุการณ์โดยไม่ใส่ลิงก์เกิน 2 ลิงก์",
                                   "Too many links in the details; please describe what happened with at most two.")
        if " ".join(details.split()) in recent:
            raise ComplaintRefused("complaint_duplicate", "ได้รับเรื่องร้องเรียนข้อความเดียวกันนี้แล้วภายในวันนี้",
                                   "A complaint with this same text was already received today.")

    def accepted(self, address: str) -> None:
        self.limiter.fail(f"complaint:{address}")


class ComplaintDesk:
    def __init__(self, store: CounterStore, escalate_days: float = 15, guard: SpamGuard | None = None,
                 clock: Clock = time.time) -> None:
        self.store = store
        self.guard = guard or SpamGuard()
        self.escalate_days = escalate_days
        self.clock = clock

    def recent_texts(self) -> list[str]:
        """The details of the last day's complaints, whitespace folded (for the duplicate check)."""
        since = dt.datetime.fromtimestamp(self.clock() - 86400, BANGKOK).isoformat(timespec="seconds")
        with self.store.read() as db:
            return [" ".join(str(r[0]).split()) for r in db.execute("SELECT details FROM complaint WHERE created >= ?",
                                                                    (since,))]

    def escalate_due(self) -> int:
        """Forward every complaint unanswered after escalate_days to the OPDC inbox; how many were."""
        now = self.clock()
        cutoff = dt.datetime.fromtimestamp(now - self.escalate_days * 86400, BANGKOK).isoformat(timespec="seconds")
        with self.store.write() as db:
            due = db.execute(
                "SELECT c.id, c.office, c.service, c.demanded, c.details, c.created FROM complaint c LEFT JOIN"
                " complaint_follow f ON f.complaint_id = c.id WHERE c.created <= ? AND COALESCE(f.status,"
                " 'received') IN ('received', 'in_progress')", (cutoff,)).fetchall()
            for cid, office, service, demanded, details, created in due:
                db.execute("INSERT OR IGNORE INTO opdc_inbox VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (cid, now, office, service, demanded, details, created))
                self._set(db, cid, "escalated", None, now)
        return len(due)

    def all(self) -> list[Followed]:
        self.escalate_due()
        with self.store.read() as db:
            rows = db.execute(
                "SELECT c.id, c.created, c.office, c.service, c.demanded, c.details, c.contact,"
                " COALESCE(f.status, 'received'), COALESCE(f.owner, '') FROM complaint c LEFT JOIN complaint_follow f"
                " ON f.complaint_id = c.id ORDER BY c.id DESC").fetchall()
        return [Followed(*r) for r in rows]

    def one(self, complaint_id: int) -> Followed:
        found = next((c for c in self.all() if c.id == complaint_id), None)
        if found is None:
            raise ComplaintRefused("complaint_not_found", "ไม่พบเรื่องร้องเรียนนี้", "No such complaint.")
        with self.store.read() as db:
            found.replies = [Reply(*r) for r in db.execute(
                "SELECT at, officer_id, text FROM complaint_reply WHERE complaint_id = ? ORDER BY seq",
                (complaint_id,))]
        return found

    def take(self, complaint_id: int, officer_id: str) -> None:
        self._change(complaint_id, ("received", "in_progress", "answered"), "in_progress", officer_id)

    def reply(self, complaint_id: int, officer_id: str, text: str) -> None:
        text = text.strip()
        if not text:
            raise ComplaintRefused("complaint_empty_reply", "กรุณาเขียนคำตอบ", "Please write the reply.")
        with self.store.write() as db:
            self._check(db, complaint_id, ("received", "in_progress", "answered"))
            seq = db.execute("SELECT COUNT(*) FROM complaint_reply WHERE complaint_id = ?",
                             (complaint_id,)).fetchone()[0]
            db.execute("INSERT INTO complaint_reply VALUES (?, ?, ?, ?, ?)",
                       (complaint_id, seq, self.clock(), officer_id, text[:2000]))
            self._set(db, complaint_id, "answered", officer_id, self.clock())

    def close(self, complaint_id: int, officer_id: str) -> None:
        self._change(complaint_id, ("answered",), "closed", officer_id)

    def inbox(self) -> list[tuple[int, float, str, str, str, str, str]]:
        self.escalate_due()
        with self.store.read() as db:
            return [tuple(r) for r in db.execute("SELECT complaint_id, at, office, service, demanded, details, filed"
                                                 " FROM opdc_inbox ORDER BY at DESC, complaint_id DESC")]

    def against_offices(self) -> list[tuple[str, int, int]]:
        """Per office named: complaints that name copies demanded, and of those still open; most first."""
        counts: dict[str, list[int]] = {}
        for c in self.all():
            if c.demanded.strip():
                key = " ".join(c.office.split())
                entry = counts.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] += c.status in ("received", "in_progress")
        return sorted(((o, n, open_) for o, (n, open_) in counts.items()), key=lambda x: (-x[1], x[0]))

    # --- inside -----------------------------------------------------------------------------------------------

    def _change(self, complaint_id: int, allowed: tuple[str, ...], status: str, officer_id: str) -> None:
        with self.store.write() as db:
            self._check(db, complaint_id, allowed)
            self._set(db, complaint_id, status, officer_id, self.clock())

    @staticmethod
    def _check(db: sqlite3.Connection, complaint_id: int, allowed: tuple[str, ...]) -> None:
        row = db.execute("SELECT COALESCE(f.status, 'received') FROM complaint c LEFT JOIN complaint_follow f ON"
                         " f.complaint_id = c.id WHERE c.id = ?", (complaint_id,)).fetchone()
        if row is None:
            raise ComplaintRefused("complaint_not_found", "ไม่พบเรื่องร้องเรียนนี้", "No such complaint.")
        if row[0] not in allowed:
            th, en = STATUS[row[0]]
            raise ComplaintRefused("complaint_out_of_order", f"เรื่องนี้อยู่ในสถานะ “{th}” จึงทำเช่นนี้ไม่ได้",
                                   f"This complaint is {en}; that cannot be done now.")

    @staticmethod
    def _set(db: sqlite3.Connection, complaint_id: int, status: str, owner: str | None, at: float) -> None:
        db.execute("INSERT INTO complaint_follow VALUES (?, ?, COALESCE(?, ''), ?) ON CONFLICT (complaint_id) DO"
                   " UPDATE SET status = excluded.status, owner = COALESCE(?, owner), updated = excluded.updated",
                   (complaint_id, status, owner, at, owner))
