"""C2SP signed notes (https://c2sp.org/signed-note) and their Ed25519 keys. Pure, no I/O.

A note is a text, a blank line and signature lines::

    <text: one or more lines, each ending in \\n>
    \\n
    — <key name> <base64(4-byte key ID || Ed25519 signature over the text)>\\n
    [more signature lines]

    key ID       = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    verifier key = <key name>+<hex key ID>+<base64(0x01 || public key)>

``open_note`` is a trust boundary: it returns the text and the trusted keys that signed it, or raises
one of the ``linkage.checkpoint`` error tree (a note is how a checkpoint travels): ``MalformedNote``,
``BadKey``, ``InvalidSignature``, ``NoValidSignature``, all ``CheckpointError``s, defined here.
The checkpoint inside a note, and the windows in which keys may sign, are ``linkage.checkpoint``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "SIGNATURE_PREFIX",
    "BadKey",
    "CheckpointError",
    "InvalidSignature",
    "MalformedNote",
    "NoValidSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "canonical_b64decode",
    "has_control",
    "key_id",
    "open_note",
    "parse_ed25519_vkey",
    "parse_verifier_key",
    "sign_note",
    "split_note",
    "valid_key_name",
    "vkey_text",
]

ALG_ED25519 = 0x01
"""Signature type byte of Ed25519 in key IDs and verifier keys (C2SP signed-note)."""
SIGNATURE_PREFIX = "\u2014 "
"""Every signature line starts with an em dash (U+2014) and a space."""
MAX_SIGNATURES = 100
"""More signature lines than this make a note malformed (the spec asks verifiers to accept at least 16)."""

_ED25519_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # control characters but the newline


class CheckpointError(Exception):
    """Base of every error of linkage.note and linkage.checkpoint; ``code`` is stable, the message is for people."""

    code: str = "checkpoint_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class MalformedNote(CheckpointError):
    """The input is not a well-formed signed note."""

    code = "malformed_note"


class BadKey(CheckpointError):
    """A verifier key string, signer name or set of trusted keys is unusable."""

    code = "bad_key"


class InvalidSignature(CheckpointError):
    """A signature by a trusted key does not verify; the whole note is rejected."""

    code = "invalid_signature"


class NoValidSignature(CheckpointError):
    """No signature line was made by a trusted key."""

    code = "no_valid_signature"


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A trusted Ed25519 note key: its name, 4-byte key ID and public key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(hash=False)  # compared, but key objects are unhashable

    def vkey(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        return _vkey(self.name, _raw_public(self.public_key))

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` (without the key ID) is this key's Ed25519 signature of ``text``."""
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            self.public_key.verify(signature, text)
        except _CryptoInvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True, eq=False)
