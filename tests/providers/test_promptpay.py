"""The PromptPay directory behind the hub (issue 14, item 3): its own document type, granted to the municipality
that pays allowances with only the fields a payment run needs, refused to an agency without the grant."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.client import HubClient
from linkage.cli.sandbox import PROMPTPAY_FIELDS
from linkage.errors import LinkageError, NotFound, PermissionDenied
from tests.conftest import RunningStack
from tests.officers import session

MUNI = "phrae-municipality"
HOSPITAL = "phrae-hospital"
PURPOSE = "จ่ายเงินเบี้ยยังชีพผู้สูงอายุ"


def _persona(personas: list[dict[str, Any]], name: str) -> str:
    return str(next(p["id"] for p in personas if p["name"] == name))


def _client(stack: RunningStack, agency: str) -> HubClient:
    return HubClient.connect(stack.hub_address, stack.home.ca.cert, stack.home.client_cert(agency))


async def test_the_municipality_reads_where_an_allowance_goes_and_no_more(
        stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    officer = await session(stack, MUNI)
    async with _client(stack, MUNI) as hub:
        doc = await hub.fetch_document("promptpay.account", _persona(personas, "elderly_promptpay"), purpose=PURPOSE,
                                       officer_session=officer, case_ref="PHR-APP-2569-00001")
        assert doc.payload["provider"] == "promptpay"
        # Data minimisation: where the money goes, whether it can; not the holder's name or the registration date.
        assert sorted(doc.payload["data"]) == sorted(PROMPTPAY_FIELDS)
        assert doc.payload["data"]["status"] == "active" and doc.payload["data"]["account_masked"].startswith("xxx-")
        with pytest.raises(NotFound) as missing:  # no PromptPay: an answer, told apart from a fault
            await hub.fetch_document("promptpay.account", _persona(personas, "elderly_no_promptpay"),
                                     purpose=PURPOSE, officer_session=officer)
        assert missing.value.code == "record_not_found" and missing.value.provider == "promptpay"
        services = {s.doc_type.code: s for s in (await hub.list_services()).services}
        assert sorted(services["promptpay.account"].granted_fields) == sorted(PROMPTPAY_FIELDS)


async def test_an_agency_without_the_grant_is_refused_and_nothing_is_logged(
        stack: RunningStack, personas: list[dict[str, Any]]) -> None:
    before = stack.hub.hub.log.size
    officer = await session(stack, HOSPITAL)
    async with _client(stack, HOSPITAL) as hub:
        with pytest.raises(PermissionDenied) as refused:
            await hub.fetch_document("promptpay.account", _persona(personas, "elderly_promptpay"), purpose=PURPOSE,
                                     officer_session=officer)
        assert refused.value.code == "no_right" and "promptpay.account" in refused.value.message_en
        assert refused.value.message_th  # Thai and English
        assert "promptpay.account" not in {s.doc_type.code for s in (await hub.list_services()).services}
    assert stack.hub.hub.log.size == before
    assert isinstance(refused.value, LinkageError)
