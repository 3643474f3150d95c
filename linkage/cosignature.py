"""Witnesses' cosignatures on checkpoints: C2SP tlog-cosignature, the Ed25519 ``cosignature/v1`` type. Pure, no I/O.

A cosignature is one more signature line of a checkpoint's signed note (https://c2sp.org/tlog-cosignature)::

    — <witness name> <base64(4-byte key ID || 8-byte big-endian timestamp || 64-byte Ed25519 signature)>

    key ID         = SHA-256(name || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]
    verifier key   = <name>+<hex key ID>+<base64(0x04 || public key)>
    signed message = "cosignature/v1\\n" "time <timestamp, decimal>\\n" <the checkpoint's note text>

It says: at that time (POSIX seconds), of the log named by the checkpoint's origin, the largest tree the
witness had seen to be consistent had this size and root. A witness cosigns only a checkpoint consistent
with the last one it cosigned (``linkage.witness``), so one history is all a quorum of honest witnesses can
cosign: a hub that shows one history to some and another to others cannot gather a quorum for both
unless two quorums can be disjoint, which a majority quorum (``majority``) rules out.

``open_witnessed`` is a trust boundary: it opens the checkpoint with the log's keys
(``linkage.checkpoint.open_checkpoint``), then counts the distinct trusted witnesses whose cosignatures
verify, and returns a ``Witnessed`` checkpoint or raises one of the errors below and nothing else.
Cosignature lines of unknown keys are ignored (so are the log's own signature lines); a known witness's
cosignature that does not verify, or that is dated in the future, rejects the whole note.

Error tree (the ``linkage.checkpoint`` tree, two more leaves; ``code`` is stable)::

    CheckpointError              checkpoint_error (and all of linkage.checkpoint's: malformed_note,
    │                            malformed_checkpoint, bad_key, invalid_signature, no_valid_signature,
    │                            retired_key, unknown_origin: about the log's own signature)
    ├── InvalidCosignature       invalid_cosignature: a trusted witness's cosignature does not verify,
    │                            is not 72 bytes, or is dated after now (plus the allowed clock skew)
    └── NoQuorum                 no_quorum: fewer trusted witnesses cosigned than the quorum asks
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from linkage.checkpoint import (
    SIGNATURE_PREFIX,
    BadKey,
    Checkpoint,
    CheckpointError,
    KeyWindow,
    NoteVerifier,
    open_checkpoint,
)
from linkage.note import key_id, parse_ed25519_vkey, split_note, valid_key_name, vkey_text

__all__ = [
    "ALG_COSIGNATURE_V1",
    "CLOCK_SKEW",
    "COSIGNATURE_SIZE",
    "HEADER",
    "Cosignature",
    "Cosigner",
    "InvalidCosignature",
    "NoQuorum",
    "WitnessKey",
    "Witnessed",
    "cosigned_message",
    "majority",
    "open_witnessed",
    "parse_witness_key",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of Ed25519 ``cosignature/v1`` in key IDs and verifier keys."""
HEADER = "cosignature/v1"
"""The first line of every signed message: domain separation from the log's own note signatures."""
COSIGNATURE_SIZE = 8 + 64
"""A cosignature without its key ID: the timestamp and the Ed25519 signature."""
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far a cosignature's timestamp may lie after the verifier's ``now`` (clocks differ)."""

_MAX_TIMESTAMP = 2**63 - 1


class InvalidCosignature(CheckpointError):
    """A trusted witness's cosignature does not verify, has the wrong length, or is dated in the future."""

    code = "invalid_cosignature"


class NoQuorum(CheckpointError):
    """Fewer distinct trusted witnesses cosigned the checkpoint than the quorum asks; the message names them."""

    code = "no_quorum"


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The bytes a witness signs: ``cosignature/v1``, ``time <timestamp>``, then the checkpoint's note ``text``."""
    return f"{HEADER}\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True, slots=True)
