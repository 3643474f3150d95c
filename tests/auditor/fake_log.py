"""A log made of real pieces for the auditor's tests: leaves in a list, real RFC 9162 proofs, real signed notes.

Not a stand-in for the hub's server: it is test data that answers the
``LogSource`` questions from a list of leaves, so tests can build honest,
forked, rolled-back and rewritten logs side by side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field

from consumers.auditor.errors import HubRefused
from consumers.auditor.log import Entry, InclusionProof, Revocation
from linkage import merkle
from linkage.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from linkage.revlist import revocation_list_text, sign_revocation_list

ORIGIN = "linkage.test/audit-log"


@dataclass
class FakeLog:
    leaves: list[bytes]
    signer: NoteSigner
    origin: str = ORIGIN
    size: int | None = None  # the size it claims as newest (None: all leaves)
    served: dict[int, bytes] = field(default_factory=dict)  # GetEntries answers that differ from the tree
    revoked: dict[str, Revocation] = field(default_factory=dict)
    refuse_locate: bool = False  # answer locate as the hub answers an agency that is not an auditor

    @property
    def tree_size(self) -> int:
        return len(self.leaves) if self.size is None else self.size

    def hashes(self) -> list[bytes]:
        return [merkle.leaf_hash(leaf) for leaf in self.leaves]

    def root(self, size: int) -> bytes:
        return merkle.root(self.hashes()[:size])

    def note(self, size: int | None = None, signer: NoteSigner | None = None, origin: str | None = None) -> str:
        size = self.tree_size if size is None else size
        return sign_checkpoint(Checkpoint(origin or self.origin, size, self.root(size)), signer or self.signer)

    def with_leaf(self, index: int, leaf: bytes) -> FakeLog:
        """A fork: the same log with one entry rewritten."""
        leaves = list(self.leaves)
        leaves[index] = leaf
        return dataclasses.replace(self, leaves=leaves, served={}, revoked={})

    # LogSource
    def checkpoint(self) -> str:
        return self.note()

    def witnessed_checkpoint(self) -> str:
        return self.checkpoint()

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        return InclusionProof(index, tree_size, tuple(merkle.inclusion_proof(self.hashes(), index, tree_size)))

    def consistency_proof(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        if not 0 < old_size <= new_size <= len(self.leaves):
            raise HubRefused("bad_sizes", f"cannot prove {old_size} -> {new_size} in a log of {len(self.leaves)}")
        return tuple(merkle.consistency_proof(self.hashes(), old_size, new_size))

    def entries(self, start: int, end: int) -> list[Entry]:
        return [Entry(i, self.served.get(i, self.leaves[i])) for i in range(start, min(end, self.tree_size))]

    def revocation(self, printout_id: str) -> Revocation:
        return self.revoked.get(printout_id, Revocation(False))

    def revocation_list(self) -> str:
        rows = [(r.log_index, {"printout_id": pid, "revoked_at": r.revoked_at, "reason": r.reason})
                for pid, r in self.revoked.items()]
        text = revocation_list_text(self.origin, dt.datetime.now(dt.UTC), self.tree_size, rows)
        return sign_revocation_list(text, [self.signer])

    def locate(self, printout_id: str, subject_id: str) -> int | None:
        if self.refuse_locate:
            raise HubRefused("not_an_auditor", "ListAccesses: only auditor agencies may list accesses")
        for i, leaf in enumerate(self.leaves[:self.tree_size]):
            entry = json.loads(leaf)
            if entry.get("kind") == "printout" and entry.get("printout_id") == printout_id:
                return i
        return None
