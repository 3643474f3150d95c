"""The sandbox's citizen cards: the civil registry's card secret, its card-issuer public key, and a card file
for each persona with an ID card (linkage/cards.py), written by ``linkage init``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from linkage.cards import CitizenCard, chip_key, issue_certificate, issuer_key, public_bytes
from linkage.config import Home, load_settings
from linkage.seal import b64url_encode

__all__ = ["card_of", "insert_card", "write_cards"]


def _write_secret(path: os.PathLike[str], data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_cards(home: Home, personas: Iterable[Mapping[str, Any]]) -> int:
    """Make the registry's card secret and issuer key, and DIR/cards/<ID>.card.json for each persona with a card
    (a voided card's file too: the registry refuses it). Returns how many card files were written."""
    secret = secrets.token_bytes(32)
    home.card_secret.parent.mkdir(parents=True, exist_ok=True)
    _write_secret(home.card_secret, secret)
    issuer = issuer_key(secret)
    home.card_issuer.write_text(b64url_encode(public_bytes(issuer.public_key())) + "\n", encoding="ascii")
    home.cards.mkdir(parents=True, exist_ok=True)
    written = 0
    for persona in personas:
        card = persona.get("card")
        if not card or "card_expiry_date" not in persona:
            continue
        subject = str(persona["id"])
        chip = chip_key(secret, subject, str(card["laser_code"]))
        cert = issue_certificate(issuer, subject, public_bytes(chip.public_key()), str(persona["card_expiry_date"]))
        path = home.card_file(subject)
        _write_secret(path, CitizenCard(subject, cert, chip).dump().encode("utf-8"))
        written += 1
    return written


def card_of(home: Home, subject_id: str) -> CitizenCard | None:
    """subject_id's card: its file in DIR/cards, or else made now from the civil registry's record of the card
    (as the registry personalised it: its laser code and expiry); None for a person with no card on record.
    For the sandbox's tools and tests, which fetch for citizens beyond the personas."""
    from providers import REGISTRIES
    from providers.synth.bulk import open_reader

    found = CitizenCard.in_folder(home.cards, subject_id)
    if found is not None:
        return found
    reader = open_reader(load_settings(home).database or home.data)
    try:
        laser = reader.one("dopa", "SELECT laser_code FROM card_check WHERE subject_id = ?", (subject_id,))
        record = reader.one("dopa", REGISTRIES["dopa"].queries["dopa.card"], (subject_id,))
    finally:
        reader.close()
    if laser is None or record is None:
        return None
    import json

    secret = home.card_secret.read_bytes()
    chip = chip_key(secret, subject_id, str(laser[0]))
    expiry = str(json.loads(record[0])["expiry_date"])
    return CitizenCard(subject_id, issue_certificate(issuer_key(secret), subject_id, public_bytes(chip.public_key()),
                                                     expiry), chip)


def insert_card(home: Home, subject_id: str) -> bool:
    """Put subject_id's card in the sandbox's card reader (its file in DIR/cards), as a citizen hands it over at
    the desk; False for a person with no card on record (or a company)."""
    if subject_id.startswith("0"):
        return False
    card = card_of(home, subject_id)
    if card is None:
        return False
    path = home.card_file(subject_id)
    if not path.exists():
        home.cards.mkdir(parents=True, exist_ok=True)
        _write_secret(path, card.dump().encode("utf-8"))
    return True
