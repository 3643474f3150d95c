"""``HubClient``: one mTLS channel to one or several hub servers, as one agency.

The channel balances calls over every address with gRPC's own ``round_robin``
policy (several addresses become an ``ipv4:``/``ipv6:`` target list) and checks
every server's certificate against one name, ``server_name`` (the sandbox
hub's certificate is issued to ``hub``). Deadlines, retries and verification
on receipt are described in ``consumers.client``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from consumers.auditor.log import Entry, InclusionProof, Revocation
from consumers.auditor.verify import Trust
from consumers.client.errors import ClientSetupError, PrintoutRejected
from consumers.client.officer import OfficerSession, OfficerSigner, SignedInOfficer, sign_with
from consumers.client.printout import Printout, receive
from consumers.client.retry import DEFAULT_RETRY, RetryPolicy, nothing_issued, unavailable
from linkage import pki
from linkage.cards import CitizenCard, presence_hash
from linkage.checkpoint import CheckpointError, NoteVerifier, parse_verifier_key
from linkage.config import Home
from linkage.errors import LinkageError, from_problem, from_rpc_error
from linkage.ids import parse_id
from linkage.seal import FetchRequest
from linkage.serverconfig import split_address
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2, hub_pb2_grpc, provider_pb2

__all__ = ["HUB_TLS_NAME", "HubClient"]

HUB_TLS_NAME: Final = "hub"
"""The name in the sandbox hub's TLS certificate; every hub address is checked against it."""

_log = logging.getLogger("consumers.client")
_R = TypeVar("_R")
_SERVICE_CONFIG: Final = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
# gRPC waits 1 s, then 1.6x longer, before reconnecting to a server that refused; a hub that comes back
# should be found within the retry budget of one call, so start lower and cap sooner.
_CHANNEL_OPTIONS: Final = (
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
)


