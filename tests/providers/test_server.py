"""The registry servers over mutual TLS: Describe, GetRecord, CheckCard, health, reflection, refusal."""

from __future__ import annotations

import sqlite3
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from linkage import pki
from linkage.errors import InvalidRequest, LinkageError, NotFound, from_rpc_error
from linkage.ids import with_check_digit
from linkage.logs import JsonLines
from linkage.pki import HUB_CLIENT
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc
from providers import REGISTRIES
from providers.server import SERVICE_NAME
from tests.providers.conftest import Pki, Running, Seeded


async def _get(running: Running, name: str, doc_type: str, subject_id: str,
               fields: tuple[str, ...] = ()) -> dict[str, Any]:
    answer = await running.stub(name).GetRecord(
        provider_pb2.GetRecordRequest(doc_type=doc_type, subject_id=subject_id, fields=fields))
    assert answer.doc_type == doc_type and answer.subject_id == subject_id
    return json_format.MessageToDict(answer.data)


async def _fails(running: Running, name: str, doc_type: str, subject_id: str,
                 fields: tuple[str, ...] = ()) -> tuple[grpc.StatusCode, LinkageError]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _get(running, name, doc_type, subject_id, fields)
    return info.value.code(), from_rpc_error(info.value)


async def test_describe(running: Running) -> None:
    for name, registry in REGISTRIES.items():
        answer = await running.stub(name).Describe(provider_pb2.DescribeRequest())
        assert answer.provider == name and answer.member == registry.member
        assert [t.code for t in answer.doc_types] == list(registry.doc_types)
        for t in answer.doc_types:
            assert t.title_th and t.title_en and t.fields
            assert all(f.title_th and f.title_en and f.type for f in t.fields)
            assert t.requires_citizen_present == (t.code == "dopa.card")
            juristic = t.code == "dbd.juristic"
            assert t.subject_kind == (common_pb2.SUBJECT_KIND_JURISTIC if juristic else common_pb2.SUBJECT_KIND_CITIZEN)


async def test_get_record_whole_and_projected(running: Running, seeded: Seeded) -> None:
    adult = seeded.persona("ordinary adult")["id"]
    person = await _get(running, "dopa", "dopa.person", adult)
    fields = [f.name for f in REGISTRIES["dopa"].doc_types["dopa.person"].fields]
    assert sorted(person) == sorted(fields)
    assert person["personal_id"] == adult and person["status"] == "alive" and person["death_date"] is None
    assert person["address"]["postal_code"] == person["address_text"][-5:]
    projected = await _get(running, "dopa", "dopa.person", adult, ("birth_date", "first_name_th"))
    assert projected == {"birth_date": person["birth_date"], "first_name_th": person["first_name_th"]}
    house = await _get(running, "dopa", "dopa.house", adult)
    assert adult in [m["personal_id"] for m in house["members"]]
    card = await _get(running, "dopa", "dopa.card", adult)
    assert card["card_id"] == adult and card["status"] == "active" and "laser_code" not in card
    company = seeded.persona("active company")["id"]
    registered = await _get(running, "dbd", "dbd.juristic", company, ("name_th", "capital", "directors"))
    assert str(registered["name_th"]).startswith(("บริษัท", "ห้างหุ้นส่วน"))
    assert isinstance(registered["capital"], float) and registered["directors"]
    graduate = seeded.persona("graduate")["id"]
    degrees = await _get(running, "edu", "edu.degree", graduate, ("degrees",))
    assert degrees["degrees"][0]["degree_th"]


