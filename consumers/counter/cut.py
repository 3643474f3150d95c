"""The cut, measured: documents, steps and time of each service after the measure, from real cases, against
the process before it (each manual's ``[before]``) and the cabinet's 30-50 % target.

Per case, over the cases opened in a period (their day, Bangkok time):

    documents   the documents the citizen still had to bring: the manual's required documents less those the
                counter fetched for this case (counter_case: required - fetched), not the manual's list
    steps       the status changes on the case's tracking timeline (case_track.steps: received … completed)
    days        from the citizen's arrival to the case's completion, completed cases only: arrival is the queue
                ticket the officer had called when opening the case (its slot's start for a booking, the number's
                issue for a walk-in), else the case's opening (case_track.arrived, .completed)

The cut in each is ``1 - mean(after) / before``. Per service, one read of counter_case (by day) and one of
case_track (by the opening's time, the same Bangkok days), each a range of a covering index; no personal data
is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from consumers.counter.display import BANGKOK
from consumers.counter.manuals import Manual
from consumers.counter.store import CounterStore

__all__ = ["METRICS", "TARGET_HIGH", "TARGET_LOW", "Cut", "measure", "office_cut", "verdict"]

# The cabinet's target (26 Sep 2017): cut documents, steps and time by 30-50 %.
TARGET_LOW, TARGET_HIGH = 30.0, 50.0
METRICS = ("documents", "steps", "days")

# Per service, two range reads, no join, each of a covering index that leads with the service (ledger.py:
# counter_case_cut, case_track_cut): a year at a busy office is ~200 000 rows in each table.
_DOCUMENTS = """
SELECT COUNT(*), AVG(required - fetched) FROM counter_case WHERE service_id = ? AND day BETWEEN ? AND ?
"""
_TIMELINE = """
SELECT AVG(steps), COUNT(completed), AVG((completed - COALESCE(arrived, opened)) / 86400.0) FROM case_track
WHERE service_id = ? AND opened >= ? AND opened < ?
"""


@dataclass(frozen=True)
class Cut:
    """One service's (or the office's) process before and after, and the cut in each, in per cent."""

    service_id: str
    cases: int
    completed: int
    before: dict[str, float]
    after: dict[str, float | None]

    def cut(self, metric: str) -> float | None:
        after, before = self.after.get(metric), self.before.get(metric)
        if after is None or not before:
            return None
        return 100.0 * (1.0 - after / before)


def verdict(cut: float | None) -> str:
    """"above" (≥ 50 %), "met" (≥ 30 %), "below", or "none" (nothing measured)."""
    if cut is None:
        return "none"
    return "above" if cut >= TARGET_HIGH else "met" if cut >= TARGET_LOW else "below"


def measure(store: CounterStore, manuals: Mapping[str, Manual], since: str, until: str) -> list[Cut]:
    """Each service with a ``[before]`` and at least one case opened on days [since, until] (ISO dates)."""
    start = dt.datetime.combine(dt.date.fromisoformat(since), dt.time(), BANGKOK).timestamp()
    end = dt.datetime.combine(dt.date.fromisoformat(until) + dt.timedelta(days=1), dt.time(), BANGKOK).timestamp()
    out = []
    with store.read() as db:
        for service, manual in manuals.items():
            b = manual.before
            if b is None:
                continue
            cases, docs = db.execute(_DOCUMENTS, (service, since, until)).fetchone()
            if not cases:
                continue
            steps, completed, days = db.execute(_TIMELINE, (service, start, end)).fetchone()
            out.append(Cut(service, int(cases), int(completed),
                           {"documents": float(b.documents), "steps": float(b.steps), "days": b.days},
                           {"documents": docs, "steps": steps, "days": days}))
    return out


def office_cut(cuts: list[Cut]) -> Cut | None:
    """The whole office: before and after weighted by each service's cases (by completed cases for time)."""
    if not cuts:
        return None
    total = sum(c.cases for c in cuts)
    done = sum(c.completed for c in cuts)

    def weighted(values: list[tuple[float | None, int]]) -> float | None:
        known = [(v, w) for v, w in values if v is not None and w]
        weight = sum(w for _, w in known)
        return sum(v * w for v, w in known) / weight if weight else None

    before = {m: weighted([(c.before[m], c.completed if m == "days" else c.cases) for c in cuts]) or 0.0
              for m in METRICS}
    after = {m: weighted([(c.after[m], c.completed if m == "days" else c.cases) for c in cuts]) for m in METRICS}
    return Cut("", total, done, before, after)
