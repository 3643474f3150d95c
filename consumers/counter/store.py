"""What the counter keeps on disk: one SQLite file, HOME/data/counter.sqlite.

    counter_case   one row per case, for the reports: service, day and counts, no personal data
    open_case      the cases officers are working on: the applicant's ID, the officer, when it was opened
    case_slot      each open case's documents: the sealed printout (compact JWS), its payload and its log
                   proof, or the problem that kept it from being fetched
    complaint      the public's complaints
    application    applications (consumers/counter/applications/store.py): application_value, each value and
                   the printout it came from; application_printout, those sealed printouts, kept with them;
                   application_bill, the fee's Thai QR bill and its payment; payment_notice, every payment notice
                   received, accepted or refused (consumers/counter/applications/fees.py)
    disbursement_* allowance payment runs, their batches and lines, who was not paid and why
                   (consumers/counter/allowances/ledger.py)

Open cases carry personal data (the applicant's ID, the printouts), so they live only as long as
``case_ttl`` (12 hours: a working day and a bit) and are deleted after that, at start and whenever a
case is opened. A case is shown only to the officer who opened it.

Every change is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error), so a
kill -9 at any point leaves either the whole change or none of it: never a case without its slots,
a slot without its case, a report row that disagrees with its case, or half a complaint.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.counter.allowances.ledger import SCHEMA as _ALLOWANCES
from consumers.counter.ledger import SCHEMA as _FOLLOWUP

__all__ = ["Case", "CaseRow", "CounterStore", "DocSlot", "Report", "new_case_id"]

Clock = Callable[[], float]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counter_case (
    case_ref TEXT PRIMARY KEY, service_id TEXT NOT NULL, day TEXT NOT NULL,
    required INTEGER NOT NULL, linked INTEGER NOT NULL, fetched INTEGER NOT NULL, brought INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS complaint (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, office TEXT NOT NULL, service TEXT NOT NULL,
    demanded TEXT NOT NULL, details TEXT NOT NULL, contact TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS open_case (
    id TEXT PRIMARY KEY, ref TEXT NOT NULL UNIQUE, service_id TEXT NOT NULL, subject_id TEXT NOT NULL,
    citizen_present INTEGER NOT NULL, officer_id TEXT NOT NULL, created REAL NOT NULL, opened_at TEXT NOT NULL,
    fetch_ms REAL NOT NULL);
CREATE INDEX IF NOT EXISTS open_case_created ON open_case (created);
CREATE TABLE IF NOT EXISTS case_slot (
    case_id TEXT NOT NULL REFERENCES open_case (id) ON DELETE CASCADE, position INTEGER NOT NULL,
    doc_type TEXT NOT NULL, printout_id TEXT NOT NULL, jws TEXT NOT NULL, payload TEXT NOT NULL,
    issued_at TEXT NOT NULL, log_index INTEGER NOT NULL, seal_valid INTEGER NOT NULL, seal_detail TEXT NOT NULL,
    problem_reason TEXT NOT NULL, problem_message_th TEXT NOT NULL, problem_retryable INTEGER NOT NULL,
    problem_provider TEXT NOT NULL, problem_message_en TEXT NOT NULL DEFAULT '', log_proof TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, doc_type));
CREATE TABLE IF NOT EXISTS application (
    id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, service_id TEXT NOT NULL, case_ref TEXT NOT NULL,
    subject_id TEXT NOT NULL, lang TEXT NOT NULL, status TEXT NOT NULL, channel TEXT NOT NULL,
    officer_id TEXT NOT NULL, created_at TEXT NOT NULL, confirmed_at TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS application_case ON application (case_ref);
CREATE TABLE IF NOT EXISTS application_value (
    application_id TEXT NOT NULL REFERENCES application (id) ON DELETE CASCADE, position INTEGER NOT NULL,
    name TEXT NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL, doc_type TEXT NOT NULL, doc_field TEXT NOT NULL,
    printout_id TEXT NOT NULL, PRIMARY KEY (application_id, name));
CREATE TABLE IF NOT EXISTS application_printout (
    application_id TEXT NOT NULL REFERENCES application (id) ON DELETE CASCADE, printout_id TEXT NOT NULL,
    doc_type TEXT NOT NULL, log_index INTEGER NOT NULL, jws TEXT NOT NULL, log_proof TEXT NOT NULL,
    PRIMARY KEY (application_id, printout_id));
CREATE TABLE IF NOT EXISTS application_bill (
    application_id TEXT PRIMARY KEY REFERENCES application (id) ON DELETE CASCADE, ref1 TEXT NOT NULL UNIQUE,
    ref2 TEXT NOT NULL, amount TEXT NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL, status TEXT NOT NULL,
    txn_id TEXT NOT NULL DEFAULT '', paid_at TEXT NOT NULL DEFAULT '', receipt_no TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS payment_notice (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, outcome TEXT NOT NULL, ref1 TEXT NOT NULL,
    txn_id TEXT NOT NULL, amount TEXT NOT NULL, detail TEXT NOT NULL);
"""
# Columns added since the first schema: a file made before gets them at start (ALTER TABLE ... ADD COLUMN).
_ADDED = (("case_slot", "problem_message_en", "TEXT NOT NULL DEFAULT ''"),
          ("case_slot", "log_proof", "TEXT NOT NULL DEFAULT ''"))


