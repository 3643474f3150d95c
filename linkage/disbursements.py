"""A payment batch (รายการโอนเงินเป็นชุด) an agency sends a payment switch, its signature, and the switch's settlement.

    batch       JSON, UTF-8, canonical (sorted keys, no spaces: ``batch_body``): {"batch_no", "agency", "month"
                (Buddhist era, "2569-12"), "created_at" (RFC 3339 UTC), "count", "total" ("12345.00", baht),
                "lines": [{"line": 1, "proxy_type": "NATID", "proxy": personal ID, "amount": "600.00",
                "ref": the application's number}, ...]}; lines numbered 1..count, each (proxy, ref) once, every
                amount above zero with two decimals, ``total`` their sum
    signature   header X-Batch-Signature: a compact JWS (RFC 7515) with a detached payload (its Appendix F), the
                payload being the batch's bytes: ES256 with the agency's key, ``x5c`` its certificate then the
                linkage CA's; the certificate's common name is the batch's ``agency``
    settlement  JSON {"batch_no", "agency", "batch_sha256", "count", "total", "settlement_id", "settled_at"}, exactly
                these keys, signed by the switch's Ed25519 key as a payment notice is (linkage/payments.py,
                header X-Payment-Signature); line n was credited as transaction ``<settlement_id>-<n, six digits>``

``parse_batch`` and ``verify_batch`` raise only ``BatchError``: ``malformed`` (not a batch), ``unbalanced`` (the
count or total disagrees with the lines: the ledger must balance before anything is paid), ``forged`` (the
signature is not the named agency's, or its certificate is not the linkage CA's). ``read_settlement`` raises
``BatchError`` ``forged`` or ``malformed``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID

from linkage.errors import LinkageError
from linkage.ids import IdKind, parse_id
from linkage.payments import signed_by_switch, switch_signature
from linkage.seal import b64url_decode, b64url_encode, canonical_json

__all__ = ["BATCH_SIGNATURE_HEADER", "Batch", "BatchError", "BatchLine", "Settlement", "batch_body", "batch_sha256",
           "line_txn_id", "parse_batch", "read_settlement", "sign_batch", "sign_settlement", "verify_batch"]

BATCH_SIGNATURE_HEADER: Final = "X-Batch-Signature"
_TYP: Final = "linkage-batch+jws"
_SETTLEMENT_KEYS: Final = ("batch_no", "agency", "batch_sha256", "count", "total", "settlement_id", "settled_at")
_BATCH_KEYS: Final = ("batch_no", "agency", "month", "created_at", "count", "total", "lines")
_LINE_KEYS: Final = ("line", "proxy_type", "proxy", "amount", "ref")
_CENTS: Final = Decimal("0.01")


class BatchError(Exception):
    """A batch or settlement that cannot be trusted or read; ``code`` is malformed, unbalanced or forged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BatchLine:
    line: int
    proxy: str
    amount: Decimal
    ref: str
    proxy_type: str = "NATID"


