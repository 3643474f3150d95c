"""Officer sign-in at the hub: statements to sign, sessions bound to the caller's certificate, and their check.

``OfficerDesk`` hands out statements (each usable once, within ``SIGN_WITHIN``) and issues sessions (each for
``SESSION_TTL``). Both live in the desks' store beside the exchange log (linkage/hub/deskstore.py): a statement
as a single-use item (linkage/hub/onetime.py), spent by one ``DELETE … RETURNING`` once its signature verified,
so that two replicas cannot both turn it into a session; a session in ``SessionBook`` (linkage/hub/sessions.py),
so that every replica and worker accepts it and a hub restart keeps it. The desk follows the officer key set
(DIR/pki/officer-keys.json, linkage/officers.py) while the hub runs, one stat() per sign-in or fetch, so a key
revoked with ``linkage agency revoke-officer`` stops its officer's sessions on their next call, on every replica.

A request names an officer in one of two ways:
  * a session (``officer_session``): it must be live, issued to this certificate, and its officer's key still
    in force; the printout then names the session and its log entry carries the signed statement;
  * a bare ``officer_id``: accepted only while ``[hub] officer_sessions`` is "optional" (an explicit setting for
    clients not yet moved to sessions; the default is "required") and the officer has no key in the key set; an
    officer who holds a key can be named only by a session they signed.

Refusals (linkage.errors, Thai and English): ``officer_session_required``, ``officer_session_unknown``,
``officer_session_expired``, ``officer_session_other_certificate``, ``officer_session_other_officer``,
``signin_statement_unknown`` (not issued, already used, or asked for by another certificate),
``signin_statement_expired``, ``officer_key_unknown``, ``officer_signature_invalid`` (Unauthenticated);
``officer_key_revoked``, ``officer_key_not_in_force``, ``officer_has_no_key`` (PermissionDenied). Nothing is
issued on any of them. A store that fails raises HubUnavailable (linkage/hub/deskstore.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from linkage.config import AgencyConfig, Home, file_stamp
from linkage.enrolments import ENROLMENTS
from linkage.errors import PermissionDenied, Unauthenticated
from linkage.hub.deskstore import DeskStore
from linkage.hub.onetime import OneTime
from linkage.hub.passkeys import Passkeys
from linkage.hub.sessions import Session, SessionBook
from linkage.ids import parse_officer_id
from linkage.officers import (
    OFFICER_KEYS,
    STATEMENT_TYPE,
    OfficerKey,
    OfficerKeyError,
    Proof,
    key_for,
    load_officer_keys,
    parse_statement,
)
from linkage.seal import canonical_json, format_issued_at

__all__ = ["SESSION_TTL", "SIGN_WITHIN", "OfficerDesk", "Session", "caller_cert_sha256", "cert_sha256"]

SIGN_WITHIN: Final = dt.timedelta(minutes=2)
SESSION_TTL: Final = dt.timedelta(minutes=30)


def caller_cert_sha256(peer: Mapping[str, Sequence[bytes]]) -> str:
    """SHA-256 (hex) of the client certificate of a TLS auth context, as ``Hub.caller`` pins it."""
    pems = peer.get("x509_pem_cert")
    return cert_sha256(bytes(pems[0])) if pems else ""


@functools.lru_cache(maxsize=4096)
def cert_sha256(pem: bytes) -> str:
    """SHA-256 of a client certificate's DER, from the PEM the TLS layer hands over: once per certificate, not
    per call (a bounded cache: the agencies' certificates, with room for many more)."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))).hexdigest()


def _statement_key(statement: bytes) -> str:
    return hashlib.sha256(statement).hexdigest()


class OfficerDesk:
    """Statements, sessions and the officer key set of one hub. ``clock``: seconds since the epoch (an input, so
    that tests can move time)."""

    def __init__(self, home: Home, issuer: str, store: DeskStore, *, required: bool = False,
                 rp_id: str = "localhost", origins: tuple[str, ...] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.path: Path = home.pki / OFFICER_KEYS
        self.passkeys = Passkeys(self.path, home.pki / ENROLMENTS, rp_id, origins, OneTime(store, "enrolment"))
        self._issuer = issuer
        self.required = required
        self.clock = clock
        self._statements = OneTime(store, "statement")
        self.sessions = SessionBook(store)
        self.stamp: tuple[int, int, int] | None = None  # of the key set file as last loaded
        self._keys: tuple[OfficerKey, ...] = ()
        self.enrolled: frozenset[tuple[str, str]] = frozenset()  # (agency, officer) of every key, even revoked
        self.keys()

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def keys(self) -> tuple[OfficerKey, ...]:
        """The officer key set now on disk (reloaded when the file changed; a broken file keeps the last)."""
        stamp = file_stamp(self.path)
        if stamp != self.stamp:
            try:
                self._keys = load_officer_keys(self.path)
                self.stamp = stamp
                self.enrolled = frozenset((k.agency, k.officer_id) for k in self._keys)
            except OfficerKeyError:
                pass
        return self._keys

    def _key_of(self, agency: AgencyConfig, officer_id: str, now: dt.datetime) -> OfficerKey:
        """The officer's key in force now, or PermissionDenied saying why there is none."""
        mine = [k for k in self.keys() if k.officer_id == officer_id and k.agency == agency.name]
        live = [k for k in mine if k.problem(now) is None]
        if live:
            return live[-1]
        if any(k.revoked_at is not None and k.revoked_at <= now for k in mine):
            raise PermissionDenied("officer_key_revoked", "กุญแจของเจ้าหน้าที่ผู้นี้ถูกเพิกถอนแล้ว ลงชื่อเข้าใช้ไม่ได้",
                                   f"officer {officer_id}'s key was revoked: they can no longer sign in",
                                   field="officer_id")
        raise PermissionDenied("officer_has_no_key", "เจ้าหน้าที่ผู้นี้ยังไม่มีบัตรเจ้าหน้าที่ที่ใช้ได้",
                               f"officer {officer_id} holds no key in force for {agency.name}; the administrator "
                               "issues one with `linkage agency officer-card`", field="officer_id")

    async def begin(self, agency: AgencyConfig, cert_sha256: str, officer_id: str) -> tuple[bytes, str, str]:
        """A statement for the officer to sign, the time by which it must come back, and (when the officer holds
        passkeys) the browser's request options."""
        officer = self._registered(agency, officer_id)
        now = self._now().replace(microsecond=0)
        self._key_of(agency, officer, now)
        statement = canonical_json({
            "type": STATEMENT_TYPE, "hub": self._issuer, "agency": agency.name, "officer_id": officer,
            "cert_sha256": cert_sha256, "nonce": secrets.token_hex(16), "issued_at": format_issued_at(now),
            "expires_at": format_issued_at(now + SESSION_TTL),
        })
        await self._statements.issue(_statement_key(statement), cert_sha256, (now + SIGN_WITHIN).timestamp(),
                                     now.timestamp())
        live = [k for k in self.keys() if k.officer_id == officer and k.agency == agency.name and
                k.problem(now) is None]
        return statement, format_issued_at(now + SIGN_WITHIN), self.passkeys.request_options(live, statement)

    async def finish(self, agency: AgencyConfig, cert_sha256: str, statement: bytes, kid: str,
                     signature: bytes, assertion: str = "") -> tuple[str, Session]:
        """Check the signed statement (by a card: ``kid`` and ``signature``; by a passkey: the browser's
        ``assertion``) and issue a session: (its secret, the session)."""
        now = self._now()
        key_of_statement = _statement_key(statement)
        pending = await self._statements.look(key_of_statement)
        if pending is None or pending.owner != cert_sha256:
            raise _statement_unknown()
        if now.timestamp() > pending.until:
            await self._statements.spend(key_of_statement)
            raise Unauthenticated("signin_statement_expired", "หมดเวลาลงชื่อเข้าใช้ กรุณาเริ่มใหม่",
                                  f"the sign-in statement had to be signed within {SIGN_WITHIN.seconds} s: begin"
                                  " again", field="statement")
        said = parse_statement(statement)
        assert said is not None  # the hub wrote it
        if assertion:
            mine = tuple(k for k in self.keys() if k.officer_id == said["officer_id"] and k.agency == agency.name)
            proof = self.passkeys.assertion_proof(mine, statement, assertion)
            kid, signature = proof.kid, proof.signature
        else:
            proof = Proof(kid, statement, signature)
        key = key_for(self.keys(), kid)
        if key is None or key.officer_id != said["officer_id"] or key.agency != agency.name:
            raise Unauthenticated("officer_key_unknown", "ไม่รู้จักกุญแจของเจ้าหน้าที่นี้",
                                  f"key {kid[:64]!r} is not a published key of officer {said['officer_id']} of"
                                  f" {agency.name}", field="kid")
        if (why := key.problem(now)) is not None:
            revoked = key.revoked_at is not None and key.revoked_at <= now
            raise PermissionDenied("officer_key_revoked" if revoked else "officer_key_not_in_force",
                                   "กุญแจของเจ้าหน้าที่ถูกเพิกถอนแล้ว" if revoked else "กุญแจของเจ้าหน้าที่ไม่อยู่ในช่วงที่ใช้ได้",
                                   why, field="kid")
        if not key.verifies(proof.signed, signature):
            raise Unauthenticated("officer_signature_invalid", "ลายมือชื่อดิจิทัลของเจ้าหน้าที่ไม่ถูกต้อง",
                                  f"the signature is not officer key {kid[:16]}…'s over this statement",
                                  field="signature")
        # Used once, and only once it verified: of two replicas finishing the same statement, one gets it back.
        if await self._statements.spend(key_of_statement) is None:
            raise _statement_unknown()
        session = Session(said["officer_id"], agency.name, cert_sha256,
                          dt.datetime.fromisoformat(said["expires_at"].replace("Z", "+00:00")), proof)
        secret = secrets.token_urlsafe(32)
        await self.sessions.issue(secret, session, now.timestamp())
        return secret, session

    async def resolve(self, agency: AgencyConfig, cert_sha256: str, secret: str, officer_id: str) -> Session | None:
        """The session a request is made under, None for a bare officer ID the rules still accept; else raises.

        A session that passes is remembered as seen (linkage/hub/sessions.py) until its check may no longer hold.
        """
        if not secret:
            officer = parse_officer_id(officer_id)
            self.keys()
            if self.required or (agency.name, officer) in self.enrolled:
                raise Unauthenticated(
                    "officer_session_required", "เจ้าหน้าที่ต้องลงชื่อเข้าใช้ด้วยบัตรของตนก่อนขอข้อมูล",
                    f"officer {officer} must sign in with their own key (officer card or passkey) before a"
                    " printout is issued in their name: send officer_session", field="officer_session")
            return None
        session = await self.sessions.find(secret)
        now = self._now()
        if session is None:
            raise Unauthenticated("officer_session_unknown", "ไม่พบการลงชื่อเข้าใช้ของเจ้าหน้าที่นี้ กรุณาลงชื่อเข้าใช้ใหม่",
                                  "no such officer session on this hub: sign in again", field="officer_session")
        if now >= session.expires:
            self.sessions.forget(secret)
            raise Unauthenticated("officer_session_expired", "การลงชื่อเข้าใช้ของเจ้าหน้าที่หมดเวลาแล้ว กรุณาลงชื่อเข้าใช้ใหม่",
                                  f"this officer session ended at {format_issued_at(session.expires)} (a session"
                                  f" lasts {SESSION_TTL.seconds // 60} minutes): sign in again",
                                  field="officer_session")
        if session.cert_sha256 != cert_sha256 or session.agency != agency.name:
            raise Unauthenticated("officer_session_other_certificate",
                                  "การลงชื่อเข้าใช้นี้ออกให้เครื่องอื่น ใช้จากเครื่องนี้ไม่ได้",
                                  "this officer session was issued to another client certificate; it is useless"
                                  " from this one", field="officer_session")
        if officer_id and parse_officer_id(officer_id) != session.officer_id:
            raise Unauthenticated("officer_session_other_officer", "การลงชื่อเข้าใช้นี้เป็นของเจ้าหน้าที่อีกคน",
                                  f"this session is officer {session.officer_id}'s, not {officer_id[:32]}'s",
                                  field="officer_id")
        key = key_for(self.keys(), session.proof.kid)
        if key is None or (why := key.problem(now)) is not None:
            raise PermissionDenied("officer_key_revoked", "กุญแจของเจ้าหน้าที่ถูกเพิกถอนแล้ว กรุณาติดต่อผู้ดูแลระบบ",
                                   why or "the officer's key is no longer published", field="officer_session")
        ends = min(session.expires, key.not_after, key.revoked_at or key.not_after)
        self.sessions.remember(secret, session, self.stamp, ends.timestamp())
        return session

    async def begin_enrolment(self, agency: AgencyConfig, cert_sha256: str, officer_id: str, code: str) -> str:
        """Passkey enrolment, step 1 (linkage/hub/passkeys.py): the browser's creation options."""
        officer = self._registered(agency, officer_id)
        return await self.passkeys.begin_enrolment(agency, cert_sha256, officer, code, self._now())

    async def finish_enrolment(self, agency: AgencyConfig, cert_sha256: str, officer_id: str, code: str,
                               credential: str) -> str:
        """Passkey enrolment, step 2: the passkey published; returns its kid."""
        officer = self._registered(agency, officer_id)
        key = await self.passkeys.finish_enrolment(agency, cert_sha256, officer, code, credential, self._now())
        self.keys()
        return key.kid

    def _registered(self, agency: AgencyConfig, officer_id: str) -> str:
        officer = parse_officer_id(officer_id)
        if officer not in agency.officers:
            raise PermissionDenied("officer_not_registered", f"เจ้าหน้าที่ผู้นี้ไม่ได้ลงทะเบียนกับ {agency.name}",
                                   f"this officer is not registered with {agency.name}", field="officer_id")
        return officer


def _statement_unknown() -> Unauthenticated:
    return Unauthenticated("signin_statement_unknown", "ข้อความลงชื่อเข้าใช้นี้ไม่ได้ออกให้ หรือถูกใช้ไปแล้ว",
                           "this sign-in statement was not issued to this certificate, or was already used: begin"
                           " the sign-in again", field="statement")
