"""The provider conformance kit against the project's registries, against broken providers, and against
targets that are not providers at all. Every server here is real: gRPC on port 0 with mutual TLS."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import socket
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from linkage import pki
from linkage.cli import conformance
from linkage.cli import main as cli
from linkage.config import Home
from linkage.ids import with_check_digit
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc
from providers import REGISTRIES
from providers.server import build_server as build_provider

CHECK_NAMES = [name for name, _ in conformance.CHECKS]
BIG_HOUSE = with_check_digit("154099999999")  # a member of a central house registration (ทะเบียนบ้านกลาง)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="linkage")
    conformance.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["conformance", *argv])


async def _run(argv: Sequence[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await conformance.run_conformance(_parse(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _lines(out: str) -> dict[str, str]:
    """check name -> its line (PASS/FAIL and the text), from the kit's output."""
    found = {}
    for line in out.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and parts[0] in ("PASS", "FAIL") and parts[1] in CHECK_NAMES:
            found[parts[1]] = f"{parts[0]} {parts[2]}"
    assert list(found) == CHECK_NAMES, out
    return found


def failures_of(junit: Path, name: str) -> list[str]:
    """The problems of check name in a JUnit report, one a line."""
    failure = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == name).find("failure")
    assert failure is not None and failure.text is not None
    return failure.text.splitlines()


def _failed(lines: dict[str, str]) -> list[str]:
    return [name for name, line in lines.items() if line.startswith("FAIL")]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(home: Home, add: Callable[[grpc.aio.Server], None], *, cert: pki.CertPaths | None = None,
                 ca: Path | None = None) -> tuple[grpc.aio.Server, int]:
    """A gRPC server with the servicers add registers, over mutual TLS (the sandbox's dopa certificate)."""
    server = grpc.aio.server()
    add(server)
    port = server.add_secure_port("127.0.0.1:0", pki.server_credentials(ca or home.ca.cert,
                                                                        cert or home.server_cert("dopa")))
    await server.start()
    return server, port


# --- the project's own registries pass ---------------------------------------------------------------------


@pytest.fixture
async def registries(sandbox_home: Home) -> AsyncIterator[dict[str, int]]:
    servers, ports = [], {}
    for name in REGISTRIES:
        server, port = await build_provider(name, sandbox_home.provider_db(name), sandbox_home.ca.cert,
                                            sandbox_home.server_cert(name))
        servers.append(server)
        ports[name] = port
    try:
        yield ports
    finally:
        for server in servers:
            await server.stop(None)


async def test_every_registry_passes(sandbox_home: Home, registries: dict[str, int], tmp_path: Path) -> None:
    for name, port in registries.items():
        junit = tmp_path / f"{name}.xml"
        code, out, err = await _run(["--provider", f"127.0.0.1:{port}", "--home", str(sandbox_home.root),
                                     "--junit", str(junit)])
        assert code == 0, out + err
        lines = _lines(out)
        assert not _failed(lines)
        assert f"{name}: all {len(CHECK_NAMES)} checks passed" in out
        codes = list(REGISTRIES[name].doc_types)
        assert lines["describe"].startswith(f"PASS {name} ({REGISTRIES[name].member}): {', '.join(codes)};")
        assert lines["not_found"] == f"PASS NOT_FOUND for a well-formed unknown ID of {', '.join(codes)}"
        # Thai text was actually seen, and every personas.json subject of this registry was read.
        assert " 0 with Thai text" not in lines["thai_text"]
        assert all(f"{code} 0" not in lines["valid_ids"] for code in codes)
        expected_card = ("a wrong card does not match" if "dopa.card" in codes
                         else "UNIMPLEMENTED (the provider serves no dopa.card)")
        assert lines["check_card"].startswith(f"PASS {expected_card}")
        assert lines["batch_read"].startswith("PASS ") and " in one call answered in their places as GetRecord" in (
            lines["batch_read"]) and "64 reads in one call answered" in lines["batch_read"]
        suite = ET.parse(junit).getroot()
        assert suite.get("tests") == str(len(CHECK_NAMES)) and suite.get("failures") == "0"
        assert [c.get("name") for c in suite.iter("testcase")] == CHECK_NAMES
        assert all(c.get("classname") == f"linkage.cli.conformance.{name}" for c in suite.iter("testcase"))


