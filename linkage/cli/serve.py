"""The commands that run one server in the foreground, as `linkage up` starts them (linkage/cli/stack.py).

    linkage serve-hub [--port P] [--metrics-port M] [--reuse-port]  the hub
    linkage serve-provider NAME [--port P] [--metrics-port M]  one registry
    linkage serve-counter [--port P]                           the counter web app
    linkage serve-witness NAME [--port P]                      one witness of the log (linkage/witness/)
    linkage serve-tsa [--port P]                               the time-stamping authority and the CA's CRL
                                                               (linkage/tsa/)
    linkage serve-payments [--port P]                          the mock payment switch (providers/payswitch/)

Each prints ``LISTENING HOST:PORT [metrics=URL]`` on stdout once it listens (what `linkage up` waits
for) and runs until SIGINT or SIGTERM. Everything it writes to stderr is a JSON line (linkage/logs.py;
``main`` configures that): one per request, its refusals to start (exit 2: no such registry; 3: the port is
taken) and a crash's traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from linkage.cli.common import with_home
from linkage.config import Home, load_settings
from linkage.serverconfig import join_address

__all__ = ["add_commands", "server_name"]

_log = logging.getLogger("linkage.cli")
_NAMES = {"serve-hub": "hub", "serve-counter": "counter", "serve-tsa": "tsa", "serve-payments": "payments"}


def server_name(args: argparse.Namespace) -> str:
    """The name a server command's log lines carry ("hub", the registry's name, "counter"), or "" for any
    other command."""
    if args.command in ("serve-provider", "serve-witness"):
        return str(args.name)
    return _NAMES.get(args.command, "")


def _serve_ready(host: str, port: int, metrics: str = "") -> None:
    """The line `linkage up` waits for: the address, and where the metrics are served (if apart); and its log line."""
    _log.info("listening", extra={"host": host, "port": port, **({"metrics": metrics} if metrics else {})})
    print(f"LISTENING {join_address(host, port)}" + (f" metrics={metrics}" if metrics else ""), flush=True)


def _cmd_serve_hub(args: argparse.Namespace) -> int:
    from linkage.hub.server import build_server

    async def run() -> None:
        import signal

        settings = load_settings(Home(Path(args.home).resolve()))
        running = await build_server(settings, args.port, args.metrics_port, args.reuse_port)
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
    except OSError as exc:  # PortInUse, or another reason it cannot listen (linkage.ports.listen_failure)
        _log.error("hub: %s", exc)
        return 3
    return 0


def _cmd_serve_provider(args: argparse.Namespace) -> int:
    from linkage.ports import PortInUse, choose_port
    from providers.server import serve

    home = Home(Path(args.home).resolve())
    settings = load_settings(home)
    if args.name not in settings.providers:
        _log.error("no provider named %r; configured: %s", args.name, ", ".join(settings.providers))
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
        _log.error("%s: %s", args.name, exc)
        return 3
    except OSError as exc:
        _log.error("%s: %s", args.name, exc)
        return 3
    return 0


def _cmd_serve_counter(args: argparse.Namespace) -> int:
    from consumers.counter.app import serve
    from linkage.ports import PortInUse, choose_port, listen_failure

    home = Home(Path(args.home).resolve())
    config = load_settings(home).counter
    port = config.port if args.port is None else args.port
    try:
        asyncio.run(_until_signal(serve(home, port, lambda bound: _serve_ready(config.host, bound))))
    except OSError as exc:
        # "taken" only when it is: a port that needs privileges, or any other failure, is said as it is.
        failure = listen_failure(join_address(config.host, port), choose_port("counter", "LINKAGE_COUNTER_PORT",
                                                                              home.config_file))
        _log.error("counter: %s", failure if isinstance(failure, PortInUse) else exc)
        return 3
    return 0


def _cmd_serve_payments(args: argparse.Namespace) -> int:
    from linkage.ports import PortInUse, choose_port
    from providers.payswitch.server import serve

    home = Home(Path(args.home).resolve())
    config = load_settings(home).payments
    port = config.port if args.port is None else args.port
    try:
        asyncio.run(_until_signal(serve(home, port, lambda bound: _serve_ready(config.host, bound))))
    except OSError as exc:
        taken = PortInUse(join_address(config.host, port), choose_port("payments", "LINKAGE_PAYMENTS_PORT",
                                                                       home.config_file), exc.strerror or str(exc))
        _log.error("payments: %s", taken)
        return 3
    return 0


def _cmd_serve_witness(args: argparse.Namespace) -> int:
    from linkage.ports import PortInUse, choose_port
    from linkage.witness import BadWitnessState, serve, witness_from_home

    home = Home(Path(args.home).resolve())
    try:
        witness = witness_from_home(home, args.name)
    except BadWitnessState as exc:
        _log.error("%s: %s", args.name, exc.message)
        return 2
    configured = load_settings(home).witnesses[args.name]
    port = configured.port if args.port is None else args.port
    host = configured.host
    try:
        asyncio.run(_until_signal(serve(witness, host, port, lambda bound: _serve_ready(host, bound))))
    except OSError as exc:
        variable = f"LINKAGE_WITNESSES_{args.name}_PORT".upper()
        taken = PortInUse(join_address(host, port), choose_port(f"witnesses.{args.name}", variable, home.config_file),
                          exc.strerror or str(exc))
        _log.error("%s: %s", args.name, taken)
        return 3
    return 0


def _cmd_serve_tsa(args: argparse.Namespace) -> int:
    from linkage.ports import PortInUse, choose_port
    from linkage.tsa import serve, tsa_from_home

    home = Home(Path(args.home).resolve())
    try:
        authority, crl = tsa_from_home(home)
    except (OSError, ValueError) as exc:
        _log.error("tsa: cannot load or issue the time-stamping authority's certificate or the CA's CRL: %s", exc)
        return 2
    config = load_settings(home).tsa
    port = config.port if args.port is None else args.port
    try:
        asyncio.run(_until_signal(serve(authority, crl, config.host, port,
                                        lambda bound: _serve_ready(config.host, bound))))
    except OSError as exc:
        taken = PortInUse(join_address(config.host, port), choose_port("tsa", "LINKAGE_TSA_PORT", home.config_file),
                          exc.strerror or str(exc))
        _log.error("tsa: %s", taken)
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


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage serve-hub``, ``serve-provider`` and ``serve-counter``."""
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
        if name == "serve-hub":
            p.add_argument("--reuse-port", action="store_true",
                           help="share the port with other hub processes (SO_REUSEPORT; `linkage up --workers N`)")
        p.set_defaults(func=_cmd_serve_hub if name == "serve-hub" else _cmd_serve_provider)
    p = with_home(sub.add_parser("serve-counter", help="run the counter web app in the foreground (used by up);"
                                 " LINKAGE_COUNTER_* variables configure it"))
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: [counter] port in DIR/linkage.toml, or LINKAGE_COUNTER_PORT)")
    p.set_defaults(func=_cmd_serve_counter)
    p = with_home(sub.add_parser("serve-payments", help="run the mock payment switch in the foreground (used by up):"
                                 " it pays Thai QR bills on a sandbox call and notifies the biller"))
    p.add_argument("--port", type=int, default=None,
                   help="default: [payments] port in DIR/linkage.toml (LINKAGE_PAYMENTS_PORT); 0: any free port")
    p.set_defaults(func=_cmd_serve_payments)
    p = with_home(sub.add_parser("serve-witness", help="run one witness of the log in the foreground (used by up):"
                                 " it cosigns each checkpoint consistent with the last"))
    p.add_argument("name", help="the witness, as in [witnesses.NAME] of linkage.toml")
    p.add_argument("--port", type=int, default=None,
                   help="default: [witnesses.NAME] port (LINKAGE_WITNESSES_<NAME>_PORT); 0: any free port")
    p.set_defaults(func=_cmd_serve_witness)
    p = with_home(sub.add_parser("serve-tsa", help="run the time-stamping authority (RFC 3161) and the CA's CRL"
                                 " in the foreground (used by up)"))
    p.add_argument("--port", type=int, default=None,
                   help="default: [tsa] port of DIR/linkage.toml (LINKAGE_TSA_PORT); 0: any free port")
    p.set_defaults(func=_cmd_serve_tsa)
