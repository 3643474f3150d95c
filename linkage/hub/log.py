"""The hub's exchange log: an RFC 9162 Merkle tree of every printout and revocation, durable before the answer.

Entries are appended by one writer thread in group commits: every ``append``
that arrives while a commit is running joins the next one, so the disk syncs
once per batch, not once per printout. One SQLite transaction holds a batch's
entries, the tree nodes they complete, and the checkpoint signed over the new
tree, so the log, its tree and its checkpoints can never disagree. The store
is a SQLite file (WAL, ``synchronous=FULL``: the WAL is fsynced at every
commit, so a printout that left the hub survives a crash or a power cut of the
hub; ``NORMAL`` would only survive a crash of the process) or a PostgreSQL
schema (``synchronous_commit=on``); see ``linkage.hub.logstore``.

The inclusion proofs of a batch are made in memory, without reading the store:
every node they need is either a peak of the tree before the batch or a node the
batch completes (``linkage.hub.logproofs``). Proofs asked for later read the nodes they need in one query.
After a failed commit the writer reloads the tree from the store before the next
one, so a commit whose outcome was unknown (a connection lost during COMMIT) is
never written twice.

A leaf is canonical JSON. A printout's leaf holds who, what, when and why, and
the digest of the printout's signing input, but the subject only as a keyed
hash (HMAC-SHA256 with a secret of the hub): no personal data in clear (``linkage.hub.logentries``).

Raises ``HubUnavailable`` (code ``log_unavailable``) when the log cannot be
written; then nothing was recorded and the printout must not be issued.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from linkage import merkle
from linkage.checkpoint import Checkpoint, CheckpointSigner
from linkage.errors import HubUnavailable
from linkage.hub.keys import sign_revocation_list
from linkage.hub.logentries import Appended, LogEntry, Record, RevocationEntry, SignedTree
from linkage.hub.lognotify import LogListener, channels
from linkage.hub.logproofs import PLACEHOLDER, batch_proofs, peak_coords
from linkage.hub.logstore import EntryRow, Key, LogStore, open_log_store
from linkage.note import NoteSigner, sign_note
from linkage.storage import Database

__all__ = ["Appended", "ExchangeLog", "LogEntry", "Record", "RevocationEntry", "SignedTree"]

_log = logging.getLogger("linkage.hub.log")
_T = TypeVar("_T")

TICK_S = 0.01
"""On a shared log, while it cannot listen (linkage/hub/lognotify.py): how often the writer looks for work."""
LISTENING_TICK_S = 0.25
"""The same while it listens: a notification wakes it at once, this is only in case one was lost."""
CAMPAIGN_S = 0.5
"""On a shared log: how often a hub that does not integrate tries to take over (the integrator died)."""
PENDING_TIMEOUT_S = 10.0
"""How long a queued entry's caller waits for the integrator before it is told UNAVAILABLE."""
OVERDUE_S = 0.05  # a hub that does not integrate tries to take over once an entry it queued waited this long
_QUEUE_TAKE = 5000  # queued entries integrated per commit at most


def _unavailable() -> HubUnavailable:
    return HubUnavailable(
        "log_unavailable", "บันทึกการให้ข้อมูลไม่ได้ จึงไม่ออกเอกสาร",
        "the hub cannot write its exchange log, so no printout was issued; try again later",
    )


