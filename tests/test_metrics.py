"""Prometheus metrics of every server, scraped over HTTP from real servers on port 0 (linkage/metrics.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import prometheus_client
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from consumers.counter.app import create_app
from linkage import pki
from linkage.config import Home
from linkage.metrics import MetricsExporter
from linkage.pki import HUB_CLIENT
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2, provider_pb2_grpc
from providers.server import start_server
from tests.conftest import RunningStack
from tests.counter.conftest import Counter, counter_settings
from tests.officers import session

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
FETCH = "LinkageHub/FetchDocument"
# A Thai ID, or anything shaped like one, standing alone (the digits of a float's fraction follow a dot).
THIRTEEN_DIGITS = re.compile(r"(?<![\d.])\d{13}(?!\d)")


def _subject(personas: list[dict[str, Any]], doc_type: str, kind: str = "citizen") -> str:
    return next(str(p["id"]) for p in personas if p["kind"] == kind and doc_type in p["doc_types"])


async def _scrape(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _no_personal_data(text: str, *ids: str) -> None:
    assert not THIRTEEN_DIGITS.search(text), THIRTEEN_DIGITS.search(text)
    for value in ids:
        assert value not in text


def _request(stack: RunningStack, agency: str, doc_type: str, subject_id: str) -> hub_pb2.FetchDocumentRequest:
    """A request under the agency's first officer's session, once ``session`` has signed them in."""
    officer = sorted(stack.settings.agencies[agency].officers)[0]
    _, signed = stack.sessions[agency, officer]
    return hub_pb2.FetchDocumentRequest(doc_type=doc_type, subject_id=subject_id, purpose="ทดสอบการเฝ้าระวัง",
                                        officer_id=officer, officer_session=signed.secret)


async def test_hub_counts_calls_errors_and_latency_per_agency_and_doc_type(
        stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    citizen = _subject(personas, "dopa.person")
    company = _subject(personas, "dbd.juristic", "juristic")
    for agency in (MUNI, HOSPITAL):  # each officer signs in first
        await session(stack, agency)
    async with stack.channel(MUNI) as muni_channel, stack.channel(HOSPITAL) as hospital_channel:
        muni, hospital = hub_pb2_grpc.LinkageHubStub(muni_channel), hub_pb2_grpc.LinkageHubStub(hospital_channel)
        for _ in range(2):
            await muni.FetchDocument(_request(stack, MUNI, "dopa.person", citizen))
        await muni.FetchDocument(_request(stack, MUNI, "dbd.juristic", company))
        await hospital.FetchDocument(_request(stack, HOSPITAL, "dopa.person", citizen))
        with pytest.raises(grpc.aio.AioRpcError) as refused:  # the hospital has no right to house registrations
            await hospital.FetchDocument(_request(stack, HOSPITAL, "dopa.house", citizen))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # A document type that is an ID: counted, but under "other", never as itself.
        with pytest.raises(grpc.aio.AioRpcError):
            await muni.FetchDocument(_request(stack, MUNI, citizen, citizen))
        batch = hub_pb2.FetchDocumentsRequest(doc_types=["dopa.person", "dopa.house"], subject_id=citizen,
                                              purpose="ทดสอบ", officer_id=_request(stack, HOSPITAL, "", "").officer_id,
                                              officer_session=_request(stack, HOSPITAL, "", "").officer_session)
        await hospital.FetchDocuments(batch)
        with pytest.raises(grpc.aio.AioRpcError):  # too many types: refused whole, counted once
            batch.doc_types[:] = [f"x.{n}" for n in range(40)]
            await hospital.FetchDocuments(batch)
    assert stack.hub.exporter is not None
    text = await _scrape(stack.hub.exporter.url)
    _no_personal_data(text, citizen, company, *stack.settings.agencies[MUNI].officers)
    got = _samples(text)

    def calls(agency: str, doc_type: str, code: str = "OK", method: str = FETCH) -> float:
        return _value(got, "linkage_requests_total", method=method, agency=agency, doc_type=doc_type, code=code)

    assert calls(MUNI, "dopa.person") == 2 and calls(MUNI, "dbd.juristic") == 1
    assert calls(HOSPITAL, "dopa.person") == 1 and calls(HOSPITAL, "dopa.house", "PERMISSION_DENIED") == 1
    assert _value(got, "linkage_errors_total", method=FETCH, agency=HOSPITAL, doc_type="dopa.house",
                  code="PERMISSION_DENIED", reason="no_right") == 1
    assert calls(MUNI, "other", "INVALID_ARGUMENT") == 1
    # A batch counts once per document type, with each one's own outcome.
    assert calls(HOSPITAL, "dopa.person", method="LinkageHub/FetchDocuments") == 1
    assert _value(got, "linkage_errors_total", method="LinkageHub/FetchDocuments", agency=HOSPITAL,
                  doc_type="dopa.house", code="PERMISSION_DENIED", reason="no_right") == 1
    assert _value(got, "linkage_errors_total", method="LinkageHub/FetchDocuments", agency=HOSPITAL, doc_type="",
                  code="INVALID_ARGUMENT", reason="batch_too_large") == 1
    # Latency: every call lands in the +Inf bucket, buckets only grow, the sum is positive.
    series = {"method": FETCH, "agency": MUNI, "doc_type": "dopa.person"}
    buckets = sorted((float(dict(labels)["le"]), value) for (name, labels), value in got.items()
                     if name == "linkage_request_duration_seconds_bucket"
                     and dict(labels).items() >= series.items())
    assert len(buckets) == 14 and buckets[-1] == (float("inf"), 2.0)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert _value(got, "linkage_request_duration_seconds_sum", **series) > 0
    # The hub's own state: breakers, log size, checkpoint age, whether it integrates (alone on SQLite: yes).
    for provider in stack.settings.providers:
        assert _value(got, "linkage_provider_circuit_state", provider=provider, state="closed") == 1
        assert _value(got, "linkage_provider_circuit_state", provider=provider, state="open") == 0
    assert _value(got, "linkage_log_size") == stack.hub.hub.log.size
    assert 0 <= _value(got, "linkage_log_checkpoint_age_seconds") < 3600
    assert _value(got, "linkage_log_integrating") == 1
    # Each server has a registry of its own; nothing goes to the process-wide default.
    assert prometheus_client.REGISTRY.get_sample_value("linkage_requests_total", {
        "method": FETCH, "agency": MUNI, "doc_type": "dopa.person", "code": "OK"}) is None


async def test_registry_metrics_count_the_hubs_calls(sandbox_home: Home, personas: list[dict[str, Any]]) -> None:
    citizen = _subject(personas, "dopa.person")
    running = await start_server("dopa", sandbox_home.provider_db("dopa"), sandbox_home.ca.cert,
                                 sandbox_home.server_cert("dopa"), metrics_port=0)
    try:
        credentials = pki.channel_credentials(sandbox_home.ca.cert, sandbox_home.client_cert(HUB_CLIENT))
        async with grpc.aio.secure_channel(f"127.0.0.1:{running.port}", credentials) as channel:
            stub = provider_pb2_grpc.ProviderServiceStub(channel)
            await stub.GetRecord(provider_pb2.GetRecordRequest(doc_type="dopa.person", subject_id=citizen))
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.GetRecord(provider_pb2.GetRecordRequest(doc_type="dopa.person",
                                                                   subject_id=_unknown_id(personas)))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert running.exporter is not None
        text = await _scrape(running.exporter.url)
    finally:
        await running.stop(0)
    _no_personal_data(text, citizen)
    got = _samples(text)
    series = {"method": "ProviderService/GetRecord", "agency": HUB_CLIENT, "doc_type": "dopa.person"}
    assert _value(got, "linkage_requests_total", **series, code="OK") == 1
    assert _value(got, "linkage_errors_total", **series, code="NOT_FOUND", reason="record_not_found") == 1
    assert _value(got, "linkage_request_duration_seconds_count", **series) == 2


def _unknown_id(personas: list[dict[str, Any]]) -> str:
    from linkage.ids import with_check_digit

    known = {str(p["id"]) for p in personas}
    return next(i for i in (with_check_digit(f"3{n:011d}") for n in range(10**6, 10**6 + 1000)) if i not in known)


@pytest.fixture
async def counter(stack: RunningStack, tmp_path: Path) -> AsyncIterator[Counter]:
    settings = counter_settings(stack, tmp_path)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Counter(client, settings, stack)


async def test_counter_metrics_by_route_without_personal_data(counter: Counter,
                                                              personas: list[dict[str, Any]]) -> None:
    citizen = _subject(personas, "dopa.person")
    await counter.sign_in()
    token = await counter.csrf("/cases/new/health-hazard-business")
    opened = await counter.client.post("/cases/new/health-hazard-business", allow_redirects=False,
                                       data={"csrf": token, "subject_id": citizen, "citizen_present": "1"})
    assert opened.status == 303
    case_path = opened.headers["Location"]
    assert (await counter.client.get(case_path)).status == 200
    assert (await counter.client.get("/nowhere")).status == 404
    resp = await counter.client.get("/metrics")  # no sign-in needed: nothing personal in it
    assert resp.status == 200
    text = await resp.text()
    _no_personal_data(text, citizen, case_path.rsplit("/", 1)[1], *counter.officers)
    got = _samples(text)
    count = "linkage_http_requests_total"
    assert _value(got, count, route="case_open", method="POST", status="303") == 1
    assert _value(got, count, route="case", method="GET", status="200") == 1
    assert _value(got, count, route="unmatched", method="GET", status="404") == 1
    assert _value(got, "linkage_http_request_duration_seconds_count", route="case") == 1


async def test_exporter_names_a_taken_port() -> None:
    registry = prometheus_client.CollectorRegistry()
    first = await MetricsExporter.start(registry)
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{first.port}.*taken"):
            await MetricsExporter.start(registry, port=first.port)
    finally:
        await first.close()
