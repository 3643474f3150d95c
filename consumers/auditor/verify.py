"""Offline verification of a sealed printout against the linkage CA.

``verify_printout`` takes trust (the CA certificate) and time (``now``) as
inputs and checks in numbered steps, each a line in the ``Report``:

    1  well-formed JWS       alg ES256 only, typ, no crit, kid, x5c certificates decode
    2  certificate chain     x5c = [seal, ..., trust root]; signatures; seal certificate
                             valid at issued_at; key usage of a seal, not of a TLS key
    3  seal signature        ECDSA P-256 / SHA-256 over header.payload with the seal key
    4  printout fields       every PRINTOUT_FIELDS field, typed; issued_at not in the
                             future; kid is the seal key's thumbprint

Input that is not a printout at all raises ``UnreadableInput``; anything else
returns a Report, ``valid`` only when every check passed.

The seal certificate is judged at the printout's own ``issued_at``, which the
hub asserts inside the signed payload; a stolen seal key could backdate it.
The audit log's signed checkpoints will bound that time once log proofs are
checked here.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID

from consumers.auditor.errors import BadTrustRoot, UnreadableInput
from linkage.seal import ALG, PRINTOUT_FIELDS, TYP, b64url_decode, jwk_thumbprint

__all__ = ["CLOCK_SKEW", "Check", "Report", "load_trust_root", "verify_printout"]

CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far ``issued_at`` may lie after the verifier's ``now`` (clocks differ)."""

_NAMES: Final = {1: "well-formed JWS", 2: "certificate chain", 3: "seal signature", 4: "printout fields"}
_ISSUED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_REQUEST_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_SUBJECT_ID = re.compile(r"\d{13}")
_MAY_BE_EMPTY: Final = frozenset({"case_ref"})
_TLS_USAGES: Final = frozenset({ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH})
_P256_BYTES = 32


@dataclass(frozen=True)
class Check:
    """One numbered step: ``ok`` is True (passed), False (failed) or None (skipped)."""

    number: int
    name: str
    ok: bool | None
    detail: str

    def render(self) -> str:
        mark = {True: "✓", False: "✗", None: "-"}[self.ok]
        return f"[{self.number}] {mark} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Report:
    """The outcome of ``verify_printout``; ``printout`` is the payload only when ``valid``."""

    valid: bool
    checks: tuple[Check, ...]
    printout: dict[str, Any] | None

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.ok is False)

    def render(self) -> str:
        """Human form: one line per check, then the verdict (Thai first, English beside it)."""
        lines = [c.render() for c in self.checks]
        if self.valid and self.printout is not None:
            lines.append(f"ถูกต้อง / VALID: printout {self.printout['printout_id']}")
        else:
            numbers = ", ".join(str(c.number) for c in self.failed) or "none (some skipped)"
            lines.append(f"ไม่ถูกต้อง / INVALID: failed check(s) {numbers}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({
            "valid": self.valid,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "printout": self.printout,
        }, ensure_ascii=False, indent=2)


def load_trust_root(path: Path) -> x509.Certificate:
    """The CA certificate in ``path`` (PEM or DER); raises BadTrustRoot."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadTrustRoot(f"{path}: cannot read the CA certificate ({exc.strerror or exc})") from exc
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise BadTrustRoot(f"{path}: not an X.509 certificate (PEM or DER)") from exc


def verify_printout(jws: str, trust_root: x509.Certificate, *, now: dt.datetime | None = None) -> Report:
    """Check a compact-JWS printout against ``trust_root`` as of ``now`` (default: the clock).

    Raises UnreadableInput if ``jws`` is not three base64url parts whose header
    and payload are JSON objects; ValueError if ``now`` is naive. Everything
    else is reported in the returned Report.
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    header_b64, payload_b64, header, payload, signature = _parse(jws)
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    issued_at = _parse_issued_at(payload.get("issued_at"))

    # (1) The header asks for exactly what we verify: ES256, our typ, no extensions, a chain.
    check1, certs = _check_header(header)
    # (2) The chain ends at the trust root and the seal certificate was a seal's, valid at issued_at.
    check2 = _check_chain(certs, trust_root, issued_at)
    # (3) The signature is the seal key's over header.payload (nothing else: the alg is fixed).
    check3 = _check_signature(header, certs, signing_input, signature)
    # (4) The payload is a whole printout, and the kid names the key that signed it.
    check4 = _check_payload(payload, header, certs, issued_at, now)

    checks = (check1, check2, check3, check4)
    valid = all(c.ok is True for c in checks)
    return Report(valid=valid, checks=checks, printout=payload if valid else None)


