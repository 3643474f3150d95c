"""When the client sends a call again, and how long it waits first.

Only UNAVAILABLE is retried, and only where sending again cannot issue a
second printout:

- reads (ListServices, GetAgentStatus, the audit log's reads) are idempotent:
  retried on any UNAVAILABLE, the hub's own or the transport's;
- FetchDocument(s) is retried only when the hub's status details say the hub
  refused before issuing anything (``nothing_issued``): the provider was down
  (side ``provider``) or the log could not be written (``log_unavailable``). A
  transport failure (no details: the connection broke) is never retried, since
  the hub may have issued the printout before the answer was lost.

Waits grow exponentially with full jitter (a random wait in
``[0, min(max_backoff, initial_backoff * multiplier**n))``), and never run past
the call's deadline: one deadline covers every attempt.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import grpc

from linkage.errors import LinkageError

__all__ = ["DEFAULT_RETRY", "NO_RETRY", "RetryPolicy", "nothing_issued", "unavailable"]


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts the first call too: 1 means never retry."""

    attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1 (1: no retry), got {self.attempts!r}")
        for name in ("initial_backoff", "max_backoff"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if self.max_backoff < self.initial_backoff:
            raise ValueError(f"max_backoff ({self.max_backoff}) must be >= initial_backoff ({self.initial_backoff})")
        if not math.isfinite(self.multiplier) or self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return rng.uniform(0, ceiling)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def unavailable(err: LinkageError) -> bool:
    """Retry an idempotent read: any UNAVAILABLE."""
    return bool(err.status == grpc.StatusCode.UNAVAILABLE)


def nothing_issued(err: LinkageError) -> bool:
    """Retry a fetch: only an UNAVAILABLE the hub itself reported as retryable (it issued nothing)."""
    return unavailable(err) and err.retryable and not err.code.startswith("transport_")
