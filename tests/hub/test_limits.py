"""Abuse limits: per-agency rate limits and daily quotas, field lengths, batch and message sizes.

The token bucket is tested with a clock the test moves; everything else against real
registries and a real hub with real mTLS, on a sandbox of this module whose
linkage.toml each test writes (a "flooder" agency with its own certificate is added).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import tomli_w
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from linkage import pki
from linkage.cli.officers import issue_sandbox_cards
from linkage.cli.sandbox import init
from linkage.config import ConfigError, Home, load_settings, settings_from_text, write_config
from linkage.errors import LimitExceeded, error_info, from_rpc_error
from linkage.hub.rules import AgencyLimiter
from linkage.limits import (
    DEFAULT_LIMITS,
    FIELD_LIMITS,
    HUB_MAX_RECEIVE,
    MAX_BATCH,
    MAX_ENTRIES,
    PROVIDER_MAX_RECEIVE,
    AgencyLimits,
)
from linkage.pki import HUB_CLIENT
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2, hub_pb2_grpc, provider_pb2, provider_pb2_grpc
from tests.conftest import RunningStack, start_stack
from tests.officers import signed_in

MUNI = "phrae-municipality"
FLOODER = "flooder"
ICT = dt.timezone(dt.timedelta(hours=7))


# --- the token bucket and the daily quota, with a clock the test moves -------------------------------------


class Clock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = dt.datetime(2026, 11, 25, 12, 0, tzinfo=ICT)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += dt.timedelta(seconds=seconds)


def limiter(clock: Clock) -> AgencyLimiter:
    return AgencyLimiter(clock=lambda: clock.mono, now=lambda: clock.wall)


def refusal(fn: Callable[[], None]) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        fn()
    return info.value


def test_bucket_lets_a_burst_through_then_the_rate() -> None:
    clock = Clock()
    lim, limits = limiter(clock), AgencyLimits(rate_per_s=10, burst=5, daily_quota=1000)
    for _ in range(5):
        lim.admit("a", limits)
    err = refusal(lambda: lim.admit("a", limits))
    assert err.code == "rate_limited" and err.retry_after_ms == 100  # one token at 10/s
    assert "rate limit of 10 calls/s (burst 5)" in err.message and "retry after 0.1 s" in err.message
    clock.advance(0.1)
    lim.admit("a", limits)
    assert refusal(lambda: lim.admit("a", limits)).code == "rate_limited"
    clock.advance(60)  # a quiet minute saves up at most the burst
    for _ in range(5):
        lim.admit("a", limits)
    assert refusal(lambda: lim.admit("a", limits)).code == "rate_limited"
    assert lim.used_today("a") == 11  # refused calls are not charged
    lim.admit("b", limits)  # another agency has a bucket of its own


def test_a_batch_costs_one_per_document_type_and_at_most_the_burst() -> None:
    clock = Clock()
    lim, limits = limiter(clock), AgencyLimits(rate_per_s=2, burst=4, daily_quota=1000)
    lim.admit("a", limits, cost=3)
    err = refusal(lambda: lim.admit("a", limits, cost=3))
    assert err.retry_after_ms == 1000  # two more tokens at 2/s
    clock.advance(1.5)
    lim.admit("a", limits, cost=99)  # capped at the burst: a full bucket lets any batch through
    assert lim.used_today("a") == 3 + 4


def test_daily_quota_ends_at_bangkok_midnight() -> None:
    clock = Clock()
    clock.wall = dt.datetime(2026, 11, 25, 16, 30, tzinfo=dt.UTC)  # 23:30 in Bangkok
    lim, limits = limiter(clock), AgencyLimits(rate_per_s=1000, burst=1000, daily_quota=3)
    for _ in range(3):
        lim.admit("a", limits)
    err = refusal(lambda: lim.admit("a", limits))
    assert err.code == "quota_exhausted" and err.retry_after_ms == 30 * 60 * 1000
    assert "daily quota of 3 calls" in err.message and "in 30 min" in err.message
    assert refusal(lambda: lim.admit("a", limits, cost=2)).code == "quota_exhausted"
    clock.advance(30 * 60)  # midnight in Bangkok: a new day
    lim.admit("a", limits, cost=3)
    assert lim.used_today("a") == 3


def test_limits_out_of_range_are_refused() -> None:
    for bad in ({"rate_per_s": 0}, {"burst": -1}, {"daily_quota": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            AgencyLimits(**bad)


# --- configuration ------------------------------------------------------------------------------------------


def test_limits_come_from_the_agency_table_with_defaults(sandbox_home: Home) -> None:
    raw = tomllib.loads(sandbox_home.config_file.read_text(encoding="utf-8"))
    # What `linkage init` wrote: every sample agency names its limits.
    assert all({"rate_per_s", "burst", "daily_quota"} <= set(t) for t in raw["agencies"].values())
    assert load_settings(sandbox_home).agencies[MUNI].limits == AgencyLimits(**{
        k: raw["agencies"][MUNI][k] for k in ("rate_per_s", "burst", "daily_quota")})
    for table in raw["agencies"].values():
        for key in ("rate_per_s", "burst", "daily_quota"):
            table.pop(key)
    raw["agencies"]["phrae-hospital"]["burst"] = 7
    settings = settings_from_text(sandbox_home, tomli_w.dumps(raw))
    assert settings.agencies[MUNI].limits == DEFAULT_LIMITS
    assert settings.agencies["phrae-hospital"].limits == AgencyLimits(burst=7)
    for key, value, message in (("burst", 0, "burst must be between 1 and"), ("rate_per_s", "fast", "integer"),
                                ("daily_quota", 1.5, "daily_quota must be int"), ("rate", 5, "unknown key 'rate'")):
        raw["agencies"][MUNI][key] = value
        with pytest.raises(ConfigError, match=f"agencies.{MUNI}.*{message}"):
            settings_from_text(sandbox_home, tomli_w.dumps(raw))
        del raw["agencies"][MUNI][key]


def _string_fields(descriptor: Descriptor, seen: set[str]) -> set[str]:
    names: set[str] = set()
    if descriptor.full_name in seen:
        return names
    seen.add(descriptor.full_name)
    for field in descriptor.fields:
        if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            names.add(field.name)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None
            names |= _string_fields(field.message_type, seen)
    return names


def test_every_string_field_of_every_request_has_a_limit() -> None:
    services = [hub_pb2.DESCRIPTOR.services_by_name["LinkageHub"], audit_pb2.DESCRIPTOR.services_by_name["AuditLog"]]
    seen: set[str] = set()
    fields = set().union(*(_string_fields(m.input_type, seen) for s in services for m in s.methods))
    assert "laser_code" in fields and "leaf_hash" in fields and "doc_types" in fields
    assert not fields - set(FIELD_LIMITS), "add these fields to linkage.limits.FIELD_LIMITS"


# --- the live hub ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limits_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = init(tmp_path_factory.mktemp("limits"), citizens=60, seed=7)
    pki.issue(home.ca, FLOODER, pki.Role.CLIENT, home.client_cert(FLOODER).cert.parent, unit="agency")
    return home


@pytest.fixture(scope="module")
def base_config(limits_home: Home) -> dict[str, Any]:
    raw = tomllib.loads(limits_home.config_file.read_text(encoding="utf-8"))
    raw["agencies"][FLOODER] = {"title": "ทดสอบ / flooder", "officers": raw["agencies"][MUNI]["officers"],
                                "rate_per_s": 1, "burst": 5, "daily_quota": 100_000,
                                "grants": {"dopa.person": ["*"]}}
    issue_sandbox_cards(limits_home, {FLOODER: raw["agencies"][MUNI]["officers"]})  # the flooder's officers' cards
    return raw


def configure(home: Home, base: dict[str, Any], **agency_limits: dict[str, int]) -> None:
    raw = json.loads(json.dumps(base))
    for name, limits in agency_limits.items():
        raw["agencies"][name].update(limits)
    write_config(home, tomli_w.dumps(raw))


Start = Callable[[], Awaitable[RunningStack]]


@pytest.fixture
async def running(limits_home: Home, base_config: dict[str, Any]) -> AsyncIterator[Start]:
    stacks: list[RunningStack] = []

    async def start() -> RunningStack:
        stacks.append(await start_stack(limits_home))
        return stacks[-1]

    configure(limits_home, base_config)
    try:
        yield start
    finally:
        for stack in stacks:
            await stack.hub.stop(0)
            for server in stack.providers.values():
                await server.stop(0)


def citizen(home: Home) -> str:
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    return next(str(p["id"]) for p in personas if p["kind"] == "citizen" and "dopa.person" in p["doc_types"])


def fetch_request(stack: RunningStack, **kw: Any) -> hub_pb2.FetchDocumentRequest:
    fields: dict[str, Any] = {"doc_type": "dopa.person", "subject_id": citizen(stack.home), "purpose": "ทดสอบขีดจำกัด",
                              "officer_id": sorted(stack.settings.agencies[MUNI].officers)[0], "case_ref": "LIM-1"}
    return hub_pb2.FetchDocumentRequest(**{**fields, **kw})


async def signed_request(stack: RunningStack, agency: str = MUNI, **kw: Any) -> hub_pb2.FetchDocumentRequest:
    """fetch_request under the officer's session with the agency (a sign-in costs the agency two calls)."""
    return await signed_in(stack, agency, fetch_request(stack, **kw))