async def test_only_explicit_ids_with_ca_cert_key(sandbox_home: Home, registries: dict[str, int],
                                                 personas: list[dict[str, Any]]) -> None:
    """What a provider team without a sandbox has: a CA, a client certificate and its own test records."""
    company = next(p["id"] for p in personas if "dbd.juristic" in p["doc_types"])
    trader = next(p["id"] for p in personas if "dbd.commerce" in p["doc_types"])
    hub = sandbox_home.client_cert("linkage-hub")
    creds = ["--ca", str(sandbox_home.ca.cert), "--cert", str(hub.cert), "--key", str(hub.key)]
    target = ["--provider", f"127.0.0.1:{registries['dbd']}"]
    code, out, _ = await _run([*target, *creds, "--id", f"dbd.juristic={company}", "--id", f"dbd.commerce={trader}"])
    assert code == 0, out
    assert _lines(out)["valid_ids"] == "PASS 2 records (dbd.juristic 1, dbd.commerce 1)"
    # Without a sample of every document type the records of that type go unchecked: that is a failure.
    code, out, _ = await _run([*target, *creds, "--id", f"dbd.juristic={company}"])
    lines = _lines(out)
    assert code == 1 and _failed(lines) == ["valid_ids"]
    assert lines["field_projection"].startswith("PASS only the fields asked for, with the same values (dbd.juristic);"
                                                " dbd.commerce not projected, no record;")
    assert lines["valid_ids"] == ("FAIL dbd.commerce: no sample ID, so its records were not checked;"
                                  " pass --id dbd.commerce=ID")


def _grow(home: Home, data_dir: Path, members: int, directors: int) -> tuple[str, str]:
    """Copies of the dopa and dbd stores with one very large house and one company with many directors."""
    for name in ("dopa", "dbd"):
        shutil.copy(home.provider_db(name), data_dir / f"{name}.sqlite")
    person_ids = [with_check_digit(f"7{n:011d}") for n in range(1, members + 1)]
    house = {"house_code": "54019999999",
             "address": {"house_no": "1", "moo": None, "sub_district": "ในเวียง", "district": "เมืองแพร่",
                         "province": "แพร่", "province_en": "Phrae", "postal_code": "54000"},
             "address_text": "1 ตำบลในเวียง อำเภอเมืองแพร่ จังหวัดแพร่ 54000 (ทะเบียนบ้านกลาง)",
             "member_count": members,
             "members": [{"personal_id": pid, "name_th": f"นายสมชาย ใจดี{n}", "role": "resident",
                          "role_th": "ผู้อาศัย"} for n, pid in enumerate(person_ids)]}
    with sqlite3.connect(data_dir / "dopa.sqlite") as conn:
        conn.execute("INSERT INTO house VALUES (?, ?)", (house["house_code"], json.dumps(house, ensure_ascii=False)))
        conn.execute("INSERT INTO house_member VALUES (?, ?)", (person_ids[0], house["house_code"]))
    conn.close()
    company_id = with_check_digit("010555999998")
    with sqlite3.connect(data_dir / "dbd.sqlite") as conn:
        (text,) = conn.execute("SELECT data FROM record WHERE doc_type = 'dbd.juristic' LIMIT 1").fetchone()
        company = json.loads(text)
        company["juristic_id"] = company_id
        company["directors"] = [{"personal_id": pid, "name_th": f"นางสาวสมศรี มั่นคง{n}"}
                                for n, pid in enumerate(person_ids[:directors])]
        conn.execute("INSERT INTO record VALUES ('dbd.juristic', ?, ?)",
                     (company_id, json.dumps(company, ensure_ascii=False)))
    conn.close()
    return person_ids[0], company_id


async def test_large_records_of_real_registries_pass(sandbox_home: Home, tmp_path: Path) -> None:
    member, company = _grow(sandbox_home, tmp_path, members=6000, directors=1500)
    for name, sample in (("dopa", f"dopa.house={member}"), ("dbd", f"dbd.juristic={company}")):
        server, port = await build_provider(name, tmp_path / f"{name}.sqlite", sandbox_home.ca.cert,
                                            sandbox_home.server_cert(name))
        try:
            code, out, _ = await _run(["--provider", f"127.0.0.1:{port}", "--home", str(sandbox_home.root),
                                       "--id", sample])
        finally:
            await server.stop(None)
        lines = _lines(out)
        assert code == 0, out
        subject = sample.split("=")[1]
        assert lines["large_records"].startswith(f"PASS largest {sample.replace('=', ' ')}, ")
        assert ("6000 members" if name == "dopa" else "1500 directors") in lines["large_records"]
        assert "pass your largest records" not in lines["large_records"] and subject in lines["large_records"]


