"""The `linkage` command: one entry point for the sandbox, agencies and auditors.

    linkage init    make a sandbox: CA, certificates, config, seeded registries, personas
    linkage up      start the registries, the hub and the counter; write endpoints.json
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
from pathlib import Path
from typing import TYPE_CHECKING

from linkage.cli import agencies, conformance, keys, serve
from linkage.cli.common import with_home
from linkage.cli.faults import add_commands as _add_faults_commands
from linkage.cli.status import add_commands as _add_status_commands
from linkage.config import ConfigError, Home, load_settings
from linkage.errors import LinkageError
from linkage.logs import LEVELS, configure_logging
from linkage.storage import Database, StorageError, parse_database

if TYPE_CHECKING:
    from consumers.auditor.cli import HubInputs, TrustInputs

__all__ = ["main"]

_log = logging.getLogger("linkage.cli")


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


def _cmd_init(args: argparse.Namespace) -> int:
    from linkage.cli.sandbox import init

    database = _database(args.database)
    bar = _Bar()
    try:
        home = init(Path(args.home), citizens=args.citizens, seed=args.seed, force=args.force, progress=bar,
                    database=database)
    finally:
        bar.close()
    print(f"sandbox ready in {home.root}\n  config:   {home.config_file}\n  CA:       {home.ca.cert}\n"
          f"  personas: {home.personas}\nstart it with: linkage up --home {home.root}")
    return 0


async def _up(home: Home, replicas: int = 1, log_level: str = "info") -> None:
    import signal

    from linkage.cli.sandbox import start_stack, write_endpoints

    settings = load_settings(home)
    stack = await start_stack(settings, replicas=replicas, log_level=log_level)
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
    home = Home(Path(args.home).resolve())
    if args.database:
        _database(args.database)
        os.environ["LINKAGE_DATABASE"] = args.database  # for this process's settings and every server it starts
    if not home.config_file.exists():
        print(f"no sandbox in {home.root} yet: making one", file=sys.stderr)
        _cmd_init(argparse.Namespace(home=args.home, citizens=args.citizens, seed=args.seed, force=False,
                                     database=args.database))
    asyncio.run(_up(home, args.replicas, _level(args)))
    return 0


def _endpoints(home: Home) -> dict[str, object]:
    try:
        data = json.loads(home.endpoints.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the sandbox in {home.root} is not running: start it with"
                          f" `linkage up --home {home.root}`") from None
    assert isinstance(data, dict)
    return data


def _cmd_fetch(args: argparse.Namespace) -> int:
    from consumers.client import HubClient
    from linkage.seal import unverified_payload

    home = Home(Path(args.home).resolve())
    settings = load_settings(home)
    if args.agency not in settings.agencies:
        print(f"no agency named {args.agency!r}; known: {', '.join(settings.agencies)}", file=sys.stderr)
        return 2
    hub_address = str(_endpoints(home)["hub"])

    async def run() -> int:
        async with HubClient.connect(hub_address, home.ca.cert, home.client_cert(args.agency)) as hub:
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
            print(f"written to {args.out}; check it with: linkage verify {args.out} --home {home.root}",
                  file=sys.stderr)
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
    from consumers.auditor.state import DEFAULT_STATE

    return Path(args.state) if args.state else DEFAULT_STATE


def _cmd_verify(args: argparse.Namespace) -> int:
    from consumers.auditor.cli import run_verify

    trust, hub = _auditor_inputs(args)
    return run_verify(Path(args.file), trust, hub=None if args.offline else hub, state=_state(args),
                      as_json=args.json, ocr=not args.no_ocr)


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


def _add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage verify`` (= ``linkage audit verify``), ``linkage audit watch|accesses``, ``linkage revoke``."""
    env = os.environ.get

    def hub_flags(p: argparse.ArgumentParser, agency: str | None) -> None:
        with_home(p)
        p.add_argument("--ca", default=env("LINKAGE_CA"), help="trust root (LINKAGE_CA; default DIR/pki/ca.pem)")
        p.add_argument("--hub", default=env("LINKAGE_HUB"), help="hub HOST:PORT (LINKAGE_HUB; default from "
                                                                  "DIR/endpoints.json)")
        p.add_argument("--cert", default=env("LINKAGE_CERT"), help="agency TLS certificate (LINKAGE_CERT)")
        p.add_argument("--key", default=env("LINKAGE_KEY"), help="agency TLS key (LINKAGE_KEY)")
        if agency is None:
            p.add_argument("--agency", required=True, help="the agency acting (its certificate is used)")
        else:
            p.add_argument("--agency", default=env("LINKAGE_AGENCY", agency),
                           help=f"agency whose certificate is used (LINKAGE_AGENCY, default {agency})")

    def log_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--log-key", default=env("LINKAGE_LOG_KEY"),
                       help="the log's note verifier key, a file or the key text (LINKAGE_LOG_KEY; "
                            "default DIR/pki/log-note.vkey)")
        p.add_argument("--origin", default=env("LINKAGE_LOG_ORIGIN"),
                       help="the log's origin (LINKAGE_LOG_ORIGIN; default [hub] log_origin in DIR/linkage.toml)")
        p.add_argument("--state", default=env("LINKAGE_AUDITOR_STATE"),
                       help="checkpoints seen before (LINKAGE_AUDITOR_STATE, default ~/.linkage-auditor/state.json)")

    def verify_parser(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="printout bundle (.json), compact JWS, signed PDF, or the QR code(s) of a "
                                    "certified printout as text or as a photo (PNG/JPEG) of the paper")
        hub_flags(p, "auditor")
        log_flags(p)
        p.add_argument("--agency-certs", default=env("LINKAGE_AGENCY_CERTS"),
                       help="folder of agency certificates (*.pem) that may sign QR summaries "
                            "(LINKAGE_AGENCY_CERTS; default DIR/pki/clients)")
        p.add_argument("--offline", action="store_true",
                       help="do not ask the hub: skip fetching log proofs for printouts that carry none (4-6), "
                            "consistency with other sizes (6) and revocation (7); the report says which")
        p.add_argument("--no-ocr", action="store_true", default=env("LINKAGE_NO_OCR", "") == "1",
                       help="for a photo of a paper: do not read its printed text to compare with the QR code "
                            "(check 8; LINKAGE_NO_OCR=1)")
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linkage", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log at info level (what servers do anyway: one line per request)")
    parser.add_argument("--log-level", type=str.lower, default=os.environ.get("LINKAGE_LOG_LEVEL"),
                        metavar="|".join(LEVELS),
                        help="what goes to stderr, as JSON lines (LINKAGE_LOG_LEVEL; default info for serve-*"
                             " and up, which passes it to the servers it starts; warning for the other commands)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = with_home(sub.add_parser("init", help="make a sandbox: CA, certificates, config, data, personas"))
    p.add_argument("--citizens", type=int, default=int(os.environ.get("LINKAGE_CITIZENS", "10000")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("LINKAGE_SEED", "1")))
    p.add_argument("--force", action="store_true", help="replace an existing sandbox (deletes its data)")
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE", ""), help=_DATABASE_HELP)
    p.set_defaults(func=_cmd_init)

    p = with_home(sub.add_parser("up", help="start the registries, the hub and the counter (initialises if needed)"))
    p.add_argument("--citizens", type=int, default=int(os.environ.get("LINKAGE_CITIZENS", "10000")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("LINKAGE_SEED", "1")))
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE", ""), help=_DATABASE_HELP)
    p.add_argument("--replicas", type=int, default=int(os.environ.get("LINKAGE_REPLICAS", "1")),
                   help="hub processes sharing one log (LINKAGE_REPLICAS, default 1; more need --database)")
    p.set_defaults(func=_cmd_up)

    p = with_home(sub.add_parser("fetch", help="fetch one sealed printout as an agency"))
    p.add_argument("--agency", required=True, help="agency name, as in the config (its certificate is used)")
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
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--citizens", type=int, default=10_000)
    p.add_argument("--home", help="use this sandbox instead of a fresh one in a temporary folder")
    p.add_argument("--replicas", type=int, default=1, help="hub replicas sharing one log (needs --database)")
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE"),
                   help="postgresql://USER@HOST:PORT/DBNAME: bench on PostgreSQL, in a database of its own made"
                        " there and dropped afterwards (LINKAGE_DATABASE; default SQLite)")
    p.set_defaults(func=_cmd_bench)

    serve.add_commands(sub)
    return parser


