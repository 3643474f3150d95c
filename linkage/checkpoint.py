"""Signed checkpoints of the audit log: C2SP tlog-checkpoint in a C2SP signed note, Ed25519 keys. Pure, no I/O.

A checkpoint note (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note)::

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 root hash, 32 bytes>\\n
    [<extension line>\\n ...]          the hub adds ``signed-at <RFC 3339 UTC>``: when it signed
    \\n
    — <key name> <base64(4-byte key ID || Ed25519 signature over the text above)>\\n
    [more signature lines]

    key ID       = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    verifier key = <key name>+<hex key ID>+<base64(0x01 || public key)>

``open_checkpoint`` is a trust boundary: given the note, the trusted verifier
keys and the expected origin, it returns a ``Checkpoint`` or raises one of the
errors below and nothing else (habit 4). Signatures by unknown keys are
ignored; a signature by a trusted key that fails rejects the whole note.

A trusted key may come with the window it signs in (``KeyWindow``: from
``not_before`` until ``retired_at``, as ``linkage keys rotate`` publishes them in
DIR/pki/log-keys.json). Then at least one key that signed must have been in its
window at the checkpoint's ``signed-at`` time: a retired key that signs a new
checkpoint is refused, while what it signed before its retirement still opens.

Error tree (``code`` is the stable snake_case code, ``str(error)`` the message)::

    CheckpointError          checkpoint_error
    ├── MalformedNote        malformed_note: not a signed note (UTF-8, control characters,
    │                        blank line, trailing newline, signature line syntax, too many)
    ├── MalformedCheckpoint  malformed_checkpoint: a signed text that is not a checkpoint
    │                        (lines, size, root hash), or a ``Checkpoint`` built from bad values
    ├── BadKey               bad_key: a verifier key or signer name that cannot be used,
    │                        or two different trusted keys with the same name and key ID
    ├── InvalidSignature     invalid_signature: a trusted key's signature does not verify
    ├── NoValidSignature     no_valid_signature: no signature by a trusted key
    ├── RetiredKey           retired_key: every trusted key that signed was out of its window
    │                        when it signed (retired, or not yet in force), or no time says when
    └── UnknownOrigin        unknown_origin: a good checkpoint, but of another log
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "SIGNATURE_PREFIX",
    "SIGNED_AT",
    "BadKey",
    "Checkpoint",
    "CheckpointError",
    "CheckpointSigner",
    "InvalidSignature",
    "KeyWindow",
    "MalformedCheckpoint",
    "MalformedNote",
    "NoValidSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "RetiredKey",
    "UnknownOrigin",
    "open_checkpoint",
    "open_note",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "signed_at",
]

ALG_ED25519 = 0x01
"""Signature type byte of Ed25519 in key IDs and verifier keys (C2SP signed-note)."""
SIGNATURE_PREFIX = "\u2014 "
"""Every signature line starts with an em dash (U+2014) and a space."""
MAX_SIGNATURES = 100
"""More signature lines than this make a note malformed (the spec asks verifiers to accept at least 16)."""
SIGNED_AT = "signed-at "
"""Prefix of the extension line that says when the log signed a checkpoint (RFC 3339 UTC with "Z")."""

_HASH_SIZE = 32
_ED25519_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_MAX_TREE_SIZE = 2**64 - 1
_SIZE_LINE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_SIGNED_AT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


# ---------------------------------------------------------------------------
# Errors


class CheckpointError(Exception):
    """Base of every error this module raises; ``code`` is stable, the message is for people."""

    code: str = "checkpoint_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class MalformedNote(CheckpointError):
    """The input is not a well-formed signed note."""

    code = "malformed_note"


class MalformedCheckpoint(CheckpointError):
    """The note text is not a checkpoint, or a ``Checkpoint`` was built from values it cannot carry."""

    code = "malformed_checkpoint"


class BadKey(CheckpointError):
    """A verifier key string, signer name or set of trusted keys is unusable."""

    code = "bad_key"


class InvalidSignature(CheckpointError):
    """A signature by a trusted key does not verify; the whole note is rejected."""

    code = "invalid_signature"


class NoValidSignature(CheckpointError):
    """No signature line was made by a trusted key."""

    code = "no_valid_signature"


class RetiredKey(CheckpointError):
    """Every trusted key that signed was out of its ``KeyWindow`` when it signed; the message names the keys."""

    code = "retired_key"


class UnknownOrigin(CheckpointError):
    """The checkpoint is well signed but names another log than the one expected."""

    code = "unknown_origin"


# ---------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 6962 root hash, plus opaque extension lines.

    Construction raises ``MalformedCheckpoint`` unless the values fit the
    format: a non-empty origin and extension lines without newlines or other
    control characters, a size in 0 .. 2**64-1, a 32-byte root hash.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for what, line in [("origin", self.origin), *(("extension line", e) for e in self.extensions)]:
            if not isinstance(line, str) or not line or "\n" in line or _has_control(line):
                raise MalformedCheckpoint(f"{what} must be a non-empty line without control characters: {line!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree size must be an integer in 0 .. 2**64-1, got {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _HASH_SIZE:
            raise MalformedCheckpoint(f"root hash must be {_HASH_SIZE} bytes")

    def text(self) -> str:
        """Return the note text this checkpoint is signed as (ends with a newline)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a note text as a checkpoint, strictly.

        Raises ``MalformedCheckpoint`` unless the text is at least three
        non-empty newline-terminated lines: origin, size in decimal without
        leading zeros, canonical base64 of a 32-byte root hash, then optional
        non-empty extension lines.
        """
        if not text.endswith("\n"):
            raise MalformedCheckpoint("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint(f"checkpoint needs origin, size and root hash lines, got {len(lines)} lines")
        if any(not line for line in lines):
            raise MalformedCheckpoint("checkpoint lines must not be empty")
        origin, size_line, root_line, *extensions = lines
        if not _SIZE_LINE.fullmatch(size_line) or int(size_line) > _MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree size must be decimal without leading zeros, got {size_line!r}")
        root_hash = _b64decode(root_line)
        if root_hash is None or len(root_hash) != _HASH_SIZE:
            raise MalformedCheckpoint(f"root hash must be base64 of {_HASH_SIZE} bytes, got {root_line!r}")
        return cls(origin, int(size_line), root_hash, tuple(extensions))


# ---------------------------------------------------------------------------
# Keys


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

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise BadKey(f"key name must be non-empty, without spaces or '+': {self.name!r}")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID, SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
        return _key_id(self.name, _raw_public(self.private_key.public_key()))

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
    name, plus, rest = vkey.partition("+")
    id_hex, plus2, key_b64 = rest.partition("+")  # base64 may itself contain '+': split twice only
    if not plus or not plus2 or not _valid_name(name) or not _KEY_ID_HEX.fullmatch(id_hex):
        raise BadKey(f"verifier key must be <name>+<8 hex digits>+<base64 key>: {vkey!r}")
    key = _b64decode(key_b64)
    if key is None or len(key) != 1 + _ED25519_KEY_SIZE or key[0] != ALG_ED25519:
        raise BadKey(f"verifier key of {name!r} is not an Ed25519 note key")
    key_id = bytes.fromhex(id_hex)
    if _key_id(name, key[1:]) != key_id:
        raise BadKey(f"verifier key of {name!r}: key ID {id_hex} does not match the key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key[1:])
    except ValueError as exc:
        raise BadKey(f"verifier key of {name!r} holds an invalid Ed25519 key") from exc
    return NoteVerifier(name, key_id, public_key)


@dataclass(frozen=True, slots=True)
class KeyWindow:
    """A trusted note key and the time it may sign in: from ``not_before`` until ``retired_at`` (None: open).

    Construction raises ``BadKey`` for naive times or a window that ends before it begins.
    """

    verifier: NoteVerifier
    not_before: dt.datetime | None = None
    retired_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        for when in (self.not_before, self.retired_at):
            if when is not None and when.tzinfo is None:
                raise BadKey(f"the window of {self.label()} needs timezone-aware times")
        if self.not_before and self.retired_at and self.retired_at < self.not_before:
            raise BadKey(f"the window of {self.label()} ends ({self.retired_at}) before it begins ({self.not_before})")

    def label(self) -> str:
        """``<name>+<hex key ID>``: how messages name the key."""
        return f"{self.verifier.name}+{self.verifier.key_id.hex()}"

    def in_force(self, when: dt.datetime | None) -> bool:
        """Whether the key may sign at ``when``; an unknown time (None) only fits a key that was never retired."""
        if when is None:
            return self.retired_at is None
        return (self.not_before is None or self.not_before <= when) and (
            self.retired_at is None or when < self.retired_at)


class CheckpointSigner(Protocol):
    """What signs a log's checkpoints when it is more than one ``NoteSigner`` (``linkage.hub.keys.LogSigner``)."""

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        """Return the signed note of ``checkpoint`` (the signer may add extension lines such as ``signed-at``)."""
        ...


