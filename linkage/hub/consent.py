"""The citizen's consent, for services without a counter: an agency asks (``RequestConsent``), the citizen sees
what would be sent and approves or refuses it on their own page (``ListConsents``, ``DecideConsent``, after the
civil registry checks their card), and one fetch of that agency then carries the consent's id.

The hub is the one who checks a consent, so consents live in the desks' store beside the exchange log
(linkage/hub/deskstore.py): every replica and worker sees the same ones, and a restart keeps them. The store
knows a consent's subject only by the log's keyed hash (no personal ID in clear); the citizen's page and the
agency's fetch name the subject, and the hub matches the hash. A pending consent lapses after ``PENDING_S``, an
approved one after ``APPROVED_S``; the citizen sees it lapsed for ``APPROVED_S`` more, then it is swept. What a
consent allowed is durable where it matters: the printout and its log entry name the consent (``Used.record``),
so the citizen's list of accesses and an auditor see it.

A fetch reserves its consent before asking the registry (``take``), then spends it when a printout is issued
(``spend``) or gives it back when none was (``give_back``): a refused or failed fetch leaves the consent as it
was, nothing half-used. Each step is one ``UPDATE … WHERE status = … RETURNING``: of two fetches, on one replica
or two, that reserve the same consent at once, one gets it and the other is told ``consent_used``. A hub that
dies between reserving and spending leaves the consent reserved: it can no longer serve (never twice), and the
agency asks again.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from linkage.errors import InvalidRequest, NotFound, PermissionDenied
from linkage.hub.deskstore import DeskStore
from linkage.limits import CONSENT_APPROVED_S, CONSENT_PENDING_S
from linkage.seal import format_issued_at

__all__ = ["APPROVED_S", "PENDING_S", "Consent", "ConsentDesk", "Used", "refused"]

PENDING_S = CONSENT_PENDING_S
APPROVED_S = CONSENT_APPROVED_S

_COLUMNS = ("consent_id, agency, subject_hash, doc_types, purpose, officer_id, case_ref, requested_at, status,"
            " decided_at")


@dataclass(frozen=True)
class Consent:
    consent_id: str
    agency: str
    subject_id: str  # as the caller named it ("" when it is not this consent's subject)
    doc_types: tuple[str, ...]
    purpose: str
    officer_id: str
    case_ref: str
    requested_at: float
    status: str = "pending"  # pending, approved, refused, reserved, used
    decided_at: float | None = None

    def expires_at(self) -> float:
        return self.requested_at + PENDING_S if self.decided_at is None else self.decided_at + APPROVED_S

    def shown_status(self, now: float) -> str:
        """What the citizen and the agency are told: a reserved consent is still approved, a lapsed one expired."""
        if self.status in ("pending", "approved", "reserved") and self.expires_at() < now:
            return "expired"
        return "approved" if self.status == "reserved" else self.status


def _when(seconds: float | None) -> str:
    return "" if seconds is None else format_issued_at(dt.datetime.fromtimestamp(seconds, dt.UTC))


@dataclass(frozen=True)
class Used:
    """A consent reserved by one fetch: what the printout and the log entry name."""

    consent: Consent

    def record(self) -> dict[str, Any]:
        consent = self.consent
        return {"consent_id": consent.consent_id, "approved_at": _when(consent.decided_at),
                "doc_types": list(consent.doc_types)}


_REFUSED = {
    "consent_unknown": ("ไม่พบความยินยอมนี้ (หรือหมดอายุและถูกลบแล้ว)",
                        "no such consent on this hub (or it lapsed and was forgotten)"),
    "consent_not_approved": ("เจ้าของข้อมูลยังไม่ได้ให้ความยินยอม", "the citizen has not approved this consent yet"),
    "consent_refused": ("เจ้าของข้อมูลปฏิเสธการให้ความยินยอมนี้", "the citizen refused this consent"),
    "consent_expired": ("ความยินยอมนี้หมดอายุแล้ว ขอความยินยอมใหม่", "this consent has expired; ask for a new one"),
    "consent_used": ("ความยินยอมนี้ถูกใช้ไปแล้ว ใช้ได้ครั้งเดียว", "this consent was already used; it serves once"),
    "consent_other_agency": ("ความยินยอมนี้ให้แก่หน่วยงานอื่น", "this consent was given to another agency"),
    "consent_other_subject": ("ความยินยอมนี้เป็นของบุคคลอื่น", "this consent is another person's"),
    "consent_other_purpose": ("ความยินยอมนี้ให้ไว้เพื่อวัตถุประสงค์อื่น",
                              "this consent was given for another purpose"),
    "consent_other_doc_type": ("ความยินยอมนี้ไม่ครอบคลุมเอกสารประเภทนี้",
                               "this consent does not cover this document type"),
}


def refused(code: str, detail: str = "") -> PermissionDenied:
    th, en = _REFUSED[code]
    return PermissionDenied(code, th, en + (f" ({detail})" if detail else ""), field="consent_id")


class ConsentDesk:
    """The consents of every replica, in the desks' store. ``subject_hash``: the log's keyed hash of a subject ID
    (``ExchangeLog.subject_hash``); ``clock``: seconds since the epoch (an input, so that tests can move time)."""

    def __init__(self, store: DeskStore, subject_hash: Callable[[str], str],
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._hash = subject_hash
        self.clock = clock

    async def ask(self, agency: str, subject_id: str, doc_types: Sequence[str], purpose: str, officer_id: str,
                  case_ref: str) -> Consent:
        now = self.clock()
        consent = Consent(str(uuid.uuid4()), agency, subject_id, tuple(doc_types), purpose, officer_id, case_ref,
                          now)
        await self._store.sweep(now)
        await self._store.rows(f"INSERT INTO consents ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                               (consent.consent_id, agency, self._hash(subject_id), json.dumps(list(doc_types)),
                                purpose, officer_id, case_ref, now, consent.status, None))
        return consent

    async def of(self, subject_id: str) -> list[Consent]:
        """The consents asked of subject_id, newest first."""
        rows = await self._store.rows(f"SELECT {_COLUMNS} FROM consents WHERE subject_hash = %s"
                                      " ORDER BY requested_at DESC", (self._hash(subject_id),))
        return [_consent(r, subject_id) for r in rows]

    async def _one(self, consent_id: str, subject_id: str) -> tuple[Consent, bool] | None:
        """The consent, and whether subject_id is its subject; None when there is none."""
        rows = await self._store.rows(f"SELECT {_COLUMNS} FROM consents WHERE consent_id = %s", (consent_id,))
        if not rows:
            return None
        mine = rows[0][2] == self._hash(subject_id)
        return _consent(rows[0], subject_id if mine else ""), mine

    async def decide(self, subject_id: str, consent_id: str, approve: bool) -> Consent:
        now = self.clock()
        rows = await self._store.rows(
            f"UPDATE consents SET status = %s, decided_at = %s WHERE consent_id = %s AND subject_hash = %s"
            f" AND status = 'pending' AND requested_at + {PENDING_S} >= %s RETURNING {_COLUMNS}",
            ("approved" if approve else "refused", now, consent_id, self._hash(subject_id), now))
        if rows:
            return _consent(rows[0], subject_id)
        found = await self._one(consent_id, subject_id)  # not decided now: say why
        if found is None or not found[1]:
            raise NotFound("consent_unknown", *_REFUSED["consent_unknown"], field="consent_id")
        status = found[0].shown_status(now)
        if status == "expired":
            raise refused("consent_expired")
        raise InvalidRequest("consent_decided", "ตัดสินใจเรื่องความยินยอมนี้ไปแล้ว",
                             f"this consent was already {status}", field="consent_id")

    async def take(self, consent_id: str, agency: str, subject_id: str, purpose: str,
                   doc_types: Sequence[str]) -> Used:
        """Reserve an approved consent for one fetch, or raise PermissionDenied saying why it cannot serve it."""
        found = await self._one(consent_id, subject_id)
        if found is None:
            raise refused("consent_unknown")
        consent, mine = found
        now = self.clock()
        status = consent.shown_status(now)
        if consent.agency != agency:
            raise refused("consent_other_agency")
        if not mine:
            raise refused("consent_other_subject")
        if status == "expired":
            raise refused("consent_expired")
        if consent.status == "pending":
            raise refused("consent_not_approved")
        if consent.status == "refused":
            raise refused("consent_refused")
        if consent.status in ("used", "reserved"):
            raise refused("consent_used")
        if consent.purpose != purpose:
            raise refused("consent_other_purpose")
        outside = [t for t in doc_types if t not in consent.doc_types]
        if outside:
            raise refused("consent_other_doc_type", ", ".join(outside)[:200])
        # One statement: of two fetches reserving it at once, on any replicas, one gets the row back.
        if not await self._store.rows(
                f"UPDATE consents SET status = 'reserved' WHERE consent_id = %s AND status = 'approved'"
                f" AND decided_at + {APPROVED_S} >= %s RETURNING consent_id", (consent_id, now)):
            raise refused("consent_used")
        return Used(replace(consent, status="reserved"))

    async def spend(self, used: Used) -> None:
        await self._store.rows("UPDATE consents SET status = 'used' WHERE consent_id = %s AND status = 'reserved'"
                               " RETURNING consent_id", (used.consent.consent_id,))

    async def give_back(self, used: Used) -> None:
        await self._store.rows("UPDATE consents SET status = 'approved' WHERE consent_id = %s"
                               " AND status = 'reserved' RETURNING consent_id", (used.consent.consent_id,))

    def shown(self, consent: Consent) -> dict[str, Any]:
        """The consent's fields as the API shows them."""
        return {"consent_id": consent.consent_id, "agency": consent.agency, "doc_types": list(consent.doc_types),
                "purpose": consent.purpose, "status": consent.shown_status(self.clock()),
                "requested_at": _when(consent.requested_at), "decided_at": _when(consent.decided_at),
                "expires_at": _when(consent.expires_at()), "case_ref": consent.case_ref,
                "officer_id": consent.officer_id}


def _consent(row: Sequence[Any], subject_id: str) -> Consent:
    consent_id, agency, _, doc_types, purpose, officer_id, case_ref, requested_at, status, decided_at = row
    return Consent(str(consent_id), str(agency), subject_id, tuple(json.loads(str(doc_types))), str(purpose),
                   str(officer_id), str(case_ref), float(requested_at), str(status),
                   None if decided_at is None else float(decided_at))
