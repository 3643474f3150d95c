"""A printout as the client hands it over, and the checks it passed on the way in.

``receive(answer, request, agency, trust)`` turns the hub's ``FetchDocumentResponse``
into a ``Printout`` after checking, offline and in this order:

    1-2  the seal: the x5c chain ends at the linkage CA and the seal key signed the
         printout (``consumers.auditor.verify``'s checks 1 and 2)
    4-5  the log proof, when the trust holds the log's note key and origin: the leaf
         is this printout's and chains to a checkpoint the log key signed
    R    request binding: the payload names this agency, document type, subject,
         officer, purpose and case, and its ``request_hash`` is the digest of the
         request that was sent, so an answer to another request is refused

Any failure raises ``PrintoutRejected`` carrying the auditor's ``Report``.
``trust=None`` skips every check (the caller chose
``insecure_skip_verification``): the payload is decoded, unverified.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from consumers.auditor.bundle import LogProof
from consumers.auditor.bundle import Printout as _Examined
from consumers.auditor.errors import VerificationError
from consumers.auditor.verify import Report, Trust, verify_printout
from consumers.client.errors import PrintoutRejected
from linkage.errors import InvalidRequest
from linkage.ids import parse_id
from linkage.seal import CompactJWS, FetchRequest, unverified_payload
from linkage.v1 import hub_pb2

__all__ = ["Printout", "receive"]


@dataclass(frozen=True)
class Printout:
    """One sealed printout: the JWS, its decoded payload, where it sits in the exchange log and its proof.

    ``report`` is the verification made on receipt (None when it was skipped).
    """

    printout_id: str
    doc_type: str
    jws: CompactJWS
    payload: dict[str, Any]
    issued_at: str
    log_index: int
    proof: LogProof | None
    report: Report | None

    @property
    def data(self) -> dict[str, Any]:
        """The record's fields granted to the agency."""
        data = self.payload.get("data", {})
        return data if isinstance(data, dict) else {}

    @property
    def checkpoint(self) -> str:
        """The signed checkpoint note the proof is made against ("" without a proof)."""
        return self.proof.checkpoint if self.proof else ""

    @property
    def verified(self) -> bool:
        return self.report is not None and self.report.valid

    def bundle(self) -> dict[str, Any]:
        """The JSON bundle ``linkage verify`` and the auditor read (``consumers.auditor.bundle``)."""
        out: dict[str, Any] = {"printout_id": self.printout_id, "doc_type": self.doc_type,
                               "log_index": self.log_index, "issued_at": self.issued_at, "jws": self.jws}
        if self.proof is not None:
            out["log_leaf"] = self.proof.leaf.decode("utf-8")
            out["inclusion_proof"] = {"leaf_index": self.proof.leaf_index, "tree_size": self.proof.tree_size,
                                      "hashes": [base64.b64encode(h).decode("ascii") for h in self.proof.hashes]}
            out["checkpoint"] = self.proof.checkpoint
        return out


def receive(answer: hub_pb2.FetchDocumentResponse, request: FetchRequest, agency: str,
            trust: Trust | None) -> Printout:
    """The printout in ``answer`` to ``request`` from ``agency``, checked against ``trust``; raises PrintoutRejected."""
    jws = CompactJWS(answer.jws)
    proof = None
    if answer.log_leaf:
        proof = LogProof(leaf=bytes(answer.log_leaf), leaf_index=answer.inclusion_proof.leaf_index,
                         tree_size=answer.inclusion_proof.tree_size,
                         hashes=tuple(bytes(h) for h in answer.inclusion_proof.hashes),
                         checkpoint=answer.checkpoint.note)
    report = None
    if trust is not None:
        # The log proof is checked only against a pinned log key; without one, checks 4-5 are skipped.
        with_log = trust.log_key is not None and bool(trust.origin)
        examined = _Examined("bundle", jws, answer.log_index, proof if with_log else None)
        try:
            report = verify_printout(examined, trust)
        except VerificationError as exc:
            raise PrintoutRejected("printout_invalid", "เอกสารที่ได้รับอ่านไม่ได้",
                                   f"the printout for {request.doc_type} cannot be read: {exc.message}") from exc
        if not report.valid:
            failed = "; ".join(c.render() for c in report.failed) or "a required check was skipped"
            raise PrintoutRejected("printout_invalid", "ตราประทับของเอกสารไม่ถูกต้อง",
                                   f"the printout for {request.doc_type} failed verification: {failed}", report=report)
        assert report.printout is not None
        payload = report.printout
        mismatched = _binding_problems(payload, request, agency)
        if mismatched:
            raise PrintoutRejected("printout_not_requested", "เอกสารที่ได้รับไม่ตรงกับคำขอ",
                                   f"the printout does not answer the request sent: {'; '.join(mismatched)}",
                                   report=report)
    else:
        try:
            payload = unverified_payload(jws)
        except ValueError as exc:
            raise PrintoutRejected("printout_invalid", "เอกสารที่ได้รับอ่านไม่ได้",
                                   f"the printout for {request.doc_type} cannot be read: {exc}") from exc
    # The signed payload, not the answer's envelope, names the printout.
    return Printout(printout_id=str(payload.get("printout_id", answer.printout_id)),
                    doc_type=str(payload.get("doc_type", answer.doc_type)), jws=jws, payload=payload,
                    issued_at=str(payload.get("issued_at", answer.issued_at)), log_index=answer.log_index,
                    proof=proof, report=report)


def _binding_problems(payload: dict[str, Any], request: FetchRequest, agency: str) -> list[str]:
    try:
        subject: str = parse_id(request.subject_id)  # normalised as the hub does
    except InvalidRequest:
        subject = request.subject_id  # the hub refuses it: a printout for it can only be a wrong one
    asked = {"agency": agency, "doc_type": request.doc_type, "subject_id": subject, "officer_id": request.officer_id,
             "purpose": request.purpose, "case_ref": request.case_ref}
    problems = [f"{name} is {payload.get(name)!r}, the request said {value!r}"
                for name, value in asked.items() if payload.get(name) != value]
    expected = request.binding(agency, subject)
    if payload.get("request_hash") != expected:
        problems.append(f"request_hash {str(payload.get('request_hash'))[:23]}… is not the request's {expected[:23]}…")
    return problems
