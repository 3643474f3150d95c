"""BatchGetRecords on the real registries (port 0, mTLS, SQLite and PostgreSQL): each read answered in its place as
GetRecord would answer it alone; metrics and the log line count each read; the answer stays within its limit.
Faults on a batch's reads: tests/providers/test_faults.py."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from linkage import pki
from linkage.errors import from_problem, from_rpc_error
from linkage.ids import with_check_digit
from linkage.limits import MAX_PROVIDER_BATCH, PROVIDER_BATCH_ANSWER
from linkage.logs import JsonLines
from linkage.pki import HUB_CLIENT
from linkage.v1 import provider_pb2, provider_pb2_grpc
from providers.server import start_server
from tests.providers.conftest import Pki, Running, Seeded

Read = provider_pb2.GetRecordRequest


def _reads(seeded: Seeded) -> list[Read]:
    """Found, not found and malformed reads of every kind, mixed."""
    adult = seeded.persona("ordinary adult")["id"]
    company = seeded.persona("active company")["id"]
    return [
        Read(doc_type="dopa.person", subject_id=adult),
        Read(doc_type="dopa.person", subject_id=with_check_digit("199999999999")),  # no such person
        Read(doc_type="dopa.house", subject_id=adult),
        Read(doc_type="dopa.person", subject_id="1234567890120"),  # bad check digit
        Read(doc_type="dopa.person", subject_id=adult, fields=["birth_date", "first_name_th"]),
        Read(doc_type="dopa.passport", subject_id=adult),  # no such document type
        Read(doc_type="dopa.person", subject_id=company),  # a juristic ID where a personal one is needed
        Read(doc_type="dopa.person", subject_id=adult, fields=["first_name_th", "salary"]),  # no such field
        Read(doc_type="dopa.card", subject_id=seeded.persona("deceased")["id"]),
        Read(doc_type="dopa.person", subject_id=adult),  # the same read twice is answered twice
    ]


async def _alone(stub: provider_pb2_grpc.ProviderServiceStub, read: Read) -> tuple[str, Any]:
    """What GetRecord answers to read on its own: ("record", data) or ("problem", (status, error's facts))."""
    try:
        answer = await stub.GetRecord(read)
    except grpc.aio.AioRpcError as exc:
        err = from_rpc_error(exc)
        return "problem", (exc.code().value[0], type(err), err.code, err.message_th, err.message_en, err.field)
    return "record", (answer.doc_type, answer.subject_id, json_format.MessageToDict(answer.data))


def _in_batch(result: provider_pb2.RecordResult) -> tuple[str, Any]:
    if result.HasField("problem"):
        err = from_problem(result.problem)
        return "problem", (result.problem.grpc_code, type(err), err.code, err.message_th, err.message_en, err.field)
    record = result.record
    return "record", (record.doc_type, record.subject_id, json_format.MessageToDict(record.data))


async def test_each_read_is_answered_in_its_place_as_getrecord_answers_it(running: Running, seeded: Seeded) -> None:
    stub = running.stub("dopa")
    reads = _reads(seeded)
    answer = await stub.BatchGetRecords(provider_pb2.BatchGetRecordsRequest(requests=reads))
    assert len(answer.results) == len(reads)
    got = [_in_batch(r) for r in answer.results]
    assert got == [await _alone(stub, read) for read in reads]
    assert [kind for kind, _ in got] == ["record", "problem", "record", "problem", "record", "problem", "problem",
                                         "problem", "record", "record"]
    reasons = [facts[2] for kind, facts in got if kind == "problem"]
    assert reasons == ["record_not_found", "check_digit_mismatch", "unknown_doc_type", "id_wrong_kind",
                       "unknown_field"]


async def test_the_batch_size_is_bounded_and_an_empty_batch_is_an_empty_answer(running: Running,
                                                                               seeded: Seeded) -> None:
    stub = running.stub("edu")
    graduate = seeded.persona("graduate")["id"]
    full = [Read(doc_type="edu.degree", subject_id=graduate)] * MAX_PROVIDER_BATCH
    answer = await stub.BatchGetRecords(provider_pb2.BatchGetRecordsRequest(requests=full))
    assert [r.record.subject_id for r in answer.results] == [graduate] * MAX_PROVIDER_BATCH
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.BatchGetRecords(provider_pb2.BatchGetRecordsRequest(requests=[*full, full[0]]))
    err = from_rpc_error(info.value)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.code == "batch_too_large"
    assert f"at most {MAX_PROVIDER_BATCH} reads; this one has {MAX_PROVIDER_BATCH + 1}" in err.message_en
    assert err.message_th and err.field == "requests"
    assert not (await stub.BatchGetRecords(provider_pb2.BatchGetRecordsRequest())).results


async def test_a_batch_is_counted_per_read_and_logged_in_one_line_without_personal_data(
        running: Running, seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    reads = _reads(seeded)
    with caplog.at_level("INFO", logger="providers.server"):
        await running.stub("dopa").BatchGetRecords(provider_pb2.BatchGetRecordsRequest(requests=reads))
    metrics = running.servers["dopa"].metrics
    assert metrics is not None
    value = metrics.registry.get_sample_value
    method = "ProviderService/BatchGetRecords"
    assert value("linkage_batch_size_count", {"method": method}) == 1
    assert value("linkage_batch_size_sum", {"method": method}) == len(reads)
    series = {"method": method, "agency": HUB_CLIENT}
    assert value("linkage_requests_total", {**series, "doc_type": "dopa.person", "code": "OK"}) == 3
    assert value("linkage_requests_total", {**series, "doc_type": "dopa.person", "code": "INVALID_ARGUMENT"}) == 3
    assert value("linkage_requests_total", {**series, "doc_type": "other", "code": "INVALID_ARGUMENT"}) == 1
    assert value("linkage_errors_total", {**series, "doc_type": "dopa.person", "code": "NOT_FOUND",
                                          "reason": "record_not_found"}) == 1
    [line] = [r.__dict__ for r in caplog.records if r.name == "providers.server"]
    assert (line["method"], line["code"], line["agency"]) == (method, "OK", HUB_CLIENT)
    assert [(r["doc_type"], r["code"], r["reason"]) for r in line["results"]][:4] == [
        ("dopa.person", "OK", ""), ("dopa.person", "NOT_FOUND", "record_not_found"), ("dopa.house", "OK", ""),
        ("dopa.person", "INVALID_ARGUMENT", "check_digit_mismatch")]
    text = "\n".join(JsonLines().format(r) for r in caplog.records)
    assert not any(read.subject_id in text for read in reads)


def big_house(store: Path, tmp_path: Path, members: int) -> str:
    """A copy of dopa's store in tmp_path with one house of that many members; the ID of one of them."""
    shutil.copy(store, tmp_path / "dopa.sqlite")
    ids = [with_check_digit(f"7{n:011d}") for n in range(1, members + 1)]
    house = {"house_code": "54019999999", "address": {"province": "แพร่"}, "address_text": "ทะเบียนบ้านกลาง",
             "member_count": members, "members": [{"personal_id": pid, "name_th": f"นายสมชาย ใจดี{n}",
                                                   "role": "resident", "role_th": "ผู้อาศัย"}
                                                  for n, pid in enumerate(ids)]}
    with sqlite3.connect(tmp_path / "dopa.sqlite") as conn:
        conn.execute("INSERT INTO house VALUES (?, ?)", (house["house_code"], json.dumps(house, ensure_ascii=False)))
        conn.execute("INSERT INTO house_member VALUES (?, ?)", (ids[0], house["house_code"]))
    conn.close()
    return ids[0]


async def test_a_batch_answer_stays_below_its_limit(seeded: Seeded, test_pki: Pki, tmp_path: Path) -> None:
    member = big_house(seeded.data_dir / "dopa.sqlite", tmp_path, members=8000)
    server = await start_server("dopa", tmp_path / "dopa.sqlite", test_pki.ca.cert, test_pki.servers["dopa"])
    creds = pki.channel_credentials(test_pki.ca.cert, test_pki.client)
    options = [("grpc.max_receive_message_length", 8 * 1024 * 1024)]
    try:
        async with grpc.aio.secure_channel(f"localhost:{server.port}", creds, options=options) as channel:
            stub = provider_pb2_grpc.ProviderServiceStub(channel)
            reads = [Read(doc_type="dopa.house", subject_id=member)] * 8
            answer = await stub.BatchGetRecords(provider_pb2.BatchGetRecordsRequest(requests=reads))
    finally:
        await server.stop(None)
    served = [r for r in answer.results if r.HasField("record")]
    full = [r.problem for r in answer.results if r.HasField("problem")]
    size = served[0].record.ByteSize()
    assert len(served) == PROVIDER_BATCH_ANSWER // size and answer.ByteSize() < PROVIDER_BATCH_ANSWER
    assert all(r.HasField("record") for r in answer.results[:len(served)])  # the first ones, in order
    assert full and all((p.grpc_code, p.reason, p.retryable) == (grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
                                                                  "batch_answer_full", True) for p in full)
    assert "read this dopa.house alone with GetRecord" in full[0].message_en and full[0].message_th
