"""The checks of the ProviderService contract, one coroutine each (the Thai text check is in thai_text.py).

Each takes the ``SuiteState`` and answers (summary, problems); each problem says what was expected and
what came back. Calls within a check run together.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from linkage.cli.conformance.calls import PROVIDER_ANSWER_LIMIT, SERVICE, WATCHDOG_SLACK, call, clip
from linkage.cli.conformance.state import DOC_TYPE_CODE, KINDS, SOME_ID, Sample, SuiteState, needs_doc_types
from linkage.cli.conformance.thai_text import THAI_LETTER
from linkage.errors import DOMAIN
from linkage.ids import IdKind, with_check_digit
from linkage.v1 import common_pb2, provider_pb2

__all__ = [
    "check_check_card",
    "check_deadline",
    "check_describe",
    "check_error_details",
    "check_field_projection",
    "check_health",
    "check_large_records",
    "check_malformed_ids",
    "check_not_found",
    "check_reflection",
    "check_unknown_doc_type",
    "check_valid_ids",
]

# The methods reflection must resolve: all but the optional BatchGetRecords (the hub copes without it).
_METHODS = tuple(m.name for m in SERVICE.methods if m.name != "BatchGetRecords")
# What a hub answer holds besides the record: the JWS header (x5c chain), the log proof, the checkpoint.
_PRINTOUT_OVERHEAD = 64 * 1024
_SHORT_DEADLINE = 0.001
_JSON_TYPES = {"string", "integer", "number", "boolean", "object", "array"}
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
_UNKNOWN_SUBJECT = {IdKind.CITIZEN: with_check_digit("199999999999"),
                    IdKind.JURISTIC: with_check_digit("099999999999")}


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


async def check_describe(suite: SuiteState) -> tuple[str, list[str]]:
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
        if not DOC_TYPE_CODE.match(t.code) or not t.code.startswith(f"{d.provider}."):
            problems.append(f"{where}: expected a dotted code owned by the provider, such as '{d.provider}.person'")
        if not THAI_LETTER.search(t.title_th) or not t.title_en.strip():
            problems.append(f"{where}: expected a Thai title_th and an English title_en, got {t.title_th!r}"
                            f" and {t.title_en!r}")
        if t.subject_kind not in KINDS:
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


async def check_health(suite: SuiteState) -> tuple[str, list[str]]:
    stub = health_pb2_grpc.HealthStub(suite.channel)
    names = ("", SERVICE.full_name)
    outcomes = await asyncio.gather(*(
        call(stub.Check, health_pb2.HealthCheckRequest(service=name), suite.timeout) for name in names))
    problems = []
    for name, outcome in zip(names, outcomes, strict=True):
        if not outcome.ok:
            hint = " (register grpc_health's HealthServicer)" if outcome.status == grpc.StatusCode.UNIMPLEMENTED else ""
            problems.append(f"grpc.health.v1.Health/Check({name!r}): expected SERVING, got {outcome.shown()}{hint}")
        elif outcome.answer.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(outcome.answer.status)
            problems.append(f"grpc.health.v1.Health/Check({name!r}): expected SERVING, got {status}")
    return f"SERVING for {' and '.join(repr(n) for n in names)}", problems


async def check_reflection(suite: SuiteState) -> tuple[str, list[str]]:
    stub = reflection_pb2_grpc.ServerReflectionStub(suite.channel)
    requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE.full_name)]

    async def ask() -> list[Any]:
        # One request per stream: a server without reflection ends the stream at once, and a second
        # request written after that turns its UNIMPLEMENTED into an INTERNAL error of the client's own.
        return [answer for request in requests
                async for answer in stub.ServerReflectionInfo(iter([request]), timeout=suite.timeout)]

    try:
        answers = await asyncio.wait_for(ask(), suite.timeout + WATCHDOG_SLACK)
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
    shown = clip(json.dumps(value, ensure_ascii=False), 40)
    return None if ok else f"field {spec.name!r}: expected {spec.type}, got {shown}"


@needs_doc_types
async def check_valid_ids(suite: SuiteState) -> tuple[str, list[str]]:
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
        if outcome.status == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in outcome.message:
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
    other = SOME_ID[IdKind.JURISTIC if kind is IdKind.CITIZEN else IdKind.CITIZEN]
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


@needs_doc_types
async def check_malformed_ids(suite: SuiteState) -> tuple[str, list[str]]:
    calls = []
    for t in suite.doc_types:
        for what, subject_id, reasons in _malformed(suite.base_id(t), suite.kind(t)):
            calls.append(suite.refused(f"{t.code}, {what} {subject_id!r}", suite.get(t.code, subject_id),
                                       grpc.StatusCode.INVALID_ARGUMENT, reasons))
    found = [p for p in await asyncio.gather(*calls) if p]
    return f"{len(calls)} malformed IDs refused with INVALID_ARGUMENT", found


@needs_doc_types
async def check_unknown_doc_type(suite: SuiteState) -> tuple[str, list[str]]:
    assert suite.describe is not None  # needs_doc_types
    code = f"{suite.describe.provider}.no_such_document"
    problem = await suite.refused(f"doc_type {code!r}", suite.get(code, suite.base_id(suite.doc_types[0])),
                                  grpc.StatusCode.INVALID_ARGUMENT, ("unknown_doc_type",))
    return f"{code!r} refused with INVALID_ARGUMENT", [problem] if problem else []


@needs_doc_types
async def check_not_found(suite: SuiteState) -> tuple[str, list[str]]:
    calls = [suite.refused(f"{t.code} {_UNKNOWN_SUBJECT[suite.kind(t)]} (well formed, no such subject)",
                           suite.get(t.code, _UNKNOWN_SUBJECT[suite.kind(t)]), grpc.StatusCode.NOT_FOUND,
                           ("record_not_found",)) for t in suite.doc_types]
    found = [p for p in await asyncio.gather(*calls) if p]
    return f"NOT_FOUND for a well-formed unknown ID of {', '.join(t.code for t in suite.doc_types)}", found


@needs_doc_types
async def check_field_projection(suite: SuiteState) -> tuple[str, list[str]]:
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
                            + (f" (extra: {clip(', '.join(extra))})" if extra else "")
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


@needs_doc_types
async def check_check_card(suite: SuiteState) -> tuple[str, list[str]]:
    problems: list[str] = []
    card = next((t for t in suite.doc_types if t.code == "dopa.card"), None)
    if card is None:
        problem = await suite.refused("CheckCard on a provider that does not serve dopa.card",
                                      call(suite.provider.CheckCard, provider_pb2.CheckCardRequest(
                                          subject_id=SOME_ID[IdKind.CITIZEN]), suite.timeout),
                                      grpc.StatusCode.UNIMPLEMENTED, ())
        return "UNIMPLEMENTED (the provider serves no dopa.card)", [problem] if problem else []
    subject = suite.base_id(card)
    shown = suite.records.get(("dopa.card", subject), {})
    wrong = provider_pb2.CheckCardRequest(subject_id=subject, first_name_th=str(shown.get("first_name_th", "")),
                                          last_name_th=str(shown.get("last_name_th", "")), birth_date="25000101",
                                          laser_code="XX0-0000000-00")
    outcome = await call(suite.provider.CheckCard, wrong, suite.timeout)
    if not outcome.ok:
        problems.append(f"CheckCard {subject} with a wrong laser code: expected match false, got {outcome.shown()}")
    elif outcome.answer.match:
        problems.append(f"CheckCard {subject} with a wrong laser code and birth date: expected match false, got true")
    bad = subject[:12] + str((int(subject[12]) + 1) % 10)
    problem = await suite.refused(f"CheckCard, bad check digit {bad!r}",
                                  call(suite.provider.CheckCard, provider_pb2.CheckCardRequest(subject_id=bad),
                                       suite.timeout),
                                  grpc.StatusCode.INVALID_ARGUMENT, ("check_digit_mismatch",))
    return "a wrong card does not match; a malformed ID is refused", problems + ([problem] if problem else [])


@needs_doc_types
async def check_deadline(suite: SuiteState) -> tuple[str, list[str]]:
    problems: list[str] = []
    t = suite.doc_types[0]
    sample = suite.smallest() or Sample(t.code, suite.base_id(t))
    short = await asyncio.gather(*(suite.get(sample.doc_type, sample.subject_id, timeout=_SHORT_DEADLINE)
                                   for _ in range(4)))
    for outcome in short:
        if outcome.status not in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.OK):
            problems.append(f"GetRecord with a {_SHORT_DEADLINE * 1000:g} ms deadline: expected DEADLINE_EXCEEDED"
                            f" (or the record in time), got {outcome.shown()}")
    # Then the provider must still answer in time: abandoned calls must not hold it up.
    after = await suite.get(sample.doc_type, sample.subject_id)
    known = (sample.doc_type, sample.subject_id) in suite.records
    if (known and not after.ok) or after.status in (None, grpc.StatusCode.DEADLINE_EXCEEDED):
        problems.append(f"after {len(short)} calls abandoned at their deadline, GetRecord {sample.doc_type}"
                        f" {sample.subject_id} with the {suite.timeout:g} s deadline: expected"
                        f" {'the record' if known else 'an answer'}, got {after.shown()}")
    return (f"{len(short)} calls with a {_SHORT_DEADLINE * 1000:g} ms deadline ended in DEADLINE_EXCEEDED; the next"
            f" answered within {suite.timeout:g} s", problems)



@needs_doc_types
async def check_large_records(suite: SuiteState) -> tuple[str, list[str]]:
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


@needs_doc_types
async def check_error_details(suite: SuiteState) -> tuple[str, list[str]]:
    problems: list[str] = []
    seen = 0
    for what, outcome, status, codes in suite.refusals:
        if outcome.status != status or not codes:
            continue  # a wrong status is the other check's failure; UNIMPLEMENTED carries no ErrorInfo
        seen += 1
        info = outcome.info
        if info is None:
            problems.append(f"{what}: expected google.rpc.ErrorInfo in the status details, got none"
                            + (f" ({outcome.details_error})" if outcome.details_error else ""))
        elif info.domain != DOMAIN:
            problems.append(f"{what}: expected ErrorInfo domain {DOMAIN!r}, got {info.domain!r}")
        elif info.reason not in codes:
            problems.append(f"{what}: expected ErrorInfo reason {' or '.join(map(repr, codes))}, got"
                            f" {info.reason!r}")
        elif not outcome.message.strip():
            problems.append(f"{what}: expected a message (Thai, then English), got none")
    if not seen and not problems:
        problems.append("not checked: no refusal came back with the expected status (see the checks above)")
    return f"{seen} refusals carry ErrorInfo (domain {DOMAIN}) with the reason clients branch on", problems

