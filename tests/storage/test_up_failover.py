"""kill -9 the replica that integrates the log, under load, in the sandbox that `linkage up --replicas 2` runs.

A client agency calls both replicas (each call to one of them in turn; a call that fails is sent once more
to the other). The test kills the integrator, found as a user would find it (the application_name of the
connection that holds the log's advisory lock), and shows that:

1. the survivor answers throughout: takes over the lock, fails no call, is never silent for long;
2. `linkage up` reports the exit and starts the killed replica again, which serves (`linkage status` says
   so, with the restart, and names the replica that integrates now);
3. every printout that was answered is in the log exactly once, at the index it was given;
4. the checkpoint after is consistent with the one before: the auditor (`linkage audit watch`) proves it
   with the hub's AuditLog API, through each replica.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from consumers.client import NO_RETRY, HubClient
from linkage.errors import LinkageError
from linkage.storage import Database
from tests.storage.test_replica_faults import _logged
from tests.test_sandbox import FREE_PORTS, linkage

pytestmark = pytest.mark.slow

MUNI = "phrae-municipality"


@dataclasses.dataclass
class Call:
    hub: str  # the replica asked
    started: float
    ended: float = 0.0
    printout_id: str = ""
    index: int = -1
    error: str = ""


def _holders(url: str) -> list[int]:
    """The OS pids of the hubs whose log connection holds the integrator's advisory lock (application_name
    linkage-log-PID): one, or none while a replica takes over."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                            " WHERE l.locktype = 'advisory' AND l.granted"
                            " AND a.application_name LIKE 'linkage-log-%'").fetchall()
    return [int(str(name).removeprefix("linkage-log-")) for (name,) in rows]


