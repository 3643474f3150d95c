"""Checks 4-8, about the audit log: shared by every form of printout (bundle, JWS, PDF attachment, QR line).

    fetch_proof       online, for a printout that carries no log proof: where the hub says its entry is
                      (``LogSource.locate``), the entry, the newest checkpoint and an inclusion proof against
                      it, as a ``LogProof`` to be checked like a bundle's; or the check 4 that says why not
    check_checkpoint  (5) the checkpoint is signed by the pinned log key for the pinned origin (with a pinned
                      key set: by a key in force at the checkpoint's signed-at time)
    check_inclusion   (4) the leaf is the printout's (the caller lists what is wrong with it) and the audit
                      path leads from it to the checkpoint's root
    check_consistency (6) the checkpoint and the newest one this auditor saw before are one history
    check_revocation  (7) the hub has not revoked the printout
                      (8) known witnesses cosigned a checkpoint that holds it (consumers/auditor/witnesses.py)
    check_log         4-8 together, from a proof (carried or fetched) or the check 4 saying why there is none
    conclude          whether a report of checks 1-8 is valid, and what a valid one teaches the auditor's state

Nothing here trusts what the hub says: a fetched entry and proof are
checked exactly as a bundle's are, against the pinned key. Raises only
``HubUnreachable`` (from the ``LogSource``); every other outcome is a Check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from consumers.auditor.bundle import LogProof
from consumers.auditor.errors import HubRefused
from consumers.auditor.log import LogSource
from consumers.auditor.report import Check, failed, passed, skipped
from consumers.auditor.revocations import RevocationStatus
from consumers.auditor.state import AuditorState
from consumers.auditor.witnesses import WitnessTrust, check_witnesses
from linkage import merkle
from linkage.checkpoint import Checkpoint, CheckpointError, KeyWindow, NoteVerifier, open_checkpoint

__all__ = [
    "LogChecks",
    "LogTrust",
    "check_checkpoint",
    "check_consistency",
    "check_inclusion",
    "check_log",
    "check_revocation",
    "conclude",
    "fetch_proof",
    "leaf_problems",
]

LogTrust = NoteVerifier | Sequence[KeyWindow]
"""The pinned log key, or a pinned key set whose keys have windows (``linkage.keyset``)."""

# Leaf fields that must equal the printout's; the required ones must be present.
_LEAF_REQUIRED: Final = ("printout_id", "doc_type", "agency")
_LEAF_OPTIONAL: Final = ("provider", "officer_id", "purpose", "case_ref", "issued_at")


def _short(h: bytes) -> str:
    return h.hex()[:16] + "…"


def _unsigned_checkpoint(note: str) -> Checkpoint | None:
    """The checkpoint a note claims, without checking its signature (check 5 does)."""
    text, sep, _ = note.partition("\n\n")
    try:
        return Checkpoint.from_text(text + "\n") if sep else None
    except CheckpointError:
        return None


def fetch_proof(log: LogSource, printout_id: str, subject_id: str) -> tuple[LogProof | None, Check | None]:
    """The log proof of ``printout_id`` as the hub serves it, or (None, check 4 failed or skipped) saying why."""
    try:
        index = log.locate(printout_id, subject_id)
    except HubRefused as exc:
        return None, skipped(4, f"the hub will not say where printout {printout_id} is in its log: {exc.message} "
                                "(an auditor agency may ask: --agency auditor)")
    if index is None:
        return None, failed(4, f"the log holds no entry for printout {printout_id}: the hub never logged it")
    try:
        entries = log.entries(index, index + 1)
        note = log.checkpoint()
    except HubRefused as exc:
        return None, failed(4, f"the hub says printout {printout_id} is entry {index} but will not serve it: "
                               f"{exc.message}")
    if len(entries) != 1 or entries[0].index != index:
        return None, failed(4, f"the hub says printout {printout_id} is entry {index} but did not return it")
    claimed = _unsigned_checkpoint(note)
    if claimed is None:
        # No size to ask a proof for: check 5 reports the note, check 4 that there is nothing to prove against.
        return LogProof(entries[0].leaf, index, 0, (), note), None
    try:
        proof = log.inclusion_proof(index, claimed.size)
    except HubRefused as exc:
        return None, failed(4, f"the hub cannot prove entry {index} in its tree of size {claimed.size}: "
                               f"{exc.message}")
    if (proof.leaf_index, proof.tree_size) != (index, claimed.size):
        return None, failed(4, f"asked to prove entry {index} in size {claimed.size}, the hub proved leaf "
                               f"{proof.leaf_index} in size {proof.tree_size}")
    return LogProof(entries[0].leaf, index, claimed.size, proof.hashes, note), None


def check_checkpoint(proof: LogProof, key: LogTrust, origin: str) -> tuple[Check, Checkpoint | None]:
    trusted = [key] if isinstance(key, NoteVerifier) else list(key)
    try:
        checkpoint = open_checkpoint(proof.checkpoint, trusted, origin)
    except CheckpointError as exc:
        return failed(5, f"{exc} ({exc.code})"), None
    by = key.name if isinstance(key, NoteVerifier) else f"a key of the pinned set ({len(trusted)}) in force then"
    return passed(5, f"signed by {by} for {origin}: size {checkpoint.size}, "
                     f"root {_short(checkpoint.root_hash)}"), checkpoint


def leaf_problems(leaf: bytes, expected: Mapping[str, Any], digest: str, *, prefix: bool = False) -> list[str]:
    """What is wrong with ``leaf`` as the entry of the printout whose fields are ``expected`` and whose
    ``printout_digest`` is ``digest`` (hex; with ``prefix``, only its first characters are known)."""
    try:
        entry = json.loads(leaf.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested past the stack
        return ["the log leaf is not UTF-8 JSON"]
    if not isinstance(entry, dict):
        return ["the log leaf is not a JSON object"]
    problems: list[str] = []
    if entry.get("kind") != "printout":
        problems.append(f"the log leaf is a {entry.get('kind')!r} entry, not a printout's")
    logged = entry.get("printout_sha256")
    if not isinstance(logged, str) or not (logged.startswith(digest) if prefix else logged == digest):
        what = "begin with this summary's digest" if prefix else "the SHA-256 of this JWS's signing input"
        problems.append(f"the log leaf's printout_sha256 {str(logged)[:16]}… is not {what} {digest[:16]}…")
    for name in (*_LEAF_REQUIRED, *_LEAF_OPTIONAL):
        if name not in expected or (name not in entry and name in _LEAF_OPTIONAL):
            continue
        if entry.get(name) != expected.get(name):
            problems.append(f"the log leaf's {name} {entry.get(name)!r} is not the printout's {expected.get(name)!r}")
    return problems


def check_inclusion(proof: LogProof, log_index: int | None, problems: list[str], checkpoint: Checkpoint | None,
                    *, fetched: bool = False) -> Check:
    """(4) ``problems`` (from ``leaf_problems``) plus whether the audit path leads to the checkpoint's root."""
    problems = list(problems)
    if log_index is not None and log_index != proof.leaf_index:
        problems.append(f"the bundle says log index {log_index}, the proof is for leaf {proof.leaf_index}")
    # Against the signed root if check 5 passed; else against the note's unsigned root, so both get reported.
    against = checkpoint or _unsigned_checkpoint(proof.checkpoint)
    unsigned = "" if checkpoint else " (unsigned, see check 5)"
    if against is None:
        problems.append("no checkpoint to prove against (see check 5)")
    elif proof.tree_size != against.size:
        problems.append(f"the proof is for tree size {proof.tree_size}, the checkpoint{unsigned} "
                        f"is of size {against.size}")
    else:
        try:
            merkle.verify_inclusion(merkle.leaf_hash(proof.leaf), proof.leaf_index, proof.tree_size,
                                    proof.hashes, against.root_hash)
        except merkle.RootMismatch as exc:
            problems.append(f"the audit path leads to root {_short(exc.calculated)}, not the checkpoint's"
                            f"{unsigned} {_short(exc.expected)}")
        except merkle.MerkleError as exc:
            problems.append(f"the audit path is malformed: {exc.message} ({exc.code})")
    if problems:
        return failed(4, "; ".join(problems))
    return passed(4, f"leaf {proof.leaf_index} of {proof.tree_size} is this printout's entry and chains to the "
                     f"checkpoint's root" + ("; entry and proof fetched from the hub" if fetched else ""))