def details(err: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo | None]:
    info = error_info(err.trailing_metadata(), err.code(), err.details() or "")
    status = rpc_status.from_call(err)
    assert info is not None and status is not None, "no status details"
    retry = None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
    return info, retry


def channel(stack: RunningStack, agency: str) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(stack.hub_address, pki.channel_credentials(stack.home.ca.cert,
                                                                                stack.home.client_cert(agency)))


async def test_a_flooding_agency_is_refused_and_does_not_starve_another(
        running: Start) -> None:
    stack = await running()
    limits = stack.settings.agencies[FLOODER].limits
    assert limits == AgencyLimits(rate_per_s=1, burst=5, daily_quota=100_000)
    before = stack.hub.hub.log.size
    steady_done = asyncio.Event()
    flood: list[grpc.StatusCode] = []
    refusals: list[grpc.aio.AioRpcError] = []
    steady: list[tuple[grpc.StatusCode, float]] = []

    # Each officer signs in first: the flooder's two sign-in calls come out of its burst.
    flood_request, steady_request = await signed_request(stack, FLOODER), await signed_request(stack, MUNI)
    async with channel(stack, FLOODER) as a, channel(stack, MUNI) as b:
        flooder, other = hub_pb2_grpc.LinkageHubStub(a), hub_pb2_grpc.LinkageHubStub(b)

        async def one_flood_call() -> None:
            try:
                await flooder.FetchDocument(flood_request, timeout=30)
                flood.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as err:
                flood.append(err.code())
                refusals.append(err)

        async def flood_until_steady_is_done() -> None:
            while not steady_done.is_set():  # waves of 64 calls in flight, far beyond 1 call/s
                await asyncio.gather(*(one_flood_call() for _ in range(64)))

        async def steady_calls(n: int) -> None:
            for _ in range(n):
                started = time.perf_counter()
                try:
                    await other.FetchDocument(steady_request, timeout=10)  # the loose bound
                    steady.append((grpc.StatusCode.OK, time.perf_counter() - started))
                except grpc.aio.AioRpcError as err:
                    steady.append((err.code(), time.perf_counter() - started))
            steady_done.set()

        await steady_calls(10)  # alone
        alone = statistics.median(t for _, t in steady)
        steady.clear()
        steady_done.clear()
        started = time.monotonic()
        await asyncio.gather(flood_until_steady_is_done(), steady_calls(30))
        elapsed = time.monotonic() - started

    # B: every call answered within its deadline. A: at most its burst plus its rate over the flood; the rest refused.
    assert [code for code, _ in steady] == [grpc.StatusCode.OK] * 30
    admitted = flood.count(grpc.StatusCode.OK)
    assert limits.burst - 2 <= admitted <= limits.burst + limits.rate_per_s * elapsed + 1, (admitted, elapsed)
    assert len(flood) >= 64 and len(refusals) == len(flood) - admitted > 0
    assert {err.code() for err in refusals} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    info, retry = details(refusals[0])
    assert info.reason == "rate_limited" and info.domain == "linkage.go.th"
    assert info.metadata["side"] == "caller" and info.metadata["retryable"] == "true"
    wait_ms = int(info.metadata["retry_after_ms"])
    assert 0 < wait_ms <= 1000
    assert retry is not None and retry.retry_delay.ToMilliseconds() == wait_ms
    assert "ขอข้อมูลถี่เกินกำหนด" in (refusals[0].details() or "")
    assert f"rate limit of 1 calls/s (burst {limits.burst})" in (refusals[0].details() or "")
    # Nothing was issued, so nothing logged, for a refused call: 10 + 30 from B, the admitted ones from A.
    assert stack.hub.hub.log.size == before + 40 + admitted
    under_flood = statistics.median(t for _, t in steady)
    print(f"B p50 alone {alone * 1000:.1f} ms, under the flood {under_flood * 1000:.1f} ms;"
          f" A: {admitted} admitted, {len(refusals)} refused in {elapsed:.2f} s")


