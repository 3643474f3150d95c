"""The live gRPC surface under fuzzing: its methods, its callers, known-good requests, and the property of every answer.

``methods()`` lists every method of every service in hub.proto and audit.proto (served by
the hub) and provider.proto (served by each registry: ProviderService and ProviderAdmin),
from the descriptors, so a new method is fuzzed without a line changed here.

``Surface`` holds one synchronous mTLS channel per (server, caller) to a stack that runs in
its own thread (``ThreadedStack``), and ``Surface.exercise`` sends one request (a message or
raw bytes, through a channel method with identity serializers) and returns what is wrong
with the answer:

  * the status is OK or one of ``ALLOWED`` (never INTERNAL, UNKNOWN, UNIMPLEMENTED, ...);
  * a refusal carries a ``google.rpc.ErrorInfo`` of domain ``linkage.go.th``;
  * on the hub, a refusal adds nothing to the exchange log, and an answer adds exactly the
    printouts and revocations it reports.

``Surface.alive`` is the known-good round: health checks SERVING, one valid fetch from
the hub and one valid record from the registry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import threading
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import tomli_w
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from consumers.client import OfficerSession
from linkage import merkle, pki
from linkage.cards import presence_hash
from linkage.cli.cards import card_of
from linkage.config import Home
from linkage.errors import DOMAIN, error_info
from linkage.ids import parse_id, with_check_digit
from linkage.v1 import audit_pb2, hub_pb2, provider_pb2
from providers.faults import ERROR_CODES
from tests.conftest import RunningStack, start_stack
from tests.fuzz.strategies import Vocabulary
from tests.officers import card as officer_card

_Fetch = TypeVar("_Fetch", hub_pb2.FetchDocumentRequest, hub_pb2.FetchDocumentsRequest)

__all__ = [
    "ALLOWED",
    "CALLERS",
    "Method",
    "Outcome",
    "Surface",
    "ThreadedStack",
    "methods",
    "unlimit",
    "unlimited_copy",
]

ALLOWED = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
})
"""The refusals of the project's error table (linkage/errors.py) that a caller's input may cause."""

MUNI = "phrae-municipality"
PROVIDER = "dopa"  # the registry fuzzed directly: it serves every ProviderService method (cards too)
CALLERS: dict[str, tuple[str, ...]] = {
    # Agencies with all, some and no record rights, and a certificate of the CA that names no agency;
    # repeated to weigh the draw towards callers whose requests get past the first check.
    "hub": (MUNI, MUNI, MUNI, "phrae-hospital", "auditor", "auditor", "sandbox-admin"),
    # The hub (the registries' usual caller), the sandbox administrator (ProviderAdmin), an agency.
    "provider": ("linkage-hub", "linkage-hub", "sandbox-admin", "sandbox-admin", MUNI),
}
TIMEOUT_S = 10.0
_HUB_FILES = (hub_pb2.DESCRIPTOR, audit_pb2.DESCRIPTOR)
_PROVIDER_FILES = (provider_pb2.DESCRIPTOR,)


@dataclass(frozen=True)
class Method:
    server: str  # "hub" or "provider"
    path: str  # /package.Service/Method
    request: Descriptor
    response: Descriptor

    @property
    def name(self) -> str:
        return self.path.strip("/").replace("linkage.v1.", "")


def methods() -> list[Method]:
    """Every unary method of the hub's and the registries' services, from the descriptors."""
    out = []
    for server, files in (("hub", _HUB_FILES), ("provider", _PROVIDER_FILES)):
        for file in files:
            for service in file.services_by_name.values():
                for m in service.methods:
                    out.append(Method(server, f"/{service.full_name}/{m.name}", m.input_type, m.output_type))
    return out


@dataclass(frozen=True)
class Outcome:
    status: grpc.StatusCode
    details: str
    info: error_details_pb2.ErrorInfo | None  # ours (domain linkage.go.th), when the status carries one
    response: bytes | None


def unlimited_copy(home: Home, dest: Path) -> Home:
    """A copy of ``home`` (see ``unlimit``): the fuzzer's printouts and revocations stay out of the original."""
    shutil.copytree(home.root, dest)
    return unlimit(Home(dest))


