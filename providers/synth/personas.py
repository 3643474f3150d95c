"""Personas and officers, picked while the households are made: the first subject of each kind (an
ordinary adult, a minor, a deceased person, a voided card, a foreigner, a director, a graduate, a
trader, companies in each status), the allowance recipients a payment run needs (elderly people of the
municipality with and without PromptPay, another deceased person with PromptPay) and living adults of Phrae as
the sample agencies' officers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from linkage.storage import Database
from providers import REGISTRIES
from providers.synth.bulk import open_reader
from providers.synth.households import PHRAE, REFERENCE_DAY, Household, Person

__all__ = ["MUNICIPALITY_DISTRICT", "Picks"]

MUNICIPALITY_DISTRICT = 5401
"""อำเภอเมืองแพร่: the sample municipality's area (เทศบาลเมืองแพร่), where its allowance recipients live."""

_LABELS = {
    "ordinary": "พลเมืองทั่วไป — an ordinary adult",
    "minor": "ผู้เยาว์ — a minor",
    "deceased": "ผู้ถึงแก่กรรม — a deceased person",
    "voided": "ผู้ที่บัตรประจำตัวประชาชนถูกยกเลิก — a person whose ID card was voided",
    "foreigner": "คนต่างด้าว — a foreigner (ID beginning with 6)",
    "director": "กรรมการบริษัท — a company director",
    "graduate": "ผู้สำเร็จการศึกษา — a graduate",
    "trader": "ผู้ประกอบพาณิชยกิจ — a sole trader",
    "company_active": "บริษัทที่ยังดำเนินกิจการ — an active company",
    "company_dissolved": "นิติบุคคลที่เลิกกิจการ — a dissolved company",
    "company_bankrupt": "นิติบุคคลที่ล้มละลาย — a bankrupt company",
    "elderly_promptpay": "ผู้สูงอายุในเขตเทศบาลที่มีพร้อมเพย์ — an elderly resident of the municipality with PromptPay",
    "elderly_no_promptpay": "ผู้สูงอายุในเขตเทศบาลที่ไม่มีพร้อมเพย์ — an elderly resident of the municipality without"
                            " PromptPay",
    "resident_promptpay": "ผู้อาศัยในเขตเทศบาลที่มีพร้อมเพย์ — another resident of the municipality with PromptPay"
                          " (for the disability allowance)",
    "allowance_deceased": "ผู้ถึงแก่กรรมที่ยังมีพร้อมเพย์ — a deceased person whose PromptPay is still registered",
}
# Allowance personas: kind -> whether their PromptPay record is forced to exist.
_ALLOWANCE = {"elderly_promptpay": True, "elderly_no_promptpay": False, "resident_promptpay": True,
              "allowance_deceased": True}
_POOL = 64  # officer candidates kept; a few are needed
_CARD_VALID_UNTIL = f"{REFERENCE_DAY.year + 543 + 4}0101"


class Picks:
    """The first subject of each persona kind, and candidates for officers, seen while generating."""

    def __init__(self) -> None:
        self.chosen: dict[str, str] = {}
        self.phrae: list[str] = []
        self.anywhere: list[str] = []

    def pick(self, kind: str, subject_id: str) -> None:
        if kind not in self.chosen and subject_id not in self.chosen.values():
            self.chosen[kind] = subject_id

    def allowance(self, p: Person, card_expiry: str) -> tuple[str, bool] | None:
        """The allowance persona p would be (its kind and whether it has PromptPay), if p is the first fit of one
        still open; the caller picks it once its PromptPay record came out that way. A living one has an active
        card (card_expiry: its expiry date, Buddhist era) that stays valid at least four years past the data's
        reference day, so that it can still prove its holder at the counter for some years of real time."""
        if p.pid in self.chosen.values() or not p.thai:
            return None
        if not p.alive:
            kinds: tuple[str, ...] = ("allowance_deceased",)
        elif p.card_voided or p.place.district_code != MUNICIPALITY_DISTRICT or card_expiry < _CARD_VALID_UNTIL:
            return None
        else:
            # Outside the officers' ages (30-60), so that the sample agencies keep the officers they had.
            kinds = ("elderly_promptpay", "elderly_no_promptpay", "resident_promptpay") if p.age > 60 else (
                ("resident_promptpay",) if 18 <= p.age < 30 else ())
        kind = next((k for k in kinds if k not in self.chosen), None)
        return None if kind is None else (kind, _ALLOWANCE[kind])

    def see(self, p: Person, h: Household, i: int) -> None:
        if not p.alive:
            self.pick("deceased", p.pid)
        elif not p.thai:
            self.pick("foreigner", p.pid)
        elif p.card_voided:
            self.pick("voided", p.pid)
        elif 7 <= p.age < 15:
            self.pick("minor", p.pid)
        elif 30 <= p.age <= 60 and not h.flags:
            if i == 0:
                self.pick("ordinary", p.pid)
            pool = self.phrae if p.place.province_code == PHRAE else self.anywhere
            if len(pool) < _POOL:
                pool.append(p.pid)

    def company(self, juristic_id: str, record: dict[str, Any], directors: list[Person]) -> None:
        self.pick(f"company_{record['status']}", juristic_id)
        if record["status"] == "active":
            for d in directors:
                self.pick("director", d.pid)

    def personas(self, where: Path | Database) -> list[dict[str, Any]]:
        stores = open_reader(where)
        try:
            out = []
            for kind, label in _LABELS.items():
                subject = self.chosen.get(kind)
                if subject is None:
                    continue
                juristic = subject.startswith("0")
                doc_types = [
                    code for name, registry in REGISTRIES.items() for code in registry.doc_types
                    if registry.id_kind(code).value == ("juristic" if juristic else "citizen")
                    and stores.one(name, registry.queries[code], (subject,)) is not None
                ]
                persona: dict[str, Any] = {"id": subject, "name": kind,
                                           "kind": "juristic" if juristic else "citizen",
                                           "label": label, "doc_types": doc_types}
                card = stores.one(
                    "dopa", "SELECT first_name_th, last_name_th, birth_date, laser_code FROM card_check"
                    " WHERE subject_id = ?", (subject,))
                if card is not None:
                    # What is printed on the card: how the sandbox's citizen signs in to see who read their data.
                    persona["card"] = dict(zip(("first_name_th", "last_name_th", "birth_date", "laser_code"), card,
                                               strict=True))
                    on_record = stores.one("dopa", REGISTRIES["dopa"].queries["dopa.card"], (subject,))
                    if on_record is not None:
                        persona["card_expiry_date"] = json.loads(on_record[0])["expiry_date"]
                out.append(persona)
            return out
        finally:
            stores.close()

    def officers(self) -> dict[str, list[str]]:
        taken = set(self.chosen.values())
        phrae = [x for x in self.phrae if x not in taken]
        others = [x for x in self.anywhere + phrae[6:] if x not in taken]
        return {"phrae-municipality": phrae[:3], "phrae-hospital": phrae[3:6], "auditor": others[:2]}
