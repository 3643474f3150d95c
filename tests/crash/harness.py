"""The harness: a sandbox in processes of their own, a load of agencies' calls and officers at the counter,
one process killed and restarted per round, and the checks after each round."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from consumers.client import HubClient, Printout, RetryPolicy, SignedInOfficer
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from linkage.cards import CitizenCard
from linkage.checkpoint import parse_verifier_key
from linkage.cli.cards import card_of, insert_card
from linkage.cli.stack import Stack, start_stack, write_endpoints
from linkage.config import Home, Settings, load_settings
from linkage.errors import LinkageError
from linkage.ids import IdKind
from tests.counter.passkeys import counter_origin, http_sign_in
from tests.crash.checks import CASE_REF, CounterDisk, check_counter, check_log, integrity_problems
from tests.crash.ledger import Key, Ledger
from tests.officers import card

__all__ = ["AGENCY", "PURPOSE", "REGISTRY_TARGETS", "Crash", "Options", "RoundRow", "csrf_token", "run"]

PURPOSE = "ทดสอบความทนทาน / crash test"
AGENCY = "phrae-municipality"
REGISTRY_TARGETS = ("dopa", "dbd", "edu")

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_COMPLAINT = re.compile(r'data-testid="complaint-done">[^<]*?(\d+)\s*</p>')


@dataclasses.dataclass(frozen=True)
class Options:
    rounds: int = 10
    targets: tuple[str, ...] = ("hub", "registry", "counter")
    seconds: float = 3.0       # load before the kill is 0.3-0.7 of this, after recovery 0.5 of it
    down: float = 0.3          # how long the process stays dead before it is started again
    workers: int = 4           # gRPC calls in flight
    counter_workers: int = 2   # officers at the counter
    batch_share: float = 0.4   # the share of calls that are FetchDocuments of every type the subject has
    complaint_share: float = 0.2  # the share of the officers' requests that file a complaint
    timeout: float = 5.0       # per call
    recover_timeout: float = 60.0
    seed: int = 1

    def target(self, round_no: int) -> str:
        """The process killed in round round_no (1-based)."""
        name = self.targets[(round_no - 1) % len(self.targets)]
        if name == "registry":
            earlier = sum(1 for r in range(1, round_no) if self.targets[(r - 1) % len(self.targets)] == "registry")
            return REGISTRY_TARGETS[earlier % len(REGISTRY_TARGETS)]
        return name


@dataclasses.dataclass
class RoundRow:
    round: int
    killed: str
    received: int
    refused: int
    lost: int
    cases: int
    complaints: int
    log_size: int
    orphans: int
    restart_s: float
    recover_s: float
    violations: list[str]


class _SignedOut(Exception):
    """The counter sent the officer to the sign-in page (it was restarted: sessions are not kept)."""


class Crash:
    """A running sandbox, its load and its ledger. ``start`` it, run ``round``s, ``stop`` it."""

    def __init__(self, home: Home, options: Options) -> None:
        self.home = home
        self._cards: dict[str, CitizenCard | None] = {}
        self.options = options
        self.rng = random.Random(options.seed)
        self.prefix = f"CRASH-{self.rng.getrandbits(32):08x}"
        self.settings: Settings = load_settings(home)
        self.stack: Stack | None = None
        self.client: HubClient | None = None
        self.auditor: HubClient | None = None
        self.ledger = Ledger(parse_verifier_key(home.log_note_vkey.read_text().strip()), self.settings.hub.log_origin)
        personas = json.loads(home.personas.read_text(encoding="utf-8"))
        self.subjects: list[tuple[str, list[str]]] = [(p["id"], list(p["doc_types"])) for p in personas
                                                       if p.get("doc_types")]
        self.officer = sorted(self.settings.agencies[AGENCY].officers)[0]
        self.desk: SignedInOfficer | None = None  # the officer, signed in with their card (again after a crash)
        self.owner = {t: name for name, p in self.settings.providers.items() for t in p.doc_types}
        self.manuals = load_manuals(DEFAULT_FOLDER)
        kinds = {s: IdKind.JURISTIC if s.startswith("0") else IdKind.CITIZEN for s, _ in self.subjects}
        self.services = [(m.id, s) for m in self.manuals.values() for s in kinds if kinds[s] is m.subject]
        self.samples: dict[str, dict[Key, dict[str, Any]]] = {}
        self.registry_files: dict[str, str] = {}
        self._seq = 0
        self._counter_orphans = 0
        self.rows: list[RoundRow] = []

    @property
    def counter_db(self) -> Path:
        return self.home.data / "counter.sqlite"

    # -- the stack -------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.stack = await start_stack(self.settings, any_port=True)
        write_endpoints(self.stack)
        # Few retries: a printout lost to the crash is never sent again anyway (the client knows it may exist).
        retry = RetryPolicy(attempts=3, initial_backoff=0.05, max_backoff=0.5)
        self.client = HubClient.from_home(self.home, AGENCY, timeout=self.options.timeout, retry=retry)
        self.desk = self.client.officer(card(self.home, AGENCY, self.officer))
        self.auditor = HubClient.from_home(self.home, "auditor", timeout=30)
        self.registry_files = {name: _file_digest(self.home.provider_db(name)) for name in self.settings.providers}
        for name in self.settings.providers:
            self.samples[name] = await self._sample(name)

    async def stop(self) -> None:
        for client in (self.client, self.auditor):
            if client is not None:
                await client.close()
        if self.stack is not None:
            await self.stack.stop()

    def _case_ref(self, tag: str) -> str:
        self._seq += 1
        return f"{self.prefix}-{tag}-{self._seq:07d}"

    # -- the load: agencies' systems ----------------------------------------------------------------------------------

    def _present(self, subject: str) -> dict[str, str]:
        """The counter form's "citizen present" when the applicant has a card to put in the reader."""
        return {"citizen_present": "1"} if insert_card(self.home, subject) else {}

    def _card(self, subject: str) -> CitizenCard | None:
        """The subject's ID card, read at the desk: the citizen is present whenever they have one."""
        if subject not in self._cards:
            self._cards[subject] = card_of(self.home, subject)
        return self._cards[subject]

    async def _fetch_one(self, tag: str, doc_type: str, subject: str) -> Printout | None:
        assert self.desk is not None
        key = (self._case_ref(tag), doc_type)
        try:
            printout = await self.desk.fetch_document(doc_type, subject, purpose=PURPOSE, case_ref=key[0],
                                                      citizen_card=self._card(subject))
        except LinkageError as err:
            self.ledger.failed(key, err)
            return None
        self.ledger.got(key, printout)
        return printout

    async def _fetch_many(self, tag: str, doc_types: list[str], subject: str) -> None:
        assert self.desk is not None
        case_ref = self._case_ref(tag)
        try:
            answer = await self.desk.fetch_documents(doc_types, subject, purpose=PURPOSE, case_ref=case_ref,
                                                     citizen_card=self._card(subject))
        except LinkageError as err:
            for doc_type in doc_types:
                self.ledger.failed((case_ref, doc_type), err)
            return
        for doc_type in doc_types:
            outcome = answer.get(doc_type)
            if isinstance(outcome, Printout):
                self.ledger.got((case_ref, doc_type), outcome)
            elif outcome is not None:
                self.ledger.failed((case_ref, doc_type), outcome)
            else:
                self.ledger.lost[case_ref, doc_type] = "missing_from_answer"
                self.ledger.errors["missing_from_answer"] += 1

    async def _worker(self, tag: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            subject, doc_types = self.rng.choice(self.subjects)
            before = len(self.ledger.lost)
            if len(doc_types) > 1 and self.rng.random() < self.options.batch_share:
                await self._fetch_many(tag, doc_types, subject)
            else:
                await self._fetch_one(tag, self.rng.choice(doc_types), subject)
            if len(self.ledger.lost) > before:
                await asyncio.sleep(0.05)  # the hub is gone: do not spin

    async def _poll_checkpoints(self, stop: asyncio.Event) -> None:
        assert self.auditor is not None
        while not stop.is_set():
            try:
                self.ledger.saw(await self.auditor.checkpoint(timeout=1))
            except LinkageError as err:
                self.ledger.errors[f"checkpoint_{err.code}"] += 1
            await asyncio.sleep(0.1)

    # -- the load: officers at the counter ----------------------------------------------------------------------------

    @property
    def _counter_url(self) -> str:
        assert self.stack is not None
        return f"http://{self.stack.addresses['counter']}"

    async def _page(self, http: aiohttp.ClientSession, method: str, path: str,
                    data: dict[str, str] | None = None) -> tuple[str, str]:
        """(final path, page) of a request that ends in 200; raises _SignedOut, or aiohttp's errors."""
        async with http.request(method, self._counter_url + path, data=data) as resp:
            text = await resp.text()
            if resp.url.path.startswith("/signin") and not path.startswith("/signin"):
                raise _SignedOut()
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                                  message=f"{method} {path} answered {resp.status}")
            return resp.url.path, text

    async def _sign_in(self, http: aiohttp.ClientSession) -> str:
        """Sign in as the officer, with their passkey; the session's CSRF token. A sign-in the counter refuses (it
        or the hub is restarting) is a ClientError, as a page that does not answer is."""
        try:
            await http_sign_in(http, self.home, AGENCY, self.officer, counter_origin(self.settings),
                               base=self._counter_url)
        except AssertionError as refused:
            raise aiohttp.ClientError(f"the counter did not sign the officer in: {refused}") from None
        return csrf_token((await self._page(http, "GET", "/complaints/new"))[1])

    async def _open_case(self, http: aiohttp.ClientSession, csrf: str) -> None:
        service, subject = self.rng.choice(self.services)
        where, page = await self._page(http, "POST", f"/cases/new/{service}",
                                       {"csrf": csrf, "subject_id": subject, **self._present(subject)})
        ref = CASE_REF.search(page)
        if not where.startswith("/cases/") or ref is None:
            raise RuntimeError(f"opening a {service} case ended at {where} without a case number")
        self.ledger.counter.cases[where.rsplit("/", 1)[1]] = (ref.group(0), frozenset(_UUID.findall(page)))

    async def _complain(self, http: aiohttp.ClientSession, csrf: str, tag: str) -> None:
        details = f"{self.prefix} {tag} {self.rng.getrandbits(40):010x}: ขอสำเนาบัตรประชาชน"
        _, page = await self._page(http, "POST", "/complaints/new", {
            "csrf": csrf, "office": "ทดสอบ / crash test", "service": "other", "demanded": "สำเนาบัตรประชาชน",
            "details": details, "contact": ""})
        number = _COMPLAINT.search(page)
        if number is None:
            raise RuntimeError("the complaint form answered without a complaint number")
        self.ledger.counter.complaints[int(number.group(1))] = details

    async def _officer(self, tag: str, stop: asyncio.Event) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        timeout = aiohttp.ClientTimeout(total=2 * self.options.timeout)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as http:
            csrf = ""
            while not stop.is_set():
                try:
                    if not csrf:
                        csrf = await self._sign_in(http)
                    if self.rng.random() < self.options.complaint_share:
                        await self._complain(http, csrf, tag)
                    else:
                        await self._open_case(http, csrf)
                except _SignedOut:
                    csrf = ""
                except (aiohttp.ClientError, TimeoutError):
                    self.ledger.counter.lost += 1
                    csrf = ""
                    await asyncio.sleep(0.05)

    # -- recovery -----------------------------------------------------------------------------------------------------

    async def _probe(self, target: str, tag: str) -> None:
        """Until one call through target succeeds: for a registry, a document it owns; for the counter, a case."""
        deadline = time.monotonic() + self.options.recover_timeout
        while True:
            if target == "counter":
                if await self._counter_probe():
                    return
            else:
                subject, doc_types = self.rng.choice(self.subjects)
                mine = [t for t in doc_types if target == "hub" or self.owner[t] == target]
                if mine and await self._fetch_one(tag, self.rng.choice(mine), subject) is not None:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target} did not come back within {self.options.recover_timeout:.0f} s")
            await asyncio.sleep(0.02)

    async def _counter_probe(self) -> bool:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         timeout=aiohttp.ClientTimeout(total=self.options.timeout)) as http:
            try:
                await self._open_case(http, await self._sign_in(http))
            except (aiohttp.ClientError, TimeoutError, _SignedOut):
                return False
        return True

    async def _sample(self, registry: str) -> dict[Key, dict[str, Any]]:
        """One record of every type the registry owns, for the subjects that have it."""
        out: dict[Key, dict[str, Any]] = {}
        for subject, doc_types in self.subjects:
            for doc_type in doc_types:
                if self.owner[doc_type] == registry:
                    printout = await self._fetch_one("sample", doc_type, subject)
                    if printout is not None:
                        out[subject, doc_type] = printout.data
        return out

    # -- a round ----------------------------------------------------------------------------------------------------

    async def round(self, round_no: int) -> RoundRow:
        assert self.stack is not None and self.auditor is not None
        target = self.options.target(round_no)
        tag = f"r{round_no:02d}"
        ledger = self.ledger
        before = (len(ledger.received), len(ledger.refused), len(ledger.lost), len(ledger.counter.cases),
                  len(ledger.counter.complaints))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self._worker(tag, stop)) for _ in range(self.options.workers)]
        tasks += [asyncio.create_task(self._officer(tag, stop)) for _ in range(self.options.counter_workers)]
        tasks.append(asyncio.create_task(self._poll_checkpoints(stop)))
        try:
            await asyncio.sleep(self.options.seconds * self.rng.uniform(0.3, 0.7))
            proc = self.stack.processes[target]
            proc.kill()
            await proc.wait()
            await asyncio.sleep(self.options.down)
            started = time.monotonic()
            await self.stack.restart(target)
            restart_s = time.monotonic() - started
            await self._probe(target, tag)
            recover_s = time.monotonic() - started
            await asyncio.sleep(self.options.seconds * 0.5)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        counter = CounterDisk.read(self.counter_db, self.manuals)
        check = await check_log(self.auditor, ledger, self.prefix,
                                None if self.settings.database else self.home.exchange_log, counter)
        violations = check.violations + check_counter(ledger.counter, counter)
        if target in self.settings.providers:
            violations += await self.check_registry(target)
        if target == "counter":
            violations += await self.check_cases_reopen(list(ledger.counter.cases)[before[3]:])
        # The counter's orphans carry no round in their case number: the growth since the last round is this one's.
        orphans = check.orphans[tag] + check.counter_orphans - self._counter_orphans
        self._counter_orphans = check.counter_orphans
        after = (len(ledger.received), len(ledger.refused), len(ledger.lost), len(ledger.counter.cases),
                 len(ledger.counter.complaints))
        d = [a - b for a, b in zip(after, before, strict=True)]
        row = RoundRow(round_no, target, d[0], d[1], d[2], d[3], d[4], check.size, orphans, restart_s, recover_s,
                       violations)
        self.rows.append(row)
        return row

    async def check_registry(self, name: str) -> list[str]:
        """The registry's file is unchanged, passes integrity_check, and answers the records it did before."""
        path = self.home.provider_db(name)
        problems = [f"{path}: {p}" for p in integrity_problems(path)]
        if _file_digest(path) != self.registry_files[name]:
            problems.append(f"{path} changed while {name} was killed and restarted")
        again = await self._sample(name)
        for key, data in self.samples[name].items():
            if again.get(key) != data:
                problems.append(f"{name} answers {key[1]} of {key[0]} differently after the restart")
        return problems

    async def check_cases_reopen(self, case_ids: Sequence[str]) -> list[str]:
        """After a restart of the counter the officer signs in again and every case shown before opens."""
        problems = []
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         timeout=aiohttp.ClientTimeout(total=30)) as http:
            await self._sign_in(http)
            for case_id in case_ids:
                ref, printouts = self.ledger.counter.cases[case_id]
                _, page = await self._page(http, "GET", f"/cases/{case_id}")
                if ref not in page or not printouts <= set(_UUID.findall(page)):
                    problems.append(f"counter: case {ref} opens after the restart without what it showed before")
        return problems


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def csrf_token(page: str) -> str:
    """The CSRF token in a counter page's forms."""
    found = _CSRF.search(page)
    if found is None:
        raise RuntimeError("the counter's page has no CSRF field")
    return found.group(1)


