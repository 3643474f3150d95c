"""What the clients saw, per document asked for (received, refused or lost), every checkpoint they were
handed, and what the officers' browsers were shown at the counter."""

from __future__ import annotations

import collections
import dataclasses

from consumers.client import Printout, PrintoutRejected
from linkage.checkpoint import CheckpointError, NoteVerifier, open_checkpoint
from linkage.errors import LinkageError
from linkage.seal import printout_digest

__all__ = ["Counter", "Key", "Ledger", "Received"]

Key = tuple[str, str]  # (case_ref, doc_type): one document asked for once


@dataclasses.dataclass(frozen=True)
class Received:
    printout_id: str
    digest: str
    log_index: int
    provider: str
    jws: str


@dataclasses.dataclass
class Counter:
    """What the officers' browsers saw: cases opened (id -> case ref and the printout ids shown) and
    complaints filed (number -> details); ``lost`` counts requests that got no answer."""

    cases: dict[str, tuple[str, frozenset[str]]] = dataclasses.field(default_factory=dict)
    complaints: dict[int, str] = dataclasses.field(default_factory=dict)
    lost: int = 0


@dataclasses.dataclass
class Ledger:
    """What the clients saw, per document asked for: received, refused (the hub answered that it issued
    nothing) or lost (no answer: the connection broke or the deadline passed), and every checkpoint seen."""

    verifier: NoteVerifier
    origin: str
    received: dict[Key, Received] = dataclasses.field(default_factory=dict)
    refused: dict[Key, str] = dataclasses.field(default_factory=dict)
    lost: dict[Key, str] = dataclasses.field(default_factory=dict)
    rejected: list[str] = dataclasses.field(default_factory=list)
    errors: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    # Every checkpoint seen: tree size -> root; two roots for one size is a fork.
    checkpoints: dict[int, bytes] = dataclasses.field(default_factory=dict)
    forks: list[str] = dataclasses.field(default_factory=list)
    counter: Counter = dataclasses.field(default_factory=Counter)
    _notes: dict[str, int] = dataclasses.field(default_factory=dict)

    def got(self, key: Key, printout: Printout) -> None:
        self.received[key] = Received(printout.printout_id, printout_digest(printout.jws), printout.log_index,
                                      str(printout.payload.get("provider", "")), printout.jws)
        if printout.checkpoint:
            self.saw(printout.checkpoint)

    def failed(self, key: Key, err: LinkageError) -> None:
        self.errors[err.code] += 1
        if isinstance(err, PrintoutRejected):
            self.rejected.append(f"{key}: {err.message}")
            self.lost[key] = err.code
        elif err.code.startswith("transport_"):
            self.lost[key] = err.code  # the hub may have issued it before the answer was lost
        else:
            self.refused[key] = err.code

    def saw(self, note: str) -> None:
        """Remember a signed checkpoint (its signature is checked once per note text)."""
        if note in self._notes:
            return
        try:
            cp = open_checkpoint(note, [self.verifier], self.origin)
        except CheckpointError as exc:
            self.forks.append(f"a checkpoint the hub handed out does not verify: {exc}")
            return
        self._notes[note] = cp.size
        known = self.checkpoints.setdefault(cp.size, cp.root_hash)
        if known != cp.root_hash:
            self.forks.append(f"two checkpoints of size {cp.size} with different roots:"
                              f" {known.hex()[:16]}… and {cp.root_hash.hex()[:16]}…")
