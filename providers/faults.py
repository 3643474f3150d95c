"""Fault injection in the mock registries: what ``ProviderAdmin`` sets and what a call suffers.

``FaultPlan`` is one set of faults. ``FaultPlan.check`` is the one range check, run by
the CLI before it sends anything and by the registry before it applies anything; it
raises ``linkage.errors.InvalidRequest`` with code ``fault_out_of_range`` or
``unknown_error_code``. ``Faults`` is the state of one running registry: the plan in
force, when its outage ends, its seeded draws and counters of what it did.

A call suffers, in this order: during an outage it fails at once with the plan's
error (a registry that is down answers nothing slowly); otherwise it waits latency ±
jitter, then fails with probability error_rate; otherwise it is served. Only the
calls of ``ProviderService`` suffer (each read of a ``BatchGetRecords`` on its own, as one
``GetRecord``): health, reflection and ``ProviderAdmin`` never do.

``ADMIN_CLIENT`` / ``ADMIN_UNIT`` name the only certificate that may set faults; ``linkage
init`` issues it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import secrets
import time
from dataclasses import dataclass
from typing import NamedTuple

import grpc

from linkage.errors import InvalidRequest
from linkage.v1 import provider_pb2

__all__ = [
    "ADMIN_CLIENT",
    "ADMIN_UNIT",
    "ERROR_CODES",
    "MAX_LATENCY_MS",
    "MAX_OUTAGE_MS",
    "Failure",
    "FaultPlan",
    "Faults",
]

ADMIN_CLIENT = "sandbox-admin"
"""Common name of the sandbox administrator's client certificate."""
ADMIN_UNIT = "admin"
"""Its organisational unit: an agency onboarded under the same name is still not the administrator."""

# Codes a server (or the network in front of it) can fail with; caller mistakes are not faults.
ERROR_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "RESOURCE_EXHAUSTED", "UNKNOWN", "ABORTED",
               "DATA_LOSS")
MAX_LATENCY_MS = 600_000
MAX_OUTAGE_MS = 86_400_000


def _ms(ms: int) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms} ms"


class Failure(NamedTuple):
    """How an injected fault ends a call: its status and the message, in Thai and in English."""

    status: grpc.StatusCode
    message_th: str
    message_en: str

    @property
    def details(self) -> str:
        return f"{self.message_th} / {self.message_en}"


@dataclass(frozen=True)
class FaultPlan:
    """The faults of one registry, as SetFaults gives them (see FaultSettings in provider.proto)."""

    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    error: str = "UNAVAILABLE"
    outage_ms: int = 0
    seed: int = 0

    @classmethod
    def from_proto(cls, msg: provider_pb2.FaultSettings) -> FaultPlan:
        return cls(latency_ms=msg.latency_ms, jitter_ms=msg.jitter_ms, error_rate=msg.error_rate,
                   error=msg.error or "UNAVAILABLE", outage_ms=msg.outage_ms, seed=msg.seed)

    def to_proto(self) -> provider_pb2.FaultSettings:
        return provider_pb2.FaultSettings(latency_ms=self.latency_ms, jitter_ms=self.jitter_ms,
                                          error_rate=self.error_rate, error=self.error, outage_ms=self.outage_ms,
                                          seed=self.seed)

    @property
    def any(self) -> bool:
        return bool(self.latency_ms or self.jitter_ms or self.error_rate or self.outage_ms)

    def check(self) -> None:
        """Raise InvalidRequest naming the first setting out of range and the range it must be in."""
        for name, value, limit in (("latency", self.latency_ms, MAX_LATENCY_MS),
                                   ("jitter", self.jitter_ms, MAX_LATENCY_MS),
                                   ("outage", self.outage_ms, MAX_OUTAGE_MS)):
            if not 0 <= value <= limit:
                raise InvalidRequest(
                    "fault_out_of_range", f"ต้องอยู่ระหว่าง 0 ถึง {_ms(limit)}",
                    f"{name} must be between 0 and {_ms(limit)}, got {value} ms"
                    + (" (a negative duration)" if value < 0 else ""), field=name)
        if not (math.isfinite(self.error_rate) and 0.0 <= self.error_rate <= 1.0):
            raise InvalidRequest(
                "fault_out_of_range", "ต้องอยู่ระหว่าง 0 ถึง 1",
                f"error_rate is a share of calls, from 0 (none) to 1 (every call); got {self.error_rate}",
                field="error_rate")
        if self.error not in ERROR_CODES:
            raise InvalidRequest(
                "unknown_error_code", f"ไม่รู้จักรหัส {self.error[:40]!r}",
                f"{self.error[:40]!r} is not a fault code; use one of: {', '.join(ERROR_CODES)}", field="error")


