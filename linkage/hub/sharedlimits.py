"""Limits that hold across hub replicas: each agency's token bucket and daily quota live in PostgreSQL, where
the replicas already meet, and each replica leases tokens from them in batches.

The table ``agency_limits(agency, tokens, refilled, day, used)`` (migration 5 of ``linkage.hub.logstore``, in
the log's schema) holds one bucket per agency: ``tokens`` as of ``refilled`` (the database's clock, epoch
seconds), and the calls ``used`` on Bangkok's ``day``. A lease is one statement: it refills the bucket for the
time gone by (``rate_per_s``, up to ``burst``), takes the tokens the waiting calls need and, to spend
without asking, up to ``LEASE_S`` of the agency's rate more but never more than half of what is left (so
that another replica finds some), never more than the bucket holds nor than the day's quota leaves, and
counts them as used. So whatever the number of replicas, an agency
is admitted at most ``burst`` + ``rate_per_s`` · t calls in any t seconds and ``daily_quota`` a day.

A replica spends its lease locally, with no database in the way: ``admit`` is ``AgencyLimiter.admit``'s
contract, synchronous. ``prepare`` (awaited by the ``interceptor`` before each call reaches the servicer)
leases only when the local lease is short of the call's cost, and once a lease has come back short the
replica knows the bucket is empty until its next token is due (or the quota until Bangkok's midnight) and
refuses without asking. When the lease falls below half of ``LEASE_S`` worth of calls at the agency's full
rate it is topped up in the background, so a steady caller waits for the database about never.

What this costs: the tokens a replica leased and has not spent stay with it (at most one lease, ``LEASE_S``
of the agency's rate, or what a call of many document types needed) and count as used for the day; a replica
that cannot reach the database refuses (``rate_limited``), as it could not log a printout either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from linkage.config import AgencyConfig
from linkage.hub.overlimit import quota_exhausted, rate_limited
from linkage.hub.rules import AgencyLimiter, _Account
from linkage.interceptors import UnaryWrapper
from linkage.limits import BANGKOK, MAX_BATCH, AgencyLimits
from linkage.storage import PG_OPTIONS, Database

if TYPE_CHECKING:
    import psycopg

__all__ = ["LEASE_S", "SharedLimiter"]

_log = logging.getLogger("linkage.limits")

LEASE_S = 0.1
"""A lease holds, beyond what the waiting calls need, this long of the agency's full rate (at most half of what the
bucket and the quota have left)."""
_RETRY_S = 0.5  # how soon a replica that could not reach the database asks again

# One statement: lock the agency's row, refill it for the time gone by, grant what it holds and the quota leaves.
_LEASE = """
WITH t AS (
    SELECT extract(epoch FROM clock_timestamp())::float8 AS now,
           (clock_timestamp() AT TIME ZONE 'Asia/Bangkok')::date AS today
), s AS (
    SELECT a.agency, t.now, t.today,
           LEAST(%(burst)s::float8, a.tokens + GREATEST(0, t.now - a.refilled) * %(rate)s::float8) AS avail,
           CASE WHEN a.day = t.today THEN a.used ELSE 0 END AS used
    FROM agency_limits a, t WHERE a.agency = %(agency)s FOR UPDATE OF a
), n AS (
    SELECT s.*, GREATEST(0, LEAST(floor(s.avail)::bigint, %(quota)s::bigint - s.used)) AS can FROM s
), g AS (
    SELECT n.*, LEAST(n.can, %(need)s::bigint + LEAST(%(extra)s::bigint, GREATEST(0, (n.can - %(need)s::bigint) / 2)))
                AS granted
    FROM n
)
UPDATE agency_limits a SET tokens = g.avail - g.granted, refilled = g.now, day = g.today, used = g.used + g.granted
FROM g WHERE a.agency = g.agency
RETURNING g.granted, g.avail - g.granted, g.used + g.granted
"""
_CREATE = """
INSERT INTO agency_limits (agency, tokens, refilled, day, used)
VALUES (%(agency)s, %(burst)s, extract(epoch FROM clock_timestamp()),
        (clock_timestamp() AT TIME ZONE 'Asia/Bangkok')::date, 0)
ON CONFLICT (agency) DO NOTHING
"""


@dataclass
class _Shared:
    """What this replica knows of an agency's bucket beyond its lease."""

    until: float = 0.0  # monotonic: no token to lease before this
    quota: bool = False  # the day's quota is used up (until then)
    refill: asyncio.Event | None = None  # a lease on its way: set when it is back


