"""The running sandbox: its processes (each started as `linkage serve-…`, waited for until it listens, restarted
when it exits), where each listens, and DIR/endpoints.json that tells clients so.

``linkage up`` (linkage/cli/main.py) starts a stack with start_stack, writes endpoints.json and hands the stack to
linkage/cli/supervisor.py; benchmarks, scripts and tests start one the same way. ``linkage init`` makes the
sandbox a stack runs from (linkage/cli/sandbox.py).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from linkage.cli.sandbox import SandboxError
from linkage.config import ConfigError, Home, Settings
from linkage.crl import crl_path

__all__ = [
    "Stack",
    "StderrTail",
    "agency_endpoints",
    "exit_status",
    "read_endpoints",
    "start_stack",
    "write_endpoints",
]

_START_S = 60.0  # how long a component may take to listen (a registry on PostgreSQL checks its schema first)


@dataclass
class Stack:
    """The running processes of a sandbox and where they listen."""

    settings: Settings
    processes: dict[str, asyncio.subprocess.Process]
    addresses: dict[str, str]
    # How each process was started (its command without --port, and its environment), for restart.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    # Where the hub and each registry serve their metrics (GET URL); the counter serves them at its own /metrics.
    metrics: dict[str, str] = field(default_factory=dict)

    # The last lines each process wrote to stderr (all of it is passed on to this process's stderr as well).
    stderr: dict[str, StderrTail] = field(default_factory=dict)

    async def restart(self, name: str) -> str:
        """Start a process that has exited again, with its command and environment, on the port it had.

        Returns its address. Raises SandboxError if it is still running or does not start.
        """
        if self.processes[name].returncode is None:
            raise SandboxError(f"{name} is still running (pid {self.processes[name].pid}); stop it first")
        args, env = self.commands[name]
        same = ["--metrics-port", str(urlsplit(self.metrics[name]).port)] if name in self.metrics else []
        return await self._spawn(name, [*args, "--port", self.addresses[name].rsplit(":", 1)[1], *same], env)

    async def _start(self, name: str, args: list[str], port: int, env: Mapping[str, str]) -> str:
        self.commands[name] = (args, dict(env))
        return await self._spawn(name, [*args, "--port", str(port)], env)

    async def _spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> str:
        proc, line, tail = await _spawn(name, args, env)
        self.processes[name], self.stderr[name] = proc, tail
        words = line.split()
        if len(words) > 2 and words[2].startswith("metrics="):
            self.metrics[name] = words[2].removeprefix("metrics=")
        self.addresses[name] = words[1]
        return words[1]

    async def stop(self) -> None:
        for proc in self.processes.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for tail in self.stderr.values():
            await tail.lines()


class StderrTail:
    """A child's stderr, passed on line by line to this process's stderr; its last lines kept for a report."""

    def __init__(self, stream: asyncio.StreamReader, keep: int = 8) -> None:
        self._last: collections.deque[str] = collections.deque(maxlen=keep)
        self._copying = asyncio.ensure_future(self._copy(stream))

    async def _copy(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the stream's limit: its start was dropped, go on
                continue
            if not line:
                return
            text = line.decode(errors="replace")
            self._last.append(text.rstrip())
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass  # nobody reads our stderr any more: keep draining the child's, so it never blocks

    async def lines(self, wait: float = 2.0) -> list[str]:
        """The last lines, once the child has closed its stderr (at most wait seconds after asking)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._copying), wait)
        except TimeoutError:
            pass
        return list(self._last)


