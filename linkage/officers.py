"""Officers' own keys: the published key set, the sign-in statement an officer signs, and its check.

An officer signs in to the hub with a key only they hold (the CLI's officer card, linkage/officercard.py);
the agency's servers never hold it. The hub publishes every officer's public key beside the seal and log
keys (linkage/keyset.py), with its window and, for an officer who left, when it was revoked::

    DIR/pki/officer-keys.json  {"version": 1, "keys": [{"kid", "officer_id", "agency", "kind", "public_key",
                                                       "not_before", "not_after", "revoked_at"}, ...]}

``kind`` is "card" (ECDSA P-256 / SHA-256, DER signature over the statement; ``kid`` the key's JWK thumbprint,
RFC 7638) or "webauthn" (a passkey registered at the counter, ES256; ``kid`` its credential id, base64url; it
signs ``authenticatorData || SHA-256(clientDataJSON)``, the client data's challenge being the SHA-256 of the
statement); ``public_key`` the base64 DER SubjectPublicKeyInfo; times RFC 3339 UTC, ``revoked_at`` null until
revoked.

Sign-in: the hub issues a *statement* (canonical JSON, ``STATEMENT_TYPE``) naming the officer, the calling
agency and the SHA-256 of the client certificate that asked, a fresh nonce, and the session's window; the
officer's key signs it. The hub then issues a session bound to that certificate, and every printout made
under it names the session (``session_id``: a digest of statement and signature) and carries the proof
(``proof_dict``) into its exchange-log entry, so an auditor holding only this key set checks it
(``proof_problem``): the key was the officer's, of that agency, in force at sign-in and not revoked before
the printout; the signature is good; the statement names the certificate that called; the printout was
issued inside the session's window.

Errors: ``OfficerKeyError`` (``bad_officer_keys``: a key set that does not parse).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from linkage.seal import canonical_json, jwk_thumbprint

__all__ = [
    "OFFICER_KEYS",
    "STATEMENT_TYPE",
    "WEBAUTHN",
    "OfficerKey",
    "OfficerKeyError",
    "Proof",
    "key_for",
    "load_officer_keys",
    "officer_key_set_json",
    "parse_proof",
    "parse_statement",
    "proof_problem",
    "public_key_entry",
    "session_id",
    "webauthn_challenge",
]

OFFICER_KEYS: Final = "officer-keys.json"
STATEMENT_TYPE: Final = "linkage-officer-signin/v1"
CARD: Final = "card"
WEBAUTHN: Final = "webauthn"


class OfficerKeyError(Exception):
    code = "bad_officer_keys"


def _time(value: Any, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise OfficerKeyError(f"{where}: {value!r} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise OfficerKeyError(f"{where}: {value!r} has no time zone")
    return when


def _text(when: dt.datetime | None) -> str | None:
    return None if when is None else when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class OfficerKey:
    """One officer's public key, with its window and (for an officer who left) its revocation."""

    kid: str
    officer_id: str
    agency: str
    public_key: str  # base64 DER SubjectPublicKeyInfo
    not_before: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None = None
    kind: str = CARD

    def problem(self, when: dt.datetime) -> str | None:
        """Why this key may not sign at ``when`` (English), or None."""
        if when < self.not_before:
            return f"officer key {self.kid[:16]}… is valid only from {_text(self.not_before)}"
        if when >= self.not_after:
            return f"officer key {self.kid[:16]}… expired at {_text(self.not_after)}"
        if self.revoked_at is not None and when >= self.revoked_at:
            return f"officer key {self.kid[:16]}… was revoked at {_text(self.revoked_at)} (the officer left)"
        return None

    def verifies(self, statement: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (ECDSA P-256 / SHA-256, DER) over ``statement`` (for a passkey: over
        authenticatorData || SHA-256(clientDataJSON)) is this key's."""
        try:
            key = serialization.load_der_public_key(base64.b64decode(self.public_key))
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {"kid": self.kid, "officer_id": self.officer_id, "agency": self.agency, "kind": self.kind,
                "public_key": self.public_key, "not_before": _text(self.not_before),
                "not_after": _text(self.not_after), "revoked_at": _text(self.revoked_at)}


def public_key_entry(key: ec.EllipticCurvePublicKey, officer_id: str, agency: str, not_before: dt.datetime,
                     not_after: dt.datetime) -> OfficerKey:
    """The key set entry of an officer's new public key."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return OfficerKey(jwk_thumbprint(key), officer_id, agency, base64.b64encode(der).decode("ascii"),
                      not_before.astimezone(dt.UTC).replace(microsecond=0),
                      not_after.astimezone(dt.UTC).replace(microsecond=0))


def load_officer_keys(path: Path) -> tuple[OfficerKey, ...]:
    """The officer key set at ``path``; none when the file does not exist. Raises OfficerKeyError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as exc:
        raise OfficerKeyError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("keys"), list):
        raise OfficerKeyError(f"{path}: not an officer key set (version 1, keys [...])")
    out = []
    for i, raw in enumerate(data["keys"]):
        where = f"{path} keys[{i}]"
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in
                                                ("kid", "officer_id", "agency", "public_key", "kind")):
            raise OfficerKeyError(f"{where}: kid, officer_id, agency, kind and public_key must be strings")
        not_before, not_after = _time(raw.get("not_before"), where), _time(raw.get("not_after"), where)
        if not_before is None or not_after is None:
            raise OfficerKeyError(f"{where}: not_before and not_after are required")
        out.append(OfficerKey(raw["kid"], raw["officer_id"], raw["agency"], raw["public_key"], not_before,
                              not_after, _time(raw.get("revoked_at"), where), raw["kind"]))
    return tuple(out)