class ExchangeLog:
    """The log, its Merkle tree and its single writer. Call ``close`` when done.

    ``where`` is a SQLite file (created if absent) or a PostgreSQL ``Database``. ``signer`` signs each
    checkpoint: the hub's live log keys (``linkage.hub.keys.LogSigner``), or one ``NoteSigner``. Opening raises
    ``linkage.storage.StorageError`` (DatabaseUnavailable, SchemaMismatch) or ``sqlite3.Error``.
    """

    def __init__(self, where: Path | Database, subject_key: bytes, signer: NoteSigner | CheckpointSigner,
                 origin: str) -> None:
        if len(subject_key) < 32:
            raise ValueError("subject_key must be at least 32 bytes")
        self._key = subject_key
        # Called directly for every checkpoint: the hub's LogSigner signs with the log keys in force itself.
        self._signer = signer
        self._sign_checkpoint: Callable[[Checkpoint], str] = (
            (lambda cp: sign_note(cp.text(), [signer])) if isinstance(signer, NoteSigner) else signer.sign_checkpoint)
        self.origin = origin
        # One thread owns the store: a SQLite connection is not shared across threads, and one writer
        # needs one PostgreSQL connection.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange-log")
        self._store: LogStore | None = None
        try:
            self._store = self._executor.submit(open_log_store, where).result()
            self._tree, self._latest = self._executor.submit(self._restore).result()
        except BaseException:
            if self._store is not None:
                self._executor.submit(self._store.close).result()
            self._executor.shutdown()
            raise
        # True after a failed commit: the store may hold more than this process knows.
        self._stale = False
        # Several hubs on one PostgreSQL log: one integrates (leading), the others queue and wait.
        self._replicated = self._db.replicated
        self._leading = not self._replicated
        self._campaigned = 0.0
        self._failing = False  # the last turn of the writer failed (logged once until one succeeds)
        # Entries this hub queued, waiting for the integrator: key -> (leaf, caller's future, give up at).
        self._pending: dict[Key, tuple[bytes, asyncio.Future[Appended], float]] = {}
        self._queue: asyncio.Queue[tuple[Record, asyncio.Future[Appended]]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._grew: asyncio.Event | None = None  # set when the tree changes (the witnesses' relay waits on it)
        # On a shared log: set by an append or a notification from another replica (linkage/hub/lognotify.py).
        self._wake: asyncio.Event | None = None
        shared = where if self._replicated and isinstance(where, Database) else None
        self._queue_channel, self._grew_channel = channels(shared.schema("log")) if shared else ("", "")
        self._listener = LogListener(shared, shared.schema("log"), self._notified) if shared else None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # made outside an event loop: the writer starts with the first append
        else:
            # A replica must integrate (or learn of) others' entries even before it is asked anything.
            self._start_writer()

    @property
    def _db(self) -> LogStore:
        assert self._store is not None
        return self._store

    # -- tree state (writer thread) ---------------------------------------------

    def _restore(self) -> tuple[merkle.CompactRange, SignedTree]:
        size = self._db.size()
        coords = peak_coords(size)
        found = self._db.node_hashes(coords)
        missing = [c for c in coords if c not in found]
        if missing:
            raise LookupError(f"exchange log is missing tree node {missing[0]} of its {size} entries")
        tree = merkle.CompactRange.from_peaks(size, [found[c] for c in coords])
        note = self._db.checkpoint(size)
        if note is not None:
            return tree, SignedTree(note, Checkpoint(self.origin, size, tree.root()))
        # A tree without a checkpoint at its size (a new log): sign one now.
        signed = self._sign(tree)
        self._db.save_checkpoint(size, signed.note)
        return tree, signed

    def _sign(self, tree: merkle.CompactRange) -> SignedTree:
        cp = Checkpoint(self.origin, tree.size, tree.root())
        return SignedTree(self._sign_checkpoint(cp), cp)

    def _from_store(self, compute: Callable[[merkle.HashAt], _T]) -> _T:
        """Run compute twice: once to learn which nodes it reads, then over those nodes read in one query."""
        wanted: set[tuple[int, int]] = set()

        def record(level: int, index: int) -> bytes:
            wanted.add((level, index))
            return PLACEHOLDER

        compute(record)
        table = self._db.node_hashes(wanted)

        def hash_at(level: int, index: int) -> bytes:
            try:
                return table[level, index]
            except KeyError:
                raise LookupError(f"exchange log is missing tree node ({level}, {index})") from None

        return compute(hash_at)

    # -- reads --------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of entries committed so far."""
        return self._tree.size

    @property
    def latest(self) -> SignedTree:
        """The newest signed checkpoint."""
        return self._latest

    def subject_hash(self, subject_id: str) -> str:
        return hmac.new(self._key, subject_id.encode(), hashlib.sha256).hexdigest()

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _caught_up(self, size: int) -> None:
        """A replica that does not integrate (serving a witnessed checkpoint newer than its tree) reads the tree."""
        def refresh() -> None:
            if not self._leading:
                self._tree, self._latest = self._restore()
        if size > self.size and self._replicated and not self._leading:
            await self._run(refresh)

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Raises merkle.ProofError for an index or size outside the tree."""
        await self._caught_up(size)
        if size > self.size:
            raise merkle.ProofError("size_beyond_source", f"the log has {self.size} entries, not {size}")
        return await self._run(lambda: self._from_store(lambda at: merkle.inclusion_proof(at, index, size)))

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        await self._caught_up(new_size)
        if new_size > self.size:
            raise merkle.ProofError("size_beyond_source", f"the log has {self.size} entries, not {new_size}")
        return await self._run(lambda: self._from_store(lambda at: merkle.consistency_proof(at, old_size, new_size)))

    async def checkpoint_at(self, size: int) -> str | None:
        return await self._run(lambda: self._db.checkpoint(size))

    async def changed(self, size: int, timeout: float) -> None:
        """Return when the tree is no longer of ``size``, or after ``timeout`` seconds."""
        if self.size != size:
            return
        if self._grew is None:
            self._grew = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._grew.wait(), timeout)

    async def save_cosigned(self, size: int, note: str) -> None:
        """Keep ``note``, the checkpoint of ``size`` with its witnesses' cosignatures; while it is the newest, it
        is what ``latest`` serves."""
        def save() -> None:
            self._db.save_cosigned(size, note)
            if self._latest.checkpoint.size == size:  # on the writer thread: no commit runs meanwhile
                self._latest = SignedTree(note, self._latest.checkpoint)

        await self._run(save)

    async def witnessed(self) -> SignedTree | None:
        """The newest checkpoint kept with witnesses' cosignatures (by any hub of a shared log); None before any."""
        found = await self._run(self._db.cosigned_latest)
        if found is None:
            return None
        _, note = found
        return SignedTree(note, Checkpoint.from_text(note[: note.index("\n\n") + 1]))

    async def index_of_leaf_hash(self, wanted: bytes) -> int | None:
        """The index of the first entry whose leaf hash is wanted (its tree node at level 0)."""
        return await self._run(lambda: self._db.index_of_leaf_hash(wanted))

    async def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return await self._run(lambda: self._db.entries(start, end))

    async def accesses(self, subject_id: str) -> list[tuple[int, dict[str, Any], bool]]:
        """Every printout about subject_id, oldest first, with whether it was revoked."""
        key = self.subject_hash(subject_id)
        rows = await self._run(lambda: self._db.accesses(key))
        return [(i, json.loads(leaf), revoked) for i, leaf, revoked in rows]

    async def printout(self, printout_id: str) -> dict[str, Any] | None:
        found = await self._run(lambda: self._db.leaf("printout", printout_id))
        if found is None:
            return None
        data: dict[str, Any] = json.loads(found[1])
        return data

    async def revocation(self, printout_id: str) -> tuple[int, dict[str, Any]] | None:
        found = await self._run(lambda: self._db.leaf("revocation", printout_id))
        if found is None:
            return None
        return found[0], json.loads(found[1])

    async def revocation_list(self) -> str:
        """The signed revocation list (linkage/revlist.py) of the tree as committed now, issued now, signed with the
        log keys in force."""
        size = self.size
        rows = [(i, json.loads(leaf)) for i, leaf in await self._run(lambda: self._db.revocations(size))]
        return sign_revocation_list(self._signer, self.origin, size, rows)

    # -- writes ----------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Whether notifications from other replicas wake this log's writer (a shared log on PostgreSQL)."""
        return self._listener is not None and self._listener.listening

    def _notified(self, channel: str | None) -> None:
        """A notification: wake the writer when it is about work of its own (module linkage/hub/lognotify.py)."""
        if self._wake is None:
            return
        # Any batch wakes a replica that does not integrate: its entries may not count as pending yet.
        if channel is None or (channel == self._queue_channel and self._leading) or (
                channel == self._grew_channel and not self._leading):
            self._wake.set()

    @property
    def leading(self) -> bool:
        """Whether this hub integrates entries and signs checkpoints (always, unless several share the log)."""
        return self._leading

    async def append(self, record: Record) -> Appended:
        """Commit record durably; return its index and inclusion proof. Raises HubUnavailable if it cannot.

        On a log shared by several hubs, a hub that does not integrate queues the record durably and
        waits (at most PENDING_TIMEOUT_S) until the integrator has put it in the tree.
        """
        queue = self._start_writer()
        done: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        queue.put_nowait((record, done))
        if self._wake is not None:
            self._wake.set()
        return await done

    def _start_writer(self) -> asyncio.Queue[tuple[Record, asyncio.Future[Appended]]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            if self._replicated:
                self._wake = asyncio.Event()
            if self._listener is not None:
                self._listener.start()
            self._writer = asyncio.create_task(self._write_loop(self._queue))
        return self._queue

    async def _write_loop(self, queue: asyncio.Queue[tuple[Record, asyncio.Future[Appended]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = []
            if self._replicated:
                # Work may come from other hubs too: woken by them (or by an append), else look every tick.
                assert self._wake is not None
                # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a cancellation (close) that
                # arrives as the wait ends, and the writer would never stop.
                tick = LISTENING_TICK_S if self.listening else TICK_S
                with contextlib.suppress(TimeoutError):  # with entries queued: soon enough to see them overdue
                    async with asyncio.timeout(min(tick, OVERDUE_S) if self._pending else tick):
                        await self._wake.wait()
                self._wake.clear()
            else:
                batch.append(await queue.get())
            while not queue.empty():
                batch.append(queue.get_nowait())
            records = [r for r, _ in batch]
            pending = {key: leaf for key, (leaf, _, _) in self._pending.items()}
            size_before = self._tree.size
            try:
                overdue = any(deadline - PENDING_TIMEOUT_S + OVERDUE_S < loop.time()
                              for _, _, deadline in self._pending.values())
                results, resolved = await loop.run_in_executor(self._executor, self._cycle, records, pending,
                                                               overdue)
            except Exception as exc:
                # Once per outage, not once per tick: a replica looks at the log a hundred times a second.
                if not self._failing:
                    _log.error("exchange log write failed: %s", exc)
                self._failing = True
                for _, done in batch:
                    if not done.done():
                        done.set_exception(_unavailable())
                self._give_up_late()
                if not batch:
                    await asyncio.sleep(CAMPAIGN_S)  # nobody waits: try again calmly
                continue
            if self._failing:
                self._failing = False
                _log.warning("exchange log writable again")
            if self._grew is not None and self._tree.size != size_before:
                self._grew.set()
                self._grew = None
            for result, (record, done) in zip(results, batch, strict=True):
                if result is None:  # queued for the integrator
                    self._pending[record.kind, record.printout_id] = (record.leaf(), done,
                                                                      loop.time() + PENDING_TIMEOUT_S)
                elif not done.done():
                    done.set_result(result)
            for key, outcome in resolved.items():
                _, done, _ = self._pending.pop(key)
                if done.done():
                    continue
                if outcome is None:
                    done.set_exception(_unavailable())  # another entry took its key (a second revocation)
                else:
                    done.set_result(outcome)
            self._give_up_late()

    def _give_up_late(self) -> None:
        """Queued entries not integrated in time: their callers get UNAVAILABLE (the entry may still be logged)."""
        now = asyncio.get_running_loop().time()
        for key in [k for k, (_, _, deadline) in self._pending.items() if deadline < now]:
            _, done, _ = self._pending.pop(key)
            if not done.done():
                done.set_exception(_unavailable())

    def _cycle(self, records: list[Record], pending: dict[Key, bytes],
               overdue: bool = False) -> tuple[list[Appended | None], dict[Key, Appended | None]]:
        """One turn of the writer thread: commit (or queue) records, integrate others' queue, settle pending.

        A hub that does not integrate tries to every CAMPAIGN_S, and at once when an entry it queued is
        ``overdue`` (the integrator may be gone); not on every append, which would cost a round trip each.
        """
        now = time.monotonic()
        campaign = not self._leading and now - self._campaigned >= CAMPAIGN_S
        if self._replicated and (self._leading or overdue or campaign):
            if campaign:
                self._campaigned = now
            # No query while this hub's connection holds the lock; a new connection has to win it again.
            leading = self._db.try_lead()
            if leading and not self._leading:
                self._stale = True  # the tree was written by another hub until now
                _log.info("exchange log: this hub now integrates entries and signs checkpoints")
            self._leading = leading
        results: list[Appended | None]
        if self._leading:
            queued = self._db.peek_queue(_QUEUE_TAKE) if self._replicated else []
            results = list(self._commit(records, queued)) if records or queued else []
        else:
            if records:
                self._db.enqueue([EntryRow(-1, r.kind, r.printout_id, r.subject_hash, r.leaf()) for r in records])
            results = [None] * len(records)
            if campaign and not pending:  # keep what GetCheckpoint and proofs see close to the integrator's tree
                self._tree, self._latest = self._restore()
        return results, self._settle(pending) if pending else {}

    def _settle(self, pending: dict[Key, bytes]) -> dict[Key, Appended | None]:
        """Proofs for the pending entries that are in the tree now (None: its key holds another entry)."""
        if self._stale:
            self._tree, self._latest = self._restore()
            self._stale = False
        found = self._db.find(pending)
        newest = self._db.latest_checkpoint() if found and not self._leading else None
        if newest is not None and newest[0] > self._tree.size:
            # The integrator's newer tree: its peaks are read with the nodes of the proofs, in one query.
            size = newest[0]
            ready = {key: (idx, leaf) for key, (idx, leaf) in found.items() if idx < size}
            proofs, peaks = self._from_store(lambda at: ([merkle.inclusion_proof(at, idx, size) for idx, _ in
                                                          ready.values()], [at(*c) for c in peak_coords(size)]))
            tree = merkle.CompactRange.from_peaks(size, peaks)
            self._tree, self._latest = tree, SignedTree(newest[1], Checkpoint(self.origin, size, tree.root()))
        else:
            size = self._tree.size
            ready = {key: (idx, leaf) for key, (idx, leaf) in found.items() if idx < size}
            proofs = self._from_store(lambda at: [merkle.inclusion_proof(at, idx, size) for idx, _ in ready.values()])
        signed = self._latest
        out: dict[Key, Appended | None] = {}
        for (key, (idx, leaf)), proof in zip(ready.items(), proofs, strict=True):
            out[key] = Appended(idx, leaf, proof, signed) if leaf == pending[key] else None
        return out

    def _commit(self, records: list[Record], queued: Sequence[tuple[int, EntryRow]] = ()) -> list[Appended]:
        """Integrate records, and the queued entries of other hubs, in one transaction; proofs for records."""
        if self._stale:
            self._tree, self._latest = self._restore()
            self._stale = False
        tree = merkle.CompactRange.from_peaks(self._tree.size, self._tree.peaks)
        first = tree.size
        # Every node the batch's proofs need: the peaks before it, and the nodes it completes.
        known = dict(zip(peak_coords(first), tree.peaks, strict=True))
        taken = [(r.kind, r.printout_id, r.subject_hash, r.leaf()) for r in records]
        if queued:
            # A queued entry whose key is logged already (or comes twice) is dropped, never logged twice.
            seen = set(self._db.find([(row.kind, row.printout_id) for _, row in queued]))
            seen.update((kind, pid) for kind, pid, _, _ in taken)
            for _, row in queued:
                if (row.kind, row.printout_id) not in seen:
                    seen.add((row.kind, row.printout_id))
                    taken.append((row.kind, row.printout_id, row.subject_hash, row.leaf))
        nodes: list[merkle.Node] = []
        for _, _, _, leaf in taken:
            for node in tree.append(merkle.leaf_hash(leaf)):
                nodes.append(node)
                known[node.level, node.index] = node.hash
        signed = self._sign(tree)
        rows = [EntryRow(first + i, kind, pid, subject, leaf) for i, (kind, pid, subject, leaf) in enumerate(taken)]
        try:
            self._db.write_batch(rows, nodes, tree.size, signed.note, [seq for seq, _ in queued])
        except BaseException:
            self._stale = True
            raise
        self._tree, self._latest = tree, signed
        # Proofs for this hub's own entries only: the queued ones are settled by the hubs that queued them.
        proofs = batch_proofs(first, tree.size, known, count=len(records))
        return [Appended(row.idx, row.leaf, proof, signed) for row, proof in zip(rows, proofs, strict=False)]

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        self._executor.submit(self._db.close).result()
        self._executor.shutdown()
