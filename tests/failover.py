"""Failover of hub replicas as a user meets it: `linkage up --replicas 2`, an agency's load on both, kill -9.

The harness of scripts/failover.py (many kills, timed) and tests/storage/test_up_failover.py (one kill,
checked):

    sandbox_up        `linkage up --replicas 2 --database …` as a subprocess, every component on a free port
    Load              an agency calling both replicas, each call to one in turn; a call that fails is sent
                      once to the other; every call recorded (Call)
    kill_integrator   find the integrator by the application_name of the PostgreSQL connection that holds
                      the log's advisory lock (``linkage-log-PID``), kill it with SIGKILL, time the takeover
                      and wait until `linkage up` has started it again and it answers (Kill)
    holders, logged, supervised, until   the lock's holders, the log's entries, supervisor.json, polling
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from consumers.client import NO_RETRY, HubClient
from linkage.config import Home
from linkage.errors import LinkageError
from linkage.officercard import OpenCard
from tests.officers import card
from tests.test_sandbox import FREE_PORTS

__all__ = ["Call", "Kill", "Load", "holders", "kill_integrator", "logged", "sandbox_up", "served", "supervised",
           "until"]

MUNI = "phrae-municipality"


@dataclasses.dataclass
class Call:
    hub: str  # the replica asked
    started: float
    ended: float = 0.0
    printout_id: str = ""
    index: int = -1
    error: str = ""


class Load:
    """Agency calls spread over the replicas by workers until stopped; a failed call is sent once to the other."""

    def __init__(self, clients: dict[str, HubClient], subject: str, officer: OpenCard) -> None:
        self.clients, self.subject = clients, subject
        # The officer, signed in with their card at each replica (again when one comes back without the session).
        self.desks = {name: client.officer(officer) for name, client in clients.items()}
        self.calls: list[Call] = []
        self.lost: list[tuple[Call, Call]] = []  # calls that failed on both replicas
        self._stop = asyncio.Event()
        self._n = 0
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_home(cls, home: Path) -> Load:
        """Clients of every replica in home/endpoints.json, as the municipality, without the library's retries."""
        endpoints = json.loads((home / "endpoints.json").read_text(encoding="utf-8"))
        names = ["hub" if i == 0 else f"hub-{i + 1}" for i in range(len(endpoints["hubs"]))]
        clients = {name: HubClient.from_home(home, MUNI, addresses=address, retry=NO_RETRY)
                   for name, address in zip(names, endpoints["hubs"], strict=True)}
        personas = json.loads((home / "personas.json").read_text(encoding="utf-8"))
        subject = next(p["id"] for p in personas if "dopa.person" in p["doc_types"])
        return cls(clients, subject, card(Home(home), MUNI, endpoints["agencies"][MUNI]["officers"][0]))

    async def __aenter__(self) -> Load:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def start(self, workers: int) -> None:
        self._tasks = [asyncio.ensure_future(self._worker()) for _ in range(workers)]

    async def stop(self) -> None:
        """Let the calls in flight end, then close the clients (once)."""
        if self._stop.is_set():
            return
        self._stop.set()
        await asyncio.gather(*self._tasks)
        for client in self.clients.values():
            await client.close()

    def answered(self, hub: str, after: float) -> bool:
        return any(c.hub == hub and c.printout_id and c.started > after for c in self.calls)

    async def _call(self, hub: str, n: int) -> Call:
        call = Call(hub, time.monotonic())
        try:
            doc = await self.desks[hub].fetch_document("dopa.person", self.subject, purpose="ทดสอบ",
                                                       case_ref=f"FAILOVER-{n}", timeout=15)
            call.printout_id, call.index = doc.printout_id, doc.log_index
        except LinkageError as err:
            call.error = f"{err.status.name} {err.code}"
        call.ended = time.monotonic()
        self.calls.append(call)
        return call

    async def _worker(self) -> None:
        names = list(self.clients)
        while not self._stop.is_set():
            self._n += 1
            n = self._n
            first = await self._call(names[n % len(names)], n)
            if first.error:
                second = await self._call(names[(n + 1) % len(names)], n)
                if second.error:
                    self.lost.append((first, second))
                    await asyncio.sleep(0.05)


def holders(conn: psycopg.Connection[Any]) -> list[int]:
    """The OS pids of the hubs whose log connection holds the integrator's advisory lock (application_name
    linkage-log-PID): one, or none while a replica takes over. conn: any autocommit connection to the database."""
    rows = conn.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE l.locktype = 'advisory' AND l.granted"
                        " AND a.application_name LIKE 'linkage-log-%'").fetchall()
    return [int(str(name).removeprefix("linkage-log-")) for (name,) in rows]


