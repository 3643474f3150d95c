"""The `linkage` command: one entry point for the sandbox, agencies and auditors.

    linkage init    make a sandbox: CA, certificates, config, seeded registries, personas
    linkage up      start the registries, hubs and counter; restart any that exits (--detach: in the background)
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
    linkage counter the counter's back office: `counter disburse` pays a month's allowances through PromptPay
    linkage bench   measure the hub against direct provider reads

Every flag defaults from a LINKAGE_* environment variable where one is named.
Exit codes: 0 success, 1 the thing checked is invalid or the request was refused,
2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from pathlib import Path

from linkage.cli.common import with_home
from linkage.config import ConfigError, Home, load_settings
from linkage.logs import LEVELS, configure_logging
from linkage.storage import Database, StorageError, parse_database

__all__ = ["main"]

# The commands other modules add (each with its ``add_commands``), in the order --help lists them, with the
# line --help shows (tests/test_cli.py checks each against the module's own). Only the module of the command
# being run is imported: `linkage verify` does not load the hub, the registries' faults or the counter.
_BEFORE_BENCH: tuple[tuple[str, dict[str, str]], ...] = (
    ("linkage.cli.env", {"env": 'print export lines for a shell (eval "$(linkage env)"): LINKAGE_HOME, the hub and'
                                " counter addresses, officers and persona IDs"}),
    ("linkage.cli.printouts", {
        "fetch": "fetch one sealed printout as an agency",
        "verify": "check a printout (bundle, JWS, signed PDF, QR text or picture): seal, officer's certification,"
                  " log proof, consistency, revocation (= audit verify)",
        "audit": "auditors' tools: verify printouts, watch the log, list accesses",
        "revoke": "revoke a printout your agency was issued, with a reason"}),
    ("linkage.cli.agencies", {"agency": "onboard an agency, revoke it, list who may read what"}),
    ("linkage.cli.keys", {"keys": "rotate the hub's seal key and the log's checkpoint key; list them"}),
    ("linkage.cli.faults", {"faults": "inject faults in the sandbox's registries: latency, errors, outages"}),
    ("linkage.cli.conformance", {
        "conformance": "check that a registry implements linkage.v1.ProviderService correctly"}),
    ("linkage.cli.status", {"status": "health of every component of the running sandbox, its last checkpoint and"
                                      " each provider's circuit breaker"}),
    ("linkage.cli.counter", {"counter": "the counter's back office: the monthly allowance payment run"}),
)
_AFTER_BENCH: tuple[tuple[str, dict[str, str]], ...] = (
    ("linkage.cli.serve", {
        "serve-hub": "run the hub in the foreground (used by up)",
        "serve-provider": "run one registry in the foreground (used by up)",
        "serve-counter": "run the counter web app in the foreground (used by up); LINKAGE_COUNTER_* variables"
                         " configure it",
        "serve-payments": "run the mock payment switch in the foreground (used by up): it pays Thai QR bills on a"
                          " sandbox call and notifies the biller",
        "serve-witness": "run one witness of the log in the foreground (used by up): it cosigns each checkpoint"
                         " consistent with the last",
        "serve-tsa": "run the time-stamping authority (RFC 3161) and the CA's CRL in the foreground (used by up)"}),
)
_ALL = "*"


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


async def _up(home: Home, replicas: int = 1, log_level: str = "info", workers: int = 1) -> int:
    """Run the sandbox until Ctrl-C or SIGTERM (0), or until a component keeps failing to start (1)."""
    import asyncio
    import signal

    from linkage.cli.env import officer_lines
    from linkage.cli.stack import start_stack, write_endpoints
    from linkage.cli.supervisor import supervise

    settings = load_settings(home)
    stack = await start_stack(settings, replicas=replicas, log_level=log_level, workers=workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gave_up = None
    try:
        path = write_endpoints(stack)
        print(f"linkage sandbox is up (Ctrl-C to stop)\n  hub: {stack.addresses['hub']}")
        for i in range(2, replicas + 1):
            print(f"  hub-{i}: {stack.addresses[f'hub-{i}']}")
        if workers > 1:
            print(f"  {workers} hub processes (workers) on each replica's port")
        for name in settings.providers:
            print(f"  {name}: {stack.addresses[name]}")
        for name in settings.witnesses:
            print(f"  {name}: http://{stack.addresses[name]}")
        counter = f"http://{stack.addresses['counter']}/".replace("http://127.0.0.1:", "http://localhost:")
        print(f"  counter: {counter}")
        print(f"  tsa: http://{stack.addresses['tsa']}/ (RFC 3161; the CA's CRL at /crl)")
        for line in officer_lines(home, settings, counter):
            print(line)
        print(f"  endpoints: {path}", flush=True)
        gave_up = await supervise(stack, stop)
        if gave_up:
            print(f"stopping: {gave_up}", file=sys.stderr)
    finally:
        await stack.stop()
        home.endpoints.unlink(missing_ok=True)
        home.supervisor.unlink(missing_ok=True)
        print("linkage sandbox stopped", flush=True)
    return 1 if gave_up else 0


def _database(text: str) -> Database | None:
    """--database: a postgresql:// URL, or empty for SQLite files. Raises ConfigError saying what would be right."""
    try:
        return parse_database(text)
    except StorageError as exc:
        raise ConfigError(str(exc)) from None


