"""The citizen's presence, proved by their card: the hub's challenges and the check of a card's signature.

``citizen_present`` is accepted only with a ``CitizenPresence`` (hub.proto): the card's certificate and the
chip's signature over the presence message (linkage/cards.py) for a challenge this hub gave the calling
agency (``GetPresenceChallenge``) within ``CHALLENGE_TTL_S`` and never used before. The civil registry
(``ProviderService.CheckPresence``) says whether the card is this person's, active, unexpired, of the key it
registered, and signed the message. A challenge is spent by its first use, whatever the answer, so that no
signature can be tried twice. Challenges are single-use items in the desks' store beside the exchange log
(linkage/hub/onetime.py): any replica or worker takes one another issued, a restart keeps them, and the spend is
one ``DELETE … RETURNING``, so that of two replicas given the same challenge at once only one can use it. What a
proven presence leaves in the printout and in the log entry: ``Proven``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from linkage.cards import CHALLENGE_TTL_S, CardCertificate, CardError, presence_hash, presence_message
from linkage.errors import InvalidRequest, PermissionDenied
from linkage.hub.deskstore import DeskStore
from linkage.hub.onetime import OneTime
from linkage.hub.routing import Router
from linkage.ids import IdKind, parse_id
from linkage.seal import FetchRequest, b64url_encode, format_issued_at
from linkage.v1 import hub_pb2, provider_pb2

__all__ = ["PresenceDesk", "Proven"]

_REFUSALS = {
    "card_voided": ("บัตรประจำตัวประชาชนใบนี้ถูกยกเลิกแล้ว", "this ID card has been voided"),
    "card_expired": ("บัตรประจำตัวประชาชนใบนี้หมดอายุแล้ว", "this ID card has expired"),
    "card_not_registered": ("บัตรใบนี้ไม่ใช่บัตรที่ทะเบียนราษฎรออกให้บุคคลนี้",
                            "this card's key is not the one the civil registry issued to this person"),
    "card_signature_invalid": ("ลายมือชื่อของบัตรไม่ตรงกับคำขอนี้",
                               "the card's signature is not over this challenge and this request"),
    "card_of_another_person": ("บัตรที่แสดงเป็นของบุคคลอื่น ไม่ใช่เจ้าของข้อมูล",
                               "the card shown is another person's, not the subject's"),
    "card_certificate_invalid": ("ใบรับรองบัตรไม่ได้ออกโดยทะเบียนราษฎร",
                                 "the card certificate was not signed by the civil registry"),
}


@dataclass(frozen=True)
class Proven:
    """A presence the registry accepted: ``printout`` goes into the sealed printout (which names the subject
    anyway), ``log`` into the log entry (the certificate's parts without the personal ID, so that the log keeps
    no personal data in clear; an auditor holding the printout puts the certificate back together)."""

    printout: dict[str, Any]
    log: dict[str, Any]


class PresenceDesk:
    """Issues challenges and checks card proofs for one hub."""

    def __init__(self, router: Router, store: DeskStore, clock: Callable[[], float] = time.time) -> None:
        self._router = router
        self.clock = clock  # seconds since the epoch; an input so that tests can move time
        self._outstanding = OneTime(store, "challenge")

    async def challenge(self, agency: str) -> tuple[str, str]:
        """A fresh challenge for agency, and when it expires (RFC 3339)."""
        now = self.clock()
        value = f"{int(now)}.{secrets.token_urlsafe(24)}"
        await self._outstanding.issue(value, agency, now + CHALLENGE_TTL_S, now)
        return value, format_issued_at(dt.datetime.fromtimestamp(now + CHALLENGE_TTL_S, dt.UTC))

    async def _spend(self, agency: str, challenge: str) -> None:
        """Take the challenge out of the outstanding ones, or raise PermissionDenied saying why it is refused."""
        item = await self._outstanding.spend(challenge)
        held = None if item is None else (item.owner, item.until)
        now = self.clock()
        if held is None:
            try:
                age = now - int(challenge.split(".", 1)[0])
            except ValueError:
                age = -1.0
            if age > CHALLENGE_TTL_S:
                held = ("", 0.0)  # expired and forgotten: said so below
            elif age >= 0:
                raise PermissionDenied("challenge_used", "รหัสท้าทายนี้ถูกใช้ไปแล้ว ขอรหัสใหม่แล้วให้บัตรลงนามอีกครั้ง",
                                       "this challenge was already used (or never issued); ask for a new one and"
                                       " have the card sign again", field="presence.challenge")
            else:
                raise PermissionDenied("challenge_unknown", "ไม่รู้จักรหัสท้าทายนี้",
                                       "this hub did not issue this challenge; ask for a new one",
                                       field="presence.challenge")
        owner, expires = held
        if expires < now:
            raise PermissionDenied("challenge_expired", "รหัสท้าทายหมดอายุแล้ว ขอรหัสใหม่",
                                   f"this challenge expired (it lasts {CHALLENGE_TTL_S} s); ask for a new one",
                                   field="presence.challenge")
        if owner != agency:
            raise PermissionDenied("challenge_unknown", "รหัสท้าทายนี้ออกให้หน่วยงานอื่น",
                                   "this challenge was issued to another agency", field="presence.challenge")

    async def prove(self, agency: str, req: FetchRequest, doc_types: Sequence[str],
                    proof: hub_pb2.CitizenPresence | None) -> Proven | None:
        """None when the request claims no presence; the proven presence when its proof holds.

        Raises InvalidRequest (claim without proof, proof without claim, malformed proof) or PermissionDenied
        (the challenge or the card refused, saying which).
        """
        if not req.citizen_present and proof is None:
            return None
        if proof is None:
            raise InvalidRequest("presence_proof_missing", "ต้องให้บัตรประจำตัวประชาชนของเจ้าของข้อมูลลงนามยืนยันการมาแสดงตน",
                                 "citizen_present needs the citizen's card proof (presence): a card signature over"
                                 " a challenge of GetPresenceChallenge and this request", field="presence")
        if not req.citizen_present:
            raise InvalidRequest("presence_proof_malformed", "มีหลักฐานบัตรแต่ไม่ได้ระบุว่าเจ้าของข้อมูลมาแสดงตน",
                                 "a presence proof was sent without citizen_present", field="citizen_present")
        subject = parse_id(req.subject_id, IdKind.CITIZEN)
        try:
            cert = CardCertificate.parse(proof.card_certificate, None)
        except CardError:
            raise InvalidRequest("presence_proof_malformed", "หลักฐานบัตรอ่านไม่ได้",
                                 "presence.card_certificate is not a card certificate",
                                 field="presence.card_certificate") from None
        if len(proof.signature) != 64 or not proof.challenge:
            raise InvalidRequest("presence_proof_malformed", "หลักฐานบัตรไม่ครบ",
                                 "presence needs a challenge and a 64-byte Ed25519 signature", field="presence")
        await self._spend(agency, proof.challenge)
        hash_hex = presence_hash(agency, subject, req.purpose, req.officer_id, req.case_ref, doc_types)
        verdict = await self._router.check_presence(provider_pb2.CheckPresenceRequest(
            subject_id=subject, card_certificate=proof.card_certificate,
            message=presence_message(proof.challenge, hash_hex), signature=proof.signature))
        if verdict.refusal:
            th, en = _REFUSALS.get(verdict.refusal, ("ทะเบียนราษฎรไม่รับรองบัตรใบนี้",
                                                     f"the civil registry refused the card ({verdict.refusal[:40]})"))
            raise PermissionDenied(verdict.refusal if verdict.refusal in _REFUSALS else "card_refused", th, en,
                                   field="presence")
        signature = b64url_encode(proof.signature)
        types = sorted(doc_types)
        cert_sig = cert.text.split(".")[1]
        return Proven(
            printout={"challenge": proof.challenge, "card_certificate": cert.text, "signature": signature,
                      "doc_types": types},
            log={"challenge": proof.challenge, "card_key": b64url_encode(cert.card_public),
                 "card_expiry": cert.expiry_date, "card_issuer": cert.issuer, "card_certificate_signature": cert_sig,
                 "signature": signature, "doc_types": types, "presence_hash": hash_hex})