def unlimit(home: Home) -> Home:
    """Give every agency of ``home`` rate limits and quotas too high to reach.

    The limiter charges every call, malformed or not (linkage/limits.py): at the default
    50 calls/s most fuzz inputs would be refused RESOURCE_EXHAUSTED before anything else
    looked at them.
    """
    config = tomllib.loads(home.config_file.read_text(encoding="utf-8"))
    for agency in config.get("agencies", {}).values():
        agency.update(rate_per_s=1_000_000, burst=10_000_000, daily_quota=10**12)
    home.config_file.write_text(tomli_w.dumps(config), encoding="utf-8")
    return home


class ThreadedStack:
    """The registries and the hub of ``tests/conftest.py``'s ``start_stack``, served by an event loop in a
    worker thread, so that synchronous callers (hypothesis, the fuzz script) can use them."""

    def __init__(self, home: Home) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fuzz-stack", daemon=True)
        self._thread.start()
        self.stack: RunningStack = asyncio.run_coroutine_threadsafe(start_stack(home), self._loop).result(120)

    def close(self) -> None:
        async def stop() -> None:
            await self.stack.hub.stop(0)
            for server in self.stack.providers.values():
                await server.stop(0)

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop.close()


def _identity(data: bytes) -> bytes:
    return data


class Surface:
    """Synchronous channels to one running stack, what a valid request of each method looks like, and the checks.

    ``vocab`` and ``valid`` are filled by ``prepare`` from the sandbox: its document types,
    personas, officers, and a few printouts fetched for the purpose.
    """

    def __init__(self, stack: RunningStack, personas: Sequence[dict[str, Any]]) -> None:
        self.stack = stack
        self.personas = list(personas)
        home = stack.home
        addresses = {"hub": stack.hub_address,
                     "provider": f"127.0.0.1:{stack.settings.providers[PROVIDER].port}"}
        self._channels = {
            (server, caller): grpc.secure_channel(addresses[server],
                                                  pki.channel_credentials(home.ca.cert, home.client_cert(caller)))
            for server, callers in CALLERS.items() for caller in callers
        }
        self.methods = methods()
        self.vocab = Vocabulary()
        self.valid: dict[str, list[Message]] = {}
        self.session: OfficerSession | None = None  # the municipality's officer's, in the valid requests
        self.codes: Counter[str] = Counter()  # answers by status code
        self.reasons: Counter[str] = Counter()  # refusals by code and ErrorInfo reason

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    @property
    def log_size(self) -> int:
        return self.stack.hub.hub.log.size

    # -- calls ---------------------------------------------------------------------------------------------------

    def present(self, agency: str, request: _Fetch) -> _Fetch:
        """request with the citizen present: their card's proof over a fresh challenge of the hub."""
        card = card_of(self.stack.home, parse_id(request.subject_id))
        assert card is not None, request.subject_id
        challenge = hub_pb2.PresenceChallenge.FromString(self.call(
            _method(self.methods, "LinkageHub", "GetPresenceChallenge"), agency,
            hub_pb2.PresenceChallengeRequest().SerializeToString()).response or b"").challenge
        types = [request.doc_type] if isinstance(request, hub_pb2.FetchDocumentRequest) else list(request.doc_types)
        request.citizen_present = True
        request.presence.CopyFrom(hub_pb2.CitizenPresence(
            challenge=challenge, card_certificate=card.certificate, signature=card.sign(challenge, presence_hash(
                agency, parse_id(request.subject_id), request.purpose, request.officer_id, request.case_ref, types))))
        return request


    def sign_in(self, agency: str, officer: str) -> OfficerSession:
        """The officer's session, signed in with the card the sandbox issued them (the hub requires one)."""
        signer = officer_card(self.stack.home, agency, officer)
        begun = hub_pb2.BeginOfficerSignInResponse.FromString(self.call(
            _method(self.methods, "LinkageHub", "BeginOfficerSignIn"), agency,
            hub_pb2.BeginOfficerSignInRequest(officer_id=officer).SerializeToString()).response or b"")
        done = hub_pb2.FinishOfficerSignInResponse.FromString(self.call(
            _method(self.methods, "LinkageHub", "FinishOfficerSignIn"), agency, hub_pb2.FinishOfficerSignInRequest(
                statement=begun.statement, kid=signer.kid, signature=signer.sign(begun.statement)).SerializeToString(),
        ).response or b"")
        assert done.session, "the sandbox officer's sign-in was refused"
        return OfficerSession(done.session, done.session_id, done.officer_id, done.expires_at)

    def _renew_session(self) -> None:
        """A new session in every valid request when the one they carry ends within five minutes (a long run)."""
        old = self.session
        if old is None or old.ends() - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=5):
            return
        self.session = self.sign_in(MUNI, old.officer_id)
        for requests in self.valid.values():
            for request in requests:
                if getattr(request, "officer_session", None) == old.secret:
                    request.officer_session = self.session.secret  # type: ignore[attr-defined]

    def call(self, method: Method, caller: str, request: bytes, timeout: float = TIMEOUT_S) -> Outcome:
        """Send ``request`` as it is (bytes, whatever they hold) and read the answer as bytes."""
        stub = self._channels[method.server, caller].unary_unary(
            method.path, request_serializer=_identity, response_deserializer=_identity)
        try:
            return Outcome(grpc.StatusCode.OK, "", None, stub(request, timeout=timeout))
        except grpc.RpcError as err:
            return Outcome(err.code(), err.details() or "", _ours(err), None)

    def exercise(self, method: Method, caller: str, request: bytes) -> list[str]:
        """Send one request and return what is wrong with the answer (nothing: an empty list)."""
        before = self.log_size
        outcome = self.call(method, caller, request)
        after = self.log_size
        self.codes[outcome.status.name] += 1
        if outcome.info is not None:
            self.reasons[f"{outcome.status.name}/{outcome.info.reason}"] += 1
        problems = _problems(method, outcome)
        if method.server == "hub":
            issued = _issued(method, outcome.response) if outcome.status == grpc.StatusCode.OK else 0
            if after - before != issued:
                problems.append(f"the log grew by {after - before} but the answer ({outcome.status.name}) reports"
                                f" {issued} entries issued")
        if method.path.endswith("/SetFaults") and outcome.status == grpc.StatusCode.OK:
            # The faults just set would fail the next calls on purpose: the fuzzer's own, not the server's doing.
            cleared = self.call(_method(self.methods, "ProviderAdmin", "ClearFaults"), "sandbox-admin", b"")
            if cleared.status != grpc.StatusCode.OK:
                problems.append(f"ClearFaults after SetFaults answered {cleared.status.name}")
        return problems

    def alive(self) -> list[str]:
        """The known-good round: health SERVING on both servers, one valid fetch, one valid record."""
        self._renew_session()
        problems = []
        for server, caller in (("hub", MUNI), ("provider", "linkage-hub")):
            stub = health_pb2_grpc.HealthStub(self._channels[server, caller])
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S).status
            except grpc.RpcError as err:
                problems.append(f"{server} health check: {err.code().name} {err.details()}")
                continue
            if status != health_pb2.HealthCheckResponse.SERVING:
                problems.append(f"{server} health check: {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")
        for path, caller in (("/linkage.v1.LinkageHub/FetchDocument", MUNI),
                             ("/linkage.v1.ProviderService/GetRecord", "linkage-hub")):
            method = next(m for m in self.methods if m.path == path)
            before = self.log_size
            outcome = self.call(method, caller, self.valid[path][0].SerializeToString())
            if outcome.status != grpc.StatusCode.OK:
                problems.append(f"known-good {method.name}: {outcome.status.name} {outcome.details}")
            elif method.server == "hub" and self.log_size != before + 1:
                problems.append(f"known-good {method.name}: the log grew by {self.log_size - before}, not 1")
        return problems

    # -- what to send --------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Learn the sandbox's vocabulary and make valid requests of each method (fetching a few printouts)."""
        settings = self.stack.settings
        doc_types = sorted({t for p in settings.providers.values() for t in p.doc_types})
        citizens = [p for p in self.personas if p["kind"] == "citizen"]
        juristic = [p for p in self.personas if p["kind"] != "citizen"]
        person = next(p for p in citizens if "dopa.person" in p["doc_types"] and p.get("card"))
        ids = [str(p["id"]) for p in self.personas]
        # Nearly valid IDs: the check digit off by one, dashes, one digit short.
        near = [ids[0][:12] + str((int(ids[0][12]) + 1) % 10), f"{ids[0][0]}-{ids[0][1:5]}-{ids[0][5:10]}-"
                f"{ids[0][10:12]}-{ids[0][12]}", ids[0][:12], with_check_digit("000000000000")]
        officers = sorted({o for a in settings.agencies.values() for o in a.officers})
        muni_officer = sorted(settings.agencies[MUNI].officers)[0]
        self.session = self.sign_in(MUNI, muni_officer)  # every printout, card check and batch names it
        signed = self.session.secret
        card = person["card"]
        text: dict[str, list[str]] = {
            "doc_type": [*doc_types, "dopa.nothing", "DOPA.PERSON"], "doc_types": doc_types,
            "subject_id": ids + near, "citizen_id": ids + near, "officer_id": officers + near[:1],
            "officer_session": [signed, signed[:-1], "x" * 101],
            "purpose": ["ขึ้นทะเบียนผู้สูงอายุ", "audit", "x" * 500], "reason": ["ออกผิดคน / issued in error"],
            "case_ref": ["PHR-2569-0001", "c" * 100],
            "first_name_th": [card["first_name_th"]], "last_name_th": [card["last_name_th"]],
            "birth_date": [card["birth_date"], "2536-09-16"], "laser_code": [card["laser_code"]],
            "error": list(ERROR_CODES), "fields": ["first_name_th", "last_name_th", "birth_date", "*"],
        }
        self.vocab = Vocabulary(text=text)
        fetch = hub_pb2.FetchDocumentRequest(doc_type="dopa.person", subject_id=str(person["id"]),
                                             purpose="ขึ้นทะเบียนผู้สูงอายุ", officer_id=muni_officer,
                                             case_ref="PHR-2569-0001", officer_session=signed)
        issued = []
        fetch_method = _method(self.methods, "LinkageHub", "FetchDocument")
        for _ in range(4):
            outcome = self.call(fetch_method, MUNI, fetch.SerializeToString())
            assert outcome.status == grpc.StatusCode.OK and outcome.response is not None, outcome
            issued.append(hub_pb2.FetchDocumentResponse.FromString(outcome.response))
        size = self.log_size
        text["printout_id"] = [d.printout_id for d in issued]
        self.vocab = Vocabulary(
            text=text, blobs={"leaf_hash": [merkle.leaf_hash(d.log_leaf) for d in issued]},
            numbers=[size - 2, size - 1, size, size + 1, 2 * size, issued[0].log_index])
        card_msg = provider_pb2.CheckCardRequest(subject_id=str(person["id"]), **card)
        company = str(juristic[0]["id"]) if juristic else str(person["id"])
        valid: dict[str, list[Message]] = {
            "LinkageHub/FetchDocument": [fetch, hub_pb2.FetchDocumentRequest(
                doc_type="dbd.juristic", subject_id=company, purpose="audit", officer_session=signed)],
            "LinkageHub/FetchDocuments": [self.present(MUNI, hub_pb2.FetchDocumentsRequest(
                doc_types=["dopa.person", "dopa.house", "dopa.card"], subject_id=str(person["id"]),
                purpose="ขึ้นทะเบียน", officer_id=muni_officer, officer_session=signed))],
            "LinkageHub/GetAgentStatus": [hub_pb2.GetAgentStatusRequest(officer_session=signed,
                                                                        citizen_id=str(person["id"]))],
            "LinkageHub/CheckCard": [hub_pb2.HubCheckCardRequest(card=card_msg, purpose="ตรวจบัตร",
                                                                 officer_session=signed)],
            "AuditLog/GetInclusionProof": [audit_pb2.GetInclusionProofRequest(index=issued[0].log_index,
                                                                              tree_size=size),
                                           audit_pb2.GetInclusionProofRequest(
                                               leaf_hash=merkle.leaf_hash(issued[1].log_leaf))],
            "AuditLog/GetConsistencyProof": [audit_pb2.GetConsistencyProofRequest(old_size=1, new_size=size)],
            "AuditLog/GetEntries": [audit_pb2.GetEntriesRequest(start=0, end=min(size, 3))],
            "AuditLog/ListAccesses": [audit_pb2.ListAccessesRequest(subject_id=str(person["id"])),
                                      audit_pb2.ListAccessesRequest(subject_id=str(person["id"]),
                                                                    citizen_card=card_msg)],
            "AuditLog/RevokePrintout": [audit_pb2.RevokePrintoutRequest(
                printout_id=d.printout_id, reason="ออกผิดคน / issued in error", officer_session=signed)
                for d in issued[2:]],
            "AuditLog/GetRevocation": [audit_pb2.GetRevocationRequest(printout_id=issued[0].printout_id)],
            "ProviderService/GetRecord": [provider_pb2.GetRecordRequest(
                doc_type="dopa.person", subject_id=str(person["id"]), fields=["first_name_th", "birth_date"])],
            "ProviderService/CheckCard": [card_msg],
            "ProviderAdmin/SetFaults": [provider_pb2.SetFaultsRequest(faults=provider_pb2.FaultSettings(
                latency_ms=1, error_rate=0.5, error="UNAVAILABLE", seed=7))],
        }
        self.valid = {f"/linkage.v1.{name}": requests for name, requests in valid.items()}
        for m in self.methods:  # every method has at least its empty request
            self.valid.setdefault(m.path, [message_factory.GetMessageClass(m.request)()])


