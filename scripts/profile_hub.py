"""Where the hub's CPU goes: py-spy on the hub process while FetchDocument calls keep it busy.

    python scripts/profile_hub.py [--concurrency N] [--seconds S] [--out DIR] [--citizens N]

Makes a throwaway sandbox (``linkage init``), starts the stack as ``linkage up`` does, warms the hub
up, then keeps ``concurrency`` FetchDocument calls in flight for ``seconds`` while ``py-spy record``
samples the hub process (``--idle``: off, so waiting on the network or the disk does not count; ``--native``
off: Python frames only). Writes ``hub-<N>.svg`` (a flame graph) and ``hub-<N>.txt`` (the top functions by
own and total samples, from py-spy's ``--format raw`` collapsed stacks) to ``--out``. py-spy is not a
dependency of the project: ``pip install py-spy`` first (it needs to be allowed to ptrace the hub, as a
child of this process it is).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from linkage import pki
from linkage.cli.bench import AGENCY, DOC_TYPE, _citizen_ids
from linkage.cli.officers import sandbox_session
from linkage.cli.sandbox import init
from linkage.cli.stack import start_stack
from linkage.config import load_settings
from linkage.v1 import hub_pb2, hub_pb2_grpc


def _summary(raw: Path, top: int = 40) -> str:
    """Own and total samples per function from py-spy's collapsed stacks ("a;b;c 12" per line)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    out = [f"{samples} samples (busy only)", "", "own %  function"]
    out += [f"{100 * n / samples:5.1f}  {name}" for name, n in own.most_common(top)]
    out += ["", "total %  function"]
    out += [f"{100 * n / samples:5.1f}  {name}" for name, n in total.most_common(top)]
    return "\n".join(out) + "\n"


async def _run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="linkage-profile-") as tmp:
        home = init(Path(tmp), citizens=args.citizens)
        settings = load_settings(home)
        stack = await start_stack(settings, any_port=True)
        try:
            ids = _citizen_ids(home, None)
            officer = sorted(settings.agencies[AGENCY].officers)[0]
            channel = grpc.aio.secure_channel(
                stack.addresses["hub"], pki.channel_credentials(home.ca.cert, home.client_cert(AGENCY)),
                options=[("grpc.ssl_target_name_override", "hub")])
            stub = hub_pb2_grpc.LinkageHubStub(channel)
            session = (await sandbox_session(channel, home, AGENCY, officer)).secret  # the officer's card sign-in
            calls = 0

            async def worker(until: float) -> None:
                nonlocal calls
                while time.monotonic() < until:
                    await stub.FetchDocument(hub_pb2.FetchDocumentRequest(
                        doc_type=DOC_TYPE, subject_id=ids[calls % len(ids)], purpose="profile",
                        officer_session=session), timeout=30)
                    calls += 1

            await asyncio.gather(*(worker(time.monotonic() + 3) for _ in range(args.concurrency)))
            calls = 0
            name = f"hub-{args.concurrency}"
            raw = out / f"{name}.raw"
            record = [spy, "record", "--pid", str(stack.processes["hub"].pid), "--duration", str(args.seconds),
                      "--rate", "250", "--nonblocking", "--function"]
            spies = [subprocess.Popen([*record, "--format", "flamegraph", "-o", str(out / f"{name}.svg")]),
                     subprocess.Popen([*record, "--format", "raw", "-o", str(raw)])]
            started = time.monotonic()
            await asyncio.gather(*(worker(started + args.seconds + 1) for _ in range(args.concurrency)))
            for spy_proc in spies:
                await asyncio.to_thread(spy_proc.wait)
            print(f"{args.concurrency} in flight: {calls / (time.monotonic() - started):.0f} calls/s while sampled")
            (out / f"{name}.txt").write_text(_summary(raw), encoding="utf-8")
            raw.unlink()
            await channel.close()
        finally:
            await stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--citizens", type=int, default=2000)
    parser.add_argument("--out", default="docs/profiles")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
