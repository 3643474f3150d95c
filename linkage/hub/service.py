"""gRPC servicers of the hub: proto <-> domain translation, nothing more.

Every method first has its call admitted by ``Hub.admit`` (linkage/hub/rules.py, steps 1-3): the
calling agency is the one its client certificate names, under the rights in force now (no
request field can change it), the call is charged to the agency's rate limit and daily quota,
and every string field of the request is checked against its length, before anything else.
The rules then do the work; the answer is built here. Errors become gRPC statuses in
``grpc_errors`` (linkage/errors.py).
"""

from __future__ import annotations

import json

import grpc

from linkage import merkle
from linkage.errors import InvalidRequest, LinkageError, NotFound, grpc_errors, to_problem
from linkage.hub import citizens
from linkage.hub.consent import Consent
from linkage.hub.log import SignedTree
from linkage.hub.officers import caller_cert_sha256
from linkage.hub.rules import Hub, Issued
from linkage.ids import IdKind, parse_id
from linkage.limits import MAX_BATCH, MAX_ENTRIES
from linkage.seal import FetchRequest, format_issued_at
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2, hub_pb2_grpc

__all__ = ["AuditServicer", "HubServicer"]


def _signed(tree: SignedTree) -> audit_pb2.SignedCheckpoint:
    cp = tree.checkpoint
    return audit_pb2.SignedCheckpoint(note=tree.note, origin=cp.origin, size=cp.size, root_hash=cp.root_hash)


def _issued(issued: Issued) -> hub_pb2.FetchDocumentResponse:
    logged = issued.logged
    return hub_pb2.FetchDocumentResponse(
        printout_id=issued.printout_id, jws=issued.jws, log_index=logged.index, doc_type=issued.doc_type,
        issued_at=issued.issued_at, log_leaf=logged.leaf, checkpoint=_signed(logged.tree),
        inclusion_proof=audit_pb2.InclusionProof(leaf_index=logged.index, tree_size=logged.tree.checkpoint.size,
                                                 hashes=logged.proof))


