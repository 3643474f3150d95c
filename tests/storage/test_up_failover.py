"""kill -9 the replica that integrates the log, under load, in the sandbox that `linkage up --replicas 2` runs.

One kill of scripts/failover.py (its harness: tests.failover) with the checks of the design. A client agency calls
both replicas (each call to one of them in turn; a call that fails is sent once more to the other). The test
kills the integrator, found as a user would find it (the application_name of the connection that holds the
log's advisory lock), and shows that:

1. the survivor answers throughout: takes over the lock, fails no call, is never silent for long;
2. `linkage up` reports the exit and starts the killed replica again, which serves (`linkage status` says
   so, with the restart, and names the replica that integrates now);
3. every printout that was answered is in the log exactly once, at the index it was given;
4. the checkpoint after is consistent with the one before: the auditor (`linkage audit watch`) proves it
   with the hub's AuditLog API, through each replica.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from linkage.storage import Database
from tests import failover
from tests.test_sandbox import linkage

pytestmark = pytest.mark.slow


async def test_kill_9_of_the_integrating_replica_under_load_started_by_up(own_database: Database,
                                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with failover.sandbox_up(home, own_database.url, tmp_path / "up.stderr", citizens=60) as up, \
            failover.Load.from_home(home) as load:
        replicas = dict(zip(("hub", "hub-2"), json.loads((home / "endpoints.json").read_text())["hubs"], strict=True))
        load.start(workers=4)
        start = time.monotonic()
        await failover.until("both replicas answer", lambda: all(load.answered(r, start) for r in replicas), 30)
        audit_state = tmp_path / "auditor.json"
        before = await asyncio.to_thread(linkage, "audit", "watch", "--once", "--home", str(home), "--state",
                                         str(audit_state))
        assert before.returncode == 0 and "first checkpoint seen" in before.stdout, before.stdout + before.stderr
        size_before = int(before.stdout.split(" size ", 1)[1].split()[0])
        await asyncio.sleep(0.5)
        kill = await failover.kill_integrator(home, own_database.url, load)  # and wait until it serves again
        victim, survivor = kill.victim, kill.survivor
        status = await asyncio.to_thread(linkage, "status", "--home", str(home), "--json")
        await asyncio.sleep(0.5)
        await load.stop()
        print(f"\nkill -9 of {victim} (pid {kill.pid}): {survivor} held the lock after {kill.lock_s:.3f} s;"
              f" {victim} served again after {kill.back_s:.1f} s; {len(load.calls)} calls, "
              f"{sum(1 for c in load.calls if c.error)} failed, {len(load.lost)} lost on both replicas")

        # 1. The survivor answered throughout: no call to it failed, never silent for more than 3 s.
        to_survivor = [c for c in load.calls if c.hub == survivor]
        assert [c.error for c in to_survivor if c.error] == []
        answered = sorted(c.ended for c in to_survivor if c.printout_id and c.ended > kill.at)
        gaps = [b - a for a, b in zip([kill.at, *answered], answered, strict=False)]
        assert answered and max(gaps) < 3.0, f"the survivor was silent for {max(gaps):.2f} s after the kill"
        # Every call lost on both replicas was in flight on the killed one (the survivor failed none, above).
        assert len(load.lost) <= 4, load.lost
        # 2. `linkage up` said which replica exited and how, and the restarted one serves.
        said = (tmp_path / "up.stderr").read_text(encoding="utf-8")
        assert f"{victim} (pid {kill.pid}) exited: killed by SIGKILL" in said and f"{victim} serves again" in said
        assert up.poll() is None
        report = json.loads(status.stdout)
        assert report["healthy"] is True and report["integrating"] == [survivor], status.stdout
        hubs = {c["name"]: c for c in report["components"] if c["kind"] == "hub"}
        assert hubs.keys() == replicas.keys() and hubs[victim]["restarts"] == 1
        assert "killed by SIGKILL" in hubs[victim]["last_exit"]
        # 3. Every answered printout is in the log exactly once, where its client was told.
        logged = failover.logged(own_database.url)
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
    assert up.returncode == 0, (tmp_path / "up.stderr").read_text(encoding="utf-8")
