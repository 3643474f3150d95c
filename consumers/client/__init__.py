"""The client library agencies embed to call the linkage hub.

    async with HubClient.connect("127.0.0.1:7443", ca_cert, agency_cert) as hub:
        doc = await hub.fetch_document("dopa.person", "1101700230708",
                                       purpose="ขึ้นทะเบียนผู้สูงอายุ", officer_id="3100600123458")

Failures raise the hub's own error classes (``linkage.errors``), rebuilt from
the status details, so callers branch on ``err.reason``, never on text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import grpc

from linkage import pki
from linkage.errors import from_rpc_error
from linkage.v1 import hub_pb2, hub_pb2_grpc

__all__ = ["HubClient"]


class HubClient:
    """One mTLS channel to the hub, with the agency's certificate."""

    def __init__(self, channel: grpc.aio.Channel, timeout: float = 10.0) -> None:
        self._channel = channel
        self._stub = hub_pb2_grpc.LinkageHubStub(channel)
        self.timeout = timeout

    @classmethod
    def connect(cls, address: str, ca_cert: Path, agency: pki.CertPaths, timeout: float = 10.0) -> HubClient:
        creds = pki.channel_credentials(ca_cert, agency)
        return cls(grpc.aio.secure_channel(address, creds), timeout)

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: str, request: object) -> object:
        try:
            return await getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None

    async def list_services(self) -> hub_pb2.ListServicesResponse:
        answer = await self._call("ListServices", hub_pb2.ListServicesRequest())
        assert isinstance(answer, hub_pb2.ListServicesResponse)
        return answer

    async def fetch_document(self, doc_type: str, subject_id: str, *, purpose: str, officer_id: str,
                             case_ref: str = "", citizen_present: bool = False) -> hub_pb2.FetchDocumentResponse:
        answer = await self._call("FetchDocument", hub_pb2.FetchDocumentRequest(
            doc_type=doc_type, subject_id=subject_id, purpose=purpose, officer_id=officer_id, case_ref=case_ref,
            citizen_present=citizen_present))
        assert isinstance(answer, hub_pb2.FetchDocumentResponse)
        return answer

    async def fetch_documents(self, doc_types: Sequence[str], subject_id: str, *, purpose: str, officer_id: str,
                              case_ref: str = "", citizen_present: bool = False) -> hub_pb2.FetchDocumentsResponse:
        answer = await self._call("FetchDocuments", hub_pb2.FetchDocumentsRequest(
            doc_types=list(doc_types), subject_id=subject_id, purpose=purpose, officer_id=officer_id,
            case_ref=case_ref, citizen_present=citizen_present))
        assert isinstance(answer, hub_pb2.FetchDocumentsResponse)
        return answer

    async def agent_status(self, officer_id: str, citizen_id: str = "") -> hub_pb2.GetAgentStatusResponse:
        answer = await self._call("GetAgentStatus",
                                  hub_pb2.GetAgentStatusRequest(officer_id=officer_id, citizen_id=citizen_id))
        assert isinstance(answer, hub_pb2.GetAgentStatusResponse)
        return answer