def _cmd_up(args: argparse.Namespace) -> int:
    import asyncio

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
        return asyncio.run(_up(home, args.replicas, _level(args), args.workers))


def _cmd_down(args: argparse.Namespace) -> int:
    from linkage.cli.background import down

    return down(Home(Path(args.home).resolve()), args.timeout)


def _cmd_bench(args: argparse.Namespace) -> int:
    from linkage.cli.bench import run_bench

    return run_bench(args)


_DATABASE_HELP = ("postgresql://USER@HOST:PORT/DBNAME: keep the registries and the exchange log there"
                  " (LINKAGE_DATABASE; default: SQLite files in DIR/data)")


_CITIZENS_HELP = "how many citizens the civil registry holds (LINKAGE_CITIZENS, default 10000)"
_SEED_HELP = "seed of the synthetic data: the same seed makes the same people (LINKAGE_SEED, default 1)"
_PORTS_HELP = ("ports written into DIR/linkage.toml (LINKAGE_PORTS): default (hub 7443, registries 7451-7454,"
               " counter 8080), auto (free ones, so that several sandboxes run on one machine) or a base port"
               " BASE (hub BASE, then BASE+1, … for the registries and the counter)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("linkage")
    except PackageNotFoundError:
        return "(not installed: run scripts/sandbox or pip install -e .)"


class _VersionAction(argparse.Action):
    """--version: looks the version up only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"linkage {_version()}")
        parser.exit()


def _commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
              modules: tuple[tuple[str, dict[str, str]], ...], load: str) -> None:
    """Add the commands of modules: every module's when load is _ALL, else load's own (by its add_commands), and
    a bare entry (its --help line) for each of the others."""
    for module, commands in modules:
        if load in (_ALL, module):
            importlib.import_module(module).add_commands(sub)
        else:
            for name, line in commands.items():
                sub.add_parser(name, help=line, add_help=False)


def _parser(load: str = _ALL) -> argparse.ArgumentParser:
    """The command line's parser; load: the module whose commands are complete ("" none, _ALL every one)."""
    parser = argparse.ArgumentParser(prog="linkage", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log at info level (what servers do anyway: one line per request)")
    parser.add_argument("--log-level", type=str.lower, default=os.environ.get("LINKAGE_LOG_LEVEL"),
                        metavar="|".join(LEVELS),
                        help="what goes to stderr, as JSON lines (LINKAGE_LOG_LEVEL; default info for serve-*"
                             " and up, which passes it to the servers it starts; warning for the other commands)")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
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
    p.add_argument("--workers", type=int, default=int(os.environ.get("LINKAGE_WORKERS", "1")),
                   help="hub processes on each replica's one port (SO_REUSEPORT), sharing the log (LINKAGE_WORKERS,"
                        " default 1; more need --database)")
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
    _commands(sub, _BEFORE_BENCH, load)

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
    p.add_argument("--workers", default="",
                   help="compare hub throughput with 1, 2, 4 … hub processes on one port, e.g. 1,2,4 (needs"
                        " --database; replaces the hub/direct comparison)")
    p.add_argument("--database", default=os.environ.get("LINKAGE_DATABASE"),
                   help="postgresql://USER@HOST:PORT/DBNAME: bench on PostgreSQL, in a database of its own made"
                        " there and dropped afterwards (LINKAGE_DATABASE; default SQLite)")
    p.set_defaults(func=_cmd_bench)

    _commands(sub, _AFTER_BENCH, load)
    return parser


def _module_of(argv: list[str]) -> str:
    """The module whose commands the command line names ("" for one of this module's, or none at all, as in
    --help; _ALL when the word is no command, so that argparse's error lists them all)."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            if word in ("init", "up", "down", "bench"):
                return ""
            found = [module for module, commands in (*_BEFORE_BENCH, *_AFTER_BENCH) if word in commands]
            return found[0] if found else _ALL
    return ""


def _level(args: argparse.Namespace) -> str:
    """The log level asked for: --log-level (LINKAGE_LOG_LEVEL), else -v's info, else the command's default."""
    if args.log_level:
        return str(args.log_level)
    return "info" if args.verbose or _server(args) else "warning"


def _server(args: argparse.Namespace) -> str:
    """The name the log lines of a command that runs servers carry ("hub", a registry's name, "counter",
    "sandbox" for up), or ""."""
    if args.command == "up":
        return "sandbox"
    if not str(args.command).startswith("serve-"):
        return ""
    from linkage.cli import serve

    return serve.server_name(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(_module_of(argv))
    args = parser.parse_args(argv)
    if args.log_level is not None and args.log_level not in LEVELS:
        parser.error(f"--log-level (LINKAGE_LOG_LEVEL) {args.log_level!r}: use one of {', '.join(LEVELS)}")
    # The one place logging is configured: every record this process writes is a JSON line on stderr.
    configure_logging(_level(args), server=_server(args))
    server = bool(_server(args)) and args.command != "up"

    def refuse(message: str) -> None:
        if server:  # a server's stderr holds JSON lines only (up's is the console's)
            _log.error(message)
        else:
            print(message, file=sys.stderr)

    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, so that a reader gone away (`| head`) is met below, not at exit
        return code
    except BrokenPipeError:
        # The reader of stdout stopped reading: stop too, quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
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
