"""Server-side state kept in memory: officers' sessions, open cases, and the sign-in attempt limiter.

Nothing here is sent to the browser except a session's random id (in an HttpOnly,
SameSite=Strict cookie) and its CSRF token (in the forms). A session ends after
``ttl`` seconds without a request; a case lives as long as ``case_ttl`` so that
a page reload or a retry never loses it.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "CaseStore", "DocSlot", "Limiter", "Session", "SessionStore"]

Clock = Callable[[], float]


@dataclass
class Session:
    id: str
    officer_id: str
    name: str
    role_th: str
    role_en: str
    is_head: bool
    csrf: str
    expires: float


class SessionStore:
    """Sessions by id; each request that finds one pushes its expiry ``ttl`` seconds ahead."""

    def __init__(self, ttl: float, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._by_id: dict[str, Session] = {}

    def open(self, officer_id: str, name: str, role_th: str, role_en: str, is_head: bool) -> Session:
        self._sweep()
        session = Session(secrets.token_urlsafe(32), officer_id, name, role_th, role_en, is_head,
                          secrets.token_urlsafe(32), self._clock() + self.ttl)
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its expiry renewed; None when unknown or expired (then forgotten)."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if session.expires <= now:
            del self._by_id[session_id]
            return None
        session.expires = now + self.ttl
        return session

    def close(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def _sweep(self) -> None:
        now = self._clock()
        for sid in [sid for sid, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[sid]


@dataclass
class DocSlot:
    """One linked document of a case: a sealed printout, or the problem that kept it from being fetched."""

    doc_type: str
    printout_id: str = ""
    jws: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    issued_at: str = ""
    log_index: int = -1
    seal_valid: bool = False
    seal_detail: str = ""
    problem_reason: str = ""
    problem_message: str = ""
    problem_retryable: bool = False
    problem_provider: str = ""

    @property
    def fetched(self) -> bool:
        return bool(self.jws)


@dataclass
class Case:
    id: str
    ref: str
    service_id: str
    subject_id: str
    citizen_present: bool
    officer_id: str
    created: float
    opened_at: str
    slots: dict[str, DocSlot] = field(default_factory=dict)
    fetch_ms: float = 0.0


class CaseStore:
    """Open cases by id (random, unguessable); a case is shown only to the officer who opened it."""

    def __init__(self, ttl: float = 12 * 3600, limit: int = 10_000, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl
        self._limit = limit
        self._clock = clock
        self._by_id: dict[str, Case] = {}

    def new_id(self) -> str:
        return secrets.token_urlsafe(12)

    def put(self, case: Case) -> None:
        now = self._clock()
        for cid in [cid for cid, c in self._by_id.items() if c.created + self._ttl <= now]:
            del self._by_id[cid]
        while len(self._by_id) >= self._limit:
            del self._by_id[next(iter(self._by_id))]
        self._by_id[case.id] = case

    def get(self, case_id: str, officer_id: str) -> Case | None:
        case = self._by_id.get(case_id)
        if case is None or case.officer_id != officer_id or case.created + self._ttl <= self._clock():
            return None
        return case


class Limiter:
    """At most ``limit`` failures per key within ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 600.0, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, key: str) -> bool:
        times = self._failures.get(key)
        if not times:
            return False
        cutoff = self._clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times) >= self.limit

    def fail(self, key: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures.setdefault(key, deque()).append(self._clock())

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)
