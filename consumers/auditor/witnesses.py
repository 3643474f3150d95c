"""Check 8: the printout is in a checkpoint that a quorum of known witnesses cosigned (C2SP tlog-cosignature).

A hub could show one history to an auditor and another to a citizen; each alone looks consistent. A witness
cosigns a checkpoint only if it extends the last one it cosigned (``linkage.witness``), so two histories can
both carry a quorum only if two quorums share no witness. The default quorum is a majority of the known
witnesses (``linkage.cosignature.majority``: 2 of the sandbox's 2), which any two quorums share: then no
split view passes. A smaller quorum is allowed and the report says what it gives up.

    WitnessTrust      the witnesses' keys this auditor pins, and the quorum it asks
    check_witnesses   (8) the printout's checkpoint carries the quorum itself; or, online, the hub serves a
                      checkpoint that does (``LogSource.witnessed_checkpoint``, waited for up to ``WAIT_S``
                      while the witnesses catch up), at least as large, and a consistency proof from the
                      printout's checkpoint to it; offline without the quorum on paper, skipped
    check_witnessed   what ``audit watch`` asks of each checkpoint it accepts: the quorum (else Alarm)

Raises only ``HubUnreachable`` (from the ``LogSource``) and ``Alarm``; every other outcome is a Check.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from consumers.auditor.errors import Alarm, HubRefused
from consumers.auditor.log import LogSource
from consumers.auditor.report import Check, failed, passed, skipped
from linkage import merkle
from linkage.checkpoint import Checkpoint, CheckpointError, KeyWindow, NoteVerifier
from linkage.cosignature import NoQuorum, Witnessed, WitnessKey, majority, open_witnessed

__all__ = ["WAIT_S", "WitnessTrust", "check_witnessed", "check_witnesses"]

WAIT_S: Final = 5.0
"""How long check 8 waits, online, for the witnesses to cosign a checkpoint that holds a fresh printout."""
_POLL_S: Final = 0.2


@dataclass(frozen=True)
class WitnessTrust:
    """The witnesses this auditor knows, and how many of them must have cosigned (default: a majority)."""

    keys: tuple[WitnessKey, ...]
    quorum: int = 0

    @property
    def needed(self) -> int:
        return self.quorum or majority(len(self.keys))

    def describe(self) -> str:
        weak = "" if 2 * self.needed > len(self.keys) else (
            "; a quorum of half or fewer does not stop a split view (two sets of witnesses may each cosign "
            "another history)")
        return f"{self.needed} of {len(self.keys)} known witnesses{weak}"

    def open(self, note: str, log_keys: Sequence[NoteVerifier | KeyWindow], origin: str,
             now: dt.datetime | None) -> Witnessed:
        """``open_witnessed`` with this trust; raises CheckpointError."""
        return open_witnessed(note, log_keys, origin, self.keys, self.needed, now=now)


def _log_keys(key: NoteVerifier | Sequence[KeyWindow]) -> Sequence[NoteVerifier | KeyWindow]:
    return [key] if isinstance(key, NoteVerifier) else list(key)


def _by(found: Witnessed) -> str:
    return f"{len(found.cosignatures)} ({found.names()})"


def check_witnesses(note: str, checkpoint: Checkpoint | None, trust: WitnessTrust | None,
                    key: NoteVerifier | Sequence[KeyWindow], origin: str, log: LogSource | None, *,
                    now: dt.datetime | None = None, wait: float | None = None) -> Check:
    """(8) for the printout proved against ``checkpoint`` (its signed ``note``; None: check 5 did not pass); online,
    waits up to ``wait`` seconds (default ``WAIT_S``) for the witnesses to cosign a checkpoint that holds it."""
    if trust is None or not trust.keys:
        return skipped(8, "no witnesses given (--witness, or --home DIR of a running sandbox: its endpoints.json)")
    if checkpoint is None:
        return skipped(8, "the checkpoint is not trusted (see check 5)")
    keys = _log_keys(key)
    try:
        found = trust.open(note, keys, origin, now)
        return passed(8, f"size {checkpoint.size} cosigned by {_by(found)} of {trust.describe()}")
    except NoQuorum as exc:
        short = exc.message
    except CheckpointError as exc:
        return failed(8, f"{exc.message} ({exc.code})")
    if log is None:
        return skipped(8, f"offline: {short}; online, the hub is asked for a checkpoint its witnesses cosigned")
    return _online(checkpoint, trust, keys, origin, log, now, WAIT_S if wait is None else wait)


def _online(checkpoint: Checkpoint, trust: WitnessTrust, keys: Sequence[NoteVerifier | KeyWindow], origin: str,
            log: LogSource, now: dt.datetime | None, wait: float) -> Check:
    size = checkpoint.size
    deadline = time.monotonic() + wait
    while True:
        try:
            found = trust.open(log.witnessed_checkpoint(), keys, origin, now)
            if found.checkpoint.size >= size:
                break
            why = (f"the newest checkpoint the witnesses cosigned is of size {found.checkpoint.size}, smaller than "
                   f"size {size} that holds this printout: not cosigned yet")
        except HubRefused as exc:
            return failed(8, f"the hub will not serve its witnessed checkpoint: {exc.message}")
        except NoQuorum as exc:
            why = f"the hub's newest witnessed checkpoint: {exc.message}"
        except CheckpointError as exc:
            return failed(8, f"the hub's witnessed checkpoint: {exc.message} ({exc.code})")
        if time.monotonic() >= deadline:
            return failed(8, f"{why} (waited {wait:g}s; {trust.describe()} are asked for)")
        time.sleep(_POLL_S)
    cosigned = found.checkpoint
    if cosigned.size == size:
        if cosigned.root_hash != checkpoint.root_hash:
            return failed(8, f"fork: at size {size} the witnesses cosigned root {cosigned.root_hash.hex()}, the "
                             f"printout's checkpoint has root {checkpoint.root_hash.hex()}")
        return passed(8, f"size {size} cosigned by {_by(found)} of {trust.describe()} (checkpoint from the hub)")
    try:
        proof = log.consistency_proof(size, cosigned.size) if size else ()
        if size:
            merkle.verify_consistency(size, cosigned.size, proof, checkpoint.root_hash, cosigned.root_hash)
    except HubRefused as exc:
        return failed(8, f"the hub cannot prove size {size} -> {cosigned.size} consistent: {exc.message}")
    except merkle.MerkleError as exc:
        return failed(8, f"fork: the printout's checkpoint (size {size}, root {checkpoint.root_hash.hex()}) is not "
                         f"in the history the witnesses cosigned (size {cosigned.size}, root "
                         f"{cosigned.root_hash.hex()}): {exc.message}")
    return passed(8, f"size {size} is in size {cosigned.size}, cosigned by {_by(found)} of {trust.describe()}; "
                     f"proof {size} -> {cosigned.size} from the hub")


def check_witnessed(note: str, trust: WitnessTrust, key: NoteVerifier | Sequence[KeyWindow], origin: str,
                    now: dt.datetime | None = None) -> Witnessed:
    """The quorum ``audit watch`` asks of a checkpoint before it accepts it: Alarm ``unwitnessed`` without it (the
    witnesses may be down: the watch tries again), ``bad_checkpoint`` for a cosignature that does not verify."""
    try:
        return trust.open(note, _log_keys(key), origin, now)
    except NoQuorum as exc:
        raise Alarm("unwitnessed", f"the hub's witnessed checkpoint lacks the quorum: {exc.message}") from exc
    except CheckpointError as exc:
        raise Alarm("bad_checkpoint", f"the hub's witnessed checkpoint does not verify: {exc.message} "
                                      f"({exc.code})") from exc