def officer_key_set_json(keys: Sequence[OfficerKey]) -> str:
    return json.dumps({"version": 1, "keys": [k.to_json() for k in keys]}, indent=2, ensure_ascii=False) + "\n"


def revoked(keys: Sequence[OfficerKey], officer_id: str, when: dt.datetime,
            agency: str | None = None) -> tuple[tuple[OfficerKey, ...], int]:
    """The key set with every unrevoked key of ``officer_id`` (of ``agency``, when given) revoked at ``when``,
    and how many were."""
    out, count = [], 0
    for key in keys:
        if key.officer_id == officer_id and key.revoked_at is None and agency in (None, key.agency):
            key, count = replace(key, revoked_at=when.astimezone(dt.UTC).replace(microsecond=0)), count + 1
        out.append(key)
    return tuple(out), count


def key_for(keys: Sequence[OfficerKey], kid: str) -> OfficerKey | None:
    return next((k for k in keys if k.kid == kid), None)


def session_id(statement: bytes, signature: bytes) -> str:
    """The public name of a session: what its printouts carry, recomputable from the logged proof."""
    return hashlib.sha256(len(statement).to_bytes(4, "big") + statement + signature).hexdigest()[:32]


def webauthn_challenge(statement: bytes) -> bytes:
    """The WebAuthn challenge a passkey signs for a statement: its SHA-256."""
    return hashlib.sha256(statement).digest()


@dataclass(frozen=True)
class Proof:
    """An officer's signed sign-in statement, as the log keeps it; a passkey's adds what the browser signed."""

    kid: str
    statement: bytes
    signature: bytes
    authenticator_data: bytes = b""
    client_data_json: bytes = b""

    def to_json(self) -> dict[str, str]:
        out = {"kid": self.kid, "statement": base64.b64encode(self.statement).decode("ascii"),
               "signature": base64.b64encode(self.signature).decode("ascii")}
        if self.client_data_json:
            out["authenticator_data"] = base64.b64encode(self.authenticator_data).decode("ascii")
            out["client_data_json"] = base64.b64encode(self.client_data_json).decode("ascii")
        return out

    def passkey_problem(self) -> str | None:
        """For a passkey's proof: why the browser's signed data is not over this statement (None: it is)."""
        try:
            client = json.loads(self.client_data_json)
        except ValueError:
            return "the passkey's client data is not JSON"
        want = base64.urlsafe_b64encode(webauthn_challenge(self.statement)).rstrip(b"=").decode("ascii")
        if not isinstance(client, dict) or client.get("type") != "webauthn.get" or client.get("challenge") != want:
            return "the passkey signed another challenge than this statement's"
        if len(self.authenticator_data) < 37 or not self.authenticator_data[32] & 0x01:
            return "the passkey's authenticator data does not show the officer's presence"
        return None

    @property
    def signed(self) -> bytes:
        """What the key signed: the statement, or for a passkey authenticatorData || SHA-256(clientDataJSON)."""
        if not self.client_data_json:
            return self.statement
        return self.authenticator_data + hashlib.sha256(self.client_data_json).digest()

    @property
    def session_id(self) -> str:
        return session_id(self.statement, self.signature)


