"""Sealing printouts: the hub's signature over the answer it gives.

A sealed printout is an RFC 7515 compact JWS, ES256 (ECDSA P-256, SHA-256, raw
64-byte r||s signature), whose protected header names its type, the key (``kid``,
the RFC 7638 thumbprint) and the certificate chain (``x5c``: seal certificate,
then the linkage CA). Any JOSE library can check it with the public key of the
first ``x5c`` certificate; ``consumers.auditor`` checks the chain as well.

Pure: nothing here reads files except ``Sealer.from_files``. Errors are plain
``ValueError``/``TypeError`` raised to the hub's own code (a misconfigured key,
a payload the hub built wrong), never to a consumer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NewType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from linkage.pki import load_private_key

__all__ = [
    "ALG",
    "HUB_ISSUER",
    "PRINTOUT_FIELDS",
    "TYP",
    "CompactJWS",
    "FetchRequest",
    "RequestHash",
    "Sealer",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "format_issued_at",
    "jwk_thumbprint",
    "printout_digest",
    "request_hash",
    "unverified_payload",
]

CompactJWS = NewType("CompactJWS", str)
"""``BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)``; not a JSON document."""

RequestHash = NewType("RequestHash", str)
"""``"sha256:" + lowercase hex`` of the canonical JSON of the request fields."""

ALG: Final = "ES256"
# Explicit typing (RFC 8725 s3.11) so a printout can never be taken for a JWT
# (it has none of the registered claims a JWT library would look for) or for
# any other JWS the linkage CA's keys might sign. "+jws" rather than "+jwt"
# because the payload is a printout document, not a claims set.
TYP: Final = "linkage-printout+jws"
HUB_ISSUER: Final = "TH/GOV/DOPA/linkage-hub"

PRINTOUT_FIELDS: Final = (
    "printout_id",  # UUID, str
    "doc_type",  # dotted code, e.g. "dopa.person"
    "subject_id",  # 13-digit personal or juristic ID
    "data",  # object: the fields the agency is granted, nothing else
    "issuer",  # the hub's X-Road id, HUB_ISSUER
    "provider",  # X-Road id of the registry that answered
    "agency",  # X-Road id of the requesting agency (from its certificate)
    "officer_id",  # the accountable officer
    "purpose",
    "case_ref",  # "" when the request had none
    "issued_at",  # RFC 3339 UTC with "Z"
    "request_hash",  # RequestHash of the request fields
)

_P256_BYTES = 32
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 s2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of ``b64url_encode``; raises ValueError on anything but unpadded base64url."""
    # urlsafe_b64decode silently drops characters outside the alphabet: check it first.
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(obj: object) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace, for hashing.

    Equal to RFC 8785 (JCS) for the strings, booleans and integers the hub
    hashes; it differs for floats and for keys outside the Basic Multilingual
    Plane. Raises TypeError for values JSON cannot hold, ValueError for NaN.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def request_hash(fields: Mapping[str, object]) -> RequestHash:
    """Digest binding a printout to the request it answers (the hub passes agency,
    doc_type, subject_id, purpose, officer_id, case_ref, citizen_present)."""
    return RequestHash("sha256:" + hashlib.sha256(canonical_json(dict(fields))).hexdigest())


@dataclass(frozen=True)
class FetchRequest:
    """What an agency asks the hub for; ``binding`` is the hash that ties the printout to it."""

    doc_type: str
    subject_id: str
    purpose: str
    officer_id: str
    case_ref: str = ""
    citizen_present: bool = False

    def binding(self, agency: str, subject: str) -> RequestHash:
        """The ``request_hash`` sealed into the printout that answers this request from ``agency``.

        ``subject`` is the normalised ID (``parse_id``). Clients recompute it to check that a printout
        answers the request they sent.
        """
        return request_hash({
            "agency": agency, "doc_type": self.doc_type, "subject_id": subject, "purpose": self.purpose,
            "officer_id": self.officer_id, "case_ref": self.case_ref, "citizen_present": self.citizen_present,
        })