def _parse(jws: str) -> tuple[str, str, dict[str, Any], dict[str, Any], bytes]:
    if not isinstance(jws, str):
        raise UnreadableInput(f"a printout is a string, not {type(jws).__name__}")
    parts = jws.split(".")
    if len(parts) != 3:
        raise UnreadableInput(f"a compact JWS has three parts joined by '.', this has {len(parts)}")
    decoded: list[bytes] = []
    for name, part in zip(("header", "payload", "signature"), parts, strict=True):
        if not part and name != "signature":  # an empty signature is an alg "none" token: check 1 says so
            raise UnreadableInput(f"the JWS {name} is empty")
        try:
            decoded.append(b64url_decode(part))
        except (ValueError, binascii.Error) as exc:
            raise UnreadableInput(f"the JWS {name} is not base64url") from exc
    header = _json_object("header", decoded[0])
    payload = _json_object("payload", decoded[1])
    return parts[0], parts[1], header, payload, decoded[2]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            # RFC 7515 s4: a parser may take either value; refusing both avoids disagreeing with one.
            raise ValueError(f"duplicate member {key!r}")
        obj[key] = value
    return obj


def _json_object(name: str, data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise UnreadableInput(f"the JWS {name} is not UTF-8 JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise UnreadableInput(f"the JWS {name} is JSON but not an object")
    return obj


def _parse_issued_at(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not _ISSUED_AT.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _check_header(header: dict[str, Any]) -> tuple[Check, list[x509.Certificate] | None]:
    problems: list[str] = []
    if header.get("alg") != ALG:
        problems.append(f"alg must be {ALG}, got {header.get('alg')!r}")
    if header.get("typ") != TYP:
        problems.append(f"typ must be {TYP!r}, got {header.get('typ')!r}")
    if "crit" in header:
        problems.append("crit lists extensions this verifier does not understand")
    if not isinstance(header.get("kid"), str):
        problems.append("kid missing")
    certs = _decode_x5c(header.get("x5c"), problems)
    if problems:
        return Check(1, _NAMES[1], False, "; ".join(problems)), certs
    return Check(1, _NAMES[1], True, f"{ALG}, {TYP}, {len(certs or [])} certificate(s) in x5c"), certs


def _decode_x5c(x5c: object, problems: list[str]) -> list[x509.Certificate] | None:
    if x5c is None:
        problems.append("x5c missing")
        return None
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        problems.append("x5c must be a non-empty list of base64 strings")
        return None
    certs: list[x509.Certificate] = []
    for i, text in enumerate(x5c):
        try:
            # x5c is standard base64 with padding (RFC 7515 s4.1.6), unlike the rest of the JWS.
            certs.append(x509.load_der_x509_certificate(binascii.a2b_base64(text, strict_mode=True)))
        except (binascii.Error, ValueError) as exc:
            problems.append(f"x5c[{i}] is not a base64 DER certificate ({exc})")
            return None
    return certs


def _seal_key_usage(_policy: xv.Policy, _cert: x509.Certificate, ku: x509.KeyUsage) -> None:
    if not (ku.digital_signature and ku.content_commitment) or ku.key_cert_sign:
        raise ValueError("key usage is not a seal's (digitalSignature + nonRepudiation, no keyCertSign)")


def _seal_ext_key_usage(_policy: xv.Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    # Every agency and server certificate comes from the same CA: none of them may seal.
    if eku is not None and _TLS_USAGES & set(eku):
        raise ValueError("a TLS certificate (serverAuth/clientAuth) cannot seal printouts")


def _check_chain(certs: list[x509.Certificate] | None, root: x509.Certificate,
                 issued_at: dt.datetime | None) -> Check:
    if certs is None:
        return Check(2, _NAMES[2], None, "skipped: no certificates (see check 1)")
    if issued_at is None:
        return Check(2, _NAMES[2], None, "skipped: issued_at unreadable, no time to judge the chain at (see check 4)")
    seal = certs[0]
    if len(certs) < 2 or certs[-1] != root:
        # Sandbox CAs all share one name: tell them apart by fingerprint.
        return Check(2, _NAMES[2], False,
                     f"x5c must end with the trust root ({_describe(root)}), "
                     f"ends with {_describe(certs[-1])}")
    if not seal.not_valid_before_utc <= issued_at <= seal.not_valid_after_utc:
        return Check(2, _NAMES[2], False,
                     f"seal certificate valid {seal.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                     f"{seal.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, printout issued {issued_at:%Y-%m-%dT%H:%M:%SZ}")
    ee_policy = (xv.ExtensionPolicy.permit_all()
                 .require_present(x509.KeyUsage, xv.Criticality.AGNOSTIC, _seal_key_usage)
                 .may_be_present(x509.ExtendedKeyUsage, xv.Criticality.AGNOSTIC, _seal_ext_key_usage))
    verifier = (xv.PolicyBuilder()
                .store(xv.Store([root]))
                .time(issued_at)
                .extension_policies(ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
                .build_client_verifier())
    try:
        verifier.verify(seal, certs[1:-1])
    except xv.VerificationError as exc:
        return Check(2, _NAMES[2], False, str(exc))
    return Check(2, _NAMES[2], True,
                 f"{seal.subject.rfc4514_string()} issued by {root.subject.rfc4514_string()}, "
                 f"valid at issued_at")


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()}, sha256 {cert.fingerprint(hashes.SHA256()).hex()[:16]}…"


def _check_signature(header: dict[str, Any], certs: list[x509.Certificate] | None,
                     signing_input: bytes, signature: bytes) -> Check:
    if header.get("alg") != ALG:
        return Check(3, _NAMES[3], None, f"skipped: alg is not {ALG} (see check 1)")
    if certs is None:
        return Check(3, _NAMES[3], None, "skipped: no seal certificate (see check 1)")
    key = certs[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return Check(3, _NAMES[3], False, "the seal certificate's key is not ECDSA P-256")
    if len(signature) != 2 * _P256_BYTES:
        return Check(3, _NAMES[3], False, f"an ES256 signature is 64 bytes (r||s), this is {len(signature)}")
    r = int.from_bytes(signature[:_P256_BYTES], "big")
    s = int.from_bytes(signature[_P256_BYTES:], "big")
    try:
        key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return Check(3, _NAMES[3], False, "does not match the header and payload")
    return Check(3, _NAMES[3], True, "ES256 by the seal certificate's key")


def _check_payload(payload: dict[str, Any], header: dict[str, Any], certs: list[x509.Certificate] | None,
                   issued_at: dt.datetime | None, now: dt.datetime) -> Check:
    problems: list[str] = []
    for name in PRINTOUT_FIELDS:
        if name not in payload:
            problems.append(f"{name} missing")
            continue
        value = payload[name]
        if name == "data":
            if not isinstance(value, dict):
                problems.append("data must be an object")
        elif not isinstance(value, str):
            problems.append(f"{name} must be a string")
        elif not value and name not in _MAY_BE_EMPTY:
            problems.append(f"{name} is empty")
    if isinstance(payload.get("printout_id"), str):
        try:
            uuid.UUID(payload["printout_id"])
        except ValueError:
            problems.append("printout_id is not a UUID")
    if isinstance(payload.get("subject_id"), str) and not _SUBJECT_ID.fullmatch(payload["subject_id"]):
        problems.append("subject_id is not 13 digits")
    if isinstance(payload.get("request_hash"), str) and not _REQUEST_HASH.fullmatch(payload["request_hash"]):
        problems.append("request_hash is not sha256:<64 hex>")
    if "issued_at" in payload:
        if issued_at is None:
            problems.append("issued_at is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
        elif issued_at > now + CLOCK_SKEW:
            problems.append(f"issued_at {payload['issued_at']} is after now ({now:%Y-%m-%dT%H:%M:%SZ})")
    kid_note = "kid not compared (no seal certificate)"
    if certs is not None:
        key = certs[0].public_key()
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            thumbprint = jwk_thumbprint(key)
            if header.get("kid") != thumbprint:
                problems.append(f"kid {header.get('kid')!r} is not the seal key's thumbprint {thumbprint}")
            kid_note = "kid matches the seal key"
        else:
            kid_note = "kid not compared (not a P-256 key, see check 3)"
    if problems:
        return Check(4, _NAMES[4], False, "; ".join(problems))
    return Check(4, _NAMES[4], True,
                 f"{payload['doc_type']} {payload['printout_id']} issued {payload['issued_at']}; {kid_note}")
