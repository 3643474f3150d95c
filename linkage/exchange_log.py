"""The hub's exchange log: an RFC 9162 Merkle tree of every printout and revocation, durable before the answer.

Entries are appended by one writer thread in group commits: every ``append``
that arrives while a commit is running joins the next one, so the disk syncs
once per batch, not once per printout. One SQLite transaction holds a batch's
entries, the tree nodes they complete, and the checkpoint signed over the new
tree, so the log, its tree and its checkpoints can never disagree. SQLite runs
in WAL mode with ``synchronous=FULL``: the WAL is fsynced at every commit, so a
printout that left the hub survives a crash or a power cut of the hub
(``NORMAL`` would only survive a crash of the process).

A leaf is canonical JSON. A printout's leaf holds who, what, when and why, and
the digest of the printout's signing input, but the subject only as a keyed
hash (HMAC-SHA256 with a secret of the hub): no personal data in clear.

Raises ``HubUnavailable`` (reason ``log_unavailable``) when the log cannot be
written; then nothing was recorded and the printout must not be issued.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from linkage import merkle
from linkage.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from linkage.errors import HubUnavailable
from linkage.seal import canonical_json

__all__ = ["Appended", "ExchangeLog", "LogEntry", "Record", "RevocationEntry", "SignedTree"]

_log = logging.getLogger("linkage.exchange_log")
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    idx          INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    printout_id  TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    leaf         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_subject ON entries(subject_hash) WHERE subject_hash != '';
CREATE UNIQUE INDEX IF NOT EXISTS entries_printout ON entries(kind, printout_id);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
"""


class Record(Protocol):
    """Anything the log can hold: it knows its kind, its printout and its leaf."""

    @property
    def kind(self) -> str: ...

    @property
    def printout_id(self) -> str: ...

    @property
    def subject_hash(self) -> str: ...

    def leaf(self) -> bytes: ...


@dataclass(frozen=True)
class LogEntry:
    """What the log keeps of one printout. Its canonical JSON is the Merkle leaf."""

    printout_id: str
    doc_type: str
    provider: str
    agency: str
    officer_id: str
    purpose: str
    case_ref: str
    issued_at: str
    subject_hash: str
    printout_sha256: str  # seal.printout_digest: hex SHA-256 of the JWS signing input
    kind: str = "printout"

    def leaf(self) -> bytes:
        return canonical_json(asdict(self))


@dataclass(frozen=True)
class RevocationEntry:
    printout_id: str
    agency: str
    officer_id: str
    reason: str
    revoked_at: str
    kind: str = "revocation"

    @property
    def subject_hash(self) -> str:
        return ""

    def leaf(self) -> bytes:
        return canonical_json(asdict(self))


@dataclass(frozen=True)
class SignedTree:
    note: str
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Appended:
    """A committed entry: its index, its leaf, and its inclusion proof against ``tree``."""

    index: int
    leaf: bytes
    proof: list[bytes]
    tree: SignedTree