# --- broken providers fail, saying how ---------------------------------------------------------------------


def _mojibake(text: str) -> str:
    """Thai UTF-8 read as Windows-874: what a provider that decodes its database with the wrong codec sends."""
    return text.encode("utf-8").decode("cp874", errors="replace")


class SloppyProvider(provider_pb2_grpc.ProviderServiceServicer):
    """Every mistake a hurried provider team makes, in front of the real DOPA registry.

    Describe declares a field type that does not exist; any ID it cannot find gets some record anyway;
    the ID check is str.isdigit (Thai digits pass) and refuses without ErrorInfo; fields asked for are
    ignored; first names are mojibake and last names out of canonical order; a central house registration
    comes back whole, far too large for a printout. No reflection, no CheckCard.
    """

    CheckCard = provider_pb2_grpc.ProviderServiceServicer.CheckCard  # the generated UNIMPLEMENTED, kept on purpose
    CheckPresence = provider_pb2_grpc.ProviderServiceServicer.CheckPresence

    def __init__(self, upstream: provider_pb2_grpc.ProviderServiceStub, fallback: str, big_house: str) -> None:
        self.upstream = upstream
        self.fallback = fallback
        self.big_house = big_house
        dopa = REGISTRIES["dopa"]
        person = common_pb2.DocumentType()
        person.CopyFrom(dopa.doc_types["dopa.person"])
        next(f for f in person.fields if f.name == "birth_date").type = "date"
        self.describe = provider_pb2.DescribeResponse(provider="dopa", member=dopa.member,
                                                      doc_types=[person, dopa.doc_types["dopa.house"]])

    async def Describe(self, request: Any, context: Any) -> provider_pb2.DescribeResponse:
        return self.describe

    async def GetRecord(self, request: Any, context: Any) -> provider_pb2.GetRecordResponse:
        if not request.subject_id.isdigit():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad id")
        if request.doc_type == "dopa.house" and request.subject_id == self.big_house:
            record: dict[str, Any] = {
                "house_code": "54019999999", "address": {"province": "แพร่"}, "address_text": "ทะเบียนบ้านกลาง",
                "member_count": 40_000,
                "members": [{"personal_id": with_check_digit(f"7{n:011d}"), "name_th": "นายสมชาย ใจดี",
                             "role": "resident", "role_th": "ผู้อาศัย"} for n in range(40_000)]}
        else:
            try:
                answer = await self.upstream.GetRecord(provider_pb2.GetRecordRequest(
                    doc_type=request.doc_type, subject_id=request.subject_id))
            except grpc.aio.AioRpcError:
                answer = await self.upstream.GetRecord(provider_pb2.GetRecordRequest(
                    doc_type=request.doc_type, subject_id=self.fallback))
            record = json_format.MessageToDict(answer.data)
        if "first_name_th" in record:
            record["first_name_th"] = _mojibake(record["first_name_th"])
            record["last_name_th"] = "ศรีภ\u0e48\u0e39"  # ศรีภู่ with the tone mark typed before the vowel
        data = struct_pb2.Struct()
        data.update(record)
        return provider_pb2.GetRecordResponse(doc_type=request.doc_type, subject_id=request.subject_id, data=data)

    async def BatchGetRecords(self, request: Any, context: Any) -> provider_pb2.BatchGetRecordsResponse:
        """In the order its threads happened to finish (here: backwards), and a record for every read."""
        results = []
        for read in reversed(request.requests):
            try:
                answer = await self.upstream.GetRecord(read)
            except grpc.aio.AioRpcError:
                answer = await self.upstream.GetRecord(provider_pb2.GetRecordRequest(
                    doc_type="dopa.person", subject_id=self.fallback))
            results.append(provider_pb2.RecordResult(record=answer))
        return provider_pb2.BatchGetRecordsResponse(results=results)


