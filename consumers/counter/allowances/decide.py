"""Who a payment run pays, and what it decides for each from the sealed printouts it fetched.

A recipient is an application of an allowance service taken by this agency, submitted, whose case was approved
(its tracking timeline has ``approved``); of several, the newest approval counts. For each, in this order:

    other_channel        the application asks to be paid in cash or to a bank account: not a PromptPay payment,
                         and nothing is fetched for it
    no_civil_record      the civil registry has no record of the ID
    deceased             the civil registry records a death
    name_changed         the name in the civil registry is not the one approved (the officer checks who it is)
    moved_out            the house registration moved since approval, out of the municipality
    not_yet_eligible     below the allowance's age this month (registered in advance)
    no_promptpay         no PromptPay account linked to the personal ID
    promptpay_suspended  the PromptPay account is suspended
    check_failed         a registry or the hub could not answer (retryable): checked again by the next run

and else it is payable: the month's amount by age (rules.py), to the PromptPay account the directory names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from consumers.counter.allowances.rules import Allowance, Month, Rules
from consumers.counter.applications.store import DRAFT

if TYPE_CHECKING:
    from consumers.counter.store import CounterStore

__all__ = ["REASONS", "Payable", "Recipient", "Unpaid", "approved_recipients", "check_account", "check_person",
           "unpaid"]

REASONS: Final = {
    "other_channel": ("เลือกรับเงินช่องทางอื่น ไม่ได้อยู่ในชุดโอนพร้อมเพย์", "asked to be paid another way: not in the"
                                                                        " PromptPay batch"),
    "no_civil_record": ("ไม่พบข้อมูลในทะเบียนราษฎร", "no civil registration record"),
    "deceased": ("ถึงแก่กรรมแล้วตามทะเบียนราษฎร", "deceased, as the civil registry records"),
    "name_changed": ("ชื่อในทะเบียนราษฎรเปลี่ยนไปจากที่อนุมัติ", "the name in the civil registry changed since approval"),
    "moved_out": ("ย้ายทะเบียนบ้านออกนอกเขตเทศบาลหลังได้รับอนุมัติ", "moved out of the municipality since approval"),
    "not_yet_eligible": ("อายุยังไม่ถึงเกณฑ์ในเดือนนี้", "not yet of age this month"),
    "no_promptpay": ("ไม่มีบัญชีพร้อมเพย์ที่ผูกกับเลขประจำตัวประชาชน", "no PromptPay account linked to the personal ID"),
    "promptpay_suspended": ("บัญชีพร้อมเพย์ถูกระงับ", "the PromptPay account is suspended"),
    "check_failed": ("ตรวจสอบไม่สำเร็จในครั้งนี้ จะตรวจอีกครั้งในรอบถัดไป", "could not be checked this time; the next"
                                                                      " run checks again"),
}
_VALUES: Final = ("title", "first_name", "last_name", "address", "house_code", "payment")
_CHANNELS: Final = {"cash": ("เงินสด", "cash"), "bank": ("โอนเข้าบัญชีธนาคาร", "bank transfer")}


@dataclass(frozen=True)
class Recipient:
    application_id: str
    application_no: str
    service_id: str
    subject_id: str
    approved_at: float
    values: Mapping[str, str]

    @property
    def name(self) -> str:
        v = self.values
        return f"{v.get('title', '')}{v.get('first_name', '')} {v.get('last_name', '')}".strip()


@dataclass(frozen=True)
class Payable:
    recipient: Recipient
    amount: Decimal
    bank_code: str
    account_masked: str
    person_printout: str
    promptpay_printout: str


@dataclass(frozen=True)
class Unpaid:
    recipient: Recipient
    reason: str
    detail_th: str
    detail_en: str
    printout_id: str = ""


def unpaid(recipient: Recipient, reason: str, detail: tuple[str, str] = ("", ""), printout_id: str = "") -> Unpaid:
    """Why recipient is not paid: the reason's text, then the particulars."""
    th, en = REASONS[reason]
    return Unpaid(recipient, reason, f"{th}{': ' + detail[0] if detail[0] else ''}",
                  f"{en}{': ' + detail[1] if detail[1] else ''}", printout_id)


