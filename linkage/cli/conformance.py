"""The provider conformance kit: will a registry work behind the hub, before an agency connects it?

    linkage conformance --provider HOST:PORT [--home DIR | --ca FILE --cert FILE --key FILE]
                        [--id DOC_TYPE=ID ...] [--junit FILE] [--timeout S]

``run_suite(target, credentials, samples, timeout=...)`` first makes sure the target can be tested at
all: it resolves, accepts a TCP connection, completes a TLS handshake with a certificate from the
given CA, agrees to HTTP/2 and answers ``linkage.v1.ProviderService/Describe``. Anything else is a
``TargetError`` (exit 2), reported at once. Then it runs the checks below in order and returns a
``Report``: one ``Result`` per check, passed or with the problems found, each saying what was
expected and what came back. Calls within a check run together, each with the call deadline, so a
provider that hangs costs one deadline per check, never a hang of the kit.

Checks (stable names, the JUnit test case names):

    describe           Describe answers; provider, X-Road member, document types and fields are well formed
    health             grpc.health.v1 answers SERVING for "" and linkage.v1.ProviderService
    reflection         server reflection lists linkage.v1.ProviderService and resolves its methods
    valid_ids          every sample ID returns its record: type and ID echoed, every declared field, declared types
    malformed_ids      wrong length, non-digits, Thai digits, bad check digit, first digit 9, wrong kind:
                       INVALID_ARGUMENT
    unknown_doc_type   a document type the provider does not serve -> INVALID_ARGUMENT
    not_found          a well-formed ID with no record -> NOT_FOUND
    field_projection   asking for some fields returns exactly those, with the same values; an unknown field is refused
    check_card         CheckCard: a wrong laser code never matches (UNIMPLEMENTED where dopa.card is not served)
    deadline           calls abandoned at a 1 ms deadline end at once; the provider still answers within the deadline
    thai_text          Thai fields hold Thai letters, in NFC, without mojibake or U+FFFD (records and Describe titles)
    large_records      every record fits a printout the hub can send (and the hub's receive limit)
    error_details      every refusal carries google.rpc.ErrorInfo, domain linkage.go.th, with the reason clients expect

Sample IDs come from ``--id DOC_TYPE=ID`` (a provider team's own test records; pass the largest you
have) and, with ``--home``, from the sandbox's personas.json.

Errors:

    ConformanceError      code (stable snake_case), message
    ├── UsageError        bad_usage: contradictory or missing flags, unreadable credentials, a bad --id
    └── TargetError       the target cannot be tested: name_not_resolved, connection_refused, connect_timeout,
                          connect_failed, not_tls, tls_timeout, tls_untrusted, not_http2, grpc_unavailable,
                          no_answer, not_a_provider

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or a target that cannot be tested.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import socket
import ssl
import sys
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import descriptor_pb2, json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from linkage import pki
from linkage.config import Home, split_address
from linkage.errors import DOMAIN, InvalidRequest
from linkage.ids import IdKind, parse_id, with_check_digit
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc

__all__ = [
    "CHECKS",
    "PROVIDER_ANSWER_LIMIT",
    "SERVICE",
    "ConformanceError",
    "Credentials",
    "Report",
    "Result",
    "Sample",
    "TargetError",
    "UsageError",
    "add_commands",
    "run_conformance",
    "run_suite",
    "write_junit",
]

SERVICE = provider_pb2.DESCRIPTOR.services_by_name["ProviderService"]
_METHODS = tuple(m.name for m in SERVICE.methods)
# The hub reads provider answers up to this size (linkage/hub/routing.py); the kit's channel uses the same.
PROVIDER_ANSWER_LIMIT = 8 * 1024 * 1024
# What a hub answer holds besides the record: the JWS header (x5c chain), the log proof, the checkpoint.
_PRINTOUT_OVERHEAD = 64 * 1024
_SHORT_DEADLINE = 0.001
_WATCHDOG_SLACK = 1.0  # a call may outlive its deadline by this much before the kit calls it hung
_JSON_TYPES = {"string", "integer", "number", "boolean", "object", "array"}
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$")
_THAI = re.compile(r"[\u0e01-\u0e5b]")
_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
# UTF-8 Thai (E0 B8 xx / E0 B9 xx) read as Latin-1 or Windows-1252, and as TIS-620 / Windows-874.
_MOJIBAKE = ((re.compile("\u00e0[\u00b8\u00b9]"), "UTF-8 read as Latin-1/Windows-1252", ("cp1252", "latin-1")),
             (re.compile(r"(?:เ[ธน].){2,}"), "UTF-8 read as TIS-620/Windows-874", ("cp874",)))
_UNKNOWN_SUBJECT = {IdKind.CITIZEN: with_check_digit("199999999999"),
                    IdKind.JURISTIC: with_check_digit("099999999999")}
_SOME_ID = {IdKind.CITIZEN: with_check_digit("110170023070"), IdKind.JURISTIC: with_check_digit("010553611201")}
_KINDS = {common_pb2.SUBJECT_KIND_CITIZEN: IdKind.CITIZEN, common_pb2.SUBJECT_KIND_JURISTIC: IdKind.JURISTIC}


class ConformanceError(Exception):
    """Base of the kit's errors: a stable snake_case ``code`` and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(ConformanceError):
    """The command line cannot be run as given; the message says what would be right."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_usage", message)


class TargetError(ConformanceError):
    """The target cannot be tested: it does not answer, or is not a gRPC ProviderService over TLS."""


@dataclass(frozen=True)
class Credentials:
    """The trust root and the client certificate the kit shows (a registry demands one)."""

    ca: Path
    own: pki.CertPaths


@dataclass(frozen=True)
class Sample:
    """A subject that has a record of doc_type; source says where the kit got it (for messages)."""

    doc_type: str
    subject_id: str
    source: str = "--id"


@dataclass(frozen=True)
class Result:
    name: str
    passed: bool
    summary: str
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    def line(self) -> str:
        """One line: the summary when passed, else the first problem and how many more."""
        if self.passed:
            return f"PASS  {self.name:<17} {self.summary}"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"FAIL  {self.name:<17} {self.problems[0]}{more}"


@dataclass(frozen=True)
class Report:
    target: str
    provider: str
    member: str
    results: tuple[Result, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.passed]


# --- calls ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """How one call ended: a status code (None when it outlived its deadline), the answer or the refusal."""

    code: grpc.StatusCode | None
    answer: Any = None
    message: str = ""
    info: error_details_pb2.ErrorInfo | None = None
    details_error: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.code == grpc.StatusCode.OK)

    def shown(self) -> str:
        if self.code is None:
            return "no status at all: the call outlived its deadline"
        if self.ok:
            return "OK"
        return f"{self.code.name} {_clip(self.message, 100)!r}" if self.message else self.code.name


async def _call(rpc: Any, request: Any, timeout: float) -> _Outcome:
    """Call rpc with a deadline; never raises for a gRPC failure and never waits past deadline + slack."""
    try:
        answer = await asyncio.wait_for(rpc(request, timeout=timeout), timeout + _WATCHDOG_SLACK)
    except TimeoutError:
        return _Outcome(None)
    except grpc.aio.AioRpcError as exc:
        info, problem = _error_info(exc)
        return _Outcome(exc.code(), message=str(exc.details() or ""), info=info, details_error=problem)
    return _Outcome(grpc.StatusCode.OK, answer)


def _error_info(exc: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo | None, str]:
    try:
        status = rpc_status.from_call(exc)
    except ValueError as err:  # details whose code or message contradict the status itself
        return None, f"grpc-status-details-bin does not match the status: {err}"
    if status is None:
        return None, ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info, ""
    return None, ""


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


# --- reaching the target ------------------------------------------------------------------------------


def _split_target(target: str) -> tuple[str, int]:
    try:
        return split_address(target)
    except ValueError:
        raise UsageError(f"--provider must be HOST:PORT (e.g. 127.0.0.1:7451 or [::1]:7451), got {target!r}"
                         ) from None


async def _probe(target: str, creds: Credentials, timeout: float) -> None:
    """Raise TargetError unless target takes TCP, then TLS trusted by creds.ca, then HTTP/2 (ALPN h2)."""
    host, port = _split_target(target)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except socket.gaierror as exc:
        raise TargetError("name_not_resolved", f"cannot resolve {host!r}: {exc.strerror}") from None
    except ConnectionRefusedError:
        raise TargetError("connection_refused", f"nothing listens on {target} (connection refused)") from None
    except TimeoutError:
        raise TargetError("connect_timeout", f"{target} did not accept a connection within {timeout:g} s") from None
    except OSError as exc:
        raise TargetError("connect_failed", f"cannot connect to {target}: {exc.strerror or exc}") from None
    await _close(writer)
    context = ssl.create_default_context(cafile=str(creds.ca))
    context.load_cert_chain(str(creds.own.cert), str(creds.own.key))
    context.set_alpn_protocols(["h2"])
    not_grpc = "linkage providers serve gRPC over mutual TLS"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context, server_hostname=host),
                                           timeout)
    except ssl.SSLCertVerificationError as exc:
        raise TargetError("tls_untrusted", f"{target} speaks TLS but its certificate is not trusted by"
                                           f" {creds.ca}: {exc.verify_message}") from None
    except (ssl.SSLEOFError, ConnectionError, asyncio.IncompleteReadError):
        raise TargetError("not_tls", f"{target} closed the connection during the TLS handshake: it does not speak"
                                     f" TLS, or not to this client; {not_grpc}") from None
    except ssl.SSLError as exc:
        raise TargetError("not_tls", f"{target} does not speak TLS (handshake failed: {exc.reason or exc}): is it a"
                                     f" plain HTTP server, or gRPC without TLS? {not_grpc}") from None
    except TimeoutError:
        raise TargetError("tls_timeout", f"{target} accepted the connection but did not complete a TLS handshake"
                                         f" within {timeout:g} s: it does not answer, or not in TLS; {not_grpc}",
                          ) from None
    except OSError as exc:
        raise TargetError("connect_failed", f"cannot connect to {target}: {exc.strerror or exc}") from None
    ssl_object = writer.get_extra_info("ssl_object")
    alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
    await _close(writer)
    if alpn != "h2":
        raise TargetError("not_http2", f"{target} speaks TLS but did not agree to HTTP/2 (ALPN {alpn!r}, expected"
                                       " 'h2'): it is not a gRPC server")


async def _close(writer: asyncio.StreamWriter) -> None:
    # A probe needs no orderly goodbye: waiting for the peer's TLS close_notify can take seconds.
    writer.transport.abort()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


# --- the suite ------------------------------------------------------------------------------------------


@dataclass
class _Suite:
    """What the checks share: the stubs, Describe's answer, the samples and what earlier checks saw."""

    channel: grpc.aio.Channel
    timeout: float
    samples: Sequence[Sample]
    describe: provider_pb2.DescribeResponse | None = None
    describe_failure: str = ""
    # (doc_type, subject_id) -> the record's data, from valid_ids.
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    wire_sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    too_large: list[str] = field(default_factory=list)
    # Every refusal the kit provoked: what was asked, how it ended, the code it should have had, the reasons allowed.
    refusals: list[tuple[str, _Outcome, grpc.StatusCode, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.provider = provider_pb2_grpc.ProviderServiceStub(self.channel)

    @property
    def doc_types(self) -> list[common_pb2.DocumentType]:
        return list(self.describe.doc_types) if self.describe is not None else []

    def kind(self, doc_type: common_pb2.DocumentType) -> IdKind:
        return _KINDS.get(doc_type.subject_kind, IdKind.CITIZEN)

    def samples_of(self, code: str) -> list[Sample]:
        return [s for s in self.samples if s.doc_type == code]

    def base_id(self, doc_type: common_pb2.DocumentType) -> str:
        """A sample ID of doc_type when there is one, else some well-formed ID of the right kind."""
        found = self.samples_of(doc_type.code)
        return found[0].subject_id if found else _SOME_ID[self.kind(doc_type)]

    def smallest(self, code: str | None = None) -> Sample | None:
        """The sample with the smallest record (of doc type code), for checks about behaviour, not size."""
        keys = [k for k in self.records if code is None or k[0] == code]
        if not keys:
            return None
        doc_type, subject_id = min(keys, key=lambda k: self.wire_sizes[k])
        return Sample(doc_type, subject_id)

    async def get(self, doc_type: str, subject_id: str, fields: Sequence[str] = (),
                  timeout: float | None = None) -> _Outcome:
        request = provider_pb2.GetRecordRequest(doc_type=doc_type, subject_id=subject_id, fields=list(fields))
        return await _call(self.provider.GetRecord, request, self.timeout if timeout is None else timeout)

    async def refused(self, what: str, call: Awaitable[_Outcome], code: grpc.StatusCode,
                      reasons: tuple[str, ...]) -> str | None:
        """Await a call that must fail with code; note it for error_details; the problem, if any."""
        outcome = await call
        self.refusals.append((what, outcome, code, reasons))
        if outcome.code == code:
            return None
        got = outcome.shown()
        if outcome.ok:
            got = "OK with a record" if isinstance(outcome.answer, provider_pb2.GetRecordResponse) else "OK"
        return f"{what}: expected {code.name}, got {got}"


Check = Callable[[_Suite], Awaitable[tuple[str, list[str]]]]


def _needs_doc_types(check: Check) -> Check:
    """A check that has nothing to do until Describe has listed document types fails, saying so."""

    @functools.wraps(check)
    async def wrapper(suite: _Suite) -> tuple[str, list[str]]:
        if suite.describe is None:
            return "", [f"not checked: Describe did not answer ({suite.describe_failure})"]
        if not suite.describe.doc_types:
            return "", ["not checked: Describe lists no document types"]
        return await check(suite)

    return wrapper


async def _check_describe(suite: _Suite) -> tuple[str, list[str]]:
    if suite.describe is None:
        return "", [f"Describe: expected an answer, got {suite.describe_failure}"]
    d = suite.describe
    problems = []
    if not _SNAKE.match(d.provider):
        problems.append(f"provider: expected a lower-case name such as 'dopa', got {d.provider!r}")
    parts = d.member.split("/")
    if len(parts) != 4 or not all(parts):
        problems.append(f"member: expected X-Road instance/class/member/subsystem such as"
                        f" 'TH/GOV/DOPA/civil-registry', got {d.member!r}")
    if not d.doc_types:
        problems.append("doc_types: expected at least one document type, got none")
    codes = [t.code for t in d.doc_types]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(f"doc_types: {code!r} is listed {codes.count(code)} times")
    fields = 0
    for t in d.doc_types:
        where = f"document type {t.code!r}"
        if not _CODE.match(t.code) or not t.code.startswith(f"{d.provider}."):
            problems.append(f"{where}: expected a dotted code owned by the provider, such as '{d.provider}.person'")
        if not _THAI.search(t.title_th) or not t.title_en.strip():
            problems.append(f"{where}: expected a Thai title_th and an English title_en, got {t.title_th!r}"
                            f" and {t.title_en!r}")
        if t.subject_kind not in _KINDS:
            problems.append(f"{where}: subject_kind must be SUBJECT_KIND_CITIZEN or SUBJECT_KIND_JURISTIC,"
                            f" got {common_pb2.SubjectKind.Name(t.subject_kind)}")
        if not t.fields:
            problems.append(f"{where}: expected fields, got none")
        names = [f.name for f in t.fields]
        fields += len(names)
        for f in t.fields:
            if not _SNAKE.match(f.name):
                problems.append(f"{where} field {f.name!r}: expected a snake_case name")
            elif names.count(f.name) > 1:
                problems.append(f"{where} field {f.name!r}: listed {names.count(f.name)} times")
            if f.type not in _JSON_TYPES:
                problems.append(f"{where} field {f.name!r}: type {f.type!r} is not one of"
                                f" {', '.join(sorted(_JSON_TYPES))}")
            if not f.title_th.strip() or not f.title_en.strip():
                problems.append(f"{where} field {f.name!r}: expected title_th and title_en, got {f.title_th!r}"
                                f" and {f.title_en!r}")
    return f"{d.provider} ({d.member}): {', '.join(codes)}; {fields} fields, well formed", problems


async def _check_health(suite: _Suite) -> tuple[str, list[str]]:
    stub = health_pb2_grpc.HealthStub(suite.channel)
    names = ("", SERVICE.full_name)
    outcomes = await asyncio.gather(*(
        _call(stub.Check, health_pb2.HealthCheckRequest(service=name), suite.timeout) for name in names))
    problems = []
    for name, outcome in zip(names, outcomes, strict=True):
        if not outcome.ok:
            hint = " (register grpc_health's HealthServicer)" if outcome.code == grpc.StatusCode.UNIMPLEMENTED else ""
            problems.append(f"grpc.health.v1.Health/Check({name!r}): expected SERVING, got {outcome.shown()}{hint}")
        elif outcome.answer.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(outcome.answer.status)
            problems.append(f"grpc.health.v1.Health/Check({name!r}): expected SERVING, got {status}")
    return f"SERVING for {' and '.join(repr(n) for n in names)}", problems


async def _check_reflection(suite: _Suite) -> tuple[str, list[str]]:
    stub = reflection_pb2_grpc.ServerReflectionStub(suite.channel)
    requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE.full_name)]

    async def ask() -> list[Any]:
        # One request per stream: a server without reflection ends the stream at once, and a second
        # request written after that turns its UNIMPLEMENTED into an INTERNAL error of the client's own.
        return [answer for request in requests
                async for answer in stub.ServerReflectionInfo(iter([request]), timeout=suite.timeout)]

    try:
        answers = await asyncio.wait_for(ask(), suite.timeout + _WATCHDOG_SLACK)
    except grpc.aio.AioRpcError as exc:
        hint = " (enable grpc_reflection for the server)" if exc.code() == grpc.StatusCode.UNIMPLEMENTED else ""
        return "", [f"grpc.reflection.v1alpha.ServerReflection: expected an answer, got {exc.code().name}{hint}"]
    except TimeoutError:
        return "", ["grpc.reflection.v1alpha.ServerReflection: expected an answer, got none within the deadline"]
    services: list[str] = []
    methods: set[str] = set()
    for answer in answers:
        services += [s.name for s in answer.list_services_response.service]
        for blob in answer.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
            for service in proto.service:
                if f"{proto.package}.{service.name}" == SERVICE.full_name:
                    methods |= {m.name for m in service.method}
    problems = []
    if SERVICE.full_name not in services:
        problems.append(f"list_services: expected {SERVICE.full_name}, got {', '.join(services) or 'nothing'}")
    missing = [m for m in _METHODS if m not in methods]
    if missing:
        problems.append(f"file_containing_symbol({SERVICE.full_name}): expected methods {', '.join(_METHODS)},"
                        f" missing {', '.join(missing)}")
    return (f"lists {SERVICE.full_name} among {len(services)} services; it resolves with {', '.join(_METHODS)}",
            problems)


