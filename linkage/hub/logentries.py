"""What the exchange log holds: one entry per printout issued (``LogEntry``) or revoked
(``RevocationEntry``), whose canonical JSON is the Merkle leaf, and an entry once committed (``Appended``,
under a ``SignedTree``). A printout's entry names who, what, when and why, and the digest
of the printout's signing input, but the subject only as a keyed hash: no personal data in clear."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from linkage.checkpoint import Checkpoint
from linkage.seal import canonical_json

__all__ = ["Appended", "LogEntry", "Record", "RevocationEntry", "SignedTree"]


class Record(Protocol):
    """Anything the log can hold: it knows its kind, its printout and its leaf."""

    @property
    def kind(self) -> str: ...

    @property
    def printout_id(self) -> str: ...

    @property
    def subject_hash(self) -> str: ...

    def leaf(self) -> bytes: ...


@dataclass(frozen=True)
class LogEntry:
    """What the log keeps of one printout. Its canonical JSON is the Merkle leaf."""

    printout_id: str
    doc_type: str
    provider: str
    agency: str
    officer_id: str
    purpose: str
    case_ref: str
    issued_at: str
    subject_hash: str
    printout_sha256: str  # seal.printout_digest: hex SHA-256 of the JWS signing input
    kind: str = "printout"
    # The officer's signed sign-in (linkage/officers.py: kid, statement, signature, caller_cert_sha256), when the
    # printout was made under an officer session; the leaf has no such key otherwise.
    officer_proof: Mapping[str, Any] | None = None
    # The citizen's card proof (linkage/hub/presence.py, Proven.log); only in the leaf when there is one.
    presence: Mapping[str, Any] | None = None
    # The citizen's consent this printout used (linkage/hub/consent.py, Used.record); only when there is one.
    consent: Mapping[str, Any] | None = None

    def leaf(self) -> bytes:
        # Not dataclasses.asdict: it deep-copies every value, a third of an append's cost.
        entry = {name: getattr(self, name) for name in _ENTRY_FIELDS}
        for optional in ("officer_proof", "presence", "consent"):
            if entry[optional] is None:
                del entry[optional]
        return canonical_json(entry)


@dataclass(frozen=True)
class RevocationEntry:
    printout_id: str
    agency: str
    officer_id: str
    reason: str
    revoked_at: str
    kind: str = "revocation"
    # The officer's signed sign-in, as a printout's entry keeps it, when the revocation was made under a session.
    officer_proof: Mapping[str, Any] | None = None

    @property
    def subject_hash(self) -> str:
        return ""

    def leaf(self) -> bytes:
        entry = {name: getattr(self, name) for name in _REVOCATION_FIELDS}
        if entry["officer_proof"] is None:
            del entry["officer_proof"]
        return canonical_json(entry)


_ENTRY_FIELDS = tuple(f.name for f in fields(LogEntry))
_REVOCATION_FIELDS = tuple(f.name for f in fields(RevocationEntry))


@dataclass(frozen=True)
class SignedTree:
    """A checkpoint and the signed note that carries it."""

    note: str
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Appended:
    """A committed entry: its index, its leaf, and its inclusion proof against ``tree``."""

    index: int
    leaf: bytes
    proof: list[bytes]
    tree: SignedTree
