"""`linkage up --workers N`: N hub processes on one port (SO_REUSEPORT) sharing the log on PostgreSQL.

Two workers on one port: calls over separate connections reach both (each worker's own
linkage_requests_total counts them); every printout answered is in the log exactly once, at the index its
caller was given; kill -9 of one worker leaves the port serving, and `linkage up`'s supervisor starts it
again on the same port, which `linkage status` shows. Without PostgreSQL, more than one worker is refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
from pathlib import Path

import grpc
import pytest

from linkage import pki
from linkage.cli.sandbox import SandboxError, init
from linkage.cli.stack import Stack, start_stack, write_endpoints
from linkage.cli.status import check
from linkage.cli.supervisor import supervise
from linkage.config import Home, load_settings
from linkage.storage import Database
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests import failover
from tests.officers import sign_in_over

pytestmark = pytest.mark.slow
MUNI = "phrae-municipality"


async def _fetch(home: Home, address: str, subject: str, officer: str, n: int) -> tuple[str, int]:
    """One FetchDocument on a connection of its own (no subchannel shared with another channel of this
    process): the kernel gives each new connection to one of the processes on the port."""
    async with grpc.aio.secure_channel(address, pki.channel_credentials(home.ca.cert, home.client_cert(MUNI)),
                                       options=[("grpc.ssl_target_name_override", "hub"),
                                                ("grpc.use_local_subchannel_pool", 1)]) as channel:
        # Signed in on this very connection: the hub process that serves it issued the session.
        signed = await sign_in_over(channel, home, MUNI, officer)
        doc = await hub_pb2_grpc.LinkageHubStub(channel).FetchDocument(hub_pb2.FetchDocumentRequest(
            doc_type="dopa.person", subject_id=subject, purpose="ทดสอบ", officer_session=signed.secret,
            case_ref=f"W-{n}"), timeout=15)
    return doc.printout_id, doc.log_index


async def test_workers_need_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKAGE_DATABASE", raising=False)
    home = init(tmp_path / "sqlite", citizens=20)
    with pytest.raises(SandboxError, match="--workers needs --database postgresql://"):
        await start_stack(load_settings(home), workers=2)


async def test_two_workers_share_one_port_and_survive_a_kill(own_database: Database, tmp_path: Path) -> None:
    home = init(tmp_path / "pg", citizens=40, seed=5, database=own_database)
    settings = load_settings(home)
    stack = await start_stack(settings, workers=2, any_port=True)
    stop = asyncio.Event()
    supervising = asyncio.ensure_future(supervise(stack, stop))
    try:
        await _check(home, stack, own_database)
    finally:
        stop.set()
        await supervising
        await stack.stop()


async def _check(home: Home, stack: Stack, db: Database) -> None:
    write_endpoints(stack)
    endpoints = json.loads(home.endpoints.read_text(encoding="utf-8"))
    port = stack.addresses["hub"]
    assert stack.addresses["hub/2"] == port and endpoints["hubs"] == [port] and endpoints["hub"] == port
    assert stack.processes["hub"].pid != stack.processes["hub/2"].pid
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    subject = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
    officer = endpoints["agencies"][MUNI]["officers"][0]
    answers: list[tuple[str, int]] = []
    # Both processes serve: new connections until each has answered (all on one would be 2 in 2^64).
    while len(answers) < 64 and not all(failover.served(stack.metrics[n]) for n in ("hub", "hub/2")):
        answers += await asyncio.gather(*(_fetch(home, port, subject, officer, len(answers) + i) for i in range(4)))
    counts = {n: failover.served(stack.metrics[n]) for n in ("hub", "hub/2")}
    assert all(counts.values()) and sum(counts.values()) == len(answers), counts
    # kill -9 of one worker: the port goes on serving, on the other.
    victim = stack.processes["hub/2"]
    os.kill(victim.pid, signal.SIGKILL)
    await victim.wait()
    answers += await asyncio.gather(*(_fetch(home, port, subject, officer, 100 + i) for i in range(8)))
    # Every printout answered is in the log once, where its caller was told.
    logged = failover.logged(db.url)
    assert len(answers) == len({p for p, _ in answers}) and all(logged.get(p) == [i] for p, i in answers)
    # The supervisor starts the worker again, on the same port; `linkage status` lists it, healthy.
    await failover.until("hub/2 restarted", lambda: failover.supervised(home.root)["hub/2"]["restarts"] == 1
                         and failover.supervised(home.root)["hub/2"]["state"] == "serving", 30, every=0.1)
    assert stack.addresses["hub/2"] == port
    again: list[tuple[str, int]] = []
    while len(again) < 64 and not failover.served(stack.metrics["hub/2"]):  # the restarted worker serves on the port
        again += await asyncio.gather(*(_fetch(home, port, subject, officer, 200 + len(again) + i) for i in range(4)))
    assert failover.served(stack.metrics["hub/2"]), "the restarted worker got no call"
    write_endpoints(stack)  # its metrics port is the one it had
    report = await check(home)
    workers = {c.name: c for c in report.components if c.kind == "worker"}
    assert workers.keys() == {"hub/2"} and workers["hub/2"].healthy and workers["hub/2"].restarts == 1, report.render()
    assert not report.down, report.render()
    assert sum(1 for c in report.components if c.integrating) == 1, report.render()
    assert dataclasses.asdict(report.components[0])["address"] == port
