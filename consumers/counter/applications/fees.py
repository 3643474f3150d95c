"""Fees by Thai QR: the bill of a submitted application, and the payment notices that settle it.

A submitted application of a service with a fee gets one bill: reference 1 is the application number without its
dashes, reference 2 the case number's, the amount the form's fee; its QR payload is linkage/thaiqr.py's
bill-payment form with the agency's biller ID. The bill can be paid until ``BILL_DAYS`` after it was issued.

A payment notice (linkage/payments.py) settles the bill only if, in this order: its signature is the payment
switch's; it names this biller; it names a bill that exists; that bill is not paid already; the reference 2 and
the amount are the bill's; it was paid before the bill expired. Then, in one transaction, the bill is paid, the
application is ``paid`` and the receipt gets its number. Every notice, accepted or refused, is one row of
``payment_notice`` (and a log line): a refused one changes nothing else.

    Refusal codes (``Settled.code``): forged, malformed, no_key, wrong_biller, unknown_bill, duplicate,
    wrong_reference, wrong_amount, late
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from consumers.counter.applications.forms import FormFee
from consumers.counter.applications.store import PAID, SUBMITTED, Application
from consumers.counter.store import CounterStore
from linkage.payments import Notice
from linkage.thaiqr import BillPayment, bill_payment_payload

__all__ = ["AWAITING", "BILLER_ID", "BILL_DAYS", "Bill", "BillStore", "Settled", "refusal_text"]

# The sandbox municipality's biller ID: its 13-digit tax ID (check digit 1) and the suffix 00.
BILLER_ID: Final = "099400016550100"
BILL_DAYS: Final = 3
AWAITING: Final = "awaiting"
_PAID: Final = "paid"

_TEXT: Final = {
    "forged": ("ลายมือชื่อของแจ้งการชำระเงินไม่ใช่ของผู้ให้บริการชำระเงิน", "the notice is not signed by the payment switch"),
    "malformed": ("แจ้งการชำระเงินไม่อยู่ในรูปแบบที่กำหนด", "the notice is not in the agreed form"),
    "no_key": ("ยังไม่มีกุญแจของผู้ให้บริการชำระเงิน", "the payment switch's key is not there yet"),
    "wrong_biller": ("แจ้งการชำระเงินไม่ได้ระบุหน่วยงานนี้เป็นผู้รับเงิน", "the notice names another biller"),
    "unknown_bill": ("ไม่มีใบแจ้งชำระเงินตามเลขอ้างอิงนี้", "no bill has this reference"),
    "duplicate": ("ใบแจ้งชำระเงินนี้ชำระแล้ว ไม่รับซ้ำ", "this bill is paid already"),
    "wrong_reference": ("เลขอ้างอิงที่ 2 ไม่ตรงกับใบแจ้งชำระเงิน", "reference 2 is not the bill's"),
    "wrong_amount": ("จำนวนเงินไม่ตรงกับใบแจ้งชำระเงิน", "the amount is not the bill's"),
    "late": ("ชำระหลังใบแจ้งชำระเงินหมดอายุ", "paid after the bill expired"),
}

_log = logging.getLogger("consumers.counter")


def refusal_text(code: str) -> tuple[str, str]:
    return _TEXT.get(code, ("ไม่รับแจ้งการชำระเงินนี้", "the notice is refused"))


@dataclass(frozen=True)
class Bill:
    application_id: str
    ref1: str
    ref2: str
    amount: Decimal
    issued_at: str
    expires_at: str
    status: str
    txn_id: str = ""
    paid_at: str = ""
    receipt_no: str = ""

    @property
    def payload(self) -> str:
        """The Thai QR payload a banking app pays this bill with."""
        return bill_payment_payload(BillPayment(BILLER_ID, self.ref1, self.amount, self.ref2))

    @property
    def paid(self) -> bool:
        return self.status == _PAID


@dataclass(frozen=True)
class Settled:
    """What became of a notice: ``code`` "accepted" (with the receipt number) or a refusal code."""

    code: str
    receipt_no: str = ""

    @property
    def accepted(self) -> bool:
        return self.code == "accepted"


def _reference(number: str) -> str:
    return number.replace("-", "")


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class BillStore:
    """The bills and payment notices in the counter's SQLite file."""

    def __init__(self, store: CounterStore) -> None:
        self._store = store

    def bill(self, application_id: str) -> Bill | None:
        with self._store.read() as db:
            return self._load(db, application_id)

    def open_bill(self, app: Application, fee: FormFee, now: dt.datetime) -> Bill | None:
        """The application's bill, made the first time it is asked for; None while the application is not
        submitted (no QR for a draft). A paid bill is returned as it is (its QR is no longer shown)."""
        if app.status not in (SUBMITTED, PAID):
            return None
        with self._store.write() as db:
            db.execute("INSERT OR IGNORE INTO application_bill (application_id, ref1, ref2, amount, issued_at,"
                       " expires_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (app.id, _reference(app.number), _reference(app.case_ref), f"{fee.amount:.2f}", _utc(now),
                        _utc(now + dt.timedelta(days=BILL_DAYS)), AWAITING))
            return self._load(db, app.id)

    def refuse(self, code: str, notice: Notice | None, detail: str, now: dt.datetime) -> Settled:
        """Record a notice refused before its bill was looked at (forged, malformed)."""
        with self._store.write() as db:
            self._note(db, now, code, notice, detail)
        return Settled(code)

    def settle(self, notice: Notice, now: dt.datetime, receipt_prefix: str) -> Settled:
        """Check a notice whose signature verified against its bill, and settle the bill if every check passes;
        every outcome is one row of payment_notice."""
        with self._store.write() as db:
            row = db.execute("SELECT application_id FROM application_bill WHERE ref1 = ?", (notice.ref1,)).fetchone()
            bill = self._load(db, row[0]) if row is not None else None
            code = self._check(notice, bill)
            if code is not None or bill is None:
                self._note(db, now, code or "unknown_bill", notice, "")
                return Settled(code or "unknown_bill")
            count = db.execute("SELECT COUNT(*) FROM application_bill WHERE substr(receipt_no, 1, ?) = ?",
                               (len(receipt_prefix), receipt_prefix)).fetchone()[0]
            receipt_no = f"{receipt_prefix}{int(count) + 1:05d}"
            changed = db.execute("UPDATE application_bill SET status = ?, txn_id = ?, paid_at = ?, receipt_no = ?"
                                 " WHERE application_id = ? AND status = ?",
                                 (_PAID, notice.txn_id, notice.paid_at, receipt_no, bill.application_id, AWAITING))
            if changed.rowcount != 1:  # the transaction holds the write lock: only a bug gets here
                raise RuntimeError(f"bill {bill.ref1} changed under a write transaction")
            db.execute("UPDATE application SET status = ? WHERE id = ? AND status = ?",
                       (PAID, bill.application_id, SUBMITTED))
            self._note(db, now, "accepted", notice, receipt_no)
        _log.info("payment %s settled bill %s: receipt %s", notice.txn_id, notice.ref1, receipt_no)
        return Settled("accepted", receipt_no)

    @staticmethod
    def _check(notice: Notice, bill: Bill | None) -> str | None:
        if notice.biller_id != BILLER_ID:
            return "wrong_biller"
        if bill is None:
            return "unknown_bill"
        if bill.paid:
            return "duplicate"
        if notice.ref2 != bill.ref2:
            return "wrong_reference"
        if Decimal(notice.amount) != bill.amount:
            return "wrong_amount"
        try:
            paid_at = dt.datetime.fromisoformat(notice.paid_at.replace("Z", "+00:00"))
            late = paid_at > dt.datetime.fromisoformat(bill.expires_at.replace("Z", "+00:00"))
        except ValueError:
            return "malformed"
        if paid_at.tzinfo is None:
            return "malformed"
        return "late" if late else None

    @staticmethod
    def _note(db: sqlite3.Connection, now: dt.datetime, outcome: str, notice: Notice | None, detail: str) -> None:
        if outcome != "accepted":
            _log.warning("payment notice refused: %s (ref %s, txn %s, %s baht)", outcome,
                         notice.ref1 if notice else "?", notice.txn_id if notice else "?",
                         notice.amount if notice else "?")
        db.execute("INSERT INTO payment_notice (received_at, outcome, ref1, txn_id, amount, detail)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   (_utc(now), outcome, notice.ref1 if notice else "", notice.txn_id if notice else "",
                    notice.amount if notice else "", detail[:500]))

    @staticmethod
    def _load(db: sqlite3.Connection, application_id: str) -> Bill | None:
        row = db.execute("SELECT application_id, ref1, ref2, amount, issued_at, expires_at, status, txn_id, paid_at,"
                         " receipt_no FROM application_bill WHERE application_id = ?", (application_id,)).fetchone()
        if row is None:
            return None
        return Bill(row[0], row[1], row[2], Decimal(row[3]), *row[4:])
