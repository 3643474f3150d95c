"""The officer's side of a sign-in, as the client library sees it: the agency's server relays, never signs.

``HubClient.sign_in_officer(officer_id, signer)`` asks the hub for a sign-in statement, hands it to ``signer``
(the officer's own device: ``linkage.officercard.OpenCard`` on the command line; at the counter, the browser's
passkey) and sends the signature back; the hub answers with an ``OfficerSession`` bound to this agency's client
certificate. The agency's server holds the session (useless from any other certificate), never the key.

``HubClient.officer(signer)`` is the simple way: a ``SignedInOfficer`` that signs in when first asked to fetch,
again shortly before the session ends (30 minutes), and once more when the hub no longer takes the session
(``officer_session_unknown`` or ``officer_session_expired``: a clock ahead of ours, a hub that forgot it), then
sends the refused fetch again; the hub issued nothing on that refusal.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from linkage.errors import LinkageError, Unauthenticated

if TYPE_CHECKING:
    from consumers.client.client import HubClient
    from consumers.client.printout import Printout

__all__ = ["OfficerSession", "OfficerSigner", "SignedInOfficer", "sign_with"]

_R = TypeVar("_R")
# The hub's refusals of a session it no longer takes (it issued nothing): sign in again and send once more.
_SESSION_GONE = frozenset({"officer_session_unknown", "officer_session_expired"})


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

    def ends(self) -> dt.datetime:
        """When the hub stops accepting it (``expires_at``)."""
        return dt.datetime.fromisoformat(self.expires_at.replace("Z", "+00:00"))


async def sign_with(signer: OfficerSigner, statement: bytes) -> bytes:
    """The signer's signature over statement, whether it signs at once or asynchronously."""
    signed = signer.sign(statement)
    return await signed if inspect.isawaitable(signed) else signed


class SignedInOfficer:
    """One officer working through one ``HubClient``: their session, kept live, and fetches made under it.

    ``renew_before``: sign in again when the session has less than this left (seconds), so that no fetch is
    sent with a session about to end.
    """

    def __init__(self, hub: HubClient, signer: OfficerSigner, officer_id: str, *, renew_before: float = 60.0,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.hub, self.signer, self.officer_id = hub, signer, officer_id
        self._renew_before = dt.timedelta(seconds=renew_before)
        self._clock = clock
        self._session: OfficerSession | None = None

    async def sign_in(self) -> OfficerSession:
        """A new session, whatever the current one (the officer's device signs again)."""
        self._session = await self.hub.sign_in_officer(self.officer_id, self.signer)
        return self._session

    async def session(self) -> OfficerSession:
        """The live session: the current one, or a new one when there is none or it ends within renew_before."""
        if self._session is None or self._session.ends() - self._clock() <= self._renew_before:
            return await self.sign_in()
        return self._session

    async def _under_session(self, call: Callable[[OfficerSession], Awaitable[_R]]) -> _R:
        session = await self.session()
        try:
            return await call(session)
        except Unauthenticated as err:
            if err.code not in _SESSION_GONE:
                raise
        return await call(await self.sign_in())  # the hub no longer takes it: once more, signed anew

    async def fetch_document(self, doc_type: str, subject_id: str, *, purpose: str, **options: Any) -> Printout:
        """``HubClient.fetch_document`` under this officer's session (the printout names it)."""
        return await self._under_session(lambda s: self.hub.fetch_document(
            doc_type, subject_id, purpose=purpose, officer_session=s, **options))

    async def fetch_documents(self, doc_types: Sequence[str], subject_id: str, *, purpose: str,
                              **options: Any) -> dict[str, Printout | LinkageError]:
        """``HubClient.fetch_documents`` under this officer's session."""
        return await self._under_session(lambda s: self.hub.fetch_documents(
            doc_types, subject_id, purpose=purpose, officer_session=s, **options))