def new_case_id() -> str:
    """A case's id in its URL: random and unguessable (96 bits), never the applicant's ID or the case number."""
    return secrets.token_urlsafe(12)


@dataclass
class DocSlot:
    """One linked document of a case: a sealed printout, or the problem that kept it from being fetched."""

    doc_type: str
    printout_id: str = ""
    jws: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    issued_at: str = ""
    log_index: int = -1
    seal_valid: bool = False
    seal_detail: str = ""
    problem_reason: str = ""
    problem_message_th: str = ""
    problem_message_en: str = ""
    problem_retryable: bool = False
    problem_provider: str = ""
    log_proof: str = ""  # the hub's log proof of the printout (consumers.auditor.bundle.proof_json), "" if none

    @property
    def fetched(self) -> bool:
        return bool(self.jws)


@dataclass
class Case:
    """An open case. ``created`` is wall-clock seconds (it outlives the process); ``ref`` is set when it is opened."""

    id: str
    ref: str
    service_id: str
    subject_id: str
    citizen_present: bool
    officer_id: str
    created: float
    opened_at: str
    slots: dict[str, DocSlot] = field(default_factory=dict)
    fetch_ms: float = 0.0


@dataclass(frozen=True)
class CaseRow:
    case_ref: str
    service_id: str
    day: str
    required: int
    linked: int
    fetched: int
    brought: int


Report = Callable[[Case], CaseRow]


