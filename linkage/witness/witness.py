"""A witness: cosigns a log's checkpoint only when it extends the last one it cosigned (C2SP tlog-witness).

``Witness.add_checkpoint(body)`` is the whole protocol, without HTTP: it takes an add-checkpoint body
(``linkage.witness_protocol``) and returns the cosignature line, or raises a ``WitnessRefusal`` whose
``status`` is the HTTP status the spec names, in numbered steps:

    1  the body is an old size line, proof lines, a blank line and a note          else 400 malformed_request
    2  the note's origin is a log this witness knows                               else 404 unknown_log
    3  a key the witness trusts for that log signed it (in its window), and the    else 403 untrusted_checkpoint
       signed text is a checkpoint                                                 (400 when it is not one)
    4  the old size is not above the checkpoint's size                             else 400 malformed_request
    5  the old size is the size this witness last cosigned (0: never)              else 409 size_conflict
    6  a size-0 checkpoint has the empty tree's root; from size 0 no proof; at     else 422 bad_proof
       the same size the same root; else the RFC 9162 consistency proof leads
       from the root it cosigned to the checkpoint's
    7  the new state is written durably, then the cosignature returned             else 503 state_unwritable

Steps 5 to 7 run without yielding to another request (the witness's server calls this synchronously on its
one event loop), so two requests can never both pass step 5 against the same old size: the race the spec
warns of, in which a smaller tree's cosignature would roll the state back, cannot happen. So the witness
never cosigns two roots for one size, nor a tree smaller than one it cosigned.

Error tree (``code`` stable, ``status`` the HTTP status)::

    WitnessRefusal           witness_refusal
    ├── MalformedSubmission  400 malformed_request
    ├── UntrustedCheckpoint  403 untrusted_checkpoint
    ├── UnknownLog           404 unknown_log
    ├── SizeConflict         409 size_conflict (``size``: the size the witness last cosigned)
    ├── BadProof             422 bad_proof
    └── StateUnwritable      503 state_unwritable
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from linkage import merkle
from linkage.checkpoint import (
    Checkpoint,
    CheckpointError,
    KeyWindow,
    MalformedCheckpoint,
    NoteVerifier,
    open_checkpoint,
)
from linkage.cosignature import Cosigner, WitnessKey
from linkage.note import split_note
from linkage.witness.state import BadWitnessState, Cosigned, WitnessState
from linkage.witness_protocol import MalformedRequest, checkpoint_path, parse_request

__all__ = [
    "BadProof",
    "KnownLog",
    "MalformedSubmission",
    "SizeConflict",
    "StateUnwritable",
    "UnknownLog",
    "UntrustedCheckpoint",
    "Witness",
    "WitnessRefusal",
]

_log = logging.getLogger("linkage.witness")

LogKeys = Callable[[], Sequence[NoteVerifier | KeyWindow]]


class WitnessRefusal(Exception):
    """Base of the witness's refusals: ``status`` is the HTTP status, ``code`` stable, the message for people."""

    status = 500
    code = "witness_refusal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedSubmission(WitnessRefusal):
    status = 400
    code = "malformed_request"


class UntrustedCheckpoint(WitnessRefusal):
    status = 403
    code = "untrusted_checkpoint"


class UnknownLog(WitnessRefusal):
    status = 404
    code = "unknown_log"


class SizeConflict(WitnessRefusal):
    status = 409
    code = "size_conflict"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class BadProof(WitnessRefusal):
    status = 422
    code = "bad_proof"


class StateUnwritable(WitnessRefusal):
    status = 503
    code = "state_unwritable"


@dataclass(frozen=True)
class KnownLog:
    """A log the witness watches: its origin and the keys it trusts for it now (called at each request, so
    that a rotation of the log's keys is followed without a restart)."""

    origin: str
    keys: LogKeys


