"""The hub's reads in groups (linkage/hub/routing.py, step 6): several reads in flight to one registry go as one
BatchGetRecords, each printout still sealed, logged and answered on its own.

Real registries and hub on port 0 with real mTLS. What reached a registry is counted there, in its own metrics
(GetRecord calls, and BatchGetRecords calls with how many reads each held), never timed. Where a test needs reads
to pile up behind one that is out, the registry holds every read back with injected latency (ProviderAdmin), so
that the reads sent together are certainly in flight together.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from consumers.auditor.verify import verify_printout
from linkage import merkle, pki
from linkage.config import Home
from linkage.errors import LinkageError, from_rpc_error
from linkage.ids import with_check_digit
from linkage.seal import unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2_grpc
from providers import REGISTRIES
from providers.faults import FaultPlan, Faults
from providers.server import SERVICE_NAME, ProviderServicer, start_server
from providers.store import open_record_store
from providers.synth import sample_ids
from tests.conftest import RunningStack, start_stack
from tests.hub.test_faults import Admin
from tests.hub.test_fetch import MUNI, request
from tests.officers import session, signed_in
from tests.providers.test_batch import big_house

_BATCH = f"/{SERVICE_NAME}/BatchGetRecords"


def _citizens(home: Home, count: int) -> list[str]:
    found = sample_ids(home.provider_db("dopa"), "dopa.person", count)
    assert len(found) == count
    return found


def registry_calls(stack: RunningStack, name: str = "dopa") -> tuple[int, int, int]:
    """(GetRecord calls, BatchGetRecords calls, reads in those batches) that reached the registry."""
    registry = stack.registries[name].metrics
    assert registry is not None
    singles = batches = reads = 0.0
    for metric in registry.registry.collect():
        for sample in metric.samples:
            if sample.name == "linkage_requests_total" and sample.labels["method"] == "ProviderService/GetRecord":
                singles += sample.value
            elif sample.name == "linkage_batch_size_count" and sample.labels["method"].endswith("BatchGetRecords"):
                batches += sample.value
            elif sample.name == "linkage_batch_size_sum" and sample.labels["method"].endswith("BatchGetRecords"):
                reads += sample.value
    return int(singles), int(batches), int(reads)


async def _fetch_all(stack: RunningStack, subjects: list[str], timeout: float = 30,
                     ) -> list[hub_pb2.FetchDocumentResponse | LinkageError]:
    """FetchDocument of dopa.person for each subject, all in flight at once on one connection, under the officer's
    session (signed in before)."""
    signed = (await session(stack, MUNI)).secret
    async with stack.channel(MUNI) as channel:
        stub = hub_pb2_grpc.LinkageHubStub(channel)

        async def one(subject: str) -> hub_pb2.FetchDocumentResponse | LinkageError:
            try:
                answer: hub_pb2.FetchDocumentResponse = await stub.FetchDocument(
                    request(stack, MUNI, "dopa.person", subject, officer_session=signed), timeout=timeout)
                return answer
            except grpc.aio.AioRpcError as exc:
                return from_rpc_error(exc)

        return list(await asyncio.gather(*(one(s) for s in subjects)))


@pytest.fixture
async def admin(stack: RunningStack) -> AsyncIterator[Admin]:
    found = Admin(stack)
    try:
        yield found
    finally:
        await found.channel.close()


async def test_64_in_flight_take_fewer_registry_calls_each_printout_sealed_and_logged(
        stack: RunningStack, admin: Admin) -> None:
    subjects = _citizens(stack.home, 64)
    assert not isinstance((await _fetch_all(stack, subjects[:1]))[0], LinkageError)  # warm: Describe, channels
    await admin.set(latency_ms=100)  # the first read is out at least this long: the others wait for it
    before = stack.hub.hub.log.size
    calls_before = registry_calls(stack)
    answers = await _fetch_all(stack, subjects)
    singles, batches, reads = (a - b for a, b in zip(registry_calls(stack), calls_before, strict=True))
    assert batches >= 1 and singles + reads == 64, (singles, batches, reads)
    assert singles + batches < 64
    # Each printout is its own: its own seal over its own subject's record, its own log entry and proof.
    root = x509.load_pem_x509_certificate(stack.home.ca.cert.read_bytes())
    seen: set[int] = set()
    for subject, doc in zip(subjects, answers, strict=True):
        assert isinstance(doc, hub_pb2.FetchDocumentResponse), doc
        payload = unverified_payload(doc.jws)
        assert payload["subject_id"] == subject and payload["data"]["personal_id"] == subject
        report = verify_printout(doc.jws, root)
        assert report.valid, report.render()
        leaf = json.loads(doc.log_leaf)
        assert leaf["printout_id"] == doc.printout_id == payload["printout_id"]
        assert leaf["printout_sha256"] == hashlib.sha256(doc.jws.rpartition(".")[0].encode()).hexdigest()
        assert leaf["subject_hash"] == stack.hub.hub.log.subject_hash(subject)
        [(index, raw)] = await stack.hub.hub.log.entries(doc.log_index, doc.log_index + 1)
        assert index == doc.log_index and raw == doc.log_leaf
        merkle.verify_inclusion(merkle.leaf_hash(doc.log_leaf), doc.log_index, doc.checkpoint.size,
                                list(doc.inclusion_proof.hashes), doc.checkpoint.root_hash)
        seen.add(doc.log_index)
    assert seen == set(range(before, before + 64)) and stack.hub.hub.log.size == before + 64


async def test_one_failing_read_fails_only_its_own_fetch_with_the_error_of_a_single_read(
        stack: RunningStack, admin: Admin) -> None:
    subjects = _citizens(stack.home, 16)
    nobody = with_check_digit("899999999999")  # well formed: the registry, not the hub, says there is no record
    alone = (await _fetch_all(stack, [nobody]))[0]  # the registry idle: a GetRecord of its own
    assert isinstance(alone, LinkageError)
    await admin.set(latency_ms=100)
    calls_before = registry_calls(stack)
    answers = await _fetch_all(stack, [*subjects[:8], nobody, *subjects[8:]])
    _, batches, reads = (a - b for a, b in zip(registry_calls(stack), calls_before, strict=True))
    assert batches >= 1 and reads >= 2
    failed = answers.pop(8)
    assert all(isinstance(a, hub_pb2.FetchDocumentResponse) for a in answers), answers
    assert isinstance(failed, LinkageError)
    assert (type(failed), failed.code, failed.message_th, failed.message_en, failed.provider) == (
        type(alone), alone.code, alone.message_th, alone.message_en, alone.provider)
    assert failed.code == "record_not_found" and failed.provider == "dopa"


async def test_faults_strike_each_read_of_a_batch_on_its_own(stack: RunningStack, admin: Admin) -> None:
    subjects = _citizens(stack.home, 32)
    assert not isinstance((await _fetch_all(stack, subjects[:1]))[0], LinkageError)
    # Half the reads fail INTERNAL (not retried): each fetch fails or not on its own read's draw.
    await admin.set(latency_ms=100, error_rate=0.5, error="INTERNAL", seed=16)
    stats_before = await admin.stats()
    calls_before = registry_calls(stack)
    answers = await _fetch_all(stack, subjects)
    _, batches, _ = (a - b for a, b in zip(registry_calls(stack), calls_before, strict=True))
    stats = await admin.stats()
    failed = [a for a in answers if isinstance(a, LinkageError)]
    assert batches >= 1
    assert stats.calls - stats_before.calls == 32  # a batch's reads are counted one by one
    assert len(failed) == stats.errors_injected - stats_before.errors_injected
    assert 0 < len(failed) < 32
    assert all((f.code, f.provider) == ("provider_error", "dopa") for f in failed)


async def test_each_failed_read_of_a_batch_counts_towards_the_breaker(stack: RunningStack, admin: Admin) -> None:
    subjects = _citizens(stack.home, 16)
    assert not isinstance((await _fetch_all(stack, subjects[:1]))[0], LinkageError)
    await admin.set(latency_ms=100, error_rate=1.0, error="INTERNAL")
    calls_before = registry_calls(stack)
    answers = await _fetch_all(stack, subjects)
    singles, batches, _ = (a - b for a, b in zip(registry_calls(stack), calls_before, strict=True))
    assert batches >= 1 and singles + batches < 16
    assert all(isinstance(a, LinkageError) and (a.code, a.provider) == ("provider_error", "dopa") for a in answers)
    # More failures in a row than breaker_failures, though fewer calls: the circuit is open.
    refused = (await _fetch_all(stack, subjects[:1]))[0]
    assert isinstance(refused, LinkageError) and refused.code == "provider_circuit_open"


async def test_a_read_waiting_for_a_batch_keeps_its_own_deadline(sandbox_home: Home) -> None:
    stack = await start_stack(sandbox_home, provider_timeout_ms=600)
    admin = Admin(stack)
    try:
        subjects = _citizens(stack.home, 8)
        assert not isinstance((await _fetch_all(stack, subjects[:1]))[0], LinkageError)
        await admin.set(latency_ms=400)
        answers = await _fetch_all(stack, subjects)
        # The first read goes alone (400 ms); those behind it cannot be answered within 600 ms of their own start.
        late = [a for a in answers if isinstance(a, LinkageError)]
        assert len(late) >= 7
        assert all((a.code, a.provider) == ("provider_timeout", "dopa") for a in late)
        assert all(isinstance(a, hub_pb2.FetchDocumentResponse | LinkageError) for a in answers)
    finally:
        await admin.channel.close()
        await stack.stop()


class _WithoutBatch(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc.aio has no type stubs
    """A registry from before BatchGetRecords: grpc itself answers UNIMPLEMENTED (no such method); counted."""

    def __init__(self) -> None:
        self.asked = 0

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        if details.method == _BATCH:
            self.asked += 1
            return None
        return await continuation(details)


async def test_a_registry_without_batch_reads_is_read_one_record_at_a_time(
        sandbox_home: Home, caplog: pytest.LogCaptureFixture) -> None:
    stack = await start_stack(sandbox_home, skip=("dopa",))
    old = _WithoutBatch()
    server = grpc.aio.server(interceptors=[old])
    store = await open_record_store(REGISTRIES["dopa"], sandbox_home.provider_db("dopa"))
    servicer = ProviderServicer(REGISTRIES["dopa"], store, Faults("dopa"))
    provider_pb2_grpc.add_ProviderServiceServicer_to_server(servicer, server)
    server.add_secure_port(stack.settings.providers["dopa"].address,
                           pki.server_credentials(sandbox_home.ca.cert, sandbox_home.server_cert("dopa")))
    await server.start()
    try:
        subjects = _citizens(stack.home, 32)
        assert not isinstance((await _fetch_all(stack, subjects[:1]))[0], LinkageError)
        servicer.faults.set(FaultPlan(latency_ms=100))
        with caplog.at_level(logging.WARNING, logger="linkage.hub.routing"):
            first = await _fetch_all(stack, subjects[:16])
            asked = old.asked
            second = await _fetch_all(stack, subjects[16:])
        assert all(isinstance(a, hub_pb2.FetchDocumentResponse) for a in first + second), first + second
        assert asked >= 1 and old.asked == asked  # learnt once, remembered: not asked again
        # Describe and the first read, then every read a GetRecord of its own.
        assert servicer.faults.state().stats.calls == 2 + 32
        warned = [r.getMessage() for r in caplog.records if "BatchGetRecords" in r.getMessage()]
        assert warned == ["provider dopa has no BatchGetRecords: it is read one GetRecord at a time"] * asked
    finally:
        await stack.stop()
        await server.stop(0)
        await store.close()


async def test_reads_a_full_batch_answer_left_out_go_alone(sandbox_home: Home, tmp_path: Path) -> None:
    member = big_house(sandbox_home.provider_db("dopa"), tmp_path, members=8000)  # about 1 MiB a house record
    # Each read of such a house is a megabyte to build, seal and send: time enough even on a loaded machine.
    stack = await start_stack(sandbox_home, skip=("dopa",), provider_timeout_ms=60_000)
    dopa = await start_server("dopa", tmp_path / "dopa.sqlite", sandbox_home.ca.cert, sandbox_home.server_cert("dopa"),
                              port=stack.settings.providers["dopa"].port)
    stack.registries["dopa"] = dopa
    admin = Admin(stack)
    try:
        async with stack.channel(MUNI) as channel:
            stub = hub_pb2_grpc.LinkageHubStub(channel)
            house = await signed_in(stack, MUNI, request(stack, MUNI, "dopa.house", member))
            await stub.FetchDocument(await signed_in(stack, MUNI, request(stack, MUNI, "dopa.person",
                                                                         _citizens(stack.home, 1)[0])), timeout=120)
            await admin.set(latency_ms=100)
            answers = await asyncio.gather(*(stub.FetchDocument(house, timeout=120) for _ in range(8)))
        assert all(unverified_payload(a.jws)["data"]["member_count"] == 8000 for a in answers)
        assert len({a.printout_id for a in answers}) == 8
        singles, batches, reads = registry_calls(stack)
        # The first alone, seven in a batch whose answer had room for three or four; the rest read alone after.
        assert batches == 1 and reads == 7 and singles > 2, (singles, batches, reads)
    finally:
        await admin.channel.close()
        await stack.stop()
        await dopa.stop(0)
