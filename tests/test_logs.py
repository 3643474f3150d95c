"""The one log format (linkage/logs.py): JSON lines, one per request a server answers, failures included,
never personal data; written by real servers, in this process and as `linkage serve-*` processes."""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from linkage import pki
from linkage.cli.sandbox import init
from linkage.config import Home, load_settings
from linkage.logs import JsonLines, RequestLog, configure_logging
from linkage.metrics import REASON, add_http_metrics
from linkage.pki import HUB_CLIENT
from linkage.v1 import hub_pb2, hub_pb2_grpc, provider_pb2, provider_pb2_grpc
from providers.server import start_server
from tests.conftest import RunningStack
from tests.officers import first_officer, session, sign_in_over

ROOT = Path(__file__).resolve().parent.parent
MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
GRPC_FIELDS = ("method", "agency", "doc_type", "code", "reason", "duration_ms")


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("test.logs").makeRecord("test.logs", logging.INFO, __file__, 1, msg, args, None,
                                                       extra=extra)
    return record


def _lines(text: str) -> list[dict[str, Any]]:
    """Every line of text as a JSON object (fails on a line that is not one)."""
    found = []
    for line in text.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        found.append(value)
    return found


def test_a_record_is_one_json_object_on_one_line() -> None:
    record = _record("fetched %s\nin two lines", "ทะเบียนบ้าน", agency=MUNI, duration_ms=1.5, when=object())
    line = JsonLines({"server": "hub"}).format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:5] == ["time", "level", "logger", "server", "message"]
    assert TIME.fullmatch(data["time"]) and data["level"] == "INFO" and data["logger"] == "test.logs"
    assert data["server"] == "hub" and data["message"] == "fetched ทะเบียนบ้าน\nin two lines"
    assert data["agency"] == MUNI and data["duration_ms"] == 1.5 and data["when"].startswith("<object")
    assert "ทะเบียนบ้าน" in line  # UTF-8, not \\u escapes
    assert "exc" not in data


def test_a_failure_carries_its_traceback() -> None:
    try:
        raise RuntimeError("the store is gone")
    except RuntimeError:
        record = logging.getLogger("test.logs").makeRecord("test.logs", logging.ERROR, __file__, 1, "failed", (),
                                                           sys.exc_info())
    data = json.loads(JsonLines().format(record))
    assert data["level"] == "ERROR" and "server" not in data
    assert data["exc"].startswith("Traceback") and "RuntimeError: the store is gone" in data["exc"]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test that configures it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)


@pytest.mark.usefixtures("root_logging")
def test_configure_logging_replaces_its_own_handler_only() -> None:
    root = logging.getLogger()
    others = [h for h in root.handlers if not isinstance(h.formatter, JsonLines)]  # an in-process main() adds one
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", server="dopa", stream=first)
    configure_logging("warning", server="dopa", stream=second)
    assert [h for h in root.handlers if h not in others] and all(h in root.handlers for h in others)
    assert len(root.handlers) == len(others) + 1 and root.level == logging.WARNING
    logging.getLogger("test.logs").warning("once", extra={"code": "OK"})
    logging.getLogger("test.logs").info("below the level")
    assert first.getvalue() == ""
    [line] = _lines(second.getvalue())
    assert line["server"] == "dopa" and line["message"] == "once" and line["code"] == "OK"
    with pytest.raises(ValueError, match="loud"):
        configure_logging("loud")


# What configures logging; only linkage/cli (the command line's entry points) may.
_CONFIGURES = frozenset({"basicConfig", "dictConfig", "fileConfig", "captureWarnings", "configure_logging"})


def _configures(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        root_logger = name == "getLogger" and not node.args and not node.keywords
        if name in _CONFIGURES or root_logger:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}()")
        elif isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == "logging.root":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: logging.root.{name}()")
    return found


def test_no_library_module_configures_logging() -> None:
    sources = [p for top in ("linkage", "providers", "consumers") for p in sorted((ROOT / top).rglob("*.py"))
               if p.relative_to(ROOT).parts[:2] not in {("linkage", "cli"), ("linkage", "v1")}
               and p.relative_to(ROOT) != Path("linkage/logs.py")]
    assert len(sources) > 40
    assert [line for p in sources for line in _configures(p)] == []


def _subject(personas: list[dict[str, Any]], doc_type: str) -> str:
    return next(str(p["id"]) for p in personas if p["kind"] == "citizen" and doc_type in p["doc_types"])


def _fetch(settings: Any, agency: str, doc_type: str, subject_id: str, session: str) -> hub_pb2.FetchDocumentRequest:
    """A request under the officer's session (its secret)."""
    return hub_pb2.FetchDocumentRequest(doc_type=doc_type, subject_id=subject_id, purpose="ขึ้นทะเบียนผู้สูงอายุ",
                                        officer_id=sorted(settings.agencies[agency].officers)[0],
                                        case_ref="PHR-2569-0042", officer_session=session)


