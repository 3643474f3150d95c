"""Checks 1-6 of the tests.crash docstring: the log as the restarted hub serves it, and the counter's file,
against what the clients and the officers saw (the registries' check is ``Crash.check_registry``)."""

from __future__ import annotations

import collections
import dataclasses
import json
import re
import sqlite3
from pathlib import Path

from consumers.auditor.logcheck import leaf_problems
from consumers.client import HubClient
from consumers.counter.manuals import Manual
from linkage import merkle
from linkage.checkpoint import open_checkpoint
from linkage.seal import printout_digest, unverified_payload
from tests.crash.ledger import Counter, Key, Ledger

__all__ = ["CASE_REF", "COUNTER_LOST", "CounterDisk", "CounterSlot", "LogCheck", "check_counter", "check_log",
           "integrity_problems"]

# A counter document whose answer never reached the counter's store: the hub may have logged it.
COUNTER_LOST = ("fetch_interrupted", "transport_")
CASE_REF = re.compile(r"PHR-\d{4}-\d{5}")  # a counter case's number


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
        out.problems += [f"{path}: {p}" for p in integrity_problems(path)]
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
    """Checks 1-5 of the tests.crash docstring, except the registries' (see ``Crash.check_registry``), and the part
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
        elif CASE_REF.fullmatch(key[0]) and counter is not None:
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
        bad.extend(f"{log_file}: {p}" for p in integrity_problems(log_file))
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


def integrity_problems(path: Path) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()
    return [] if rows == ["ok"] else rows
