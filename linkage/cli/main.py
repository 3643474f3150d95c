"""The `linkage` command: one entry point for the sandbox, agencies and auditors.

    linkage init    make a sandbox: CA, certificates, config, seeded registries, personas
    linkage up      start the registries, the hub and the counter; write endpoints.json (--detach: in the background)
    linkage down    stop what `linkage up` started
    linkage env     export lines for a shell: LINKAGE_HOME, addresses, officers, persona IDs
    linkage fetch   fetch one sealed printout as an agency
    linkage verify  check a printout: seal, log proof, consistency, revocation (= linkage audit verify)
    linkage audit   auditors: verify, watch the log, list who read a subject's data
    linkage revoke  revoke a printout, with a reason
    linkage agency  onboard, renew, revoke and list agencies (the running hub follows)
    linkage keys    rotate the hub's sealing and checkpoint keys, with an overlap
    linkage faults  inject latency, errors and outages into a running registry
    linkage conformance   check any ProviderService implementation before the hub relies on it
    linkage status  health of every component, the last checkpoint, each provider's breaker
    linkage bench   measure the hub against direct provider reads

Every flag defaults from a LINKAGE_* environment variable where one is named.
Exit codes: 0 success, 1 the thing checked is invalid or the request was refused,
2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkage.cli import agencies, conformance, keys
from linkage.cli.common import home_given, with_home
from linkage.cli.env import add_commands as _add_env_commands
from linkage.cli.faults import add_commands as _add_faults_commands
from linkage.cli.status import add_commands as _add_status_commands
from linkage.config import ConfigError, Home, join_address, load_settings
from linkage.errors import LinkageError
from linkage.storage import Database, StorageError, parse_database

if TYPE_CHECKING:
    from consumers.auditor.cli import HubInputs, TrustInputs

__all__ = ["AUDITOR_STATE", "main"]

AUDITOR_STATE = "auditor-state.json"
"""The auditor's state file in a sandbox folder given with --home or LINKAGE_HOME."""


class _Bar:
    """A progress bar on stderr with an estimate of the time left."""

    def __init__(self) -> None:
        self._stage = ""
        self._start = time.monotonic()
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage:
            if self._stage:
                sys.stderr.write("\n")
            self._stage, self._start = stage, now
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        frac = done / total if total else 1.0
        left = (now - self._start) * (1 - frac) / frac if frac > 0 else 0.0
        bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
        sys.stderr.write(f"\r{stage:<18} {bar} {frac:6.1%} {done:>10,}/{total:,}  ~{left:,.0f}s left ")
        sys.stderr.flush()

    def close(self) -> None:
        if self._stage:
            sys.stderr.write("\n")


def _cmd_init(args: argparse.Namespace, *, starting: bool = False) -> int:
    """Make the sandbox; starting: `linkage up` is making it and starts it next (so no "start it with")."""
    from linkage.cli.sandbox import choose_ports, init

    database = _database(args.database)
    ports = choose_ports(args.ports)
    bar = _Bar()
    try:
        home = init(Path(args.home), citizens=args.citizens, seed=args.seed, force=args.force, progress=bar,
                    database=database, ports=ports)
    finally:
        bar.close()
    print(f"sandbox made in {home.root}\n  config:   {home.config_file}\n  CA:       {home.ca.cert}\n"
          f"  personas: {home.personas}\n  ports:    {', '.join(f'{n} {p}' for n, p in ports.items())}",
          file=sys.stderr if starting else sys.stdout)
    if not starting:
        print(f"start it with: linkage up --home {home.root}")
    return 0


async def _up(home: Home, replicas: int = 1) -> None:
    import signal

    from linkage.cli.env import counter_officer
    from linkage.cli.sandbox import start_stack, write_endpoints

    settings = load_settings(home)
    stack = await start_stack(settings, replicas=replicas)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        path = write_endpoints(stack)
        print(f"linkage sandbox is up (Ctrl-C to stop)\n  hub: {stack.addresses['hub']}")
        for i in range(2, replicas + 1):
            print(f"  hub-{i}: {stack.addresses[f'hub-{i}']}")
        for name in settings.providers:
            print(f"  {name}: {stack.addresses[name]}")
        print(f"  counter: http://{stack.addresses['counter']}/")
        if (officer := counter_officer(settings)) is not None:
            print(f"  sign in at the counter as officer {officer[1]} ({officer[0]})")
        print(f"  endpoints: {path}", flush=True)
        waiters = [asyncio.ensure_future(p.wait()) for p in stack.processes.values()]
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            dead = [n for n, p in stack.processes.items() if p.returncode is not None]
            print(f"stopping: {', '.join(dead)} exited unexpectedly", file=sys.stderr)
        stopper.cancel()
    finally:
        await stack.stop()
        home.endpoints.unlink(missing_ok=True)
        print("linkage sandbox stopped", flush=True)


