"""Officer sessions that every replica and worker knows and a restart keeps, checked per fetch without the database.

A session lives in the desks' store (linkage/hub/deskstore.py) by the SHA-256 of its secret, so whoever reads the
database learns no session they could use. ``SessionBook.find`` reads it there the first time a process is
asked about it, then from memory. ``seen`` holds, per secret, a session this process checked in full
(linkage/hub/officers.py, ``OfficerDesk.resolve``), the officer key set's stamp it was checked against, and until
when that check holds: the session's end, or its key's end or revocation if sooner. The hub's rules
(linkage/hub/rules.py, ``Hub.officer_session``) accept a fetch under a seen session on the spot while the key
set's stamp is unchanged (one stat) and that time has not come; a changed key set (a key revoked or added) sends
every session through the full check again, which reads no database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from linkage.hub.deskstore import DeskStore
from linkage.officers import Proof, parse_proof

__all__ = ["Seen", "Session", "SessionBook"]

_MAX_SEEN: Final = 10_000  # sessions a process remembers; beyond, the oldest are read again from the store


@dataclass(frozen=True)
class Session:
    """An officer signed in: whose, for which agency and certificate, until when, and the signed proof.

    ``session_id`` (what printouts name) and ``logged_proof`` (what log entries keep: the proof and the certificate
    that called) are made once, here, so that a fetch under the session reads them as plain attributes.
    """

    officer_id: str
    agency: str
    cert_sha256: str
    expires: dt.datetime
    proof: Proof
    session_id: str = field(init=False)
    logged_proof: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_id", self.proof.session_id)
        object.__setattr__(self, "logged_proof", {**self.proof.to_json(), "caller_cert_sha256": self.cert_sha256})


@dataclass(frozen=True)
class Seen:
    """A session checked in full against the key set of ``stamp``; the check holds until ``until`` (epoch s)."""

    session: Session
    stamp: tuple[int, int, int] | None
    until: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class SessionBook:
    """The sessions of every replica (in the store) and those this process has checked (``seen``)."""

    def __init__(self, store: DeskStore) -> None:
        self._store = store
        self.seen: dict[str, Seen] = {}

    async def issue(self, secret: str, session: Session, now: float) -> None:
        """Keep a new session (after sweeping what expired, if a sweep is due)."""
        await self._store.sweep(now)
        await self._store.rows(
            "INSERT INTO sessions (secret_sha256, agency, officer_id, cert_sha256, expires, proof)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (_digest(secret), session.agency, session.officer_id, session.cert_sha256, session.expires.timestamp(),
             json.dumps(session.proof.to_json())))

    async def find(self, secret: str) -> Session | None:
        """The session of this secret, from memory or the store; None when none was issued (or it was swept)."""
        seen = self.seen.get(secret)
        if seen is not None:
            return seen.session
        rows = await self._store.rows("SELECT agency, officer_id, cert_sha256, expires, proof FROM sessions"
                                      " WHERE secret_sha256 = %s", (_digest(secret),))
        if not rows:
            return None
        agency, officer_id, cert, expires, raw = rows[0]
        proof = parse_proof(json.loads(str(raw)))
        if isinstance(proof, str):  # the hub wrote it: a row it cannot read is no session of its
            return None
        return Session(str(officer_id), str(agency), str(cert), dt.datetime.fromtimestamp(float(expires), dt.UTC),
                       proof)

    def remember(self, secret: str, session: Session, stamp: tuple[int, int, int] | None, until: float) -> None:
        """Note a session checked in full, and until when the check holds."""
        if len(self.seen) >= _MAX_SEEN and secret not in self.seen:
            for old in list(self.seen)[:_MAX_SEEN // 10]:  # the oldest tenth: read again from the store if asked
                del self.seen[old]
        self.seen[secret] = Seen(session, stamp, until)

    def forget(self, secret: str) -> None:
        self.seen.pop(secret, None)
