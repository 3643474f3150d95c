"""What the hub issues once and takes back once, whichever replica or worker takes it: officer sign-in statements
(linkage/hub/officers.py), passkey enrolments under way (linkage/hub/passkeys.py) and presence challenges
(linkage/hub/presence.py).

An item is (kind, key) -> ``Item``: who may spend it (``owner``: a certificate's SHA-256, an agency), until when
(``until``, the desk's clock) and what the desk needs back (``value``: a WebAuthn challenge; often nothing). It
lives in the desks' store (linkage/hub/deskstore.py). ``spend`` is one ``DELETE … RETURNING``: of two replicas
spending one item at the same moment, one gets it back and the other gets None. ``look`` reads without spending,
for a desk that must check a signature first (a wrong signature must not burn the officer's statement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from linkage.hub.deskstore import DeskStore

__all__ = ["Item", "OneTime"]

_ISSUE = ("INSERT INTO onetime (kind, key, owner, until, value) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, key)"
          " DO UPDATE SET owner = excluded.owner, until = excluded.until, value = excluded.value")


@dataclass(frozen=True)
class Item:
    owner: str
    until: float
    value: bytes


class OneTime:
    """The items of one kind ("statement", "enrolment", "challenge")."""

    def __init__(self, store: DeskStore, kind: str) -> None:
        self._store = store
        self.kind = kind

    async def issue(self, key: str, owner: str, until: float, now: float, value: bytes = b"") -> None:
        """Keep an item (replacing one of the same key) after sweeping what expired, if a sweep is due."""
        await self._store.sweep(now)
        await self._store.rows(_ISSUE, (self.kind, key, owner, until, value))

    async def look(self, key: str) -> Item | None:
        """The item, not spent; None when there is none (never issued, spent, or swept)."""
        found = await self._store.rows("SELECT owner, until, value FROM onetime WHERE kind = %s AND key = %s",
                                       (self.kind, key))
        return _item(found[0]) if found else None

    async def spend(self, key: str) -> Item | None:
        """Take the item back, once: None when it is not there (never issued, already spent, or swept)."""
        found = await self._store.rows("DELETE FROM onetime WHERE kind = %s AND key = %s RETURNING owner, until,"
                                       " value", (self.kind, key))
        return _item(found[0]) if found else None


def _item(row: tuple[Any, ...]) -> Item:
    owner, until, value = row
    return Item(str(owner), float(until), bytes(value))
