"""The counter's card reader: the applicant's ID card, read when the officer says the citizen is present.

The sandbox's reader is a folder of card files (``DIR/cards/<ID>.card.json``, written by ``linkage init``;
``LINKAGE_COUNTER_CARD_READER`` names another): the card "inserted" is the file of the case's applicant.
The card signs the hub's challenge and the request itself (``HubClient.presence``); the counter never sees
more than what a reader would hand it, and a card that is not there is said so to the officer.
"""

from __future__ import annotations

import logging

from consumers.counter.settings import CounterSettings
from linkage.cards import CardError, CitizenCard

__all__ = ["NO_CARD", "read_card"]

_log = logging.getLogger("consumers.counter")

NO_CARD = ("ไม่พบบัตรประจำตัวประชาชนของผู้ยื่นคำขอในเครื่องอ่านบัตร กรุณาเสียบบัตรแล้วลองอีกครั้ง",
           "The applicant's ID card is not in the card reader; insert it and try again.")


def read_card(settings: CounterSettings, subject_id: str) -> CitizenCard | None:
    """The card of subject_id in the reader, or None when there is none (or it cannot be read)."""
    try:
        return CitizenCard.in_folder(settings.card_folder, subject_id)
    except (OSError, CardError) as exc:
        _log.warning("card reader: %s", exc)
        return None
