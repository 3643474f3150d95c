"""Citizens' ratings of a completed case: 1 to 5 and a comment, once per case; aggregates per service.

The rating is checked and written in one transaction: the case must be tracked, completed and the citizen's
own (their ID against the case's keyed hash), and the case's primary key in ``feedback`` refuses a second
rating. Ratings name no officer: the reports aggregate them per service only.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from consumers.counter.errors import CounterError
from consumers.counter.ledger import subject_hash
from consumers.counter.store import CounterStore

__all__ = ["Feedback", "FeedbackRefused", "Rating"]

_COMMENT = 1000


class FeedbackRefused(CounterError):
    status = 409


@dataclass(frozen=True)
class Rating:
    service_id: str
    count: int
    mean: float
    spread: tuple[int, int, int, int, int]  # how many gave 1, 2, 3, 4, 5


class Feedback:
    def __init__(self, store: CounterStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def give(self, case_ref: str, subject_id: str, rating: str, comment: str) -> None:
        """Record the citizen's rating; FeedbackRefused (nothing written) for a bad rating, a case not theirs,
        not completed, or already rated."""
        if rating not in ("1", "2", "3", "4", "5"):
            raise FeedbackRefused("feedback_bad_rating", "กรุณาให้คะแนน 1 ถึง 5", "Please rate from 1 to 5.")
        with self.store.write() as db:
            row = db.execute("SELECT subject_hash, status, service_id FROM case_track WHERE case_ref = ?",
                             (case_ref,)).fetchone()
            if row is None or row[0] != subject_hash(db, subject_id):
                raise FeedbackRefused("feedback_not_yours", "ไม่พบเรื่องนี้ของท่าน จึงให้คะแนนไม่ได้",
                                      "No such case of yours; it cannot be rated.")
            if row[1] != "completed":
                raise FeedbackRefused("feedback_not_completed", "ให้คะแนนได้เมื่อเรื่องเสร็จสิ้นแล้วเท่านั้น",
                                      "A case can be rated only once it is completed.")
            try:
                db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?)",
                           (case_ref, row[2], int(rating), comment.strip()[:_COMMENT], self.clock()))
            except sqlite3.IntegrityError:
                raise FeedbackRefused("feedback_twice", "ท่านให้คะแนนเรื่องนี้แล้ว ให้ได้ครั้งเดียวต่อเรื่อง",
                                      "You have already rated this case; one rating per case.") from None

    def given(self, case_ref: str) -> bool:
        with self.store.read() as db:
            return db.execute("SELECT 1 FROM feedback WHERE case_ref = ?", (case_ref,)).fetchone() is not None

    def by_service(self) -> dict[str, Rating]:
        out: dict[str, list[int]] = {}
        with self.store.read() as db:
            for service, rating, n in db.execute("SELECT service_id, rating, COUNT(*) FROM feedback"
                                                 " GROUP BY service_id, rating"):
                out.setdefault(service, [0, 0, 0, 0, 0])[int(rating) - 1] = int(n)
        return {s: Rating(s, sum(v), sum((i + 1) * n for i, n in enumerate(v)) / sum(v),
                          (v[0], v[1], v[2], v[3], v[4])) for s, v in out.items()}

    def comments(self, service_id: str, limit: int = 50) -> list[tuple[int, str]]:
        """The latest comments of a service (rating, text), without case numbers."""
        with self.store.read() as db:
            return [(int(r), str(c)) for r, c in db.execute(
                "SELECT rating, comment FROM feedback WHERE service_id = ? AND comment != '' ORDER BY at DESC"
                " LIMIT ?", (service_id, limit))]