@pytest.fixture
async def sloppy(sandbox_home: Home, registries: dict[str, int], personas: list[dict[str, Any]],
                 ) -> AsyncIterator[int]:
    adult = next(p["id"] for p in personas if "ordinary adult" in p["label"])
    creds = pki.channel_credentials(sandbox_home.ca.cert, sandbox_home.client_cert("linkage-hub"))
    upstream = grpc.aio.secure_channel(f"127.0.0.1:{registries['dopa']}", creds)

    def add(server: grpc.aio.Server) -> None:
        sloppy = SloppyProvider(provider_pb2_grpc.ProviderServiceStub(upstream), adult, BIG_HOUSE)
        provider_pb2_grpc.add_ProviderServiceServicer_to_server(sloppy, server)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    health_servicer = health.aio.HealthServicer()
    server, port = await _serve(sandbox_home, add)
    for service in ("", conformance.SERVICE.full_name):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    try:
        yield port
    finally:
        await server.stop(None)
        await upstream.close()


async def test_sloppy_provider_fails_with_useful_messages(sandbox_home: Home, sloppy: int,
                                                          personas: list[dict[str, Any]], tmp_path: Path) -> None:
    adult = next(p["id"] for p in personas if "ordinary adult" in p["label"])
    junit = tmp_path / "report.xml"
    code, out, _ = await _run(["--provider", f"127.0.0.1:{sloppy}", "--home", str(sandbox_home.root),
                               "--id", f"dopa.house={BIG_HOUSE}", "--junit", str(junit)])
    lines = _lines(out)
    assert code == 1
    assert _failed(lines) == ["describe", "reflection", "malformed_ids", "unknown_doc_type", "not_found",
                              "field_projection", "batch_read", "thai_text", "large_records", "error_details"]
    assert lines["describe"] == ("FAIL document type 'dopa.person' field 'birth_date': type 'date' is not one of"
                                 " array, boolean, integer, number, object, string")
    assert lines["reflection"] == ("FAIL grpc.reflection.v1alpha.ServerReflection: expected an answer, got"
                                   " UNIMPLEMENTED (enable grpc_reflection for the server)")
    assert lines["malformed_ids"].startswith(f"FAIL dopa.person, wrong length (12 digits) '{adult[:12]}'")
    assert lines["malformed_ids"].endswith("': expected INVALID_ARGUMENT, got OK with a record (and 11 more)")
    assert lines["unknown_doc_type"].startswith("FAIL doc_type 'dopa.no_such_document': expected INVALID_ARGUMENT,"
                                                " got UNKNOWN")
    unknown = with_check_digit("199999999999")
    assert lines["not_found"] == (f"FAIL dopa.person {unknown} (well formed, no such subject): expected NOT_FOUND,"
                                  " got OK with a record (and 1 more)")
    assert lines["field_projection"].startswith("FAIL dopa.person ")
    assert (" asking for address_text, personal_id: expected exactly those fields, got 16 (extra: address, birth_date,"
            in lines["field_projection"])
    assert f"dopa.person {adult} first_name_th '" in lines["thai_text"]
    assert "mojibake (UTF-8 read as TIS-620/Windows-874)" in lines["thai_text"]
    assert lines["large_records"].startswith(f"FAIL dopa.house {BIG_HOUSE}: the record is ")
    assert lines["large_records"].endswith("as JSON; a printout carries it base64 inside the hub's 4.0 MiB answer,"
                                           " so at most 3.0 MiB")
    assert lines["error_details"].startswith("FAIL dopa.person, non-digits '")
    assert lines["error_details"].endswith("': expected google.rpc.ErrorInfo in the status details, got none"
                                           " (and 3 more)")
    # Its batch answers each read in another's place, and answers with a record what GetRecord refuses.
    assert lines["batch_read"].startswith("FAIL BatchGetRecords read 1 (dopa.")
    assert " in this place, got the record of dopa." in lines["batch_read"]
    batch = failures_of(junit, "batch_read")
    assert any(": expected NOT_FOUND record_not_found, as GetRecord answers it, got the record of dopa.person " in line
               for line in batch)
    # The checks it does pass say what they saw.
    assert lines["health"] == "PASS SERVING for '' and 'linkage.v1.ProviderService'"
    assert lines["check_card"] == "PASS UNIMPLEMENTED (the provider serves no dopa.card)"
    assert "2 of 14" not in out and "dopa: 10 of 14 checks failed: describe, reflection," in out
    # Every problem is in the JUnit report, not only the first.
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "10"
    failures = {c.get("name"): c.find("failure") for c in suite.iter("testcase")}
    thai = failures["thai_text"]
    assert thai is not None and thai.text is not None
    assert "not in NFC (marks out of canonical order); expected 'ศรีภู่'" in thai.text
    malformed = failures["malformed_ids"]
    assert malformed is not None and malformed.text is not None and len(malformed.text.splitlines()) == 12
    thai_digits = adult.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    assert (f"dopa.person, Thai digits '{thai_digits}': expected INVALID_ARGUMENT, got OK with a record"
            in malformed.text.splitlines())


