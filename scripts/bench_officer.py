"""What the officer session adds to a FetchDocument: the same reads named by a bare officer ID and under a session.

    python scripts/bench_officer.py [--calls N] [--rounds R] [--concurrency C] [--citizens N]

Makes a throwaway sandbox (``linkage init``) in a temporary folder, set to ``[hub] officer_sessions =
"optional"`` (the bare ID is what the session is compared against: the default, "required", refuses it), with
the first officer of phrae-municipality's key taken out of the key set (they stay bare) while the second signs
in with the card init issued them. It starts the stack as ``linkage up`` runs it (one process each, real mTLS)
and alternates rounds of (a) FetchDocument with ``officer_id`` alone and (b) the same under the signed-in
officer's session, at ``--concurrency`` in flight (throughput), then both at one in flight (p50). The session's
extra per call: finding the session, checking its certificate and the officer's key in force, and a log entry
about 600 bytes longer (the signed statement). Then the sign-in itself (Begin + the card's signature + Finish),
which happens once per officer per 30 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.client import HubClient
from linkage import pki
from linkage.cli.bench import DOC_TYPE, Result, _citizen_ids, _drive, _merge
from linkage.cli.officers import sandbox_card
from linkage.cli.sandbox import init
from linkage.cli.stack import start_stack
from linkage.config import load_settings, write_atomically
from linkage.officers import OFFICER_KEYS, load_officer_keys, officer_key_set_json
from linkage.v1 import hub_pb2, hub_pb2_grpc

AGENCY = "phrae-municipality"


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="linkage-bench-officer-") as tmp:
        home = init(Path(tmp), citizens=args.citizens)
        text = home.config_file.read_text(encoding="utf-8")
        home.config_file.write_text(text.replace("[hub]\n", '[hub]\nofficer_sessions = "optional"\n', 1),
                                    encoding="utf-8")
        settings = load_settings(home)
        assert settings.hub.officer_sessions == "optional"
        bare, signer = sorted(settings.agencies[AGENCY].officers)[:2]
        keys = home.pki / OFFICER_KEYS
        write_atomically(keys, officer_key_set_json([k for k in load_officer_keys(keys) if k.officer_id != bare]))
        card = sandbox_card(home, AGENCY, signer)
        stack = await start_stack(settings, any_port=True)
        try:
            ids = _citizen_ids(home, None)
            random.Random(7).shuffle(ids)
            address = stack.addresses["hub"]
            async with HubClient.connect(address, home.ca.cert, home.client_cert(AGENCY)) as client:
                session = await client.sign_in_officer(signer, card)
                sign_ins: list[float] = []
                for _ in range(args.sign_ins):
                    t = time.perf_counter()
                    await client.sign_in_officer(signer, card)
                    sign_ins.append((time.perf_counter() - t) * 1000)
            channel = grpc.aio.secure_channel(address, pki.channel_credentials(home.ca.cert, home.client_cert(AGENCY)),
                                              options=[("grpc.ssl_target_name_override", "hub")])
            hub = hub_pb2_grpc.LinkageHubStub(channel)

            def fetch(officer_id: str, secret: str) -> Callable[[str], Awaitable[object]]:
                async def call(subject: str) -> object:
                    return await hub.FetchDocument(hub_pb2.FetchDocumentRequest(
                        doc_type=DOC_TYPE, subject_id=subject, purpose="benchmark", officer_id=officer_id,
                        officer_session=secret), timeout=30)
                return call

            plain, signed = fetch(bare, ""), fetch("", session.secret)
            await _drive("warm-up", plain, ids, 300, args.concurrency)
            await _drive("warm-up", signed, ids, 300, args.concurrency)
            plain_rounds, signed_rounds, plain_one, signed_one = [], [], [], []
            for _ in range(args.rounds):
                plain_rounds.append(await _drive("bare ID", plain, ids, args.calls, args.concurrency))
                signed_rounds.append(await _drive("session", signed, ids, args.calls, args.concurrency))
                plain_one.append(await _drive("bare ID", plain, ids, args.calls // 4, 1))
                signed_one.append(await _drive("session", signed, ids, args.calls // 4, 1))
            await channel.close()
        finally:
            await stack.stop()
    _report(args, _merge(plain_rounds), _merge(signed_rounds), _merge(plain_one), _merge(signed_one), sign_ins)


def _report(args: argparse.Namespace, plain: Result, signed: Result, plain_one: Result, signed_one: Result,
            sign_ins: Sequence[float]) -> None:
    load = os.getloadavg()
    print(f"bench_officer — {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{args.rounds} alternating rounds of {args.calls} calls at {args.concurrency} in flight and "
          f"{args.calls // 4} at 1, doc_type {DOC_TYPE}")
    print(f"{'':<34}{'calls/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for label, r in ((f"(a) bare officer ID, {args.concurrency} in flight", plain),
                     (f"(b) officer session, {args.concurrency} in flight", signed),
                     ("(a) bare officer ID, 1 in flight", plain_one), ("(b) officer session, 1 in flight", signed_one)):
        print(f"{label:<34}{r.throughput:>10.0f}{r.pct(0.5):>10.2f}{r.pct(0.99):>10.2f}")
    print(f"session / bare, throughput at {args.concurrency}: {signed.throughput / plain.throughput:.2f}")
    added = statistics.median(signed_one.latencies_ms) - statistics.median(plain_one.latencies_ms)
    print(f"session-added p50 at 1 in flight: {added:+.2f} ms")
    print(f"sign-in (Begin + card signature + Finish), p50 of {len(sign_ins)}: {statistics.median(sign_ins):.2f} ms")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1000, help="calls per round at --concurrency (a quarter at 1)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--citizens", type=int, default=2000)
    p.add_argument("--sign-ins", type=int, default=50)
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
