"""What the counter keeps on disk (SQLite, HOME/data/counter.sqlite): one row per case for the
reports, and the public's complaints. Personal data stays out of it: a case row holds the
service, the day and the counts, not the citizen's ID.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CaseRow", "ComplaintRow", "CounterStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counter_case (
    case_ref TEXT PRIMARY KEY, service_id TEXT NOT NULL, day TEXT NOT NULL,
    required INTEGER NOT NULL, linked INTEGER NOT NULL, fetched INTEGER NOT NULL, brought INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS complaint (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, office TEXT NOT NULL, service TEXT NOT NULL,
    demanded TEXT NOT NULL, details TEXT NOT NULL, contact TEXT NOT NULL);
"""


@dataclass(frozen=True)
class CaseRow:
    case_ref: str
    service_id: str
    day: str
    required: int
    linked: int
    fetched: int
    brought: int


@dataclass(frozen=True)
class ComplaintRow:
    id: int
    created: str
    office: str
    service: str
    demanded: str
    details: str
    contact: str


class CounterStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def next_case_number(self, prefix: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM counter_case WHERE case_ref LIKE ?", (prefix + "%",)).fetchone()
        return int(row[0]) + 1

    def record_case(self, row: CaseRow) -> None:
        self._db.execute("INSERT OR REPLACE INTO counter_case VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (row.case_ref, row.service_id, row.day, row.required, row.linked, row.fetched, row.brought))

    def cases(self) -> list[CaseRow]:
        return [CaseRow(*r) for r in self._db.execute("SELECT * FROM counter_case ORDER BY day, case_ref")]

    def add_complaint(self, created: str, office: str, service: str, demanded: str, details: str,
                      contact: str) -> int:
        cur = self._db.execute("INSERT INTO complaint (created, office, service, demanded, details, contact)"
                               " VALUES (?, ?, ?, ?, ?, ?)", (created, office, service, demanded, details, contact))
        return int(cur.lastrowid or 0)

    def complaints(self) -> list[ComplaintRow]:
        return [ComplaintRow(*r) for r in self._db.execute("SELECT * FROM complaint ORDER BY id DESC")]