def _database(text: str) -> Database | None:
    """--database: a postgresql:// URL, or empty for SQLite files. Raises ConfigError saying what would be right."""
    try:
        return parse_database(text)
    except StorageError as exc:
        raise ConfigError(str(exc)) from None


def _cmd_up(args: argparse.Namespace) -> int:
    from linkage.cli import background

    home = Home(Path(args.home).resolve())
    if args.database:
        _database(args.database)
        os.environ["LINKAGE_DATABASE"] = args.database  # for this process's settings and every server it starts
    if args.timeout <= 0:
        print(f"linkage up: --timeout must be a number of seconds above 0, got {args.timeout:g}", file=sys.stderr)
        return 2
    if args.detach:
        return background.detach(home, background.up_arguments(args), args.timeout)
    with background.holding_up_lock(home):
        if not home.config_file.exists():
            print(f"no sandbox in {home.root} yet: making one", file=sys.stderr)
            _cmd_init(argparse.Namespace(home=args.home, citizens=args.citizens, seed=args.seed, force=False,
                                         database=args.database, ports=args.ports), starting=True)
        asyncio.run(_up(home, args.replicas))
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from linkage.cli.background import down

    return down(Home(Path(args.home).resolve()), args.timeout)


def _serve_ready(host: str, port: int, metrics: str = "") -> None:
    """The line `linkage up` waits for: the address, and where the metrics are served (if apart)."""
    print(f"LISTENING {join_address(host, port)}" + (f" metrics={metrics}" if metrics else ""), flush=True)