class HubClient:
    """The hub's calls, as one agency. Use ``async with`` or call ``close``.

    Every method takes ``timeout`` (seconds; default the client's), one
    deadline for all its attempts. Refusals raise the hub's ``LinkageError``
    subclasses; a printout that fails the checks on receipt raises
    ``PrintoutRejected``.
    """

    def __init__(self, channel: grpc.aio.Channel, *, agency: str, trust: Trust | None, timeout: float = 10.0,
                 retry: RetryPolicy = DEFAULT_RETRY, rng: random.Random | None = None) -> None:
        self._channel = channel
        self._hub = hub_pb2_grpc.LinkageHubStub(channel)
        self._audit = audit_pb2_grpc.AuditLogStub(channel)
        self.agency = agency
        self.trust = trust
        self.timeout = timeout
        self.retry = retry
        self._rng = rng or random.Random()

    @classmethod
    def connect(cls, addresses: str | Sequence[str], ca_cert: Path, agency: pki.CertPaths, *,
                timeout: float = 10.0, retry: RetryPolicy = DEFAULT_RETRY, server_name: str = HUB_TLS_NAME,
                log_key: NoteVerifier | None = None, log_origin: str | None = None,
                insecure_skip_verification: bool = False) -> HubClient:
        """A client of the hub at ``addresses`` ("host:port", or several IP:port for round-robin).

        Printouts are verified against ``ca_cert`` on receipt, and their log
        proofs too when ``log_key`` and ``log_origin`` are given;
        ``insecure_skip_verification`` hands them over unchecked. Raises
        ClientSetupError when an address is malformed or a file cannot be read.
        """
        if not timeout > 0:
            raise ClientSetupError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        target = _target([addresses] if isinstance(addresses, str) else list(addresses))
        try:
            creds = pki.channel_credentials(ca_cert, agency)
            ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
            own = x509.load_pem_x509_certificate(agency.cert.read_bytes())
            name = _common_name(own)
        except (OSError, ValueError) as exc:
            raise ClientSetupError(f"cannot read the CA certificate {ca_cert} or the agency certificate"
                                   f" {agency.cert} / key {agency.key}: {exc}") from exc
        if own.not_valid_after_utc < dt.datetime.now(dt.UTC):
            # The hub refuses it in the TLS handshake, where no message can reach the caller: say it here.
            raise ClientSetupError(f"ใบรับรองหมดอายุ / the agency certificate {agency.cert} expired at"
                                   f" {own.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ} and the hub refuses it; renew it:"
                                   f" linkage agency renew {name}")
        trust = None if insecure_skip_verification else Trust(ca, log_key, log_origin)
        options = (*_CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", server_name))
        return cls(grpc.aio.secure_channel(target, creds, options=options), agency=name, trust=trust,
                   timeout=timeout, retry=retry)

    @classmethod
    def from_home(cls, home: Path | Home, agency: str, *, addresses: str | Sequence[str] | None = None,
                  **options: Any) -> HubClient:
        """A client of the sandbox in ``home`` as ``agency``, from ``home/endpoints.json`` (``linkage up`` writes it).

        The log proof of each printout is verified too, with the sandbox's log
        key. ``addresses`` replaces the hub address the file names; other
        ``options`` are ``connect``'s. Raises ClientSetupError.
        """
        root = home.root if isinstance(home, Home) else Path(home)
        path = Home(root).endpoints
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            agencies = doc["agencies"]
            if agency not in agencies:
                raise ClientSetupError(f"{path} names no agency {agency!r}; known: {', '.join(sorted(agencies))}")
            own = pki.CertPaths(Path(agencies[agency]["cert"]), Path(agencies[agency]["key"]))
            log_key = parse_verifier_key(doc["log"]["vkey"])
            origin = str(doc["log"]["origin"])
            # Every hub replica when there are several (`linkage up --replicas N`): round-robin over them.
            hub, ca = doc.get("hubs") or doc["hub"], Path(doc["ca"])
        except FileNotFoundError:
            raise ClientSetupError(f"the sandbox in {root} is not running ({path} is missing): start it with"
                                   f" `linkage up --home {root}`") from None
        except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
            raise ClientSetupError(f"{path} is not a sandbox's endpoints file ({type(exc).__name__}: {exc});"
                                   f" restart `linkage up --home {root}` to rewrite it") from exc
        return cls.connect(addresses or hub, ca, own, log_key=log_key, log_origin=origin, **options)

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, name: str, call: Callable[..., Awaitable[_R]], request: object, timeout: float | None,
                    retry_if: Callable[[LinkageError], bool] | None) -> _R:
        loop = asyncio.get_running_loop()
        budget = self.timeout if timeout is None else timeout
        if not budget > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        deadline = loop.time() + budget
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call(request, timeout=max(deadline - loop.time(), 0.001))
            except grpc.aio.AioRpcError as exc:
                err = from_rpc_error(exc)
            if retry_if is None or attempt >= self.retry.attempts or not retry_if(err):
                raise err
            wait = self.retry.backoff(attempt, self._rng)
            if loop.time() + wait >= deadline:
                raise err
            _log.info("retrying %s in %.3fs after %s (%s), attempt %d of %d", name, wait, type(err).__name__,
                      err.code, attempt + 1, self.retry.attempts)
            await asyncio.sleep(wait)

    # --- LinkageHub ---------------------------------------------------------------------------------------------

    async def list_services(self, *, timeout: float | None = None) -> hub_pb2.ListServicesResponse:
        """The document types this agency may fetch, with its granted fields. Retried while UNAVAILABLE."""
        return await self._call("ListServices", self._hub.ListServices, hub_pb2.ListServicesRequest(), timeout,
                                unavailable)

    async def agent_status(self, officer_id: str = "", citizen_id: str = "", *,
                           officer_session: OfficerSession | None = None,
                           timeout: float | None = None) -> hub_pb2.GetAgentStatusResponse:
        """Whether the officer (named by ``officer_session``, or by ID while the hub accepts that) is registered with
        this agency (and the citizen's card known). Retried."""
        request = hub_pb2.GetAgentStatusRequest(
            officer_id=officer_session.officer_id if officer_session else officer_id, citizen_id=citizen_id,
            officer_session=officer_session.secret if officer_session else "")
        return await self._call("GetAgentStatus", self._hub.GetAgentStatus, request, timeout, unavailable)

    def officer(self, signer: OfficerSigner, officer_id: str | None = None, *,
                renew_before: float = 60.0) -> SignedInOfficer:
        """The officer whose device ``signer`` is (an ``OpenCard`` names its officer; otherwise give
        ``officer_id``), working through this client: signed in when first needed and again before the session
        ends, their fetches made under it. Nothing is sent until then."""
        who = officer_id or getattr(signer, "officer_id", None)
        if not isinstance(who, str) or not who:
            raise ValueError("officer(): give officer_id, the signer does not name its officer")
        return SignedInOfficer(self, signer, who, renew_before=renew_before)

    async def sign_in_officer(self, officer_id: str, signer: OfficerSigner, *,
                              timeout: float | None = None) -> OfficerSession:
        """Sign the officer in with their own device (``signer``): the hub's statement goes to it, its signature
        back to the hub, and the session bound to this agency's certificate comes back. Not retried (a
        statement is used once). Raises the hub's LinkageError (``officer_signature_invalid``, ...)."""
        statement, _ = await self.begin_officer_sign_in(officer_id, timeout=timeout)
        signature = await sign_with(signer, statement)
        return await self.finish_officer_sign_in(statement, kid=signer.kid, signature=signature, timeout=timeout)

    async def begin_officer_sign_in(self, officer_id: str, *, timeout: float | None = None) -> tuple[bytes, str]:
        """The hub's sign-in statement for the officer, and (when they hold a passkey) the browser's request
        options (JSON; "" otherwise): what a relay such as the counter hands to the officer's device."""
        begun = await self._call("BeginOfficerSignIn", self._hub.BeginOfficerSignIn,
                                 hub_pb2.BeginOfficerSignInRequest(officer_id=officer_id), timeout, None)
        return begun.statement, begun.webauthn_options

    async def finish_officer_sign_in(self, statement: bytes, *, kid: str = "", signature: bytes = b"",
                                     webauthn_assertion: str = "", timeout: float | None = None) -> OfficerSession:
        """The session, for a statement signed by a card (``kid``, ``signature``) or a passkey (the browser's
        ``webauthn_assertion``, relayed as it is)."""
        finish = hub_pb2.FinishOfficerSignInRequest(statement=statement, kid=kid, signature=signature,
                                                    webauthn_assertion=webauthn_assertion)
        done = await self._call("FinishOfficerSignIn", self._hub.FinishOfficerSignIn, finish, timeout, None)
        return OfficerSession(done.session, done.session_id, done.officer_id, done.expires_at)

    async def begin_passkey_enrolment(self, officer_id: str, code: str, *, timeout: float | None = None) -> str:
        """The browser's creation options (JSON) for the officer's passkey, given the administrator's code."""
        answer = await self._call("BeginPasskeyEnrolment", self._hub.BeginPasskeyEnrolment,
                                  hub_pb2.BeginPasskeyEnrolmentRequest(officer_id=officer_id, code=code), timeout,
                                  None)
        return str(answer.options)

    async def finish_passkey_enrolment(self, officer_id: str, code: str, credential: str, *,
                                       timeout: float | None = None) -> str:
        """Relay the browser's registration; the hub publishes the passkey. Returns its kid."""
        answer = await self._call("FinishPasskeyEnrolment", self._hub.FinishPasskeyEnrolment,
                                  hub_pb2.FinishPasskeyEnrolmentRequest(officer_id=officer_id, code=code,
                                                                        credential=credential), timeout, None)
        return str(answer.kid)

    def _named(self, printout: Printout, session: OfficerSession | None) -> Printout:
        """The printout, once it names the session it was asked under (PrintoutRejected otherwise)."""
        if session is not None and printout.payload.get("officer_session") != session.session_id:
            raise PrintoutRejected("officer_session_mismatch", "เอกสารไม่ได้ระบุการลงชื่อเข้าใช้ของเจ้าหน้าที่ที่ขอ",
                                   f"the printout does not name officer session {session.session_id}")
        return printout

    async def presence(self, card: CitizenCard, doc_types: Sequence[str], subject_id: str, *, purpose: str,
                       officer_id: str, case_ref: str = "", timeout: float | None = None) -> hub_pb2.CitizenPresence:
        """The citizen's card's proof for this request: a fresh challenge from the hub, signed by the card over
        the request's presence hash (linkage/cards.py). Raises the hub's LinkageError."""
        answer = await self._call("GetPresenceChallenge", self._hub.GetPresenceChallenge,
                                  hub_pb2.PresenceChallengeRequest(), timeout, unavailable)
        hash_hex = presence_hash(self.agency, parse_id(subject_id), purpose, officer_id, case_ref, doc_types)
        return hub_pb2.CitizenPresence(challenge=answer.challenge, card_certificate=card.certificate,
                                       signature=card.sign(answer.challenge, hash_hex))

    async def fetch_document(self, doc_type: str, subject_id: str, *, purpose: str, officer_id: str = "",
                             case_ref: str = "", citizen_present: bool = False,
                             officer_session: OfficerSession | None = None, citizen_card: CitizenCard | None = None,
                             consent_id: str = "", timeout: float | None = None) -> Printout:
        """One sealed printout, verified on receipt; under ``officer_session`` (``sign_in_officer``) it names it.

        With ``citizen_card`` (the citizen's card as the card reader reads it) the request says the citizen is
        present and carries the card's proof; ``citizen_present`` alone is refused by the hub. Sent again only
        when the hub said it issued nothing (see ``consumers.client.retry``). Raises the hub's LinkageError, or
        PrintoutRejected when the answer fails verification.
        """
        officer_id = officer_session.officer_id if officer_session else officer_id
        citizen_present = citizen_present or citizen_card is not None
        proof = None if citizen_card is None else await self.presence(
            citizen_card, [doc_type], subject_id, purpose=purpose, officer_id=officer_id, case_ref=case_ref,
            timeout=timeout)
        request = FetchRequest(doc_type, subject_id, purpose, officer_id, case_ref, citizen_present)
        answer = await self._call("FetchDocument", self._hub.FetchDocument, hub_pb2.FetchDocumentRequest(
            doc_type=doc_type, subject_id=subject_id, purpose=purpose, officer_id=officer_id, case_ref=case_ref,
            citizen_present=citizen_present, officer_session=officer_session.secret if officer_session else "",
            presence=proof, consent_id=consent_id), timeout, nothing_issued)
        return self._named(receive(answer, request, self.agency, self.trust), officer_session)

    async def fetch_documents(self, doc_types: Sequence[str], subject_id: str, *, purpose: str, officer_id: str = "",
                              case_ref: str = "", citizen_present: bool = False,
                              officer_session: OfficerSession | None = None,
                              citizen_card: CitizenCard | None = None, consent_id: str = "",
                              timeout: float | None = None) -> dict[str, Printout | LinkageError]:
        """Several document types for one subject: each type's printout or its own error, in request order.

        ``citizen_card`` as for fetch_document: one card signature covers the batch.
        A document that fails verification is a PrintoutRejected in its place.
        Raises a LinkageError only when the request as a whole is refused.
        """
        officer_id = officer_session.officer_id if officer_session else officer_id
        citizen_present = citizen_present or citizen_card is not None
        proof = None if citizen_card is None else await self.presence(
            citizen_card, doc_types, subject_id, purpose=purpose, officer_id=officer_id, case_ref=case_ref,
            timeout=timeout)
        answer = await self._call("FetchDocuments", self._hub.FetchDocuments, hub_pb2.FetchDocumentsRequest(
            doc_types=list(doc_types), subject_id=subject_id, purpose=purpose, officer_id=officer_id,
            case_ref=case_ref, citizen_present=citizen_present,
            officer_session=officer_session.secret if officer_session else "", presence=proof,
            consent_id=consent_id), timeout, nothing_issued)
        out: dict[str, Printout | LinkageError] = {}
        for result in answer.results:
            if result.WhichOneof("outcome") == "problem":
                out[result.doc_type] = from_problem(result.problem)
                continue
            request = FetchRequest(result.doc_type, subject_id, purpose, officer_id, case_ref, citizen_present)
            try:
                out[result.doc_type] = self._named(receive(result.document, request, self.agency, self.trust),
                                                   officer_session)
            except PrintoutRejected as err:
                out[result.doc_type] = err
        return out

    async def request_consent(self, doc_types: Sequence[str], subject_id: str, *, purpose: str, officer_id: str,
                              case_ref: str = "", timeout: float | None = None) -> hub_pb2.Consent:
        """Ask the citizen to approve, once, this agency's fetch of doc_types (a service without a counter); the
        fetch then passes the consent's id. Not retried (each call asks anew)."""
        return await self._call("RequestConsent", self._hub.RequestConsent, hub_pb2.RequestConsentRequest(
            subject_id=subject_id, doc_types=list(doc_types), purpose=purpose, officer_id=officer_id,
            case_ref=case_ref), timeout, nothing_issued)

    async def list_consents(self, subject_id: str, citizen_card: provider_pb2.CheckCardRequest, *,
                            timeout: float | None = None) -> list[hub_pb2.Consent]:
        """The consents asked of a citizen, on their own behalf (their card details). Retried."""
        answer = await self._call("ListConsents", self._hub.ListConsents, hub_pb2.ListConsentsRequest(
            subject_id=subject_id, citizen_card=citizen_card), timeout, unavailable)
        return list(answer.consents)

    async def decide_consent(self, consent_id: str, subject_id: str, citizen_card: provider_pb2.CheckCardRequest,
                             approve: bool, *, timeout: float | None = None) -> hub_pb2.Consent:
        """The citizen approves or refuses a pending consent."""
        return await self._call("DecideConsent", self._hub.DecideConsent, hub_pb2.DecideConsentRequest(
            consent_id=consent_id, subject_id=subject_id, citizen_card=citizen_card, approve=approve), timeout,
            nothing_issued)

    # --- AuditLog ----------------------------------------------------------------------------------------------

    async def checkpoint(self, *, timeout: float | None = None) -> str:
        """The log's newest signed checkpoint note (not verified here). Retried."""
        answer = await self._call("GetCheckpoint", self._audit.GetCheckpoint, audit_pb2.GetCheckpointRequest(),
                                  timeout, unavailable)
        return str(answer.note)

    async def inclusion_proof(self, index: int, tree_size: int = 0, *,
                              timeout: float | None = None) -> InclusionProof:
        """Proof that leaf ``index`` is in the tree of ``tree_size`` (0: the newest). Retried."""
        answer = await self._call("GetInclusionProof", self._audit.GetInclusionProof,
                                  audit_pb2.GetInclusionProofRequest(index=index, tree_size=tree_size), timeout,
                                  unavailable)
        return InclusionProof(answer.leaf_index, answer.tree_size, tuple(answer.hashes))

    async def consistency_proof(self, old_size: int, new_size: int = 0, *,
                                timeout: float | None = None) -> tuple[bytes, ...]:
        """Proof that the tree of ``old_size`` is a prefix of the tree of ``new_size`` (0: the newest). Retried."""
        answer = await self._call("GetConsistencyProof", self._audit.GetConsistencyProof,
                                  audit_pb2.GetConsistencyProofRequest(old_size=old_size, new_size=new_size),
                                  timeout, unavailable)
        return tuple(answer.hashes)

    async def entries(self, start: int, end: int, *, timeout: float | None = None) -> list[Entry]:
        """Log leaves ``[start, end)``, at most 1000 per call. Retried."""
        answer = await self._call("GetEntries", self._audit.GetEntries,
                                  audit_pb2.GetEntriesRequest(start=start, end=end), timeout, unavailable)
        return [Entry(e.index, e.leaf) for e in answer.entries]

    async def revocation(self, printout_id: str, *, timeout: float | None = None) -> Revocation:
        """Whether the printout was revoked. Retried."""
        answer = await self._call("GetRevocation", self._audit.GetRevocation,
                                  audit_pb2.GetRevocationRequest(printout_id=printout_id), timeout, unavailable)
        return Revocation(answer.revoked, answer.reason, answer.revoked_at, answer.log_index)

    async def list_accesses(self, subject_id: str, *, citizen_card: provider_pb2.CheckCardRequest | None = None,
                            timeout: float | None = None) -> list[audit_pb2.Access]:
        """Who read this subject's data: auditor agencies about anyone; others only for a citizen who proves
        their card (citizen_card, checked with the civil registry by the hub). Retried."""
        request = audit_pb2.ListAccessesRequest(subject_id=subject_id, citizen_card=citizen_card)
        answer = await self._call("ListAccesses", self._audit.ListAccesses, request, timeout, unavailable)
        return list(answer.accesses)

    async def revoke(self, printout_id: str, reason: str, officer_id: str = "", *,
                     officer_session: OfficerSession | None = None,
                     timeout: float | None = None) -> audit_pb2.RevokePrintoutResponse:
        """Revoke a printout issued to this agency, as the officer of ``officer_session`` (the log entry then
        carries their signed sign-in) or, while the hub accepts that, of ``officer_id``. Never sent twice."""
        return await self._call("RevokePrintout", self._audit.RevokePrintout, audit_pb2.RevokePrintoutRequest(
            printout_id=printout_id, reason=reason,
            officer_id=officer_session.officer_id if officer_session else officer_id,
            officer_session=officer_session.secret if officer_session else ""), timeout, None)


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise ValueError("the agency certificate has no common name: the hub would not know the agency")
    return str(names[0].value)


def _target(addresses: list[str]) -> str:
    """A gRPC target: one "host:port" as it is; several as an ipv4:/ipv6: list for round_robin."""
    if not addresses:
        raise ClientSetupError("no hub address given: pass \"host:port\" or a list of \"IP:port\"")
    if len(addresses) == 1:
        _split(addresses[0])
        return addresses[0]
    families = set()
    parts = []
    for address in addresses:
        host, port = _split(address)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise ClientSetupError(f"hub address {address!r}: with several addresses each must be an IP address"
                                   " and port (e.g. 127.0.0.1:7443 or [::1]:7443), not a host name") from None
        families.add(ip.version)
        parts.append(f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}")
    if len(families) > 1:
        raise ClientSetupError(f"hub addresses {addresses}: give all IPv4 or all IPv6 addresses, not both")
    return f"ipv{families.pop()}:{','.join(parts)}"


def _split(address: str) -> tuple[str, int]:
    try:
        return split_address(address)
    except ValueError:
        raise ClientSetupError(f"hub address {address!r} is not \"host:port\" (port 1-65535), e.g. 127.0.0.1:7443"
                               ) from None
