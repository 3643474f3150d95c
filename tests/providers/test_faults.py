"""ProviderAdmin on a real registry (port 0, mTLS): faults set at runtime, who may set them, what they do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from linkage import pki
from linkage.errors import from_rpc_error
from linkage.v1 import provider_pb2, provider_pb2_grpc
from providers.faults import ADMIN_CLIENT, ADMIN_UNIT
from providers.server import build_server
from tests.providers.conftest import Pki, Seeded

FaultSettings = provider_pb2.FaultSettings


@pytest.fixture(scope="module")
def certs(test_pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pki.CertPaths]:
    out = tmp_path_factory.mktemp("admin-certs")
    return {
        "admin": pki.issue(test_pki.ca, ADMIN_CLIENT, pki.Role.CLIENT, out / "admin", unit=ADMIN_UNIT),
        # An agency that took the administrator's name: same common name, the agencies' unit.
        "impostor": pki.issue(test_pki.ca, ADMIN_CLIENT, pki.Role.CLIENT, out / "impostor", unit="agency"),
        "hub": test_pki.client,
    }


class Dopa:
    """One dopa registry and channels to it holding each certificate."""

    def __init__(self, port: int, ca: Path, certs: dict[str, pki.CertPaths]) -> None:
        self.channels = {who: grpc.aio.secure_channel(f"localhost:{port}", pki.channel_credentials(ca, own))
                         for who, own in certs.items()}
        self.admin = provider_pb2_grpc.ProviderAdminStub(self.channels["admin"])
        self.records = provider_pb2_grpc.ProviderServiceStub(self.channels["hub"])

    async def get(self, subject_id: str, **kw: Any) -> provider_pb2.GetRecordResponse:
        answer: provider_pb2.GetRecordResponse = await self.records.GetRecord(
            provider_pb2.GetRecordRequest(doc_type="dopa.person", subject_id=subject_id), **kw)
        return answer

    async def set(self, **settings: Any) -> provider_pb2.FaultState:
        state: provider_pb2.FaultState = await self.admin.SetFaults(
            provider_pb2.SetFaultsRequest(faults=FaultSettings(**settings)))
        return state

    async def state(self) -> provider_pb2.FaultState:
        state: provider_pb2.FaultState = await self.admin.GetFaults(provider_pb2.GetFaultsRequest())
        return state


@pytest.fixture
async def dopa(seeded: Seeded, test_pki: Pki, certs: dict[str, pki.CertPaths]) -> AsyncIterator[Dopa]:
    server, port = await build_server("dopa", seeded.data_dir / "dopa.sqlite", test_pki.ca.cert,
                                      test_pki.servers["dopa"])
    running = Dopa(port, test_pki.ca.cert, certs)
    try:
        yield running
    finally:
        for channel in running.channels.values():
            await channel.close()
        await server.stop(None)


@pytest.fixture
def citizen(seeded: Seeded) -> str:
    return str(seeded.persona("adult")["id"])


async def test_no_faults_until_set(dopa: Dopa, citizen: str) -> None:
    state = await dopa.state()
    assert state.provider == "dopa" and state.faults == FaultSettings(error="UNAVAILABLE")
    assert (await dopa.get(citizen)).subject_id == citizen
    after = await dopa.state()
    assert after.stats.calls == state.stats.calls + 1 and after.stats.errors_injected == 0


async def test_error_rate_one_fails_every_record_call_but_not_health(dopa: Dopa, citizen: str) -> None:
    state = await dopa.set(error_rate=1.0, error="UNAVAILABLE")
    assert state.faults.error_rate == 1.0 and state.faults.seed != 0  # the seed drawn is told, to repeat the run
    for _ in range(3):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await dopa.get(citizen)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "injected fault: registry dopa" in str(info.value.details())
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await dopa.records.Describe(provider_pb2.DescribeRequest())
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    health = await health_pb2_grpc.HealthStub(dopa.channels["hub"]).Check(
        health_pb2.HealthCheckRequest(service="linkage.v1.ProviderService"))
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    stats = (await dopa.state()).stats
    assert stats.calls == 4 and stats.errors_injected == 4 and stats.refused_in_outage == 0
    cleared = await dopa.admin.ClearFaults(provider_pb2.ClearFaultsRequest())
    assert cleared.faults.error_rate == 0 and cleared.stats.errors_injected == 4  # counts only grow
    assert (await dopa.get(citizen)).subject_id == citizen


@pytest.mark.parametrize("code", ["INTERNAL", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "DATA_LOSS"])
async def test_injected_error_has_the_code_asked(dopa: Dopa, citizen: str, code: str) -> None:
    await dopa.set(error_rate=1.0, error=code)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await dopa.get(citizen)
    assert info.value.code() == getattr(grpc.StatusCode, code)


async def test_seeded_error_rate_repeats_call_for_call(dopa: Dopa, citizen: str) -> None:
    async def pattern() -> list[bool]:
        await dopa.set(error_rate=0.5, seed=20260501)
        out = []
        for _ in range(24):
            try:
                await dopa.get(citizen)
                out.append(True)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
                out.append(False)
        return out

    first = await pattern()
    assert 0 < first.count(False) < 24
    assert await pattern() == first
    assert (await dopa.state()).stats.errors_injected == 2 * first.count(False)


async def test_latency_holds_the_call_past_a_short_deadline(dopa: Dopa, citizen: str) -> None:
    await dopa.set(latency_ms=30_000, jitter_ms=10)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await dopa.get(citizen, timeout=0.2)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The admin service suffers no faults: it answers at once though the registry is slow.
    state = await dopa.admin.GetFaults(provider_pb2.GetFaultsRequest(), timeout=10)
    assert state.stats.delayed == 1 and state.faults.latency_ms == 30_000


async def test_outage_ends_by_itself(dopa: Dopa, citizen: str) -> None:
    state = await dopa.set(outage_ms=600)
    assert 0 < state.outage_remaining_ms <= 600
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await dopa.get(citizen)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "injected outage" in str(info.value.details())
    assert (await dopa.state()).stats.refused_in_outage == 1
    for _ in range(100):
        if (await dopa.state()).outage_remaining_ms == 0:
            break
        await asyncio.sleep(0.05)
    assert (await dopa.get(citizen)).subject_id == citizen
    assert (await dopa.state()).stats.refused_in_outage == 1


@pytest.mark.parametrize("who", ["hub", "impostor"])
async def test_only_the_admin_certificate_may_call_it(dopa: Dopa, citizen: str, who: str) -> None:
    stub = provider_pb2_grpc.ProviderAdminStub(dopa.channels[who])
    calls = [stub.SetFaults(provider_pb2.SetFaultsRequest(faults=FaultSettings(error_rate=1.0))),
             stub.ClearFaults(provider_pb2.ClearFaultsRequest()), stub.GetFaults(provider_pb2.GetFaultsRequest())]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        err = from_rpc_error(info.value)
        assert err.code == "not_admin" and "sandbox-admin" in err.message
    assert (await dopa.state()).faults.error_rate == 0
    assert (await dopa.get(citizen)).subject_id == citizen


@pytest.mark.parametrize(("settings", "reason", "says"), [
    ({"latency_ms": -5}, "fault_out_of_range", "latency must be between 0 and 600 s, got -5 ms (a negative"),
    ({"jitter_ms": 600_001}, "fault_out_of_range", "jitter must be between 0 and 600 s"),
    ({"outage_ms": -1}, "fault_out_of_range", "outage must be between 0 and 86400 s"),
    ({"error_rate": 1.5}, "fault_out_of_range", "from 0 (none) to 1 (every call); got 1.5"),
    ({"error_rate": -0.1}, "fault_out_of_range", "got -0.1"),
    ({"error_rate": float("nan")}, "fault_out_of_range", "got nan"),
    ({"error": "NOT_FOUND"}, "unknown_error_code", "'NOT_FOUND' is not a fault code; use one of: UNAVAILABLE"),
    ({"error": "unavailable"}, "unknown_error_code", "'unavailable' is not a fault code"),
])
async def test_settings_out_of_range_are_refused_and_change_nothing(dopa: Dopa, settings: dict[str, Any],
                                                                    reason: str, says: str) -> None:
    before = await dopa.set(latency_ms=1, seed=7)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await dopa.set(**settings)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = from_rpc_error(info.value)
    assert err.code == reason and says in err.message, err.message
    assert (await dopa.state()).faults == before.faults


async def test_faults_strike_each_read_of_a_batch(dopa: Dopa, citizen: str) -> None:
    read = provider_pb2.GetRecordRequest(doc_type="dopa.person", subject_id=citizen)
    batch = provider_pb2.BatchGetRecordsRequest(requests=[read] * 20)
    # The seeded draws fall on the batch's reads as on as many GetRecord calls, one after the other.
    await dopa.set(error_rate=0.5, error="INTERNAL", seed=7)
    alone = []
    for _ in range(20):
        try:
            await dopa.get(citizen)
            alone.append("OK")
        except grpc.aio.AioRpcError as exc:
            alone.append(exc.code().name)
    await dopa.set(error_rate=0.5, error="INTERNAL", seed=7)
    answer = await dopa.records.BatchGetRecords(batch)
    together = ["OK" if r.HasField("record") else grpc.StatusCode.INTERNAL.name
                if r.problem.grpc_code == grpc.StatusCode.INTERNAL.value[0] else "?" for r in answer.results]
    assert together == alone and "OK" in together and "INTERNAL" in together
    failed = [r.problem for r in answer.results if r.HasField("problem")]
    assert all(p.message_th.startswith("ทดสอบ:") and "injected fault" in p.message_en for p in failed)
    assert all(p.provider == "dopa" and not p.reason for p in failed)
    stats = (await dopa.state()).stats
    assert stats.calls == 40 and stats.errors_injected == 2 * len(failed)
    # An outage refuses every read of a batch, each in its place; the call itself is answered.
    await dopa.set(outage_ms=60_000, error="UNAVAILABLE")
    answer = await dopa.records.BatchGetRecords(batch)
    assert [r.problem.grpc_code for r in answer.results] == [grpc.StatusCode.UNAVAILABLE.value[0]] * 20
    assert (await dopa.state()).stats.refused_in_outage == 20
