"""The registry gRPC server: one generic ``ProviderService`` over any registry of ``providers.REGISTRIES``.

``build_server(name, where, ca_cert, own, port=0)`` returns a started server and its
bound port (``where``: the registry's SQLite file, or a PostgreSQL ``linkage.storage.Database``;
``start_server`` also returns the store, to close it with the server). It demands a client
certificate from the linkage CA and serves gRPC health checking (SERVING for "" and
``linkage.v1.ProviderService``), server reflection and
``ProviderAdmin``, which sets faults (``providers.faults``) for the sandbox administrator only.
``serve(...)`` runs one until SIGINT/SIGTERM or cancellation and stops it gracefully.

Errors (through ``linkage.errors.grpc_errors``), with their ErrorInfo reason:

    INVALID_ARGUMENT  unknown_doc_type, unknown_field, and the reasons of linkage.ids.parse_id
                      (id_wrong_length, id_not_digits, id_bad_first_digit, check_digit_mismatch,
                      id_wrong_kind)
    NOT_FOUND         record_not_found
    UNIMPLEMENTED     CheckCard on a registry that serves no cards, CheckPresence on one without a card
                      secret (no ErrorInfo); a refused card is an answer (CheckPresenceResponse.refusal)
    PERMISSION_DENIED not_admin: ProviderAdmin called with any certificate but the administrator's
    INVALID_ARGUMENT  fault_out_of_range, unknown_error_code: SetFaults with settings out of range
    INVALID_ARGUMENT  batch_too_large: BatchGetRecords with more than MAX_PROVIDER_BATCH reads
    any of providers.faults.ERROR_CODES, without ErrorInfo: a fault injected by ProviderAdmin

``BatchGetRecords`` answers each of its reads on its own, in order: the record, or a ``Problem`` with the
status and reason GetRecord would have failed with (an injected fault's has no reason), or
RESOURCE_EXHAUSTED ``batch_answer_full`` for a record that would take the answer past
``PROVIDER_BATCH_ANSWER`` (the hub reads it alone).

Each call is one line of the ``providers.server`` log (linkage/logs.py), written where the metrics
count it: provider, method, agency, doc_type, code, reason, duration_ms (a batch: ``results``, one
``{doc_type, code, reason}`` per read); never the subject ID, names or any other personal data. Logging is
configured by the command line (``linkage serve-provider``), not here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID
from google.protobuf import struct_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from linkage import pki
from linkage.errors import (
    InvalidRequest,
    LinkageError,
    MalformedRequests,
    NotFound,
    PermissionDenied,
    grpc_errors,
    to_problem,
)
from linkage.ids import IdKind, parse_id
from linkage.limits import (
    MAX_PROVIDER_BATCH,
    PROVIDER_BATCH_ANSWER,
    PROVIDER_MAX_RECEIVE,
    PROVIDER_MAX_SEND,
    server_options,
)
from linkage.logs import RequestLog
from linkage.metrics import MetricsExporter, ServerMetrics
from linkage.pki import HUB_CLIENT
from linkage.ports import PortInUse, listen_failure
from linkage.storage import Database
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc
from providers import REGISTRIES
from providers.faults import ADMIN_CLIENT, ADMIN_UNIT, FaultPlan, Faults
from providers.presence import CardChecker, card_secret_path
from providers.registry import Registry
from providers.store import RecordStore, open_record_store

__all__ = ["ADMIN_SERVICE_NAME", "SERVICE_NAME", "ProviderAdminServicer", "ProviderServer",
           "ProviderServicer", "build_server", "serve", "start_server"]

SERVICE_NAME: str = provider_pb2.DESCRIPTOR.services_by_name["ProviderService"].full_name
ADMIN_SERVICE_NAME: str = provider_pb2.DESCRIPTOR.services_by_name["ProviderAdmin"].full_name
_log = logging.getLogger("providers.server")
_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def _faulted(method: _F) -> _F:
    """Make the call suffer the registry's faults (providers.faults) before it is served."""

    @functools.wraps(method)
    async def wrapper(self: ProviderServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if not self.faults.unfaulted():
            failure = await self.faults.suffer()
            if failure is not None:
                await context.abort(failure.status, failure.details)
        return await method(self, request, context)

    return wrapper  # type: ignore[return-value]


class ProviderServicer(provider_pb2_grpc.ProviderServiceServicer):
    """Translates ProviderService calls to store lookups for one registry."""

    def __init__(self, registry: Registry, store: RecordStore, faults: Faults | None = None,
                 cards: CardChecker | None = None) -> None:
        self.registry = registry
        self.store = store
        self.faults = faults or Faults(registry.name)
        self.cards = cards
        self._describe = provider_pb2.DescribeResponse(provider=registry.name, member=registry.member,
                                                       doc_types=list(registry.doc_types.values()))
        self._fields = {code: [f.name for f in t.fields] for code, t in registry.doc_types.items()}
        self._kinds = {code: registry.id_kind(code) for code in registry.doc_types}

    @_faulted
    @grpc_errors
    async def Describe(self, request: provider_pb2.DescribeRequest, context: grpc.aio.ServicerContext,
                       ) -> provider_pb2.DescribeResponse:
        return self._describe

    @_faulted
    @grpc_errors
    async def GetRecord(self, request: provider_pb2.GetRecordRequest, context: grpc.aio.ServicerContext,
                        ) -> provider_pb2.GetRecordResponse:
        code, subject_id, wanted = self._checked(request)
        # Synchronous on SQLite on purpose: an indexed lookup takes tens of µs, less than a thread hop.
        return self._answer(code, subject_id, wanted, await self.store.get(code, subject_id))

    @grpc_errors
    async def BatchGetRecords(self, request: provider_pb2.BatchGetRecordsRequest, context: grpc.aio.ServicerContext,
                              ) -> provider_pb2.BatchGetRecordsResponse:
        """GetRecord for each entry, faults included, each failure in its own result (provider.proto)."""
        asked = request.requests
        if len(asked) > MAX_PROVIDER_BATCH:
            raise InvalidRequest("batch_too_large", f"ขออ่านได้ครั้งละไม่เกิน {MAX_PROVIDER_BATCH} รายการ",
                                 f"a batch holds at most {MAX_PROVIDER_BATCH} reads; this one has {len(asked)}",
                                 field="requests")
        reads: list[tuple[str, str, list[str]] | common_pb2.Problem] = []
        for entry, failure in zip(asked, await self.faults.suffer_each(len(asked)), strict=True):
            if failure is not None:
                reads.append(common_pb2.Problem(
                    grpc_code=failure.status.value[0], message=failure.details, message_th=failure.message_th,
                    message_en=failure.message_en, side=common_pb2.FAULT_SIDE_PROVIDER, provider=self.registry.name))
                continue
            try:
                reads.append(self._checked(entry))
            except LinkageError as err:
                reads.append(to_problem(err))
        records = iter(await self.store.get_many([r[:2] for r in reads if isinstance(r, tuple)]))
        results = []
        room = PROVIDER_BATCH_ANSWER
        for read in reads:
            if not isinstance(read, tuple):
                results.append(provider_pb2.RecordResult(problem=read))
                continue
            try:
                answer = self._answer(*read, next(records))
            except LinkageError as err:
                results.append(provider_pb2.RecordResult(problem=to_problem(err)))
                continue
            size = answer.ByteSize()
            if size > room and room < PROVIDER_BATCH_ANSWER:  # the first record always fits (one is at most 3 MiB)
                results.append(provider_pb2.RecordResult(problem=self._answer_full(read[0])))
                continue
            room -= size
            results.append(provider_pb2.RecordResult(record=answer))
        return provider_pb2.BatchGetRecordsResponse(results=results)

    def _checked(self, request: provider_pb2.GetRecordRequest) -> tuple[str, str, list[str]]:
        """(doc_type, subject_id, fields asked for) of a well-formed read; raises InvalidRequest."""
        code = request.doc_type
        names = self._fields.get(code)
        if names is None:
            raise InvalidRequest(
                "unknown_doc_type", f"ทะเบียน {self.registry.name} ไม่มีเอกสารประเภท {code[:60]!r}",
                f"registry {self.registry.name} serves no document type {code[:60]!r};"
                f" it serves: {', '.join(self._fields)}", field="doc_type",
            )
        subject_id = parse_id(request.subject_id, self._kinds[code])
        wanted = list(dict.fromkeys(request.fields))
        unknown = [f for f in wanted if f not in names]
        if unknown:
            raise InvalidRequest(
                "unknown_field", f"เอกสาร {code} ไม่มีช่องข้อมูล {unknown[0][:60]!r}",
                f"{code} has no field {unknown[0][:60]!r}; its fields are: {', '.join(names)}", field="fields",
            )
        return code, subject_id, wanted or names

    def _answer(self, code: str, subject_id: str, wanted: list[str], record: dict[str, Any] | None,
                ) -> provider_pb2.GetRecordResponse:
        """The answer to a checked read from the stored record; raises NotFound when there is none."""
        if record is None:
            raise NotFound(
                "record_not_found", f"ไม่พบข้อมูล {self.registry.doc_types[code].title_th} ของเลขประจำตัวนี้",
                f"no {code} record for this ID", provider=self.registry.name,
            )
        data = struct_pb2.Struct()
        # Only fields the document type declares ever leave the registry, in declared or asked order.
        data.update({name: record[name] for name in wanted if name in record})
        return provider_pb2.GetRecordResponse(doc_type=code, subject_id=subject_id, data=data)

    def _answer_full(self, code: str) -> common_pb2.Problem:
        th = f"คำตอบชุดนี้เต็มแล้ว ขอ {code} รายการนี้แยกต่างหาก"
        en = (f"the batch answer is full ({PROVIDER_BATCH_ANSWER >> 20} MiB): read this {code} alone with"
              " GetRecord")
        return common_pb2.Problem(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], reason="batch_answer_full",
                                  message=f"{th} / {en}", message_th=th, message_en=en, retryable=True,
                                  side=common_pb2.FAULT_SIDE_PROVIDER, provider=self.registry.name)

    @_faulted
    @grpc_errors
    async def CheckCard(self, request: provider_pb2.CheckCardRequest, context: grpc.aio.ServicerContext,
                        ) -> provider_pb2.CheckCardResponse:
        if not self.registry.checks_cards:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                                f"ทะเบียน {self.registry.name} ไม่ได้ให้บริการตรวจสอบบัตร"
                                f" / registry {self.registry.name} does not check ID cards")
        subject_id = parse_id(request.subject_id, IdKind.CITIZEN)
        match = await self.store.check_card(subject_id, request.first_name_th, request.last_name_th, request.birth_date,
                                      request.laser_code)
        return provider_pb2.CheckCardResponse(match=match)

    @_faulted
    @grpc_errors
    async def CheckPresence(self, request: provider_pb2.CheckPresenceRequest, context: grpc.aio.ServicerContext,
                            ) -> provider_pb2.CheckPresenceResponse:
        if self.cards is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                                f"ทะเบียน {self.registry.name} ไม่ได้ตรวจลายมือชื่อบัตร"
                                f" / registry {self.registry.name} checks no card signatures")
        assert self.cards is not None
        return await self.cards.check(request)