def _personal(settings: Any, *ids: str) -> list[str]:
    """What must never be in a log: the subject IDs, the officers' IDs, purpose and case."""
    officers = [o for a in (MUNI, HOSPITAL) for o in settings.agencies[a].officers]
    return [*ids, *officers, "ขึ้นทะเบียนผู้สูงอายุ", "PHR-2569-0042"]


async def test_the_hub_writes_one_line_per_call_failures_included(
        stack: RunningStack, personas: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    citizen = _subject(personas, "dopa.house")
    settings = stack.settings
    muni, hospital = await session(stack, MUNI), await session(stack, HOSPITAL)  # signed in before the lines below
    with caplog.at_level(logging.INFO, logger="linkage.hub.requests"):
        async with stack.channel(MUNI) as channel:
            hub = hub_pb2_grpc.LinkageHubStub(channel)
            await hub.FetchDocument(_fetch(settings, MUNI, "dopa.person", citizen, muni.secret))
            with pytest.raises(grpc.aio.AioRpcError):
                await hub.FetchDocument(_fetch(settings, MUNI, "dopa.person", citizen[:-1] + "x", muni.secret))
            batch = _fetch(settings, MUNI, "", citizen, muni.secret)
            await hub.FetchDocuments(hub_pb2.FetchDocumentsRequest(
                doc_types=["dopa.person", "no.such"], subject_id=citizen, purpose=batch.purpose,
                officer_id=batch.officer_id, case_ref=batch.case_ref, officer_session=muni.secret))
        async with stack.channel(HOSPITAL) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(
                    _fetch(settings, HOSPITAL, "dopa.house", citizen, hospital.secret))
        # A refused call's status can reach the client before the server's interceptor writes its line.
        for _ in range(100):
            if sum(r.name == "linkage.hub.requests" for r in caplog.records) >= 4:
                break
            await asyncio.sleep(0.05)
    text = "\n".join(JsonLines().format(r) for r in caplog.records if r.name == "linkage.hub.requests")
    lines = _lines(text)
    assert [tuple(x[f] for f in GRPC_FIELDS[:5]) for x in lines] == [
        ("LinkageHub/FetchDocument", MUNI, "dopa.person", "OK", ""),
        ("LinkageHub/FetchDocument", MUNI, "dopa.person", "INVALID_ARGUMENT", "id_not_digits"),
        ("LinkageHub/FetchDocuments", MUNI, "", "OK", ""),
        ("LinkageHub/FetchDocument", HOSPITAL, "dopa.house", "PERMISSION_DENIED", "no_right"),
    ]
    assert lines[2]["results"] == [{"doc_type": "dopa.person", "code": "OK", "reason": ""},
                                   {"doc_type": "other", "code": "INVALID_ARGUMENT", "reason": "unknown_doc_type"}]
    assert all(x["level"] == "INFO" and x["duration_ms"] > 0 for x in lines)
    assert not [s for s in _personal(settings, citizen) if s in text]


def _without_log_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LINKAGE_LOG_LEVEL"}


def _serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`linkage ARGS --port 0` started; its address once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "linkage.cli", *args, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise AssertionError(f"{args[0]} did not start: {proc.communicate()[1]}")
    return proc, line.split()[1]


def _stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, then what the process wrote to stderr."""
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    return stderr


@pytest.fixture(scope="module")
def own_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A sandbox of this module's own: the hub process writes its exchange log."""
    return init(tmp_path_factory.mktemp("logs"), citizens=200, seed=3)


async def test_serve_provider_writes_json_lines_only(own_home: Home) -> None:
    personas = json.loads(own_home.personas.read_text(encoding="utf-8"))
    citizen = _subject(personas, "dopa.person")
    proc, address = _serve(["serve-provider", "dopa", "--home", str(own_home.root), "--metrics-port", "0"],
                           _without_log_settings())
    try:
        creds = pki.channel_credentials(own_home.ca.cert, own_home.client_cert(HUB_CLIENT))
        async with grpc.aio.secure_channel(address, creds) as channel:
            stub = provider_pb2_grpc.ProviderServiceStub(channel)
            await stub.GetRecord(provider_pb2.GetRecordRequest(doc_type="dopa.person", subject_id=citizen))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetRecord(provider_pb2.GetRecordRequest(doc_type="dopa.nothing", subject_id=citizen))
        # No client certificate: refused in the TLS handshake, which grpc's C core would tell stderr about.
        async with grpc.aio.secure_channel(address, pki.channel_credentials(own_home.ca.cert, None)) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await provider_pb2_grpc.ProviderServiceStub(channel).GetRecord(
                    provider_pb2.GetRecordRequest(doc_type="dopa.person", subject_id=citizen), timeout=5)
    finally:
        stderr = _stop(proc)
    lines = _lines(stderr)
    assert all(TIME.fullmatch(x["time"]) and x["server"] == "dopa" for x in lines)
    calls = [x for x in lines if x["logger"] == "providers.server" and "method" in x]
    assert [(x["method"], x["agency"], x["doc_type"], x["code"], x["reason"]) for x in calls] == [
        ("ProviderService/GetRecord", HUB_CLIENT, "dopa.person", "OK", ""),
        ("ProviderService/GetRecord", HUB_CLIENT, "other", "INVALID_ARGUMENT", "unknown_doc_type"),
    ]
    assert all(x["provider"] == "dopa" and x["duration_ms"] > 0 for x in calls)
    assert citizen not in stderr


async def test_serve_hub_writes_json_lines_only(own_home: Home) -> None:
    settings = load_settings(own_home)
    personas = json.loads(own_home.personas.read_text(encoding="utf-8"))
    citizen = _subject(personas, "dopa.house")
    env = _without_log_settings()
    registries = []
    try:
        for name in settings.providers:
            running = await start_server(name, own_home.provider_db(name), own_home.ca.cert,
                                         own_home.server_cert(name))
            registries.append(running)
            env[f"LINKAGE_PROVIDERS_{name.upper()}_PORT"] = str(running.port)
        proc, address = _serve(["serve-hub", "--home", str(own_home.root), "--metrics-port", "0"], env)
        try:
            for agency, doc_type in ((MUNI, "dopa.house"), (HOSPITAL, "dopa.house")):
                creds = pki.channel_credentials(own_home.ca.cert, own_home.client_cert(agency))
                async with grpc.aio.secure_channel(address, creds) as channel:
                    signed = await sign_in_over(channel, own_home, agency, first_officer(settings, agency))
                    call = hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(
                        _fetch(settings, agency, doc_type, citizen, signed.secret), timeout=10)
                    if agency == MUNI:
                        await call
                    else:
                        with pytest.raises(grpc.aio.AioRpcError):
                            await call
        finally:
            stderr = _stop(proc)
    finally:
        for running in registries:
            await running.stop(0)
    lines = _lines(stderr)
    assert all(TIME.fullmatch(x["time"]) and x["server"] == "hub" for x in lines)
    calls = [x for x in lines if x["logger"] == "linkage.hub.requests"]
    # Each officer's sign-in is a line of its own (two calls), without the officer's ID, as every line is.
    assert [x["method"] for x in calls].count("LinkageHub/FinishOfficerSignIn") == 2
    calls = [x for x in calls if x["method"] == "LinkageHub/FetchDocument"]
    assert [tuple(x[f] for f in GRPC_FIELDS[:5]) for x in calls] == [
        ("LinkageHub/FetchDocument", MUNI, "dopa.house", "OK", ""),
        ("LinkageHub/FetchDocument", HOSPITAL, "dopa.house", "PERMISSION_DENIED", "no_right"),
    ]
    assert all(x["level"] == "INFO" and x["duration_ms"] > 0 for x in calls)
    assert not [s for s in _personal(settings, citizen) if s in stderr]


async def test_http_requests_are_written_with_route_and_status(caplog: pytest.LogCaptureFixture) -> None:
    async def case(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def broken(request: web.Request) -> web.Response:
        request[REASON] = "hub_unavailable"
        return web.Response(status=502, text="the hub is away")

    app = web.Application()
    add_http_metrics(app, RequestLog(logging.getLogger("test.http"), {"server": "counter"}))
    app.router.add_get("/cases/{case_id}", case, name="case")
    app.router.add_get("/broken", broken, name="broken")
    with caplog.at_level(logging.INFO, logger="test.http"):
        async with TestClient(TestServer(app)) as client:
            for path in ("/cases/1234567890121", "/broken", "/nowhere"):
                await (await client.get(path)).read()
    lines = _lines("\n".join(JsonLines().format(r) for r in caplog.records if r.name == "test.http"))
    assert [(x["method"], x["route"], x["status"], x["reason"], x["level"]) for x in lines] == [
        ("GET", "case", 200, "", "INFO"), ("GET", "broken", 502, "hub_unavailable", "WARNING"),
        ("GET", "unmatched", 404, "", "INFO")]
    assert all(x["server"] == "counter" and x["duration_ms"] > 0 for x in lines)
    assert not [r for r in caplog.records if r.name == "test.http" and "1234567890121" in JsonLines().format(r)]


def test_a_server_that_cannot_start_says_so_in_a_json_line(own_home: Home) -> None:
    done = subprocess.run([sys.executable, "-m", "linkage.cli", "serve-provider", "nosuch", "--home",
                           str(own_home.root)], capture_output=True, text=True, timeout=60, env=_without_log_settings())
    assert done.returncode == 2 and done.stdout == ""
    [line] = _lines(done.stderr)
    assert line["level"] == "ERROR" and line["server"] == "nosuch" and "no provider named 'nosuch'" in line["message"]