def logged(url: str) -> dict[str, list[int]]:
    """printout_id -> the indexes of its entries, from the log's table (schema linkage_log); checks for gaps."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT printout_id, idx FROM linkage_log.entries WHERE kind = 'printout'").fetchall()
        assert conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) = COUNT(*) FROM linkage_log.entries").fetchone() == (
            True,), "the log has a gap"
    out: dict[str, list[int]] = {}
    for pid, idx in rows:
        out.setdefault(str(pid), []).append(int(idx))
    return out


def served(url: str) -> int:
    """FetchDocument calls a hub process answered OK, from its own metrics endpoint."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("linkage_requests_total{") and 'method="LinkageHub/FetchDocument"' in line
               and 'code="OK"' in line)


def supervised(home: Path) -> dict[str, Any]:
    """supervisor.json's components: pid, state, restarts, last exit of each."""
    components: dict[str, Any] = json.loads((home / "supervisor.json").read_text(encoding="utf-8"))["components"]
    return components


async def until(what: str, ok: Callable[[], bool], seconds: float, every: float = 0.01) -> float:
    """Poll ok until it holds; the seconds it took. Raises AssertionError after seconds, naming what was awaited."""
    start = time.monotonic()
    while not ok():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - start


@contextlib.asynccontextmanager
async def sandbox_up(home: Path, database: str, stderr: Path, citizens: int = 200,
                     ) -> AsyncIterator[subprocess.Popen[str]]:
    """`linkage up --replicas 2` on database, every component on a free port, its stderr in the file stderr;
    yielded once it supervises (supervisor.json is written), stopped with SIGTERM on the way out."""
    with stderr.open("w+", encoding="utf-8") as errors:
        up = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up", "--home", str(home), "--citizens",
                               str(citizens), "--replicas", "2", "--database", database], stdout=subprocess.PIPE,
                              stderr=errors, text=True, env={**os.environ, **FREE_PORTS})
        try:
            await until("linkage up supervises", lambda: (home / "supervisor.json").exists() or up.poll() is not None,
                        90, every=0.1)
            if up.poll() is not None:
                raise AssertionError(f"linkage up exited ({up.returncode}): {stderr.read_text(encoding='utf-8')}")
            yield up
        finally:
            up.send_signal(signal.SIGTERM)
            up.communicate(timeout=60)


@dataclasses.dataclass
class Kill:
    victim: str
    survivor: str
    pid: int  # the victim's
    at: float  # when it was killed (time.monotonic)
    lock_s: float  # until the survivor's connection held the lock
    answer_s: float  # until the survivor answered the first call asked after the kill
    slowest_s: float  # the slowest call to the survivor in flight at the kill
    back_s: float  # until `linkage up` had started the victim again and it listened
    failed: int  # calls to the survivor that failed
    lost: int  # calls that failed on both replicas


async def kill_integrator(home: Path, url: str, load: Load) -> Kill:
    """One round: kill -9 the integrator once both replicas answer; wait until the killed one serves again."""
    replicas = list(load.clients)
    start = time.monotonic()
    await until("both replicas answer", lambda: all(load.answered(r, start) for r in replicas), 60)
    with psycopg.connect(url, autocommit=True) as conn:  # one connection: a poll costs a query, not a login
        integrator = holders(conn)[0]
        pids = {name: entry["pid"] for name, entry in supervised(home).items() if name in replicas}
        victim = next((name for name, pid in pids.items() if pid == integrator), "")
        assert victim, f"the lock's holder (pid {integrator}) is none of the replicas {pids}: {holders(conn)}"
        survivor = next(name for name in replicas if name != victim)
        restarts = supervised(home)[victim]["restarts"]
        calls, lost = len(load.calls), len(load.lost)
        os.kill(integrator, signal.SIGKILL)
        killed = time.monotonic()
        lock = await until("the survivor takes the lock", lambda: holders(conn) == [pids[survivor]], 30,
                           every=0.002)
    await until("linkage up starts the killed replica again", lambda: supervised(home)[victim]["restarts"] > restarts
                and supervised(home)[victim]["state"] == "serving", 60)
    back = time.monotonic() - killed
    await until("the restarted replica answers", lambda: load.answered(victim, killed + back), 30)
    to_survivor = [c for c in load.calls[calls:] if c.hub == survivor]
    # The first call asked after the kill can only have been logged by the survivor as the new integrator.
    answer = min(c.ended for c in to_survivor if c.printout_id and c.started > killed) - killed
    spanning = [c.ended - c.started for c in load.calls if c.hub == survivor and c.started <= killed < c.ended]
    failed = sum(1 for c in to_survivor if c.error)
    return Kill(victim, survivor, integrator, killed, lock, answer, max(spanning, default=0.0), back, failed,
                len(load.lost) - lost)
