"""The auditor's blocking gRPC client of ``linkage.v1.AuditLog``: a ``LogSource`` plus the auditor-only calls.

    with AuditClient.connect("127.0.0.1:7443", ca_pem, CertPaths(cert, key)) as log:
        note = log.checkpoint()

Transport failures raise ``HubUnreachable``; the hub's refusals raise
``HubRefused`` carrying its code.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from consumers.auditor.errors import HubRefused, HubUnreachable
from consumers.auditor.log import Entry, InclusionProof, Revocation
from linkage import pki
from linkage.errors import from_rpc_error
from linkage.officercard import OpenCard
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2, hub_pb2_grpc

__all__ = ["AuditClient"]

_TRANSPORT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class AuditClient:
    """One mTLS channel to the hub's AuditLog service. Use ``with`` or call ``close``."""

    def __init__(self, channel: grpc.Channel, address: str, timeout: float = 10.0) -> None:
        self._channel = channel
        self._stub = audit_pb2_grpc.AuditLogStub(channel)
        self.address = address
        self.timeout = timeout

    @classmethod
    def connect(cls, address: str, ca_cert: Path, agency: pki.CertPaths, timeout: float = 10.0) -> AuditClient:
        """A client of the hub at ``address``; raises HubUnreachable if the credentials cannot be read."""
        try:
            creds = pki.channel_credentials(ca_cert, agency)
        except OSError as exc:
            raise HubUnreachable(f"cannot read the agency certificate or key ({exc})") from exc
        return cls(grpc.secure_channel(address, creds), address, timeout)

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, request: Any, stub: Any = None) -> Any:
        try:
            return getattr(stub or self._stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            err = from_rpc_error(exc)
            if exc.code() in _TRANSPORT and err.code.startswith("transport_"):
                raise HubUnreachable(f"the hub at {self.address} did not answer {method}: {err.message}") from None
            raise HubRefused(err.code, f"{method}: {err.message} ({err.code})") from None

    def checkpoint(self) -> str:
        answer: audit_pb2.SignedCheckpoint = self._call("GetCheckpoint", audit_pb2.GetCheckpointRequest())
        return answer.note

    def witnessed_checkpoint(self) -> str:
        answer: audit_pb2.SignedCheckpoint = self._call("GetCheckpoint",
                                                        audit_pb2.GetCheckpointRequest(witnessed=True))
        return answer.note

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        answer: audit_pb2.InclusionProof = self._call(
            "GetInclusionProof", audit_pb2.GetInclusionProofRequest(index=index, tree_size=tree_size))
        return InclusionProof(answer.leaf_index, answer.tree_size, tuple(answer.hashes))

    def consistency_proof(self, old_size: int, new_size: int) -> tuple[bytes, ...]:
        answer: audit_pb2.ConsistencyProof = self._call(
            "GetConsistencyProof", audit_pb2.GetConsistencyProofRequest(old_size=old_size, new_size=new_size))
        if answer.old_size != old_size or answer.new_size != new_size:
            raise HubRefused("wrong_sizes", f"asked for a proof {old_size} -> {new_size}, got "
                                            f"{answer.old_size} -> {answer.new_size}")
        return tuple(answer.hashes)

    def entries(self, start: int, end: int) -> list[Entry]:
        answer: audit_pb2.GetEntriesResponse = self._call(
            "GetEntries", audit_pb2.GetEntriesRequest(start=start, end=end))
        return [Entry(e.index, e.leaf) for e in answer.entries]

    def revocation(self, printout_id: str) -> Revocation:
        answer: audit_pb2.Revocation = self._call(
            "GetRevocation", audit_pb2.GetRevocationRequest(printout_id=printout_id))
        return Revocation(answer.revoked, answer.reason, answer.revoked_at, answer.log_index)

    def revocation_list(self) -> str:
        answer: audit_pb2.RevocationList = self._call("GetRevocationList", audit_pb2.GetRevocationListRequest())
        return answer.note

    def locate(self, printout_id: str, subject_id: str) -> int | None:
        # The log is indexed by subject (a keyed hash only the hub can compute), not by printout id: the
        # subject's access list names every printout about them with its index. Auditor agencies only.
        for access in self.list_accesses(subject_id):
            if access.printout_id == printout_id:
                return int(access.log_index)
        return None

    def list_accesses(self, subject_id: str) -> list[audit_pb2.Access]:
        answer: audit_pb2.ListAccessesResponse = self._call(
            "ListAccesses", audit_pb2.ListAccessesRequest(subject_id=subject_id))
        return list(answer.accesses)

    def sign_in_officer(self, card: OpenCard) -> str:
        """The officer's session (its secret) for a revocation in their name: the hub's sign-in statement, signed by
        their card. Raises HubRefused (``officer_signature_invalid``, ``officer_key_revoked``, …)."""
        hub = hub_pb2_grpc.LinkageHubStub(self._channel)
        begun: hub_pb2.BeginOfficerSignInResponse = self._call(
            "BeginOfficerSignIn", hub_pb2.BeginOfficerSignInRequest(officer_id=card.officer_id), hub)
        done: hub_pb2.FinishOfficerSignInResponse = self._call(
            "FinishOfficerSignIn", hub_pb2.FinishOfficerSignInRequest(
                statement=begun.statement, kid=card.kid, signature=card.sign(begun.statement)), hub)
        return done.session

    def revoke(self, printout_id: str, reason: str, officer_id: str,
               officer_session: str = "") -> audit_pb2.RevokePrintoutResponse:
        """Revoke a printout issued to this agency, as the officer of ``officer_session`` (``sign_in_officer``), or
        by their bare ID while the hub accepts that."""
        answer: audit_pb2.RevokePrintoutResponse = self._call(
            "RevokePrintout", audit_pb2.RevokePrintoutRequest(printout_id=printout_id, reason=reason,
                                                              officer_id=officer_id, officer_session=officer_session))
        return answer
