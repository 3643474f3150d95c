"""A month of synthetic cases, replayed into the counter's file so the reports have something real to measure.

    month(manuals, year, month, seed, per_day)   the cases: arrivals on open days, bookings and walk-ins,
                                                 documents fetched or brought, officers' times, ratings
    write(store, cases, agency, officer)         every row they make (report rows, tracking timelines, queue
                                                 tickets, ratings), in one transaction

The cases are made from the manuals (which documents are linked, the steps' promised days) and a seeded random
generator, so one seed gives one month. They are numbered ``SIM-<BE year>-<n>``, apart from real cases, and carry
no ID (their keyed hash is of a made-up one). The queue's tickets are written as served, with their waits.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass

from consumers.counter.display import BANGKOK
from consumers.counter.manuals import Manual
from consumers.counter.queue import holiday_name
from consumers.counter.store import CounterStore

__all__ = ["SyntheticCase", "month", "write"]


@dataclass(frozen=True)
class SyntheticCase:
    ref: str
    service_id: str
    arrived: float                      # epoch seconds; the case's day is its Bangkok date
    required: int
    linked: int
    fetched: int
    moves: tuple[tuple[str, float], ...]  # (status, when) after "received" at ``arrived``
    booked: bool = False
    wait_minutes: float = 0.0
    rating: int | None = None

    @property
    def day(self) -> str:
        return dt.datetime.fromtimestamp(self.arrived, BANGKOK).date().isoformat()


def month(manuals: Mapping[str, Manual], year: int, month_: int, seed: int = 1,
          per_day: float = 6.0, first: int = 1) -> list[SyntheticCase]:
    """Cases for every open day (Mon-Fri, no Thai holiday) of the month, ``per_day`` a service on average,
    numbered from ``first``."""
    rng = random.Random(seed)
    out: list[SyntheticCase] = []
    day = dt.date(year, month_, 1)
    while day.month == month_:
        if day.weekday() < 5 and holiday_name(day) is None:
            for manual in manuals.values():
                for _ in range(rng.randint(0, int(2 * per_day))):
                    out.append(_case(rng, manual, day, f"SIM-{year + 543}-{first + len(out):06d}"))
        day += dt.timedelta(days=1)
    return out


def _case(rng: random.Random, manual: Manual, day: dt.date, ref: str) -> SyntheticCase:
    opens = dt.datetime.combine(day, dt.time(8, 30), BANGKOK).timestamp()
    arrived = opens + rng.uniform(0, 7.5 * 3600)
    wait = rng.expovariate(1 / 12)                     # minutes in the queue
    counter = rng.uniform(10, 30) * 60                 # seconds at the desk
    linked = sum(1 for d in manual.documents if d.linked)
    fetched = sum(1 for d in manual.documents if d.linked and rng.random() < 0.95)
    promised = _promised_days(manual)
    at = arrived + wait * 60 + counter
    moves = [("under_review", at)]
    if rng.random() < 0.15:
        at += rng.uniform(0.5, 2) * 86400
        moves.append(("waiting_citizen", at))
        at += rng.uniform(1, 5) * 86400
        moves.append(("under_review", at))
    at += rng.uniform(0.3, 0.9) * promised * 86400
    moves.append(("approved" if rng.random() < 0.9 else "refused", at))
    if rng.random() < 0.92:                            # the rest are still waiting to be collected
        at += rng.uniform(0.1, 2) * 86400
        moves.append(("completed", at))
    rating = rng.choice((3, 4, 4, 5, 5)) if moves[-1][0] == "completed" and rng.random() < 0.5 else None
    return SyntheticCase(ref, manual.id, arrived, len(manual.documents), linked, fetched, tuple(moves),
                         booked=rng.random() < 0.4, wait_minutes=wait, rating=rating)


def _promised_days(manual: Manual) -> float:
    total = 0.0
    for step in manual.steps:
        words = step.duration.split()
        if len(words) >= 2 and words[0].isdigit():
            n = int(words[0])
            total += n * 1.4 if "ทำการ" in words[1] else n if words[1].startswith("วัน") else n / 1440
    return total or 1.0


def write(store: CounterStore, cases: list[SyntheticCase], agency: str, officer: str) -> None:
    """Every row the cases make, in one transaction (nothing if anything fails)."""
    with store.write() as db:
        numbers: dict[tuple[str, str], int] = {}
        for c in cases:
            db.execute("INSERT INTO counter_case VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (c.ref, c.service_id, c.day, c.required, c.linked, c.fetched, c.required - c.linked))
            status, last = c.moves[-1] if c.moves else ("received", c.arrived)
            completed = last if status == "completed" else None
            db.execute("INSERT INTO case_track (case_ref, service_id, agency, subject_hash, recipient, status,"
                       " opened, due, updated, steps, completed, arrived) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
                       (c.ref, c.service_id, agency, f"sim:{c.ref}", status, c.arrived, c.arrived, last,
                        1 + len(c.moves), completed, c.arrived))
            db.executemany("INSERT INTO case_event VALUES (?, ?, ?, ?, ?, '')",
                           [(c.ref, i, s, officer, t) for i, (s, t) in enumerate((("received", c.arrived),
                                                                                 *c.moves))])
            kind = "booked" if c.booked else "walkin"
            key = (c.day, kind)
            numbers[key] = numbers.get(key, 0) + 1
            ready = c.arrived
            db.execute("INSERT INTO queue_ticket (code, day, service_id, kind, number, slot, seat, subject_hash,"
                       " state, created, ready, called, finished, officer_id) VALUES"
                       " (?, ?, ?, ?, ?, '', ?, ?, 'served', ?, ?, ?, ?, ?)",
                       (f"SIM{c.ref[-6:]}{c.ref[4:8]}", c.day, c.service_id, kind,
                        f"{'B' if c.booked else 'W'}{numbers[key]:03d}", numbers[key], f"sim:{c.ref}", ready,
                        ready, ready + c.wait_minutes * 60, c.moves[0][1] if c.moves else ready, officer))
            if c.rating is not None and completed is not None:
                db.execute("INSERT INTO feedback VALUES (?, ?, ?, '', ?)", (c.ref, c.service_id, c.rating,
                                                                            completed))
