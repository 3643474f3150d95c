"""Crash safety: kill -9 the hub, a registry or the counter in the middle of a load, restart it, prove nothing was lost.

    python scripts/crash.py [--rounds 10] [--targets hub,registry,counter] [--seconds 3] [--workers 4]
                            [--counter-workers 2] [--citizens 2000] [--home DIR] [--seed S]

The sandbox runs as ``linkage up`` runs it (each registry, the hub and the counter in a
process of its own, real mTLS, the exchange log and the counter's cases in SQLite with WAL
and synchronous=FULL). Each round starts a load: concurrent FetchDocument and
FetchDocuments calls (one ``HubClient``, every printout verified on receipt, every request
with a case_ref of its own) and officers at the counter (HTTP, as a browser: sign in, open
cases, file complaints). It kills one process with SIGKILL in the middle of it, starts it
again on the same port, waits until a call through it succeeds, lets the load run a little
longer, stops the load, and checks, through the restarted hub's AuditLog service and the
counter's file:

  1. the log's tree, recomputed from every entry, has the root of the newest signed checkpoint;
  2. every checkpoint any client saw before (in a printout's proof or from GetCheckpoint) is a
     prefix of it: same root at its size, no size beyond the log (no rollback), and the hub's
     consistency proof from the newest one seen to the new head verifies;
  3. every printout a client received is in the log exactly once, found by its digest
     (``seal.printout_digest``, the leaf's ``printout_sha256``), at the index it was told, and the
     entry names what its sealed payload says (agency, officer, type, purpose, case, time); the
     counter is a client too: every printout its cases hold;
  4. no entry for a document the hub refused (it said it issued nothing), none twice for one
     request, none for a request that was never sent; entries for requests whose answer was lost
     in the crash are allowed: they are counted as orphans, per round (the counter's too: a case
     document marked interrupted, or lost on the way from the hub);
  5. the log file passes ``PRAGMA integrity_check``; the registries' files are byte-for-byte what
     they were and answer the same records as before;
  6. the counter's file passes ``integrity_check``; every case an officer saw opened is there
     with the printouts the page showed, and opens again after sign-in; every case has one
     document slot per linked type of its service and its report row agrees with them; every
     complaint whose number was shown is there as filed.

Targets are cycled over the rounds: ``hub``, ``registry`` (dopa, dbd, edu in turn), a registry
by name, ``counter``. Prints one row per round and exits 1 on any violation.
``tests/test_crash.py`` runs a short version of this in the default suite.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import json
import platform
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumers.auditor.logcheck import leaf_problems
from consumers.client import HubClient, Printout, PrintoutRejected, RetryPolicy
from consumers.counter.manuals import DEFAULT_FOLDER, Manual, load_manuals
from linkage import merkle
from linkage.checkpoint import CheckpointError, NoteVerifier, open_checkpoint, parse_verifier_key
from linkage.cli.sandbox import Stack, init, start_stack, write_endpoints
from linkage.config import Home, Settings, load_settings
from linkage.errors import LinkageError
from linkage.ids import IdKind
from linkage.seal import printout_digest, unverified_payload

__all__ = [
    "Counter", "CounterDisk", "Crash", "Ledger", "LogCheck", "Options", "RoundRow", "add_sandbox_arguments",
    "check_counter", "check_log", "csrf_token", "main", "run", "sandbox_home",
]

PURPOSE = "ทดสอบความทนทาน / crash test"
AGENCY = "phrae-municipality"
REGISTRY_TARGETS = ("dopa", "dbd", "edu")
# A counter document whose answer never reached the counter's store: the hub may have logged it.
COUNTER_LOST = ("fetch_interrupted", "transport_")

Key = tuple[str, str]  # (case_ref, doc_type): one document asked for once

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_CASE_REF = re.compile(r"PHR-\d{4}-\d{5}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_COMPLAINT = re.compile(r'data-testid="complaint-done">[^<]*?(\d+)\s*</p>')


@dataclasses.dataclass(frozen=True)
class Received:
    printout_id: str
    digest: str
    log_index: int
    provider: str
    jws: str


@dataclasses.dataclass
class Counter:
    """What the officers' browsers saw: cases opened (id -> case ref and the printout ids shown) and
    complaints filed (number -> details); ``lost`` counts requests that got no answer."""

    cases: dict[str, tuple[str, frozenset[str]]] = dataclasses.field(default_factory=dict)
    complaints: dict[int, str] = dataclasses.field(default_factory=dict)
    lost: int = 0


@dataclasses.dataclass
class Ledger:
    """What the clients saw, per document asked for: received, refused (the hub answered that it issued
    nothing) or lost (no answer: the connection broke or the deadline passed), and every checkpoint seen."""

    verifier: NoteVerifier
    origin: str
    received: dict[Key, Received] = dataclasses.field(default_factory=dict)
    refused: dict[Key, str] = dataclasses.field(default_factory=dict)
    lost: dict[Key, str] = dataclasses.field(default_factory=dict)
    rejected: list[str] = dataclasses.field(default_factory=list)
    errors: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    # Every checkpoint seen: tree size -> root; two roots for one size is a fork.
    checkpoints: dict[int, bytes] = dataclasses.field(default_factory=dict)
    forks: list[str] = dataclasses.field(default_factory=list)
    counter: Counter = dataclasses.field(default_factory=Counter)
    _notes: dict[str, int] = dataclasses.field(default_factory=dict)

    def got(self, key: Key, printout: Printout) -> None:
        self.received[key] = Received(printout.printout_id, printout_digest(printout.jws), printout.log_index,
                                      str(printout.payload.get("provider", "")), printout.jws)
        if printout.checkpoint:
            self.saw(printout.checkpoint)

    def failed(self, key: Key, err: LinkageError) -> None:
        self.errors[err.reason] += 1
        if isinstance(err, PrintoutRejected):
            self.rejected.append(f"{key}: {err.message}")
            self.lost[key] = err.reason
        elif err.reason.startswith("transport_"):
            self.lost[key] = err.reason  # the hub may have issued it before the answer was lost
        else:
            self.refused[key] = err.reason

    def saw(self, note: str) -> None:
        """Remember a signed checkpoint (its signature is checked once per note text)."""
        if note in self._notes:
            return
        try:
            cp = open_checkpoint(note, [self.verifier], self.origin)
        except CheckpointError as exc:
            self.forks.append(f"a checkpoint the hub handed out does not verify: {exc}")
            return
        self._notes[note] = cp.size
        known = self.checkpoints.setdefault(cp.size, cp.root_hash)
        if known != cp.root_hash:
            self.forks.append(f"two checkpoints of size {cp.size} with different roots:"
                              f" {known.hex()[:16]}… and {cp.root_hash.hex()[:16]}…")


@dataclasses.dataclass(frozen=True)
class CounterSlot:
    case_id: str
    printout_id: str
    digest: str  # "" when the slot holds a problem
    log_index: int
    problem: str
    jws: str


@dataclasses.dataclass
class CounterDisk:
    """The counter's SQLite file as it is, read beside the running counter; ``problems`` is what is wrong in it."""

    slots: dict[Key, CounterSlot] = dataclasses.field(default_factory=dict)
    cases: dict[str, tuple[str, frozenset[str]]] = dataclasses.field(default_factory=dict)
    complaints: dict[int, str] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def read(cls, path: Path, manuals: dict[str, Manual]) -> CounterDisk:
        out = cls()
        if not path.exists():
            return out
        out.problems += [f"{path}: {p}" for p in _integrity_problems(path)]
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.execute("BEGIN")  # one snapshot
            refs = {r[0]: r[1] for r in db.execute("SELECT id, ref FROM open_case")}
            service = {r[0]: r[1] for r in db.execute("SELECT id, service_id FROM open_case")}
            reports = {r[0]: r[1:] for r in db.execute("SELECT case_ref, service_id, fetched FROM counter_case")}
            by_case: dict[str, dict[str, CounterSlot]] = collections.defaultdict(dict)
            for case_id, doc_type, printout_id, jws, log_index, reason in db.execute(
                    "SELECT case_id, doc_type, printout_id, jws, log_index, problem_reason FROM case_slot"):
                slot = CounterSlot(case_id, printout_id, printout_digest(jws) if jws else "", log_index, reason, jws)
                by_case[case_id][doc_type] = slot
                if case_id not in refs:
                    out.problems.append(f"counter: a {doc_type} slot of case {case_id} whose case is not there")
                else:
                    out.slots[refs[case_id], doc_type] = slot
            out.complaints = {int(r[0]): str(r[1]) for r in db.execute("SELECT id, details FROM complaint")}
            db.execute("COMMIT")
        finally:
            db.close()
        for case_id, ref in refs.items():
            slots = by_case.get(case_id, {})
            out.cases[case_id] = (ref, frozenset(s.printout_id for s in slots.values() if s.digest))
            manual = manuals.get(service[case_id])
            if manual is None:
                out.problems.append(f"counter: case {ref} is of an unknown service {service[case_id]!r}")
                continue
            if set(slots) != set(manual.linked_doc_types):
                out.problems.append(f"counter: case {ref} holds documents {sorted(slots)}, its service links"
                                    f" {sorted(manual.linked_doc_types)}")
            fetched = sum(1 for d in manual.documents if d.doc_type in slots and slots[d.doc_type].digest)
            if reports.get(ref) != (manual.id, fetched):
                out.problems.append(f"counter: the report row of case {ref} is {reports.get(ref)}, its documents"
                                    f" say ({manual.id!r}, {fetched})")
        return out