class Faults:
    """The faults in force on one registry and counters of what they did. One event loop only."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._plan = FaultPlan()
        self._rng = random.Random()
        self._outage_until = 0.0
        self._stats = provider_pb2.FaultStats()

    @property
    def plan(self) -> FaultPlan:
        """The faults in force (with the seed actually drawn)."""
        return self._plan

    def set(self, plan: FaultPlan) -> None:
        """Replace the faults with plan (checked first: InvalidRequest changes nothing)."""
        plan.check()
        if not plan.seed:
            plan = dataclasses.replace(plan, seed=secrets.randbits(63) or 1)
        self._plan = plan
        self._rng = random.Random(plan.seed)
        self._outage_until = time.monotonic() + plan.outage_ms / 1000 if plan.outage_ms else 0.0

    def clear(self) -> None:
        self._plan = FaultPlan()
        self._outage_until = 0.0

    def state(self) -> provider_pb2.FaultState:
        left = max(0, math.ceil((self._outage_until - time.monotonic()) * 1000))
        stats = provider_pb2.FaultStats()
        stats.CopyFrom(self._stats)
        return provider_pb2.FaultState(provider=self.provider, faults=self._plan.to_proto(),
                                       outage_remaining_ms=left, stats=stats)

    def unfaulted(self) -> bool:
        """When no fault is in force: count the call and return True, so that it need not await ``suffer``."""
        if self._plan.any:
            return False
        self._stats.calls += 1
        return True

    async def suffer(self) -> Failure | None:
        """Apply the faults to one call: wait if they say so; the failure it must end with, or None to serve it."""
        plan = self._plan
        self._stats.calls += 1
        if not plan.any:
            return None
        status: grpc.StatusCode = getattr(grpc.StatusCode, plan.error)
        if self._outage_until and time.monotonic() < self._outage_until:
            self._stats.refused_in_outage += 1
            return Failure(status, f"ทดสอบ: ทะเบียน {self.provider} ปิดให้บริการชั่วคราว",
                           f"injected outage: registry {self.provider} is down for {_ms(plan.outage_ms)}"
                           " (linkage faults)")
        delay = plan.latency_ms + (self._rng.uniform(-plan.jitter_ms, plan.jitter_ms) if plan.jitter_ms else 0)
        if delay > 0:
            self._stats.delayed += 1
            await asyncio.sleep(delay / 1000)
        if plan.error_rate and self._rng.random() < plan.error_rate:
            self._stats.errors_injected += 1
            return Failure(status, f"ทดสอบ: ทะเบียน {self.provider} จำลองความขัดข้อง",
                           f"injected fault: registry {self.provider} fails {plan.error_rate:g} of calls"
                           " (linkage faults)")
        return None

    async def suffer_each(self, count: int) -> list[Failure | None]:
        """``suffer`` for each of count reads that came in one call (BatchGetRecords): each is counted, waits and
        draws on its own, all at the same time, as count calls in flight together would."""
        if not self._plan.any:
            self._stats.calls += count
            return [None] * count
        return list(await asyncio.gather(*(self.suffer() for _ in range(count))))
