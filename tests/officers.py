"""Officers signing in with their own card, for tests that fetch under a session: a card issued and published
in the sandbox (``linkage agency officer-card``), opened with its PIN, and the sign-in through the client."""

from __future__ import annotations

from pathlib import Path

from consumers.client import HubClient, OfficerSession
from linkage.cli.officers import issue_officer_card
from linkage.officercard import open_card
from tests.conftest import RunningStack

PIN = "135790"


def client(stack: RunningStack, agency: str) -> HubClient:
    """The agency's client of the stack's hub."""
    return HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(agency))


async def signed_in(stack: RunningStack, hub: HubClient, agency: str, officer: str, folder: Path) -> OfficerSession:
    """The officer's session, signed with a card issued to them now (its key published in the sandbox)."""
    card = open_card(issue_officer_card(stack.home, agency, officer, PIN, folder / f"{officer}.card.json"), PIN)
    return await hub.sign_in_officer(officer, card)
