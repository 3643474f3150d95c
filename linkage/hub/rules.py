"""The hub's rules, apart from gRPC: who may call, who may read what, and how a printout is issued.

Every call is admitted first, in ``Hub.admit`` and nowhere else, in this order:
  1. the caller is the agency its client certificate names (common name and SHA-256 fingerprint) under
     the rights in force now: linkage.toml is followed while the hub runs (``LiveSettings``), so a revoked
     agency is refused on its very next call although its certificate still chains to the CA;
  2. the call is charged to the agency's rate limit and daily quota (``AgencyLimiter``; the numbers in
     linkage/limits.py): a refused call goes no further;
  3. every string field of the request is within its length (``FIELD_LIMITS`` in linkage/limits.py).

A printout is then issued (``Hub.fetch``) in this order, and only in this order:
  4. a purpose is given, and the officer is registered with the agency and, under an officer session
     (linkage/hub/officers.py), signed in from this very certificate with a key still in force; a request
     saying the citizen is present carries their card's proof, and the civil registry accepts it
     (linkage/hub/presence.py); a request naming the citizen's consent has it reserved, spent on issue
     (linkage/hub/consent.py);
  5. the document type is known: its provider is resolved, once for the request;
  6. the agency has a right to the document type;
  7. the subject ID is well formed and of the kind the type is keyed by (as its provider describes it);
  8. the citizen is present (or consented) where the type demands it;
  9. the provider answers with only the fields granted to the agency;
  10. the hub seals the printout (JWS, ES256, with the seal key in force now);
  11. the exchange log commits its entry durably;
only then does the printout leave the hub. A failure at any step issues nothing. FetchDocuments checks
the batch (at least one type, at most MAX_BATCH, none twice) and the subject ID, then step 4 once and
steps 5-11 for each type: a type that fails is that type's answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from linkage.config import ALL_FIELDS, AgencyConfig, LiveSettings, Settings, file_stamp
from linkage.errors import InvalidRequest, LinkageError, NotFound, PermissionDenied, Unauthenticated
from linkage.hub.consent import Consent, ConsentDesk, Used
from linkage.hub.deskstore import DeskStore
from linkage.hub.log import Appended, ExchangeLog, LogEntry, RevocationEntry
from linkage.hub.officers import OfficerDesk, Session, caller_cert_sha256, cert_sha256
from linkage.hub.overlimit import check_batch, quota_exhausted, rate_limited
from linkage.hub.presence import PresenceDesk, Proven
from linkage.hub.routing import Router
from linkage.ids import IdKind, parse_id, parse_officer_id
from linkage.limits import (
    BANGKOK,
    FIELD_LIMITS,
    OTHER_FIELD_LIMIT,
    REFUSAL_LOG_INTERVAL_S,
    AgencyLimits,
)
from linkage.seal import FetchRequest, Sealer, format_issued_at, printout_digest
from linkage.v1 import common_pb2, hub_pb2, provider_pb2

__all__ = ["AgencyLimiter", "Hub", "Issued", "check_fields"]

_log = logging.getLogger("linkage.hub")
_limits_log = logging.getLogger("linkage.limits")  # the limiter's warnings keep the name operators filter on
_TEXT = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
_KINDS = {common_pb2.SUBJECT_KIND_CITIZEN: IdKind.CITIZEN, common_pb2.SUBJECT_KIND_JURISTIC: IdKind.JURISTIC}


@dataclass(frozen=True)
class Issued:
    printout_id: str
    doc_type: str
    jws: str
    issued_at: str
    logged: Appended


class Hub:
    """Admission, rights, routing, sealing and logging, for one configuration."""

    def __init__(self, settings: Settings, router: Router, sealer: Sealer, log: ExchangeLog, store: DeskStore) -> None:
        self._live = LiveSettings(settings)
        self._issuer = settings.hub.issuer  # [hub] is fixed until a restart; only agencies are followed
        self.router = router
        self.sealer = sealer
        self.log = log
        self.store = store
        self._revoke_lock = asyncio.Lock()
        self.limiter = AgencyLimiter()
        # Sign-ins, sessions, challenges and consents: in the store beside the log (linkage/hub/deskstore.py).
        self.officers = OfficerDesk(settings.home, settings.hub.issuer, store,
                                    required=settings.hub.officer_sessions == "required",
                                    rp_id=settings.hub.webauthn_rp_id,
                                    origins=settings.hub.webauthn_origins or (
                                        f"http://localhost:{settings.counter.port}",))
        self.presence = PresenceDesk(router, store)
        self.consents = ConsentDesk(store, log.subject_hash)

    @property
    def settings(self) -> Settings:
        """The settings now in force: agencies and revocations follow linkage.toml."""
        return self._live.current()

    @property
    def last_settings(self) -> Settings:
        """The settings as the last admission read them (no stat of linkage.toml: for the same call's metrics)."""
        return self._live.last()

    def admit(self, peer: Mapping[str, Sequence[bytes]], request: Message, cost: int = 1) -> AgencyConfig:
        """Steps 1-3: the calling agency, once the call is charged to its limits and the request's fields are
        of allowed length. ``peer`` is the TLS auth context (``ServicerContext.auth_context()``).

        Raises Unauthenticated, LimitExceeded (nothing else is looked at) or InvalidRequest.
        """
        # 1. Who calls: the certificate, against the rights now in force.
        agency = self.caller(peer)
        # 2. Rate limit and daily quota: a FetchDocuments call costs one per document type.
        self.limiter.admit(agency.name, agency.limits, cost)
        # 3. Field lengths.
        check_fields(request)
        return agency

    def caller(self, peer: Mapping[str, Sequence[bytes]]) -> AgencyConfig:
        """The agency a client certificate speaks for, by its common name and SHA-256 fingerprint.

        Raises Unauthenticated: ``agency_revoked`` for a certificate or agency whose access
        was revoked, ``unknown_agency`` for a name not in the configuration,
        ``certificate_not_registered`` when the agency is pinned to another certificate.
        """
        names = peer.get("x509_common_name") or [b""]
        pems = peer.get("x509_pem_cert")
        digest = cert_sha256(bytes(pems[0])) if pems else None
        name = names[0].decode("utf-8", "replace")
        settings = self.settings
        revoked = settings.revocation_of(digest) if digest else None
        agency = settings.agencies.get(name)
        if revoked is None and agency is None:
            revoked = settings.revoked.get(name)
        if revoked is not None:
            raise Unauthenticated(
                "agency_revoked",
                f"สิทธิ์เข้าถึงข้อมูลของ {revoked.name} ถูกเพิกถอนแล้วเมื่อ {revoked.revoked_at}",
                f"the access of agency {revoked.name} was revoked at {revoked.revoked_at}; this certificate is no"
                " longer accepted",
            )
        if agency is None:
            raise Unauthenticated(
                "unknown_agency", "ใบรับรองนี้ไม่ได้ลงทะเบียนเป็นหน่วยงานผู้ใช้ข้อมูล",
                f"this certificate does not belong to a registered agency ({(name or 'no common name')[:64]})",
            )
        if agency.cert_sha256 and digest != agency.cert_sha256:
            raise Unauthenticated(
                "certificate_not_registered", f"ใบรับรองนี้ไม่ใช่ใบที่ลงทะเบียนไว้สำหรับ {agency.name}",
                f"this is not the certificate registered for {agency.name}; use the one `linkage agency add` issued",
            )
        return agency

    async def services(self, agency: AgencyConfig) -> list[tuple[common_pb2.DocumentType, str, str, list[str]]]:
        """Each type the agency may fetch: description, provider, X-Road service address, granted fields."""
        out = []
        for doc_type, fields in sorted(agency.grants.items()):
            provider = self.router.owner(doc_type)
            described = await self.router.describe(provider, doc_type)
            service = f"{self.router.member(provider.name)}/{doc_type}/v1"
            out.append((described, provider.name, service, _granted(described, fields)))
        return out

    def check_request(self, agency: AgencyConfig, purpose: str, officer_id: str) -> None:
        """Step 4: a purpose, and an officer registered with the agency. Raises InvalidRequest or PermissionDenied.

        (Their lengths, and the case ref's, were checked on admission.)
        """
        if not purpose.strip():
            raise InvalidRequest("purpose_missing", "ต้องระบุวัตถุประสงค์ของการขอข้อมูล",
                                 "purpose is required: say why the data is needed (PDPA: data is used only for its"
                                 " stated purpose)", field="purpose")
        officer = parse_officer_id(officer_id)
        if officer not in agency.officers:
            raise PermissionDenied("officer_not_registered", f"เจ้าหน้าที่ผู้นี้ไม่ได้ลงทะเบียนกับ {agency.name}",
                                   f"this officer is not registered with {agency.name}", field="officer_id")

    async def officer_session(self, peer: Mapping[str, Sequence[bytes]], agency: AgencyConfig, secret: str,
                              officer_id: str, *, consented: bool = False) -> Session | None:
        """Step 4's officer: the session the request is made under (bound to this caller's certificate), or None
        for a bare officer ID the rules still accept (linkage/hub/officers.py). Raises when neither holds.

        ``consented``: a fetch that carries the citizen's consent (a service without a counter) may name, without
        a session, the officer who asked for that consent: no officer sat at a desk, and what lets the data go is
        the citizen's approval, which ``fetch`` takes (this agency, subject, purpose and types, once) and the
        log keeps. A session, when one is sent, is checked all the same."""
        desk = self.officers
        if consented and not secret:
            return None
        if not secret and not desk.required:
            # A bare ID of an officer who holds no key, decided here: the common path stays in its files (issue 10).
            if file_stamp(desk.path) != desk.stamp:
                desk.keys()
            if (agency.name, parse_officer_id(officer_id)) not in desk.enrolled:
                return None
        seen = desk.sessions.seen.get(secret) if secret else None
        if seen is not None:
            # A session this process checked in full since the key set last changed, inside the time that check
            # holds (linkage/hub/sessions.py): decided here, with no database and no other file (issues 10, 16).
            pems = peer.get("x509_pem_cert")
            session = seen.session
            if (seen.stamp == file_stamp(desk.path) and desk.clock() < seen.until and pems
                    and session.cert_sha256 == cert_sha256(bytes(pems[0])) and session.agency == agency.name
                    and officer_id in ("", session.officer_id)):
                return session
        return await desk.resolve(agency, caller_cert_sha256(peer), secret, officer_id)

    async def fetch(self, agency: AgencyConfig, req: FetchRequest, session: Session | None = None,
                    presence: hub_pb2.CitizenPresence | None = None, consent_id: str = "") -> Issued:
        """Steps 4-11: issue one printout to an admitted agency. Raises a LinkageError and issues nothing when
        any step fails."""
        # 4. Purpose and officer; the citizen's card when the request says they are present.
        self.check_request(agency, req.purpose, req.officer_id)
        proven = None
        if req.citizen_present or presence is not None:  # checked only when claimed: the path stays short
            proven = await self.presence.prove(agency.name, req, [req.doc_type], presence)
        if not consent_id:
            return await self._issue(agency, req, session, proven)
        used = await self.consents.take(consent_id, agency.name, parse_id(req.subject_id), req.purpose,
                                        [req.doc_type])
        try:
            issued = await self._issue(agency, req, session, proven, used)
        except BaseException:
            await self.consents.give_back(used)  # nothing issued: the consent is as it was
            raise
        await self.consents.spend(used)
        return issued

    async def fetch_many(self, agency: AgencyConfig, doc_types: Sequence[str], req: FetchRequest,
                         session: Session | None = None, presence: hub_pb2.CitizenPresence | None = None,
                         consent_id: str = "") -> list[Issued | LinkageError]:
        """Several types for one subject; each failure is returned in its place, not raised.

        Raises only for what is wrong with the request as a whole.
        """
        check_batch(doc_types)
        subject = parse_id(req.subject_id)
        self.check_request(agency, req.purpose, req.officer_id)
        proven = await self.presence.prove(agency.name, req, doc_types, presence)  # one card signature, the batch
        used = await self.consents.take(consent_id, agency.name, subject, req.purpose, doc_types) if consent_id \
            else None

        async def one(doc_type: str) -> Issued | LinkageError:
            try:
                return await self._issue(agency, FetchRequest(doc_type, req.subject_id, req.purpose, req.officer_id,
                                                              req.case_ref, req.citizen_present), session, proven,
                                                              used)
            except LinkageError as err:
                return err

        outcomes: list[Issued | LinkageError] = []
        try:
            outcomes = list(await asyncio.gather(*(one(t) for t in doc_types)))
        finally:  # one consent serves the batch: spent when anything was issued, else given back
            if used is not None:
                issued_any = any(isinstance(o, Issued) for o in outcomes)
                await (self.consents.spend if issued_any else self.consents.give_back)(used)
        return outcomes

    async def _issue(self, agency: AgencyConfig, req: FetchRequest, session: Session | None = None,
                     proven: Proven | None = None, used: Used | None = None) -> Issued:
        """Steps 5-11 for a request whose purpose and officer passed step 4."""
        started = time.perf_counter()
        # 5. The document type is known; its provider, resolved here, serves the rest of the request.
        provider = self.router.owner(req.doc_type)
        # 6. The agency's right to it.
        fields = agency.grants.get(req.doc_type)
        if fields is None:
            allowed = ", ".join(sorted(agency.grants)) or "nothing"
            raise PermissionDenied("no_right", f"{agency.name} ไม่มีสิทธิ์ขอ {req.doc_type}",
                                   f"{agency.name} has no right to {req.doc_type}; it may read: {allowed}",
                                   field="doc_type")
        # 7. The subject ID, of the kind the type is keyed by (the provider's description, asked once, then kept).
        described = await self.router.describe(provider, req.doc_type)
        subject = parse_id(req.subject_id, _KINDS.get(described.subject_kind))
        # 8. The citizen's presence, proved by their card (step 4), or their consent, where the type demands it.
        if described.requires_citizen_present and proven is None and used is None:
            raise InvalidRequest("citizen_not_present",
                                 f"{req.doc_type} ให้ได้เฉพาะเมื่อเจ้าของข้อมูลมาแสดงตนพร้อมบัตร",
                                 f"{req.doc_type} is served only when the citizen is present with their card",
                                 field="citizen_present")
        # 9. The provider's record, only the granted fields.
        data = await self.router.get_record(provider, req.doc_type, subject, _projection(described, fields))
        # 10. The seal.
        printout_id = str(uuid.uuid4())
        issued_at = format_issued_at(dt.datetime.now(dt.UTC))
        payload = {
            "printout_id": printout_id, "doc_type": req.doc_type, "subject_id": subject, "data": data,
            "issuer": self._issuer, "provider": provider.name, "agency": agency.name,
            "officer_id": req.officer_id, "purpose": req.purpose, "case_ref": req.case_ref,
            "issued_at": issued_at, "request_hash": req.binding(agency.name, subject),
        }
        if session is not None:  # the printout names its officer session; the log keeps the signed proof
            payload["officer_session"] = session.session_id
        if proven is not None:
            payload["presence"] = proven.printout
        consent = None if used is None else used.record()
        if consent is not None:
            payload["consent"] = consent
        jws = self.sealer.seal(payload)
        # 11. The log entry, durable before the printout leaves.
        logged = await self.log.append(LogEntry(
            printout_id=printout_id, doc_type=req.doc_type, provider=provider.name, agency=agency.name,
            officer_id=req.officer_id, purpose=req.purpose, case_ref=req.case_ref, issued_at=issued_at,
            subject_hash=self.log.subject_hash(subject), printout_sha256=printout_digest(jws),
            officer_proof=None if session is None else session.logged_proof,
            presence=None if proven is None else proven.log, consent=consent,
        ))
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("issued", extra={"agency": agency.name, "doc_type": req.doc_type, "provider": provider.name,
                                        "log_index": logged.index,
                                        "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
        return Issued(printout_id, req.doc_type, jws, issued_at, logged)

    async def revoke(self, agency: AgencyConfig, printout_id: str, reason: str, officer_id: str,
                     session: Session | None = None) -> Appended:
        """Revoke a printout issued to this agency; the revocation is logged, with the officer's signed sign-in when
        made under their session (``officer_session``, as a fetch). Raises on anything else."""
        if not reason.strip():
            raise InvalidRequest("reason_missing", "ต้องระบุเหตุผลที่เพิกถอน", "say why the printout is revoked",
                                 field="reason")
        self.check_request(agency, reason, officer_id)
        async with self._revoke_lock:  # one revocation per printout, even when two race
            leaf = await self.log.printout(printout_id)
            if leaf is None or leaf.get("agency") != agency.name:
                raise NotFound("printout_not_found", f"ไม่พบเอกสาร {printout_id[:40]!r} ที่ออกให้ {agency.name}",
                               f"no printout {printout_id[:40]!r} was issued to {agency.name}")
            if await self.log.revocation(printout_id) is not None:
                raise InvalidRequest("already_revoked", "เอกสารนี้ถูกเพิกถอนแล้ว",
                                     f"printout {printout_id} is already revoked")
            return await self.log.append(RevocationEntry(
                printout_id=printout_id, agency=agency.name, officer_id=officer_id, reason=reason,
                revoked_at=format_issued_at(dt.datetime.now(dt.UTC)),
                officer_proof=None if session is None else session.logged_proof))

    def agent_available(self, agency: AgencyConfig, officer_id: str) -> bool:
        return parse_officer_id(officer_id) in agency.officers

    async def check_card(self, agency: AgencyConfig, card: provider_pb2.CheckCardRequest, purpose: str,
                         officer_id: str) -> bool:
        """Relay a card check. Needs a right to dopa.card; answers only match / no match."""
        self.check_request(agency, purpose, officer_id)
        if "dopa.card" not in agency.grants:
            raise PermissionDenied("no_right", f"{agency.name} ไม่มีสิทธิ์ตรวจบัตร",
                                   f"{agency.name} has no right to dopa.card, which a card check needs")
        parse_id(card.subject_id, IdKind.CITIZEN)
        return await self.router.check_card(card)

    async def ask_consent(self, agency: AgencyConfig, subject_id: str, doc_types: Sequence[str], purpose: str,
                          officer_id: str, case_ref: str) -> Consent:
        """RequestConsent: a pending consent for types the agency has a right to (linkage/hub/consent.py)."""
        check_batch(doc_types)
        subject = parse_id(subject_id, IdKind.CITIZEN)
        self.check_request(agency, purpose, officer_id)
        for doc_type in doc_types:
            self.router.owner(doc_type)  # a type no registry serves is refused here
            if doc_type not in agency.grants:
                raise PermissionDenied("no_right", f"{agency.name} ไม่มีสิทธิ์ขอ {doc_type}",
                                       f"{agency.name} has no right to {doc_type}", field="doc_types")
        return await self.consents.ask(agency.name, subject, doc_types, purpose, officer_id, case_ref)


def _granted(described: common_pb2.DocumentType, fields: Sequence[str]) -> list[str]:
    names = [f.name for f in described.fields]
    return names if ALL_FIELDS in fields else [n for n in names if n in fields]


def _projection(described: common_pb2.DocumentType, fields: Sequence[str]) -> list[str]:
    """The fields to ask the provider for: empty means all, so a grant that matches no field is refused."""
    if ALL_FIELDS in fields:
        return []
    granted = _granted(described, fields)
    if not granted:
        raise PermissionDenied("no_granted_field", f"ไม่มีช่องข้อมูลใดของ {described.code} ที่ได้รับอนุญาต",
                               f"none of the fields granted for {described.code} exists; ask the sandbox admin to"
                               " fix the grant")
    return granted


# -- admission: the limiter of step 2, the field lengths of step 3 ----------------------------------


@dataclass
class _Account:
    tokens: float
    refilled: float  # monotonic seconds
    day: dt.date
    used_today: int = 0
    refused: int = 0
    logged: float = -math.inf


class AgencyLimiter:
    """Token bucket and daily quota per agency name. Not thread-safe: the hub serves from one event loop.

    ``clock`` (monotonic seconds) and ``now`` (aware datetime) are inputs so that tests can move time.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._clock = clock
        self._now = now
        self._accounts: dict[str, _Account] = {}

    def admit(self, agency: str, limits: AgencyLimits, cost: int = 1) -> None:
        """Charge ``cost`` calls (at least 1, at most ``limits.burst``) to agency, or raise LimitExceeded.

        A refused call charges nothing. Reasons: ``quota_exhausted`` (retry after the
        next Bangkok midnight), ``rate_limited`` (retry when the bucket holds ``cost``).
        """
        cost = max(1, min(cost, limits.burst))
        moment, today = self._clock(), self._now().astimezone(BANGKOK)
        account = self._accounts.get(agency)
        if account is None:
            account = self._accounts[agency] = _Account(float(limits.burst), moment, today.date())
        account.tokens = min(float(limits.burst), account.tokens + (moment - account.refilled) * limits.rate_per_s)
        account.refilled = moment
        if account.day != today.date():
            account.day, account.used_today = today.date(), 0
        if account.used_today + cost > limits.daily_quota:
            self._refused(agency, account, moment, "quota_exhausted")
            raise quota_exhausted(agency, limits, today)
        if account.tokens < cost:
            wait_ms = max(1, math.ceil((cost - account.tokens) / limits.rate_per_s * 1000))
            self._refused(agency, account, moment, "rate_limited")
            raise rate_limited(agency, limits, wait_ms)
        account.tokens -= cost
        account.used_today += cost

    def used_today(self, agency: str) -> int:
        """Calls charged to agency since Bangkok's last midnight (as of its last call)."""
        account = self._accounts.get(agency)
        return 0 if account is None else account.used_today

    def _refused(self, agency: str, account: _Account, moment: float, reason: str) -> None:
        account.refused += 1
        if moment - account.logged >= REFUSAL_LOG_INTERVAL_S:
            _limits_log.warning("calls refused since the last such line",
                                extra={"agency": agency, "refused": account.refused, "reason": reason})
            account.refused, account.logged = 0, moment


def _check_length(name: str, value: str | bytes, where: str) -> None:
    """Raise InvalidRequest ``<name>_too_long`` when value is longer than its limit in FIELD_LIMITS."""
    limit = FIELD_LIMITS.get(name, OTHER_FIELD_LIMIT)
    if len(value) <= limit:
        return
    unit_th, unit_en = ("ไบต์", "bytes") if isinstance(value, bytes) else ("ตัวอักษร", "characters")
    raise InvalidRequest(f"{name}_too_long", f"ยาวเกิน {limit} {unit_th}",
                         f"{where} is {len(value)} {unit_en} long; at most {limit} are allowed", field=where)


def check_fields(message: Message, prefix: str = "") -> None:
    """Check every string and bytes field of a request, nested and repeated ones too, against FIELD_LIMITS.

    Raises InvalidRequest ``<field>_too_long`` naming the first field over its limit (``card.laser_code``,
    ``doc_types[2]``). How many items a list may hold is the rule of its method (e.g. MAX_BATCH).
    """
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        items = list(enumerate(value)) if field.is_repeated else [(None, value)]
        for i, item in items:
            where = path if i is None else f"{path}[{i}]"
            if field.type in _TEXT:
                _check_length(field.name, item, where)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                check_fields(item, f"{where}.")
