"""What the checks share: the stubs, Describe's answer, the samples and what earlier checks saw.

A check is ``async (SuiteState) -> (summary, problems)``; it passes when problems is empty.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from linkage.cli.conformance.calls import Outcome, call
from linkage.ids import IdKind, with_check_digit
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc

__all__ = ["DOC_TYPE_CODE", "KINDS", "SOME_ID", "Check", "Sample", "SuiteState", "needs_doc_types"]

DOC_TYPE_CODE = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$")
KINDS = {common_pb2.SUBJECT_KIND_CITIZEN: IdKind.CITIZEN, common_pb2.SUBJECT_KIND_JURISTIC: IdKind.JURISTIC}
SOME_ID = {IdKind.CITIZEN: with_check_digit("110170023070"), IdKind.JURISTIC: with_check_digit("010553611201")}


@dataclass(frozen=True)
class Sample:
    """A subject that has a record of doc_type; source says where the kit got it (for messages)."""

    doc_type: str
    subject_id: str
    source: str = "--id"



@dataclass
class SuiteState:
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
    refusals: list[tuple[str, Outcome, grpc.StatusCode, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.provider = provider_pb2_grpc.ProviderServiceStub(self.channel)

    @property
    def doc_types(self) -> list[common_pb2.DocumentType]:
        return list(self.describe.doc_types) if self.describe is not None else []

    def kind(self, doc_type: common_pb2.DocumentType) -> IdKind:
        return KINDS.get(doc_type.subject_kind, IdKind.CITIZEN)

    def samples_of(self, code: str) -> list[Sample]:
        return [s for s in self.samples if s.doc_type == code]

    def base_id(self, doc_type: common_pb2.DocumentType) -> str:
        """A sample ID of doc_type when there is one, else some well-formed ID of the right kind."""
        found = self.samples_of(doc_type.code)
        return found[0].subject_id if found else SOME_ID[self.kind(doc_type)]

    def smallest(self, code: str | None = None) -> Sample | None:
        """The sample with the smallest record (of doc type code), for checks about behaviour, not size."""
        keys = [k for k in self.records if code is None or k[0] == code]
        if not keys:
            return None
        doc_type, subject_id = min(keys, key=lambda k: self.wire_sizes[k])
        return Sample(doc_type, subject_id)

    async def get(self, doc_type: str, subject_id: str, fields: Sequence[str] = (),
                  timeout: float | None = None) -> Outcome:
        request = provider_pb2.GetRecordRequest(doc_type=doc_type, subject_id=subject_id, fields=list(fields))
        return await call(self.provider.GetRecord, request, self.timeout if timeout is None else timeout)

    async def refused(self, what: str, pending: Awaitable[Outcome], status: grpc.StatusCode,
                      codes: tuple[str, ...]) -> str | None:
        """Await a call that must fail with status (and, for error_details, one of codes); the problem, if any."""
        outcome = await pending
        self.refusals.append((what, outcome, status, codes))
        if outcome.status == status:
            return None
        got = outcome.shown()
        if outcome.ok:
            got = "OK with a record" if isinstance(outcome.answer, provider_pb2.GetRecordResponse) else "OK"
        return f"{what}: expected {status.name}, got {got}"


Check = Callable[[SuiteState], Awaitable[tuple[str, list[str]]]]


def needs_doc_types(check: Check) -> Check:
    """A check that has nothing to do until Describe has listed document types fails, saying so."""

    @functools.wraps(check)
    async def wrapper(suite: SuiteState) -> tuple[str, list[str]]:
        if suite.describe is None:
            return "", [f"not checked: Describe did not answer ({suite.describe_failure})"]
        if not suite.describe.doc_types:
            return "", ["not checked: Describe lists no document types"]
        return await check(suite)

    return wrapper