def _type_problem(spec: common_pb2.FieldSpec, value: Any) -> str | None:
    if value is None:
        return None
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, float) and value.is_integer(),
        "number": isinstance(value, float),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }.get(spec.type, True)
    shown = _clip(json.dumps(value, ensure_ascii=False), 40)
    return None if ok else f"field {spec.name!r}: expected {spec.type}, got {shown}"


@_needs_doc_types
async def _check_valid_ids(suite: _Suite) -> tuple[str, list[str]]:
    problems: list[str] = []
    described = {t.code: t for t in suite.doc_types}
    for s in suite.samples:
        if s.doc_type not in described and s.source == "--id":
            problems.append(f"--id {s.doc_type}={s.subject_id}: the provider does not describe {s.doc_type}")
    for code in described:
        if not suite.samples_of(code):
            problems.append(f"{code}: no sample ID, so its records were not checked; pass --id {code}=ID")
    samples = [s for s in suite.samples if s.doc_type in described]
    outcomes = await asyncio.gather(*(suite.get(s.doc_type, s.subject_id) for s in samples))
    for s, outcome in zip(samples, outcomes, strict=True):
        what = f"{s.doc_type} {s.subject_id} (from {s.source})"
        if outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in outcome.message:
            suite.too_large.append(f"{what}: the answer exceeds the hub's {_size(PROVIDER_ANSWER_LIMIT)} receive"
                                   " limit (RESOURCE_EXHAUSTED)")
        if not outcome.ok:
            problems.append(f"{what}: expected a record, got {outcome.shown()}")
            continue
        answer = outcome.answer
        data: dict[str, Any] = json_format.MessageToDict(answer.data)
        suite.records[(s.doc_type, s.subject_id)] = data
        suite.wire_sizes[(s.doc_type, s.subject_id)] = answer.ByteSize()
        if answer.doc_type != s.doc_type:
            problems.append(f"{what}: expected doc_type {s.doc_type!r} in the answer, got {answer.doc_type!r}")
        if answer.subject_id != s.subject_id:
            problems.append(f"{what}: expected subject_id {s.subject_id!r} in the answer, got {answer.subject_id!r}")
        specs = {f.name: f for f in described[s.doc_type].fields}
        extra = sorted(k for k in data if k not in specs)
        missing = [k for k in specs if k not in data]
        if extra:
            problems.append(f"{what}: fields not declared by Describe: {', '.join(extra)}")
        if missing:
            problems.append(f"{what}: no fields asked means every field; missing {', '.join(missing)}")
        problems += [f"{what}: {p}" for k, spec in specs.items() if k in data and (p := _type_problem(spec, data[k]))]
    counts = ", ".join(f"{code} {len([k for k in suite.records if k[0] == code])}" for code in described)
    return f"{len(suite.records)} records ({counts})", problems


