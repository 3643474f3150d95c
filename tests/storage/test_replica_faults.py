"""Faults on real servers: hub replicas in their own processes against a PostgreSQL of the test's own.

1. kill -9 the integrating replica in the middle of a load: every printout that was answered is in
   the tree exactly once, at the index it was given, and the survivor signs new checkpoints.
2. stop PostgreSQL during a load: the hub answers UNAVAILABLE (log_unavailable) meanwhile, never a
   printout without its entry, and serves again by itself once the server is back.

The PostgreSQL here is a cluster made with initdb in a temporary folder (it is stopped and started,
so it cannot be the machine's shared one). It needs PostgreSQL's server binaries (initdb, pg_ctl)
and, as root, the `postgres` user to run them; without them the tests are skipped, saying so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest

from consumers.client import OfficerSession
from linkage import pki
from linkage.config import Home, load_settings
from linkage.errors import from_rpc_error
from linkage.v1 import audit_pb2, audit_pb2_grpc, hub_pb2, hub_pb2_grpc
from providers.server import start_server
from tests.backends import skip_without_postgres
from tests.failover import holders
from tests.failover import logged as logged_entries
from tests.officers import first_officer, sign_in_over

pytestmark = pytest.mark.slow

MUNI = "phrae-municipality"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


@dataclasses.dataclass
class Cluster:
    """A PostgreSQL of the test's own, on a free port, trust auth."""

    data: Path
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl is not None
        subprocess.run([*self.run_as, pg_ctl, "-D", str(self.data), "-w", "-t", "30", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=on",
                  "-l", str(self.data / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    initdb = _pg_bin("initdb")
    run_as: list[str] = []
    if initdb is None or _pg_bin("pg_ctl") is None:
        skip_without_postgres("PostgreSQL's server binaries (initdb, pg_ctl) are not installed:"
                              " apt-get install postgresql")
    if os.geteuid() == 0:
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            skip_without_postgres("as root, PostgreSQL must run as another user: create the `postgres` user"
                                  " (apt's postgresql package does)")
        run_as = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's folder: that one is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="linkage-pg-"))
    if run_as:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    try:
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = Cluster(data, _free_port(), run_as)
        found.start()
        try:
            yield found
        finally:
            subprocess.run([*run_as, _pg_bin("pg_ctl") or "pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclasses.dataclass
class Hubs:
    home: Home
    url: str
    processes: list[subprocess.Popen[bytes]]
    addresses: list[str]

    def channel(self, i: int) -> grpc.aio.Channel:
        creds = pki.channel_credentials(self.home.ca.cert, self.home.client_cert(MUNI))
        return grpc.aio.secure_channel(self.addresses[i], creds)


def _start_hub(home: Home, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, "-m", "linkage.cli", "serve-hub", "--home", str(home.root), "--port", "0"],
                            stdout=subprocess.PIPE, env={**os.environ, **env})
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("LISTENING "), f"the hub did not start: {line!r}"
    return proc, line.split()[1]


@pytest.fixture
async def hubs(sandbox_home: Home, cluster: Cluster, request: pytest.FixtureRequest) -> AsyncIterator[Hubs]:
    """Registries in this process (SQLite), two hub processes whose log is on the cluster."""
    settings = load_settings(sandbox_home)
    providers = {}
    env = {"LINKAGE_DATABASE": cluster.url, "LINKAGE_HUB_HOST": "127.0.0.1"}
    for name in settings.providers:
        providers[name] = await start_server(name, sandbox_home.provider_db(name), sandbox_home.ca.cert,
                                             sandbox_home.server_cert(name))
        env[f"LINKAGE_PROVIDERS_{name}_PORT".upper()] = str(providers[name].port)
    count = getattr(request, "param", 2)
    started = [_start_hub(sandbox_home, env) for _ in range(count)]
    try:
        yield Hubs(sandbox_home, cluster.url, [p for p, _ in started], [a for _, a in started])
    finally:
        for proc, _ in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in started:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for server in providers.values():
            await server.stop(0)


@dataclasses.dataclass
class Answer:
    hub: int
    started: float
    ended: float
    printout_id: str = ""
    index: int = -1
    reason: str = ""


def _request(subject: str, n: int, session: OfficerSession) -> hub_pb2.FetchDocumentRequest:
    return hub_pb2.FetchDocumentRequest(doc_type="dopa.person", subject_id=subject, purpose="ทดสอบ",
                                        officer_session=session.secret, case_ref=f"FAULT-{n}")


async def _load(hubs: Hubs, subject: str, seconds: float, workers: int = 8) -> list[Answer]:
    """Calls spread over the hubs for a while; every answer and refusal, with when it was asked."""
    answers: list[Answer] = []
    channels = [hubs.channel(i) for i in range(len(hubs.addresses))]
    officer = first_officer(load_settings(hubs.home), MUNI)
    # The officer signs in with their card at each replica that is up (a session is the hub's that issued it).
    sessions = [await sign_in_over(channel, hubs.home, MUNI, officer) for channel in channels]
    counter = iter(range(10**9))
    end = time.monotonic() + seconds

    async def worker(w: int) -> None:
        while time.monotonic() < end:
            n = next(counter)
            i = n % len(channels)
            answer = Answer(i, time.monotonic(), 0.0)
            try:
                doc = await hub_pb2_grpc.LinkageHubStub(channels[i]).FetchDocument(
                    _request(subject, n, sessions[i]), timeout=15)
                answer.printout_id, answer.index = doc.printout_id, doc.log_index
            except grpc.aio.AioRpcError as err:
                parsed = from_rpc_error(err)
                answer.reason = parsed.code or err.code().name
                await asyncio.sleep(0.05)
            answer.ended = time.monotonic()
            answers.append(answer)

    try:
        await asyncio.gather(*(worker(w) for w in range(workers)))
    finally:
        for channel in channels:
            await channel.close()
    return answers


def _integrator(url: str) -> int:
    """The OS pid of the hub process whose connection holds the integrator's lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = holders(conn)
    assert len(found) == 1, found
    return found[0]


async def _checkpoint_size(hubs: Hubs, i: int) -> int:
    creds = pki.channel_credentials(hubs.home.ca.cert, hubs.home.client_cert("auditor"))
    async with grpc.aio.secure_channel(hubs.addresses[i], creds) as channel:
        signed = await audit_pb2_grpc.AuditLogStub(channel).GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                                          timeout=5)
    return int(signed.note.splitlines()[1])


async def test_kill_9_of_the_integrator_loses_nothing_and_another_takes_over(
        hubs: Hubs, personas: list[dict[str, Any]]) -> None:
    subject = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
    await _load(hubs, subject, 0.5, workers=2)  # both hubs up, one integrating
    victim = _integrator(hubs.url)
    index = next(i for i, p in enumerate(hubs.processes) if p.pid == victim)
    survivor = 1 - index
    load = asyncio.ensure_future(_load(hubs, subject, 5.0))
    await asyncio.sleep(1.5)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    answers = await load
    answered = [a for a in answers if a.printout_id]
    # Takeover within a campaign or two (0.5 s each): from 1.5 s after the kill the survivor answers.
    after = [a for a in answered if a.hub == survivor and a.started > killed_at + 1.5]
    assert after, ("the survivor answered nothing from 1.5 s after the kill:",
                   sorted({a.reason for a in answers if a.hub == survivor and a.started > killed_at}))
    logged = logged_entries(hubs.url)
    for a in answered:  # every printout that left a hub is in the tree exactly once, where it was told
        assert logged.get(a.printout_id) == [a.index], a
    assert _integrator(hubs.url) == hubs.processes[survivor].pid
    size = await _checkpoint_size(hubs, survivor)
    assert size == sum(len(v) for v in logged.values())  # the survivor signed the whole tree


@pytest.mark.parametrize("hubs", [1], indirect=True)
async def test_postgresql_stopped_during_a_load_means_unavailable_then_recovery(
        hubs: Hubs, cluster: Cluster, personas: list[dict[str, Any]]) -> None:
    subject = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
    load = asyncio.ensure_future(_load(hubs, subject, 7.0, workers=4))
    await asyncio.sleep(1.5)
    await asyncio.to_thread(cluster.stop, "fast")
    down_from = time.monotonic()
    await asyncio.sleep(2.0)
    down_to = time.monotonic()
    await asyncio.to_thread(cluster.start)
    answers = await load
    during = [a for a in answers if a.started > down_from and a.ended < down_to]
    assert during and all(a.reason == "log_unavailable" for a in during), {a.reason for a in during}
    assert any(a.printout_id and a.started > down_to + 1 for a in answers), "no printout after the restart"
    logged = logged_entries(hubs.url)
    for a in answers:
        if a.printout_id:
            assert logged.get(a.printout_id) == [a.index], a