def _require_admin(context: grpc.aio.ServicerContext) -> None:
    """Raise PermissionDenied unless the client certificate is the sandbox administrator's (name and unit)."""
    pem = (context.auth_context().get("x509_pem_cert") or [b""])[0]
    try:
        subject = x509.load_pem_x509_certificate(pem).subject
    except ValueError:
        subject = x509.Name([])
    names = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    units = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    if names != [ADMIN_CLIENT] or units != [ADMIN_UNIT]:
        who = str(names[0])[:64] if names else "no common name"
        raise PermissionDenied(
            "not_admin", "เฉพาะผู้ดูแลระบบทดสอบเท่านั้นที่ตั้งค่าความขัดข้องได้",
            f"only the sandbox administrator may set faults (the {ADMIN_CLIENT!r} certificate that `linkage init`"
            f" issues); this certificate is {who!r}")


class ProviderAdminServicer(provider_pb2_grpc.ProviderAdminServicer):
    """Sets, clears and reports a registry's faults; answers the sandbox administrator only."""

    def __init__(self, registry: Registry, faults: Faults) -> None:
        self.registry = registry
        self.faults = faults

    @grpc_errors
    async def SetFaults(self, request: provider_pb2.SetFaultsRequest, context: grpc.aio.ServicerContext,
                        ) -> provider_pb2.FaultState:
        _require_admin(context)
        self.faults.set(FaultPlan.from_proto(request.faults))
        _log.warning("faults set", extra={"provider": self.registry.name, **dataclasses.asdict(self.faults.plan)})
        return self.faults.state()

    @grpc_errors
    async def ClearFaults(self, request: provider_pb2.ClearFaultsRequest, context: grpc.aio.ServicerContext,
                          ) -> provider_pb2.FaultState:
        _require_admin(context)
        self.faults.clear()
        _log.warning("faults cleared", extra={"provider": self.registry.name})
        return self.faults.state()

    @grpc_errors
    async def GetFaults(self, request: provider_pb2.GetFaultsRequest, context: grpc.aio.ServicerContext,
                        ) -> provider_pb2.FaultState:
        _require_admin(context)
        return self.faults.state()


