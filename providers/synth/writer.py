"""The writer process: it writes the stores while the seeding process makes the next batch."""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from multiprocessing import queues as mp_queues
from pathlib import Path
from typing import Any

from linkage.storage import Database
from providers.synth.bulk import open_target

__all__ = ["Job", "Progress", "Writer"]

Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) as the seeding goes."""

Job = tuple[str, str, list[tuple[Any, ...]]]  # store name, table, rows


def _write_stores(where: Path | Database, jobs: mp_queues.Queue[list[Job] | None],
                  events: mp_queues.Queue[Any]) -> None:
    """The writer process: every batch in one transaction per store, then the indexes (providers.synth.bulk)."""
    try:
        target = open_target(where)
        try:
            while (batch := jobs.get()) is not None:
                for name, table, rows in batch:
                    target.write(name, table, rows)
            target.finish(lambda *event: events.put(event))
        finally:
            target.close()
        events.put(("done",))
    except BaseException as exc:
        events.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


class Writer:
    """A process of its own writes the stores while this one makes the next batch: SQLite's inserts
    (and psycopg's COPY rows) hold the GIL, so a thread would not help. At most one batch waits,
    which bounds memory."""

    def __init__(self, where: Path | Database) -> None:
        # spawn, not fork: the caller may run threads (gRPC, asyncio) that a fork would copy half-way.
        ctx = multiprocessing.get_context("spawn")
        self._jobs: mp_queues.Queue[list[Job] | None] = ctx.Queue(maxsize=1)
        self._events: mp_queues.Queue[Any] = ctx.Queue()
        self._process = ctx.Process(target=_write_stores, args=(where, self._jobs, self._events),
                                    name="linkage-seed-writer", daemon=True)
        self._process.start()

    def _check_alive(self) -> None:
        if not self._process.is_alive():
            raise RuntimeError(f"the seed writer stopped (exit code {self._process.exitcode})")

    def put(self, batch: list[Job]) -> None:
        while True:
            try:
                self._jobs.put(batch, timeout=1)
                return
            except queue.Full:
                self._check_alive()

    def finish(self, progress: Progress | None) -> None:
        """Wait until the stores are written and indexed; raises RuntimeError if the writer failed."""
        self._jobs.put(None)
        while True:
            try:
                event = self._events.get(timeout=1)
            except queue.Empty:
                self._check_alive()
                continue
            if event[0] == "done":
                break
            if event[0] == "error":
                raise RuntimeError(f"the seed writer failed: {event[1]}")
            if progress is not None:
                progress(*event)
        self._process.join()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        # A batch may still sit in a queue's feeder thread, blocked on a pipe nobody reads now: without
        # this, the interpreter waits for it at exit forever (a failed seeding hung pytest after its run).
        self._jobs.cancel_join_thread()
        self._events.cancel_join_thread()
