"""The hub's other calls and its behaviour when a provider fails."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from linkage.config import Home
from linkage.errors import from_rpc_error
from linkage.hub.server import build_server
from linkage.ids import with_check_digit
from linkage.seal import unverified_payload
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack, start_stack
from tests.hub.test_fetch import HOSPITAL, MUNI, fetch, officer, refused, request, subject
from tests.officers import signed_in


async def test_fetch_documents_reports_each_failure_on_its_own(stack: RunningStack,
                                                               personas: list[dict[str, Any]]) -> None:
    citizen = subject(personas, "edu.degree")
    before = stack.hub.hub.log.size
    async with stack.channel(MUNI) as channel:
        answer = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocuments(await signed_in(
            stack, MUNI, hub_pb2.FetchDocumentsRequest(doc_types=["dopa.person", "dbd.juristic", "edu.degree",
                                                                  "dopa.card"], subject_id=citizen,
                                                       purpose="ตรวจสอบคุณสมบัติผู้สมัคร")))
    outcomes = {r.doc_type: r for r in answer.results}
    assert [r.doc_type for r in answer.results] == ["dopa.person", "dbd.juristic", "edu.degree", "dopa.card"]
    assert unverified_payload(outcomes["dopa.person"].document.jws)["subject_id"] == citizen
    assert unverified_payload(outcomes["edu.degree"].document.jws)["doc_type"] == "edu.degree"
    assert outcomes["dbd.juristic"].problem.reason == "id_wrong_kind"
    assert outcomes["dbd.juristic"].problem.grpc_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert outcomes["dopa.card"].problem.reason == "citizen_not_present"
    assert stack.hub.hub.log.size == before + 2  # only the two issued printouts were logged


async def test_fetch_documents_refuses_a_bad_request_as_a_whole(stack: RunningStack) -> None:
    async with stack.channel(MUNI) as channel:
        hub = hub_pb2_grpc.LinkageHubStub(channel)
        for req, reason in [
            (hub_pb2.FetchDocumentsRequest(doc_types=[], subject_id=with_check_digit("110170023070"),
                                           purpose="x"), "doc_types_missing"),
            (hub_pb2.FetchDocumentsRequest(doc_types=["dopa.person"], subject_id="123", purpose="x"),
             "id_wrong_length"),
            (hub_pb2.FetchDocumentsRequest(doc_types=["dopa.person", "dopa.person"],
                                           subject_id=with_check_digit("110170023070"), purpose="x"),
             "doc_types_repeated"),
        ]:
            try:
                await hub.FetchDocuments(await signed_in(stack, MUNI, req))
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert from_rpc_error(err).code == reason
            else:
                raise AssertionError(f"{reason}: the call should have been refused")


async def test_list_services_shows_only_what_the_agency_may_use(stack: RunningStack) -> None:
    async with stack.channel(HOSPITAL) as channel:
        answer = await hub_pb2_grpc.LinkageHubStub(channel).ListServices(hub_pb2.ListServicesRequest())
    assert answer.agency == HOSPITAL
    by_type = {s.doc_type.code: s for s in answer.services}
    assert set(by_type) == {"dopa.person", "dopa.card"}
    person = by_type["dopa.person"]
    assert person.service == "TH/GOV/DOPA/civil-registry/dopa.person/v1"
    assert set(person.granted_fields) == set(stack.settings.agencies[HOSPITAL].grants["dopa.person"])
    assert "address" in {f.name for f in person.doc_type.fields}  # the type has it; the grant does not
    assert by_type["dopa.card"].doc_type.requires_citizen_present


async def test_agent_status(stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    async with stack.channel(MUNI) as channel:
        hub = hub_pb2_grpc.LinkageHubStub(channel)
        stranger = officer(stack, HOSPITAL)
        citizen = subject(personas, "dopa.person")
        # The officer is named by their session (a bare ID is refused); another agency's officer cannot sign in here.
        assert (await hub.GetAgentStatus(await signed_in(stack, MUNI, hub_pb2.GetAgentStatusRequest()))).status \
            == hub_pb2.AGENT_AVAILABLE
        answer = await hub.GetAgentStatus(await signed_in(stack, MUNI, hub_pb2.GetAgentStatusRequest(
            citizen_id=citizen)))
        assert answer.status == hub_pb2.CITIZEN_AVAILABLE and answer.agency == MUNI
        for call, reason in ((hub.GetAgentStatus(hub_pb2.GetAgentStatusRequest(officer_id=stranger)),
                              "officer_session_required"),
                             (hub.BeginOfficerSignIn(hub_pb2.BeginOfficerSignInRequest(officer_id=stranger)),
                              "officer_not_registered")):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
            assert from_rpc_error(info.value).code == reason


async def test_provider_down_is_unavailable_naming_it(sandbox_home: Home, personas: list[dict[str, Any]]) -> None:
    running = await start_stack(sandbox_home, skip=("dopa",))
    try:
        before = running.hub.hub.log.size
        err = await refused(running, MUNI, request(running, MUNI, "dopa.person", subject(personas, "dopa.person")))
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        parsed = from_rpc_error(err)
        assert parsed.side == "provider" and parsed.provider == "dopa" and parsed.retryable
        assert "provider dopa is unavailable" in parsed.message
        assert running.hub.hub.log.size == before
        # Other providers still answer.
        company = subject(personas, "dbd.juristic", kind="juristic")
        doc = await fetch(running, MUNI, request(running, MUNI, "dbd.juristic", company))
        assert doc.jws
    finally:
        await running.hub.stop(0)
        for server in running.providers.values():
            await server.stop(0)


async def test_provider_too_slow_is_deadline_exceeded_naming_it(sandbox_home: Home,
                                                               personas: list[dict[str, Any]]) -> None:
    # A provider that accepts connections and never answers: the hub's deadline must fire.
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    running = await start_stack(sandbox_home, skip=("dopa",))
    await running.hub.stop(0)
    settings = dataclasses.replace(
        running.settings, hub=dataclasses.replace(running.settings.hub, provider_timeout_ms=300),
        providers={**running.settings.providers,
                   "dopa": dataclasses.replace(running.settings.providers["dopa"], port=port)})
    running.hub = await build_server(settings, 0)
    try:
        err = await refused(running, MUNI, request(running, MUNI, "dopa.person", subject(personas, "dopa.person")))
        assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        parsed = from_rpc_error(err)
        assert parsed.provider == "dopa" and "did not answer in time" in parsed.message
    finally:
        await running.hub.stop(0)
        for server in running.providers.values():
            await server.stop(0)
        for writer in held:
            writer.close()
        silent.close()


async def test_health_and_reflection(stack: RunningStack) -> None:
    async with stack.channel(MUNI) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="linkage.v1.LinkageHub"))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name async for r in stream for s in r.list_services_response.service]
    assert "linkage.v1.LinkageHub" in names and "grpc.health.v1.Health" in names
