"""Hub replicas wake at once: PostgreSQL LISTEN/NOTIFY on the log they share, instead of looking every tick.

The log's schema has a trigger (migration 4 of ``linkage.hub.logstore``) that notifies, when a transaction
commits, on ``<schema>.queue`` after a replica queued entries and on ``<schema>.checkpoints`` after the
integrator committed a batch. ``LogListener`` holds one connection of its own that listens on both and calls
``wake(channel)`` for each notification, in the event loop; ``wake(None)`` each time it (re)starts
listening, since anything may have happened while it was not. The log's writer (linkage/hub/log.py)
looks at the log then: the integrator for queued entries, another replica for its own entries now in
the tree. Notifications are only a hint: the writer still looks every ``LISTENING_TICK_S`` (linkage/hub/log.py),
so a notification lost with a connection delays an entry, never loses it. A connection that fails is
made again after ``RETRY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

from linkage.storage import PG_OPTIONS, Database

__all__ = ["RETRY_S", "LogListener", "channels"]

_log = logging.getLogger("linkage.hub.log")

RETRY_S = 0.5
"""How soon a listening connection that failed is made again."""


def channels(schema: str) -> tuple[str, str]:
    """The channels the log's trigger notifies on: (queued entries, committed batches)."""
    return f"{schema}.queue", f"{schema}.checkpoints"


class LogListener:
    """One connection listening for the log's notifications; ``start`` in the event loop, ``close`` when done."""

    def __init__(self, database: Database, schema: str, wake: Callable[[str | None], None]) -> None:
        self._database = database
        self._channels = channels(schema)
        self._wake = wake
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="exchange-log-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        import psycopg
        from psycopg import sql

        failing = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._database.url, autocommit=True,
                    **{**PG_OPTIONS, "application_name": f"linkage-log-listen-{os.getpid()}"})
                async with conn:
                    for channel in self._channels:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.listening = True
                    if failing:
                        _log.warning("exchange log: listening for other replicas again")
                        failing = False
                    self._wake(None)
                    async for note in conn.notifies():
                        self._wake(note.channel)
            except psycopg.Error as exc:
                if not failing:  # once per outage: the writer's own errors say the rest
                    _log.warning("exchange log: cannot listen for other replicas (%s); looking every tick instead",
                                 str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                failing = True
            finally:
                self.listening = False
            await asyncio.sleep(RETRY_S)
