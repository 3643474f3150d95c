"""Soak: the whole sandbox under steady mixed load; throughput, errors and every process's memory every 30 s.

    python scripts/soak.py [--minutes 10] [--rate 20] [--interval 30] [--max-growth 0.10]
                           [--citizens 2000] [--home DIR] [--seed S]

The sandbox runs as ``linkage up`` runs it (three registries, the hub and the counter, one
process each). ``--rate`` operations a second are started on a fixed schedule (at most
``--inflight`` at once; a start that finds them all busy is counted as ``behind``), mixed:

    fetch    45 %   FetchDocument of one (subject, type), verified on receipt (HubClient)
    batch    20 %   FetchDocuments of every type the subject has
    case     10 %   a counter case through HTTP as an officer's browser does it: POST the
                    case form, follow the redirect, read the page, every document sealed
    verify   25 %   consumers.auditor's verify_printout of a recent printout's bundle,
                    online (consistency with what it saw before, revocation)

and an auditor's ``watch_round`` (consistency proof, sampled inclusion proofs) every 5 s.
Only (subject, type) pairs that a warm-up fetched successfully are used, so any failure is
an error. Every ``--interval`` seconds it prints operations per second, errors and VmRSS
(from /proc/PID/status) of every process of the stack and of itself. At the end, memory is
flat when each stack process's mean RSS over the last third of the samples is at most
``--max-growth`` (default 10 %) above its mean over the first third. Exit 0 only when memory
stayed flat and there were no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.auditor.bundle import parse_printout
from consumers.auditor.client import AuditClient
from consumers.auditor.errors import VerificationError
from consumers.auditor.state import AuditorState
from consumers.auditor.verify import Trust, load_trust_root, verify_printout
from consumers.auditor.watch import watch_round
from consumers.client import HubClient, Printout, SignedInOfficer
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from linkage.cards import CitizenCard
from linkage.checkpoint import parse_verifier_key
from linkage.cli.cards import card_of, insert_card
from linkage.cli.officers import sandbox_card
from linkage.cli.stack import Stack, start_stack, write_endpoints
from linkage.config import Home, load_settings
from linkage.errors import LinkageError
from tests.counter.passkeys import counter_origin, http_sign_in
from tests.crash import AGENCY, PURPOSE, add_sandbox_arguments, csrf_token, sandbox_home

__all__ = ["Soak", "main"]

MIX = {"fetch": 0.45, "batch": 0.20, "case": 0.10, "verify": 0.25}
_CITIZEN_TYPES = ("dopa.person", "dopa.house", "dopa.card", "dbd.commerce", "edu.degree")


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Tally:
    ok: collections.Counter[str] = field(default_factory=collections.Counter)
    printouts: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    behind: int = 0
    ms: list[float] = field(default_factory=list)


class Soak:
    def __init__(self, home: Home, *, rate: float, inflight: int, seed: int) -> None:
        self.home = home
        self._cards: dict[str, CitizenCard | None] = {}
        self.settings = load_settings(home)
        self.rate = rate
        self.inflight = inflight
        self.rng = random.Random(seed)
        self.officer = sorted(self.settings.agencies[AGENCY].officers)[0]
        self.stack: Stack | None = None
        self.client: HubClient | None = None
        self.desk: SignedInOfficer | None = None  # the officer, signed in with their card (renewed as it ends)
        self.counter_signed_at = 0.0  # when the officer last signed in at the counter (passkey)
        self.audit: AuditClient | None = None
        self.http: aiohttp.ClientSession | None = None
        self.counter_csrf = ""
        self.pairs: list[tuple[str, str]] = []            # (subject, doc_type) that fetch
        self.subjects: dict[str, list[str]] = {}           # subject -> its doc types that fetch
        self.cases: list[tuple[str, str, int]] = []        # (service, subject, documents linked)
        self.recent: collections.deque[bytes] = collections.deque(maxlen=200)  # bundles to verify
        vkey = parse_verifier_key(home.log_note_vkey.read_text().strip())
        self.trust = Trust(load_trust_root(home.ca.cert), vkey, self.settings.hub.log_origin)
        self.auditor_state = AuditorState()
        self.total = Tally()
        self.window = Tally()
        self._seq = 0

    # -- setting up ---------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.stack = await start_stack(self.settings, any_port=True)
        write_endpoints(self.stack)
        self.client = HubClient.from_home(self.home, AGENCY, timeout=10)
        self.desk = self.client.officer(sandbox_card(self.home, AGENCY, self.officer))
        self.audit = AuditClient.connect(self.stack.addresses["hub"], self.home.ca.cert,
                                         self.home.client_cert("auditor"))
        await self._warm_up()
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=30))
        await self._counter_sign_in()

    async def _counter_sign_in(self) -> None:
        """The officer signs in at the counter with their passkey (a software one, tests/counter/passkeys.py); again
        every 25 minutes, as their hub session lasts 30."""
        assert self.http is not None
        await http_sign_in(self.http, self.home, AGENCY, self.officer, counter_origin(self.settings),
                           base=self._counter)
        self.counter_csrf = csrf_token(await self._page("GET", f"{self._counter}/cases/new/{self.cases[0][0]}"))
        self.counter_signed_at = time.monotonic()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.audit is not None:
            self.audit.close()
        if self.client is not None:
            await self.client.close()
        if self.stack is not None:
            await self.stack.stop()

    @property
    def _counter(self) -> str:
        assert self.stack is not None
        return f"http://{self.stack.addresses['counter']}"

    def _card(self, subject: str) -> CitizenCard | None:
        """The subject's ID card at the desk (a company has none): the citizen is present whenever they have one."""
        if subject not in self._cards:
            self._cards[subject] = None if subject.startswith("0") else card_of(self.home, subject)
        return self._cards[subject]

    def _candidates(self) -> list[str]:
        personas = json.loads(self.home.personas.read_text(encoding="utf-8"))
        out = [str(p["id"]) for p in personas]
        dopa = sqlite3.connect(f"file:{self.home.provider_db('dopa')}?mode=ro", uri=True)
        dbd = sqlite3.connect(f"file:{self.home.provider_db('dbd')}?mode=ro", uri=True)
        edu = sqlite3.connect(f"file:{self.home.provider_db('edu')}?mode=ro", uri=True)
        try:
            people = [r[0] for r in dopa.execute("SELECT subject_id FROM record WHERE doc_type = 'dopa.person'")]
            traders = {r[0] for r in dbd.execute("SELECT subject_id FROM record WHERE doc_type = 'dbd.commerce'")}
            graduates = {r[0] for r in edu.execute("SELECT subject_id FROM record WHERE doc_type = 'edu.degree'")}
            companies = [r[0] for r in dbd.execute("SELECT subject_id FROM record WHERE doc_type = 'dbd.juristic'")]
        finally:
            for conn in (dopa, dbd, edu):
                conn.close()
        out += self.rng.sample(people, min(60, len(people)))
        out += sorted(traders & graduates)[:20]
        out += self.rng.sample(companies, min(20, len(companies)))
        return list(dict.fromkeys(out))

    async def _warm_up(self) -> None:
        """Fetch every type of every candidate once; keep what fetches, so that any later failure is an error."""
        assert self.desk is not None
        for subject in self._candidates():
            types = ["dbd.juristic"] if subject.startswith("0") else list(_CITIZEN_TYPES)
            try:
                answer = await self.desk.fetch_documents(types, subject, purpose=PURPOSE, case_ref="SOAK-warm-up",
                                                         citizen_card=self._card(subject))
            except LinkageError:  # refused as a whole (e.g. the persona whose card was voided): not a candidate
                continue
            fetched = [t for t, outcome in answer.items() if isinstance(outcome, Printout)]
            if fetched:
                self.subjects[subject] = fetched
                self.pairs += [(subject, t) for t in fetched]
        for manual in load_manuals(DEFAULT_FOLDER).values():
            linked = set(manual.linked_doc_types)
            if linked:
                self.cases += [(manual.id, s, len(linked)) for s, types in self.subjects.items()
                               if linked <= set(types)]
        if not self.pairs or not self.cases:
            raise SystemExit("the warm-up fetched nothing usable; is the sandbox seeded? (try a larger --citizens)")

    # -- operations ---------------------------------------------------------------------------------------------------

    def _case_ref(self) -> str:
        self._seq += 1
        return f"SOAK-{self._seq:08d}"

    def _keep(self, printout: Printout) -> None:
        self.recent.append(json.dumps(printout.bundle()).encode())

    async def op_fetch(self) -> int:
        assert self.desk is not None
        subject, doc_type = self.rng.choice(self.pairs)
        printout = await self.desk.fetch_document(doc_type, subject, purpose=PURPOSE, case_ref=self._case_ref(),
                                                  citizen_card=self._card(subject))
        self._keep(printout)
        return 1

    async def op_batch(self) -> int:
        assert self.desk is not None
        subject = self.rng.choice(list(self.subjects))
        answer = await self.desk.fetch_documents(self.subjects[subject], subject, purpose=PURPOSE,
                                                 case_ref=self._case_ref(), citizen_card=self._card(subject))
        for outcome in answer.values():
            if not isinstance(outcome, Printout):
                raise outcome
            self._keep(outcome)
        return len(answer)

    async def op_case(self) -> int:
        service, subject, linked = self.rng.choice(self.cases)
        if time.monotonic() - self.counter_signed_at > 25 * 60:
            await self._counter_sign_in()
        page = await self._page("POST", f"{self._counter}/cases/new/{service}",
                                {"csrf": self.counter_csrf, "subject_id": subject,
                                 **({"citizen_present": "1"} if insert_card(self.home, subject) else {})})
        sealed = page.count('class="seal ok" data-testid="seal"')
        if sealed != linked:
            raise RuntimeError(f"counter case for {service}: {sealed} of {linked} documents shown sealed")
        return linked

    async def op_verify(self) -> int:
        assert self.audit is not None
        if not self.recent:
            return 0
        printout = parse_printout(self.rng.choice(self.recent))
        report = await asyncio.to_thread(verify_printout, printout, self.trust, state=self.auditor_state,
                                         log=self.audit)
        if not report.valid:
            raise RuntimeError("auditor: " + "; ".join(c.render() for c in report.failed))
        return 0

    async def _page(self, method: str, url: str, data: dict[str, str] | None = None) -> str:
        assert self.http is not None
        async with self.http.request(method, url, data=data) as resp:
            text = await resp.text()
            if resp.status != 200 or (method == "POST" and "/signin" in str(resp.url)):
                raise RuntimeError(f"counter {method} {url} -> {resp.status} at {resp.url}")
            return text

    async def _run_op(self, kind: str, op: Callable[[], Awaitable[int]]) -> None:
        started = time.perf_counter()
        try:
            printouts = await op()
        except (LinkageError, VerificationError, RuntimeError, aiohttp.ClientError, TimeoutError) as err:
            reason = getattr(err, "hub_code", None) or getattr(err, "code", None) or type(err).__name__
            for tally in (self.total, self.window):
                tally.errors[f"{kind}:{reason}"] += 1
            print(f"  ! {kind}: {str(err)[:200]}", flush=True)
            return
        elapsed = (time.perf_counter() - started) * 1000
        for tally in (self.total, self.window):
            tally.ok[kind] += 1
            tally.printouts += printouts
            tally.ms.append(elapsed)

    async def _watch(self, stop: asyncio.Event) -> None:
        assert self.audit is not None and self.trust.log_key is not None and self.trust.origin is not None
        while not stop.is_set():
            await self._run_op("watch", lambda: self._watch_once())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)

    async def _watch_once(self) -> int:
        assert self.audit is not None and self.trust.log_key is not None and self.trust.origin is not None
        await asyncio.to_thread(watch_round, self.audit, self.trust.log_key, self.trust.origin, self.auditor_state,
                                sample=8, rng=self.rng)
        return 0

    # -- the run ------------------------------------------------------------------------------------------------------

    def processes(self) -> dict[str, int]:
        assert self.stack is not None
        return {**{name: p.pid for name, p in self.stack.processes.items()}, "soak": os.getpid()}

    async def run(self, seconds: float, interval: float) -> dict[str, list[int]]:
        """Run the load for ``seconds``; print a line every ``interval``; return RSS samples (KiB) per process."""
        assert self.stack is not None
        ops: dict[str, Callable[[], Awaitable[int]]] = {"fetch": self.op_fetch, "batch": self.op_batch,
                                                        "case": self.op_case, "verify": self.op_verify}
        kinds, weights = list(MIX), list(MIX.values())
        names = list(self.processes())
        samples: dict[str, list[int]] = {name: [] for name in names}
        print(f"{'time':>6} {'fetch/s':>8} {'batch/s':>8} {'case/s':>7} {'verify/s':>8} {'docs/s':>7} {'p95 ms':>7}"
              f" {'errors':>6} {'behind':>6}  RSS MiB: " + " ".join(f"{n:>7}" for n in names), flush=True)
        stop = asyncio.Event()
        running: set[asyncio.Task[None]] = set()
        watcher = asyncio.create_task(self._watch(stop))
        loop = asyncio.get_running_loop()
        start = loop.time()
        next_op, next_report = start, start + interval
        try:
            while loop.time() < start + seconds:
                now = loop.time()
                if now >= next_report:
                    dead = [n for n, p in self.stack.processes.items() if p.returncode is not None]
                    if dead:
                        raise RuntimeError(f"{', '.join(dead)} exited during the soak")
                    rss = {n: rss_kib(pid) for n, pid in self.processes().items()}
                    for n in names:
                        samples[n].append(rss[n])
                    self._report(now - start, interval, rss, names)
                    next_report += interval
                if now >= next_op:
                    next_op += 1 / self.rate
                    if len(running) >= self.inflight:
                        self.total.behind += 1
                        self.window.behind += 1
                    else:
                        kind = self.rng.choices(kinds, weights)[0]
                        task = asyncio.create_task(self._run_op(kind, ops[kind]))
                        running.add(task)
                        task.add_done_callback(running.discard)
                    next_op = max(next_op, now - 1)  # never a burst to catch up more than a second
                await asyncio.sleep(max(0.0, min(next_op, next_report) - loop.time()))
        finally:
            stop.set()
            await asyncio.gather(*running, watcher)
        return samples

    def _report(self, at: float, interval: float, rss: dict[str, int], names: list[str]) -> None:
        w = self.window
        p95 = statistics.quantiles(w.ms, n=20)[-1] if len(w.ms) >= 2 else 0.0
        print(f"{int(at) // 60:>3}:{int(at) % 60:02d} {w.ok['fetch'] / interval:>8.1f} {w.ok['batch'] / interval:>8.1f}"
              f" {w.ok['case'] / interval:>7.1f} {w.ok['verify'] / interval:>8.1f} {w.printouts / interval:>7.1f}"
              f" {p95:>7.0f} {sum(w.errors.values()):>6} {w.behind:>6}           "
              + " ".join(f"{rss[n] / 1024:>7.1f}" for n in names), flush=True)
        self.window = Tally()


