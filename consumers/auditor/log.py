"""What the auditor asks of the audit log, as a protocol: the gRPC client serves it, tests serve real proofs.

Every method raises ``HubUnreachable`` when the log cannot be asked and
``HubRefused`` when it answers with an error; nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Entry", "InclusionProof", "LogSource", "Revocation"]


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class Entry:
    index: int
    leaf: bytes


@dataclass(frozen=True)
class Revocation:
    revoked: bool
    reason: str = ""
    revoked_at: str = ""
    log_index: int = 0


class LogSource(Protocol):
    def checkpoint(self) -> str:
        """The newest signed checkpoint note (not yet verified)."""
        ...

    def witnessed_checkpoint(self) -> str:
        """The newest checkpoint note that carries the witnesses' cosignatures (not yet verified)."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        """Proof that leaf ``index`` is in the tree of ``tree_size``."""
        ...

    def consistency_proof(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        """Proof that the tree of ``old_size`` is a prefix of the tree of ``new_size``."""
        ...

    def entries(self, start: int, end: int) -> list[Entry]:
        """Leaves ``[start, end)``, possibly fewer than asked."""
        ...

    def revocation(self, printout_id: str) -> Revocation:
        """Whether the printout was revoked."""
        ...

    def revocation_list(self) -> str:
        """The hub's signed revocation list note (linkage/revlist.py; not yet verified)."""
        ...

    def locate(self, printout_id: str, subject_id: str) -> int | None:
        """Where the log says the printout's entry is (None: it holds none); a hint, proved by the caller."""
        ...