async def test_daily_quota_refuses_every_method_until_midnight(
        running: Start, limits_home: Home, base_config: dict[str, Any]) -> None:
    configure(limits_home, base_config, **{FLOODER: {"rate_per_s": 1000, "burst": 1000, "daily_quota": 6}})
    stack = await running()
    before = stack.hub.hub.log.size
    flooded = await signed_request(stack, FLOODER)  # the sign-in: two of six
    async with channel(stack, FLOODER) as a, channel(stack, MUNI) as b:
        hub, audit = hub_pb2_grpc.LinkageHubStub(a), audit_pb2_grpc.AuditLogStub(a)
        officer = sorted(stack.settings.agencies[MUNI].officers)[0]
        await hub.ListServices(hub_pb2.ListServicesRequest())
        await audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
        await hub.FetchDocument(flooded)  # five of six
        batch = hub_pb2.FetchDocumentsRequest(doc_types=["dopa.person", "dopa.house"], subject_id=citizen(stack.home),
                                              purpose="ทดสอบ", officer_id=officer,
                                              officer_session=flooded.officer_session)
        await quota_refuses(hub.FetchDocuments(batch))  # two more than the one left
        await hub.GetAgentStatus(hub_pb2.GetAgentStatusRequest(officer_id=officer,
                                                               officer_session=flooded.officer_session))  # sixth, last
        await quota_refuses(hub.GetAgentStatus(hub_pb2.GetAgentStatusRequest(officer_id=officer)))
        await quota_refuses(audit.GetEntries(audit_pb2.GetEntriesRequest(start=0, end=1)))
        err = await quota_refuses(hub.FetchDocument(fetch_request(stack, subject_id="not an ID")))  # not even read
        assert "daily quota of 6 calls" in (err.details() or "") and "โควตา" in (err.details() or "")
        # Another agency is not touched by the flooder's quota.
        await hub_pb2_grpc.LinkageHubStub(b).FetchDocument(await signed_request(stack, MUNI))
    assert stack.hub.hub.log.size == before + 2
    assert stack.hub.hub.limiter.used_today(FLOODER) == 6


