"""`linkage up`'s supervisor on real processes: a component that exits is started again; one that cannot
start is given up on, saying so."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from linkage.cli import supervisor
from linkage.cli.stack import start_stack, write_endpoints
from linkage.config import Home, load_settings
from tests.test_sandbox import linkage


async def _until(what: str, ok: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not (ok() if callable(ok) else ok):
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.05)


async def test_a_killed_component_comes_back_and_one_that_cannot_start_stops_the_sandbox(
        sandbox_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(supervisor, "FIRST_BACKOFF_S", 0.05)
    monkeypatch.setattr(supervisor, "GIVE_UP_AFTER", 2)
    home = Home(tmp_path / "home")
    shutil.copytree(sandbox_home.root, home.root)
    stack = await start_stack(load_settings(home), any_port=True)
    stop = asyncio.Event()
    watching = asyncio.ensure_future(supervisor.supervise(stack, stop))
    try:
        def state() -> dict[str, dict[str, object]]:
            return supervisor.read_state(home.supervisor)

        await _until("supervisor.json written", lambda: state())
        killed = stack.processes["dbd"].pid
        os.kill(killed, signal.SIGKILL)
        await _until("dbd restarted", lambda: state()["dbd"]["restarts"] == 1 and state()["dbd"]["state"] == "serving")
        assert stack.processes["dbd"].pid != killed and stack.processes["dbd"].returncode is None
        entry = state()["dbd"]
        assert entry["last_exit"]["status"] == "killed by SIGKILL"  # type: ignore[index]
        said = capsys.readouterr().err
        assert f"dbd (pid {killed}) exited: killed by SIGKILL" in said and "dbd serves again on" in said
        # Killed again at once: more than GIVE_UP_AFTER short runs in a row lengthen the back-off, never stop it.
        for restarts in (2, 3):
            os.kill(stack.processes["dbd"].pid, signal.SIGKILL)
            await _until(f"dbd restarted {restarts} times", lambda n=restarts: state()["dbd"]["restarts"] == n
                         and state()["dbd"]["state"] == "serving")
        said = capsys.readouterr().err
        assert "starting dbd again in 0.2 s" in said and "starting dbd again in 0.4 s" in said
        write_endpoints(stack)
        status = linkage("status", "--home", str(home.root))
        assert status.returncode == 0, status.stdout + status.stderr
        assert "restarts  3, last exit: killed by SIGKILL at" in status.stdout
        report = json.loads(linkage("status", "--home", str(home.root), "--json").stdout)
        assert {c["name"]: c["restarts"] for c in report["components"]} == {
            "hub": 0, "dopa": 0, "dbd": 3, "edu": 0, "promptpay": 0, "counter": 0, "tsa": 0}
        # The counter exits and its port is taken meanwhile: it cannot start, and after two tries in a row the
        # supervisor gives up, saying which component, how often, and why.
        port = int(stack.addresses["counter"].rsplit(":", 1)[1])
        with socket.socket() as taken:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stack.processes["counter"].send_signal(signal.SIGTERM)
            await stack.processes["counter"].wait()
            taken.bind(("127.0.0.1", port))
            taken.listen()
            gave_up = await asyncio.wait_for(watching, 60)
        assert gave_up is not None and "counter failed to start 2 times in a row" in gave_up
        assert "the port is taken" in gave_up
        assert state()["counter"]["state"] == "failed"
        for name in ("hub", "dopa", "dbd", "edu", "promptpay"):  # the others served all along
            assert stack.processes[name].returncode is None
    finally:
        stop.set()
        await watching
        await stack.stop()

