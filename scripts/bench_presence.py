"""What the citizen's card proof adds to a FetchDocument, one call in flight.

    python scripts/bench_presence.py [--home DIR] [--citizens N] [-n N] [--warmup W]

Without --home it makes a throwaway sandbox (``linkage init``) in a temporary folder. The registries and the hub
run as ``linkage up`` runs them; as phrae-municipality, for the "ordinary" persona, the script alternates
(a) FetchDocument of dopa.person without presence and (b) FetchDocument of dopa.person carrying a
card proof (challenge asked and card signature made before the clock starts: what the hub adds, the civil
registry's CheckPresence hop and its checks), and times (c) GetPresenceChallenge alone and (d) the card's
signature. Prints p50 / p95 of each and (b) minus (a) at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linkage import pki
from linkage.cards import CitizenCard, presence_hash
from linkage.cli.officers import sandbox_session
from linkage.cli.sandbox import init
from linkage.cli.stack import start_stack
from linkage.config import Home, load_settings
from linkage.v1 import hub_pb2, hub_pb2_grpc

AGENCY = "phrae-municipality"
PURPOSE = "ขึ้นทะเบียนผู้สูงอายุ"
CASE = "PHR-2569-0001"


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def _bench(home: Home, n: int, warmup: int) -> dict[str, list[float]]:
    settings = load_settings(home)
    officer = sorted(settings.agencies[AGENCY].officers)[0]
    personas = json.loads(home.personas.read_text(encoding="utf-8"))
    subject = next(str(p["id"]) for p in personas if p["name"] == "ordinary")
    card = CitizenCard.load(home.card_file(subject))
    stack = await start_stack(settings, any_port=True)
    times: dict[str, list[float]] = {"plain": [], "presence": [], "challenge": [], "sign": []}
    try:
        own = home.client_cert(AGENCY)
        async with grpc.aio.secure_channel(stack.addresses["hub"], pki.channel_credentials(home.ca.cert, own),
                                           options=[("grpc.ssl_target_name_override", "hub")]) as channel:
            hub = hub_pb2_grpc.LinkageHubStub(channel)
            session = (await sandbox_session(channel, home, AGENCY, officer)).secret  # the officer's card sign-in
            hash_hex = presence_hash(AGENCY, subject, PURPOSE, officer, CASE, ["dopa.person"])
            for i in range(n + warmup):
                plain = hub_pb2.FetchDocumentRequest(doc_type="dopa.person", subject_id=subject, purpose=PURPOSE,
                                                     officer_id=officer, case_ref=CASE, officer_session=session)
                t0 = time.perf_counter()
                await hub.FetchDocument(plain)
                t1 = time.perf_counter()
                challenge = (await hub.GetPresenceChallenge(hub_pb2.PresenceChallengeRequest())).challenge
                t2 = time.perf_counter()
                signature = card.sign(challenge, hash_hex)
                t3 = time.perf_counter()
                proved = hub_pb2.FetchDocumentRequest(
                    doc_type="dopa.person", subject_id=subject, purpose=PURPOSE, officer_id=officer, case_ref=CASE,
                    officer_session=session, citizen_present=True, presence=hub_pb2.CitizenPresence(
                        challenge=challenge, card_certificate=card.certificate, signature=signature))
                t4 = time.perf_counter()
                await hub.FetchDocument(proved)
                t5 = time.perf_counter()
                if i >= warmup:
                    for name, span in (("plain", t1 - t0), ("challenge", t2 - t1), ("sign", t3 - t2),
                                       ("presence", t5 - t4)):
                        times[name].append(span * 1000)
    finally:
        await stack.stop()
    return times


def _report(times: dict[str, list[float]]) -> None:
    load = os.getloadavg()
    print(f"{platform.python_version()} on {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f}")
    labels = {"plain": "FetchDocument, no presence", "presence": "FetchDocument with a card proof",
              "challenge": "GetPresenceChallenge", "sign": "the card's signature (client side)"}
    for name, label in labels.items():
        values = times[name]
        print(f"{label:40s} p50 {statistics.median(values):7.2f} ms   p95 {_pct(values, 0.95):7.2f} ms")
    added = statistics.median(times["presence"]) - statistics.median(times["plain"])
    print(f"the proof adds to FetchDocument at p50: {added:.2f} ms (plus one GetPresenceChallenge round trip)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="an existing sandbox (default: a throwaway one)")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    if args.home is not None:
        _report(asyncio.run(_bench(Home(args.home), args.n, args.warmup)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        home = init(Path(tmp) / "sandbox", citizens=args.citizens, seed=1)
        _report(asyncio.run(_bench(home, args.n, args.warmup)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
