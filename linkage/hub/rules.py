"""The hub's rules, apart from gRPC: who may read what, and how a printout is issued.

Before anything, the caller's certificate is checked against the rights table as
it is now (linkage.toml is followed while the hub runs, see ``LiveSettings``): a
revoked agency is refused on its next call although its certificate still chains
to the CA. Then the call is charged to the agency's rate limit and daily quota
(``Hub.admit``, linkage/limits.py): a refused call goes no further.

A printout is issued in this order, and only in this order:
  1. the agency (from its certificate) has a right to the document type;
  2. the subject ID is well formed and of the kind the type is keyed by;
  3. purpose and officer are given, and the officer is registered with the agency;
  4. the citizen is present where the type demands it;
  5. the provider answers with only the fields granted to the agency;
  6. the hub seals the printout (JWS, ES256);
  7. the exchange log commits its entry durably;
only then does the printout leave the hub. A failure at any step issues nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from linkage.config import ALL_FIELDS, AgencyConfig, LiveSettings, Settings
from linkage.errors import InvalidRequest, LinkageError, NotFound, PermissionDenied, Unauthenticated
from linkage.hub.log import Appended, ExchangeLog, LogEntry, RevocationEntry
from linkage.hub.routing import Router
from linkage.ids import IdKind, NationalId, parse_id, parse_officer_id
from linkage.limits import MAX_BATCH, AgencyLimiter, check_length
from linkage.seal import FetchRequest, Sealer, format_issued_at, printout_digest
from linkage.v1 import common_pb2, provider_pb2

__all__ = ["Hub", "Issued"]

_log = logging.getLogger("linkage.hub")
_KINDS = {common_pb2.SUBJECT_KIND_CITIZEN: IdKind.CITIZEN, common_pb2.SUBJECT_KIND_JURISTIC: IdKind.JURISTIC}


@dataclass(frozen=True)
class Issued:
    printout_id: str
    doc_type: str
    jws: str
    issued_at: str
    logged: Appended


class Hub:
    """Rights, routing, sealing and logging, for one configuration."""

    def __init__(self, settings: Settings, router: Router, sealer: Sealer, log: ExchangeLog) -> None:
        self._live = LiveSettings(settings)
        self.router = router
        self.sealer = sealer
        self.log = log
        self._revoke_lock = asyncio.Lock()
        self.limiter = AgencyLimiter()

    @property
    def settings(self) -> Settings:
        """The settings now in force: agencies and revocations follow linkage.toml."""
        return self._live.current()

    def agency(self, common_name: str | None, cert_sha256: str | None = None) -> AgencyConfig:
        """The agency a client certificate speaks for, by its common name and SHA-256 fingerprint.

        Raises Unauthenticated: ``agency_revoked`` for a certificate or agency whose access
        was revoked, ``unknown_agency`` for a name not in the configuration,
        ``certificate_not_registered`` when the agency is pinned to another certificate.
        """
        settings = self.settings
        name = common_name or ""
        revoked = settings.revocation_of(cert_sha256) if cert_sha256 else None
        agency = settings.agencies.get(name)
        if revoked is None and agency is None:
            revoked = settings.revoked.get(name)
        if revoked is not None:
            raise Unauthenticated(
                "agency_revoked",
                f"สิทธิ์เข้าถึงข้อมูลของ {revoked.name} ถูกเพิกถอนแล้วเมื่อ {revoked.revoked_at} / the access of agency"
                f" {revoked.name} was revoked at {revoked.revoked_at}; this certificate is no longer accepted",
            )
        if agency is None:
            raise Unauthenticated(
                "unknown_agency",
                "ใบรับรองนี้ไม่ได้ลงทะเบียนเป็นหน่วยงานผู้ใช้ข้อมูล / this certificate does not belong to a"
                f" registered agency ({(name or 'no common name')[:64]})",
            )
        if agency.cert_sha256 and cert_sha256 != agency.cert_sha256:
            raise Unauthenticated(
                "certificate_not_registered",
                f"ใบรับรองนี้ไม่ใช่ใบที่ลงทะเบียนไว้สำหรับ {agency.name} / this is not the certificate registered for"
                f" {agency.name}; use the one `linkage agency add` issued",
            )
        return agency

    def admit(self, agency: AgencyConfig, cost: int = 1) -> None:
        """Charge a call of cost units to the agency's rate limit and daily quota. Raises LimitExceeded."""
        self.limiter.admit(agency.name, agency.limits, cost)

    async def services(self, agency: AgencyConfig) -> list[tuple[common_pb2.DocumentType, str, str, list[str]]]:
        """Each type the agency may fetch: description, provider, X-Road service address, granted fields."""
        out = []
        for doc_type, fields in sorted(agency.grants.items()):
            described = await self.router.describe(doc_type)
            provider = self.router.owner(doc_type).name
            service = f"{self.router.member(provider)}/{doc_type}/v1"
            out.append((described, provider, service, _granted(described, fields)))
        return out

    def check_request(self, agency: AgencyConfig, purpose: str, officer_id: str, case_ref: str) -> None:
        """Step 3: purpose, case ref and officer. Raises InvalidRequest or PermissionDenied."""
        if not purpose.strip():
            raise InvalidRequest("purpose_missing",
                                 "purpose: ต้องระบุวัตถุประสงค์ของการขอข้อมูล / purpose is required: say why the data"
                                 " is needed (PDPA: data is used only for its stated purpose)")
        check_length("purpose", purpose)
        check_length("case_ref", case_ref)
        officer = parse_officer_id(officer_id)
        if officer not in agency.officers:
            raise PermissionDenied("officer_not_registered",
                                   f"officer_id: เจ้าหน้าที่ผู้นี้ไม่ได้ลงทะเบียนกับ {agency.name} / this officer is not"
                                   f" registered with {agency.name}")

    async def fetch(self, agency: AgencyConfig, req: FetchRequest) -> Issued:
        """Issue one printout. Raises a LinkageError and issues nothing when any step fails."""
        self.check_request(agency, req.purpose, req.officer_id, req.case_ref)
        return await self._fetch_checked(agency, req)

    async def fetch_many(self, agency: AgencyConfig, doc_types: Sequence[str],
                         req: FetchRequest) -> list[Issued | LinkageError]:
        """Several types for one subject; each failure is returned in its place, not raised.

        Raises only for what is wrong with the request as a whole.
        """
        if not doc_types:
            raise InvalidRequest("doc_types_missing", "doc_types: ต้องระบุประเภทเอกสารอย่างน้อยหนึ่งประเภท"
                                 " / name at least one document type")
        if len(doc_types) > MAX_BATCH:
            raise InvalidRequest("batch_too_large", f"doc_types: ขอได้ไม่เกิน {MAX_BATCH} ประเภทต่อครั้ง"
                                 f" / at most {MAX_BATCH} document types per call, got {len(doc_types)}")
        if len(set(doc_types)) != len(doc_types):
            raise InvalidRequest("doc_types_repeated", "doc_types: มีประเภทเอกสารซ้ำ / a document type is"
                                 " named more than once")
        parse_id(req.subject_id)
        self.check_request(agency, req.purpose, req.officer_id, req.case_ref)

        async def one(doc_type: str) -> Issued | LinkageError:
            try:
                return await self._fetch_checked(agency, FetchRequest(doc_type, req.subject_id, req.purpose,
                                                                      req.officer_id, req.case_ref,
                                                                      req.citizen_present))
            except LinkageError as err:
                return err

        return list(await asyncio.gather(*(one(t) for t in doc_types)))

    async def _fetch_checked(self, agency: AgencyConfig, req: FetchRequest) -> Issued:
        started = time.perf_counter()
        provider = self.router.owner(req.doc_type)  # unknown type -> InvalidRequest
        fields = agency.grants.get(req.doc_type)
        if fields is None:
            allowed = ", ".join(sorted(agency.grants)) or "nothing"
            raise PermissionDenied("no_right",
                                   f"doc_type: {agency.name} ไม่มีสิทธิ์ขอ {req.doc_type} / {agency.name} has no right to"
                                   f" {req.doc_type}; it may read: {allowed}")
        described = await self.router.describe(req.doc_type)
        subject = parse_id(req.subject_id, _KINDS.get(described.subject_kind))
        if described.requires_citizen_present and not req.citizen_present:
            raise InvalidRequest("citizen_not_present",
                                 f"citizen_present: {req.doc_type} ให้ได้เฉพาะเมื่อเจ้าของข้อมูลมาแสดงตนพร้อมบัตร"
                                 f" / {req.doc_type} is served only when the citizen is present with their card")
        data = await self.router.get_record(req.doc_type, subject, _projection(described, fields))
        issued = await self._seal_and_log(agency, req, subject, provider.name, data)
        _log.debug("issued", extra={"agency": agency.name, "doc_type": req.doc_type, "provider": provider.name,
                                    "log_index": issued.logged.index,
                                    "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
        return issued

    async def _seal_and_log(self, agency: AgencyConfig, req: FetchRequest, subject: NationalId,
                            provider: str, data: dict[str, object]) -> Issued:
        printout_id = str(uuid.uuid4())
        issued_at = format_issued_at(dt.datetime.now(dt.UTC))
        binding = req.binding(agency.name, subject)
        jws = self.sealer.seal({
            "printout_id": printout_id, "doc_type": req.doc_type, "subject_id": subject, "data": data,
            "issuer": self.settings.hub.issuer, "provider": provider, "agency": agency.name,
            "officer_id": req.officer_id, "purpose": req.purpose, "case_ref": req.case_ref,
            "issued_at": issued_at, "request_hash": binding,
        })
        logged = await self.log.append(LogEntry(
            printout_id=printout_id, doc_type=req.doc_type, provider=provider, agency=agency.name,
            officer_id=req.officer_id, purpose=req.purpose, case_ref=req.case_ref, issued_at=issued_at,
            subject_hash=self.log.subject_hash(subject), printout_sha256=printout_digest(jws),
        ))
        return Issued(printout_id, req.doc_type, jws, issued_at, logged)

    async def revoke(self, agency: AgencyConfig, printout_id: str, reason: str, officer_id: str) -> Appended:
        """Revoke a printout issued to this agency; the revocation is logged. Raises on anything else."""
        if not reason.strip():
            raise InvalidRequest("reason_missing", "reason: ต้องระบุเหตุผลที่เพิกถอน / say why the printout is revoked")
        self.check_request(agency, reason, officer_id, "")
        async with self._revoke_lock:  # one revocation per printout, even when two race
            leaf = await self.log.printout(printout_id)
            if leaf is None or leaf.get("agency") != agency.name:
                raise NotFound("printout_not_found",
                               f"ไม่พบเอกสาร {printout_id[:40]!r} ที่ออกให้ {agency.name} / no printout"
                               f" {printout_id[:40]!r} was issued to {agency.name}")
            if await self.log.revocation(printout_id) is not None:
                raise InvalidRequest("already_revoked", f"เอกสารนี้ถูกเพิกถอนแล้ว / printout {printout_id} is"
                                     " already revoked")
            return await self.log.append(RevocationEntry(
                printout_id=printout_id, agency=agency.name, officer_id=officer_id, reason=reason,
                revoked_at=format_issued_at(dt.datetime.now(dt.UTC))))

    def agent_available(self, agency: AgencyConfig, officer_id: str) -> bool:
        return parse_officer_id(officer_id) in agency.officers

    async def check_card(self, agency: AgencyConfig, card: provider_pb2.CheckCardRequest, purpose: str,
                         officer_id: str) -> bool:
        """Relay a card check. Needs a right to dopa.card; answers only match / no match."""
        self.check_request(agency, purpose, officer_id, "")
        if "dopa.card" not in agency.grants:
            raise PermissionDenied("no_right", f"{agency.name} ไม่มีสิทธิ์ตรวจบัตร / {agency.name} has no right to"
                                   " dopa.card, which a card check needs")
        parse_id(card.subject_id, IdKind.CITIZEN)
        return await self.router.check_card(card)


    async def check_access_listing(self, agency: AgencyConfig, subject: str,
                                   card: provider_pb2.CheckCardRequest | None) -> None:
        """May agency list who read subject's data? Auditors may; anyone else only on the citizen's own behalf,
        proved by the citizen's card details matching an active card in the civil registry."""
        if agency.auditor:
            return
        if card is None:
            raise PermissionDenied("not_an_auditor", f"{agency.name} ไม่ใช่หน่วยตรวจสอบ / only auditor agencies, or"
                                   " the citizen with their own card details, may list who read a subject's data;"
                                   f" {agency.name} is not an auditor")
        if card.subject_id != subject:
            raise PermissionDenied("not_own_id", "ดูประวัติได้เฉพาะของตนเองเท่านั้น / a citizen may list accesses"
                                   " to their own ID only; the card's ID differs from the one asked about")
        parse_id(subject, IdKind.CITIZEN)
        if not await self.router.check_card(card):
            raise PermissionDenied("citizen_not_verified", "ข้อมูลบัตรไม่ตรงกับทะเบียนราษฎร / the card details do"
                                   " not match an active card of this person in the civil registry")


def _granted(described: common_pb2.DocumentType, fields: Sequence[str]) -> list[str]:
    names = [f.name for f in described.fields]
    return names if ALL_FIELDS in fields else [n for n in names if n in fields]


def _projection(described: common_pb2.DocumentType, fields: Sequence[str]) -> list[str]:
    """The fields to ask the provider for: empty means all, so a grant that matches no field is refused."""
    if ALL_FIELDS in fields:
        return []
    granted = _granted(described, fields)
    if not granted:
        raise PermissionDenied("no_granted_field",
                               f"ไม่มีช่องข้อมูลใดของ {described.code} ที่ได้รับอนุญาต / none of the fields granted for"
                               f" {described.code} exists; ask the sandbox admin to fix the grant")
    return granted