def _cmd_serve_hub(args: argparse.Namespace) -> int:
    from linkage.hub.server import build_server
    from linkage.ports import PortInUse

    async def run() -> None:
        import signal

        settings = load_settings(Home(Path(args.home).resolve()))
        running = await build_server(settings, args.port, args.metrics_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _serve_ready(settings.hub.host, running.port, running.exporter.url if running.exporter else "")
        try:
            await stop.wait()
        finally:
            await running.stop()

    try:
        asyncio.run(run())
    except PortInUse as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 3
    return 0


def _cmd_serve_provider(args: argparse.Namespace) -> int:
    from linkage.ports import PortInUse, choose_port
    from providers.server import serve

    home = Home(Path(args.home).resolve())
    settings = load_settings(home)
    if args.name not in settings.providers:
        print(f"no provider named {args.name!r}; configured: {', '.join(settings.providers)}", file=sys.stderr)
        return 2
    config = settings.providers[args.name]
    port = config.port if args.port is None else args.port
    try:
        asyncio.run(serve(args.name, settings.database or home.provider_db(args.name), home.ca.cert,
                          home.server_cert(args.name), port=port, host=config.host,
                          ready=lambda bound, metrics: _serve_ready(config.host, bound, metrics),
                          metrics_port=args.metrics_port))
    except PortInUse as exc:
        if exc.address == join_address(config.host, port):  # its own port, not its metrics'
            exc = PortInUse(exc.address, choose_port(f"providers.{args.name}",
                                                     f"LINKAGE_PROVIDERS_{args.name.upper()}_PORT", home.config_file))
        print(f"{args.name}: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"{args.name}: {exc}", file=sys.stderr)
        return 3
    return 0


def _cmd_serve_counter(args: argparse.Namespace) -> int:
    from consumers.counter.app import serve
    from linkage.ports import PortInUse, choose_port

    home = Home(Path(args.home).resolve())
    config = load_settings(home).counter
    port = config.port if args.port is None else args.port
    # The app reads its host from the environment (CounterSettings.from_env); [counter] host is its default.
    os.environ.setdefault("LINKAGE_COUNTER_HOST", config.host)
    try:
        asyncio.run(_until_signal(serve(home, port, lambda bound: _serve_ready(config.host, bound))))
    except OSError as exc:
        taken = PortInUse(join_address(config.host, port), choose_port("counter", "LINKAGE_COUNTER_PORT",
                                                                       home.config_file),
                          exc.strerror or str(exc))
        print(f"counter: {taken}", file=sys.stderr)
        return 3
    return 0


async def _until_signal(coro: Coroutine[Any, Any, None]) -> None:
    """Run coro until SIGINT or SIGTERM, then cancel it so its finally blocks close what it opened."""
    import signal

    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise


def _cmd_fetch(args: argparse.Namespace) -> int:
    from consumers.client import HubClient
    from linkage.cli.sandbox import read_endpoints
    from linkage.pki import CertPaths
    from linkage.seal import unverified_payload

    home = Home(Path(args.home).resolve())
    if bool(args.cert) != bool(args.key):
        print("linkage fetch: --cert and --key go together (the agency's TLS certificate and its key)",
              file=sys.stderr)
        return 2
    if args.cert:  # an agency outside this sandbox's folder: its own certificate and the CA; no linkage.toml
        own = CertPaths(Path(args.cert), Path(args.key))
    else:
        if not home.config_file.exists():
            read_endpoints(home)  # raises, saying that `linkage up` is still making it, or how to make it
        settings = load_settings(home)
        if args.agency not in settings.agencies:
            print(f"no agency named {args.agency!r}; known: {', '.join(settings.agencies)}", file=sys.stderr)
            return 2
        own = home.client_cert(args.agency)
    ca = Path(args.ca) if args.ca else home.ca.cert
    hub_address = args.hub or str(read_endpoints(home)["hub"])

    async def run() -> int:
        async with HubClient.connect(hub_address, ca, own) as hub:
            try:
                doc = await hub.fetch_document(args.doc_type, args.id, purpose=args.purpose,
                                               officer_id=args.officer, case_ref=args.case,
                                               citizen_present=args.citizen_present)
            except LinkageError as err:
                print(f"refused ({err.code.name}, {err.reason}): {err.message}", file=sys.stderr)
                return 1
        bundle = doc.bundle()
        print(json.dumps(unverified_payload(doc.jws), ensure_ascii=False, indent=2))
        print(f"printout {doc.printout_id}, exchange log index {doc.log_index}", file=sys.stderr)
        if args.out:
            Path(args.out).write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            trust = f"--ca {ca}" if args.ca else f"--home {home.root}"
            print(f"written to {args.out}; check it with: linkage verify {args.out} {trust}", file=sys.stderr)
        return 0

    return asyncio.run(run())


def _auditor_inputs(args: argparse.Namespace) -> tuple[TrustInputs, HubInputs]:
    from consumers.auditor.cli import HubInputs, TrustInputs

    home = Path(args.home)
    trust = TrustInputs(home=home, ca=_path(args.ca), log_key=getattr(args, "log_key", None),
                        origin=getattr(args, "origin", None), agencies=_path(getattr(args, "agency_certs", None)))
    hub = HubInputs(home=home, hub=args.hub, cert=_path(args.cert), key=_path(args.key), agency=args.agency)
    return trust, hub


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _state(args: argparse.Namespace) -> Path:
    """--state, else the state file in --home when one is given (or LINKAGE_HOME), else ~/.linkage-auditor."""
    from consumers.auditor.state import DEFAULT_STATE

    if args.state:
        return Path(args.state)
    return Path(args.home) / AUDITOR_STATE if home_given(args.home) else DEFAULT_STATE


def _cmd_verify(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_verify

    trust, hub = _auditor_inputs(args)
    return run_verify([Path(f) for f in args.files], trust, hub=None if args.offline else hub, state=_state(args),
                      as_json=args.json)


def _cmd_audit_watch(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_watch

    if args.interval <= 0 or args.sample < 0:
        print("linkage audit watch: --interval must be > 0 and --sample >= 0", file=sys.stderr)
        return 2
    trust, hub = _auditor_inputs(args)
    return run_watch(trust, hub, state=_state(args), interval=args.interval, once=args.once, sample=args.sample)


def _cmd_audit_accesses(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_accesses

    trust, hub = _auditor_inputs(args)
    return run_accesses(trust, hub, args.id, as_json=args.json)


def _cmd_revoke(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_revoke

    trust, hub = _auditor_inputs(args)
    return run_revoke(trust, hub, args.printout_id, reason=args.reason, officer_id=args.officer)


_OFFLINE_HELP = ("never ask the hub: checks 1-3 as always; 4 and 5 only from a log proof the file carries (a bundle"
                 " from fetch --out does; a bare JWS, a PDF's attachments and a QR's printouts do not, so they skip"
                 " 4-6); 6 only against a checkpoint of the same size seen before; 7 (revocation) skipped. The"
                 " report says which checks were skipped and why")


def _connection_flags(p: argparse.ArgumentParser, agency: str | None) -> None:
    """--home, and how to reach the hub as an agency: --ca, --hub, --cert/--key, --agency (fetch, verify, audit,
    revoke alike). agency: the default agency, or None when --agency is required."""
    env = os.environ.get
    with_home(p)
    p.add_argument("--ca", default=env("LINKAGE_CA"), help="trust root (LINKAGE_CA; default DIR/pki/ca.pem)")
    p.add_argument("--hub", default=env("LINKAGE_HUB"), help="hub HOST:PORT (LINKAGE_HUB; default from "
                                                              "DIR/endpoints.json)")
    p.add_argument("--cert", default=env("LINKAGE_CERT"),
                   help="agency TLS certificate (LINKAGE_CERT; default DIR/pki/clients/AGENCY.pem)")
    p.add_argument("--key", default=env("LINKAGE_KEY"),
                   help="agency TLS key (LINKAGE_KEY; default DIR/pki/clients/AGENCY.key)")
    if agency is None:
        p.add_argument("--agency", required=True, help="the agency acting (its certificate is used)")
    else:
        p.add_argument("--agency", default=env("LINKAGE_AGENCY", agency),
                       help=f"agency whose certificate is used (LINKAGE_AGENCY, default {agency})")


def _add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage verify`` (= ``linkage audit verify``), ``linkage audit watch|accesses``, ``linkage revoke``."""
    env = os.environ.get
    hub_flags = _connection_flags

    def log_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--log-key", default=env("LINKAGE_LOG_KEY"),
                       help="the log's note verifier key, a file or the key text (LINKAGE_LOG_KEY; "
                            "default DIR/pki/log-note.vkey)")
        p.add_argument("--origin", default=env("LINKAGE_LOG_ORIGIN"),
                       help="the log's origin (LINKAGE_LOG_ORIGIN; default [hub] log_origin in DIR/linkage.toml)")
        p.add_argument("--state", default=env("LINKAGE_AUDITOR_STATE"),
                       help=f"checkpoints seen before (LINKAGE_AUDITOR_STATE; default DIR/{AUDITOR_STATE} when"
                            " --home or LINKAGE_HOME is given, else ~/.linkage-auditor/state.json)")

    def verify_parser(p: argparse.ArgumentParser) -> None:
        p.add_argument("files", nargs="+", metavar="FILE",
                       help="printout bundle (.json), compact JWS, signed PDF, or the QR summary of a certified"
                            " printout as text or as a picture (PNG/JPEG) of the paper; with several, one line per"
                            " file (--json: a list) and the exit status of the worst")
        hub_flags(p, "auditor")
        log_flags(p)
        p.add_argument("--agency-certs", default=env("LINKAGE_AGENCY_CERTS"),
                       help="folder of agency certificates (*.pem) that may sign QR summaries "
                            "(LINKAGE_AGENCY_CERTS; default DIR/pki/clients)")
        p.add_argument("--offline", action="store_true", help=_OFFLINE_HELP)
        p.add_argument("--json", action="store_true", help="print a machine-readable report")
        p.set_defaults(func=_cmd_verify)

    verify_help = ("check a printout (bundle, JWS, signed PDF, QR text or picture): seal, officer's certification, "
                   "log proof, consistency, revocation")
    verify_parser(sub.add_parser("verify", help=verify_help + " (= audit verify)"))

    audit = sub.add_parser("audit", help="auditors' tools: verify printouts, watch the log, list accesses")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")
    verify_parser(audit_sub.add_parser("verify", help=verify_help))

    p = audit_sub.add_parser("watch", help="monitor the log: alarm on a fork, rollback or rewritten entry")
    hub_flags(p, "auditor")
    log_flags(p)
    p.add_argument("--interval", type=float, default=float(env("LINKAGE_WATCH_INTERVAL", "5")),
                   help="seconds between checkpoints (LINKAGE_WATCH_INTERVAL, default 5)")
    p.add_argument("--sample", type=int, default=int(env("LINKAGE_WATCH_SAMPLE", "16")),
                   help="entries proved per round, new ones first (LINKAGE_WATCH_SAMPLE, default 16)")
    p.add_argument("--once", action="store_true", help="one round, then exit")
    p.set_defaults(func=_cmd_audit_watch)

    p = audit_sub.add_parser("accesses", help="who read a person's or company's data, when and why")
    hub_flags(p, "auditor")
    p.add_argument("--id", required=True, help="13-digit ID of the citizen or company")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_audit_accesses)

    p = sub.add_parser("revoke", help="revoke a printout your agency was issued, with a reason")
    hub_flags(p, None)
    p.add_argument("printout_id", help="the printout's ID (printout_id)")
    p.add_argument("--officer", required=True, help="the officer revoking it (registered with the agency)")
    p.add_argument("--reason", required=True, help="why, in plain words")
    p.set_defaults(func=_cmd_revoke)


def _cmd_bench(args: argparse.Namespace) -> int:
    from linkage.cli.bench import run_bench

    return run_bench(args)


_DATABASE_HELP = ("postgresql://USER@HOST:PORT/DBNAME: keep the registries and the exchange log there"
                  " (LINKAGE_DATABASE; default: SQLite files in DIR/data)")


_CITIZENS_HELP = "how many citizens the civil registry holds (LINKAGE_CITIZENS, default 10000)"
_SEED_HELP = "seed of the synthetic data: the same seed makes the same people (LINKAGE_SEED, default 1)"
_PORTS_HELP = ("ports written into DIR/linkage.toml (LINKAGE_PORTS): default (hub 7443, registries 7451-7453,"
               " counter 8080), auto (free ones, so that several sandboxes run on one machine) or a base port"
               " BASE (hub BASE, then BASE+1, … for the registries and the counter)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("linkage")
    except PackageNotFoundError:
        return "(not installed: run scripts/sandbox or pip install -e .)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linkage", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true", help="log one line per request to stderr")
    parser.add_argument("--version", action="version", version=f"linkage {_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = with_home(sub.add_parser("init", help="make a sandbox: CA, certificates, config, data, personas"))
    p.add_argument("--citizens", type=int, default=int(os.environ.get("LINKAGE_CITIZENS", "10000")),
                   help=_CITIZENS_HELP)
    p.add_argument("--seed", type=int, default=int(os.environ.get("LINKAGE_SEED", "1")), help=_SEED_HELP)
    p.add_argument("--force", action="store_true", help="replace an existing sandbox (deletes its data)")
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE", ""), help=_DATABASE_HELP)
    p.add_argument("--ports", default=os.environ.get("LINKAGE_PORTS", "default"), help=_PORTS_HELP)
    p.set_defaults(func=_cmd_init)

    p = with_home(sub.add_parser("up", help="start the registries, the hub and the counter (initialises if needed)"))
    p.add_argument("--citizens", type=int, default=int(os.environ.get("LINKAGE_CITIZENS", "10000")),
                   help=_CITIZENS_HELP + "; only when up makes the sandbox")
    p.add_argument("--seed", type=int, default=int(os.environ.get("LINKAGE_SEED", "1")),
                   help=_SEED_HELP + "; only when up makes the sandbox")
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE", ""), help=_DATABASE_HELP)
    p.add_argument("--replicas", type=int, default=int(os.environ.get("LINKAGE_REPLICAS", "1")),
                   help="hub processes sharing one log (LINKAGE_REPLICAS, default 1; more need --database)")
    p.add_argument("--ports", default=os.environ.get("LINKAGE_PORTS", "default"),
                   help=_PORTS_HELP + "; only when up makes the sandbox")
    p.add_argument("--detach", action="store_true",
                   help="run in the background (output in DIR/up.log); return once every server answers its health"
                        " check, saying where things are; `linkage down` stops it")
    p.add_argument("--timeout", type=float, default=os.environ.get("LINKAGE_UP_TIMEOUT", "600"),
                   help="with --detach: seconds to wait for the sandbox to be ready (LINKAGE_UP_TIMEOUT, default 600)")
    p.set_defaults(func=_cmd_up)

    p = with_home(sub.add_parser("down", help="stop the sandbox that `linkage up` runs (detached or not)"))
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it to stop (default 60)")
    p.set_defaults(func=_cmd_down)
    _add_env_commands(sub)

    p = sub.add_parser("fetch", help="fetch one sealed printout as an agency")
    _connection_flags(p, None)
    p.add_argument("--officer", required=True, help="the officer's 13-digit personal ID")
    p.add_argument("--doc-type", required=True, help="e.g. dopa.person")
    p.add_argument("--id", required=True, help="13-digit ID of the citizen or company")
    p.add_argument("--purpose", required=True, help="why the data is needed")
    p.add_argument("--case", default="", help="case or file reference")
    p.add_argument("--citizen-present", action="store_true", help="the citizen is at the counter with their card")
    p.add_argument("--out", help="write the printout bundle (JWS and log index) to this file")
    p.set_defaults(func=_cmd_fetch)

    _add_audit_commands(sub)
    agencies.add_commands(sub)
    keys.add_commands(sub)
    _add_faults_commands(sub)
    conformance.add_commands(sub)
    _add_status_commands(sub)

    p = sub.add_parser("bench", help="measure the hub (mTLS, rights, sealing, durable log) against direct reads")
    p.add_argument("--calls", type=int, default=4000, help="calls per round (default 4000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of hub and direct (default 3)")
    p.add_argument("--concurrency", type=int, default=64, help="calls kept in flight (default 64)")
    p.add_argument("--citizens", type=int, default=10_000,
                   help="citizens in the fresh sandbox the bench makes (default 10000; not with --home)")
    p.add_argument("--home", default=os.environ.get("LINKAGE_HOME"),
                   help="sandbox folder, as everywhere (LINKAGE_HOME): bench that sandbox, which must not be"
                        " running (the bench starts its own servers on its files); without it, or with --fresh,"
                        " a fresh sandbox in a temporary folder")
    p.add_argument("--fresh", action="store_true", help="bench a fresh sandbox even when LINKAGE_HOME is set")
    p.add_argument("--replicas", type=int, default=1, help="hub replicas sharing one log (needs --database)")
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE"),
                   help="postgresql://USER@HOST:PORT/DBNAME: bench on PostgreSQL, in a database of its own made"
                        " there and dropped afterwards (LINKAGE_DATABASE; default SQLite)")
    p.set_defaults(func=_cmd_bench)

    for name, helptext in (("serve-hub", "run the hub in the foreground (used by up)"),
                           ("serve-provider", "run one registry in the foreground (used by up)")):
        p = with_home(sub.add_parser(name, help=helptext))
        section = "hub"
        if name == "serve-provider":
            p.add_argument("name", help="the registry: a [providers.NAME] of DIR/linkage.toml (dopa, dbd, edu)")
            section = "providers.NAME"
        p.add_argument("--port", type=int, default=None,
                       help=f"port to listen on (default: [{section}] port in DIR/linkage.toml; 0: any free port)")
        p.add_argument("--metrics-port", type=int, default=0, help="serve GET /metrics here (default 0: any free port)")
        p.set_defaults(func=_cmd_serve_hub if name == "serve-hub" else _cmd_serve_provider)
    p = with_home(sub.add_parser("serve-counter", help="run the counter web app in the foreground (used by up);"
                                 " LINKAGE_COUNTER_* variables configure it"))
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: [counter] port in DIR/linkage.toml, or LINKAGE_COUNTER_PORT)")
    p.set_defaults(func=_cmd_serve_counter)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, so that a reader gone away (`| head`) is met below, not at exit
        return code
    except BrokenPipeError:
        # The reader of stdout stopped reading: stop too, quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except ConfigError as exc:
        print(f"linkage: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from consumers.client.errors import ClientSetupError
        from linkage.cli.sandbox import SandboxError

        # StorageError: PostgreSQL down, or a newer schema; ClientSetupError: e.g. an expired agency certificate.
        if isinstance(exc, SandboxError | StorageError | ClientSetupError):
            print(f"linkage: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