def _malformed(base: str, kind: IdKind) -> list[tuple[str, str, tuple[str, ...]]]:
    """(what, subject_id, reasons allowed) for every way the contract says an ID is malformed."""
    bumped = base[:12] + str((int(base[12]) + 1) % 10)
    other = _SOME_ID[IdKind.JURISTIC if kind is IdKind.CITIZEN else IdKind.CITIZEN]
    return [
        ("wrong length (12 digits)", base[:12], ("id_wrong_length",)),
        ("wrong length (14 digits)", base + "0", ("id_wrong_length",)),
        ("non-digits", base[:11] + "X" + base[12], ("id_not_digits",)),
        ("Thai digits", base.translate(_THAI_DIGITS), ("id_not_digits",)),
        ("empty", "", ("id_not_digits", "id_wrong_length")),
        ("bad check digit", bumped, ("check_digit_mismatch",)),
        ("first digit 9", with_check_digit("9" + base[1:12]), ("id_bad_first_digit",)),
        (f"wrong kind ({'juristic' if kind is IdKind.CITIZEN else 'personal'} ID)", other, ("id_wrong_kind",)),
    ]


@_needs_doc_types
async def _check_malformed_ids(suite: _Suite) -> tuple[str, list[str]]:
    calls = []
    for t in suite.doc_types:
        for what, subject_id, reasons in _malformed(suite.base_id(t), suite.kind(t)):
            calls.append(suite.refused(f"{t.code}, {what} {subject_id!r}", suite.get(t.code, subject_id),
                                       grpc.StatusCode.INVALID_ARGUMENT, reasons))
    found = [p for p in await asyncio.gather(*calls) if p]
    return f"{len(calls)} malformed IDs refused with INVALID_ARGUMENT", found