def growth(samples: Sequence[int]) -> float:
    """Mean of the last third over the mean of the first third, minus one."""
    third = max(1, len(samples) // 3)
    first, last = statistics.fmean(samples[:third]), statistics.fmean(samples[-third:])
    return last / first - 1 if first else 0.0


async def soak(home: Home, *, minutes: float, rate: float, inflight: int, interval: float, max_growth: float,
               seed: int) -> int:
    run = Soak(home, rate=rate, inflight=inflight, seed=seed)
    try:
        await run.start()
        print(f"soak: {minutes:g} min at {rate:g} operations/s (at most {inflight} in flight), mix "
              + ", ".join(f"{k} {v:.0%}" for k, v in MIX.items()) + f"; {len(run.pairs)} (subject, type) pairs,"
              f" {len(run.cases)} counter cases; {os.cpu_count()} CPUs, Python {platform.python_version()}",
              flush=True)
        samples = await run.run(minutes * 60, interval)
    finally:
        await run.stop()
    total = run.total
    seconds = minutes * 60
    print(f"total: {sum(total.ok.values())} operations in {seconds:.0f} s ("
          + ", ".join(f"{k} {total.ok[k]}" for k in (*MIX, "watch")) + f"), {total.printouts} printouts"
          f" ({total.printouts / seconds:.1f}/s), {sum(total.errors.values())} errors, {total.behind} starts behind")
    for reason, count in total.errors.most_common():
        print(f"  error {reason}: {count}")
    flat = True
    for name, values in samples.items():
        if len(values) < 3:
            print(f"  {name}: too few samples ({len(values)}) to judge memory; run longer")
            flat = False if name != "soak" else flat
            continue
        g = growth(values)
        verdict = "flat" if g <= max_growth else "GROWING"
        if name != "soak" and g > max_growth:
            flat = False
        print(f"  {name:>8}: RSS {values[0] / 1024:.1f} -> {values[-1] / 1024:.1f} MiB,"
              f" last third vs first third {g:+.1%} ({verdict if name != 'soak' else 'the driver, not judged'})")
    ok = flat and not total.errors
    print("OK: memory flat, no errors" if ok else
          f"FAILED: {'memory grew by more than ' + format(max_growth, '.0%') if not flat else ''}"
          f"{' and ' if not flat and total.errors else ''}{'errors' if total.errors else ''}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="operations started per second (default 20)")
    parser.add_argument("--inflight", type=int, default=16, help="at most this many at once (default 16)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between reports (default 30)")
    parser.add_argument("--max-growth", type=float, default=0.10,
                        help="allowed RSS growth, last third of the samples over the first third (default 0.10)")
    add_sandbox_arguments(parser)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.inflight < 1 or args.interval <= 0:
        parser.error("--minutes, --rate, --inflight and --interval must be positive")
    with sandbox_home(args, "linkage-soak-") as home:
        return asyncio.run(soak(home, minutes=args.minutes, rate=args.rate, inflight=args.inflight,
                                interval=args.interval, max_growth=args.max_growth, seed=args.seed))


if __name__ == "__main__":
    sys.exit(main())
