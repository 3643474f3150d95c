"""The one-machine sandbox: ``linkage init`` makes it, ``linkage up`` runs it.

init builds everything in a temporary folder beside DIR and moves it in only
when complete, so an interrupted init leaves nothing half-written. up starts
each registry, the two witnesses, the hub and the counter as its own process (two cores: one GIL each), waits
until every one listens, writes DIR/endpoints.json, starts again any that exits
(linkage/cli/supervisor.py), and stops them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage import pki
from linkage.checkpoint import NoteSigner
from linkage.config import ALL_FIELDS, ConfigError, Home, Settings, load_settings
from linkage.cosignature import Cosigner
from linkage.crl import crl_path
from linkage.pki import HUB_CLIENT
from linkage.storage import Database, drop_schemas, sandbox_schemas

__all__ = [
    "DEFAULT_PORTS",
    "SAMPLE_AGENCIES",
    "WITNESSES",
    "SandboxError",
    "Stack",
    "StderrTail",
    "agency_endpoints",
    "choose_ports",
    "exit_status",
    "init",
    "read_endpoints",
    "start_stack",
    "write_endpoints",
]

DEFAULT_PORTS = {"hub": 7443, "dopa": 7451, "dbd": 7452, "edu": 7453, "counter": 8080,
                 "witness1": 7461, "witness2": 7462, "tsa": 7471, "payments": 8090}
# The sandbox's witnesses of the log (linkage/witness/), each with its own key: see docs/audit.md "Witnesses".
WITNESSES = ("witness1", "witness2")
# Where `--ports auto` looks for free ports: below Linux's ephemeral range (32768-60999), so that no
# outgoing connection takes one between init and up.
_AUTO_RANGE = (20000, 32767)
_START_S = 60.0  # how long a component may take to listen (a registry on PostgreSQL checks its schema first)

# rate_per_s, burst, daily_quota of each sample agency (linkage/limits.py; an agency without them gets DEFAULT_LIMITS).
SAMPLE_AGENCIES: dict[str, dict[str, Any]] = {
    # A municipal service counter: every document type, every field. `linkage bench` and the soak call as it,
    # hundreds of calls a second, so its limits are high.
    "phrae-municipality": {"title": "เทศบาลเมืองแพร่ / Phrae Town Municipality", "grants": ALL_FIELDS,
                           "limits": {"rate_per_s": 2000, "burst": 4000, "daily_quota": 50_000_000}},
    # A hospital's registration desk: who the patient is and that the card is real, nothing else.
    "phrae-hospital": {
        "title": "โรงพยาบาลแพร่ / Phrae Hospital",
        "grants": {
            "dopa.person": ["title", "first_name_th", "last_name_th", "first_name_en", "last_name_en",
                            "birth_date", "sex", "nationality", "status"],
            "dopa.card": [ALL_FIELDS],
        },
        "limits": {"rate_per_s": 50, "burst": 100, "daily_quota": 100_000},
    },
    # Reads the log, not people's records, in bursts: every printout it verifies online costs a few calls.
    "auditor": {"title": "ผู้ตรวจสอบบันทึกการใช้ข้อมูล / Exchange auditor", "grants": {}, "auditor": True,
                "limits": {"rate_per_s": 200, "burst": 1000, "daily_quota": 1_000_000}},
}

Progress = Callable[[str, int, int], None]


class SandboxError(Exception):
    """The sandbox cannot be made or started; the message says why and what to do."""


def choose_ports(spec: str, names: Sequence[str] | None = None) -> dict[str, int]:
    """The port of each component (hub, every registry, counter, witnesses, TSA, payment switch) for ``--ports SPEC``:

    ``default`` the usual ones (hub 7443, dopa 7451, dbd 7452, edu 7453, counter 8080, witness1 7461, witness2
    7462, tsa 7471, payments 8090); ``auto`` ports free on 127.0.0.1 now, drawn from 20000-32767; a number BASE:
    BASE for the hub, then one each, in order, for the registries, the counter, the witnesses, the TSA and the
    payment switch. Raises SandboxError saying what would be right.
    """
    if names is None:
        from providers import REGISTRIES

        names = ["hub", *REGISTRIES, "counter", *WITNESSES, "tsa", "payments"]
    if spec == "default":
        return {name: DEFAULT_PORTS.get(name, 0) for name in names}
    if spec == "auto":
        return _free_ports(names)
    if spec.isdigit() and 1024 <= int(spec) <= 65535 - len(names):
        return {name: int(spec) + i for i, name in enumerate(names)}
    raise SandboxError(f"--ports must be default, auto (free ports) or a base port from 1024 to"
                       f" {65535 - len(names)}, got {spec!r}")


def _free_ports(names: Sequence[str]) -> dict[str, int]:
    import random
    import socket

    held: list[socket.socket] = []  # each port stays bound until all are chosen, so none is drawn twice
    chosen: dict[str, int] = {}
    try:
        for port in random.sample(range(*_AUTO_RANGE), 200):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
            chosen[names[len(chosen)]] = port
            if len(chosen) == len(names):
                return chosen
    finally:
        for s in held:
            s.close()
    raise SandboxError(f"--ports auto: no {len(names)} free ports found in {_AUTO_RANGE[0]}-{_AUTO_RANGE[1]};"
                       " give a base port instead (--ports 40000)")


def init(root: Path, *, citizens: int = 10_000, seed: int = 1, force: bool = False,
         progress: Progress | None = None, database: Database | None = None,
         ports: Mapping[str, int] | None = None) -> Home:
    """Make the CA, every certificate, the configuration, the seeded registries and personas.json.

    With a database, the registries (and later the exchange log) live there, in the schemas of its
    namespace, and linkage.toml names it; a database that already holds them is refused unless force.
    ports (choose_ports) go into linkage.toml; by default the usual ones.
    """
    from providers import REGISTRIES
    from providers.faults import ADMIN_CLIENT, ADMIN_UNIT
    from providers.synth import generate

    home = Home(root.resolve())
    if home.config_file.exists() and not force:
        raise SandboxError(f"{home.root} already holds a sandbox; add --force to replace it"
                           " (this deletes its data, certificates and exchange log)")
    if citizens < 1:
        raise SandboxError("--citizens must be at least 1")
    parts = ["log", *REGISTRIES]
    if database is not None and not force and (held := sandbox_schemas(database, parts)):
        raise SandboxError(f"{database.redacted} already holds a sandbox (schemas {', '.join(held)}); add --force"
                           " to replace it (this deletes its data and exchange log), or use another database")
    home.root.mkdir(parents=True, exist_ok=True)
    staging = Home(Path(tempfile.mkdtemp(prefix=".linkage-init-", dir=home.root)))
    try:
        ca = pki.create_ca(staging.pki)
        for name in ("hub", *REGISTRIES):
            pki.issue(ca, name, pki.Role.SERVER, staging.server_cert(name).cert.parent)
        for name in (HUB_CLIENT, *SAMPLE_AGENCIES):
            pki.issue(ca, name, pki.Role.CLIENT, staging.client_cert(name).cert.parent, unit="agency")
        # The sandbox administrator: the only certificate the registries' ProviderAdmin (faults) accepts.
        pki.issue(ca, ADMIN_CLIENT, pki.Role.CLIENT, staging.client_cert(ADMIN_CLIENT).cert.parent, unit=ADMIN_UNIT)
        seal = pki.issue(ca, "hub-seal", pki.Role.SEAL, staging.seal.cert.parent)
        assert seal == staging.seal
        from linkage.payments import load_or_make_switch_key
        from linkage.tsa import ensure_pki

        ensure_pki(staging)  # the time-stamping authority's certificate and the CA's (empty) CRL
        load_or_make_switch_key(staging)  # the mock payment switch's key: billers read its public half at start
        _write_secret(staging.subject_key, secrets.token_bytes(32))
        origin = f"linkage.sandbox/{secrets.token_hex(4)}/exchange-log"
        note_key = Ed25519PrivateKey.generate()
        _write_secret(staging.log_note_key, note_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        staging.log_note_vkey.write_text(NoteSigner(origin, note_key).vkey() + "\n", encoding="ascii")
        _make_witness_keys(staging, origin)
        staging.data.mkdir(parents=True)
        result = generate(staging.data, citizens=citizens, seed=seed, progress=progress, database=database)
        staging.personas.write_text(json.dumps(result.personas, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
        from linkage.cli.cards import write_cards

        write_cards(staging, result.personas)  # the registry's card secret, and the personas' card files
        doc_types = {name: tuple(reg.doc_types) for name, reg in REGISTRIES.items()}
        from linkage.cli.onboarding import cert_sha256

        # Each sample agency is pinned to the one certificate issued here, as `linkage agency add` pins its own.
        pins = {name: cert_sha256(staging.client_cert(name).cert.read_bytes()) for name in SAMPLE_AGENCIES}
        ports = ports or choose_ports("default", ["hub", *doc_types, "counter", *WITNESSES, "tsa", "payments"])
        staging.config_file.write_text(_config_text(doc_types, result.officers, origin, database, pins, ports),
                                       encoding="utf-8")
        load_settings(staging)  # what init writes must load
        for item in ("pki", "data", "cards", "linkage.toml", "personas.json", "endpoints.json", "supervisor.json"):
            old = home.root / item
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        for item in ("pki", "data", "cards", "linkage.toml", "personas.json"):
            os.replace(staging.root / item, home.root / item)
        if database is not None:
            drop_schemas(database, ["log"])  # the old sandbox's log: its keys are gone with its pki/
    finally:
        shutil.rmtree(staging.root, ignore_errors=True)
    return home


def _make_witness_keys(home: Home, origin: str) -> None:
    """DIR/pki/witnesses/NAME.key and NAME.vkey for each sandbox witness; its key name is a URL-like name beside
    the log's origin (the spec asks for one that identifies the cosigner)."""
    folder = home.witness_key(WITNESSES[0]).parent
    folder.mkdir(parents=True)
    for name in WITNESSES:
        key = Ed25519PrivateKey.generate()
        _write_secret(home.witness_key(name), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        key_name = f"{origin.rsplit('/', 1)[0]}/{name}"
        home.witness_vkey(name).write_text(Cosigner(key_name, key).vkey() + "\n", encoding="ascii")


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _config_text(doc_types: Mapping[str, Sequence[str]], officers: Mapping[str, Sequence[str]],
                 log_origin: str, database: Database | None, pins: Mapping[str, str],
                 ports: Mapping[str, int]) -> str:
    every = [t for types in doc_types.values() for t in types]
    agencies = {}
    for name, spec in SAMPLE_AGENCIES.items():
        grants = {t: [ALL_FIELDS] for t in every} if spec["grants"] == ALL_FIELDS else spec["grants"]
        agencies[name] = {"title": spec["title"], "auditor": spec.get("auditor", False),
                          "officers": list(officers.get(name, ())), **spec.get("limits", {}), "grants": grants}
        if name in pins:
            agencies[name]["cert_sha256"] = pins[name]
    doc = {
        "hub": {"host": "127.0.0.1", "port": ports["hub"], "provider_timeout_ms": 3000,
                "log_origin": log_origin},
        "providers": {name: {"host": "127.0.0.1", "port": ports[name], "doc_types": list(types)}
                      for name, types in doc_types.items()},
        "counter": {"host": "127.0.0.1", "port": ports["counter"]},
        "payments": {"host": "127.0.0.1", "port": ports.get("payments", DEFAULT_PORTS["payments"])},
        "agencies": agencies,
        "witnesses": {name: {"host": "127.0.0.1", "port": ports.get(name, DEFAULT_PORTS[name])} for name in WITNESSES},
        "tsa": {"host": "127.0.0.1", "port": ports.get("tsa", DEFAULT_PORTS["tsa"])},
    }
    if database is not None:
        doc = {"database": database.url, **doc}  # registries and exchange log on PostgreSQL
    header = (
        "# linkage sandbox configuration, written by `linkage init`.\n"
        "# Any [hub], [providers.NAME] or [counter] key can be overridden by LINKAGE_HUB_<KEY>,\n"
        "# LINKAGE_PROVIDERS_<NAME>_<KEY> or LINKAGE_COUNTER_<KEY>. Unknown keys are refused.\n"
        "# [agencies.NAME] is an agency: the common name of its certificate in pki/clients/,\n"
        "# the officers registered with it, how much it may call the hub (a burst of `burst` calls,\n"
        "# then rate_per_s a second; daily_quota calls a Bangkok day; see docs/operations.md \"Limits\"),\n"
        "# and grants: doc_type = [fields] (\"*\" = every field).\n"
        "# [witnesses.NAME] is a witness the hub sends each checkpoint to (key: pki/witnesses/NAME.vkey);\n"
        "# LINKAGE_WITNESSES_<NAME>_<KEY> overrides its keys.\n\n"
    )
    return header + tomli_w.dumps(doc)


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
                      log_level: str | None = None) -> Stack:
    """Start every registry and witness, then the hub (replicas of it: "hub", "hub-2", …), then the counter, each
    in its own process. ports overrides the configured ones; the replicas after the
    first listen on any free port; any_port puts every component on a free port (benchmarks, scripts, tests).
    Several replicas share one log, so they need settings.database.

    Each process writes its log to this process's stderr as JSON lines (linkage/logs.py) at log_level
    (default: LINKAGE_LOG_LEVEL, else warning, so that the tools that start a stack keep their terminal;
    `linkage up` passes info: one line per request).
    """
    if replicas < 1:
        raise SandboxError("--replicas must be at least 1")
    if replicas > 1 and settings.database is None:
        raise SandboxError("--replicas needs --database postgresql://…: hub replicas share their exchange log"
                           " only on PostgreSQL (SQLite is for one hub on one machine)")
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
        hubs = [await stack._start("hub", ["serve-hub", "--home", home], port("hub", settings.hub.port), env)]
        for i in range(2, replicas + 1):
            hubs.append(await stack._start(f"hub-{i}", ["serve-hub", "--home", home], port(f"hub-{i}", 0), env))
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
        "hubs": [stack.addresses[n] for n in stack.addresses if n == "hub" or n.startswith("hub-")],
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