@_needs_doc_types
async def _check_unknown_doc_type(suite: _Suite) -> tuple[str, list[str]]:
    assert suite.describe is not None  # _needs_doc_types
    code = f"{suite.describe.provider}.no_such_document"
    problem = await suite.refused(f"doc_type {code!r}", suite.get(code, suite.base_id(suite.doc_types[0])),
                                  grpc.StatusCode.INVALID_ARGUMENT, ("unknown_doc_type",))
    return f"{code!r} refused with INVALID_ARGUMENT", [problem] if problem else []


@_needs_doc_types
async def _check_not_found(suite: _Suite) -> tuple[str, list[str]]:
    calls = [suite.refused(f"{t.code} {_UNKNOWN_SUBJECT[suite.kind(t)]} (well formed, no such subject)",
                           suite.get(t.code, _UNKNOWN_SUBJECT[suite.kind(t)]), grpc.StatusCode.NOT_FOUND,
                           ("record_not_found",)) for t in suite.doc_types]
    found = [p for p in await asyncio.gather(*calls) if p]
    return f"NOT_FOUND for a well-formed unknown ID of {', '.join(t.code for t in suite.doc_types)}", found


@_needs_doc_types
async def _check_field_projection(suite: _Suite) -> tuple[str, list[str]]:
    problems: list[str] = []
    asks: list[tuple[common_pb2.DocumentType, Sample, list[str]]] = []
    unchecked = []  # no record to project: valid_ids has said why
    for t in suite.doc_types:
        names = [f.name for f in t.fields]
        sample = suite.smallest(t.code)
        if sample is None or not names:
            unchecked.append(t.code)
            continue
        asks.append((t, sample, [names[-1], names[0]] if len(names) > 1 else names))
    outcomes = await asyncio.gather(*(suite.get(t.code, s.subject_id, wanted) for t, s, wanted in asks))
    for (t, s, wanted), outcome in zip(asks, outcomes, strict=True):
        what = f"{t.code} {s.subject_id} asking for {', '.join(wanted)}"
        if not outcome.ok:
            problems.append(f"{what}: expected those fields, got {outcome.shown()}")
            continue
        data = json_format.MessageToDict(outcome.answer.data)
        if set(data) != set(wanted):
            extra = sorted(k for k in data if k not in wanted)
            problems.append(f"{what}: expected exactly those fields, got {len(data)}"
                            + (f" (extra: {_clip(', '.join(extra))})" if extra else "")
                            + (f" (missing: {', '.join(k for k in wanted if k not in data)})"
                               if set(wanted) - set(data) else ""))
            continue
        whole = suite.records[(t.code, s.subject_id)]
        changed = [k for k in wanted if data[k] != whole.get(k)]
        if changed:
            problems.append(f"{what}: {', '.join(changed)} differs from the same field in the whole record")
    unknown = [suite.refused(f"{t.code} asking for an unknown field 'no_such_field'",
                             suite.get(t.code, suite.base_id(t), [t.fields[0].name, "no_such_field"]),
                             grpc.StatusCode.INVALID_ARGUMENT, ("unknown_field",))
               for t in suite.doc_types if t.fields]
    problems += [p for p in await asyncio.gather(*unknown) if p]
    codes = ", ".join(t.code for t, _, _ in asks) or "none"
    skipped = f"; {', '.join(unchecked)} not projected, no record" if unchecked else ""
    return f"only the fields asked for, with the same values ({codes}){skipped}; unknown fields refused", problems