def signed_at(checkpoint: Checkpoint) -> dt.datetime | None:
    """When the checkpoint says it was signed (its ``signed-at`` line); None without one.

    Raises ``MalformedCheckpoint`` for a line that is not RFC 3339 UTC with "Z", or more than one.
    """
    lines = [e for e in checkpoint.extensions if e.startswith(SIGNED_AT)]
    if not lines:
        return None
    text = lines[0][len(SIGNED_AT):]
    if len(lines) > 1 or not _SIGNED_AT_TIME.fullmatch(text):
        raise MalformedCheckpoint(f"one signed-at line with an RFC 3339 UTC time (…Z) is allowed: {lines[:2]!r}")
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedCheckpoint(f"signed-at {text!r} is not a time") from exc


# ---------------------------------------------------------------------------
# Notes


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
    if not text.endswith("\n") or _has_control(text) or not _encodable(text):
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
    # 1. The note is UTF-8 text without control characters other than newline.
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNote("note is not valid UTF-8") from exc
    if not _encodable(note) or _has_control(note):
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
    signatures = [_parse_signature_line(line) for line in lines]
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


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner | CheckpointSigner) -> str:
    """Return the signed note text of ``checkpoint``, signed by ``signer`` (one key, or a key set's signer)."""
    if isinstance(signer, NoteSigner):
        return sign_note(checkpoint.text(), [signer])
    return signer.sign_checkpoint(checkpoint)


