"""The payment notice a payment switch sends a biller when a Thai QR bill is paid, and its signature.

    body      JSON, UTF-8: {"txn_id", "biller_id", "ref1", "ref2", "amount" ("20.00", baht), "paid_at" (RFC 3339
              UTC)}, exactly these keys
    header    X-Payment-Signature: base64url (no padding) of the switch's Ed25519 signature over the body bytes

The sandbox's mock switch (providers/payswitch/) keeps its key in DIR/pki/payswitch/switch.key and writes the
public half beside it (switch.pub, raw 32 bytes in base64), made by `linkage init` (or by the switch's first
start, for a sandbox made before); a biller (the counter)
reads the public key when a notice arrives, so the two may start in either order. ``read_notice`` raises only
``NoticeError``: ``forged`` (a signature that does not verify, or none), ``malformed`` (a body that is not a
notice), ``no_key`` (the switch has not made its key yet).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from linkage.config import Home

__all__ = ["SIGNATURE_HEADER", "Notice", "NoticeError", "load_or_make_switch_key", "read_notice",
           "sign_notice", "signed_by_switch", "switch_public_key", "switch_signature"]

SIGNATURE_HEADER: Final = "X-Payment-Signature"
_KEYS: Final = ("txn_id", "biller_id", "ref1", "ref2", "amount", "paid_at")


class NoticeError(Exception):
    """A payment notice that cannot be trusted or read; ``code`` is forged, malformed or no_key."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Notice:
    """One payment, as the switch reports it. ``amount`` is baht with two decimals."""

    txn_id: str
    biller_id: str
    ref1: str
    ref2: str
    amount: str
    paid_at: str

    def body(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _paths(home: Home) -> tuple[Path, Path]:
    folder = home.pki / "payswitch"
    return folder / "switch.key", folder / "switch.pub"


def load_or_make_switch_key(home: Home) -> Ed25519PrivateKey:
    """The switch's signing key; made (with its public half) the first time. Safe if two start at once."""
    key_path, pub_path = _paths(home)
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another start made it first: use that one
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise NoticeError("no_key", f"{key_path} is not an Ed25519 key")
    raw = loaded.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    tmp = pub_path.with_suffix(".tmp")
    tmp.write_text(base64.b64encode(raw).decode("ascii") + "\n", encoding="ascii")
    os.replace(tmp, pub_path)
    return loaded


def switch_public_key(home: Home) -> Ed25519PublicKey:
    """The switch's public key, as it wrote it. Raises NoticeError(no_key) if it has not started yet."""
    _, pub_path = _paths(home)
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(pub_path.read_text(encoding="ascii")))
    except (OSError, ValueError, binascii.Error) as exc:
        raise NoticeError("no_key", f"no payment switch key at {pub_path}: start the switch first") from exc


def switch_signature(body: bytes, key: Ed25519PrivateKey) -> str:
    """The value of the signature header over body: base64url, no padding, of the switch's Ed25519 signature."""
    return base64.urlsafe_b64encode(key.sign(body)).rstrip(b"=").decode("ascii")


def signed_by_switch(body: bytes, signature: str, key: Ed25519PublicKey) -> bool:
    """Whether signature (a header's value) is the switch's over exactly these bytes."""
    try:
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), body)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def sign_notice(notice: Notice, key: Ed25519PrivateKey) -> tuple[bytes, str]:
    """The notice's body and the value of its signature header."""
    body = notice.body()
    return body, switch_signature(body, key)


def read_notice(body: bytes, signature: str, key: Ed25519PublicKey) -> Notice:
    """The notice in ``body`` if ``signature`` is the switch's over exactly these bytes. Raises NoticeError."""
    if not signed_by_switch(body, signature, key):
        raise NoticeError("forged", "the notice's signature is not the payment switch's")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NoticeError("malformed", "the notice is not JSON") from exc
    if not isinstance(doc, dict) or sorted(doc) != sorted(_KEYS) or not all(isinstance(doc[k], str) for k in _KEYS):
        raise NoticeError("malformed", f"a notice has exactly the text fields {', '.join(_KEYS)}")
    try:
        if Decimal(doc["amount"]).as_tuple().exponent != -2:
            raise InvalidOperation
    except InvalidOperation as exc:
        raise NoticeError("malformed", f"amount must be baht with two decimals, got {doc['amount']!r}") from exc
    return Notice(**doc)
