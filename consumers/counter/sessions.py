"""Server-side state kept in memory: officers' sessions and the limiter of /me's card checks.

Nothing here is sent to the browser except a session's random id (in an HttpOnly,
SameSite=Strict cookie) and its CSRF token (in the forms). A session ends after
``ttl`` seconds without a request, or when the hub's officer session under it ends (a passkey sign-in's).

Sessions are deliberately not written to disk: after a crash or restart every officer signs in
again (one field and Enter), and a stolen copy of the counter's data holds no live session.
Open cases, which an officer must not lose, are on disk (store.py) and reappear after sign-in.
The limiter (and the sign-in throttle, throttle.py) forget their failures on restart too; the counter
is restarted by its operator, not by whoever is guessing.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from consumers.client import OfficerSession

__all__ = ["Limiter", "Session", "SessionStore"]

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
    # The hub's officer session when the officer signed in with their passkey (every fetch then names it).
    officer_session: OfficerSession | None = None


class SessionStore:
    """Sessions by id; each request that finds one pushes its expiry ``ttl`` seconds ahead."""

    def __init__(self, ttl: float, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._by_id: dict[str, Session] = {}

    def open(self, officer_id: str, name: str, role_th: str, role_en: str, is_head: bool,
             officer_session: OfficerSession | None = None) -> Session:
        self._sweep()
        session = Session(secrets.token_urlsafe(32), officer_id, name, role_th, role_en, is_head,
                          secrets.token_urlsafe(32), self._clock() + self.ttl, officer_session)
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
        if session.expires <= now or _hub_session_over(session):
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


def _hub_session_over(session: Session) -> bool:
    """Whether the hub's officer session under this counter session has ended (the officer signs in again)."""
    hub = session.officer_session
    if hub is None:
        return False
    try:
        return dt.datetime.fromisoformat(hub.expires_at.replace("Z", "+00:00")) <= dt.datetime.now(dt.UTC)
    except ValueError:
        return True


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
