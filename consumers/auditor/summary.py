"""The QR summary on a certified printout: what an auditor holding only the paper can check offline.

The counter makes it (``make_summary``) and draws it (consumers/counter/paper.py); auditors check it.

The summary is an RFC 7515 compact JWS, ES256 (ECDSA P-256 / SHA-256, raw r||s),
signed with the counter agency's certificate key. Protected header::

    {"alg": "ES256", "typ": "linkage-summary+jws", "x5t#S256": <base64url SHA-256 of the agency cert DER>}

Payload (canonical JSON, short keys so the QR code stays small)::

    v     1
    sub   subject_id
    name  the subject's name, as printed
    at    when the paper was printed, RFC 3339 UTC to the second ("Z")
    off   officer_id of the certifying officer
    case  case_ref
    docs  [[doc_type, printout_id, digest], ...]   digest: base64url of the first 16 bytes
          (128 bits) of ``linkage.seal.printout_digest`` (SHA-256 of the JWS signing input)

The certificate is named by its fingerprint, not embedded: an agency certificate
(about 500 bytes of DER, 680 characters of base64) would more than double the
QR code, pushing a three-document case from version ~20 to ~35 and making it
fragile at print size. Auditors get the agency certificates from the sandbox
(``DIR/pki/clients/*.pem``); ``SummaryTrust.load`` checks each chains to the CA.

``verify_summary`` checks in numbered steps (each a line of ``SummaryReport.steps``):

    1  structure    three base64url parts; header and payload are JSON objects, no duplicate keys
    2  header       alg ES256 only, the summary typ, no crit, an x5t#S256
    3  signer       x5t#S256 names a trusted agency certificate (already chained to the CA)
    4  signature    ECDSA P-256 / SHA-256 over header.payload with that certificate's key
    5  payload      every field present and typed; the signer was valid at ``at``

Error tree (the only exceptions ``verify_summary`` and ``SummaryTrust`` raise)::

    SummaryError             code (stable snake_case), message
    ├── UnreadableSummary    unreadable_summary   not a summary: not a JWS, not JSON, wrong fields
    ├── UnknownSigner        unknown_signer       the fingerprint names no trusted agency certificate
    ├── BadSignature         bad_signature        the signature does not verify (altered or another key)
    ├── SignerNotValid       signer_not_valid     the certificate was not valid when the paper was printed
    └── BadSummaryTrust      bad_summary_trust    a trust input cannot be used (not a certificate,
                                                  not issued by the CA, not P-256)
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, NewType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from linkage.seal import b64url_decode, b64url_encode, canonical_json, printout_digest, unverified_payload

__all__ = [
    "SUMMARY_TYP",
    "BadSignature",
    "BadSummaryTrust",
    "CompactSummary",
    "SignerNotValid",
    "SummaryDoc",
    "SummaryError",
    "SummaryReport",
    "SummaryTrust",
    "UnknownSigner",
    "UnreadableSummary",
    "cert_fingerprint",
    "digest_prefix",
    "make_summary",
    "verify_summary",
]

CompactSummary = NewType("CompactSummary", str)
"""A compact JWS over the summary payload; what the QR code holds."""

SUMMARY_TYP: Final = "linkage-summary+jws"
_ALG: Final = "ES256"
_VERSION: Final = 1
_DIGEST_BYTES: Final = 16  # 128 bits of the printout's SHA-256: enough to name one sealed printout
_P256: Final = 32
_MAX_LEN: Final = 4000  # a QR code holds at most 2953 bytes; anything longer is not ours


# --- errors ------------------------------------------------------------------------------------------------------

class SummaryError(Exception):
    """Base of everything this module raises about a summary or its trust inputs."""

    code: ClassVar[str] = "summary_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnreadableSummary(SummaryError):
    """Not a summary: not a compact JWS, not JSON, a field missing or of the wrong type."""

    code = "unreadable_summary"


class UnknownSigner(SummaryError):
    """The header's x5t#S256 names none of the trusted agency certificates."""

    code = "unknown_signer"


