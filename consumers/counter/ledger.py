"""The follow-up tables (queue, tracking, notifications, feedback, complaints' follow-up and the OPDC inbox) and
the keyed hash that stands for a citizen's ID in them.

Nothing here keeps a citizen's ID in clear: a booking, a tracked case and a rating carry ``subject_hash``,
an HMAC-SHA256 of the ID under a random key kept in the same file (``counter_secret``). The counter can
check "is this the citizen's own?" when the citizen types their ID again, and a copy of the tables alone
does not list who came. The open cases (store.py) keep the ID in clear for 12 hours only; the tracking
rows outlive them.

``CounterStore`` runs ``SCHEMA`` at start, like its own tables.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3

__all__ = ["SCHEMA", "subject_hash"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS counter_secret (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue_ticket (
    id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE, day TEXT NOT NULL, service_id TEXT NOT NULL,
    kind TEXT NOT NULL, number TEXT NOT NULL, slot TEXT NOT NULL, seat INTEGER NOT NULL, subject_hash TEXT NOT NULL,
    state TEXT NOT NULL, created REAL NOT NULL, ready REAL NOT NULL, called REAL, finished REAL,
    officer_id TEXT NOT NULL DEFAULT '', UNIQUE (day, number));
CREATE UNIQUE INDEX IF NOT EXISTS queue_seat ON queue_ticket (service_id, day, slot, seat)
    WHERE kind = 'booked' AND state != 'cancelled';
CREATE UNIQUE INDEX IF NOT EXISTS queue_one_booking ON queue_ticket (service_id, subject_hash)
    WHERE state = 'booked';
CREATE INDEX IF NOT EXISTS queue_day ON queue_ticket (day, state);
CREATE TABLE IF NOT EXISTS case_track (
    case_ref TEXT PRIMARY KEY, service_id TEXT NOT NULL, agency TEXT NOT NULL, subject_hash TEXT NOT NULL,
    recipient TEXT NOT NULL, status TEXT NOT NULL, opened REAL NOT NULL, due REAL NOT NULL, updated REAL NOT NULL,
    flagged INTEGER NOT NULL DEFAULT 0, steps INTEGER NOT NULL DEFAULT 1, completed REAL, arrived REAL);
CREATE INDEX IF NOT EXISTS case_track_subject ON case_track (subject_hash);
CREATE INDEX IF NOT EXISTS case_track_cut ON case_track (service_id, opened, steps, completed, arrived);
CREATE INDEX IF NOT EXISTS counter_case_cut ON counter_case (service_id, day, required, fetched);
CREATE TABLE IF NOT EXISTS case_event (
    case_ref TEXT NOT NULL REFERENCES case_track (case_ref), seq INTEGER NOT NULL, status TEXT NOT NULL,
    officer_id TEXT NOT NULL, at REAL NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (case_ref, seq));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, recipient TEXT NOT NULL, case_ref TEXT NOT NULL,
    text_th TEXT NOT NULL, text_en TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    case_ref TEXT PRIMARY KEY REFERENCES case_track (case_ref), service_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5), comment TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS complaint_follow (
    complaint_id INTEGER PRIMARY KEY REFERENCES complaint (id), status TEXT NOT NULL, owner TEXT NOT NULL,
    updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS complaint_reply (
    complaint_id INTEGER NOT NULL REFERENCES complaint (id), seq INTEGER NOT NULL, at REAL NOT NULL,
    officer_id TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (complaint_id, seq));
CREATE TABLE IF NOT EXISTS opdc_inbox (
    complaint_id INTEGER PRIMARY KEY REFERENCES complaint (id), at REAL NOT NULL, office TEXT NOT NULL,
    service TEXT NOT NULL, demanded TEXT NOT NULL, details TEXT NOT NULL, filed TEXT NOT NULL);
"""


def subject_hash(db: sqlite3.Connection, subject_id: str) -> str:
    """The keyed hash of an ID in this file (the key is made on first use, in the caller's transaction)."""
    row = db.execute("SELECT value FROM counter_secret WHERE name = 'subject'").fetchone()
    if row is None:
        key = secrets.token_hex(32)
        db.execute("INSERT OR IGNORE INTO counter_secret VALUES ('subject', ?)", (key,))
        row = db.execute("SELECT value FROM counter_secret WHERE name = 'subject'").fetchone()
    return hmac.new(bytes.fromhex(row[0]), subject_id.encode(), hashlib.sha256).hexdigest()