class WitnessKey:
    """A trusted witness: its name, 4-byte key ID and Ed25519 public key (``cosignature/v1``)."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(hash=False, compare=False)
    raw: bytes = b""  # the 32 public key bytes: what equality and hashing compare

    def __post_init__(self) -> None:
        if not self.raw:
            object.__setattr__(self, "raw", _raw(self.public_key))

    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
        return vkey_text(self.name, ALG_COSIGNATURE_V1, self.raw)

    def label(self) -> str:
        """``<name>+<hex key ID>``: how messages name the witness."""
        return f"{self.name}+{self.key_id.hex()}"

    def verify(self, text: str, signature: bytes) -> int | None:
        """The timestamp of ``signature`` (without the key ID) if it is this witness's cosignature of note
        ``text``; None if it is not."""
        if len(signature) != COSIGNATURE_SIZE:
            return None
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            return None
        try:
            self.public_key.verify(signature[8:], cosigned_message(text, timestamp))
        except _CryptoInvalidSignature:
            return None
        return timestamp


def parse_witness_key(vkey: str) -> WitnessKey:
    """Parse ``<name>+<hex key ID>+<base64(0x04 || 32-byte Ed25519 public key)>``; raises ``BadKey``."""
    name, kid, public_key = parse_ed25519_vkey(vkey.strip(), ALG_COSIGNATURE_V1, "an Ed25519 cosignature/v1 key")
    return WitnessKey(name, kid, public_key)


@dataclass(frozen=True, slots=True, eq=False)
class Cosigner:
    """A witness's signing key: a name and an Ed25519 private key (kept out of ``repr``; equal only to itself).

    Construction raises ``BadKey`` for a name that is empty or holds spaces or ``+``.
    """

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise BadKey(f"witness name must be non-empty, without spaces or '+': {self.name!r}")

    def witness_key(self) -> WitnessKey:
        """The matching ``WitnessKey``: what clients and auditors pin."""
        public = self.private_key.public_key()
        return WitnessKey(self.name, key_id(self.name, ALG_COSIGNATURE_V1, _raw(public)), public)

    def vkey(self) -> str:
        return self.witness_key().vkey()

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line (with its newline) of note ``text`` at ``timestamp`` (POSIX seconds, > 0)."""
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise ValueError(f"a cosignature's timestamp is in 1 .. 2**63-1, got {timestamp}")
        signature = self.private_key.sign(cosigned_message(text, timestamp))
        blob = self.witness_key().key_id + timestamp.to_bytes(8, "big") + signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: which witness, and when it says it cosigned."""

    witness: WitnessKey
    timestamp: int

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC)


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A checkpoint signed by the log and cosigned by ``cosignatures`` (distinct trusted witnesses)."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]

    def names(self) -> str:
        return ", ".join(c.witness.name for c in self.cosignatures) or "none"


def majority(witnesses: int) -> int:
    """The smallest quorum of ``witnesses`` such that any two quorums share a witness: more than half."""
    return witnesses // 2 + 1


def open_witnessed(note: str | bytes, log_keys: Iterable[NoteVerifier | KeyWindow], origin: str,
                   witnesses: Sequence[WitnessKey], quorum: int, *, now: dt.datetime | None = None) -> Witnessed:
    """The checkpoint of log ``origin`` in ``note``, signed by one of ``log_keys`` and cosigned by at least
    ``quorum`` distinct ``witnesses``.

    Steps: (1) the log's signature, as ``open_checkpoint`` checks it; (2) every cosignature line whose name and
    key ID are a trusted witness's verifies, is dated no later than ``now`` (default: the clock) plus
    ``CLOCK_SKEW``, and counts once per witness; (3) at least ``quorum`` witnesses cosigned. Raises only
    ``CheckpointError`` subclasses: those of ``open_checkpoint``, ``InvalidCosignature``, ``NoQuorum``, and
    ``BadKey`` for a quorum below 1 or above the witnesses given.
    """
    trusted = {(w.name, w.key_id): w for w in witnesses}
    if len({w.raw for w in trusted.values()}) != len(trusted):
        raise BadKey("two trusted witnesses share one public key: cosignature/v1 does not sign the witness's name,"
                     " so one key could count twice")
    if not 1 <= quorum <= len(trusted):
        raise BadKey(f"a quorum of {quorum} cannot be met by {len(trusted)} distinct trusted witness(es)")
    # 1. The log signed it: nothing in it is read before that.
    checkpoint = open_checkpoint(note, log_keys, origin)
    text, lines = split_note(note)
    # 2. Each trusted witness's first cosignature verifies and is not dated in the future.
    latest = (now or dt.datetime.now(dt.UTC)) + CLOCK_SKEW
    found: dict[tuple[str, bytes], Cosignature] = {}
    for name, kid, signature in lines:
        witness = trusted.get((name, kid))
        if witness is None or (name, kid) in found:
            continue
        timestamp = witness.verify(text, signature)
        if timestamp is None:
            raise InvalidCosignature(f"the cosignature of witness {witness.label()} on size {checkpoint.size} "
                                     "does not verify")
        cosignature = Cosignature(witness, timestamp)
        if cosignature.time > latest:
            when = f"{cosignature.time:%Y-%m-%dT%H:%M:%SZ}"
            raise InvalidCosignature(f"witness {witness.label()} dates its cosignature {when}, in the future")
        found[name, kid] = cosignature
    # 3. Enough distinct witnesses.
    witnessed = Witnessed(checkpoint, tuple(found.values()))
    if len(found) < quorum:
        missing = ", ".join(w.name for k, w in trusted.items() if k not in found)
        raise NoQuorum(f"checkpoint of size {checkpoint.size} is cosigned by {len(found)} of the {len(trusted)} "
                       f"known witnesses ({witnessed.names()}), {quorum} needed; not cosigned by: {missing}")
    return witnessed