class Witness:
    """One witness key, its durable state, and the logs it knows. See the module docstring for the steps."""

    def __init__(self, cosigner: Cosigner, state: WitnessState, logs: Sequence[KnownLog],
                 clock: Callable[[], float] = time.time) -> None:
        self.cosigner = cosigner
        self.state = state
        self.logs: Mapping[str, KnownLog] = {log.origin: log for log in logs}
        self._clock = clock

    @property
    def key(self) -> WitnessKey:
        return self.cosigner.witness_key()

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line of the checkpoint in ``body``; raises a ``WitnessRefusal``."""
        # 1. An old size, proof lines, a blank line and a note.
        try:
            request = parse_request(body)
            text, _ = split_note(request.note)
        except (MalformedRequest, CheckpointError) as exc:
            raise MalformedSubmission(f"not an add-checkpoint request: {exc}") from exc
        # 2. A log this witness knows.
        origin = text.partition("\n")[0]
        known = self.logs.get(origin)
        if known is None:
            raise UnknownLog(f"this witness knows no log {origin[:200]!r}")
        # 3. Signed by a key it trusts for the log, in force when it signed.
        try:
            checkpoint = open_checkpoint(request.note, known.keys(), origin)
        except MalformedCheckpoint as exc:
            raise MalformedSubmission(f"the signed note is not a checkpoint: {exc}") from exc
        except CheckpointError as exc:
            raise UntrustedCheckpoint(f"the checkpoint is not signed by a key trusted for {origin}: {exc} "
                                      f"({exc.code})") from exc
        size, old = checkpoint.size, request.old_size
        # 4. The old size is not beyond the new one.
        if old > size:
            raise MalformedSubmission(f"old size {old} is larger than the checkpoint's size {size}")
        # 5. The old size is the size this witness cosigned last.
        last = self.state.get(origin)
        last_size = last.size if last else 0
        if old != last_size:
            raise SizeConflict(f"this witness last cosigned size {last_size} of {origin}, not {old}", last_size)
        # 6. The checkpoint extends the tree it cosigned last.
        self._check_consistency(checkpoint, old, request.proof, last)
        # 7. Remember it durably, then cosign.
        timestamp = int(self._clock())
        line = self.cosigner.cosign(checkpoint.text(), timestamp)
        try:
            self.state.record(origin, Cosigned(size, checkpoint.root_hash, request.note + line))
        except BadWitnessState as exc:
            _log.error("witness state not written, nothing cosigned: %s", exc)
            raise StateUnwritable("the witness cannot record its state now; nothing was cosigned") from exc
        return line

    @staticmethod
    def _check_consistency(checkpoint: Checkpoint, old: int, proof: Sequence[bytes], last: Cosigned | None) -> None:
        size, root = checkpoint.size, checkpoint.root_hash
        if size == 0 and root != merkle.EMPTY_ROOT:
            raise BadProof(f"a checkpoint of size 0 must have the empty tree's root, not {root.hex()}")
        if old == 0:
            if proof:
                raise BadProof(f"no proof is needed from size 0, and {len(proof)} hash(es) were sent")
            return
        assert last is not None and last.size == old
        if old == size and root != last.root_hash:
            raise BadProof(f"at size {size} this witness cosigned root {last.root_hash.hex()}, not {root.hex()}: "
                           "a fork")
        try:
            merkle.verify_consistency(old, size, proof, last.root_hash, root)
        except merkle.MerkleError as exc:
            raise BadProof(f"size {old} (root {last.root_hash.hex()}) and size {size} (root {root.hex()}) are not "
                           f"proved one history: {exc.message} ({exc.code})") from exc

    def latest(self, path_hash: str) -> str | None:
        """The note this witness last cosigned of the log whose ``checkpoint_path`` is ``/<path_hash>/checkpoint``."""
        for origin in self.state.origins():
            if checkpoint_path(origin) == f"/{path_hash}/checkpoint":
                cosigned = self.state.get(origin)
                return cosigned.note if cosigned else None
        return None