@dataclasses.dataclass
class LogCheck:
    """The log as the restarted hub serves it, checked against the ledger and the counter's file."""

    size: int = 0
    matched: int = 0
    counter_matched: int = 0
    orphans: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)  # per round tag
    counter_orphans: int = 0
    other: int = 0
    violations: list[str] = dataclasses.field(default_factory=list)


async def check_log(auditor: HubClient, ledger: Ledger, prefix: str, log_file: Path | None,
                    counter: CounterDisk | None = None) -> LogCheck:
    """Checks 1-5 of the module docstring, except the registries' (see ``Crash.check_registry``), and the part
    of 6 that needs the log: every printout in the counter's file is logged once, every entry for a counter
    case is in its file or was lost on the way."""
    out = LogCheck()
    bad = out.violations
    bad.extend(ledger.forks)
    bad.extend(f"a printout failed verification on receipt: {r}" for r in ledger.rejected)
    head = open_checkpoint(await auditor.checkpoint(), [ledger.verifier], ledger.origin)
    out.size = head.size
    leaves: list[bytes] = []
    while len(leaves) < head.size:
        batch = await auditor.entries(len(leaves), min(len(leaves) + 1000, head.size))
        if not batch or any(e.index != len(leaves) + i for i, e in enumerate(batch)):
            bad.append(f"GetEntries from {len(leaves)} answered indexes {[e.index for e in batch][:3]}…")
            return out
        leaves.extend(e.leaf for e in batch)
    # (1) The tree recomputed from the entries has the newest checkpoint's root; (2) so has every older one seen.
    tree = merkle.CompactRange()
    roots = {0: tree.root()}
    for leaf in leaves:
        tree.append(merkle.leaf_hash(leaf))
        if tree.size in ledger.checkpoints:
            roots[tree.size] = tree.root()
    if tree.root() != head.root_hash:
        bad.append(f"the {head.size} entries hash to {tree.root().hex()[:16]}…, the newest checkpoint says"
                   f" {head.root_hash.hex()[:16]}…")
    for size, root in sorted(ledger.checkpoints.items()):
        if size > head.size:
            bad.append(f"rollback: a checkpoint of size {size} was handed out, the log now has {head.size} entries")
        elif roots.get(size) != root:
            bad.append(f"fork: the checkpoint of size {size} seen before has root {root.hex()[:16]}…, the log's"
                       f" first {size} entries hash to {roots.get(size, b'').hex()[:16]}…")
    older = [s for s in ledger.checkpoints if 0 < s < head.size]
    if older:
        size = max(older)
        try:
            merkle.verify_consistency(size, head.size, await auditor.consistency_proof(size, head.size),
                                      ledger.checkpoints[size], head.root_hash)
        except merkle.MerkleError as exc:
            bad.append(f"the hub's consistency proof {size} -> {head.size} does not verify: {exc}")
    # (3) Every printout received is there once, where the hub said; (4) every entry is accounted for.
    by_digest: dict[str, list[int]] = collections.defaultdict(list)
    by_key: dict[Key, list[int]] = collections.defaultdict(list)
    digest_at: dict[int, str] = {}
    for index, raw in enumerate(leaves):
        try:
            leaf = json.loads(raw)
        except ValueError:
            bad.append(f"entry {index} is not JSON")
            continue
        if leaf.get("kind") == "printout":
            by_digest[leaf["printout_sha256"]].append(index)
            by_key[leaf["case_ref"], leaf["doc_type"]].append(index)
            digest_at[index] = leaf["printout_sha256"]
        elif leaf.get("kind") != "revocation":
            bad.append(f"entry {index} is of kind {leaf.get('kind')!r}")
    received = [(key, got.printout_id, got.digest, got.log_index, got.jws) for key, got in ledger.received.items()]
    if counter is not None:
        received += [(key, slot.printout_id, slot.digest, slot.log_index, slot.jws)
                     for key, slot in counter.slots.items() if slot.digest]
    for key, printout_id, digest, log_index, jws in received:
        found = by_digest.get(digest, [])
        if len(found) != 1:
            bad.append(f"printout {printout_id} ({key[0]} {key[1]}) was received; the log holds it"
                       f" {len(found)} times")
        elif found[0] != log_index:
            bad.append(f"printout {printout_id} was received with log index {log_index}; it is at {found[0]}")
        else:
            # The entry names this printout's who, what, when and why, as its sealed payload does.
            bad.extend(f"entry {log_index} (printout {printout_id}): {p}"
                       for p in leaf_problems(leaves[log_index], unverified_payload(jws), digest))
    counter_slots = counter.slots if counter is not None else {}
    for key, indexes in by_key.items():
        ours = key[0].startswith(prefix)
        if len(indexes) > 1 and (ours or key in counter_slots):
            bad.append(f"{key[0]} {key[1]} was asked for once and is in the log {len(indexes)} times: {indexes}")
        if key in counter_slots:
            slot = counter_slots[key]
            if slot.digest and slot.digest in (digest_at[i] for i in indexes):
                out.counter_matched += 1
            elif slot.problem.startswith(COUNTER_LOST):
                out.counter_orphans += len(indexes)
            else:
                bad.append(f"counter case {key[0]} {key[1]} holds {slot.problem or 'another printout'}, yet the log"
                           f" holds a printout for it at {indexes}")
        elif _CASE_REF.fullmatch(key[0]) and counter is not None:
            bad.append(f"entry {indexes} is for counter case {key[0]} {key[1]}, which the counter does not hold")
        elif not ours:
            out.other += len(indexes)
        elif key in ledger.received:
            out.matched += 1
        elif key in ledger.refused:
            bad.append(f"{key[0]} {key[1]} was refused ({ledger.refused[key]}), yet the log holds it at {indexes}")
        elif key in ledger.lost:
            out.orphans[_round_tag(key[0])] += len(indexes)
        else:
            bad.append(f"entry {indexes} is for {key[0]} {key[1]}, which no client asked for")
    # (5) The file itself.
    if log_file is not None:
        bad.extend(f"{log_file}: {p}" for p in _integrity_problems(log_file))
    return out


