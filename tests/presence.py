"""The citizen's card at the desk, for tests that fetch with the citizen present: the card of the request's
subject (its file in the sandbox, or made from the registry's record) signs a fresh challenge of the hub."""

from __future__ import annotations

from typing import TypeVar

from linkage.cards import presence_hash
from linkage.cli.cards import card_of
from linkage.ids import parse_id
from linkage.v1 import hub_pb2, hub_pb2_grpc
from tests.conftest import RunningStack

_R = TypeVar("_R", hub_pb2.FetchDocumentRequest, hub_pb2.FetchDocumentsRequest)


async def present(stack: RunningStack, agency: str, request: _R) -> _R:
    """request, saying the citizen is present and carrying their card's proof."""
    card = card_of(stack.home, parse_id(request.subject_id))
    assert card is not None, f"no ID card on record for {request.subject_id}"
    async with stack.channel(agency) as channel:
        challenge = (await hub_pb2_grpc.LinkageHubStub(channel).GetPresenceChallenge(
            hub_pb2.PresenceChallengeRequest())).challenge
    types = [request.doc_type] if isinstance(request, hub_pb2.FetchDocumentRequest) else list(request.doc_types)
    hash_hex = presence_hash(agency, parse_id(request.subject_id), request.purpose, request.officer_id,
                             request.case_ref, types)
    request.citizen_present = True
    request.presence.CopyFrom(hub_pb2.CitizenPresence(challenge=challenge, card_certificate=card.certificate,
                                                      signature=card.sign(challenge, hash_hex)))
    return request