async def test_not_found(running: Running, seeded: Seeded) -> None:
    absent = with_check_digit("199999999999")
    code, err = await _fails(running, "dopa", "dopa.person", absent)
    assert code == grpc.StatusCode.NOT_FOUND and isinstance(err, NotFound) and err.code == "record_not_found"
    deceased = seeded.persona("deceased")["id"]
    code, err = await _fails(running, "dopa", "dopa.house", deceased)  # no longer in any house
    assert code == grpc.StatusCode.NOT_FOUND and err.code == "record_not_found"
    code, err = await _fails(running, "dbd", "dbd.juristic", with_check_digit("010555999999"))
    assert code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(("doc_type", "subject_id", "fields", "reason", "says"), [
    ("dopa.person", with_check_digit("010553600001"), (), "id_wrong_kind", "personal ID is needed"),
    ("dopa.person", "1234567890120", (), "check_digit_mismatch", "check digit should be 1"),
    ("dopa.person", "12345", (), "id_wrong_length", "13 digits"),
    ("dopa.person", "9234567890121", (), "id_bad_first_digit", "no Thai ID begins with 9"),
    ("dopa.person", with_check_digit("110010000001"), ("first_name_th", "salary"), "unknown_field",
     "has no field 'salary'; its fields are: personal_id"),
    ("dopa.passport", with_check_digit("110010000001"), (), "unknown_doc_type", "it serves: dopa.person"),
])
async def test_invalid_requests(running: Running, doc_type: str, subject_id: str, fields: tuple[str, ...],
                                reason: str, says: str) -> None:
    code, err = await _fails(running, "dopa", doc_type, subject_id, fields)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and isinstance(err, InvalidRequest)
    assert err.code == reason and says in err.message


async def test_juristic_type_wants_a_juristic_id(running: Running, seeded: Seeded) -> None:
    code, err = await _fails(running, "dbd", "dbd.juristic", seeded.persona("director")["id"])
    assert code == grpc.StatusCode.INVALID_ARGUMENT and err.code == "id_wrong_kind"


def _card_facts(seeded: Seeded, subject_id: str) -> provider_pb2.CheckCardRequest:
    conn = sqlite3.connect(seeded.data_dir / "dopa.sqlite")
    try:
        first, last, birth, laser = conn.execute(
            "SELECT first_name_th, last_name_th, birth_date, laser_code FROM card_check WHERE subject_id = ?",
            (subject_id,)).fetchone()
    finally:
        conn.close()
    return provider_pb2.CheckCardRequest(subject_id=subject_id, first_name_th=first, last_name_th=last,
                                         birth_date=birth, laser_code=laser)


async def test_check_card(running: Running, seeded: Seeded) -> None:
    stub = running.stub("dopa")
    facts = _card_facts(seeded, seeded.persona("ordinary adult")["id"])
    assert (await stub.CheckCard(facts)).match
    for part, wrong in (("first_name_th", "สมมติ"), ("last_name_th", "สมมติ"), ("birth_date", "25000101"),
                        ("laser_code", "AB0-0000000-00")):
        changed = provider_pb2.CheckCardRequest()
        changed.CopyFrom(facts)
        setattr(changed, part, wrong)
        assert not (await stub.CheckCard(changed)).match, part
    for voided in ("voided", "deceased"):
        assert not (await stub.CheckCard(_card_facts(seeded, seeded.persona(voided)["id"]))).match
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await running.stub("dbd").CheckCard(facts)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_health_and_reflection(running: Running) -> None:
    channel = running.channels["dopa"]
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE_NAME):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    services = [s.name async for answer in call for s in answer.list_services_response.service]
    assert SERVICE_NAME == "linkage.v1.ProviderService" and SERVICE_NAME in services


async def test_client_without_certificate_is_refused(running: Running, test_pki: Pki) -> None:
    creds = pki.channel_credentials(test_pki.ca.cert, None)
    async with grpc.aio.secure_channel(f"localhost:{running.ports['dopa']}", creds) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Describe(provider_pb2.DescribeRequest(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_one_log_line_per_request_without_personal_data(running: Running, seeded: Seeded,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    adult = seeded.persona("ordinary adult")["id"]
    absent = with_check_digit("199999999999")
    with caplog.at_level("INFO", logger="providers.server"):
        await _get(running, "dopa", "dopa.person", adult)
        await _fails(running, "dopa", "dopa.person", absent)
        await _fails(running, "dopa", "dopa.person", "1234567890120")
    lines = [r.__dict__ for r in caplog.records if r.name == "providers.server"]
    assert [(x["method"], x["doc_type"], x["code"], x["reason"]) for x in lines] == [
        ("ProviderService/GetRecord", "dopa.person", "OK", ""),
        ("ProviderService/GetRecord", "dopa.person", "NOT_FOUND", "record_not_found"),
        ("ProviderService/GetRecord", "dopa.person", "INVALID_ARGUMENT", "check_digit_mismatch")]
    assert all(x["provider"] == "dopa" and x["agency"] == HUB_CLIENT and x["duration_ms"] >= 0 for x in lines)
    text = "\n".join(JsonLines().format(r) for r in caplog.records)
    assert not any(s in text for s in (adult, absent, "1234567890120"))