class HangingProvider(provider_pb2_grpc.ProviderServiceServicer):
    """Describes itself, then never answers GetRecord: a lock never released, a pool exhausted."""

    CheckCard = provider_pb2_grpc.ProviderServiceServicer.CheckCard  # the generated UNIMPLEMENTED, kept on purpose
    CheckPresence = provider_pb2_grpc.ProviderServiceServicer.CheckPresence
    BatchGetRecords = provider_pb2_grpc.ProviderServiceServicer.BatchGetRecords  # a provider from before it

    async def Describe(self, request: Any, context: Any) -> provider_pb2.DescribeResponse:
        edu = REGISTRIES["edu"]
        return provider_pb2.DescribeResponse(provider="edu", member=edu.member, doc_types=edu.doc_types.values())

    async def GetRecord(self, request: Any, context: Any) -> provider_pb2.GetRecordResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_hanging_provider_fails_without_hanging_the_kit(sandbox_home: Home) -> None:
    server, port = await _serve(sandbox_home,
                                lambda s: provider_pb2_grpc.add_ProviderServiceServicer_to_server(HangingProvider(), s))
    try:
        code, out, _ = await _run(["--provider", f"127.0.0.1:{port}", "--home", str(sandbox_home.root),
                                   "--timeout", "0.3"])
    finally:
        await server.stop(None)
    lines = _lines(out)
    assert code == 1
    assert lines["describe"].startswith("PASS edu ")
    graduate_line = lines["valid_ids"]
    assert graduate_line.startswith("FAIL edu.degree ") and "expected a record, got DEADLINE_EXCEEDED" in graduate_line
    assert "FAIL after 4 calls abandoned at their deadline, GetRecord edu.degree " in lines["deadline"]
    assert "with the 0.3 s deadline: expected an answer, got DEADLINE_EXCEEDED" in lines["deadline"]
    assert "expected INVALID_ARGUMENT, got DEADLINE_EXCEEDED" in lines["malformed_ids"]
    assert lines["malformed_ids"].endswith(" (and 7 more)")
    # It has no BatchGetRecords (the generated servicer's UNIMPLEMENTED): optional, so that passes.
    assert lines["batch_read"] == "PASS UNIMPLEMENTED: optional; the hub reads this provider one GetRecord at a time"


# --- targets that cannot be tested: exit 2, a clear message, at once -----------------------------------------


async def _cannot_test(home: Home, port: int, *extra: str, junit: Path | None = None) -> str:
    argv = ["--provider", f"127.0.0.1:{port}", "--home", str(home.root), "--timeout", "0.5", *extra]
    code, out, err = await _run([*argv, "--junit", str(junit)] if junit else argv)
    assert code == 2, out + err
    assert "PASS" not in out and "FAIL" not in out
    assert err.startswith(f"linkage conformance: cannot test 127.0.0.1:{port}: ")
    return err.strip()


async def test_closed_port(sandbox_home: Home, tmp_path: Path) -> None:
    port = _closed_port()
    junit = tmp_path / "report.xml"
    err = await _cannot_test(sandbox_home, port, junit=junit)
    assert err.endswith(f"nothing listens on 127.0.0.1:{port} (connection refused)")
    case = ET.parse(junit).getroot().find("testcase")
    assert case is not None and case.get("name") == "connect"
    error = case.find("error")
    assert error is not None and error.get("type") == "connection_refused"


async def test_plain_tcp_listeners(sandbox_home: Home) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing, keeps the connection open until the client leaves
        writer.close()

    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    for handler, expected in (
        (silent, "accepted the connection but did not complete a TLS handshake within 0.5 s: it does not answer,"
                 " or not in TLS; linkage providers serve gRPC over mutual TLS"),
        (http, "does not speak TLS (handshake failed: "),
    ):
        listener = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            err = await _cannot_test(sandbox_home, port)
        finally:
            listener.close()
        assert expected in err
    assert "is it a plain HTTP server, or gRPC without TLS? linkage providers serve gRPC over mutual TLS" in err


