"""The citizen acting on their own behalf, proved by their card details in the civil registry: who read their data
(``ListAccesses``), and the consents asked of them (``ListConsents``, with a preview of what each pending one would
send, and ``DecideConsent``). The consents themselves: linkage/hub/consent.py.

Refusals (PermissionDenied, Thai and English): ``citizen_not_verified``, ``not_an_auditor``, ``not_own_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from linkage.config import ALL_FIELDS, AgencyConfig
from linkage.errors import LinkageError, PermissionDenied
from linkage.hub.consent import Consent, ConsentDesk
from linkage.hub.routing import Router
from linkage.ids import IdKind, parse_id
from linkage.v1 import hub_pb2, provider_pb2

__all__ = ["check_access_listing", "check_citizen", "consents_of", "decide", "preview"]


async def check_citizen(router: Router, subject_id: str, card: provider_pb2.CheckCardRequest | None) -> str:
    """The citizen acting on their own behalf: their card details match an active card of subject_id in the civil
    registry. Returns the normalised ID; raises PermissionDenied (or InvalidRequest for a malformed ID)."""
    subject = parse_id(subject_id, IdKind.CITIZEN)
    if card is None or card.subject_id.replace("-", "").replace(" ", "") != subject:
        raise PermissionDenied("citizen_not_verified", "ต้องยืนยันตัวตนด้วยข้อมูลบัตรประจำตัวประชาชนของตนเอง",
                               "only the citizen, with their own card details, may see or decide their consents",
                               field="citizen_card")
    if not await router.check_card(card):
        raise PermissionDenied("citizen_not_verified", "ข้อมูลบัตรไม่ตรงกับทะเบียนราษฎร",
                               "the card details do not match an active card of this person in the civil registry",
                               field="citizen_card")
    return subject


async def preview(router: Router, grants: Mapping[str, Sequence[str]], consent: Consent,
                  ) -> list[hub_pb2.ConsentPreview]:
    """What each document type of a pending consent would send: the registry's record, the agency's fields only."""
    out = []
    for doc_type in consent.doc_types:
        provider = router.owner(doc_type)
        described = await router.describe(provider, doc_type)
        item = hub_pb2.ConsentPreview(doc_type=doc_type, title_th=described.title_th, title_en=described.title_en)
        try:
            fields = grants.get(doc_type, [])
            wanted = [] if ALL_FIELDS in fields else [f.name for f in described.fields if f.name in fields]
            data = await router.get_record(provider, doc_type, parse_id(consent.subject_id), wanted)
            item.data_json = json.dumps(data, ensure_ascii=False)
        except LinkageError as err:
            item.problem = f"{err.message_th} / {err.message_en}"
        out.append(item)
    return out


async def consents_of(router: Router, desk: ConsentDesk, agencies: Mapping[str, AgencyConfig], subject_id: str,
                      card: provider_pb2.CheckCardRequest | None,
                      ) -> list[tuple[Consent, list[hub_pb2.ConsentPreview]]]:
    """ListConsents: on the citizen's own behalf, each consent asked of them, a pending one with its preview."""
    subject = await check_citizen(router, subject_id, card)
    out = []
    for consent in await desk.of(subject):
        asker = agencies.get(consent.agency)
        pending = consent.shown_status(desk.clock()) == "pending" and asker is not None
        out.append((consent, await preview(router, asker.grants, consent) if pending and asker else []))
    return out


async def decide(router: Router, desk: ConsentDesk, subject_id: str, card: provider_pb2.CheckCardRequest | None,
                 consent_id: str, approve: bool) -> Consent:
    """DecideConsent, on the citizen's own behalf."""
    return await desk.decide(await check_citizen(router, subject_id, card), consent_id, approve)


async def check_access_listing(router: Router, agency: AgencyConfig, subject: str,
                               card: provider_pb2.CheckCardRequest | None) -> None:
    """May agency list who read subject's data? Auditors may; anyone else only on the citizen's own behalf,
    proved by the citizen's card details matching an active card in the civil registry."""
    if agency.auditor:
        return
    if card is None:
        raise PermissionDenied("not_an_auditor", f"{agency.name} ไม่ใช่หน่วยตรวจสอบ",
                               "only auditor agencies, or the citizen with their own card details, may list who"
                               f" read a subject's data; {agency.name} is not an auditor")
    if card.subject_id != subject:
        raise PermissionDenied("not_own_id", "ดูประวัติได้เฉพาะของตนเองเท่านั้น",
                               "a citizen may list accesses to their own ID only; the card's ID differs from the"
                               " one asked about")
    parse_id(subject, IdKind.CITIZEN)
    if not await router.check_card(card):
        raise PermissionDenied("citizen_not_verified", "ข้อมูลบัตรไม่ตรงกับทะเบียนราษฎร",
                               "the card details do not match an active card of this person in the civil"
                               " registry")
