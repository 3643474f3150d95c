"""The civil registry's check of a citizen's card signature (``CheckPresence``): the card is this person's,
still active, not expired, its chip key the one the registry personalised (re-derived from the registry's card
secret and the card's laser code, ``linkage.cards.chip_key``), and the chip signed the hub's message.

The card secret is the file ``<name>-cards.secret`` beside the registry's TLS certificate
(``DIR/pki/servers/dopa-cards.secret``, written by ``linkage init``); a registry without one checks no card.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature

from linkage.cards import CardCertificate, CardError, be_today, chip_key, issuer_key, public_bytes
from linkage.ids import IdKind, parse_id
from linkage.v1 import provider_pb2
from providers.store import RecordStore

__all__ = ["CardChecker", "card_secret_path"]


def card_secret_path(own_cert: Path, name: str) -> Path:
    return own_cert.parent / f"{name}-cards.secret"


class CardChecker:
    """Checks presence proofs against one registry's cards."""

    def __init__(self, store: RecordStore, secret: bytes) -> None:
        self._store = store
        self._secret = secret
        self._issuer = issuer_key(secret).public_key()

    async def check(self, request: provider_pb2.CheckPresenceRequest) -> provider_pb2.CheckPresenceResponse:
        subject = parse_id(request.subject_id, IdKind.CITIZEN)

        def refuse(reason: str, expiry: str = "") -> provider_pb2.CheckPresenceResponse:
            return provider_pb2.CheckPresenceResponse(refusal=reason, expiry_date=expiry)

        try:
            cert = CardCertificate.parse(request.card_certificate, self._issuer)
        except CardError as err:
            return refuse(err.code)
        if cert.subject_id != subject:
            return refuse("card_of_another_person")
        row = await self._store.card(subject)
        record = await self._store.get("dopa.card", subject)
        if row is None or record is None:
            return refuse("card_not_registered")
        laser_code, active = row
        expiry = str(record.get("expiry_date", ""))
        if public_bytes(chip_key(self._secret, subject, laser_code).public_key()) != cert.card_public:
            # Not the key of the card on record: an old card's, or one the registry never issued.
            return refuse("card_voided" if not active else "card_not_registered", expiry)
        if not active or record.get("status") == "voided":
            return refuse("card_voided", expiry)
        if expiry < be_today():
            return refuse("card_expired", expiry)
        try:
            cert.chip.verify(request.signature, request.message)
        except InvalidSignature:
            return refuse("card_signature_invalid", expiry)
        return provider_pb2.CheckPresenceResponse(expiry_date=expiry)
