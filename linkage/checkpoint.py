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

The signed note itself and its keys are ``linkage.note``; its names are re-exported here, so one
import serves whoever handles checkpoints.

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
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from linkage.note import (
    ALG_ED25519,
    MAX_SIGNATURES,
    SIGNATURE_PREFIX,
    BadKey,
    CheckpointError,
    InvalidSignature,
    MalformedNote,
    NoteSigner,
    NoteVerifier,
    NoValidSignature,
    OpenedNote,
    canonical_b64decode,
    has_control,
    open_note,
    parse_verifier_key,
    sign_note,
)

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

SIGNED_AT = "signed-at "
"""Prefix of the extension line that says when the log signed a checkpoint (RFC 3339 UTC with "Z")."""

_HASH_SIZE = 32
_MAX_TREE_SIZE = 2**64 - 1
_SIZE_LINE = re.compile(r"0|[1-9][0-9]*")
_SIGNED_AT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


class MalformedCheckpoint(CheckpointError):
    """The note text is not a checkpoint, or a ``Checkpoint`` was built from values it cannot carry."""

    code = "malformed_checkpoint"


class RetiredKey(CheckpointError):
    """Every trusted key that signed was out of its ``KeyWindow`` when it signed; the message names the keys."""

    code = "retired_key"


class UnknownOrigin(CheckpointError):
    """The checkpoint is well signed but names another log than the one expected."""

    code = "unknown_origin"


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
            if not isinstance(line, str) or not line or "\n" in line or has_control(line):
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
        root_hash = canonical_b64decode(root_line)
        if root_hash is None or len(root_hash) != _HASH_SIZE:
            raise MalformedCheckpoint(f"root hash must be base64 of {_HASH_SIZE} bytes, got {root_line!r}")
        return cls(origin, int(size_line), root_hash, tuple(extensions))


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