@_needs_doc_types
async def _check_check_card(suite: _Suite) -> tuple[str, list[str]]:
    problems: list[str] = []
    card = next((t for t in suite.doc_types if t.code == "dopa.card"), None)
    if card is None:
        problem = await suite.refused("CheckCard on a provider that does not serve dopa.card",
                                      _call(suite.provider.CheckCard, provider_pb2.CheckCardRequest(
                                          subject_id=_SOME_ID[IdKind.CITIZEN]), suite.timeout),
                                      grpc.StatusCode.UNIMPLEMENTED, ())
        return "UNIMPLEMENTED (the provider serves no dopa.card)", [problem] if problem else []
    subject = suite.base_id(card)
    shown = suite.records.get(("dopa.card", subject), {})
    wrong = provider_pb2.CheckCardRequest(subject_id=subject, first_name_th=str(shown.get("first_name_th", "")),
                                          last_name_th=str(shown.get("last_name_th", "")), birth_date="25000101",
                                          laser_code="XX0-0000000-00")
    outcome = await _call(suite.provider.CheckCard, wrong, suite.timeout)
    if not outcome.ok:
        problems.append(f"CheckCard {subject} with a wrong laser code: expected match false, got {outcome.shown()}")
    elif outcome.answer.match:
        problems.append(f"CheckCard {subject} with a wrong laser code and birth date: expected match false, got true")
    bad = subject[:12] + str((int(subject[12]) + 1) % 10)
    problem = await suite.refused(f"CheckCard, bad check digit {bad!r}",
                                  _call(suite.provider.CheckCard, provider_pb2.CheckCardRequest(subject_id=bad),
                                        suite.timeout),
                                  grpc.StatusCode.INVALID_ARGUMENT, ("check_digit_mismatch",))
    return "a wrong card does not match; a malformed ID is refused", problems + ([problem] if problem else [])