def _level(args: argparse.Namespace) -> str:
    """The log level asked for: --log-level (LINKAGE_LOG_LEVEL), else -v's info, else the command's default."""
    if args.log_level:
        return str(args.log_level)
    return "info" if args.verbose or _server(args) else "warning"


def _server(args: argparse.Namespace) -> str:
    """The name the log lines of a command that runs servers carry ("hub", a registry's name, "counter",
    "sandbox" for up), or ""."""
    return "sandbox" if args.command == "up" else serve.server_name(args)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.log_level is not None and args.log_level not in LEVELS:
        parser.error(f"--log-level (LINKAGE_LOG_LEVEL) {args.log_level!r}: use one of {', '.join(LEVELS)}")
    # The one place logging is configured: every record this process writes is a JSON line on stderr.
    configure_logging(_level(args), server=_server(args))
    server = bool(serve.server_name(args))

    def refuse(message: str) -> None:
        if server:  # a server's stderr holds JSON lines only (up's is the console's)
            _log.error(message)
        else:
            print(message, file=sys.stderr)

    try:
        return int(args.func(args))
    except ConfigError as exc:
        refuse(f"linkage: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from consumers.client.errors import ClientSetupError
        from linkage.cli.sandbox import SandboxError

        # StorageError: PostgreSQL down, or a newer schema; ClientSetupError: e.g. an expired agency certificate.
        if isinstance(exc, SandboxError | StorageError | ClientSetupError):
            refuse(f"linkage: {exc}")
            return 2
        if server:
            _log.critical("stopped by an unexpected error", exc_info=True)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