class NoteSigner:
    """A note signing key: a key name and an Ed25519 private key (kept out of ``repr``; equal only to itself).

    Construction raises ``BadKey`` for a name that is empty or contains
    Unicode spaces or ``+``.
    """

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)
    _key_id: bytes = field(init=False, repr=False)  # computed once: every checkpoint's signature line carries it

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise BadKey(f"key name must be non-empty, without spaces or '+': {self.name!r}")
        object.__setattr__(self, "_key_id", _key_id(self.name, _raw_public(self.private_key.public_key())))

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID, SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
        return self._key_id

    def vkey(self) -> str:
        """Return the verifier key string that lets others check this signer's notes."""
        return _vkey(self.name, _raw_public(self.private_key.public_key()))

    def verifier(self) -> NoteVerifier:
        """Return the matching ``NoteVerifier``."""
        return NoteVerifier(self.name, self.key_id, self.private_key.public_key())

    def signature_line(self, text: str) -> str:
        """Return the signature line (with its newline) of this key over note ``text``."""
        signature = self.private_key.sign(text.encode("utf-8"))
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_id + signature).decode('ascii')}\n"


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Parse ``<name>+<hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>``.

    Raises ``BadKey`` for any other shape, another signature type, or a key ID
    that does not match the name and key.
    """
    return NoteVerifier(*parse_ed25519_vkey(vkey, ALG_ED25519, "an Ed25519 note key"))


def parse_ed25519_vkey(vkey: str, alg: int, kind: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key ID, public key) of ``<name>+<hex key ID>+<base64(alg || 32-byte Ed25519 public key)>``.

    ``kind`` says in messages what was expected. Raises ``BadKey`` for any other shape, another signature type
    byte than ``alg``, or a key ID that does not match the name, type and key.
    """
    name, plus, rest = vkey.partition("+")
    id_hex, plus2, key_b64 = rest.partition("+")  # base64 may itself contain '+': split twice only
    if not plus or not plus2 or not _valid_name(name) or not _KEY_ID_HEX.fullmatch(id_hex):
        raise BadKey(f"verifier key must be <name>+<8 hex digits>+<base64 key>: {vkey!r}")
    key = canonical_b64decode(key_b64)
    if key is None or len(key) != 1 + _ED25519_KEY_SIZE or key[0] != alg:
        raise BadKey(f"verifier key of {name!r} is not {kind}")
    wanted = bytes.fromhex(id_hex)
    if key_id(name, alg, key[1:]) != wanted:
        raise BadKey(f"verifier key of {name!r}: key ID {id_hex} does not match the key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key[1:])
    except ValueError as exc:
        raise BadKey(f"verifier key of {name!r} holds an invalid Ed25519 key") from exc
    return name, wanted, public_key


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose text was signed by every key in ``signed_by`` (at least one)."""

    text: str
    signed_by: tuple[NoteVerifier, ...]


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Return ``text``, a blank line and one signature line per signer.

    Raises ``MalformedNote`` unless ``text`` is non-empty, ends with a newline
    and holds no control characters but newlines, and there is at least one
    signer.
    """
    if not text.endswith("\n") or has_control(text) or not _encodable(text):
        raise MalformedNote("note text must be non-empty UTF-8, end with a newline and hold no control characters")
    if not signers:
        raise MalformedNote("a note needs at least one signer")
    return text + "\n" + "".join(signer.signature_line(text) for signer in signers)


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Check a signed note against trusted keys and return its text.

    Raises ``MalformedNote`` (syntax), ``BadKey`` (two different trusted keys
    share the name and key ID of a signature), ``InvalidSignature`` (a trusted
    key's first signature fails), ``NoValidSignature`` (no trusted key signed).
    Signatures by other keys are ignored; a trusted key's repeated signatures
    after its first are ignored, as in the reference implementation.
    """
    # 1-3. UTF-8 text, a blank line, well-formed signature lines, not too many.
    text, signatures = split_note(note)
    # 4. Signatures by trusted keys verify; the others are ignored.
    trusted: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for verifier in verifiers:
        same = trusted.setdefault((verifier.name, verifier.key_id), [])
        if verifier not in same:
            same.append(verifier)
    text_bytes = text.encode("utf-8")
    signed_by: list[NoteVerifier] = []
    seen: set[tuple[str, bytes]] = set()
    for name, key_id, signature in signatures:
        candidates = trusted.get((name, key_id), [])
        if not candidates or (name, key_id) in seen:
            continue
        if len(candidates) > 1:
            raise BadKey(f"ambiguous trusted keys for {name}+{key_id.hex()}")
        seen.add((name, key_id))
        if not candidates[0].verify(text_bytes, signature):
            raise InvalidSignature(f"signature by trusted key {name}+{key_id.hex()} does not verify")
        signed_by.append(candidates[0])
    # 5. At least one trusted key signed.
    if not signed_by:
        raise NoValidSignature("note carries no signature by a trusted key")
    return OpenedNote(text, tuple(signed_by))


def split_note(note: str | bytes) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a note into its text and its signature lines, as (key name, 4-byte key ID, signature), unchecked.

    Raises ``MalformedNote`` unless the note is UTF-8 without control characters other than newline, its text
    ends at the last blank line, and at most ``MAX_SIGNATURES`` well-formed signature lines follow.
    """
    # 1. The note is UTF-8 text without control characters other than newline.
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNote("note is not valid UTF-8") from exc
    if not _encodable(note) or has_control(note):
        raise MalformedNote("note must be UTF-8 without control characters other than newline")
    # 2. The text ends at the last blank line; signature lines follow, each ending in a newline.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line between text and signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("note must end with a newline after its signature lines")
    # 3. Every signature line is well formed; there are not too many.
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has {len(lines)} signature lines, more than {MAX_SIGNATURES}")
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote(f"signature line must start with an em dash and a space: {line[:40]!r}")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    signature = canonical_b64decode(encoded)
    if not space or not _valid_name(name) or signature is None or len(signature) < 5:
        raise MalformedNote(f"signature line must be '— <key name> <base64 signature>': {line[:40]!r}")
    return name, signature[:4], signature[4:]


def canonical_b64decode(value: str) -> bytes | None:
    """Decode canonical standard base64 (padded, no stray characters or bits); None if it is not."""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not value or base64.b64encode(decoded).decode("ascii") != value:
        return None
    return decoded


def valid_key_name(name: str) -> bool:
    """Whether ``name`` can name a note key: non-empty, without spaces, ``+`` or control characters."""
    return _valid_name(name)


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name) and not has_control(name)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """The 4-byte key ID of a note key: SHA-256(name || 0x0A || signature type byte || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def vkey_text(name: str, alg: int, public_key: bytes) -> str:
    """The verifier key string ``<name>+<hex key ID>+<base64(signature type byte || public key)>``."""
    key = base64.b64encode(bytes([alg]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, alg, public_key).hex()}+{key}"


def _key_id(name: str, public_key: bytes) -> bytes:
    return key_id(name, ALG_ED25519, public_key)


def _vkey(name: str, public_key: bytes) -> str:
    return vkey_text(name, ALG_ED25519, public_key)
