"""Limits shared by hub replicas (linkage/hub/sharedlimits.py), on a real PostgreSQL.

Two ``SharedLimiter``s on one log schema are two replicas, as ``build_server`` makes them; each call goes
through ``prepare`` (the interceptor) then ``admit`` (``Hub.admit``), as a call through a hub does. Two
in-process ``AgencyLimiter``s, what each replica had before, would let the agency through twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.errors import LimitExceeded
from linkage.hub.log import ExchangeLog
from linkage.hub.sharedlimits import SharedLimiter
from linkage.limits import AgencyLimits
from linkage.note import NoteSigner
from linkage.storage import Database
from tests.backends import fresh_database, postgres

__all__ = ["postgres"]


@pytest.fixture
async def replicas(postgres: Database) -> AsyncIterator[tuple[SharedLimiter, SharedLimiter]]:
    where = fresh_database(postgres)
    log = ExchangeLog(where, b"k" * 32, NoteSigner("limits.test", Ed25519PrivateKey.generate()), "limits.test")
    await log.close()  # the log's schema, with its migrations, is where the limits live
    a, b = SharedLimiter(where), SharedLimiter(where)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _call(limiter: SharedLimiter, limits: AgencyLimits, cost: int = 1) -> str:
    """One call's admission as a hub makes it: "" when admitted, else the refusal's code."""
    await limiter.prepare("flooder", limits, cost)
    try:
        limiter.admit("flooder", limits, cost)
    except LimitExceeded as exc:
        return exc.code
    return ""


async def test_two_replicas_together_hold_an_agency_to_its_daily_quota(
        replicas: tuple[SharedLimiter, SharedLimiter]) -> None:
    a, b = replicas
    limits = AgencyLimits(rate_per_s=100_000, burst=100_000, daily_quota=30)
    outcomes = await asyncio.gather(*(_call(r, limits) for _ in range(25) for r in (a, b)))
    admitted = outcomes.count("")
    # Not 50, as each replica alone would have admitted all its 25; a lease a replica took and could not spend
    # (at most half of what was left when it asked) counts as used.
    assert 20 <= admitted <= 30
    assert set(outcomes) == {"", "quota_exhausted"}
    # Later calls spend what a replica still holds of its lease, then each refuses: together the two admitted
    # every call the quota allows, and not one more.
    later = [await _call(r, limits) for _ in range(15) for r in (a, b)]
    assert admitted + later.count("") == 30
    assert later[-2:] == ["quota_exhausted", "quota_exhausted"]
    assert a.used_today("flooder") + b.used_today("flooder") == 30


async def test_two_replicas_together_hold_an_agency_to_its_rate(replicas: tuple[SharedLimiter, SharedLimiter]) -> None:
    a, b = replicas
    limits = AgencyLimits(rate_per_s=5, burst=40, daily_quota=1_000_000)
    started = time.monotonic()
    admitted = 0
    for _ in range(60):  # one replica after the other, as a round-robin client sends them
        for replica in (a, b):
            outcome = await _call(replica, limits, cost=2)  # a FetchDocuments of two types
            assert outcome in ("", "rate_limited")
            admitted += 2 if outcome == "" else 0
    elapsed = time.monotonic() - started
    # The bucket's bound for both together; what the replicas leased and did not spend is at most a lease each.
    assert admitted <= limits.burst + limits.rate_per_s * elapsed + 2
    assert admitted >= limits.burst - 2 * (2 + 1)
    assert a.used_today("flooder") > 0 and b.used_today("flooder") > 0  # both served some
