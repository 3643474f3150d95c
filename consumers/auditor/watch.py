"""The log monitor: each round fetches the newest checkpoint and holds the log to what it said before.

One ``watch_round``, in numbered steps (with pinned witnesses, the checkpoint is the newest one the hub
holds with their cosignatures; without, the newest):

    1  the checkpoint is signed by the pinned log key, for the pinned origin   else Alarm bad_checkpoint
       (with a pinned key set: by a key in force at its signed-at time; a
       retired key's new signature is named in the alarm)
    2  with pinned witnesses, a quorum of them cosigned it                      else Alarm unwitnessed
       (consumers/auditor/witnesses.py; a cosignature that fails: bad_checkpoint)
    3  its size is not smaller than the newest checkpoint seen before           else Alarm rollback
       and, when both say when they were signed, not signed before it          else Alarm backdated
    4  at a size seen before, its root is the root seen then                    else Alarm fork
    5  it extends the newest seen before (consistency proof from the log)       else Alarm fork
    6  a sample of entries (new ones first, then older ones) is in the tree:
       each leaf from GetEntries has an inclusion proof to the root             else Alarm rewritten_entry
    7  with the pinned officer key set, every new entry's officer proof holds   else Alarm bad_officer_proof
       (check 10's rules, consumers/auditor/officercheck.py; read in pages of MAX_ENTRIES, all of the log on
       the first round; that each is in the tree is step 6's sample)
    8  every new entry that claims the citizen's presence carries a card       else Alarm bad_presence
       proof that holds as far as the log alone shows (check 11,
       consumers/auditor/presence.py; the first round reads the newest 10 000); 7 and 8 read each new entry once

Only then is the checkpoint remembered. Raises ``Alarm``, or ``HubUnreachable``
when the log cannot be asked; nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from consumers.auditor.errors import Alarm, HubRefused
from consumers.auditor.log import LogSource
from consumers.auditor.logcheck import LogTrust
from consumers.auditor.officercheck import entry_alarm as officer_alarm
from consumers.auditor.presence import FIRST_ROUND
from consumers.auditor.presence import entry_alarm as presence_alarm
from consumers.auditor.state import AuditorState
from consumers.auditor.witnesses import WitnessTrust, check_witnessed
from linkage import merkle
from linkage.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint, signed_at
from linkage.cosignature import Witnessed
from linkage.limits import MAX_ENTRIES
from linkage.officers import OfficerKey

__all__ = ["RoundResult", "choose_sample", "watch_round"]


@dataclass(frozen=True)
class RoundResult:
    """What one round saw: the checkpoint, the size it was proved to extend (None: first), the entries checked."""

    checkpoint: Checkpoint
    previous_size: int | None
    checked: tuple[int, ...]
    witnessed: Witnessed | None = None  # with pinned witnesses: who cosigned it

    def render(self) -> str:
        cp = self.checkpoint
        since = ("first checkpoint seen" if self.previous_size is None
                 else f"consistent with size {self.previous_size}")
        by = f"; cosigned by {self.witnessed.names()}" if self.witnessed else ""
        return (f"ตรวจแล้ว / OK: {cp.origin} size {cp.size} root {cp.root_hash.hex()}; {since}; "
                f"{len(self.checked)} entr{'y' if len(self.checked) == 1 else 'ies'} proved in the tree{by}")


def choose_sample(old_size: int, new_size: int, sample: int, rng: random.Random) -> tuple[int, ...]:
    """Up to ``sample`` distinct indices below ``new_size``: new entries (from ``old_size``) first, then older."""
    new = range(old_size, new_size)
    picked = rng.sample(new, min(sample, len(new)))
    rest = sample - len(picked)
    if rest > 0 and old_size > 0:
        picked += rng.sample(range(old_size), min(rest, old_size))
    return tuple(sorted(picked))


def watch_round(log: LogSource, key: LogTrust, origin: str, state: AuditorState, *, sample: int = 16,
                rng: random.Random | None = None, witnesses: WitnessTrust | None = None,
                now: dt.datetime | None = None, officer_keys: Sequence[OfficerKey] | None = None) -> RoundResult:
    """One round of the monitor; remembers the checkpoint in ``state`` (in memory) when nothing is wrong.

    ``key`` is the pinned log key, or a pinned key set whose keys have windows (``linkage.keys``);
    ``witnesses``, those whose quorum each checkpoint needs (None: none asked for); ``now`` judges their times.
    """
    rng = rng or random.Random()
    note = log.witnessed_checkpoint() if witnesses else log.checkpoint()
    # 1. Signed by the log we pinned, with a key in force when it signed.
    try:
        cp = open_checkpoint(note, [key] if isinstance(key, NoteVerifier) else key, origin)
    except CheckpointError as exc:
        raise Alarm("bad_checkpoint", f"the log's newest checkpoint does not verify: {exc} ({exc.code})") from exc
    # 2. Cosigned by a quorum of the witnesses: one history is all they sign.
    witnessed = check_witnessed(note, witnesses, key, origin, now) if witnesses else None
    newest = state.newest(origin)
    if newest is not None:
        # 3. Logs only grow.
        if cp.size < newest.size:
            raise Alarm("rollback", f"rollback: the log's checkpoint is of size {cp.size} (root {cp.root_hash.hex()}), "
                                    f"smaller than size {newest.size} (root {newest.root_hash.hex()}) seen before")
        _not_backdated(cp, newest.note)
        # 4. One size, one root.
        known = state.root_at(origin, cp.size)
        if known is not None and known != cp.root_hash:
            raise Alarm("fork", f"fork: at size {cp.size} the log's root is now {cp.root_hash.hex()}, "
                                f"it was {known.hex()} before")
        # 5. The new tree extends the old one.
        if newest.size < cp.size and newest.size > 0:
            _prove_extends(log, newest.size, newest.root_hash, cp)
    # 6. The log serves the entries the root commits to.
    checked = choose_sample(newest.size if newest else 0, cp.size, sample, rng)
    for index in checked:
        _prove_entry(log, index, cp)
    # 7 and 8. The people: every new entry's officer proof (against the published officer keys) and proof of the
    # citizen's presence or consent, in one reading of the new entries.
    _check_people(log, newest.size if newest else None, cp.size, officer_keys)
    state.remember(cp, note)
    return RoundResult(cp, newest.size if newest else None, checked, witnessed)


def _not_backdated(cp: Checkpoint, before: str) -> None:
    """A bigger tree signed earlier than one seen before: a key signing with a false time (a retired key dodging
    its retirement), or a hub clock gone backwards."""
    text, sep, _ = before.partition("\n\n")
    try:
        old = Checkpoint.from_text(text + "\n") if sep else None
        now, then = signed_at(cp), signed_at(old) if old else None
    except CheckpointError:
        return  # the one seen before was verified when it was seen; an unreadable time there decides nothing
    if old is not None and now is not None and then is not None and cp.size > old.size and now < then:
        raise Alarm("backdated", f"backdated checkpoint: size {cp.size} says it was signed at "
                                 f"{now:%Y-%m-%dT%H:%M:%SZ}, before size {old.size} seen before, signed at "
                                 f"{then:%Y-%m-%dT%H:%M:%SZ}")


def _prove_extends(log: LogSource, old_size: int, old_root: bytes, cp: Checkpoint) -> None:
    what = (f"size {old_size} (root {old_root.hex()}) seen before and size {cp.size} (root {cp.root_hash.hex()}) "
            f"now")
    try:
        proof = log.consistency_proof(old_size, cp.size)
        merkle.verify_consistency(old_size, cp.size, proof, old_root, cp.root_hash)
    except HubRefused as exc:
        raise Alarm("fork", f"fork? the log will not prove {what} one history: {exc.message}") from exc
    except merkle.MerkleError as exc:
        raise Alarm("fork", f"fork: {what} are not one history: {exc.message}") from exc


def _check_people(log: LogSource, seen: int | None, end: int, keys: Sequence[OfficerKey] | None) -> None:
    """Steps 7 and 8 over the entries from ``seen`` (None: a first round: officers from 0, presence over the
    newest FIRST_ROUND) to ``end``, each entry read and parsed once."""
    officers_from = seen or 0
    presence_from = seen if seen is not None else max(0, end - FIRST_ROUND)
    start = presence_from if keys is None else min(officers_from, presence_from)
    while start < end:
        page = log.entries(start, min(end, start + MAX_ENTRIES))
        if not page:
            return  # entries the log will not serve: step 6's sample is what catches a dropped one
        for item in page:
            try:
                entry = json.loads(item.leaf)
            except (ValueError, RecursionError):
                continue  # not a JSON entry: step 6 and verify's check 4 judge leaves
            if not isinstance(entry, dict):
                continue
            if keys is not None and item.index >= officers_from:
                officer_alarm(item.index, entry, keys)
            if item.index >= presence_from:
                presence_alarm(item.index, entry)
        start = page[-1].index + 1


def _prove_entry(log: LogSource, index: int, cp: Checkpoint) -> None:
    where = f"entry {index} of size {cp.size} (root {cp.root_hash.hex()})"
    try:
        entries = log.entries(index, index + 1)
        if len(entries) != 1 or entries[0].index != index:
            raise Alarm("rewritten_entry", f"rewritten or dropped entry: the log did not return {where}")
        proof = log.inclusion_proof(index, cp.size)
        if (proof.leaf_index, proof.tree_size) != (index, cp.size):
            raise Alarm("rewritten_entry", f"{where}: the log proved leaf {proof.leaf_index} of size "
                                           f"{proof.tree_size} instead")
        merkle.verify_inclusion(merkle.leaf_hash(entries[0].leaf), index, cp.size, proof.hashes, cp.root_hash)
    except HubRefused as exc:
        raise Alarm("rewritten_entry", f"rewritten or dropped entry? the log refused {where}: {exc.message}") from exc
    except merkle.MerkleError as exc:
        raise Alarm("rewritten_entry", f"rewritten entry: {where} is not in the tree: {exc.message}") from exc