class HubServicer(hub_pb2_grpc.LinkageHubServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    @grpc_errors
    async def ListServices(self, request: hub_pb2.ListServicesRequest,
                           context: grpc.aio.ServicerContext) -> hub_pb2.ListServicesResponse:
        agency = self._hub.admit(context.auth_context(), request)
        grants = [
            hub_pb2.ServiceGrant(doc_type=described, provider=provider, service=service, granted_fields=fields)
            for described, provider, service, fields in await self._hub.services(agency)
        ]
        return hub_pb2.ListServicesResponse(agency=agency.name, services=grants)

    @grpc_errors
    async def FetchDocument(self, request: hub_pb2.FetchDocumentRequest,
                            context: grpc.aio.ServicerContext) -> hub_pb2.FetchDocumentResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        session = await self._hub.officer_session(peer, agency, request.officer_session, request.officer_id,
                                                  consented=bool(request.consent_id))
        issued = await self._hub.fetch(agency, FetchRequest(
            request.doc_type, request.subject_id, request.purpose, session.officer_id if session else
            request.officer_id, request.case_ref, request.citizen_present), session,
            request.presence if request.HasField("presence") else None, request.consent_id)
        return _issued(issued)

    @grpc_errors
    async def FetchDocuments(self, request: hub_pb2.FetchDocumentsRequest,
                             context: grpc.aio.ServicerContext) -> hub_pb2.FetchDocumentsResponse:
        # A batch costs one call per document type (MAX_BATCH at most: a longer one is refused as a whole).
        peer = context.auth_context()
        agency = self._hub.admit(peer, request, min(len(request.doc_types), MAX_BATCH))
        session = await self._hub.officer_session(peer, agency, request.officer_session, request.officer_id,
                                                  consented=bool(request.consent_id))
        outcomes = await self._hub.fetch_many(agency, list(request.doc_types), FetchRequest(
            "", request.subject_id, request.purpose, session.officer_id if session else request.officer_id,
            request.case_ref, request.citizen_present), session,
            request.presence if request.HasField("presence") else None, request.consent_id)
        results = []
        for doc_type, outcome in zip(request.doc_types, outcomes, strict=True):
            if isinstance(outcome, LinkageError):
                results.append(hub_pb2.DocumentResult(doc_type=doc_type, problem=to_problem(outcome)))
            else:
                results.append(hub_pb2.DocumentResult(doc_type=doc_type, document=_issued(outcome)))
        return hub_pb2.FetchDocumentsResponse(results=results)

    @grpc_errors
    async def GetAgentStatus(self, request: hub_pb2.GetAgentStatusRequest,
                             context: grpc.aio.ServicerContext) -> hub_pb2.GetAgentStatusResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        session = await self._hub.officer_session(peer, agency, request.officer_session, request.officer_id)
        if not self._hub.agent_available(agency, session.officer_id if session else request.officer_id):
            status = hub_pb2.AGENT_NOT_AVAILABLE
        elif request.citizen_id:
            parse_id(request.citizen_id, IdKind.CITIZEN, what="citizen_id")
            status = hub_pb2.CITIZEN_AVAILABLE
        else:
            status = hub_pb2.AGENT_AVAILABLE
        return hub_pb2.GetAgentStatusResponse(status=status, agency=agency.name)

    @grpc_errors
    async def CheckCard(self, request: hub_pb2.HubCheckCardRequest,
                        context: grpc.aio.ServicerContext) -> hub_pb2.HubCheckCardResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        session = await self._hub.officer_session(peer, agency, request.officer_session, request.officer_id)
        match = await self._hub.check_card(agency, request.card, request.purpose,
                                           session.officer_id if session else request.officer_id)
        return hub_pb2.HubCheckCardResponse(match=match)

    @grpc_errors
    async def BeginOfficerSignIn(self, request: hub_pb2.BeginOfficerSignInRequest,
                                 context: grpc.aio.ServicerContext) -> hub_pb2.BeginOfficerSignInResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        statement, sign_by, options = await self._hub.officers.begin(agency, caller_cert_sha256(peer),
                                                                     request.officer_id)
        return hub_pb2.BeginOfficerSignInResponse(statement=statement, sign_by=sign_by, webauthn_options=options)

    @grpc_errors
    async def FinishOfficerSignIn(self, request: hub_pb2.FinishOfficerSignInRequest,
                                  context: grpc.aio.ServicerContext) -> hub_pb2.FinishOfficerSignInResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        secret, session = await self._hub.officers.finish(agency, caller_cert_sha256(peer), request.statement,
                                                    request.kid, request.signature, request.webauthn_assertion)
        return hub_pb2.FinishOfficerSignInResponse(session=secret, session_id=session.session_id,
                                                   officer_id=session.officer_id,
                                                   expires_at=format_issued_at(session.expires))


    @grpc_errors
    async def BeginPasskeyEnrolment(self, request: hub_pb2.BeginPasskeyEnrolmentRequest,
                                    context: grpc.aio.ServicerContext) -> hub_pb2.BeginPasskeyEnrolmentResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        options = await self._hub.officers.begin_enrolment(agency, caller_cert_sha256(peer), request.officer_id,
                                                     request.code)
        return hub_pb2.BeginPasskeyEnrolmentResponse(options=options)

    @grpc_errors
    async def FinishPasskeyEnrolment(self, request: hub_pb2.FinishPasskeyEnrolmentRequest,
                                     context: grpc.aio.ServicerContext) -> hub_pb2.FinishPasskeyEnrolmentResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        kid = await self._hub.officers.finish_enrolment(agency, caller_cert_sha256(peer), request.officer_id,
                                                  request.code, request.credential)
        return hub_pb2.FinishPasskeyEnrolmentResponse(kid=kid)

    @grpc_errors
    async def GetPresenceChallenge(self, request: hub_pb2.PresenceChallengeRequest,
                                   context: grpc.aio.ServicerContext) -> hub_pb2.PresenceChallenge:
        agency = self._hub.admit(context.auth_context(), request)
        challenge, expires_at = await self._hub.presence.challenge(agency.name)
        return hub_pb2.PresenceChallenge(challenge=challenge, expires_at=expires_at)

    def _consent(self, consent: Consent, shown: list[hub_pb2.ConsentPreview] | None = None) -> hub_pb2.Consent:
        return hub_pb2.Consent(**self._hub.consents.shown(consent), preview=shown or [])

    @grpc_errors
    async def RequestConsent(self, request: hub_pb2.RequestConsentRequest,
                             context: grpc.aio.ServicerContext) -> hub_pb2.Consent:
        agency = self._hub.admit(context.auth_context(), request)
        return self._consent(await self._hub.ask_consent(agency, request.subject_id, list(request.doc_types),
                                                         request.purpose, request.officer_id, request.case_ref))

    @grpc_errors
    async def ListConsents(self, request: hub_pb2.ListConsentsRequest,
                           context: grpc.aio.ServicerContext) -> hub_pb2.ListConsentsResponse:
        self._hub.admit(context.auth_context(), request)
        card = request.citizen_card if request.HasField("citizen_card") else None
        hub = self._hub
        found = await citizens.consents_of(hub.router, hub.consents, hub.settings.agencies, request.subject_id, card)
        return hub_pb2.ListConsentsResponse(consents=[self._consent(c, shown) for c, shown in found])

    @grpc_errors
    async def DecideConsent(self, request: hub_pb2.DecideConsentRequest,
                            context: grpc.aio.ServicerContext) -> hub_pb2.Consent:
        self._hub.admit(context.auth_context(), request)
        card = request.citizen_card if request.HasField("citizen_card") else None
        return self._consent(await citizens.decide(self._hub.router, self._hub.consents, request.subject_id, card,
                                                   request.consent_id, request.approve))


def _proof_error(err: merkle.MerkleError) -> InvalidRequest:
    return InvalidRequest(getattr(err, "code", "bad_proof_request"), "ขอหลักฐานไม่ได้", str(err))


class AuditServicer(audit_pb2_grpc.AuditLogServicer):
    """Checkpoints, proofs and entries for any agency; access lists for auditor agencies only."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._log = hub.log

    @grpc_errors
    async def GetCheckpoint(self, request: audit_pb2.GetCheckpointRequest,
                            context: grpc.aio.ServicerContext) -> audit_pb2.SignedCheckpoint:
        self._hub.admit(context.auth_context(), request)
        witnessed = await self._log.witnessed() if request.witnessed else None
        return _signed(witnessed or self._log.latest)

    @grpc_errors
    async def GetInclusionProof(self, request: audit_pb2.GetInclusionProofRequest,
                                context: grpc.aio.ServicerContext) -> audit_pb2.InclusionProof:
        self._hub.admit(context.auth_context(), request)
        size = request.tree_size or self._log.size
        if request.WhichOneof("leaf") == "leaf_hash":
            found = await self._log.index_of_leaf_hash(request.leaf_hash)
            if found is None:
                raise NotFound("leaf_not_found", "ไม่พบรายการนี้ในบันทึก", "no log entry has this leaf hash")
            index = found
        else:
            index = request.index
        try:
            hashes = await self._log.inclusion_proof(index, size)
        except merkle.MerkleError as err:
            raise _proof_error(err) from None
        return audit_pb2.InclusionProof(leaf_index=index, tree_size=size, hashes=hashes)

    @grpc_errors
    async def GetConsistencyProof(self, request: audit_pb2.GetConsistencyProofRequest,
                                  context: grpc.aio.ServicerContext) -> audit_pb2.ConsistencyProof:
        self._hub.admit(context.auth_context(), request)
        new_size = request.new_size or self._log.size
        try:
            hashes = await self._log.consistency_proof(request.old_size, new_size)
        except merkle.MerkleError as err:
            raise _proof_error(err) from None
        return audit_pb2.ConsistencyProof(old_size=request.old_size, new_size=new_size, hashes=hashes)

    @grpc_errors
    async def GetEntries(self, request: audit_pb2.GetEntriesRequest,
                         context: grpc.aio.ServicerContext) -> audit_pb2.GetEntriesResponse:
        self._hub.admit(context.auth_context(), request)
        if request.end <= request.start or request.end - request.start > MAX_ENTRIES:
            raise InvalidRequest("bad_range", "ช่วงรายการไม่ถูกต้อง", f"ask for 1 to {MAX_ENTRIES} entries with"
                                 f" start < end (got start={request.start}, end={request.end})")
        # Nothing lies past the log's end (and SQLite cannot even compare with an integer of 2**63 or more).
        end = min(request.end, self._log.size)
        rows = await self._log.entries(request.start, end) if request.start < end else []
        return audit_pb2.GetEntriesResponse(entries=[audit_pb2.LogLeaf(index=i, leaf=leaf) for i, leaf in rows])

    @grpc_errors
    async def ListAccesses(self, request: audit_pb2.ListAccessesRequest,
                           context: grpc.aio.ServicerContext) -> audit_pb2.ListAccessesResponse:
        agency = self._hub.admit(context.auth_context(), request)
        subject = parse_id(request.subject_id)
        card = request.citizen_card if request.HasField("citizen_card") else None
        await citizens.check_access_listing(self._hub.router, agency, subject, card)
        rows = await self._log.accesses(subject)
        return audit_pb2.ListAccessesResponse(accesses=[
            audit_pb2.Access(log_index=i, printout_id=e["printout_id"], doc_type=e["doc_type"], agency=e["agency"],
                             officer_id=e["officer_id"], purpose=e["purpose"], case_ref=e["case_ref"],
                             issued_at=e["issued_at"], revoked=revoked, citizen_present="presence" in e,
                             consent_id=(e.get("consent") or {}).get("consent_id", ""))
            for i, e, revoked in rows])

    @grpc_errors
    async def RevokePrintout(self, request: audit_pb2.RevokePrintoutRequest,
                             context: grpc.aio.ServicerContext) -> audit_pb2.RevokePrintoutResponse:
        peer = context.auth_context()
        agency = self._hub.admit(peer, request)
        session = await self._hub.officer_session(peer, agency, request.officer_session, request.officer_id)
        logged = await self._hub.revoke(agency, request.printout_id, request.reason,
                                        session.officer_id if session else request.officer_id, session)
        revoked_at = json.loads(logged.leaf)["revoked_at"]
        return audit_pb2.RevokePrintoutResponse(log_index=logged.index, revoked_at=revoked_at)

    @grpc_errors
    async def GetRevocationList(self, request: audit_pb2.GetRevocationListRequest,
                                context: grpc.aio.ServicerContext) -> audit_pb2.RevocationList:
        self._hub.admit(context.auth_context(), request)
        return audit_pb2.RevocationList(note=await self._log.revocation_list())

    @grpc_errors
    async def GetRevocation(self, request: audit_pb2.GetRevocationRequest,
                            context: grpc.aio.ServicerContext) -> audit_pb2.Revocation:
        self._hub.admit(context.auth_context(), request)
        found = await self._log.revocation(request.printout_id)
        if found is None:
            return audit_pb2.Revocation(revoked=False)
        index, entry = found
        return audit_pb2.Revocation(revoked=True, reason=entry["reason"], revoked_at=entry["revoked_at"],
                                    log_index=index)