def check_consistency(checkpoint: Checkpoint | None, state: AuditorState | None, log: LogSource | None) -> Check:
    if checkpoint is None:
        return skipped(6, "the checkpoint is not trusted (see check 5)")
    if state is None:
        return skipped(6, "no auditor state given")
    origin, size, root = checkpoint.origin, checkpoint.size, checkpoint.root_hash
    newest = state.newest(origin)
    if newest is None:
        return skipped(6, f"the first checkpoint this auditor sees of {origin} (size {size}): nothing to compare")
    known = state.root_at(origin, size)
    if known is not None:
        if known != root:
            return failed(6, f"fork: at size {size} the checkpoint's root is {root.hex()}, "
                             f"this auditor saw {known.hex()} before")
        return passed(6, f"size {size}: the same root this auditor saw before")
    (old_size, old_root), (new_size, new_root) = sorted([(size, root), (newest.size, newest.root_hash)])
    if log is None:
        return skipped(6, f"offline: the checkpoint (size {size}) and the newest seen before (size {newest.size}) "
                          f"differ in size, and proving them one history needs the hub")
    if old_size == 0:
        return passed(6, f"the newest checkpoint seen before was of the empty tree; now size {size}")
    try:
        hashes = log.consistency_proof(old_size, new_size)
        merkle.verify_consistency(old_size, new_size, hashes, old_root, new_root)
    except HubRefused as exc:
        return failed(6, f"the hub cannot prove size {old_size} -> {new_size} consistent: {exc.message}")
    except merkle.MerkleError as exc:
        return failed(6, f"fork or rewritten log: size {old_size} (root {old_root.hex()}) and size "
                         f"{new_size} (root {new_root.hex()}) are not one history: {exc.message}")
    return passed(6, f"consistent with the newest checkpoint seen before (size {newest.size}); "
                     f"proof {old_size} -> {new_size} from the hub")