def _method(all_methods: Sequence[Method], service: str, name: str) -> Method:
    return next(m for m in all_methods if m.path == f"/linkage.v1.{service}/{name}")


def _ours(err: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The refusal's ErrorInfo of domain linkage.go.th, as linkage.errors reads it; None for none or garbage."""
    try:
        info = error_info(err.trailing_metadata(), err.code(), err.details() or "")
    except ValueError:
        return None  # details that contradict the status line: not ours
    return info if info is not None and info.domain == DOMAIN else None


def _problems(method: Method, outcome: Outcome) -> list[str]:
    if outcome.status == grpc.StatusCode.OK:
        if outcome.response is not None:
            try:
                message_factory.GetMessageClass(method.response).FromString(outcome.response)
            except DecodeError:
                return [f"OK, but the answer is not a {method.response.full_name}"]
        return []
    problems = []
    if outcome.status not in ALLOWED:
        problems.append(f"status {outcome.status.name} ({outcome.details[:200]!r}) is not in the error table")
    if outcome.info is None:
        problems.append(f"{outcome.status.name} without a google.rpc.ErrorInfo of domain {DOMAIN}"
                        f" ({outcome.details[:200]!r})")
    return problems


def _issued(method: Method, response: bytes | None) -> int:
    """How many log entries an OK answer reports: printouts it carries, and a revocation."""
    if response is None:
        return 0
    answer = message_factory.GetMessageClass(method.response).FromString(response)
    return _count_entries(answer)


def _count_entries(msg: Message) -> int:
    if isinstance(msg, hub_pb2.FetchDocumentResponse):
        return 1
    if isinstance(msg, audit_pb2.RevokePrintoutResponse):
        return 1
    total = 0
    for fd, value in msg.ListFields():
        if fd.message_type is None or (fd.message_type.GetOptions().map_entry):
            continue
        for item in (value if fd.is_repeated else [value]):
            total += _count_entries(item)
    return total

