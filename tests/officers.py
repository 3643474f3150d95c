"""Officers as the tests sign them in: with the card ``linkage init`` issued each sample officer
(DIR/officers/AGENCY/OFFICER.card.json, its PIN in the sandbox's file beside it), through the hub's real
sign-in. The hub requires an officer session for every printout ([hub] officer_sessions = "required").

``session(stack, agency, officer)`` signs in once per running hub (the stack keeps the session);
``signed_in(stack, agency, request)`` makes a raw request under its officer's session; ``sign_in(hub, …)`` signs
in anew through a client of the test's own (``client``).
"""

from __future__ import annotations

from typing import TypeVar

from consumers.client import HubClient, OfficerSession
from linkage.cli.officers import card_path, pin_path
from linkage.cli.officers import sandbox_card as card  # the officer's card, opened with the PIN kept beside it
from linkage.cli.officers import sandbox_session as sign_in_over  # their sign-in over a channel of the agency
from linkage.config import Home, Settings, load_settings
from linkage.v1 import audit_pb2, hub_pb2
from tests.conftest import RunningStack

__all__ = ["card", "card_args", "client", "first_officer", "session", "sign_in", "sign_in_over", "signed_in"]

_R = TypeVar("_R", hub_pb2.FetchDocumentRequest, hub_pb2.FetchDocumentsRequest, hub_pb2.HubCheckCardRequest,
             hub_pb2.GetAgentStatusRequest, audit_pb2.RevokePrintoutRequest)


def first_officer(settings: Settings, agency: str) -> str:
    """The agency's first officer (by ID): the one tests act as unless they name another."""
    return sorted(settings.agencies[agency].officers)[0]


def card_args(home: Home, agency: str, officer: str | None = None) -> list[str]:
    """``linkage fetch`` flags that sign the officer in with their sandbox card (the agency's first officer by
    default): --card FILE --pin-file FILE."""
    path = card_path(home, agency, officer or first_officer(load_settings(home), agency))
    return ["--card", str(path), "--pin-file", str(pin_path(path))]


async def session(stack: RunningStack, agency: str, officer: str | None = None) -> OfficerSession:
    """The officer's session with this stack's hub (the agency's first officer by default), signed in with
    their card on first use."""
    officer = officer or first_officer(stack.settings, agency)
    known = stack.sessions.get((agency, officer))
    if known is not None and known[0] is stack.hub:
        return known[1]
    async with stack.channel(agency) as channel:
        signed = await sign_in_over(channel, stack.home, agency, officer)
    stack.sessions[agency, officer] = (stack.hub, signed)  # a hub started anew in the stack knows it not
    return signed


async def signed_in(stack: RunningStack, agency: str, request: _R) -> _R:
    """request, made under the session of the officer it names (the agency's first when it names none)."""
    officer = request.officer_id or first_officer(stack.settings, agency)
    request.officer_id = officer
    request.officer_session = (await session(stack, agency, officer)).secret
    return request


def client(stack: RunningStack, agency: str) -> HubClient:
    """The agency's client of the stack's hub."""
    return HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(agency))


async def sign_in(hub: HubClient, home: Home, agency: str, officer: str) -> OfficerSession:
    """A new session of the officer through hub, signed with their sandbox card."""
    return await hub.sign_in_officer(officer, card(home, agency, officer))