@_needs_doc_types
async def _check_deadline(suite: _Suite) -> tuple[str, list[str]]:
    problems: list[str] = []
    t = suite.doc_types[0]
    sample = suite.smallest() or Sample(t.code, suite.base_id(t))
    short = await asyncio.gather(*(suite.get(sample.doc_type, sample.subject_id, timeout=_SHORT_DEADLINE)
                                   for _ in range(4)))
    for outcome in short:
        if outcome.code not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.OK):
            problems.append(f"GetRecord with a {_SHORT_DEADLINE * 1000:g} ms deadline: expected DEADLINE_EXCEEDED"
                            f" (or the record in time), got {outcome.shown()}")
    # Then the provider must still answer in time: abandoned calls must not hold it up.
    after = await suite.get(sample.doc_type, sample.subject_id)
    known = (sample.doc_type, sample.subject_id) in suite.records
    if (known and not after.ok) or after.code in (None, grpc.StatusCode.DEADLINE_EXCEEDED):
        problems.append(f"after {len(short)} calls abandoned at their deadline, GetRecord {sample.doc_type}"
                        f" {sample.subject_id} with the {suite.timeout:g} s deadline: expected"
                        f" {'the record' if known else 'an answer'}, got {after.shown()}")
    return (f"{len(short)} calls with a {_SHORT_DEADLINE * 1000:g} ms deadline ended in DEADLINE_EXCEEDED; the next"
            f" answered within {suite.timeout:g} s", problems)


def _text_problems(where: str, text: str, thai: bool) -> list[str]:
    """What is wrong with one string that should have come through intact (and be Thai when thai)."""
    shown = _clip(text, 40)
    for pattern, how, encodings in _MOJIBAKE:
        if pattern.search(text):
            fixed = ""
            for encoding in encodings:
                with contextlib.suppress(UnicodeError):
                    fixed = f"; it should read {_clip(text.encode(encoding).decode('utf-8'), 40)!r}"
                    break
            return [f"{where} {shown!r}: mojibake ({how}){fixed}"]
    if "\ufffd" in text:
        return [f"{where} {shown!r}: contains U+FFFD, so characters were lost in decoding"]
    problems = []
    if not unicodedata.is_normalized("NFC", text):
        problems.append(f"{where} {shown!r}: not in NFC (marks out of canonical order); expected"
                        f" {_clip(unicodedata.normalize('NFC', text), 40)!r}")
    if thai and text.strip() and not _THAI.search(text):
        problems.append(f"{where} {shown!r}: a Thai field without a Thai letter")
    return problems


def _ordered(data: dict[str, Any], names: Sequence[str]) -> list[tuple[str, Any]]:
    """data's items in Describe's field order, then any others by name: a Struct's keys come in no fixed order."""
    return [(k, data[k]) for k in names if k in data] + sorted((k, v) for k, v in data.items() if k not in names)