async def run(home: Home, options: Options, out: Any = sys.stdout) -> list[RoundRow]:
    """Start the sandbox in home, run options.rounds rounds printing a row each, stop it; return the rows."""
    crash = Crash(home, options)
    try:
        await crash.start()
        print(f"{'round':>5}  {'killed':<7} {'received':>8} {'refused':>7} {'lost':>5} {'cases':>5} {'compl.':>6}"
              f" {'log size':>8} {'orphans':>7} {'restart s':>9} {'recover s':>9}  violations", file=out, flush=True)
        for round_no in range(1, options.rounds + 1):
            row = await crash.round(round_no)
            print(f"{row.round:>5}  {row.killed:<7} {row.received:>8} {row.refused:>7} {row.lost:>5} {row.cases:>5}"
                  f" {row.complaints:>6} {row.log_size:>8} {row.orphans:>7} {row.restart_s:>9.2f}"
                  f" {row.recover_s:>9.2f}  {len(row.violations)}", file=out, flush=True)
            for problem in row.violations[:20]:
                print(f"       ! {problem}", file=out, flush=True)
        ledger = crash.ledger
        print(f"total: {len(ledger.received)} printouts received by agencies' systems and"
              f" {sum(len(p) for _, p in ledger.counter.cases.values())} in {len(ledger.counter.cases)} counter cases,"
              f" {len(ledger.counter.complaints)} complaints; {len(ledger.refused)} documents refused,"
              f" {len(ledger.lost) + ledger.counter.lost} requests lost in a crash"
              f" ({sum(r.orphans for r in crash.rows)} log entries without a receiver: orphans);"
              f" {len(ledger.checkpoints)} checkpoints seen; reasons: "
              + ", ".join(f"{k} {v}" for k, v in ledger.errors.most_common()), file=out, flush=True)
    finally:
        await crash.stop()
    return crash.rows