def exit_status(code: int | None) -> str:
    """A process's returncode in words: "exit status 3", "killed by SIGKILL"."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


async def _spawn(name: str, args: list[str], env: Mapping[str, str]) -> tuple[
        asyncio.subprocess.Process, str, StderrTail]:
    """Start `linkage ARGS` and wait for its LISTENING line. Raises SandboxError (with its last words) if it
    does not print one within a minute; a process that is cancelled meanwhile is killed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkage.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env})
    assert proc.stdout is not None and proc.stderr is not None
    tail = StderrTail(proc.stderr)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), _START_S)
    except BaseException as exc:
        proc.kill()
        await proc.wait()
        await tail.lines()
        if isinstance(exc, TimeoutError):
            raise SandboxError(f"{name} did not start: no LISTENING line within {_START_S:g} s") from None
        raise
    if not line.startswith(b"LISTENING "):
        code = await proc.wait()
        last = await tail.lines()
        raise SandboxError(f"{name} did not start ({exit_status(code)})" + (f": {last[-1]}" if last else ""))
    return proc, line.decode(), tail


async def start_stack(settings: Settings, *, ports: Mapping[str, int] | None = None,
                      extra_env: Mapping[str, str] | None = None, replicas: int = 1, any_port: bool = False,
                      log_level: str | None = None, workers: int = 1) -> Stack:
    """Start every registry and witness, then the hub (replicas of it: "hub", "hub-2", …), then the counter, each
    in its own process. ports overrides the configured ones; the replicas after the
    first listen on any free port; any_port puts every component on a free port (benchmarks, scripts, tests).
    Several replicas share one log, so they need settings.database. Each replica runs workers hub processes on
    its one port (SO_REUSEPORT: the kernel spreads connections over them): "hub", "hub/2", …, "hub-2/2", …;
    they share the log as replicas do, so more than one needs settings.database too.

    Each process writes its log to this process's stderr as JSON lines (linkage/logs.py) at log_level
    (default: LINKAGE_LOG_LEVEL, else warning, so that the tools that start a stack keep their terminal;
    `linkage up` passes info: one line per request).
    """
    if replicas < 1:
        raise SandboxError("--replicas must be at least 1")
    if replicas > 1 and settings.database is None:
        raise SandboxError("--replicas needs --database postgresql://…: hub replicas share their exchange log"
                           " only on PostgreSQL (SQLite is for one hub on one machine)")
    if workers < 1:
        raise SandboxError("--workers must be at least 1")
    if workers > 1 and settings.database is None:
        raise SandboxError("--workers needs --database postgresql://…: the hub processes on one port share their"
                           " exchange log as replicas do, only on PostgreSQL (SQLite is for one hub process)")
    given = ports or {}

    def port(name: str, configured: int) -> int:
        return 0 if any_port else given.get(name, configured)

    home = str(settings.home.root)
    env: dict[str, str] = dict(extra_env or {})
    env.setdefault("LINKAGE_LOG_LEVEL", log_level or os.environ.get("LINKAGE_LOG_LEVEL", "warning"))
    stack = Stack(settings, {}, {})
    try:
        for name, provider in settings.providers.items():
            addr = await stack._start(name, ["serve-provider", name, "--home", home],
                                      port(name, provider.port), env)
            env[f"LINKAGE_PROVIDERS_{name}_PORT".upper()] = addr.rsplit(":", 1)[1]
        for name, witness in settings.witnesses.items():  # before the hub, which sends them its checkpoints
            addr = await stack._start(name, ["serve-witness", name, "--home", home], port(name, witness.port), env)
            env[f"LINKAGE_WITNESSES_{name}_PORT".upper()] = addr.rsplit(":", 1)[1]
        serve_hub = ["serve-hub", "--home", home, *(["--reuse-port"] if workers > 1 else [])]
        hubs = []
        for i in range(1, replicas + 1):
            name = "hub" if i == 1 else f"hub-{i}"
            hubs.append(await stack._start(name, serve_hub, port(name, settings.hub.port if i == 1 else 0), env))
            for w in range(2, workers + 1):  # on the port the replica's first process got
                await stack._start(f"{name}/{w}", serve_hub, int(hubs[-1].rsplit(":", 1)[1]), env)
        env["LINKAGE_COUNTER_HUB"] = ",".join(hubs)  # the counter spreads its calls over every replica
        tsa = await stack._start("tsa", ["serve-tsa", "--home", home], port("tsa", settings.tsa.port), env)
        env["LINKAGE_COUNTER_TSA"] = f"http://{tsa}/"  # certified PDFs are timestamped (PAdES B-LT)
        counter = await stack._start("counter", ["serve-counter", "--home", home],
                                     port("counter", settings.counter.port), env)
        # The mock payment switch tells the counter of each bill paid (providers/payswitch/).
        env["LINKAGE_PAYMENTS_CALLBACK"] = f"http://{counter}/payments/callback"
        await stack._start("payments", ["serve-payments", "--home", home], port("payments", settings.payments.port),
                           env)
    except BaseException:
        await stack.stop()
        raise
    return stack