def approved_recipients(store: CounterStore, agency: str, services: Iterable[str]) -> list[Recipient]:
    """Every approved allowance application of this agency, the newest approval per service and person."""
    wanted = sorted(services)
    marks = ", ".join("?" * len(wanted))
    with store.read() as db:
        rows = db.execute(
            "SELECT a.id, a.number, a.service_id, a.subject_id, MAX(e.at) FROM application a"
            " JOIN case_track t ON t.case_ref = a.case_ref"
            " JOIN case_event e ON e.case_ref = a.case_ref AND e.status = 'approved'"
            f" WHERE t.agency = ? AND a.status != ? AND a.service_id IN ({marks})"
            " GROUP BY a.id ORDER BY 5, a.number", (agency, DRAFT, *wanted)).fetchall()
        newest: dict[tuple[str, str], tuple[Any, ...]] = {}
        for row in rows:  # in approval order: a later approval replaces an earlier one
            newest[(row[2], row[3])] = row
        ids = {row[0] for row in newest.values()}
        values: dict[str, dict[str, str]] = {}
        for app_id, name, value in db.execute(
                f"SELECT application_id, name, value FROM application_value WHERE name IN"
                f" ({', '.join('?' * len(_VALUES))})", _VALUES):
            if app_id in ids:
                values.setdefault(app_id, {})[name] = value
    return [Recipient(r[0], r[1], r[2], r[3], float(r[4]), values.get(r[0], {})) for r in newest.values()]


def wants_promptpay(recipient: Recipient) -> Unpaid | None:
    """other_channel for an application that asks for cash or a bank transfer (nothing is fetched for it)."""
    choice = recipient.values.get("payment", "promptpay")
    if choice == "promptpay":
        return None
    th, en = _CHANNELS.get(choice, (choice, choice))
    return unpaid(recipient, "other_channel", (th, en))


def _birth(be: str) -> dt.date | None:
    try:
        return dt.date(int(be[:4]) - 543, int(be[4:6]), int(be[6:8]))
    except (ValueError, TypeError):
        return None


def check_person(recipient: Recipient, person: Mapping[str, Any], printout_id: str, allowance: Allowance,
                 rules: Rules, month: Month) -> Unpaid | Decimal:
    """The month's amount for recipient by the civil registry's record (dopa.person), or why it is not paid."""
    v = recipient.values
    if person.get("status") == "deceased":
        died = str(person.get("death_date") or "")
        return unpaid(recipient, "deceased", (f"วันที่ {died}", f"on {died} (BE)") if died else ("", ""), printout_id)
    approved = (v.get("first_name", ""), v.get("last_name", ""))
    now = (str(person.get("first_name_th", "")), str(person.get("last_name_th", "")))
    if approved != now:
        return unpaid(recipient, "name_changed", (f"อนุมัติในชื่อ {' '.join(approved)} ทะเบียนราษฎรระบุ {' '.join(now)}",
                                                  f"approved as {' '.join(approved)}, registered as {' '.join(now)}"),
                      printout_id)
    address = person.get("address") or {}
    moved = v.get("house_code", "") != str(person.get("house_code", "")) if v.get("house_code") else (
        v.get("address", "") != str(person.get("address_text", "")))
    if moved and not rules.inside(address):
        where = str(person.get("address_text", ""))
        return unpaid(recipient, "moved_out", (f"ที่อยู่ปัจจุบัน {where}", f"now registered at {where}"), printout_id)
    birth = _birth(str(person.get("birth_date", "")))
    amount = allowance.amount(birth, month) if birth is not None else None
    if amount is None:
        return unpaid(recipient, "not_yet_eligible", (f"{allowance.th}เริ่มที่อายุ {allowance.min_age} ปี",
                                                      f"the {allowance.en} starts at {allowance.min_age}"),
                      printout_id)
    return amount


def check_account(recipient: Recipient, account: Mapping[str, Any], printout_id: str) -> Unpaid | None:
    """Why recipient's PromptPay account (promptpay.account) cannot be paid into, or None."""
    if account.get("status") != "active":
        return unpaid(recipient, "promptpay_suspended", printout_id=printout_id)
    return None