@dataclass(frozen=True)
class Batch:
    batch_no: str
    agency: str
    month: str
    created_at: str
    lines: tuple[BatchLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00")).quantize(_CENTS)


def batch_body(batch: Batch) -> bytes:
    """The batch's bytes, as signed and sent: canonical JSON, amounts with two decimals."""
    return canonical_json({
        "batch_no": batch.batch_no, "agency": batch.agency, "month": batch.month, "created_at": batch.created_at,
        "count": len(batch.lines), "total": f"{batch.total}",
        "lines": [{"line": ln.line, "proxy_type": ln.proxy_type, "proxy": ln.proxy,
                   "amount": f"{ln.amount.quantize(_CENTS)}", "ref": ln.ref} for ln in batch.lines]})


def _amount(text: Any, where: str) -> Decimal:
    try:
        if not isinstance(text, str):
            raise InvalidOperation
        value = Decimal(text)
        if value.as_tuple().exponent != -2 or not value > 0:
            raise InvalidOperation
    except InvalidOperation:
        raise BatchError("malformed", f"{where}: an amount is baht above zero with two decimals, got {text!r}"
                         ) from None
    return value


def parse_batch(body: bytes) -> Batch:
    """The batch in body, once its lines add up to its count and total. Raises BatchError."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BatchError("malformed", "the batch is not JSON") from None
    if not isinstance(doc, dict) or sorted(doc) != sorted(_BATCH_KEYS):
        raise BatchError("malformed", f"a batch has exactly the keys {', '.join(_BATCH_KEYS)}")
    texts = ("batch_no", "agency", "month", "created_at")
    if not all(isinstance(doc[k], str) and doc[k] for k in texts) or not isinstance(doc["lines"], list):
        raise BatchError("malformed", f"{', '.join(texts)} are text and lines a list")
    lines: list[BatchLine] = []
    seen: set[tuple[str, str]] = set()
    for n, raw in enumerate(doc["lines"], start=1):
        if not isinstance(raw, dict) or sorted(raw) != sorted(_LINE_KEYS):
            raise BatchError("malformed", f"line {n}: a line has exactly the keys {', '.join(_LINE_KEYS)}")
        if raw["line"] != n or raw["proxy_type"] != "NATID" or not isinstance(raw["ref"], str) or not raw["ref"]:
            raise BatchError("malformed", f"line {n}: lines are numbered from 1, proxy_type NATID, with a ref")
        try:
            proxy = parse_id(str(raw["proxy"]), IdKind.CITIZEN)
        except LinkageError as err:
            raise BatchError("malformed", f"line {n}: the proxy is not a personal ID ({err.message_en})") from None
        if (proxy, raw["ref"]) in seen:
            raise BatchError("malformed", f"line {n}: {raw['ref']} is paid to this proxy twice in the batch")
        seen.add((proxy, raw["ref"]))
        lines.append(BatchLine(n, proxy, _amount(raw["amount"], f"line {n}"), raw["ref"]))
    if not lines:
        raise BatchError("malformed", "a batch has at least one line")
    batch = Batch(doc["batch_no"], doc["agency"], doc["month"], doc["created_at"], tuple(lines))
    total = _amount(doc["total"], "total")
    if doc["count"] != len(lines) or total != batch.total:
        raise BatchError("unbalanced", f"the batch says {doc['count']!r} lines for {doc['total']!r} baht; its lines"
                                       f" are {len(lines)} for {batch.total} baht")
    return batch


def sign_batch(body: bytes, key: ec.EllipticCurvePrivateKey, chain: Sequence[x509.Certificate]) -> str:
    """The detached compact JWS over body (``header..signature``) by the agency's key; chain: its certificate,
    then the CA's."""
    header = {"alg": "ES256", "typ": _TYP,
              "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in chain]}
    protected = b64url_encode(canonical_json(header))
    signing_input = f"{protected}.{b64url_encode(body)}".encode("ascii")
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{protected}..{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify_batch(body: bytes, jws: str, ca: x509.Certificate, *, now: dt.datetime | None = None,
                 ) -> tuple[Batch, x509.Certificate]:
    """The batch and the certificate that signed it, once the detached JWS is the batch's agency's, its
    certificate issued by ca and valid now. Raises BatchError (forged, malformed, unbalanced)."""
    try:
        protected, empty, signature = jws.split(".")
        header = json.loads(b64url_decode(protected))
        if empty or header.get("alg") != "ES256" or header.get("typ") != _TYP:
            raise ValueError("not an ES256 batch signature with a detached payload")
        cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0], validate=True))
        cert.verify_directly_issued_by(ca)
        raw = b64url_decode(signature)
        if len(raw) != 64:
            raise ValueError("an ES256 signature is 64 bytes")
        public = cert.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ValueError("the certificate's key is not an EC key")
        public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      f"{protected}.{b64url_encode(body)}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except (ValueError, TypeError, KeyError, IndexError, InvalidSignature, binascii.Error) as exc:
        raise BatchError("forged", f"the batch's signature does not verify: {str(exc)[:200]}") from None
    when = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise BatchError("forged", "the certificate that signed the batch is not valid now")
    batch = parse_batch(body)
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [batch.agency]:
        raise BatchError("forged", f"the batch names agency {batch.agency[:64]!r} but is signed by {names!r}")
    return batch, cert


@dataclass(frozen=True)
class Settlement:
    """What the switch credited for one batch. ``total`` is baht with two decimals."""

    batch_no: str
    agency: str
    batch_sha256: str
    count: int
    total: str
    settlement_id: str
    settled_at: str

    def body(self) -> bytes:
        return canonical_json(asdict(self))


def line_txn_id(settlement_id: str, line: int) -> str:
    """The transaction that credited a batch's line."""
    return f"{settlement_id}-{line:06d}"


def sign_settlement(settlement: Settlement, key: Ed25519PrivateKey) -> tuple[bytes, str]:
    """The settlement's body and the value of its signature header."""
    body = settlement.body()
    return body, switch_signature(body, key)


def read_settlement(body: bytes, signature: str, key: Ed25519PublicKey) -> Settlement:
    """The settlement in body if signature is the switch's over exactly these bytes. Raises BatchError."""
    if not signed_by_switch(body, signature, key):
        raise BatchError("forged", "the settlement's signature is not the payment switch's")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BatchError("malformed", "the settlement is not JSON") from None
    if not isinstance(doc, dict) or sorted(doc) != sorted(_SETTLEMENT_KEYS) or not isinstance(doc["count"], int):
        raise BatchError("malformed", f"a settlement has exactly the fields {', '.join(_SETTLEMENT_KEYS)}")
    return Settlement(**doc)


def batch_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