def open_checkpoint(note: str | bytes, verifiers: Iterable[NoteVerifier | KeyWindow], origin: str) -> Checkpoint:
    """Return the checkpoint of log ``origin`` in ``note`` if a trusted key signed it, in its window.

    Steps: (1-5) ``open_note``: note syntax, signature lines, trusted
    signatures; (6) the signed text parses strictly as a checkpoint; (7) its
    origin is ``origin``; (8) a key that signed was in its window at the
    checkpoint's ``signed-at`` time (a bare ``NoteVerifier`` has no window).
    Raises only ``CheckpointError`` subclasses: ``MalformedNote``, ``BadKey``,
    ``InvalidSignature``, ``NoValidSignature``, ``MalformedCheckpoint``,
    ``UnknownOrigin``, ``RetiredKey``.
    """
    windows = [v if isinstance(v, KeyWindow) else KeyWindow(v) for v in verifiers]
    # 1-5. The note is well formed and signed by a trusted key; nothing in it is read before that.
    opened = open_note(note, [w.verifier for w in windows])
    # 6. The signed text is a checkpoint.
    checkpoint = Checkpoint.from_text(opened.text)
    # 7. It is a checkpoint of the log we asked about.
    if checkpoint.origin != origin:
        raise UnknownOrigin(f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}")
    # 8. One key that signed was in force when it signed: a retired key's new signature counts for nothing.
    signers = [w for w in windows if w.verifier in opened.signed_by]
    if all(w.not_before is None and w.retired_at is None for w in signers):
        return checkpoint
    when = signed_at(checkpoint)
    if not any(w.in_force(when) for w in signers):
        raise RetiredKey(_out_of_window(signers, when))
    return checkpoint


def _out_of_window(signers: Sequence[KeyWindow], when: dt.datetime | None) -> str:
    said = "carries no signed-at time" if when is None else f"was signed at {when:%Y-%m-%dT%H:%M:%SZ}"
    why = []
    for w in signers:
        if when is not None and w.not_before is not None and when < w.not_before:
            why.append(f"{w.label()} is in force only from {w.not_before:%Y-%m-%dT%H:%M:%SZ}")
        else:
            assert w.retired_at is not None
            why.append(f"{w.label()} was retired at {w.retired_at:%Y-%m-%dT%H:%M:%SZ}")
    return (f"checkpoint {said}, but no key that signed it was in force then: {'; '.join(why)}"
            " (a retired key's signature on a new checkpoint is refused)")


# ---------------------------------------------------------------------------
# Helpers


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote(f"signature line must start with an em dash and a space: {line[:40]!r}")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    signature = _b64decode(encoded)
    if not space or not _valid_name(name) or signature is None or len(signature) < 5:
        raise MalformedNote(f"signature line must be '— <key name> <base64 signature>': {line[:40]!r}")
    return name, signature[:4], signature[4:]


def _b64decode(value: str) -> bytes | None:
    """Decode canonical standard base64 (padded, no stray characters or bits); None if it is not."""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not value or base64.b64encode(decoded).decode("ascii") != value:
        return None
    return decoded


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name) and not _has_control(name)


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 and ch != "\n" for ch in text)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _vkey(name: str, public_key: bytes) -> str:
    key = base64.b64encode(bytes([ALG_ED25519]) + public_key).decode("ascii")
    return f"{name}+{_key_id(name, public_key).hex()}+{key}"
