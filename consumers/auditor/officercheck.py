"""Check 10, the officer session: the printout names a session its officer signed in to with their own key.

    10  officer session   the printout's ``officer_session`` is the session whose proof its log entry carries
                          (``officer_proof``: the hub's sign-in statement and the officer's signature over it);
                          with the pinned officer key set (DIR/pki/officer-keys.json), the key is the officer's, of
                          the printout's agency, in force when they signed in and not revoked before the printout;
                          the signature is good; the session is bound to the certificate that called; the
                          printout was issued inside the session (``linkage.officers.proof_problem``)

Only a printout that names a session has check 10 (without one its officer is the agency's word only: a hub
that still accepts bare officer IDs made it). Skipped when there is no log entry to read the proof from (offline,
a bare JWS) or no officer key set is pinned. ``linkage audit watch`` checks the proof of every new entry
(``entry_alarm``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from consumers.auditor.bundle import LogProof
from consumers.auditor.errors import Alarm
from consumers.auditor.report import Check, failed, passed, skipped
from linkage.officers import OfficerKey, parse_proof, proof_problem

__all__ = ["check_officer", "entry_alarm"]


def check_officer(payload: dict[str, Any], proof: LogProof | None,
                  keys: Sequence[OfficerKey] | None) -> tuple[Check, ...]:
    """Check 10 for one printout (none when it names no session), given its log proof (None: none at hand) and
    the pinned officer key set."""
    if "officer_session" not in payload:
        return ()
    return (_check(payload["officer_session"], proof.leaf if proof else None, keys),)


def _check(session: object, leaf: bytes | None, keys: Sequence[OfficerKey] | None) -> Check:
    if leaf is None:
        return skipped(10, f"session {str(session)[:40]}: no log entry at hand to read the officer's proof from "
                           "(online, or with a bundle, it is checked)")
    try:
        entry = json.loads(leaf)
    except (ValueError, RecursionError):  # nested past the recursion limit: as unreadable as any other
        return failed(10, "the log entry is not JSON")
    if not isinstance(entry, dict) or "officer_proof" not in entry:
        return failed(10, f"the printout names session {str(session)[:40]}, but its log entry carries no officer "
                          "proof: nothing shows the officer signed in")
    if keys is None:
        return skipped(10, "no officer key set pinned (--home DIR with DIR/pki/officer-keys.json)")
    problem = proof_problem(entry, session, keys)
    if problem is not None:
        return failed(10, problem)
    return passed(10, f"officer {entry['officer_id']} of {entry['agency']} signed in with key "
                      f"{entry['officer_proof']['kid'][:16]}… (session {session})")


def entry_alarm(index: int, entry: dict[str, Any], keys: Sequence[OfficerKey]) -> None:
    """For the log monitor: raise Alarm ``bad_officer_proof`` when a (parsed) entry's officer proof does not hold."""
    if "officer_proof" not in entry:
        return
    proof = parse_proof(entry["officer_proof"])
    session = None if isinstance(proof, str) else proof.session_id
    problem = proof_problem(entry, session, keys)
    if problem is not None:
        raise Alarm("bad_officer_proof", f"entry {index}: the officer's proof does not hold: {problem}")