def _strings(value: Any, path: str, thai: bool) -> Iterable[tuple[str, str, bool]]:
    """(path, text, must be Thai) for every string in value; keys ending in _th mark Thai text."""
    if isinstance(value, str):
        yield path, value, thai
    elif isinstance(value, dict):
        for k, v in sorted(value.items()):  # a Struct's keys come in no fixed order
            yield from _strings(v, f"{path}.{k}", k.endswith("_th"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]", thai)


@_needs_doc_types
async def _check_thai_text(suite: _Suite) -> tuple[str, list[str]]:
    problems: list[str] = []
    checked = thai_seen = 0
    for t in suite.doc_types:
        texts = [(f"Describe {t.code} title_th", t.title_th, True), (f"Describe {t.code} title_en", t.title_en, False)]
        texts += [(f"Describe {t.code} field {f.name} title_th", f.title_th, True) for f in t.fields]
        for where, text, thai in texts:
            checked += 1
            problems += _text_problems(where, text, thai)
    specs = {t.code: {f.name: f for f in t.fields} for t in suite.doc_types}
    for (code, subject), data in suite.records.items():
        for key, value in _ordered(data, list(specs[code])):
            spec = specs[code].get(key)
            thai = key.endswith("_th") or (spec is not None and "(Thai)" in spec.title_en)
            for path, text, must in _strings(value, key, thai):
                checked += 1
                thai_seen += bool(_THAI.search(text))
                problems += _text_problems(f"{code} {subject} {path}", text, must)
    if not problems and suite.records and not thai_seen:
        problems.append("no record held any Thai text: expected Thai names or addresses in the sample records")
    return f"{checked} strings intact, {thai_seen} with Thai text, all NFC", problems


@_needs_doc_types
async def _check_large_records(suite: _Suite) -> tuple[str, list[str]]:
    from linkage.hub.server import MAX_MESSAGE
    from linkage.seal import canonical_json

    # A printout carries the record base64url-encoded inside its JWS, in a hub answer of at most MAX_MESSAGE.
    budget = (MAX_MESSAGE - _PRINTOUT_OVERHEAD) * 3 // 4
    problems = list(suite.too_large)
    sizes = sorted(((len(canonical_json(data)), key, data) for key, data in suite.records.items()),
                   key=lambda x: x[0], reverse=True)
    for size, (code, subject), _ in sizes:
        if size > budget:
            problems.append(f"{code} {subject}: the record is {_size(size)} as JSON; a printout carries it base64"
                            f" inside the hub's {_size(MAX_MESSAGE)} answer, so at most {_size(budget)}")
    if not sizes:
        return "", problems or ["not checked: no record (see valid_ids)"]
    size, (code, subject), data = sizes[0]
    lists = [f"{len(v)} {k}" for k, v in sorted(data.items()) if isinstance(v, list)]
    hint = "" if size >= 64 * 1024 else "; pass your largest records with --id to check them"
    return (f"largest {code} {subject}, {_size(size)} as JSON{' (' + ', '.join(lists) + ')' if lists else ''};"
            f" a printout may carry {_size(budget)}{hint}", problems)


@_needs_doc_types
async def _check_error_details(suite: _Suite) -> tuple[str, list[str]]:
    problems: list[str] = []
    seen = 0
    for what, outcome, code, reasons in suite.refusals:
        if outcome.code != code or not reasons:
            continue  # a wrong status is the other check's failure; UNIMPLEMENTED carries no ErrorInfo
        seen += 1
        info = outcome.info
        if info is None:
            problems.append(f"{what}: expected google.rpc.ErrorInfo in the status details, got none"
                            + (f" ({outcome.details_error})" if outcome.details_error else ""))
        elif info.domain != DOMAIN:
            problems.append(f"{what}: expected ErrorInfo domain {DOMAIN!r}, got {info.domain!r}")
        elif info.reason not in reasons:
            problems.append(f"{what}: expected ErrorInfo reason {' or '.join(map(repr, reasons))}, got"
                            f" {info.reason!r}")
        elif not outcome.message.strip():
            problems.append(f"{what}: expected a message (Thai, then English), got none")
    if not seen and not problems:
        problems.append("not checked: no refusal came back with the expected status (see the checks above)")
    return f"{seen} refusals carry ErrorInfo (domain {DOMAIN}) with the reason clients branch on", problems


CHECKS: tuple[tuple[str, Check], ...] = (
    ("describe", _check_describe),
    ("health", _check_health),
    ("reflection", _check_reflection),
    ("valid_ids", _check_valid_ids),
    ("malformed_ids", _check_malformed_ids),
    ("unknown_doc_type", _check_unknown_doc_type),
    ("not_found", _check_not_found),
    ("field_projection", _check_field_projection),
    ("check_card", _check_check_card),
    ("deadline", _check_deadline),
    ("thai_text", _check_thai_text),
    ("large_records", _check_large_records),
    ("error_details", _check_error_details),
)
"""Every check, in the order it runs: (name, check). Later checks read what earlier ones saw."""


async def run_suite(target: str, credentials: Credentials, samples: Sequence[Sample], *,
                    timeout: float, progress: Callable[[Result], None] | None = None) -> Report:
    """Run every check of CHECKS against the ProviderService at target (HOST:PORT).

    Raises UsageError for a target that is not HOST:PORT and TargetError when the target cannot be
    tested at all (see the module docstring); a provider that answers but breaks the contract gives a
    Report whose failed results say how. progress, when given, is called with each result as it comes.
    """
    await _probe(target, credentials, timeout)
    options = [("grpc.max_receive_message_length", PROVIDER_ANSWER_LIMIT), ("grpc.enable_retries", 0)]
    channel = grpc.aio.secure_channel(target, pki.channel_credentials(credentials.ca, credentials.own),
                                      options=options)
    try:
        suite = _Suite(channel, timeout, samples)
        described = await _call(suite.provider.Describe, provider_pb2.DescribeRequest(), timeout)
        if described.code == grpc.StatusCode.UNIMPLEMENTED:
            raise TargetError("not_a_provider", f"{target} is a gRPC server but not a {SERVICE.full_name}:"
                                                " Describe is UNIMPLEMENTED")
        if described.code == grpc.StatusCode.UNAVAILABLE:
            raise TargetError("grpc_unavailable", f"{target} completes a TLS handshake but refuses gRPC calls"
                                                  f" ({_clip(described.message, 160)}); does it accept the client"
                                                  f" certificate {credentials.own.cert}?")
        if described.code in (None, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise TargetError("no_answer", f"{target} did not answer Describe within {timeout:g} s")
        if described.ok:
            suite.describe = described.answer
        else:
            suite.describe_failure = described.shown()
        results = []
        for name, check in CHECKS:
            start = time.perf_counter()
            summary, problems = await check(suite)
            result = Result(name, not problems, summary, tuple(problems), time.perf_counter() - start)
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        await channel.close()
    d = suite.describe
    return Report(target, d.provider if d else "", d.member if d else "", tuple(results))


def write_junit(report: Report, path: Path) -> None:
    """Write report as JUnit XML at path, atomically (a temporary file renamed into place)."""
    suite = ET.Element("testsuite", name="linkage.cli.conformance", tests=str(len(report.results)),
                       failures=str(len(report.failed())), errors="0",
                       time=f"{sum(r.seconds for r in report.results):.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("target", report.target), ("provider", report.provider), ("member", report.member)):
        ET.SubElement(props, "property", name=key, value=value)
    classname = f"linkage.cli.conformance.{report.provider or 'provider'}"
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=classname, name=r.name, time=f"{r.seconds:.3f}")
        if r.passed:
            ET.SubElement(case, "system-out").text = r.summary
        else:
            failure = ET.SubElement(case, "failure", message=r.problems[0], type="nonconformance")
            failure.text = "\n".join(r.problems)
    _write_atomic(path, ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n")


def _write_junit_error(target: str, err: ConformanceError, path: Path) -> None:
    suite = ET.Element("testsuite", name="linkage.cli.conformance", tests="1", failures="0", errors="1", time="0")
    case = ET.SubElement(suite, "testcase", classname="linkage.cli.conformance", name="connect", time="0")
    ET.SubElement(case, "error", message=err.message, type=err.code).text = f"{target}: {err.message}"
    _write_atomic(path, ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- the command ------------------------------------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> tuple[Credentials, Home | None, float]:
    """Credentials, the sandbox home (for personas.json) and the default call deadline in seconds."""
    from linkage.config import ConfigError, HubConfig, load_settings
    from linkage.pki import HUB_CLIENT

    given = {flag: getattr(args, flag) for flag in ("ca", "cert", "key")}
    env = {flag: os.environ.get(f"LINKAGE_{flag.upper()}") for flag in given}
    if args.home is not None and any(given.values()):
        raise UsageError("give either --home DIR or --ca FILE --cert FILE --key FILE, not both")
    timeout = HubConfig().provider_timeout_ms / 1000
    if args.home is None and not any(given.values()) and any(env.values()):
        given = env
    if any(given.values()):
        missing = [f"--{flag}" for flag, value in given.items() if not value]
        if missing:
            raise UsageError(f"--ca, --cert and --key go together: missing {', '.join(missing)}")
        creds = Credentials(Path(given["ca"]), pki.CertPaths(Path(given["cert"]), Path(given["key"])))
        home = None
    else:
        home = Home(Path(args.home or os.environ.get("LINKAGE_HOME", str(Path.home() / ".linkage"))).resolve())
        creds = Credentials(home.ca.cert, home.client_cert(HUB_CLIENT))
        if home.config_file.exists():
            try:
                timeout = load_settings(home).hub.provider_timeout_ms / 1000
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
    for what, path in (("CA certificate", creds.ca), ("client certificate", creds.own.cert),
                       ("client key", creds.own.key)):
        if not path.is_file():
            hint = (f" (is {home.root} a sandbox? make one with `linkage init --home {home.root}`, or pass --ca,"
                    " --cert and --key)") if home else ""
            raise UsageError(f"no {what} at {path}{hint}")
    return creds, home, timeout


def _samples(args: argparse.Namespace, home: Path | None) -> list[Sample]:
    samples = []
    for raw in args.id or []:
        doc_type, sep, subject = raw.partition("=")
        if not sep or not _CODE.match(doc_type.strip()):
            raise UsageError(f"--id must be DOC_TYPE=ID (e.g. dopa.person=1101700230708), got {raw!r}")
        try:
            subject_id = parse_id(subject, what=f"--id {doc_type.strip()}")
        except InvalidRequest as exc:
            raise UsageError(exc.message) from None
        samples.append(Sample(doc_type.strip(), subject_id, "--id"))
    if home is not None:
        personas = home / "personas.json"
        try:
            entries = json.loads(personas.read_text(encoding="utf-8")) if personas.exists() else []
        except (OSError, ValueError) as exc:
            raise UsageError(f"{personas}: cannot read: {exc}") from None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                samples += [Sample(str(code), entry["id"], "personas.json") for code in entry.get("doc_types", [])]
    return list(dict.fromkeys(samples))


async def run_conformance(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The `linkage conformance` command, parsed by a parser that add_commands built; the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.timeout is not None and not 0 < args.timeout <= 600:
            raise UsageError(f"--timeout must be between 0 and 600 seconds, got {args.timeout:g}")
        _split_target(args.provider)
        creds, home, timeout = _credentials(args)
        timeout = args.timeout if args.timeout is not None else timeout
        samples = _samples(args, home.root if home else None)
        if args.junit and not Path(args.junit).parent.is_dir():
            raise UsageError(f"--junit: no folder {Path(args.junit).parent} to write {Path(args.junit).name} in")
    except UsageError as exc:
        print(f"linkage conformance: {exc.message}", file=err)
        return 2
    print(f"conformance of {args.provider} to {SERVICE.full_name} (deadline {timeout:g} s,"
          f" {len(samples)} sample IDs)", file=out, flush=True)
    try:
        report = await run_suite(args.provider, creds, samples, timeout=timeout,
                                 progress=lambda r: print(r.line(), file=out, flush=True))
    except ConformanceError as exc:
        print(f"linkage conformance: cannot test {args.provider}: {exc.message}", file=err)
        if args.junit:
            _write_junit_error(args.provider, exc, Path(args.junit))
        return 2
    failed = report.failed()
    verdict = (f"all {len(report.results)} checks passed" if not failed else
               f"{len(failed)} of {len(report.results)} checks failed: {', '.join(failed)}")
    print(f"{report.provider or args.provider}: {verdict}", file=out)
    if args.junit:
        write_junit(report, Path(args.junit))
        print(f"JUnit report: {args.junit}", file=out)
    return 0 if report.passed else 1


def _cmd_conformance(args: argparse.Namespace) -> int:
    return asyncio.run(run_conformance(args))


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 2.5, got {text!r}") from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage conformance``: check a ProviderService before the hub relies on it."""
    p = sub.add_parser("conformance", help="check that a registry implements linkage.v1.ProviderService correctly",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--provider", required=True, help="the registry under test, HOST:PORT")
    p.add_argument("--home", default=None,
                   help="sandbox folder: its CA, the hub's client certificate and personas.json as sample IDs"
                        " (default LINKAGE_HOME or ~/.linkage unless --ca/--cert/--key are given)")
    p.add_argument("--ca", help="CA certificate that issued the registry's (LINKAGE_CA)")
    p.add_argument("--cert", help="client certificate the registry accepts (LINKAGE_CERT)")
    p.add_argument("--key", help="its private key (LINKAGE_KEY)")
    p.add_argument("--id", action="append", metavar="DOC_TYPE=ID",
                   help="a subject that has a record, e.g. dopa.house=1101700230708 (repeat; include your largest"
                        " records)")
    p.add_argument("--junit", metavar="FILE", default=os.environ.get("LINKAGE_CONFORMANCE_JUNIT"),
                   help="also write a JUnit XML report (LINKAGE_CONFORMANCE_JUNIT)")
    # A string default goes through type= only when this command is parsed.
    p.add_argument("--timeout", type=_seconds, metavar="S", default=os.environ.get("LINKAGE_CONFORMANCE_TIMEOUT"),
                   help="deadline of each call in seconds (LINKAGE_CONFORMANCE_TIMEOUT; default the hub's"
                        " provider_timeout_ms, 3 s)")
    p.set_defaults(func=_cmd_conformance)
