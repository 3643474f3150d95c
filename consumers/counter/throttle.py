"""Failed sign-ins: counted per officer ID, and per address only at a much higher threshold, with growing delays.

An office sits behind one NAT, so a lockout by address would let one person's typos lock out every
officer at every desk. The ID typed carries the count instead: after ``per_id`` failures with one ID
(three by default), that ID waits before it may be tried again, 5 s, then 10 s, 20 s, … at most 15 min,
while the other officers at the same address sign in as usual. Someone trying many IDs from one address
meets the address's own count, at a threshold no office's typos reach (50 failures by default), with
the same growing delays. A count is forgotten an hour after its last failure; a sign-in that succeeds
clears its ID's count (not the address's).

An attempt made while held is refused without being counted, and without the ID being looked at. Nothing
is written to disk: a restart forgets the counts, as it forgets sessions (sessions.py says why).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff", "Held", "SigninThrottle"]

Clock = Callable[[], float]
_SPACES_AND_DASHES = re.compile(r"[\s-]+")
_MAX_KEYS = 10_000


class Backoff:
    """Failures per key. Once a key has ``free`` of them, it waits ``base`` seconds from its last failure, twice
    as long after each further one, at most ``cap``; ``forget`` seconds after its last failure it starts afresh."""

    def __init__(self, free: int, *, base: float = 5.0, cap: float = 900.0, forget: float = 3600.0,
                 clock: Clock = time.monotonic) -> None:
        self.free, self.base, self.cap, self.forget = free, base, cap, forget
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last)

    def wait(self, key: str) -> float:
        """Seconds before ``key`` may be tried again; 0 when it may now."""
        count = self._live(key)
        if count is None or count[0] < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2.0 ** min(count[0] - self.free, 32))
        return max(0.0, count[1] + delay - self._clock())

    def fail(self, key: str) -> None:
        if len(self._counts) >= _MAX_KEYS:
            self._sweep()
        count = self._live(key)
        self._counts[key] = ((count[0] if count else 0) + 1, self._clock())

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def _live(self, key: str) -> tuple[int, float] | None:
        count = self._counts.get(key)
        if count is not None and self._clock() - count[1] > self.forget:
            del self._counts[key]
            return None
        return count

    def _sweep(self) -> None:
        cutoff = self._clock() - self.forget
        self._counts = {k: c for k, c in self._counts.items() if c[1] > cutoff}
        if len(self._counts) >= _MAX_KEYS:  # a flood of fresh keys: the address's count still holds its source
            self._counts.clear()


@dataclass(frozen=True)
class Held:
    """A sign-in refused until ``seconds`` have passed; ``by_address`` when the address's count holds it."""

    seconds: float
    by_address: bool

    @property
    def message(self) -> tuple[str, str]:
        """What the sign-in form says, in Thai and English."""
        n = math.ceil(self.seconds)
        th, en = (f"{math.ceil(n / 60)} นาที", f"{math.ceil(n / 60)} min") if n >= 60 else (f"{n} วินาที", f"{n} s")
        if self.by_address:
            return (f"มีการลงชื่อเข้าใช้ไม่สำเร็จจากเครื่องนี้จำนวนมาก กรุณารอ {th} แล้วลองใหม่",
                    f"Many failed sign-ins from this address; wait {en} and try again.")
        return (f"ลงชื่อเข้าใช้ด้วยเลขประจำตัวนี้ไม่สำเร็จหลายครั้ง กรุณาตรวจเลขประจำตัว รอ {th} แล้วลองใหม่",
                f"Several failed sign-ins with this ID; check it, wait {en} and try again.")


class SigninThrottle:
    """The counter's sign-in failures: a ``Backoff`` per officer ID typed and one per address."""

    def __init__(self, per_id: int = 3, per_address: int = 50, clock: Clock = time.monotonic) -> None:
        self.ids = Backoff(per_id, clock=clock)
        self.addresses = Backoff(per_address, clock=clock)

    @staticmethod
    def _id_key(typed: str) -> str:
        # "1-4601-…" and "14601…" are the same ID to the parser, so they share a count.
        return _SPACES_AND_DASHES.sub("", typed)

    def held(self, typed: str, address: str) -> Held | None:
        """Why a sign-in with ``typed`` from ``address`` must wait, or None when it may go ahead."""
        by_id, by_address = self.ids.wait(self._id_key(typed)), self.addresses.wait(address)
        if by_id <= 0 and by_address <= 0:
            return None
        return Held(max(by_id, by_address), by_address > by_id)

    def fail(self, typed: str, address: str) -> None:
        self.ids.fail(self._id_key(typed))
        self.addresses.fail(address)

    def succeed(self, typed: str) -> None:
        self.ids.clear(self._id_key(typed))
