"""The batch_read check: BatchGetRecords answers each read in its place, as GetRecord answers it alone.

One call mixes the records valid_ids read (in another order) with a well-formed ID that has no record, a
malformed ID and a document type the provider does not serve; then one call of MAX_PROVIDER_BATCH reads, the
most the hub sends. The method is optional: UNIMPLEMENTED passes (the hub then reads one GetRecord at a time).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import grpc
from google.protobuf import json_format

from linkage.cli.conformance.calls import call, clip
from linkage.cli.conformance.state import SuiteState, needs_doc_types
from linkage.ids import IdKind, with_check_digit
from linkage.limits import MAX_PROVIDER_BATCH
from linkage.v1 import provider_pb2

__all__ = ["check_batch_read"]

_UNKNOWN_SUBJECT = {IdKind.CITIZEN: with_check_digit("199999999999"),
                    IdKind.JURISTIC: with_check_digit("099999999999")}
_STATUSES = {s.value[0]: s for s in grpc.StatusCode}


class _Read(NamedTuple):
    """One read of the batch and what it expects: the record it names, or a refusal with this status and reason."""

    what: str
    request: provider_pb2.GetRecordRequest
    status: grpc.StatusCode = grpc.StatusCode.OK
    reason: str = ""


def _shown(result: provider_pb2.RecordResult) -> str:
    if result.HasField("record"):
        return f"the record of {result.record.doc_type} {result.record.subject_id}"
    if result.HasField("problem"):
        p = result.problem
        status = _STATUSES.get(p.grpc_code, grpc.StatusCode.UNKNOWN).name
        return f"{status} {p.reason or 'without a reason'} {clip(p.message, 60)!r}"
    return "an empty result (neither record nor problem)"


def _problem(i: int, read: _Read, result: provider_pb2.RecordResult,
             records: dict[tuple[str, str], dict[str, Any]]) -> str | None:
    where = f"BatchGetRecords read {i + 1} ({read.what})"
    if read.status != grpc.StatusCode.OK:
        if (result.HasField("problem") and _STATUSES.get(result.problem.grpc_code) == read.status
                and result.problem.reason == read.reason):
            return None
        return (f"{where}: expected {read.status.name} {read.reason}, as GetRecord answers it, got"
                f" {_shown(result)}")
    key = (read.request.doc_type, read.request.subject_id)
    if not result.HasField("record") or (result.record.doc_type, result.record.subject_id) != key:
        return f"{where}: expected the record of {key[0]} {key[1]} in this place, got {_shown(result)}"
    if json_format.MessageToDict(result.record.data) != records[key]:
        return f"{where}: the record differs from what GetRecord answered for the same read"
    return None


@needs_doc_types
async def check_batch_read(suite: SuiteState) -> tuple[str, list[str]]:
    assert suite.describe is not None  # needs_doc_types
    t = suite.doc_types[0]
    base = suite.base_id(t)
    get = provider_pb2.GetRecordRequest
    bumped = base[:12] + str((int(base[12]) + 1) % 10)
    refusals = [
        _Read(f"{t.code}, a well-formed ID with no record", get(doc_type=t.code,
              subject_id=_UNKNOWN_SUBJECT[suite.kind(t)]), grpc.StatusCode.NOT_FOUND, "record_not_found"),
        _Read(f"{t.code}, a bad check digit", get(doc_type=t.code, subject_id=bumped),
              grpc.StatusCode.INVALID_ARGUMENT, "check_digit_mismatch"),
        _Read("an unknown document type", get(doc_type=f"{suite.describe.provider}.no_such_document",
                                              subject_id=base), grpc.StatusCode.INVALID_ARGUMENT, "unknown_doc_type"),
    ]
    found = [_Read(f"{code} {subject}", get(doc_type=code, subject_id=subject))
             for code, subject in reversed(list(suite.records)[:16])]
    reads: list[_Read] = []  # found and refused in turn, so that a result out of its place shows
    while found or refusals:
        reads += [x.pop(0) for x in (found, refusals) if x]
    outcome = await call(suite.provider.BatchGetRecords,
                         provider_pb2.BatchGetRecordsRequest(requests=[r.request for r in reads]), suite.timeout)
    if outcome.status == grpc.StatusCode.UNIMPLEMENTED:
        return "UNIMPLEMENTED: optional; the hub reads this provider one GetRecord at a time", []
    if not outcome.ok:
        return "", [f"BatchGetRecords of {len(reads)} reads: expected an answer, got {outcome.shown()}"]
    results = outcome.answer.results
    if len(results) != len(reads):
        return "", [f"BatchGetRecords of {len(reads)} reads: expected {len(reads)} results, one per read in order,"
                    f" got {len(results)}"]
    problems = [p for i, (read, result) in enumerate(zip(reads, results, strict=True))
                if (p := _problem(i, read, result, suite.records))]
    smallest = suite.smallest()
    if smallest is None:
        return "", problems or [f"a batch of {MAX_PROVIDER_BATCH} reads not checked: no record (see valid_ids)"]
    full = provider_pb2.BatchGetRecordsRequest(requests=[provider_pb2.GetRecordRequest(
        doc_type=smallest.doc_type, subject_id=smallest.subject_id)] * MAX_PROVIDER_BATCH)
    outcome = await call(suite.provider.BatchGetRecords, full, suite.timeout)
    key = (smallest.doc_type, smallest.subject_id)
    what = f"BatchGetRecords of {MAX_PROVIDER_BATCH} reads of {key[0]} {key[1]} (the most the hub sends)"
    if not outcome.ok:
        problems.append(f"{what}: expected an answer, got {outcome.shown()}")
    elif len(outcome.answer.results) != MAX_PROVIDER_BATCH:
        problems.append(f"{what}: expected {MAX_PROVIDER_BATCH} results, got {len(outcome.answer.results)}")
    else:
        bad = [(i, r) for i, r in enumerate(outcome.answer.results)
               if (r.record.doc_type, r.record.subject_id) != key and r.problem.reason != "batch_answer_full"]
        if bad:
            problems.append(f"{what}: expected the record in each place (or batch_answer_full), got in place"
                            f" {bad[0][0] + 1} {_shown(bad[0][1])}")
    return (f"{len(reads)} reads in one call answered in their places as GetRecord answers them"
            f" ({len(reads) - 3} records, 3 refusals); {MAX_PROVIDER_BATCH} reads in one call answered", problems)