def format_issued_at(when: dt.datetime) -> str:
    """RFC 3339 in UTC with "Z", to the microsecond: the form ``issued_at`` takes."""
    if when.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def jwk_thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint of a P-256 public key, base64url."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"expected a P-256 key, got {key.curve.name}")
    numbers = key.public_numbers()
    # RFC 7638 s3.2: required members only, lexicographic order, no whitespace.
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url_encode(numbers.x.to_bytes(_P256_BYTES, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_P256_BYTES, "big")),
    }
    return b64url_encode(hashlib.sha256(canonical_json(members)).digest())


class Sealer:
    """Seals printouts with the hub's seal key; cheap to call once built."""

    __slots__ = ("_header_b64", "_key", "_kid", "_sign_algo")

    def __init__(self, key: ec.EllipticCurvePrivateKey, chain: Sequence[x509.Certificate]) -> None:
        """``chain`` is ``[seal_cert, ca_cert]`` (seal certificate first, as in ``x5c``).

        Raises ValueError when the key is not P-256, does not belong to the first
        certificate, or a certificate is not signed by the next one.
        """
        if not chain:
            raise ValueError("the chain needs at least the seal certificate")
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"ES256 needs a P-256 key, got {key.curve.name}")
        pub = chain[0].public_key()
        if not isinstance(pub, ec.EllipticCurvePublicKey) or pub != key.public_key():
            raise ValueError("the seal key does not match the seal certificate")
        for child, parent in itertools.pairwise(chain):
            try:
                child.verify_directly_issued_by(parent)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise ValueError(f"{child.subject.rfc4514_string()} is not issued by "
                                 f"{parent.subject.rfc4514_string()}") from exc
        self._key = key
        self._kid = jwk_thumbprint(pub)
        header = {
            "alg": ALG,
            "typ": TYP,
            "kid": self._kid,
            "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in chain],
        }
        # The protected header never changes: encode it once.
        self._header_b64 = (b64url_encode(canonical_json(header)) + ".").encode("ascii")
        self._sign_algo = ec.ECDSA(hashes.SHA256())

    @classmethod
    def from_files(cls, cert: Path, key: Path, ca_cert: Path) -> Sealer:
        """Load the seal certificate and key and the CA certificate (PEM)."""
        seal_cert = x509.load_pem_x509_certificate(cert.read_bytes())
        ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        return cls(load_private_key(key), [seal_cert, ca])

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint of the seal public key, base64url."""
        return self._kid

    def seal(self, payload: Mapping[str, Any]) -> CompactJWS:
        """Sign ``payload`` (every PRINTOUT_FIELDS name, JSON values) as a compact JWS.

        Raises ValueError if a field is missing, TypeError if a value is not JSON.
        """
        missing = [name for name in PRINTOUT_FIELDS if name not in payload]
        if missing:
            raise ValueError(f"printout is missing {', '.join(missing)}")
        body = canonical_json(payload if isinstance(payload, dict) else dict(payload))
        signing_input = self._header_b64 + base64.urlsafe_b64encode(body).rstrip(b"=")
        r, s = decode_dss_signature(self._key.sign(signing_input, self._sign_algo))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
        return CompactJWS(signing_input.decode("ascii") + "." + b64url_encode(signature))


def unverified_payload(jws: str) -> dict[str, Any]:
    """The payload of a compact JWS, decoded WITHOUT checking the seal: for display only.

    Use ``consumers.auditor.verify_printout`` to trust it. Raises ValueError if
    the token or its payload is malformed.
    """
    parts = jws.split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three parts separated by dots")
    payload = json.loads(b64url_decode(parts[1]))
    if not isinstance(payload, dict):
        raise ValueError("the JWS payload is not a JSON object")
    return payload


def printout_digest(jws: str) -> str:
    """Hex SHA-256 of the JWS signing input (header.payload).

    The signature is left out on purpose: an ECDSA signature can be altered
    into another valid one for the same content, so it cannot name a printout.
    """
    signing_input, _, _ = jws.rpartition(".")
    return hashlib.sha256(signing_input.encode("ascii")).hexdigest()
