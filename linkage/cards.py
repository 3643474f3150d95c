"""The citizen's ID card chip, simulated: the key the civil registry registers when it issues a card, the
card certificate it signs, and the presence message a chip signs to prove its holder is at the counter.

A real Thai ID card carries a chip with a key the Department of Provincial Administration personalises; the
sandbox stands in for it with an Ed25519 key per card:

* the chip key is derived (HKDF-SHA256) from the civil registry's card secret, the holder's personal ID and
  the card's laser code: the registry re-derives it from its own records to check a signature, and a new
  card (a new laser code) has a new key, so a voided card's key is useless;
* the **card certificate** is the registry's card-issuer key (derived from the same secret) signing
  ``{"v", "iss", "sub" (personal ID), "key" (chip public key), "exp" (Buddhist-era YYYYMMDD)}``; its text is
  ``base64url(canonical JSON) "." base64url(Ed25519 signature)``. The issuer's public key is what auditors
  pin (``DIR/pki/card-issuer.pub``, beside the seal and log keys): with it and a printout they check a
  presence proof without asking the registry or trusting the hub;
* the **card file** (``DIR/cards/<personal ID>.card.json``) is what the sandbox's card reader reads: the
  certificate and the chip's private key (never leaves the citizen's card in real life);
* the chip signs the **presence message**: canonical JSON of ``{"challenge", "presence_hash"}``, where the
  challenge is the hub's (``GetPresenceChallenge``) and ``presence_hash`` the SHA-256 of the request's
  agency, subject, purpose, officer, case reference and sorted document types.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from linkage.seal import b64url_decode, b64url_encode, canonical_json

__all__ = ["CARD_FILE_KIND", "CHALLENGE_TTL_S", "CardCertificate", "CardError", "CitizenCard", "be_today",
           "chip_key", "issue_certificate", "issuer_key", "load_issuer_public", "presence_hash",
           "presence_message", "public_bytes", "verify_presence"]

CARD_FILE_KIND = "linkage-citizen-card/v1"
# How long a hub's presence challenge may wait for the card's signature.
CHALLENGE_TTL_S = 300
_BANGKOK = dt.timezone(dt.timedelta(hours=7))


class CardError(ValueError):
    """A card certificate, card file or signature that does not hold; ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _derive(secret: bytes, info: bytes) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linkage card chip", info=info).derive(secret)
    return Ed25519PrivateKey.from_private_bytes(seed)


def issuer_key(secret: bytes) -> Ed25519PrivateKey:
    """The civil registry's card-issuer key: it signs card certificates."""
    return _derive(secret, b"card-issuer")


def chip_key(secret: bytes, subject_id: str, laser_code: str) -> Ed25519PrivateKey:
    """The chip key of the card with this laser code, as the registry personalised it."""
    return _derive(secret, f"chip/{subject_id}/{laser_code.strip().upper()}".encode())


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_issuer_public(path: Path) -> Ed25519PublicKey:
    """The card-issuer public key from its file (base64url of the 32 raw bytes). Raises OSError, CardError."""
    try:
        return Ed25519PublicKey.from_public_bytes(b64url_decode(path.read_text(encoding="ascii").strip()))
    except ValueError as exc:
        raise CardError("card_issuer_key_invalid", f"{path}: not a card-issuer public key ({exc})") from None


def be_today(now: dt.datetime | None = None) -> str:
    """Today in Bangkok as a Buddhist-era YYYYMMDD (how the registry writes card dates)."""
    day = (now or dt.datetime.now(dt.UTC)).astimezone(_BANGKOK).date()
    return f"{day.year + 543:04d}{day.month:02d}{day.day:02d}"


