"""The citizen's consent, for services without a counter: an agency asks (``RequestConsent``), the citizen sees
what would be sent and approves or refuses it on their own page (``ListConsents``, ``DecideConsent``, after the
civil registry checks their card), and one fetch of that agency then carries the consent's id.

The hub is the one who checks a consent, so consents live here, in the hub's memory: a pending consent lapses
after ``PENDING_S``, an approved one after ``APPROVED_S``; a hub restart forgets them all, which can only refuse
(the agency asks again), never allow. What a consent allowed is durable where it matters: the printout and its
log entry name the consent (``Used.record``), so the citizen's list of accesses and an auditor see it.

A fetch reserves its consent before asking the registry (``take``: no other fetch can use it meanwhile), then
spends it when a printout is issued (``spend``) or gives it back when none was (``give_back``): a refused or
failed fetch leaves the consent as it was, nothing half-used.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from linkage.config import ALL_FIELDS
from linkage.errors import InvalidRequest, LinkageError, NotFound, PermissionDenied
from linkage.hub.routing import Router
from linkage.ids import IdKind, parse_id
from linkage.limits import CONSENT_APPROVED_S, CONSENT_PENDING_S
from linkage.seal import format_issued_at
from linkage.v1 import hub_pb2, provider_pb2

__all__ = ["APPROVED_S", "PENDING_S", "Consent", "ConsentDesk", "Used", "check_citizen", "preview", "refused"]

PENDING_S = CONSENT_PENDING_S
APPROVED_S = CONSENT_APPROVED_S
_MAX_KEPT = 100_000


@dataclass
class Consent:
    consent_id: str
    agency: str
    subject_id: str
    doc_types: tuple[str, ...]
    purpose: str
    officer_id: str
    case_ref: str
    requested_at: float
    status: str = "pending"  # pending, approved, refused, reserved, used
    decided_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

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

    consent_id: str

    def record(self, consent: Consent) -> dict[str, Any]:
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
    """The consents of one hub. Not thread-safe: the hub serves from one event loop."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # seconds since the epoch; an input so that tests can move time
        self._consents: dict[str, Consent] = {}

    def ask(self, agency: str, subject_id: str, doc_types: Sequence[str], purpose: str, officer_id: str,
            case_ref: str) -> Consent:
        now = self.clock()
        for key in [k for k, c in self._consents.items() if c.expires_at() < now - APPROVED_S]:
            del self._consents[key]  # long lapsed: forgotten
        if len(self._consents) >= _MAX_KEPT:
            raise InvalidRequest("too_many_consents", "มีคำขอความยินยอมค้างอยู่มากเกินไป กรุณาลองใหม่ภายหลัง",
                                 "too many consents are pending on this hub; try again later")
        consent = Consent(str(uuid.uuid4()), agency, subject_id, tuple(doc_types), purpose, officer_id, case_ref,
                          now)
        self._consents[consent.consent_id] = consent
        return consent

    def of(self, subject_id: str) -> list[Consent]:
        """The consents asked of subject_id, newest first."""
        return sorted((c for c in self._consents.values() if c.subject_id == subject_id),
                      key=lambda c: c.requested_at, reverse=True)

    def decide(self, subject_id: str, consent_id: str, approve: bool) -> Consent:
        consent = self._consents.get(consent_id)
        if consent is None or consent.subject_id != subject_id:
            raise NotFound("consent_unknown", *_REFUSED["consent_unknown"], field="consent_id")
        now = self.clock()
        status = consent.shown_status(now)
        if status == "expired":
            raise refused("consent_expired")
        if consent.status != "pending":
            raise InvalidRequest("consent_decided", "ตัดสินใจเรื่องความยินยอมนี้ไปแล้ว",
                                 f"this consent was already {status}", field="consent_id")
        consent.status, consent.decided_at = ("approved" if approve else "refused"), now
        return consent

    def take(self, consent_id: str, agency: str, subject_id: str, purpose: str, doc_types: Sequence[str]) -> Used:
        """Reserve an approved consent for one fetch, or raise PermissionDenied saying why it cannot serve it."""
        consent = self._consents.get(consent_id)
        if consent is None:
            raise refused("consent_unknown")
        status = consent.shown_status(self.clock())
        if consent.agency != agency:
            raise refused("consent_other_agency")
        if consent.subject_id != subject_id:
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
        consent.status = "reserved"
        return Used(consent_id)

    def consent(self, used: Used) -> Consent:
        return self._consents[used.consent_id]

    def spend(self, used: Used) -> None:
        self._consents[used.consent_id].status = "used"

    def give_back(self, used: Used) -> None:
        consent = self._consents.get(used.consent_id)
        if consent is not None and consent.status == "reserved":
            consent.status = "approved"

    def shown(self, consent: Consent) -> dict[str, Any]:
        """The consent's fields as the API shows them."""
        return {"consent_id": consent.consent_id, "agency": consent.agency, "doc_types": list(consent.doc_types),
                "purpose": consent.purpose, "status": consent.shown_status(self.clock()),
                "requested_at": _when(consent.requested_at), "decided_at": _when(consent.decided_at),
                "expires_at": _when(consent.expires_at()), "case_ref": consent.case_ref,
                "officer_id": consent.officer_id}


async def check_citizen(router: Router, subject_id: str, card: provider_pb2.CheckCardRequest | None) -> str:
    """The citizen acting on their own behalf: their card details match an active card of subject_id in the civil
    registry. Returns the normalised ID; raises PermissionDenied (or InvalidRequest for a malformed ID)."""
    subject = parse_id(subject_id, IdKind.CITIZEN)
    if card is None or card.subject_id.replace("-", "").replace(" ", "") != subject:
        raise PermissionDenied("citizen_not_verified", "ต้องยืนยันตัวตนด้วยข้อมูลบัตรประจำตัวประชาชนของตนเอง",
                               "only the citizen, with their own card details, may see or decide their consents",
                               field="citizen_card")
    if not await router.check_card(card):
        raise PermissionDenied("citizen_not_verified", "ข้อมูลบัตรไม่ตรงกับทะเบียนราษฎร",
                               "the card details do not match an active card of this person in the civil registry",
                               field="citizen_card")
    return subject


async def preview(router: Router, grants: Mapping[str, Sequence[str]], consent: Consent,
                  ) -> list[hub_pb2.ConsentPreview]:
    """What each document type of a pending consent would send: the registry's record, the agency's fields only."""
    out = []
    for doc_type in consent.doc_types:
        provider = router.owner(doc_type)
        described = await router.describe(provider, doc_type)
        item = hub_pb2.ConsentPreview(doc_type=doc_type, title_th=described.title_th, title_en=described.title_en)
        try:
            fields = grants.get(doc_type, [])
            wanted = [] if ALL_FIELDS in fields else [f.name for f in described.fields if f.name in fields]
            data = await router.get_record(provider, doc_type, parse_id(consent.subject_id), wanted)
            item.data_json = json.dumps(data, ensure_ascii=False)
        except LinkageError as err:
            item.problem = f"{err.message_th} / {err.message_en}"
        out.append(item)
    return out