async def test_tls_from_another_ca(sandbox_home: Home, tmp_path: Path) -> None:
    other = pki.create_ca(tmp_path / "ca")
    cert = pki.issue(other, "dopa", pki.Role.SERVER, tmp_path / "servers")
    server, port = await build_provider("dopa", sandbox_home.provider_db("dopa"), other.cert, cert)
    try:
        err = await _cannot_test(sandbox_home, port)
    finally:
        await server.stop(None)
    assert f"speaks TLS but its certificate is not trusted by {sandbox_home.ca.cert}: " in err


async def test_grpc_server_that_is_no_provider(sandbox_home: Home) -> None:
    health_servicer = health.aio.HealthServicer()
    server, port = await _serve(sandbox_home,
                                lambda s: health_pb2_grpc.add_HealthServicer_to_server(health_servicer, s))
    try:
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        err = await _cannot_test(sandbox_home, port)
    finally:
        await server.stop(None)
    assert err.endswith("is a gRPC server but not a linkage.v1.ProviderService: Describe is UNIMPLEMENTED")


async def test_client_certificate_refused(sandbox_home: Home, registries: dict[str, int], tmp_path: Path) -> None:
    stranger = pki.issue(pki.create_ca(tmp_path / "ca"), "stranger", pki.Role.CLIENT, tmp_path / "clients")
    code, _, err = await _run(["--provider", f"127.0.0.1:{registries['edu']}", "--ca", str(sandbox_home.ca.cert),
                               "--cert", str(stranger.cert), "--key", str(stranger.key)])
    assert code == 2
    assert "completes a TLS handshake but refuses gRPC calls" in err
    assert f"does it accept the client certificate {stranger.cert}?" in err


# --- bad usage -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "says"), [
    (["--provider", "localhost"], "--provider must be HOST:PORT (e.g. 127.0.0.1:7451 or [::1]:7451), got 'localhost'"),
    (["--provider", "127.0.0.1:70000"], "--provider must be HOST:PORT"),
    (["--provider", "127.0.0.1:1", "--home", "HOME", "--ca", "x.pem"],
     "give either --home DIR or --ca FILE --cert FILE --key FILE, not both"),
    (["--provider", "127.0.0.1:1", "--ca", "x.pem", "--cert", "y.pem"],
     "--ca, --cert and --key go together: missing --key"),
    (["--provider", "127.0.0.1:1", "--home", "HOME", "--id", "1101700230708"],
     "--id must be DOC_TYPE=ID (e.g. dopa.person=1101700230708), got '1101700230708'"),
    (["--provider", "127.0.0.1:1", "--home", "HOME", "--id", "dopa.person=1101700230709"],
     "--id dopa.person: เลขตรวจสอบ (หลักที่ 13) ควรเป็น 8 ไม่ใช่ 9"),
    (["--provider", "127.0.0.1:1", "--home", "HOME", "--timeout", "0"], "--timeout must be between 0 and 600"),
    (["--provider", "127.0.0.1:1", "--home", "HOME", "--junit", "/no/such/folder/r.xml"],
     "--junit: no folder /no/such/folder to write r.xml in"),
    (["--provider", "127.0.0.1:1", "--home", "/no/such/sandbox"],
     "no CA certificate at /no/such/sandbox/pki/ca.pem (is /no/such/sandbox a sandbox? make one with"),
])
async def test_bad_usage(sandbox_home: Home, argv: list[str], says: str) -> None:
    code, out, err = await _run([str(sandbox_home.root) if a == "HOME" else a for a in argv])
    assert code == 2 and out == ""
    assert err.startswith("linkage conformance: ") and says in err


def test_linkage_command(sandbox_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    """`linkage conformance` is wired into the CLI, and fast to say a closed port cannot be tested."""
    port = _closed_port()
    assert cli.main(["conformance", "--provider", f"127.0.0.1:{port}", "--home", str(sandbox_home.root)]) == 2
    captured = capsys.readouterr()
    assert f"nothing listens on 127.0.0.1:{port} (connection refused)" in captured.err