async def _until(what: str, ok: Callable[[], bool], seconds: float) -> float:
    """Poll ok every 10 ms until it holds; the time it took. Fails after seconds, saying what was awaited."""
    start = time.monotonic()
    while not ok():
        assert time.monotonic() - start < seconds, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class Load:
    """Agency calls spread over the replicas by workers, until stopped; every call recorded."""

    def __init__(self, clients: dict[str, HubClient], subject: str, officer: str) -> None:
        self.clients, self.subject, self.officer = clients, subject, officer
        self.calls: list[Call] = []
        self.lost: list[tuple[Call, Call]] = []  # calls that failed on both replicas
        self._stop = asyncio.Event()
        self._n = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, workers: int) -> None:
        self._tasks = [asyncio.ensure_future(self._worker()) for _ in range(workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _call(self, hub: str, n: int) -> Call:
        call = Call(hub, time.monotonic())
        try:
            doc = await self.clients[hub].fetch_document("dopa.person", self.subject, purpose="ทดสอบ",
                                                         officer_id=self.officer, case_ref=f"FAILOVER-{n}",
                                                         timeout=15)
            call.printout_id, call.index = doc.printout_id, doc.log_index
        except LinkageError as err:
            call.error = f"{err.code.name} {err.reason}"
        call.ended = time.monotonic()
        self.calls.append(call)
        return call

    async def _worker(self) -> None:
        names = list(self.clients)
        while not self._stop.is_set():
            self._n += 1
            n = self._n
            first = await self._call(names[n % len(names)], n)
            if first.error:  # once more, to the other replica
                second = await self._call(names[(n + 1) % len(names)], n)
                if second.error:
                    self.lost.append((first, second))
                    await asyncio.sleep(0.05)


async def test_kill_9_of_the_integrating_replica_under_load_started_by_up(own_database: Database,
                                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    errors = (tmp_path / "up.stderr").open("w+", encoding="utf-8")
    up = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up", "--home", str(home), "--citizens", "60",
                           "--replicas", "2", "--database", own_database.url], stdout=subprocess.PIPE,
                          stderr=errors, text=True, env={**os.environ, **FREE_PORTS})
    load: Load | None = None
    try:
        await _until("linkage up writes endpoints.json", lambda: (home / "endpoints.json").exists()
                     or up.poll() is not None, 90)
        assert up.poll() is None, f"linkage up exited: {(tmp_path / 'up.stderr').read_text()}"
        endpoints = json.loads((home / "endpoints.json").read_text(encoding="utf-8"))
        replicas = dict(zip(("hub", "hub-2"), endpoints["hubs"], strict=True))
        personas = json.loads((home / "personas.json").read_text(encoding="utf-8"))
        subject = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
        officer = endpoints["agencies"][MUNI]["officers"][0]
        # The test's client sends again itself (to the other replica), and counts; the library's retries are off.
        clients = {name: HubClient.from_home(home, MUNI, addresses=address, retry=NO_RETRY)
                   for name, address in replicas.items()}
        load = Load(clients, subject, officer)
        load.start(workers=4)

        def pids() -> dict[str, Any]:
            state = json.loads((home / "supervisor.json").read_text(encoding="utf-8"))["components"]
            return {name: state[name] for name in replicas}

        await _until("both replicas answer", lambda: {c.hub for c in load.calls if c.printout_id} == set(replicas),
                     30)
        await _until("one replica integrates", lambda: len(_holders(own_database.url)) == 1, 10)
        integrator = _holders(own_database.url)[0]
        victim = next(name for name, entry in pids().items() if entry["pid"] == integrator)
        survivor = next(name for name in replicas if name != victim)
        audit_state = tmp_path / "auditor.json"
        before = await asyncio.to_thread(linkage, "audit", "watch", "--once", "--home", str(home), "--hub",
                                         replicas[survivor], "--state", str(audit_state))
        assert before.returncode == 0 and "first checkpoint seen" in before.stdout, before.stdout + before.stderr
        size_before = int(before.stdout.split(" size ", 1)[1].split()[0])
        await asyncio.sleep(0.5)

        os.kill(integrator, signal.SIGKILL)
        killed_at = time.monotonic()
        survivor_pid = pids()[survivor]["pid"]
        takeover = await _until("the survivor takes the lock", lambda: _holders(own_database.url) == [survivor_pid],
                                10)
        await _until("linkage up starts the killed replica again", lambda: pids()[victim]["restarts"] == 1
                     and pids()[victim]["state"] == "serving", 60)
        back_at = time.monotonic()
        back = back_at - killed_at
        await _until("the restarted replica answers", lambda: any(
            c.hub == victim and c.printout_id and c.started > back_at for c in load.calls), 30)
        status = await asyncio.to_thread(linkage, "status", "--home", str(home), "--json")
        await asyncio.sleep(0.5)
        await load.stop()
        print(f"\nkill -9 of {victim} (pid {integrator}): {survivor} held the lock after {takeover:.3f} s;"
              f" {victim} served again after {back:.1f} s; {len(load.calls)} calls, "
              f"{sum(1 for c in load.calls if c.error)} failed, {len(load.lost)} lost on both replicas")

        # 1. The survivor answered throughout: no call to it failed, never silent for more than 3 s.
        to_survivor = [c for c in load.calls if c.hub == survivor]
        assert [c.error for c in to_survivor if c.error] == []
        answered = sorted(c.ended for c in to_survivor if c.printout_id and c.ended > killed_at)
        gaps = [b - a for a, b in zip([killed_at, *answered], answered, strict=False)]
        assert answered and max(gaps) < 3.0, f"the survivor was silent for {max(gaps):.2f} s after the kill"
        # Every call lost on both replicas was in flight on the killed one (the survivor failed none, above).
        assert len(load.lost) <= 4, load.lost
        # 2. `linkage up` said which replica exited and how, and the restarted one serves.
        said = (tmp_path / "up.stderr").read_text(encoding="utf-8")
        assert f"{victim} (pid {integrator}) exited: killed by SIGKILL" in said and f"{victim} serves again" in said
        assert up.poll() is None
        report = json.loads(status.stdout)
        assert report["healthy"] is True and report["integrating"] == [survivor], status.stdout
        hubs = {c["name"]: c for c in report["components"] if c["kind"] == "hub"}
        assert hubs.keys() == replicas.keys() and hubs[victim]["restarts"] == 1
        assert "killed by SIGKILL" in hubs[victim]["last_exit"]
        # 3. Every answered printout is in the log exactly once, where its client was told.
        logged = _logged(own_database.url)
        for call in load.calls:
            if call.printout_id:
                assert logged.get(call.printout_id) == [call.index], call
        # 4. The auditor proves the checkpoint after consistent with the one before, through either replica.
        seen = size_before
        for name in (victim, survivor):
            after = await asyncio.to_thread(linkage, "audit", "watch", "--once", "--home", str(home), "--hub",
                                            replicas[name], "--state", str(audit_state))
            assert after.returncode == 0 and f"consistent with size {seen}" in after.stdout, after.stdout + after.stderr
            seen = int(after.stdout.split(" size ", 1)[1].split()[0])
        assert seen == sum(len(v) for v in logged.values())  # the newest checkpoint covers every entry
    finally:
        if load is not None:
            await load.stop()
            for client in load.clients.values():
                await client.close()
        up.send_signal(signal.SIGTERM)
        up.communicate(timeout=60)
        errors.close()
    assert up.returncode == 0, (tmp_path / "up.stderr").read_text(encoding="utf-8")