async def quota_refuses(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    err = info.value
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    meta, retry = details(err)
    assert meta.reason == "quota_exhausted" and from_rpc_error(err).retryable
    assert 0 < int(meta.metadata["retry_after_ms"]) <= 24 * 3600 * 1000 and retry is not None
    return err


async def test_limits_follow_the_configuration_while_the_hub_runs(
        running: Start, limits_home: Home, base_config: dict[str, Any]) -> None:
    configure(limits_home, base_config, **{FLOODER: {"rate_per_s": 1000, "burst": 1000, "daily_quota": 1000}})
    stack = await running()
    async with channel(stack, FLOODER) as a:
        hub = hub_pb2_grpc.LinkageHubStub(a)
        for _ in range(3):
            await hub.ListServices(hub_pb2.ListServicesRequest())
        configure(limits_home, base_config, **{FLOODER: {"daily_quota": 3}})
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await hub.ListServices(hub_pb2.ListServicesRequest())
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert from_rpc_error(info.value).code == "quota_exhausted"


def _too_long(stack: RunningStack, ok: hub_pb2.FetchDocumentRequest,
              ) -> list[tuple[str, str, Callable[[Any, Any], Awaitable[Any]]]]:
    """(reason, text the message must hold, call) for one over-long field of each request that has one; ok is a
    right request, under its officer's session."""
    card = provider_pb2.CheckCardRequest(subject_id=ok.subject_id, first_name_th="ก" * 101, last_name_th="ข",
                                         birth_date="25300101", laser_code="ME0-1234567-89")
    return [
        ("doc_type_too_long", "doc_type is 65 characters long; at most 64",
         lambda hub, audit: hub.FetchDocument(fetch_request(stack, doc_type="d" * 65))),
        ("subject_id_too_long", "subject_id is 33 characters long; at most 32",
         lambda hub, audit: hub.FetchDocument(fetch_request(stack, subject_id="1" * 33))),
        ("officer_id_too_long", "officer_id is 40 characters long; at most 32",
         lambda hub, audit: hub.FetchDocument(fetch_request(stack, officer_id=" " * 40))),
        ("purpose_too_long", "purpose is 501 characters long; at most 500",
         lambda hub, audit: hub.FetchDocument(fetch_request(stack, purpose="ก" * 501))),
        ("case_ref_too_long", "case_ref is 101 characters long; at most 100",
         lambda hub, audit: hub.FetchDocument(fetch_request(stack, case_ref="x" * 101))),
        ("doc_types_too_long", "doc_types[1] is 65 characters long",
         lambda hub, audit: hub.FetchDocuments(hub_pb2.FetchDocumentsRequest(
             doc_types=["dopa.person", "x" * 65], subject_id=ok.subject_id, purpose="x", officer_id=ok.officer_id))),
        ("citizen_id_too_long", "citizen_id is 33 characters long",
         lambda hub, audit: hub.GetAgentStatus(hub_pb2.GetAgentStatusRequest(officer_id=ok.officer_id,
                                                                             citizen_id="1" * 33))),
        ("first_name_th_too_long", "card.first_name_th is 101 characters long; at most 100",
         lambda hub, audit: hub.CheckCard(hub_pb2.HubCheckCardRequest(card=card, purpose="x",
                                                                      officer_id=ok.officer_id))),
        ("first_name_th_too_long", "citizen_card.first_name_th is 101 characters long",
         lambda hub, audit: audit.ListAccesses(audit_pb2.ListAccessesRequest(subject_id=ok.subject_id,
                                                                             citizen_card=card))),
        ("reason_too_long", "reason is 501 characters long; at most 500",
         lambda hub, audit: audit.RevokePrintout(audit_pb2.RevokePrintoutRequest(
             printout_id="p", reason="ก" * 501, officer_id=ok.officer_id))),
        ("printout_id_too_long", "printout_id is 65 characters long; at most 64",
         lambda hub, audit: audit.GetRevocation(audit_pb2.GetRevocationRequest(printout_id="p" * 65))),
        ("leaf_hash_too_long", "leaf_hash is 33 bytes long; at most 32",
         lambda hub, audit: audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(leaf_hash=b"\0" * 33))),
        ("batch_too_large", f"at most {MAX_BATCH} document types per call, got {MAX_BATCH + 1}",
         lambda hub, audit: hub.FetchDocuments(hub_pb2.FetchDocumentsRequest(
             doc_types=[f"t.{i}" for i in range(MAX_BATCH + 1)], subject_id=ok.subject_id, purpose="x",
             officer_id=ok.officer_id, officer_session=ok.officer_session))),
        ("bad_range", f"ask for 1 to {MAX_ENTRIES} entries",
         lambda hub, audit: audit.GetEntries(audit_pb2.GetEntriesRequest(start=0, end=MAX_ENTRIES + 1))),
    ]