class ExchangeLog:
    """The log file, its Merkle tree and its single writer. Call ``close`` when done."""

    def __init__(self, path: Path, subject_key: bytes, signer: NoteSigner, origin: str) -> None:
        if len(subject_key) < 32:
            raise ValueError("subject_key must be at least 32 bytes")
        self._key = subject_key
        self._path = path
        self._signer = signer
        self.origin = origin
        # One thread owns the connection: SQLite connections are not shared across threads.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange-log")
        self._db: sqlite3.Connection = self._executor.submit(self._open).result()
        self._tree, self._latest = self._executor.submit(self._restore).result()
        self._queue: asyncio.Queue[tuple[Record, asyncio.Future[Appended]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    # -- set-up (writer thread) -------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # A commit that waits two seconds for the file is a fault: refuse to issue rather than hang.
        db = sqlite3.connect(self._path, isolation_level=None, timeout=2.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        return db

    def _restore(self) -> tuple[merkle.CompactRange, SignedTree]:
        size = int(self._db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries").fetchone()[0])
        peaks = []
        start = 0
        for level in reversed(range(size.bit_length())):
            if size >> level & 1:
                peaks.append(self._hash_at(level, start >> level))
                start += 1 << level
        tree = merkle.CompactRange.from_peaks(size, peaks)
        row = self._db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
        if row is not None:
            return tree, SignedTree(row[0], Checkpoint(self.origin, size, tree.root()))
        # A tree without a checkpoint at its size (a new log): sign one now.
        signed = self._sign(tree)
        self._db.execute("INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?, ?)", (size, signed.note))
        return tree, signed

    def _sign(self, tree: merkle.CompactRange) -> SignedTree:
        cp = Checkpoint(self.origin, tree.size, tree.root())
        return SignedTree(sign_checkpoint(cp, self._signer), cp)

    def _hash_at(self, level: int, index: int) -> bytes:
        row = self._db.execute("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index)).fetchone()
        if row is None:
            raise LookupError(f"exchange log is missing tree node ({level}, {index})")
        return bytes(row[0])

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

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Raises merkle.ProofError for an index or size outside the tree."""
        if size > self.size:
            raise merkle.ProofError("size_beyond_source", f"the log has {self.size} entries, not {size}")
        return await self._run(lambda: merkle.inclusion_proof(self._hash_at, index, size))

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        if new_size > self.size:
            raise merkle.ProofError("size_beyond_source", f"the log has {self.size} entries, not {new_size}")
        return await self._run(lambda: merkle.consistency_proof(self._hash_at, old_size, new_size))

    async def checkpoint_at(self, size: int) -> str | None:
        row = await self._run(lambda: self._db.execute(
            "SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone())
        return None if row is None else str(row[0])

    async def index_of_leaf_hash(self, wanted: bytes) -> int | None:
        """The index of the entry whose leaf hash is wanted (a scan: for auditors, not the hot path)."""
        def scan() -> int | None:
            for idx, leaf in self._db.execute("SELECT idx, leaf FROM entries ORDER BY idx"):
                if merkle.leaf_hash(bytes(leaf)) == wanted:
                    return int(idx)
            return None
        return await self._run(scan)

    async def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        rows = await self._run(lambda: self._db.execute(
            "SELECT idx, leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)).fetchall())
        return [(int(i), bytes(leaf)) for i, leaf in rows]

    async def accesses(self, subject_id: str) -> list[tuple[int, dict[str, Any], bool]]:
        """Every printout about subject_id, oldest first, with whether it was revoked."""
        key = self.subject_hash(subject_id)
        rows = await self._run(lambda: self._db.execute(
            "SELECT e.idx, e.leaf, EXISTS(SELECT 1 FROM entries r WHERE r.kind = 'revocation'"
            " AND r.printout_id = e.printout_id) FROM entries e WHERE e.subject_hash = ? ORDER BY e.idx",
            (key,)).fetchall())
        return [(int(i), json.loads(leaf), bool(revoked)) for i, leaf, revoked in rows]

    async def printout(self, printout_id: str) -> dict[str, Any] | None:
        return await self._leaf_of("printout", printout_id)

    async def revocation(self, printout_id: str) -> tuple[int, dict[str, Any]] | None:
        row = await self._run(lambda: self._db.execute(
            "SELECT idx, leaf FROM entries WHERE kind = 'revocation' AND printout_id = ?",
            (printout_id,)).fetchone())
        if row is None:
            return None
        return int(row[0]), json.loads(row[1])

    async def _leaf_of(self, kind: str, printout_id: str) -> dict[str, Any] | None:
        row = await self._run(lambda: self._db.execute(
            "SELECT leaf FROM entries WHERE kind = ? AND printout_id = ?", (kind, printout_id)).fetchone())
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return data

    # -- writes ----------------------------------------------------------------------

    async def append(self, record: Record) -> Appended:
        """Commit record durably; return its index and inclusion proof. Raises HubUnavailable if it cannot."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_loop(self._queue))
        done: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        await self._queue.put((record, done))
        return await done

    async def _write_loop(self, queue: asyncio.Queue[tuple[Record, asyncio.Future[Appended]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                results = await loop.run_in_executor(self._executor, self._commit, [r for r, _ in batch])
            except Exception as exc:
                _log.error("exchange log write failed: %s", exc)
                err = HubUnavailable(
                    "log_unavailable",
                    "บันทึกการให้ข้อมูลไม่ได้ จึงไม่ออกเอกสาร / the hub cannot write its exchange log,"
                    " so no printout was issued; try again later",
                )
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                continue
            for result, (_, done) in zip(results, batch, strict=True):
                if not done.done():
                    done.set_result(result)

    def _commit(self, records: list[Record]) -> list[Appended]:
        tree = merkle.CompactRange.from_peaks(self._tree.size, self._tree.peaks)
        first = tree.size
        leaves = [r.leaf() for r in records]
        nodes = [n for leaf in leaves for n in tree.append(merkle.leaf_hash(leaf))]
        signed = self._sign(tree)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO entries(idx, kind, printout_id, subject_hash, leaf) VALUES (?,?,?,?,?)",
                [(first + i, r.kind, r.printout_id, r.subject_hash, leaf)
                 for i, (r, leaf) in enumerate(zip(records, leaves, strict=True))])
            self._db.executemany("INSERT INTO nodes(level, idx, hash) VALUES (?,?,?)",
                                 [(n.level, n.index, n.hash) for n in nodes])
            self._db.execute("INSERT INTO checkpoints(size, note) VALUES (?, ?)", (tree.size, signed.note))
            proofs = [merkle.inclusion_proof(self._hash_at, first + i, tree.size) for i in range(len(records))]
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._tree, self._latest = tree, signed
        return [Appended(first + i, leaf, proof, signed) for i, (leaf, proof) in enumerate(zip(leaves, proofs,
                                                                                                 strict=True))]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        self._executor.submit(self._db.close).result()
        self._executor.shutdown()