def check_counter(seen: Counter, disk: CounterDisk) -> list[str]:
    """Check 6: what the officers were shown is on disk, as shown."""
    bad = list(disk.problems)
    for case_id, (ref, printouts) in seen.cases.items():
        stored = disk.cases.get(case_id)
        if stored is None:
            bad.append(f"counter: case {ref} was shown opened and is gone")
        elif stored[0] != ref or not printouts <= stored[1]:
            bad.append(f"counter: case {ref} was shown with printouts {sorted(printouts)}; the file holds {stored}")
    for number, details in seen.complaints.items():
        if disk.complaints.get(number) != details:
            bad.append(f"counter: complaint {number} was acknowledged as {details!r}; the file holds"
                       f" {disk.complaints.get(number)!r}")
    return bad


def _round_tag(case_ref: str) -> str:
    return case_ref.rsplit("-", 2)[-2]


def _integrity_problems(path: Path) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()
    return [] if rows == ["ok"] else rows


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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

    async def _fetch_one(self, tag: str, doc_type: str, subject: str) -> Printout | None:
        assert self.client is not None
        key = (self._case_ref(tag), doc_type)
        try:
            printout = await self.client.fetch_document(doc_type, subject, purpose=PURPOSE, officer_id=self.officer,
                                                        case_ref=key[0], citizen_present=True)
        except LinkageError as err:
            self.ledger.failed(key, err)
            return None
        self.ledger.got(key, printout)
        return printout

    async def _fetch_many(self, tag: str, doc_types: list[str], subject: str) -> None:
        assert self.client is not None
        case_ref = self._case_ref(tag)
        try:
            answer = await self.client.fetch_documents(doc_types, subject, purpose=PURPOSE, officer_id=self.officer,
                                                       case_ref=case_ref, citizen_present=True)
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
                self.ledger.errors[f"checkpoint_{err.reason}"] += 1
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
            if resp.url.path == "/signin" and path != "/signin":
                raise _SignedOut()
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                                  message=f"{method} {path} answered {resp.status}")
            return resp.url.path, text

    async def _sign_in(self, http: aiohttp.ClientSession) -> str:
        """Sign in as the officer; the session's CSRF token."""
        _, page = await self._page(http, "GET", "/signin")
        await self._page(http, "POST", "/signin", {"csrf": csrf_token(page), "officer_id": self.officer, "next": "/"})
        return csrf_token((await self._page(http, "GET", "/complaints/new"))[1])

    async def _open_case(self, http: aiohttp.ClientSession, csrf: str) -> None:
        service, subject = self.rng.choice(self.services)
        where, page = await self._page(http, "POST", f"/cases/new/{service}",
                                       {"csrf": csrf, "subject_id": subject, "citizen_present": "1"})
        ref = _CASE_REF.search(page)
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
        problems = [f"{path}: {p}" for p in _integrity_problems(path)]
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


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """--home, --citizens, --seed: which sandbox a script runs (see ``sandbox_home``)."""
    parser.add_argument("--home", type=Path, help="a sandbox to use (made if absent); default a temporary one")
    parser.add_argument("--citizens", type=int, default=2000, help="citizens in a new sandbox (default 2000)")
    parser.add_argument("--seed", type=int, default=1)