@dataclass
class ProviderServer:
    server: grpc.aio.Server
    port: int
    store: RecordStore
    metrics: ServerMetrics | None = None
    exporter: MetricsExporter | None = None  # GET /metrics (linkage/metrics.py)

    async def stop(self, grace: float | None = None) -> None:
        if self.exporter is not None:
            await self.exporter.close()
        await self.server.stop(grace)
        await self.store.close()


async def start_server(name: str, where: Path | Database, ca_cert: Path, own: pki.CertPaths, *, port: int = 0,
                       host: str = "127.0.0.1", metrics_port: int | None = None) -> ProviderServer:
    """Start registry `name` over its store at where, with mutual TLS; ``stop()`` closes server and store.
    Its metrics (calls by the hub, per document type) are served on metrics_port (0: any free one; None: none).

    Raises ValueError for an unknown registry, FileNotFoundError for a missing store, PortInUse
    (an OSError) when the address is taken, another OSError when it cannot be listened on for another
    reason, and linkage.storage's DatabaseUnavailable or SchemaMismatch for a PostgreSQL store that
    cannot be read.
    """
    registry = REGISTRIES.get(name)
    if registry is None:
        raise ValueError(f"no registry named {name!r}; known: {', '.join(REGISTRIES)}")
    store = await open_record_store(registry, where)
    metrics = ServerMetrics(known_caller=(HUB_CLIENT, ADMIN_CLIENT).__contains__, doc_types=registry.doc_types.keys(),
                            log=RequestLog(_log, {"provider": registry.name}))
    # Requests of at most PROVIDER_MAX_RECEIVE bytes, answers up to what the hub reads (linkage/limits.py).
    server = grpc.aio.server(interceptors=[metrics.interceptor(), MalformedRequests()], options=[
        *server_options(PROVIDER_MAX_RECEIVE, PROVIDER_MAX_SEND),
        ("grpc.so_reuseport", 0),
    ])
    faults = Faults(registry.name)
    secret = card_secret_path(own.cert, registry.name)
    cards = CardChecker(store, secret.read_bytes()) if registry.checks_cards and secret.is_file() else None
    provider_pb2_grpc.add_ProviderServiceServicer_to_server(ProviderServicer(registry, store, faults, cards), server)
    provider_pb2_grpc.add_ProviderAdminServicer_to_server(ProviderAdminServicer(registry, faults), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, ADMIN_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"{host}:{port}"
    try:
        bound = server.add_secure_port(address, pki.server_credentials(ca_cert, own))
    except RuntimeError:
        bound = 0
    if not bound:
        await store.close()
        raise listen_failure(address, "choose another port: [providers.NAME] port in linkage.toml, or --port")
    await server.start()
    running = ProviderServer(server, bound, store, metrics)
    if metrics_port is not None:
        try:
            running.exporter = await MetricsExporter.start(metrics.registry, host, metrics_port)
        except PortInUse:
            await running.stop(0)
            raise
    for service in ("", SERVICE_NAME):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return running


async def build_server(name: str, where: Path | Database, ca_cert: Path, own: pki.CertPaths, *, port: int = 0,
                       host: str = "127.0.0.1") -> tuple[grpc.aio.Server, int]:
    """``start_server`` returning the server and its port; the store closes with the process."""
    running = await start_server(name, where, ca_cert, own, port=port, host=host)
    return running.server, running.port


async def serve(name: str, where: Path | Database, ca_cert: Path, own: pki.CertPaths, port: int = 0,
                host: str = "127.0.0.1", ready: Callable[[int, str], None] | None = None, grace: float = 5.0,
                metrics_port: int | None = None) -> None:
    """Run registry `name` until SIGINT/SIGTERM or cancellation; calls ready(bound_port, metrics_url or "")
    once listening."""
    running = await start_server(name, where, ca_cert, own, port=port, host=host, metrics_port=metrics_port)
    bound = running.port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if ready is not None:
            ready(bound, running.exporter.url if running.exporter is not None else "")
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await running.stop(grace)