def agency_endpoints(settings: Settings) -> dict[str, dict[str, Any]]:
    """endpoints.json's "agencies": each agency's certificate, key and officers (`linkage agency` rewrites it)."""
    home = settings.home
    return {
        name: {"cert": str(home.client_cert(name).cert), "key": str(home.client_cert(name).key),
               "officers": sorted(agency.officers)}
        for name, agency in settings.agencies.items()
    }


def write_endpoints(stack: Stack) -> Path:
    """DIR/endpoints.json: where everything listens and where every credential lies; all paths absolute."""
    home = stack.settings.home
    doc = {
        "hub": stack.addresses["hub"],
        # Every hub replica, the first included: clients spread their calls over them.
        "hubs": [stack.addresses[n] for n in stack.addresses if (n == "hub" or n.startswith("hub-")) and "/" not in n],
        "counter": f"http://{stack.addresses['counter']}",
        # The mock payment switch: POST /sandbox/pay {"payload": QR} pays a bill (sandbox only).
        "payments": f"http://{stack.addresses['payments']}",
        "providers": {name: stack.addresses[name] for name in stack.settings.providers},
        "metrics": {**stack.metrics, "counter": f"http://{stack.addresses['counter']}/metrics"},
        "ca": str(home.ca.cert),
        "agencies": agency_endpoints(stack.settings),
        "personas": str(home.personas),
        "log": {"origin": stack.settings.hub.log_origin, "vkey": home.log_note_vkey.read_text().strip(),
                "vkey_file": str(home.log_note_vkey)},
        # The log's witnesses: where each listens (tlog-witness) and the key its cosignatures verify with.
        "witnesses": {name: {"url": f"http://{stack.addresses[name]}", "vkey": home.witness_vkey(name).read_text()
                             .strip(), "vkey_file": str(home.witness_vkey(name))} for name in stack.settings.witnesses},
        # The time-stamping authority (RFC 3161, POST url) and the CA's CRL (GET crl).
        "tsa": {"url": f"http://{stack.addresses['tsa']}/", "crl": f"http://{stack.addresses['tsa']}/crl",
                "crl_file": str(crl_path(home.ca))},
    }
    tmp = home.endpoints.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, home.endpoints)
    return home.endpoints


def read_endpoints(home: Home) -> dict[str, Any]:
    """What write_endpoints wrote. Raises ConfigError naming the command that starts the sandbox when it is
    not running, or what is wrong with the file."""
    try:
        data = json.loads(home.endpoints.read_text(encoding="utf-8"))
    except FileNotFoundError:
        from linkage.cli.background import running_pid

        if (pid := running_pid(home)) is not None:
            raise ConfigError(f"the sandbox in {home.root} is starting (linkage up, pid {pid}): wait for it with"
                              f" `linkage status --wait --home {home.root}`") from None
        raise ConfigError(f"the sandbox in {home.root} is not running (no {home.endpoints}): start it with"
                          f" `linkage up --home {home.root}` (add --detach to run it in the background)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{home.endpoints}: cannot read it ({exc}); restart the sandbox with"
                          f" `linkage up --home {home.root}`") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{home.endpoints}: not what `linkage up` writes; restart the sandbox with"
                          f" `linkage up --home {home.root}`")
    return data
