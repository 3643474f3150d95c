"""The key sets auditors pin: which seal and log keys the hub holds, and when each may sign.

The hub signs with two keys: the seal key (ES256, printouts; certificate
pki/seal/hub-seal.pem from the linkage CA) and the log's note key (Ed25519,
checkpoints; pki/log-note.key, verifier key pki/log-note.vkey). Every key is
published with its window::

    DIR/pki/seal-keys.json  {"version": 1, "keys": [{"kid", "cert_sha256", "not_before", "retired_at"}, ...]}
    DIR/pki/log-keys.json   {"version": 1, "keys": [{"vkey", "not_before", "retired_at"}, ...]}
    DIR/pki/retired/        old seal certificates; old log keys until they retire (then deleted)

(times RFC 3339 UTC; null: open). A printout a key sealed before its retirement
verifies for ever; one whose ``issued_at`` is after it is refused by an auditor
that pins seal-keys.json. A checkpoint a log key signs after its retirement is
refused (``linkage.checkpoint.RetiredKey``); every checkpoint says when it was
signed (a ``signed-at`` line), and that is the time a key's window is judged at.
Rotation (``linkage keys rotate``) is linkage/cli/keys.py; the running hub's
live keys are linkage/hub/keys.py.

Errors: ``KeySetError`` with a stable ``code``: ``bad_overlap`` (not a duration),
``bad_key_set`` (a key set file that does not parse), ``no_key_in_force`` (the
hub holds no key that may sign now), ``no_sandbox``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.checkpoint import CheckpointError, KeyWindow, parse_verifier_key
from linkage.config import Home
from linkage.seal import jwk_thumbprint

__all__ = [
    "LOG_KEYS",
    "RETIRED",
    "SEAL_KEYS",
    "KeySetError",
    "SealKey",
    "load_log_keys",
    "load_note_key",
    "load_seal_keys",
    "log_key_set",
    "log_key_set_json",
    "read_cert",
    "seal_entry",
    "seal_key_problem",
    "seal_key_set",
    "seal_key_set_json",
    "utc_second",
    "utc_text",
]

LOG_KEYS: Final = "log-keys.json"
SEAL_KEYS: Final = "seal-keys.json"
RETIRED: Final = "retired"
_VERSION: Final = 1


class KeySetError(Exception):
    """A refused key operation or an unusable key set; ``code`` is stable, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message



