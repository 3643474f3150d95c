"""The hub's append-only exchange log: one entry per issued printout, durable before the answer.

Entries are appended by one writer thread in group commits: every ``append``
that arrives while a commit is running joins the next one, so the disk syncs
once per batch, not once per printout. SQLite runs in WAL mode with
``synchronous=FULL``: a commit is on disk (WAL fsynced) when ``append`` returns,
so a printout that left the hub survives a crash or a power cut of the hub.

An entry's ``leaf`` is the canonical JSON that becomes a Merkle leaf in the
auditors' log. It holds who, what, when and why, and the digest of the sealed
printout, but the subject only as a keyed hash (HMAC-SHA256 with a secret of
the hub): no personal data in clear.

Raises ``HubUnavailable`` (reason ``log_unavailable``) when the log cannot be
written; then nothing was recorded and the printout must not be issued.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from linkage.errors import HubUnavailable
from linkage.seal import canonical_json

__all__ = ["ExchangeLog", "LogEntry"]

_log = logging.getLogger("linkage.exchange_log")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    idx          INTEGER PRIMARY KEY,
    printout_id  TEXT NOT NULL UNIQUE,
    subject_hash TEXT NOT NULL,
    leaf         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_subject ON entries(subject_hash);
"""


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

    def leaf(self) -> bytes:
        return canonical_json({"kind": "printout", **asdict(self)})


class ExchangeLog:
    """The log file and its single writer. Use ``async with`` or call ``close``."""

    def __init__(self, path: Path, subject_key: bytes) -> None:
        if len(subject_key) < 32:
            raise ValueError("subject_key must be at least 32 bytes")
        self._key = subject_key
        self._path = path
        # One thread owns the connection: SQLite connections are not shared across threads.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange-log")
        self._db = self._executor.submit(self._open).result()
        self._size = self._executor.submit(self._count).result()
        self._queue: asyncio.Queue[tuple[LogEntry, asyncio.Future[int]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        return db

    def _count(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries").fetchone()
        return int(row[0])

    @property
    def size(self) -> int:
        """Number of entries committed so far."""
        return self._size

    def subject_hash(self, subject_id: str) -> str:
        return hmac.new(self._key, subject_id.encode(), hashlib.sha256).hexdigest()

    async def append(self, entry: LogEntry) -> int:
        """Commit entry durably and return its index. Raises HubUnavailable if it cannot."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_loop(self._queue))
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put((entry, done))
        return await done

    async def _write_loop(self, queue: asyncio.Queue[tuple[LogEntry, asyncio.Future[int]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                first = await loop.run_in_executor(self._executor, self._commit, [e for e, _ in batch])
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
            for offset, (_, done) in enumerate(batch):
                if not done.done():
                    done.set_result(first + offset)

    def _commit(self, entries: list[LogEntry]) -> int:
        first = self._size
        rows = [(first + i, e.printout_id, e.subject_hash, e.leaf()) for i, e in enumerate(entries)]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO entries(idx, printout_id, subject_hash, leaf) VALUES (?,?,?,?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._size = first + len(entries)
        return first

    def read(self, start: int, end: int) -> list[bytes]:
        """Leaves of entries [start, end)."""
        rows = self._executor.submit(
            lambda: self._db.execute("SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                                     (start, end)).fetchall()).result()
        return [bytes(r[0]) for r in rows]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        self._executor.submit(self._db.close).result()
        self._executor.shutdown()