class BadSignature(SummaryError):
    """The ECDSA signature does not verify: the summary was altered or signed with another key."""

    code = "bad_signature"


class SignerNotValid(SummaryError):
    """The agency certificate was not valid at the time the summary says the paper was printed."""

    code = "signer_not_valid"


class BadSummaryTrust(SummaryError):
    """A trust input is unusable: unreadable, not issued by the CA, or not an ECDSA P-256 certificate."""

    code = "bad_summary_trust"


# --- making ------------------------------------------------------------------------------------------------------

def cert_fingerprint(cert: x509.Certificate) -> str:
    """``x5t#S256``: base64url SHA-256 of the certificate's DER (RFC 7515 s4.1.8)."""
    return b64url_encode(cert.fingerprint(hashes.SHA256()))


def digest_prefix(jws: str) -> str:
    """The first 128 bits of ``printout_digest(jws)``, base64url: how the summary names a printout."""
    return b64url_encode(bytes.fromhex(printout_digest(jws))[:_DIGEST_BYTES])


def _rfc3339_seconds(when: dt.datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("the print time must be timezone-aware")
    return when.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def make_summary(case_printouts: Sequence[str], subject_name: str, signer_key: ec.EllipticCurvePrivateKey,
                 signer_cert: x509.Certificate, *, at: dt.datetime | None = None, officer_id: str = "",
                 case_ref: str = "") -> CompactSummary:
    """Sign the summary of a case's printouts (compact JWS, ES256) with the counter agency's key.

    ``at`` is the print time (default: now). Raises ValueError if there is no
    printout, a printout is not a JWS, the printouts name different subjects,
    or the key is not P-256 or does not belong to ``signer_cert``.
    """
    if not case_printouts:
        raise ValueError("a summary needs at least one printout")
    if not isinstance(signer_key.curve, ec.SECP256R1):
        raise ValueError(f"ES256 needs a P-256 key, got {signer_key.curve.name}")
    if signer_cert.public_key() != signer_key.public_key():
        raise ValueError("the key does not belong to the signer certificate")
    docs: list[list[str]] = []
    subjects: set[str] = set()
    for jws in case_printouts:
        payload = unverified_payload(jws)
        subjects.add(str(payload["subject_id"]))
        docs.append([str(payload["doc_type"]), str(payload["printout_id"]), digest_prefix(jws)])
    if len(subjects) != 1:
        raise ValueError("the printouts of one case must all be about the same subject")
    body = {"v": _VERSION, "sub": subjects.pop(), "name": subject_name,
            "at": _rfc3339_seconds(at or dt.datetime.now(dt.UTC)), "off": officer_id, "case": case_ref, "docs": docs}
    header = {"alg": _ALG, "typ": SUMMARY_TYP, "x5t#S256": cert_fingerprint(signer_cert)}
    signing_input = b64url_encode(canonical_json(header)) + "." + b64url_encode(canonical_json(body))
    r, s = decode_dss_signature(signer_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return CompactSummary(signing_input + "." + b64url_encode(r.to_bytes(_P256, "big") + s.to_bytes(_P256, "big")))


# --- trust -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SummaryTrust:
    """The agency certificates an auditor accepts as summary signers, keyed by ``x5t#S256``."""

    ca: x509.Certificate
    agencies: Mapping[str, x509.Certificate]

    @classmethod
    def build(cls, ca: x509.Certificate, agency_certs: Iterable[x509.Certificate]) -> SummaryTrust:
        """Keep the certificates issued by ``ca`` with a P-256 key; raises BadSummaryTrust for any other."""
        agencies: dict[str, x509.Certificate] = {}
        for cert in agency_certs:
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise BadSummaryTrust(f"{cert.subject.rfc4514_string()} is not issued by the CA "
                                      f"{ca.subject.rfc4514_string()}") from exc
            key = cert.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
                raise BadSummaryTrust(f"{cert.subject.rfc4514_string()} has no ECDSA P-256 key")
            agencies[cert_fingerprint(cert)] = cert
        return cls(ca, agencies)

    @classmethod
    def load(cls, ca_pem: Path, agency_pems: Iterable[Path]) -> SummaryTrust:
        """Read the CA and the agency certificates (PEM files); raises BadSummaryTrust."""
        return cls.build(_read_cert(ca_pem), [_read_cert(p) for p in agency_pems])

    @classmethod
    def from_pki_dir(cls, pki: Path) -> SummaryTrust:
        """A sandbox's ``pki`` directory: ``ca.pem`` and every ``clients/*.pem``."""
        return cls.load(pki / "ca.pem", sorted((pki / "clients").glob("*.pem")))


def _read_cert(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (OSError, ValueError) as exc:
        raise BadSummaryTrust(f"{path}: not a readable certificate ({exc})") from exc


# --- verifying ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SummaryDoc:
    doc_type: str
    printout_id: str
    digest: str  # base64url, first 128 bits of the printout's SHA-256

    def matches(self, jws: str) -> bool:
        """True when ``jws`` is this printout: same id and same digest prefix."""
        try:
            payload = unverified_payload(jws)
        except (ValueError, UnicodeDecodeError):
            return False
        return payload.get("printout_id") == self.printout_id and digest_prefix(jws) == self.digest


@dataclass(frozen=True)
class SummaryReport:
    """What a valid summary says, who signed it, and the steps that were checked."""

    subject_id: str
    subject_name: str
    printed_at: dt.datetime
    officer_id: str
    case_ref: str
    documents: tuple[SummaryDoc, ...]
    signer: str  # the agency certificate's common name
    signer_fingerprint: str
    steps: tuple[str, ...]

    @property
    def printout_ids(self) -> tuple[str, ...]:
        return tuple(d.printout_id for d in self.documents)

    def matches(self, jws: str) -> bool:
        """True when ``jws`` is one of the printouts this summary names (id and digest)."""
        return any(d.matches(jws) for d in self.documents)

    def render(self) -> str:
        lines = list(self.steps)
        lines.append(f"ถูกต้อง / VALID: {self.subject_id} {self.subject_name}, {len(self.documents)} document(s), "
                     f"signed by {self.signer} at {self.printed_at.isoformat()}")
        lines += [f"  {d.doc_type} {d.printout_id} sha256:{d.digest}…" for d in self.documents]
        return "\n".join(lines)


def _object(part: str, what: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise UnreadableSummary(f"the {what} has a duplicate key")
        return dict(pairs)

    try:
        value = json.loads(b64url_decode(part).decode("utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError) as exc:
        raise UnreadableSummary(f"the {what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise UnreadableSummary(f"the {what} is not a JSON object")
    return value


def _text(payload: Mapping[str, Any], key: str, *, empty_ok: bool = False) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or (not value and not empty_ok):
        raise UnreadableSummary(f"payload field {key!r} is missing or not text")
    return value


def verify_summary(text: str, trust: SummaryTrust) -> SummaryReport:
    """Check a QR summary against the trusted agency certificates; return what it says.

    Raises only ``SummaryError`` subclasses: UnreadableSummary, UnknownSigner,
    BadSignature, SignerNotValid (see the module docstring).
    """
    steps: list[str] = []
    # 1. Structure: three base64url parts, two JSON objects and a 64-byte signature.
    if not isinstance(text, str) or len(text) > _MAX_LEN:
        raise UnreadableSummary("not a summary: not text, or far too long for a QR code")
    parts = text.strip().split(".")
    if len(parts) != 3:
        raise UnreadableSummary("not a summary: a compact JWS has three parts separated by dots")
    header = _object(parts[0], "header")
    payload = _object(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise UnreadableSummary("the signature is not base64url") from exc
    if len(signature) != 2 * _P256:
        raise UnreadableSummary(f"an ES256 signature is {2 * _P256} bytes, not {len(signature)}")
    steps.append("[1] ✓ structure: compact JWS, JSON header and payload")
    # 2. Header: ES256 only (never "none" or an HMAC), our typ, nothing critical we would ignore.
    if header.get("alg") != _ALG:
        raise UnreadableSummary(f"alg must be {_ALG}, not {header.get('alg')!r}")
    if header.get("typ") != SUMMARY_TYP:
        raise UnreadableSummary(f"typ must be {SUMMARY_TYP}, not {header.get('typ')!r}")
    if "crit" in header:
        raise UnreadableSummary("the header has crit parameters this verifier does not understand")
    fingerprint = header.get("x5t#S256")
    if not isinstance(fingerprint, str):
        raise UnreadableSummary("the header names no certificate (x5t#S256)")
    steps.append(f"[2] ✓ header: {_ALG}, {SUMMARY_TYP}")
    # 3. Signer: one of the agency certificates the auditor trusts (chained to the CA when loaded).
    cert = trust.agencies.get(fingerprint)
    if cert is None:
        raise UnknownSigner(f"x5t#S256 {fingerprint} is none of the {len(trust.agencies)} trusted agency certificates")
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    signer = str(cn[0].value) if cn else cert.subject.rfc4514_string()
    steps.append(f"[3] ✓ signer: {signer} (issued by {trust.ca.subject.rfc4514_string()})")
    # 4. Signature over the header and payload exactly as transmitted.
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)  # SummaryTrust.build admits only P-256 keys
    der = encode_dss_signature(int.from_bytes(signature[:_P256], "big"), int.from_bytes(signature[_P256:], "big"))
    try:
        key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, UnicodeEncodeError) as exc:
        raise BadSignature(f"the summary's signature does not verify with {signer}'s key") from exc
    steps.append("[4] ✓ signature: ECDSA P-256 / SHA-256")
    # 5. Payload: every field typed; the certificate valid when the paper was printed.
    if payload.get("v") != _VERSION:
        raise UnreadableSummary(f"unknown summary version {payload.get('v')!r}")
    at_text = _text(payload, "at")
    try:
        printed_at = dt.datetime.fromisoformat(at_text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UnreadableSummary(f"'at' is not an RFC 3339 time: {at_text!r}") from exc
    if printed_at.tzinfo is None:
        raise UnreadableSummary("'at' has no time zone")
    raw_docs = payload.get("docs")
    if not isinstance(raw_docs, list) or not raw_docs:
        raise UnreadableSummary("payload field 'docs' is missing or empty")
    docs = []
    for item in raw_docs:
        if not (isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) and x for x in item)):
            raise UnreadableSummary("each entry of 'docs' is [doc_type, printout_id, digest]")
        try:
            if len(b64url_decode(item[2])) != _DIGEST_BYTES:
                raise ValueError("wrong length")
        except ValueError as exc:
            raise UnreadableSummary(f"digest of {item[1]} is not {_DIGEST_BYTES} bytes of base64url") from exc
        docs.append(SummaryDoc(item[0], item[1], item[2]))
    if not cert.not_valid_before_utc <= printed_at <= cert.not_valid_after_utc:
        raise SignerNotValid(f"{signer}'s certificate was not valid at {at_text}")
    steps.append(f"[5] ✓ payload: {len(docs)} document(s); certificate valid at {at_text}")
    return SummaryReport(
        subject_id=_text(payload, "sub"), subject_name=_text(payload, "name", empty_ok=True), printed_at=printed_at,
        officer_id=_text(payload, "off", empty_ok=True), case_ref=_text(payload, "case", empty_ok=True),
        documents=tuple(docs), signer=signer, signer_fingerprint=fingerprint, steps=tuple(steps))
