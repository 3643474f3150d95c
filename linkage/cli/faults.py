"""``linkage faults``: set, clear and show the faults of the sandbox's mock registries.

    linkage faults set NAME [--latency 200ms] [--jitter 50ms] [--error-rate 0.1] [--error UNAVAILABLE]
                            [--outage 30s] [--seed N]
    linkage faults clear [NAME]
    linkage faults show [NAME]

Each talks to a registry's ``ProviderAdmin`` (proto/linkage/v1/provider.proto) with the
sandbox administrator's certificate, DIR/pki/clients/sandbox-admin.pem. The registries of a
running sandbox are found in DIR/endpoints.json; ``--address HOST:PORT`` reaches one
elsewhere. ``set`` replaces the registry's faults with those given. Durations take a unit:
``200ms``, ``1.5s``, ``30s``, ``2m``. Settings are checked before anything is sent.

Exit codes: 0 done; 1 a registry refused or did not answer; 2 bad usage or settings out of
range, and then nothing was changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path

import grpc

from linkage import pki
from linkage.config import ConfigError, Home
from linkage.errors import InvalidRequest, from_rpc_error
from linkage.v1 import provider_pb2, provider_pb2_grpc
from providers.faults import ADMIN_CLIENT, ERROR_CODES, FaultPlan

__all__ = ["add_commands", "parse_duration"]

_UNITS = {"ms": 1, "s": 1000, "m": 60_000}
_DURATION = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(ms|s|m)")
_RPC_TIMEOUT_S = 10.0
_BAD_USAGE = 2


def parse_duration(text: str) -> int:
    """Milliseconds in "200ms", "1.5s", "30s" or "2m". Raises argparse.ArgumentTypeError saying what is wrong.

    A negative duration parses (to a negative number): FaultPlan.check refuses it with the range it must be in.
    """
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a duration: write a number and a unit (ms, s or m), e.g. 200ms, 1.5s or 30s")
    ms = float(found[1]) * _UNITS[found[2]]
    if ms != int(ms):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is finer than a millisecond; e.g. 1.5ms is not allowed")
    if abs(ms) > 10**12:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is far too long")
    return int(ms)


def _rate(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a number: the error rate is a share of calls from 0 to 1, e.g. 0.1") from None


class _Refused(Exception):
    """A registry refused or did not answer; exit 1."""


def _targets(home: Home, name: str | None, address: str | None) -> dict[str, str]:
    """Registry name -> HOST:PORT. Raises ConfigError (exit 2) naming what is missing."""
    if address:
        if not name:
            raise ConfigError("--address reaches one registry: name it too, e.g. `linkage faults show dopa"
                              f" --address {address}`")
        return {name: address}
    try:
        running = json.loads(home.endpoints.read_text(encoding="utf-8"))["providers"]
    except FileNotFoundError:
        raise ConfigError(f"the sandbox in {home.root} is not running (no {home.endpoints}): start it with"
                          f" `linkage up --home {home.root}`, or give --address HOST:PORT") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{home.endpoints}: cannot read the registries' addresses: {exc}") from exc
    if name is None:
        return {str(k): str(v) for k, v in running.items()}
    if name not in running:
        raise ConfigError(f"no registry named {name!r} in the running sandbox; known: {', '.join(running)}")
    return {name: str(running[name])}


def _credentials(home: Home) -> grpc.ChannelCredentials:
    admin = home.client_cert(ADMIN_CLIENT)
    if not admin.cert.exists():
        raise ConfigError(f"no administrator certificate at {admin.cert}: this sandbox was made before"
                          f" `linkage faults` existed; make a new one with `linkage init --force --home {home.root}`")
    return pki.channel_credentials(home.ca.cert, admin)


def _ms(ms: int) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms} ms"


def _render(state: provider_pb2.FaultState) -> str:
    """One line: the faults in force on a registry and what they did."""
    f, s = state.faults, state.stats
    parts = []
    if f.latency_ms or f.jitter_ms:
        parts.append(f"latency {_ms(f.latency_ms)}" + (f" ± {_ms(f.jitter_ms)}" if f.jitter_ms else ""))
    if f.error_rate:
        parts.append(f"error rate {f.error_rate:g} ({f.error})")
    if state.outage_remaining_ms:
        parts.append(f"outage ({f.error}), {_ms(state.outage_remaining_ms)} left")
    faults = ", ".join(parts) + f"; seed {f.seed}" if parts else "no faults"
    return (f"{state.provider}: {faults} | calls {s.calls}, delayed {s.delayed}, errors injected"
            f" {s.errors_injected}, refused in outage {s.refused_in_outage}")


async def _each(home: Home, targets: dict[str, str], method: str, request: object) -> int:
    creds = _credentials(home)
    code = 0
    for name, address in targets.items():
        async with grpc.aio.secure_channel(address, creds) as channel:
            try:
                state = await getattr(provider_pb2_grpc.ProviderAdminStub(channel), method)(
                    request, timeout=_RPC_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                err = from_rpc_error(exc)
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    print(f"{name}: no answer from {address} ({exc.code().name}): is the sandbox up?", file=sys.stderr)
                else:
                    print(f"{name}: refused ({exc.code().name}, {err.code}): {err.message}", file=sys.stderr)
                code = _BAD_USAGE if exc.code() == grpc.StatusCode.INVALID_ARGUMENT else max(code, 1)
                continue
        print(_render(state))
    return code


def _home(args: argparse.Namespace) -> Home:
    return Home(Path(args.home).resolve())


def _cmd_set(args: argparse.Namespace) -> int:
    given = [args.latency, args.jitter, args.error_rate, args.outage]
    if all(v is None for v in given):
        print("linkage faults set: give at least one of --latency, --jitter, --error-rate, --outage"
              f" (to remove faults: linkage faults clear {args.name})", file=sys.stderr)
        return _BAD_USAGE
    plan = FaultPlan(latency_ms=args.latency or 0, jitter_ms=args.jitter or 0, error_rate=args.error_rate or 0.0,
                     error=args.error.strip().upper(), outage_ms=args.outage or 0, seed=args.seed)
    if not 0 <= plan.seed < 2**64:
        print(f"linkage faults set: --seed must be between 0 and 2**64-1, got {plan.seed}", file=sys.stderr)
        return _BAD_USAGE
    try:
        plan.check()
    except InvalidRequest as err:
        print(f"linkage faults set: {err.message}", file=sys.stderr)
        return _BAD_USAGE
    home = _home(args)
    targets = _targets(home, args.name, args.address)
    return asyncio.run(_each(home, targets, "SetFaults", provider_pb2.SetFaultsRequest(faults=plan.to_proto())))


def _cmd_clear(args: argparse.Namespace) -> int:
    home = _home(args)
    return asyncio.run(_each(home, _targets(home, args.name, args.address), "ClearFaults",
                             provider_pb2.ClearFaultsRequest()))


def _cmd_show(args: argparse.Namespace) -> int:
    home = _home(args)
    return asyncio.run(_each(home, _targets(home, args.name, args.address), "GetFaults",
                             provider_pb2.GetFaultsRequest()))


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage faults set|clear|show``."""
    from linkage.cli.common import with_home  # cli imports this module: at call time it is complete

    faults = sub.add_parser("faults", help="inject faults in the sandbox's registries: latency, errors, outages")
    faults_sub = faults.add_subparsers(dest="faults_command", required=True, metavar="FAULTS_COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        with_home(p)
        p.add_argument("--address", default=os.environ.get("LINKAGE_FAULTS_ADDRESS"),
                       help="HOST:PORT of the registry (LINKAGE_FAULTS_ADDRESS; default from DIR/endpoints.json)")

    p = faults_sub.add_parser("set", help="replace a registry's faults with these")
    p.add_argument("name", help="the registry, e.g. dopa")
    p.add_argument("--latency", type=parse_duration, help="delay added to every call, e.g. 200ms")
    p.add_argument("--jitter", type=parse_duration, help="each delay varies by up to this much, e.g. 50ms")
    p.add_argument("--error-rate", type=_rate, help="share of calls that fail, from 0 to 1, e.g. 0.1")
    p.add_argument("--error", default="UNAVAILABLE",
                   help=f"status code of the failures (default UNAVAILABLE): {', '.join(ERROR_CODES)}")
    p.add_argument("--outage", type=parse_duration, help="fail every call, starting now, for this long, e.g. 30s")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws, to repeat a run (default: random)")
    common(p)
    p.set_defaults(func=_cmd_set)
    # So that `--latency -5ms` reaches parse_duration (and FaultPlan.check's message) instead of
    # argparse taking "-5ms" for an option and saying only "expected one argument".
    p._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)(ms|s|m)?$")

    p = faults_sub.add_parser("clear", help="remove every fault (of one registry, or of all)")
    p.add_argument("name", nargs="?", help="the registry (default: every one)")
    common(p)
    p.set_defaults(func=_cmd_clear)

    p = faults_sub.add_parser("show", help="the faults in force and what they did")
    p.add_argument("name", nargs="?", help="the registry (default: every one)")
    common(p)
    p.set_defaults(func=_cmd_show)