async def test_every_field_length_and_count_is_limited(running: Start) -> None:
    stack = await running()
    before = stack.hub.hub.log.size
    async with channel(stack, MUNI) as ch:
        hub, audit = hub_pb2_grpc.LinkageHubStub(ch), audit_pb2_grpc.AuditLogStub(ch)
        for reason, text, call in _too_long(stack, await signed_request(stack)):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(hub, audit)
            err = info.value
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (reason, err)
            assert from_rpc_error(err).code == reason and text in (err.details() or ""), (reason, err.details())
        assert (await hub.FetchDocument(await signed_request(stack, purpose="ก" * 500, case_ref="x" * 100))).jws
    assert stack.hub.hub.log.size == before + 1


async def test_messages_over_the_size_limit_are_refused_and_the_servers_keep_serving(
        running: Start) -> None:
    stack = await running()
    async with channel(stack, MUNI) as ch:
        hub = hub_pb2_grpc.LinkageHubStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await hub.FetchDocument(fetch_request(stack, purpose="x" * HUB_MAX_RECEIVE))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert str(HUB_MAX_RECEIVE) in (info.value.details() or "")  # gRPC names the limit
        assert (await hub.FetchDocument(await signed_request(stack))).jws
    dopa = stack.settings.providers["dopa"]
    creds = pki.channel_credentials(stack.home.ca.cert, stack.home.client_cert(HUB_CLIENT))
    async with grpc.aio.secure_channel(dopa.address, creds) as ch:
        provider = provider_pb2_grpc.ProviderServiceStub(ch)
        ok = fetch_request(stack)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await provider.GetRecord(provider_pb2.GetRecordRequest(doc_type="dopa.person", subject_id=ok.subject_id,
                                                                   fields=["f" * 1024] * 64))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert str(PROVIDER_MAX_RECEIVE) in (info.value.details() or "")
        answer = await provider.GetRecord(provider_pb2.GetRecordRequest(doc_type="dopa.person",
                                                                        subject_id=ok.subject_id))
        assert answer.subject_id == ok.subject_id


def test_no_refusal_reason_is_missing_from_the_operations_page() -> None:
    page = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    for word in ("rate_limited", "quota_exhausted", "rate_per_s", "daily_quota", *FIELD_LIMITS):
        assert f"`{word}`" in page, f"docs/operations.md does not name `{word}`"