def utc_second(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC, to the whole second (windows and signed-at lines are kept to the second)."""
    return when.astimezone(dt.UTC).replace(microsecond=0)


def utc_text(when: dt.datetime | None) -> str | None:
    """``when`` as an RFC 3339 UTC time to the second; None stays None (an open window)."""
    return None if when is None else utc_second(when).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SealKey:
    """A seal key of the hub: its ``kid`` (RFC 7638 thumbprint) and the window it may seal in."""

    kid: str
    cert_sha256: str = ""
    not_before: dt.datetime | None = None
    retired_at: dt.datetime | None = None

    def in_force(self, when: dt.datetime) -> bool:
        return (self.not_before is None or self.not_before <= when) and (
            self.retired_at is None or when < self.retired_at)


def seal_key_problem(keys: Sequence[SealKey], kid: str, issued_at: dt.datetime) -> str | None:
    """Why the seal key ``kid`` may not have sealed at ``issued_at`` under the pinned ``keys``; None if it may."""
    found = [k for k in keys if k.kid == kid]
    if not found:
        return (f"seal key {kid} is not in the pinned seal key set ({len(keys)} keys); if the hub rotated its keys,"
                " take the new DIR/pki/seal-keys.json")
    if any(k.in_force(issued_at) for k in found):
        return None
    key = found[0]
    at = utc_text(issued_at)
    if key.not_before is not None and issued_at < key.not_before:
        return f"seal key {kid} is in force only from {utc_text(key.not_before)}, and this printout says {at}"
    return (f"seal key {kid} was retired at {utc_text(key.retired_at)}, and this printout says it was sealed at {at},"
            " after that: a retired key's new seal is refused")


def _time(value: Any, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise KeySetError("bad_key_set", f"{where}: {str(value)[:40]!r} is not an RFC 3339 UTC time or null")
    return when


def _entries(path: Path) -> list[Mapping[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise KeySetError("bad_key_set", f"{path}: cannot read the key set ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("version") != _VERSION or not isinstance(doc.get("keys"), list) \
            or not doc["keys"] or not all(isinstance(k, dict) for k in doc["keys"]):
        raise KeySetError("bad_key_set", f"{path}: not a version {_VERSION} key set"
                          ' ({"version": 1, "keys": [{...}, ...]} with at least one key)')
    return list(doc["keys"])


def load_log_keys(path: Path) -> tuple[KeyWindow, ...]:
    """The log keys in a log-keys.json, with their windows; raises KeySetError(bad_key_set)."""
    out = []
    for i, entry in enumerate(_entries(path)):
        where = f"{path} keys[{i}]"
        try:
            verifier = parse_verifier_key(str(entry.get("vkey", "")))
            out.append(KeyWindow(verifier, _time(entry.get("not_before"), f"{where} not_before"),
                                 _time(entry.get("retired_at"), f"{where} retired_at")))
        except CheckpointError as exc:
            raise KeySetError("bad_key_set", f"{where}: {exc}") from exc
    return tuple(out)


def load_seal_keys(path: Path) -> tuple[SealKey, ...]:
    """The seal keys in a seal-keys.json, with their windows; raises KeySetError(bad_key_set)."""
    out = []
    for i, entry in enumerate(_entries(path)):
        where = f"{path} keys[{i}]"
        kid, digest = entry.get("kid"), entry.get("cert_sha256", "")
        if not isinstance(kid, str) or not kid or not isinstance(digest, str):
            raise KeySetError("bad_key_set", f"{where}: kid must be the seal key's RFC 7638 thumbprint")
        out.append(SealKey(kid, digest, _time(entry.get("not_before"), f"{where} not_before"),
                           _time(entry.get("retired_at"), f"{where} retired_at")))
    return tuple(out)


def log_key_set(home: Home) -> tuple[KeyWindow, ...]:
    """DIR/pki/log-keys.json, or (never rotated) the one key in DIR/pki/log-note.vkey with an open window."""
    path = home.pki / LOG_KEYS
    if path.exists():
        return load_log_keys(path)
    try:
        return (KeyWindow(parse_verifier_key(home.log_note_vkey.read_text(encoding="ascii").strip())),)
    except (OSError, UnicodeDecodeError, CheckpointError) as exc:
        raise KeySetError("bad_key_set", f"{home.log_note_vkey}: not the log's verifier key ({exc})") from exc


def seal_key_set(home: Home) -> tuple[SealKey, ...]:
    """DIR/pki/seal-keys.json, or (never rotated) the one seal key in DIR/pki/seal/ with an open window."""
    path = home.pki / SEAL_KEYS
    if path.exists():
        return load_seal_keys(path)
    return (seal_entry(read_cert(home.seal.cert)),)

def read_cert(path: Path) -> x509.Certificate:
    """The PEM certificate in ``path``; raises KeySetError(bad_key_set)."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise KeySetError("bad_key_set", f"{path}: not a readable certificate ({exc})") from exc


def seal_entry(cert: x509.Certificate, not_before: dt.datetime | None = None) -> SealKey:
    """The key set entry of the seal key certified by ``cert``, in force from ``not_before``."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeySetError("bad_key_set", "the seal certificate's key is not ECDSA P-256")
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return SealKey(jwk_thumbprint(key), digest, not_before)


def _dump(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"version": _VERSION, "keys": entries}, ensure_ascii=False, indent=2) + "\n"


def log_key_set_json(keys: Sequence[KeyWindow]) -> str:
    """log-keys.json for ``keys``."""
    return _dump([{"vkey": k.verifier.vkey(), "not_before": utc_text(k.not_before),
                   "retired_at": utc_text(k.retired_at)} for k in keys])


def seal_key_set_json(keys: Sequence[SealKey]) -> str:
    """seal-keys.json for ``keys``."""
    return _dump([{"kid": k.kid, "cert_sha256": k.cert_sha256, "not_before": utc_text(k.not_before),
                   "retired_at": utc_text(k.retired_at)} for k in keys])


def load_note_key(path: Path) -> Ed25519PrivateKey:
    """The log's Ed25519 note key in ``path`` (PEM, PKCS 8); raises KeySetError(bad_key_set)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeySetError("bad_key_set", f"{path}: cannot read the log's note key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeySetError("bad_key_set", f"{path}: the log's note key must be an Ed25519 private key")
    return key
