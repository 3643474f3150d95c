"""gRPC servicer of the LinkageHub: proto <-> domain translation, nothing more.

The calling agency is the common name of the client certificate that the TLS
handshake verified against the linkage CA; no request field can change it.
"""

from __future__ import annotations

import grpc

from linkage.config import AgencyConfig
from linkage.errors import LinkageError, grpc_errors, to_problem
from linkage.hub import FetchRequest, Hub, Issued
from linkage.ids import IdKind, parse_id
from linkage.v1 import hub_pb2, hub_pb2_grpc

__all__ = ["HubServicer"]


def _issued(issued: Issued) -> hub_pb2.FetchDocumentResponse:
    return hub_pb2.FetchDocumentResponse(printout_id=issued.printout_id, jws=issued.jws, log_index=issued.log_index,
                                         doc_type=issued.doc_type, issued_at=issued.issued_at)


class HubServicer(hub_pb2_grpc.LinkageHubServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def _agency(self, context: grpc.aio.ServicerContext) -> AgencyConfig:
        names = context.auth_context().get("x509_common_name") or [b""]
        return self._hub.agency(names[0].decode("utf-8", "replace"))

    @grpc_errors
    async def ListServices(self, request: hub_pb2.ListServicesRequest,
                           context: grpc.aio.ServicerContext) -> hub_pb2.ListServicesResponse:
        agency = self._agency(context)
        grants = [
            hub_pb2.ServiceGrant(doc_type=described, provider=provider, service=service, granted_fields=fields)
            for described, provider, service, fields in await self._hub.services(agency)
        ]
        return hub_pb2.ListServicesResponse(agency=agency.name, services=grants)

    @grpc_errors
    async def FetchDocument(self, request: hub_pb2.FetchDocumentRequest,
                            context: grpc.aio.ServicerContext) -> hub_pb2.FetchDocumentResponse:
        agency = self._agency(context)
        issued = await self._hub.fetch(agency, FetchRequest(
            request.doc_type, request.subject_id, request.purpose, request.officer_id, request.case_ref,
            request.citizen_present))
        return _issued(issued)

    @grpc_errors
    async def FetchDocuments(self, request: hub_pb2.FetchDocumentsRequest,
                             context: grpc.aio.ServicerContext) -> hub_pb2.FetchDocumentsResponse:
        agency = self._agency(context)
        outcomes = await self._hub.fetch_many(agency, list(request.doc_types), FetchRequest(
            "", request.subject_id, request.purpose, request.officer_id, request.case_ref, request.citizen_present))
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
        agency = self._agency(context)
        if not self._hub.agent_available(agency, request.officer_id):
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
        agency = self._agency(context)
        match = await self._hub.check_card(agency, request.card, request.purpose, request.officer_id)
        return hub_pb2.HubCheckCardResponse(match=match)