class SharedLimiter(AgencyLimiter):
    """``AgencyLimiter`` whose tokens and quota are leased from PostgreSQL (module docstring). ``close`` when done.

    ``used_today`` counts this replica's calls only.
    """

    def __init__(self, database: Database, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self._database = database
        self._schema = database.schema("log")
        self._shared: dict[str, _Shared] = {}
        self._created: set[str] = set()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    def admit(self, agency: str, limits: AgencyLimits, cost: int = 1) -> None:
        cost = max(1, min(cost, limits.burst))
        moment, today = self._clock(), self._now().astimezone(BANGKOK)
        account = self._accounts.get(agency)
        if account is None:
            account = self._accounts[agency] = _Account(0.0, moment, today.date())
        if account.day != today.date():
            account.day, account.used_today = today.date(), 0
        if account.tokens < cost:
            shared = self._shared.get(agency) or _Shared()
            if shared.quota and moment < shared.until:
                self._refused(agency, account, moment, "quota_exhausted")
                raise quota_exhausted(agency, limits, today)
            self._refused(agency, account, moment, "rate_limited")
            wait = max(shared.until - moment, 1 / limits.rate_per_s)
            raise rate_limited(agency, limits, max(1, math.ceil(wait * 1000)))
        account.tokens -= cost
        account.used_today += cost
        if account.tokens < math.ceil(limits.rate_per_s * LEASE_S) / 2:
            self._top_up(agency, limits)

    async def prepare(self, agency: str, limits: AgencyLimits, cost: int = 1) -> None:
        """Lease tokens for a call of ``cost`` if the local lease is short and the bucket may hold some."""
        cost = max(1, min(cost, limits.burst))
        shared = self._shared.setdefault(agency, _Shared())
        while True:
            account = self._accounts.get(agency)
            if account is not None and account.tokens >= cost:
                return
            if self._clock() < shared.until:
                return  # known to be empty: admit refuses without asking the database
            await self._refill(agency, limits, shared, cost)

    def _top_up(self, agency: str, limits: AgencyLimits) -> None:
        shared = self._shared.setdefault(agency, _Shared())
        if shared.refill is None and self._clock() >= shared.until:
            task = asyncio.get_running_loop().create_task(self._refill(agency, limits, shared, 0))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _refill(self, agency: str, limits: AgencyLimits, shared: _Shared, need: int) -> None:
        """One lease of ``need`` tokens and some more (or wait for the lease on its way, then look again)."""
        if shared.refill is not None:
            await shared.refill.wait()
            return
        shared.refill = done = asyncio.Event()
        try:
            extra = math.ceil(limits.rate_per_s * LEASE_S)
            try:
                granted, left, used = await self._lease(agency, limits, need, extra)
            except Exception as exc:  # the database failed: refuse for a while, say so once
                if self._clock() >= shared.until:  # not already refusing for the same reason
                    _log.error("cannot lease calls for %s from the database: %s", agency,
                               str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                shared.until, shared.quota = self._clock() + _RETRY_S, False
                return
            account = self._accounts.get(agency)
            if account is None:
                today = self._now().astimezone(BANGKOK).date()
                account = self._accounts[agency] = _Account(0.0, self._clock(), today)
            account.tokens += granted
            if granted < need or granted == 0:  # the bucket (or the day's quota) is empty now
                if used >= limits.daily_quota:
                    today = self._now().astimezone(BANGKOK)
                    midnight = dt.datetime.combine(today.date() + dt.timedelta(days=1), dt.time(), BANGKOK)
                    shared.until, shared.quota = self._clock() + (midnight - today).total_seconds(), True
                else:
                    shared.until, shared.quota = self._clock() + max(0.0, 1.0 - left) / limits.rate_per_s, False
        finally:
            shared.refill = None
            done.set()

    async def _lease(self, agency: str, limits: AgencyLimits, need: int, extra: int) -> tuple[int, float, int]:
        """(granted, tokens left in the bucket, used today) after taking ``need`` and up to ``extra`` more."""
        import psycopg

        params = {"agency": agency, "burst": limits.burst, "rate": limits.rate_per_s, "quota": limits.daily_quota,
                  "need": need, "extra": extra}
        async with self._lock:
            try:
                conn = await self._connection()
                if agency not in self._created:
                    await conn.execute(_CREATE, params)
                    self._created.add(agency)
                cur = await conn.execute(_LEASE, params, prepare=True)
                row = await cur.fetchone()
            except psycopg.Error:
                if self._conn is not None:
                    await self._conn.close()
                    self._conn = None
                raise
        if row is None:
            raise LookupError(f"no limits row for {agency}")
        return int(row[0]), float(row[1]), int(row[2])

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        import psycopg
        from psycopg import sql

        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self._database.url, autocommit=True,
                **{**PG_OPTIONS, "application_name": f"linkage-limits-{os.getpid()}"})
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
            self._conn = conn
        return self._conn

    def interceptor(self, agencies: Callable[[], Mapping[str, AgencyConfig]]) -> grpc.aio.ServerInterceptor:
        """A server interceptor that leases, before the servicer admits the call, what the call will cost.

        ``agencies``: the agencies in force (no stat: the call's own admission reads linkage.toml).
        """
        return _Prepare(self, agencies)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class _Prepare(UnaryWrapper):
    def __init__(self, limiter: SharedLimiter, agencies: Callable[[], Mapping[str, AgencyConfig]]) -> None:
        super().__init__()
        self._limiter = limiter
        self._agencies = agencies

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary
        limiter, agencies = self._limiter, self._agencies

        async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
            names = context.auth_context().get("x509_common_name") or [b""]
            agency = agencies().get(bytes(names[0]).decode("utf-8", "replace"))
            if agency is not None:  # an unknown caller is refused on admission, charged nothing
                doc_types = getattr(request, "doc_types", None)
                await limiter.prepare(agency.name, agency.limits,
                                      1 if doc_types is None else min(len(doc_types), MAX_BATCH))
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(behaviour, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)
