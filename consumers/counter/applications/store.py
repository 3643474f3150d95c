"""Applications in the counter's SQLite file (tables made by consumers/counter/store.py's schema).

    application           one row per application: its number, service, case, applicant, language, status
    application_value     each value with where it came from (printout id, document type and field; or the
                          citizen; or the officer typing from paper)
    application_printout  the sealed printouts the values came from, kept whole (JWS and log proof): the open
                          case they were fetched for is deleted after its day, the application is the agency's
                          record and keeps the proof of every prefilled value

An application is a ``draft`` while the citizen has not yet confirmed it (the officer may still change what
the citizen wrote), ``submitted`` once they have, and ``paid`` once a verified payment notice settled its fee
(fees.py); a submitted application's values are never changed. Every change is
one transaction of the counter store.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from consumers.counter.applications.values import Filled
from consumers.counter.store import CounterStore

__all__ = ["COUNTER", "DRAFT", "ONLINE", "PAID", "SUBMITTED", "Application", "ApplicationStore", "SourcePrintout",
           "new_application_id"]

DRAFT: Final = "draft"
SUBMITTED: Final = "submitted"
PAID: Final = "paid"  # its fee paid, after a verified payment notice (fees.py)
COUNTER: Final = "counter"  # channels: taken at the counter, or made by the citizen from their own page (/me)
ONLINE: Final = "online"


def new_application_id() -> str:
    """An application's id in its URL: random (96 bits), never its number or the applicant's ID."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class SourcePrintout:
    """A sealed printout an application's values were filled from."""

    printout_id: str
    doc_type: str
    log_index: int
    jws: str
    log_proof: str = ""


@dataclass
class Application:
    """One application (คำขอ). ``number`` is set when it is first stored; ``values`` by field name."""

    id: str
    number: str
    service_id: str
    case_ref: str
    subject_id: str
    lang: str
    status: str
    channel: str
    officer_id: str
    created_at: str
    confirmed_at: str = ""
    values: dict[str, Filled] = field(default_factory=dict)
    printouts: list[SourcePrintout] = field(default_factory=list)


class ApplicationStore:
    """The application tables of ``store``'s file; used from the event loop's thread, as the store is."""

    def __init__(self, store: CounterStore) -> None:
        self._store = store

    def save_draft(self, app: Application, prefix: str) -> Application:
        """Write a draft: a new one gets its number (``prefix`` and the next five-digit number, counted inside the
        transaction); an existing draft gets its language and values replaced. Returns what is stored. Raises
        ValueError if the application was already submitted (a submitted application is never changed)."""
        with self._store.write() as db:
            row = db.execute("SELECT status, number FROM application WHERE id = ?", (app.id,)).fetchone()
            if row is None:
                count = db.execute("SELECT COUNT(*) FROM application WHERE substr(number, 1, ?) = ?",
                                   (len(prefix), prefix)).fetchone()[0]
                app.number = f"{prefix}{int(count) + 1:05d}"
                db.execute("INSERT INTO application (id, number, service_id, case_ref, subject_id, lang, status,"
                           " channel, officer_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (app.id, app.number, app.service_id, app.case_ref, app.subject_id, app.lang, DRAFT,
                            app.channel, app.officer_id, app.created_at))
            elif row[0] != DRAFT:
                raise ValueError(f"application {row[1]} is {row[0]}, not a draft")
            else:
                app.number = row[1]
                db.execute("UPDATE application SET lang = ? WHERE id = ?", (app.lang, app.id))
                db.execute("DELETE FROM application_value WHERE application_id = ?", (app.id,))
                db.execute("DELETE FROM application_printout WHERE application_id = ?", (app.id,))
            self._write_values(db, app.id, app.values.items())
            used = {v.printout_id for v in app.values.values() if v.printout_id}
            for p in app.printouts:
                if p.printout_id in used:
                    db.execute("INSERT INTO application_printout VALUES (?, ?, ?, ?, ?, ?)",
                               (app.id, p.printout_id, p.doc_type, p.log_index, p.jws, p.log_proof))
        app.status = DRAFT
        app.printouts = [p for p in app.printouts if p.printout_id in used]
        return app

    def confirm(self, app_id: str, when: str) -> Application | None:
        """Mark a draft submitted (the citizen confirmed it) at ``when``; the application as stored, None if there
        is no such application. A submitted one stays as it was (confirming twice changes nothing)."""
        with self._store.write() as db:
            db.execute("UPDATE application SET status = ?, confirmed_at = ? WHERE id = ? AND status = ?",
                       (SUBMITTED, when, app_id, DRAFT))
            return self._load(db, app_id)

    def get(self, app_id: str, officer_id: str) -> Application | None:
        """The application if this officer took it, or it came online (any officer of the counter's agency handles
        those); else None."""
        with self._store.read() as db:
            app = self._load(db, app_id)
        return app if app is not None and (app.officer_id == officer_id or app.channel == ONLINE) else None

    def load(self, app_id: str) -> Application | None:
        """The application, whoever took it (the caller checks who may see it)."""
        with self._store.read() as db:
            return self._load(db, app_id)

    def for_case(self, case_ref: str) -> Application | None:
        """The newest application made from the case with this number, if any."""
        with self._store.read() as db:
            row = db.execute("SELECT id FROM application WHERE case_ref = ? ORDER BY number DESC LIMIT 1",
                             (case_ref,)).fetchone()
            return self._load(db, row[0]) if row is not None else None

    @staticmethod
    def _write_values(db: sqlite3.Connection, app_id: str, values: Iterable[tuple[str, Filled]]) -> None:
        for position, (name, v) in enumerate(values):
            db.execute("INSERT INTO application_value (application_id, position, name, value, source, doc_type,"
                       " doc_field, printout_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (app_id, position, name, v.value, v.source, v.doc_type, v.field, v.printout_id))

    @staticmethod
    def _load(db: sqlite3.Connection, app_id: str) -> Application | None:
        row = db.execute("SELECT id, number, service_id, case_ref, subject_id, lang, status, channel, officer_id,"
                         " created_at, confirmed_at FROM application WHERE id = ?", (app_id,)).fetchone()
        if row is None:
            return None
        app = Application(*row)
        for name, value, source, doc_type, doc_field, printout_id in db.execute(
                "SELECT name, value, source, doc_type, doc_field, printout_id FROM application_value"
                " WHERE application_id = ? ORDER BY position", (app_id,)):
            app.values[name] = Filled(value, source, doc_type, doc_field, printout_id)
        app.printouts = [SourcePrintout(*r) for r in db.execute(
            "SELECT printout_id, doc_type, log_index, jws, log_proof FROM application_printout"
            " WHERE application_id = ? ORDER BY doc_type", (app_id,))]
        return app