@dataclass(frozen=True)
class CardCertificate:
    """What the registry certified: this chip key is the card of this person until this day."""

    subject_id: str
    card_public: bytes
    expiry_date: str  # Buddhist-era YYYYMMDD
    issuer: str
    text: str

    @classmethod
    def parse(cls, text: str, issuer: Ed25519PublicKey | None) -> CardCertificate:
        """Read a certificate; with ``issuer``, check its signature. Raises CardError
        ``card_certificate_invalid``."""
        try:
            body, sig = text.split(".")
            payload = b64url_decode(body)
            if issuer is not None:
                issuer.verify(b64url_decode(sig), payload)
            fields: dict[str, Any] = json.loads(payload)
            key = b64url_decode(fields["key"])
            cert = cls(str(fields["sub"]), key, str(fields["exp"]), str(fields["iss"]), text)
            if fields.get("v") != 1 or len(key) != 32 or len(cert.expiry_date) != 8:
                raise ValueError("not a version 1 card certificate")
        except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
            raise CardError("card_certificate_invalid",
                            f"the card certificate is not one the civil registry signed ({exc or 'bad signature'})"
                            ) from None
        return cert

    @property
    def chip(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.card_public)


def issue_certificate(issuer: Ed25519PrivateKey, subject_id: str, card_public: bytes, expiry_date: str,
                      name: str = "dopa") -> str:
    payload = canonical_json({"v": 1, "iss": name, "sub": subject_id, "key": b64url_encode(card_public),
                              "exp": expiry_date})
    return f"{b64url_encode(payload)}.{b64url_encode(issuer.sign(payload))}"


def presence_hash(agency: str, subject_id: str, purpose: str, officer_id: str, case_ref: str,
                  doc_types: Sequence[str]) -> str:
    """Hex SHA-256 of what the citizen agrees to be present for: one request, or one batch of types."""
    return hashlib.sha256(canonical_json({
        "agency": agency, "subject_id": subject_id, "purpose": purpose, "officer_id": officer_id,
        "case_ref": case_ref, "doc_types": sorted(doc_types)})).hexdigest()


def presence_message(challenge: str, hash_hex: str) -> bytes:
    """What the chip signs."""
    return canonical_json({"challenge": challenge, "presence_hash": hash_hex})


def verify_presence(cert: CardCertificate, challenge: str, hash_hex: str, signature: bytes) -> None:
    """Raise CardError ``card_signature_invalid`` unless the card's chip signed this challenge and hash."""
    try:
        cert.chip.verify(signature, presence_message(challenge, hash_hex))
    except InvalidSignature:
        raise CardError("card_signature_invalid",
                        "the card's signature is not over this challenge and request") from None


@dataclass(frozen=True)
class CitizenCard:
    """A card file: what the card reader reads. Signing stands for the chip's own signing."""

    subject_id: str
    certificate: str
    chip: Ed25519PrivateKey

    @classmethod
    def load(cls, path: Path) -> CitizenCard:
        """Raises OSError, or CardError ``card_file_invalid``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("kind") != CARD_FILE_KIND:
                raise ValueError(f"kind is not {CARD_FILE_KIND!r}")
            chip = Ed25519PrivateKey.from_private_bytes(b64url_decode(data["chip_key"]))
            card = cls(str(data["subject_id"]), str(data["certificate"]), chip)
            CardCertificate.parse(card.certificate, None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CardError("card_file_invalid", f"{path}: not a citizen card file ({exc})") from None
        return card

    @classmethod
    def in_folder(cls, folder: Path, subject_id: str) -> CitizenCard | None:
        """The card file of subject_id in folder (``<ID>.card.json``: a card reader's folder, ``DIR/cards`` in the
        sandbox), or None when there is none. Raises OSError, CardError for one that cannot be read."""
        path = folder / f"{subject_id}.card.json"
        if not path.is_file():
            return None
        card = cls.load(path)
        if card.subject_id != subject_id:
            raise CardError("card_file_invalid", f"{path}: the card of {card.subject_id}, not of {subject_id}")
        return card

    def dump(self) -> str:
        raw = self.chip.private_bytes_raw()
        return json.dumps({"kind": CARD_FILE_KIND, "subject_id": self.subject_id, "certificate": self.certificate,
                           "chip_key": b64url_encode(raw)}, indent=2) + "\n"

    def sign(self, challenge: str, hash_hex: str) -> bytes:
        return self.chip.sign(presence_message(challenge, hash_hex))
