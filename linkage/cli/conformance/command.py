"""The provider conformance kit: will a registry work behind the hub, before an agency connects it?

    linkage conformance --provider HOST:PORT [--home DIR | --ca FILE --cert FILE --key FILE]
                        [--id DOC_TYPE=ID ...] [--junit FILE] [--timeout S]

Sample IDs come from ``--id DOC_TYPE=ID`` (a provider team's own test records; pass the largest you
have) and, with ``--home``, from the sandbox's personas.json.

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or a target that cannot be tested.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from linkage import pki
from linkage.cli.conformance.calls import SERVICE
from linkage.cli.conformance.errors import ConformanceError, UsageError
from linkage.cli.conformance.probe import Credentials, split_target
from linkage.cli.conformance.report import write_junit, write_junit_error
from linkage.cli.conformance.state import DOC_TYPE_CODE, Sample
from linkage.cli.conformance.suite import run_suite
from linkage.config import Home
from linkage.errors import InvalidRequest
from linkage.ids import parse_id

__all__ = ["add_commands", "run_conformance"]


def _credentials(args: argparse.Namespace) -> tuple[Credentials, Home | None, float]:
    """Credentials, the sandbox home (for personas.json) and the default call deadline in seconds."""
    from linkage.config import ConfigError, load_settings
    from linkage.pki import HUB_CLIENT
    from linkage.serverconfig import HubConfig

    given = {flag: getattr(args, flag) for flag in ("ca", "cert", "key")}
    env = {flag: os.environ.get(f"LINKAGE_{flag.upper()}") for flag in given}
    if args.home is not None and any(given.values()):
        raise UsageError("give either --home DIR or --ca FILE --cert FILE --key FILE, not both")
    timeout = HubConfig().provider_timeout_ms / 1000
    if args.home is None and not any(given.values()) and any(env.values()):
        given = env
    if any(given.values()):
        missing = [f"--{flag}" for flag, value in given.items() if not value]
        if missing:
            raise UsageError(f"--ca, --cert and --key go together: missing {', '.join(missing)}")
        creds = Credentials(Path(given["ca"]), pki.CertPaths(Path(given["cert"]), Path(given["key"])))
        home = None
    else:
        home = Home(Path(args.home or os.environ.get("LINKAGE_HOME", str(Path.home() / ".linkage"))).resolve())
        creds = Credentials(home.ca.cert, home.client_cert(HUB_CLIENT))
        if home.config_file.exists():
            try:
                timeout = load_settings(home).hub.provider_timeout_ms / 1000
            except ConfigError as exc:
                raise UsageError(str(exc)) from None
    for what, path in (("CA certificate", creds.ca), ("client certificate", creds.own.cert),
                       ("client key", creds.own.key)):
        if not path.is_file():
            hint = (f" (is {home.root} a sandbox? make one with `linkage init --home {home.root}`, or pass --ca,"
                    " --cert and --key)") if home else ""
            raise UsageError(f"no {what} at {path}{hint}")
    return creds, home, timeout


def _samples(args: argparse.Namespace, home: Path | None) -> list[Sample]:
    samples = []
    for raw in args.id or []:
        doc_type, sep, subject = raw.partition("=")
        if not sep or not DOC_TYPE_CODE.match(doc_type.strip()):
            raise UsageError(f"--id must be DOC_TYPE=ID (e.g. dopa.person=1101700230708), got {raw!r}")
        try:
            subject_id = parse_id(subject, what=f"--id {doc_type.strip()}")
        except InvalidRequest as exc:
            raise UsageError(exc.message) from None
        samples.append(Sample(doc_type.strip(), subject_id, "--id"))
    if home is not None:
        personas = home / "personas.json"
        try:
            entries = json.loads(personas.read_text(encoding="utf-8")) if personas.exists() else []
        except (OSError, ValueError) as exc:
            raise UsageError(f"{personas}: cannot read: {exc}") from None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                samples += [Sample(str(code), entry["id"], "personas.json") for code in entry.get("doc_types", [])]
    return list(dict.fromkeys(samples))


async def run_conformance(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The `linkage conformance` command, parsed by a parser that add_commands built; the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.timeout is not None and not 0 < args.timeout <= 600:
            raise UsageError(f"--timeout must be between 0 and 600 seconds, got {args.timeout:g}")
        split_target(args.provider)
        creds, home, timeout = _credentials(args)
        timeout = args.timeout if args.timeout is not None else timeout
        samples = _samples(args, home.root if home else None)
        if args.junit and not Path(args.junit).parent.is_dir():
            raise UsageError(f"--junit: no folder {Path(args.junit).parent} to write {Path(args.junit).name} in")
    except UsageError as exc:
        print(f"linkage conformance: {exc.message}", file=err)
        return 2
    print(f"conformance of {args.provider} to {SERVICE.full_name} (deadline {timeout:g} s,"
          f" {len(samples)} sample IDs)", file=out, flush=True)
    try:
        report = await run_suite(args.provider, creds, samples, timeout=timeout,
                                 progress=lambda r: print(r.line(), file=out, flush=True))
    except ConformanceError as exc:
        print(f"linkage conformance: cannot test {args.provider}: {exc.message}", file=err)
        if args.junit:
            write_junit_error(args.provider, exc, Path(args.junit))
        return 2
    failed = report.failed()
    verdict = (f"all {len(report.results)} checks passed" if not failed else
               f"{len(failed)} of {len(report.results)} checks failed: {', '.join(failed)}")
    print(f"{report.provider or args.provider}: {verdict}", file=out)
    if args.junit:
        write_junit(report, Path(args.junit))
        print(f"JUnit report: {args.junit}", file=out)
    return 0 if report.passed else 1


def _cmd_conformance(args: argparse.Namespace) -> int:
    return asyncio.run(run_conformance(args))


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 2.5, got {text!r}") from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``linkage conformance``: check a ProviderService before the hub relies on it."""
    p = sub.add_parser("conformance", help="check that a registry implements linkage.v1.ProviderService correctly",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--provider", required=True, help="the registry under test, HOST:PORT")
    p.add_argument("--home", default=None,
                   help="sandbox folder: its CA, the hub's client certificate and personas.json as sample IDs"
                        " (default LINKAGE_HOME or ~/.linkage unless --ca/--cert/--key are given)")
    p.add_argument("--ca", help="CA certificate that issued the registry's (LINKAGE_CA)")
    p.add_argument("--cert", help="client certificate the registry accepts (LINKAGE_CERT)")
    p.add_argument("--key", help="its private key (LINKAGE_KEY)")
    p.add_argument("--id", action="append", metavar="DOC_TYPE=ID",
                   help="a subject that has a record, e.g. dopa.house=1101700230708 (repeat; include your largest"
                        " records)")
    p.add_argument("--junit", metavar="FILE", default=os.environ.get("LINKAGE_CONFORMANCE_JUNIT"),
                   help="also write a JUnit XML report (LINKAGE_CONFORMANCE_JUNIT)")
    # A string default goes through type= only when this command is parsed.
    p.add_argument("--timeout", type=_seconds, metavar="S", default=os.environ.get("LINKAGE_CONFORMANCE_TIMEOUT"),
                   help="deadline of each call in seconds (LINKAGE_CONFORMANCE_TIMEOUT; default the hub's"
                        " provider_timeout_ms, 3 s)")
    p.set_defaults(func=_cmd_conformance)
