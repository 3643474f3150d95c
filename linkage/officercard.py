"""The officer card: a file standing in for an officer's smart card, for the command line.

    {"version": 1, "officer_id", "agency", "kid",
     "certificate": PEM (from the linkage CA, naming the officer: CN = officer ID, OU = agency),
     "key": PEM PKCS#8, encrypted under the officer's PIN,
     "wrong_pins": 0}

``open_card`` decrypts the key with the PIN; a wrong PIN is counted in the file itself (written
atomically), and the third in a row locks the card for good, as a real card locks: ``card_locked``
until the administrator issues a new one. A right PIN resets the count. The file only stands in for a card:
a copy of it keeps its own count, and its PIN can be guessed offline (THREAT_MODEL.md says so).

Errors are ``linkage.errors`` ones: ``card_locked`` and ``wrong_pin`` (PermissionDenied), ``bad_card``
(InvalidRequest: not a card file).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkage.config import write_atomically
from linkage.errors import InvalidRequest, PermissionDenied
from linkage.officers import OfficerKey, public_key_entry
from linkage.pki import CertPaths, load_private_key

__all__ = ["MAX_WRONG_PINS", "OpenCard", "issue_card", "open_card"]

MAX_WRONG_PINS: Final = 3
CARD_DAYS: Final = 730


@dataclass(frozen=True)
class OpenCard:
    """A card unlocked with its PIN: it signs, and says whose it is."""

    officer_id: str
    agency: str
    kid: str
    key: ec.EllipticCurvePrivateKey

    def sign(self, statement: bytes) -> bytes:
        return self.key.sign(statement, ec.ECDSA(hashes.SHA256()))


def _certificate(ca: CertPaths, officer_id: str, agency: str, key: ec.EllipticCurvePublicKey,
                 now: dt.datetime, days: int) -> x509.Certificate:
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = load_private_key(ca.key)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Linkage sandbox"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, agency),
                      x509.NameAttribute(NameOID.COMMON_NAME, officer_id)])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject).public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))


def issue_card(ca: CertPaths, officer_id: str, agency: str, pin: str, out: Path, *,
               now: dt.datetime | None = None, days: int = CARD_DAYS) -> OfficerKey:
    """Write a new card for the officer to ``out``; returns the key set entry to publish."""
    if not pin:
        raise InvalidRequest("pin_missing", "ต้องกำหนดรหัส PIN ของบัตร", "the card needs a PIN", field="pin")
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(ca, officer_id, agency, key.public_key(), now, days)
    entry = public_key_entry(key.public_key(), officer_id, agency, cert.not_valid_before_utc,
                             cert.not_valid_after_utc)
    _write(out, {
        "version": 1, "officer_id": officer_id, "agency": agency, "kid": entry.kid,
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(pin.encode("utf-8"))).decode("ascii"),
        "wrong_pins": 0,
    })
    return entry


def _write(path: Path, card: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(card, indent=2) + "\n")
    path.chmod(0o600)


def _read(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest("bad_card", f"อ่านบัตรเจ้าหน้าที่ {path} ไม่ได้", f"cannot read the officer card {path}:"
                             f" {exc}", field="card") from None
    if not isinstance(card, dict) or card.get("version") != 1 or not all(
            isinstance(card.get(k), str) for k in ("officer_id", "agency", "kid", "key")) \
            or not isinstance(card.get("wrong_pins"), int):
        raise InvalidRequest("bad_card", f"{path} ไม่ใช่บัตรเจ้าหน้าที่", f"{path} is not an officer card",
                             field="card")
    return card


def open_card(path: Path, pin: str) -> OpenCard:
    """Unlock the card with its PIN. Raises PermissionDenied ``card_locked`` / ``wrong_pin``, InvalidRequest
    ``bad_card``."""
    card = _read(path)
    if card["wrong_pins"] >= MAX_WRONG_PINS:
        raise PermissionDenied("card_locked", "บัตรถูกล็อกเพราะใส่รหัส PIN ผิดครบ 3 ครั้ง ติดต่อผู้ดูแลระบบเพื่อออกบัตรใหม่",
                               f"the card is locked after {MAX_WRONG_PINS} wrong PINs; ask the agency's administrator"
                               " for a new one (`linkage agency officer-card`)", field="card")
    try:
        key = serialization.load_pem_private_key(card["key"].encode("ascii"), pin.encode("utf-8"))
    except (ValueError, TypeError):
        card["wrong_pins"] += 1
        _write(path, card)
        left = MAX_WRONG_PINS - card["wrong_pins"]
        if left == 0:
            raise PermissionDenied("card_locked", "รหัส PIN ผิดครบ 3 ครั้ง บัตรถูกล็อกแล้ว",
                                   f"wrong PIN, the {MAX_WRONG_PINS}rd in a row: the card is now locked",
                                   field="card") from None
        raise PermissionDenied("wrong_pin", f"รหัส PIN ไม่ถูกต้อง ใส่ได้อีก {left} ครั้งก่อนบัตรถูกล็อก",
                               f"wrong PIN; {left} more wrong and the card locks", field="pin") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidRequest("bad_card", f"{path} ไม่ใช่บัตรเจ้าหน้าที่", f"{path} holds no P-256 key", field="card")
    if card["wrong_pins"]:
        card["wrong_pins"] = 0
        _write(path, card)
    return OpenCard(card["officer_id"], card["agency"], card["kid"], key)