@contextlib.contextmanager
def sandbox_home(args: argparse.Namespace, prefix: str) -> Iterator[Home]:
    """The sandbox in --home (made there if absent), or a new one in a temporary folder deleted afterwards."""
    tmp = None if args.home else Path(tempfile.mkdtemp(prefix=prefix))
    root = args.home or tmp
    assert root is not None
    try:
        home = Home(root.resolve())
        if not home.config_file.exists():
            init(home.root, citizens=args.citizens, seed=args.seed)
        yield home
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--targets", default="hub,registry,counter",
                        help="processes to kill, cycled over the rounds: hub, registry (each in turn), dopa, dbd, edu,"
                             " counter (default hub,registry,counter)")
    parser.add_argument("--seconds", type=float, default=3.0, help="load per round, seconds (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="gRPC calls in flight (default 4)")
    parser.add_argument("--counter-workers", type=int, default=2, help="officers at the counter (default 2)")
    add_sandbox_arguments(parser)
    args = parser.parse_args(argv)
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    unknown = [t for t in targets if t not in ("hub", "registry", "counter", *REGISTRY_TARGETS)]
    if not targets or unknown or args.rounds < 1 or args.workers < 1 or args.counter_workers < 0 or args.seconds <= 0:
        parser.error(f"--targets: choose from hub, registry, counter, {', '.join(REGISTRY_TARGETS)}"
                     f" (got {unknown or '-'}); --rounds, --workers and --seconds must be positive")
    options = Options(rounds=args.rounds, targets=targets, seconds=args.seconds, workers=args.workers,
                      counter_workers=args.counter_workers, seed=args.seed)
    with sandbox_home(args, "linkage-crash-") as home:
        print(f"crash test: {options.rounds} rounds killing {', '.join(targets)}; {options.workers} calls in flight,"
              f" {options.counter_workers} officers; {platform.machine()}, Python {platform.python_version()}",
              flush=True)
        rows = asyncio.run(run(home, options))
    failed = [r for r in rows if r.violations]
    print("FAILED: see the violations above" if failed else
          "OK: every printout received is in the log exactly once, the log verifies against its newest checkpoint"
          " and every checkpoint seen before, every case and complaint shown is on disk, and every process came"
          " back with its data")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
