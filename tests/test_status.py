"""`linkage status` against a sandbox that `linkage up` runs: real processes, real ports, real mTLS."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from linkage.cli.stack import start_stack, write_endpoints
from linkage.config import Home, load_settings
from tests.test_sandbox import FREE_PORTS, _wait_for, linkage

REGISTRIES = ("dopa", "dbd", "edu", "promptpay")


def _child(parent: int, *words: str) -> int:
    """The pid of parent's child process whose command line holds words in a row."""
    wanted = "\0".join(words)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and wanted in cmdline:
            return int(entry.name)
    raise AssertionError(f"no child of {parent} runs {' '.join(words)}")


def test_status_names_every_component_and_a_hung_registry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    up = subprocess.Popen([sys.executable, "-m", "linkage.cli", "up", "--home", str(home), "--citizens", "200"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **FREE_PORTS})
    stopped = 0
    try:
        _wait_for(home / "endpoints.json", up)
        endpoints = json.loads((home / "endpoints.json").read_text(encoding="utf-8"))
        # `linkage up` writes where every component serves its metrics, and each one answers.
        assert set(endpoints["metrics"]) == {"hub", "counter", *REGISTRIES}
        for url in endpoints["metrics"].values():
            with urllib.request.urlopen(url, timeout=10) as page:
                assert page.status == 200 and b"linkage_" in page.read()
        healthy = linkage("status", "--home", str(home))
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        for name in ("hub", "counter", "tsa", *REGISTRIES):
            assert f"ok   {name}" in healthy.stdout
        assert "checkpoint: size 0, root e3b0c44298fc1c149afbf4c8996fb924" in healthy.stdout  # the empty tree
        assert "all 7 components healthy" in healthy.stdout
        report = json.loads(linkage("status", "--home", str(home), "--json").stdout)
        assert report["healthy"] is True and report["down"] == []
        assert {c["name"]: c["breaker"] for c in report["components"] if c["kind"] == "registry"} == dict.fromkeys(
            REGISTRIES, "closed")
        assert report["checkpoint"]["age_s"] >= 0
        # A registry that stops answering (SIGSTOP: it does not exit, so `linkage up` does not start it again).
        stopped = _child(up.pid, "serve-provider", "dopa")
        os.kill(stopped, signal.SIGSTOP)
        hung = linkage("status", "--home", str(home), "--timeout", "1")
        assert hung.returncode == 1, hung.stdout + hung.stderr
        assert "down: dopa" in hung.stderr and "DOWN dopa" in hung.stdout and "DEADLINE_EXCEEDED" in hung.stdout
        for name in ("hub", "counter", "dbd", "edu", "promptpay"):
            assert f"ok   {name}" in hung.stdout
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        up.send_signal(signal.SIGTERM)
        up.communicate(timeout=30)
    # Stopped: no endpoints.json, so "not running" (exit 2) with the command that starts it.
    gone = linkage("status", "--home", str(home))
    assert gone.returncode == 2 and "not running" in gone.stderr and "linkage up --home" in gone.stderr


async def test_status_names_a_killed_registry(sandbox_home: Home, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    shutil.copytree(sandbox_home.root, home.root)
    stack = await start_stack(load_settings(home), any_port=True)
    try:
        write_endpoints(stack)
        assert linkage("status", "--home", str(home.root)).returncode == 0
        stack.processes["dbd"].kill()
        await stack.processes["dbd"].wait()
        down = linkage("status", "--home", str(home.root))
        assert down.returncode == 1, down.stdout + down.stderr
        assert "down: dbd" in down.stderr and "DOWN dbd" in down.stdout and "UNAVAILABLE" in down.stdout
    finally:
        await stack.stop()


def test_status_refuses_an_unreadable_endpoints_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "endpoints.json").write_text('{"hub": 7}', encoding="utf-8")
    bad = linkage("status", "--home", str(home))
    assert bad.returncode == 2 and "endpoints.json" in bad.stderr and "linkage up" in bad.stderr
