"""The payment runs' tables in the counter's SQLite file, and the one transaction that writes a run.

    disbursement_batch    one row per payment batch: its number, month, count and total (in satang), the officer,
                          ``prepared`` until the switch's signed settlement is kept with it (``settled``)
    disbursement_line     each payment: the recipient, the application, the amount, where it went (bank, masked
                          account) and the two sealed printouts it was decided on; ``(month, service_id,
                          subject_id)`` is unique: a recipient is paid an allowance once a month, whatever runs
    disbursement_run      one row per run: when, by whom, how many recipients, paid, not paid, already paid, the
                          calls it made to the hub, its batch (if it made one)
    disbursement_unpaid   who a run could not pay and why (reason code, Thai and English detail, the printout that
                          shows it), kept per run: a later run checks them again

A batch is numbered ``PHR-PAY-<month>-<nn>-<tag>``: the month's batches counted from 01, and a tag drawn once per
counter file. ``record_run`` writes a run, its batch and its lines, and its unpaid recipients, in one transaction;
inside it the recipients already paid this month (by an earlier run, or one that committed meanwhile) are left out,
the lines are numbered, and the batch's count and total are checked against the sum of its lines before the commit:
a batch that does not balance is never written. CounterStore runs ``SCHEMA`` at start.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from linkage.disbursements import Batch, BatchLine

if TYPE_CHECKING:
    from consumers.counter.allowances.decide import Payable, Unpaid
    from consumers.counter.store import CounterStore

__all__ = ["PREPARED", "SCHEMA", "SETTLED", "BatchRow", "LedgerError", "RunRow", "UnpaidRow", "batch_of", "batches",
           "latest_run", "paid_keys", "record_run", "settle", "unpaid_of"]

PREPARED = "prepared"
SETTLED = "settled"

SCHEMA = """
CREATE TABLE IF NOT EXISTS disbursement_batch (
    batch_no TEXT PRIMARY KEY, month TEXT NOT NULL, agency TEXT NOT NULL, created_at TEXT NOT NULL,
    count INTEGER NOT NULL, total_satang INTEGER NOT NULL, officer_id TEXT NOT NULL, status TEXT NOT NULL,
    settlement TEXT NOT NULL DEFAULT '', signature TEXT NOT NULL DEFAULT '', settled_at TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS disbursement_batch_month ON disbursement_batch (month);
CREATE TABLE IF NOT EXISTS disbursement_line (
    batch_no TEXT NOT NULL REFERENCES disbursement_batch (batch_no), line INTEGER NOT NULL, month TEXT NOT NULL,
    service_id TEXT NOT NULL, subject_id TEXT NOT NULL, application_no TEXT NOT NULL,
    amount_satang INTEGER NOT NULL CHECK (amount_satang > 0), bank_code TEXT NOT NULL, account_masked TEXT NOT NULL,
    person_printout TEXT NOT NULL, promptpay_printout TEXT NOT NULL, PRIMARY KEY (batch_no, line));
CREATE UNIQUE INDEX IF NOT EXISTS disbursement_once ON disbursement_line (month, service_id, subject_id);
CREATE TABLE IF NOT EXISTS disbursement_run (
    id INTEGER PRIMARY KEY AUTOINCREMENT, month TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    officer_id TEXT NOT NULL, recipients INTEGER NOT NULL, paid INTEGER NOT NULL, not_paid INTEGER NOT NULL,
    already_paid INTEGER NOT NULL, hub_calls INTEGER NOT NULL, batch_no TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS disbursement_unpaid (
    run_id INTEGER NOT NULL REFERENCES disbursement_run (id), service_id TEXT NOT NULL, subject_id TEXT NOT NULL,
    application_no TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL, detail_th TEXT NOT NULL,
    detail_en TEXT NOT NULL, printout_id TEXT NOT NULL, PRIMARY KEY (run_id, service_id, subject_id));
"""


class LedgerError(Exception):
    """The batch would not balance; nothing was written."""


@dataclass(frozen=True)
class BatchRow:
    batch_no: str
    month: str
    agency: str
    created_at: str
    count: int
    total_satang: int
    officer_id: str
    status: str
    settlement: str
    signature: str
    settled_at: str

    @property
    def total(self) -> Decimal:
        return Decimal(self.total_satang) / 100


@dataclass(frozen=True)
class RunRow:
    id: int
    month: str
    started_at: str
    finished_at: str
    officer_id: str
    recipients: int
    paid: int
    not_paid: int
    already_paid: int
    hub_calls: int
    batch_no: str


@dataclass(frozen=True)
class UnpaidRow:
    service_id: str
    subject_id: str
    application_no: str
    name: str
    reason: str
    detail_th: str
    detail_en: str
    printout_id: str


def _satang(baht: Decimal) -> int:
    return int((baht * 100).to_integral_exact())


def _file_tag(db: sqlite3.Connection) -> str:
    """Four hex digits drawn once per counter file: batch numbers stay unique at the switch, which settles a number
    once, even when a counter starts again on a new file and counts its batches from 1."""
    row = db.execute("SELECT value FROM counter_secret WHERE name = 'disbursement_tag'").fetchone()
    if row is None:
        db.execute("INSERT INTO counter_secret VALUES ('disbursement_tag', ?)", (secrets.token_hex(2).upper(),))
        row = db.execute("SELECT value FROM counter_secret WHERE name = 'disbursement_tag'").fetchone()
    return str(row[0])


def paid_keys(db: sqlite3.Connection, month: str) -> set[tuple[str, str]]:
    """(service_id, subject_id) of everyone with a payment line for month."""
    return {(r[0], r[1]) for r in db.execute("SELECT service_id, subject_id FROM disbursement_line WHERE month = ?",
                                             (month,))}


def record_run(store: CounterStore, *, month: str, agency: str, officer_id: str, started_at: str, finished_at: str,
               prefix: str, recipients: int, already_paid: int, hub_calls: int, payable: Sequence[Payable],
               unpaid: Sequence[Unpaid]) -> tuple[RunRow, list[Payable]]:
    """Write the run, its batch (if anyone is payable who is not paid yet this month) and its unpaid recipients in
    one transaction. Returns the run as stored and the payments written, in line order. Raises LedgerError (and
    writes nothing) if the batch would not balance."""
    with store.write() as db:
        done = paid_keys(db, month)
        lines = [p for p in payable if (p.recipient.service_id, p.recipient.subject_id) not in done]
        already_paid += len(payable) - len(lines)
        batch_no = ""
        if lines:
            seq = db.execute("SELECT COUNT(*) FROM disbursement_batch WHERE month = ?", (month,)).fetchone()[0] + 1
            batch_no = f"{prefix}{month}-{seq:02d}-{_file_tag(db)}"
            total = sum(_satang(p.amount) for p in lines)
            db.execute("INSERT INTO disbursement_batch (batch_no, month, agency, created_at, count, total_satang,"
                       " officer_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (batch_no, month, agency, finished_at, len(lines), total, officer_id, PREPARED))
            db.executemany(
                "INSERT INTO disbursement_line VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(batch_no, n, month, p.recipient.service_id, p.recipient.subject_id, p.recipient.application_no,
                  _satang(p.amount), p.bank_code, p.account_masked, p.person_printout, p.promptpay_printout)
                 for n, p in enumerate(lines, start=1)])
            # The ledger balances: the batch's count and total are those of the lines written, or nothing is.
            count, summed = db.execute("SELECT COUNT(*), COALESCE(SUM(amount_satang), 0) FROM disbursement_line"
                                       " WHERE batch_no = ?", (batch_no,)).fetchone()
            if (count, summed) != (len(lines), total):
                raise LedgerError(f"batch {batch_no}: {count} lines for {summed} satang, the batch says"
                                  f" {len(lines)} for {total}")
        cur = db.execute("INSERT INTO disbursement_run (month, started_at, finished_at, officer_id, recipients, paid,"
                         " not_paid, already_paid, hub_calls, batch_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (month, started_at, finished_at, officer_id, recipients, len(lines), len(unpaid),
                          already_paid, hub_calls, batch_no))
        run_id = int(cur.lastrowid or 0)
        db.executemany("INSERT INTO disbursement_unpaid VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(run_id, u.recipient.service_id, u.recipient.subject_id, u.recipient.application_no,
                         u.recipient.name, u.reason, u.detail_th, u.detail_en, u.printout_id) for u in unpaid])
    return RunRow(run_id, month, started_at, finished_at, officer_id, recipients, len(lines), len(unpaid),
                  already_paid, hub_calls, batch_no), lines


_BATCH_COLUMNS = ("batch_no, month, agency, created_at, count, total_satang, officer_id, status, settlement,"
                  " signature, settled_at")


def batches(store: CounterStore, month: str | None = None) -> list[BatchRow]:
    """The batches of month (every month: None), newest first."""
    where, args = ("WHERE month = ?", (month,)) if month else ("", ())
    with store.read() as db:
        return [BatchRow(*r) for r in db.execute(
            f"SELECT {_BATCH_COLUMNS} FROM disbursement_batch {where} ORDER BY month DESC, batch_no DESC", args)]


def batch_of(store: CounterStore, batch_no: str) -> tuple[BatchRow, Batch] | None:
    """A batch as stored and as it is sent (linkage/disbursements.py); None if there is no such batch."""
    with store.read() as db:
        row = db.execute(f"SELECT {_BATCH_COLUMNS} FROM disbursement_batch WHERE batch_no = ?",
                         (batch_no,)).fetchone()
        if row is None:
            return None
        stored = BatchRow(*row)
        lines = tuple(BatchLine(n, subject, Decimal(satang) / 100, ref) for n, subject, satang, ref in db.execute(
            "SELECT line, subject_id, amount_satang, application_no FROM disbursement_line WHERE batch_no = ?"
            " ORDER BY line", (batch_no,)))
    return stored, Batch(stored.batch_no, stored.agency, stored.month, stored.created_at, lines)


def settle(store: CounterStore, batch_no: str, settlement: str, signature: str, settled_at: str) -> None:
    """Keep the switch's signed settlement with the batch; a batch settled already stays as it was."""
    with store.write() as db:
        db.execute("UPDATE disbursement_batch SET status = ?, settlement = ?, signature = ?, settled_at = ?"
                   " WHERE batch_no = ? AND status = ?", (SETTLED, settlement, signature, settled_at, batch_no,
                                                          PREPARED))


def latest_run(store: CounterStore, month: str) -> RunRow | None:
    with store.read() as db:
        row = db.execute("SELECT id, month, started_at, finished_at, officer_id, recipients, paid, not_paid,"
                         " already_paid, hub_calls, batch_no FROM disbursement_run WHERE month = ?"
                         " ORDER BY id DESC LIMIT 1", (month,)).fetchone()
    return RunRow(*row) if row is not None else None


def unpaid_of(store: CounterStore, run_id: int) -> list[UnpaidRow]:
    with store.read() as db:
        return [UnpaidRow(*r) for r in db.execute(
            "SELECT service_id, subject_id, application_no, name, reason, detail_th, detail_en, printout_id"
            " FROM disbursement_unpaid WHERE run_id = ? ORDER BY reason, application_no", (run_id,))]