def check_revocation(printout_id: object, log: LogSource | None,
                     revocations: RevocationStatus | None = None) -> Check:
    """Check 7: online, the hub's answer; offline, the hub's signed list this auditor keeps, if any."""
    if log is None and revocations is None:
        return skipped(7, "offline, and no revocation list kept: verify once online to fetch the hub's (it is kept "
                          "beside the state file)")
    if not isinstance(printout_id, str):
        return skipped(7, "no printout_id to ask about (see check 2)")
    if log is None:
        assert revocations is not None
        return revocations.check(printout_id)
    try:
        revocation = log.revocation(printout_id)
    except HubRefused as exc:
        return failed(7, f"the hub has no revocation status for it: {exc.message}")
    if revocation.revoked:
        return failed(7, f"ถูกเพิกถอน / REVOKED at {revocation.revoked_at}: {revocation.reason} "
                         f"(log index {revocation.log_index})")
    return passed(7, "the hub says it is not revoked")


@dataclass(frozen=True)
class LogChecks:
    """Checks 4-8 of one printout; ``proved``: a log proof was checked, so 4 and 5 must pass."""

    checks: tuple[Check, Check, Check, Check, Check]
    proved: bool
    checkpoint: Checkpoint | None
    note: str


def check_log(proof: LogProof | None, no_proof: Check | None, expected: Mapping[str, Any], digest: str, *,
              key: LogTrust | None, origin: str | None, state: AuditorState | None, log: LogSource | None,
              prefix: bool = False, log_index: int | None = None, fetched: bool = False,
              issued_here: bool = True, witnesses: WitnessTrust | None = None,
              now: dt.datetime | None = None, revocations: RevocationStatus | None = None) -> LogChecks:
    """Checks 4-8 for the printout whose fields are ``expected`` and whose digest is ``digest`` (see
    ``leaf_problems``): from ``proof``, or, without one, ``no_proof`` (check 4 saying why) and 5, 6, 8 skipped.
    ``issued_here``: its seal chains to the trusted CA (check 1), so the hub asked may be the one that issued it.
    ``witnesses`` are those whose quorum check 8 asks for (None: it is skipped); ``now`` judges their times."""
    if proof is None:
        assert no_proof is not None
        after = "no log proof (see check 4)"
        revoked = _revocation_if_ours(no_proof, issued_here, expected.get("printout_id"), log, revocations)
        return LogChecks((no_proof, skipped(5, after), skipped(6, after), revoked, skipped(8, after)), False, None,
                         "")
    assert key is not None and origin is not None
    # (5) first: check 4 needs the checkpoint's root, and says whether it was signed.
    check5, checkpoint = check_checkpoint(proof, key, origin)
    # (4) The leaf is this printout's entry and the audit path leads from it to the checkpoint's root.
    problems = leaf_problems(proof.leaf, expected, digest, prefix=prefix)
    check4 = check_inclusion(proof, log_index, problems, checkpoint, fetched=fetched)
    # (6) The checkpoint and the newest one seen before are one history.
    check6 = check_consistency(checkpoint, state, log)
    # (7) Asked of the hub only when the printout is in its log: another log's hub says "not revoked" of anything.
    revoked = _revocation_if_ours(check4, issued_here, expected.get("printout_id"), log, revocations)
    # (8) A quorum of the known witnesses cosigned it, or a checkpoint that holds it.
    check8 = check_witnesses(proof.checkpoint, checkpoint, witnesses, key, origin, log, now=now)
    return LogChecks((check4, check5, check6, revoked, check8), True, checkpoint, proof.checkpoint)


def _revocation_if_ours(check4: Check, issued_here: bool, printout_id: object, log: LogSource | None,
                        revocations: RevocationStatus | None = None) -> Check:
    """Check 7, unless the printout is known not to be this hub's: a revocation answer counts only from the log
    the printout belongs to, and a hub says "not revoked" of anything it never issued. Known not to be: check 4
    failed (not in this log), or, with check 4 not made, a seal that does not chain to the trusted CA."""
    if log is not None and (check4.ok is False or (check4.ok is None and not issued_here)):
        why = "is not in this hub's log (see check 4)" if check4.ok is False else \
            "was not sealed by a hub of the trusted CA (see check 1)"
        return skipped(7, f"a hub answers only for the printouts of its own log, and this printout {why}")
    return check_revocation(printout_id, log, revocations)


def conclude(checks: Iterable[Check], required: Iterable[Check], logged: LogChecks,
             state: AuditorState | None) -> bool:
    """Valid: nothing failed, ``required`` passed (and 4, 5 when a proof was checked). A valid printout's
    checkpoint is remembered in ``state``; an invalid one teaches nothing."""
    must = [*required, *(logged.checks[:2] if logged.proved else ())]
    valid = all(c.ok is not False for c in checks) and all(c.ok is True for c in must)
    if valid and state is not None and logged.checkpoint is not None:
        state.remember(logged.checkpoint, logged.note)
    return valid
