"""Property-based fuzzing of the live gRPC surface: every method of the hub (LinkageHub, AuditLog) and of a
registry (ProviderService, ProviderAdmin), with real mTLS.

Each method gets arbitrary requests built from its descriptor, mutations of valid ones, and
arbitrary bytes where the protobuf message belongs. Every answer must be OK or a refusal
from the error table with a google.rpc.ErrorInfo (domain linkage.go.th); a refusal logs
nothing; and after each method's run the servers still answer health checks and a valid
fetch. ``scripts/fuzz.py`` is the long run of the same checks.
"""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from linkage.v1 import audit_pb2
from tests.fuzz.strategies import mutated_bytes, requests
from tests.fuzz.surface import CALLERS, MUNI, Method, Surface, methods

METHODS = methods()
EXAMPLES = 100
RAW_EXAMPLES = 50

_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Inputs that once crashed a server, found by these tests: (method, caller, request bytes).
REGRESSIONS = [
    # Bytes that are no protobuf message: grpc answered UNKNOWN "Unexpected DecodeError" (linkage/errors.py
    # MalformedRequests now answers INVALID_ARGUMENT malformed_request).
    ("LinkageHub/FetchDocument", MUNI, b"\x0a\x05ab"),
    ("ProviderService/GetRecord", "linkage-hub", b"\xff\xff\xff"),
    # A range past 2**63: SQLite's OverflowError became INTERNAL (linkage/hub/service.py GetEntries).
    ("AuditLog/GetEntries", MUNI, audit_pb2.GetEntriesRequest(start=2**63 - 3, end=2**63).SerializeToString()),
    ("AuditLog/GetEntries", MUNI, audit_pb2.GetEntriesRequest(start=2**64 - 2, end=2**64 - 1).SerializeToString()),
]


@pytest.mark.parametrize(("name", "caller", "raw"), REGRESSIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_regressions_get_proper_answers(surface: Surface, name: str, caller: str, raw: bytes) -> None:
    method = next(m for m in METHODS if m.name == name)
    assert surface.exercise(method, caller, raw) == []
    outcome = surface.call(method, caller, raw)
    assert outcome.info is not None or outcome.status.name == "OK", outcome


def test_every_service_method_is_fuzzed() -> None:
    names = {m.name for m in METHODS}
    assert {"LinkageHub/FetchDocument", "AuditLog/GetEntries", "ProviderService/GetRecord",
            "ProviderAdmin/SetFaults"} <= names
    assert len(names) == len(METHODS) >= 18


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_messages_get_proper_answers(surface: Surface, method: Method) -> None:
    valid = surface.valid[method.path]

    @_SETTINGS
    @given(caller=st.sampled_from(CALLERS[method.server]),
           request=requests(method.request, valid, surface.vocab))
    def run(caller: str, request: Message) -> None:
        problems = surface.exercise(method, caller, request.SerializeToString())
        assert not problems, f"{method.name} as {caller}: {request!r}: {problems}"

    run()
    assert surface.alive() == []


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_raw_bytes_get_proper_answers(surface: Surface, method: Method) -> None:
    valid = [m.SerializeToString() for m in surface.valid[method.path]]

    @settings(_SETTINGS, max_examples=RAW_EXAMPLES)
    @given(caller=st.sampled_from(CALLERS[method.server]),
           raw=st.one_of(st.binary(max_size=256), *[mutated_bytes(v) for v in valid]))
    # Found by this test: bytes that are no protobuf message were UNKNOWN "Unexpected DecodeError".
    @example(caller=CALLERS[method.server][0], raw=b"\xff\xff\xff")
    @example(caller=CALLERS[method.server][0], raw=b"\x0a\x05ab")
    # A field number 0, a group, a varint of eleven bytes.
    @example(caller=CALLERS[method.server][0], raw=b"\x00\x01")
    @example(caller=CALLERS[method.server][0], raw=b"\x0b\x0c")
    @example(caller=CALLERS[method.server][0], raw=b"\x08" + b"\xff" * 10 + b"\x01")
    def run(caller: str, raw: bytes) -> None:
        problems = surface.exercise(method, caller, raw)
        assert not problems, f"{method.name} as {caller}: {raw!r}: {problems}"

    run()
    assert surface.alive() == []