def parse_statement(statement: bytes) -> dict[str, Any] | None:
    """The sign-in statement's fields, or None when it is not one."""
    try:
        data = json.loads(statement)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != STATEMENT_TYPE or canonical_json(data) != statement:
        return None
    return data


def parse_proof(raw: object) -> Proof | str:
    """The proof a log entry carries, or why it is not one."""
    if not isinstance(raw, Mapping) or not all(isinstance(raw.get(k), str) for k in ("kid", "statement",
                                                                                     "signature")):
        return "the log entry's officer_proof is not {kid, statement, signature}"
    try:
        return Proof(raw["kid"], *(base64.b64decode(str(raw.get(k, "")), validate=True)
                                   for k in ("statement", "signature", "authenticator_data", "client_data_json")))
    except ValueError:
        return "the log entry's officer_proof is not base64"


def proof_problem(entry: Mapping[str, Any], printout_session: object, keys: Sequence[OfficerKey]) -> str | None:
    """Why a printout's log ``entry`` (or a revocation's, timed by its ``revoked_at``) does not prove its officer
    signed in (English), or None when it does.

    ``printout_session`` is the sealed printout's ``officer_session`` (None: the entry alone is judged, as the log
    monitor does); ``keys`` the published officer key set.
    """
    proof = parse_proof(entry.get("officer_proof"))
    if isinstance(proof, str):
        return proof
    if printout_session is not None and proof.session_id != printout_session:
        return (f"the printout names session {str(printout_session)[:40]!r}, but the logged proof is of session "
                f"{proof.session_id}")
    said = parse_statement(proof.statement)
    if said is None:
        return f"the logged statement is not a {STATEMENT_TYPE} statement in canonical JSON"
    key = key_for(keys, proof.kid)
    if key is None:
        return f"officer key {proof.kid[:16]}… is not in the published officer key set"
    for name in ("officer_id", "agency"):
        if not (entry.get(name) == said.get(name) == getattr(key, name)):
            return (f"{name}: the entry says {entry.get(name)!r}, the statement {said.get(name)!r}, the key is "
                    f"{getattr(key, name)!r}'s")
    if said.get("cert_sha256") != entry["officer_proof"].get("caller_cert_sha256"):
        return "the session is bound to another certificate than the one that called for this printout"
    try:
        signed_at, expires = _time(said.get("issued_at"), "statement"), _time(said.get("expires_at"), "statement")
        issued = _time(entry.get("revoked_at" if entry.get("kind") == "revocation" else "issued_at"), "entry")
    except OfficerKeyError as exc:
        return str(exc)
    if signed_at is None or expires is None or issued is None:
        return "the statement or the entry lacks its times"
    if (why := key.problem(signed_at)) is not None:
        return f"at sign-in ({_text(signed_at)}): {why}"
    if key.revoked_at is not None and issued >= key.revoked_at:
        return f"the entry was made after the officer's key was revoked ({_text(key.revoked_at)})"
    if not signed_at <= issued <= expires:
        return f"the entry was made at {_text(issued)}, outside its session ({_text(signed_at)} to " \
               f"{_text(expires)})"
    if key.kind == CARD and proof.client_data_json:
        return "a card's proof carries a browser's data"
    if key.kind == WEBAUTHN and (why := proof.passkey_problem() if proof.client_data_json else
                                 "a passkey's proof lacks the browser's signed data") is not None:
        return why
    if not key.verifies(proof.signed, proof.signature):
        return f"the signature over the sign-in statement is not officer key {proof.kid[:16]}…'s"
    return None
