"""The officer's side of a sign-in, as the client library sees it: the agency's server relays, never signs.

``HubClient.sign_in_officer(officer_id, signer)`` asks the hub for a sign-in statement, hands it to ``signer``
(the officer's own device: ``linkage.officercard.OpenCard`` on the command line; at the counter, the browser's
passkey) and sends the signature back; the hub answers with an ``OfficerSession`` bound to this agency's client
certificate. The agency's server holds the session (useless from any other certificate), never the key.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["OfficerSession", "OfficerSigner", "sign_with"]


class OfficerSigner(Protocol):
    """The officer's device: it names its key and signs a statement (ECDSA P-256 / SHA-256, DER)."""

    @property
    def kid(self) -> str: ...

    def sign(self, statement: bytes) -> bytes | Awaitable[bytes]: ...


@dataclass(frozen=True)
class OfficerSession:
    """An officer signed in. ``secret`` goes with each request; ``session_id`` is what printouts name."""

    secret: str
    session_id: str
    officer_id: str
    expires_at: str


async def sign_with(signer: OfficerSigner, statement: bytes) -> bytes:
    """The signer's signature over statement, whether it signs at once or asynchronously."""
    signed = signer.sign(statement)
    return await signed if inspect.isawaitable(signed) else signed