class CounterStore:
    """The counter's SQLite file. One connection, used from the event loop's thread only."""

    def __init__(self, path: Path, case_ttl: float = 12 * 3600, clock: Clock = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.case_ttl = case_ttl
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None)
        # WAL: readers (the reports, a soak script looking on) never block the writer, and a commit is one
        # append to the -wal file instead of rewriting pages in place.
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL, not WAL's usual NORMAL: both survive a kill -9 of the counter (the OS keeps what was written),
        # but NORMAL may lose the last commits on a power cut or kernel crash. An officer who was shown
        # "case opened" must find it again, and a citizen who was given a complaint number must find it listed,
        # so every commit waits for an fsync of the WAL. That costs a few milliseconds per case change, nothing
        # at a counter's pace (a case a minute per desk).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._tx():
            for statement in (_SCHEMA + _FOLLOWUP + _ALLOWANCES).split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if "problem_message" in {row[1] for row in self._db.execute("PRAGMA table_info(case_slot)")}:
                # A file from before Thai and English were two fields: its texts stay whole, shown in both languages.
                self._db.execute("ALTER TABLE case_slot RENAME COLUMN problem_message TO problem_message_th")
            # Columns added since (an older file gets them empty; their order differs by the file's age, so every
            # statement names its columns).
            for table, column, kind in _ADDED:
                if column not in {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        self.purge_expired()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or (on any exception) none of it."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction, for the tables the counter's other parts keep in its file (follow-up, forms)."""
        return self._tx()

    def read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One read transaction, for the tables the counter's other parts keep in its file."""
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a case and its slots from the same snapshot."""
        self._db.execute("BEGIN")
        try:
            yield self._db
        finally:
            self._db.execute("COMMIT")

    # --- open cases --------------------------------------------------------------------------------------------

    def open_case(self, case: Case, prefix: str, report: Report,
                  also: Callable[[sqlite3.Connection, Case], None] | None = None) -> Case:
        """Number the case (``prefix`` and the next five-digit number) and write it, its slots, its report row
        and whatever ``also`` writes (its tracking timeline) in one transaction. Numbering inside the
        transaction keeps two cases opened at once apart."""
        with self._tx() as db:
            self._purge(db)
            number = int(db.execute("SELECT COUNT(*) FROM counter_case WHERE substr(case_ref, 1, ?) = ?",
                                    (len(prefix), prefix)).fetchone()[0]) + 1
            case.ref = f"{prefix}{number:05d}"
            db.execute("INSERT INTO open_case VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (case.id, case.ref, case.service_id, case.subject_id, int(case.citizen_present),
                        case.officer_id, case.created, case.opened_at, case.fetch_ms))
            self._write_slots(db, case.id, case.slots.values())
            self._write_report(db, report(case))
            if also is not None:
                also(db, case)
        return case

    def update_case(self, case_id: str, slots: Iterable[DocSlot], report: Report, *,
                    citizen_present: bool | None = None, fetch_ms: float | None = None) -> Case | None:
        """Replace these slots of the case (the others stay as they are on disk, so two retries of different
        documents at once both land), update its flags, and rewrite its report row, in one transaction.
        Returns the case as now stored; None if it no longer exists."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM open_case WHERE id = ?", (case_id,)).fetchone() is None:
                return None
            if citizen_present is not None:
                db.execute("UPDATE open_case SET citizen_present = ? WHERE id = ?", (int(citizen_present), case_id))
            if fetch_ms is not None:
                db.execute("UPDATE open_case SET fetch_ms = ? WHERE id = ?", (fetch_ms, case_id))
            self._write_slots(db, case_id, slots)
            case = self._load(db, case_id)
            assert case is not None
            self._write_report(db, report(case))
        return case

    def case(self, case_id: str, officer_id: str) -> Case | None:
        """The open case with this id if this officer opened it and it has not expired; else None."""
        with self._read() as db:
            case = self._load(db, case_id)
        if case is None or case.officer_id != officer_id or case.created + self.case_ttl <= self._clock():
            return None
        return case

    def open_cases(self, officer_id: str) -> list[Case]:
        """This officer's live cases, newest first."""
        cutoff = self._clock() - self.case_ttl
        with self._read() as db:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM open_case WHERE officer_id = ? AND created > ? ORDER BY created DESC, ref DESC",
                (officer_id, cutoff))]
            return [c for c in (self._load(db, i) for i in ids) if c is not None]

    def purge_expired(self) -> int:
        """Delete cases older than case_ttl (their slots go with them); how many were deleted."""
        with self._tx() as db:
            return self._purge(db)

    def _purge(self, db: sqlite3.Connection) -> int:
        return db.execute("DELETE FROM open_case WHERE created <= ?", (self._clock() - self.case_ttl,)).rowcount

    @staticmethod
    def _write_slots(db: sqlite3.Connection, case_id: str, slots: Iterable[DocSlot]) -> None:
        for s in slots:
            position = db.execute("SELECT COALESCE((SELECT position FROM case_slot WHERE case_id = ? AND"
                                  " doc_type = ?), (SELECT COUNT(*) FROM case_slot WHERE case_id = ?))",
                                  (case_id, s.doc_type, case_id)).fetchone()[0]
            db.execute("INSERT OR REPLACE INTO case_slot (case_id, position, doc_type, printout_id, jws, payload,"
                       " issued_at, log_index, seal_valid, seal_detail, problem_reason, problem_message_th,"
                       " problem_retryable, problem_provider, problem_message_en, log_proof)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (case_id, position, s.doc_type, s.printout_id, s.jws,
                        json.dumps(s.payload, ensure_ascii=False, sort_keys=True), s.issued_at, s.log_index,
                        int(s.seal_valid), s.seal_detail, s.problem_reason, s.problem_message_th,
                        int(s.problem_retryable), s.problem_provider, s.problem_message_en, s.log_proof))

    @staticmethod
    def _write_report(db: sqlite3.Connection, row: CaseRow) -> None:
        db.execute("INSERT OR REPLACE INTO counter_case VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (row.case_ref, row.service_id, row.day, row.required, row.linked, row.fetched, row.brought))

    @staticmethod
    def _load(db: sqlite3.Connection, case_id: str) -> Case | None:
        row = db.execute("SELECT id, ref, service_id, subject_id, citizen_present, officer_id, created, opened_at,"
                         " fetch_ms FROM open_case WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            return None
        case = Case(id=row[0], ref=row[1], service_id=row[2], subject_id=row[3], citizen_present=bool(row[4]),
                    officer_id=row[5], created=float(row[6]), opened_at=row[7], fetch_ms=float(row[8]))
        for s in db.execute("SELECT doc_type, printout_id, jws, payload, issued_at, log_index, seal_valid,"
                            " seal_detail, problem_reason, problem_message_th, problem_retryable, problem_provider,"
                            " problem_message_en, log_proof"
                            " FROM case_slot WHERE case_id = ? ORDER BY position", (case_id,)):
            case.slots[s[0]] = DocSlot(
                doc_type=s[0], printout_id=s[1], jws=s[2], payload=json.loads(s[3]), issued_at=s[4],
                log_index=int(s[5]), seal_valid=bool(s[6]), seal_detail=s[7], problem_reason=s[8],
                problem_message_th=s[9], problem_retryable=bool(s[10]), problem_provider=s[11],
                problem_message_en=s[12], log_proof=s[13])
        return case

    # --- reports -----------------------------------------------------------------------------------------------

    def cases(self) -> list[CaseRow]:
        return [CaseRow(*r) for r in self._db.execute("SELECT * FROM counter_case ORDER BY day, case_ref")]

    # --- complaints --------------------------------------------------------------------------------------------

    def add_complaint(self, created: str, office: str, service: str, demanded: str, details: str,
                      contact: str) -> int:
        """Store a complaint (one transaction, committed before its number is shown); its number."""
        with self._tx() as db:
            cur = db.execute("INSERT INTO complaint (created, office, service, demanded, details, contact)"
                             " VALUES (?, ?, ?, ?, ?, ?)", (created, office, service, demanded, details, contact))
        return int(cur.lastrowid or 0)
