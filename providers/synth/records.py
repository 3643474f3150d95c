"""The registries' records of a person, as JSON: the civil registry's person and ID card, degrees, a sole
trader's commerce registration and a company (juristic person) with its directors."""

from __future__ import annotations

import datetime as dt
from random import Random
from typing import Any

from providers.synth import vocab
from providers.synth.households import (
    BANGKOK,
    REF,
    YEAR,
    Geo,
    Ids,
    Person,
    be_date,
    below,
    check_digit,
    make_address,
    pick_one,
)

__all__ = ["card_json", "commerce_record", "company_record", "degree_records", "person_json"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_COMPANY_TYPES = (
    # code, Thai, type digit of the juristic ID, capital choices (baht)
    ("company_limited", "บริษัทจำกัด", "5", (100_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000)),
    ("limited_partnership", "ห้างหุ้นส่วนจำกัด", "3", (100_000, 300_000, 500_000, 1_000_000)),
    ("public_company_limited", "บริษัทมหาชนจำกัด", "7", (500_000_000, 1_000_000_000, 2_500_000_000)),
)
_COMPANY_STATUS = (("active", "ยังดำเนินกิจการอยู่"), ("dissolved", "เลิกกิจการ"), ("bankrupt", "ล้มละลาย"))


def person_json(p: Person, tail_json: str) -> str:
    # Written by hand, not by json: encoding is most of the seeding time. Every string here comes from
    # the word lists, the geography or digits, none of which holds a quote, a backslash or a control
    # character (the tests parse every record back).
    death = "null" if p.death is None else f'"{be_date(p.death)}"'
    status = "alive" if p.death is None else "deceased"
    return (f'{{"personal_id":"{p.pid}","title":"{p.title}","first_name_th":"{p.first_th}",'
            f'"last_name_th":"{p.last_th}","title_en":"{p.title_en}","first_name_en":"{p.first_en}",'
            f'"last_name_en":"{p.last_en}","birth_date":"{be_date(p.birth)}","sex":"{p.sex}",'
            f'"nationality":"{p.nat[0]}","nationality_code":"{p.nat[2]}","status":"{status}",'
            f'"death_date":{death},"house_code":"{p.house_code}"{tail_json}')


def card_json(rng: Random, p: Person) -> tuple[str, str]:
    # A card lasts 8 years, to the holder's birthday; the one on record was issued in the last 8 years
    # (before death for the deceased) and not before the holder turned 7.
    r = rng.random
    latest = p.death if p.death is not None else REF
    earliest = max(p.birth + int(7 * YEAR), latest - int(8 * YEAR) + 1)
    issue = earliest + below(r, max(1, latest - earliest))
    born = be_date(p.birth)
    month_day = "0228" if born[4:] == "0229" else born[4:]
    expiry = f"{int(be_date(issue)[:4]) + 8}{month_day}"
    office = (f"สำนักงานเขต{p.place.district}" if p.place.province_code == BANGKOK
              else f"อำเภอ{p.place.district} จังหวัด{p.place.province}")
    laser = (f"{pick_one(r, _LETTERS)}{pick_one(r, _LETTERS)}{below(r, 10)}-{below(r, 10**7):07d}"
             f"-{below(r, 100):02d}")
    record = (f'{{"card_id":"{p.pid}","title":"{p.title}","first_name_th":"{p.first_th}",'
              f'"last_name_th":"{p.last_th}","issue_date":"{be_date(issue)}","expiry_date":"{expiry}",'
              f'"issued_at":"{office}","status":"{"voided" if p.card_voided else "active"}"}}')
    return record, laser


def degree_records(rng: Random, p: Person) -> list[dict[str, Any]]:
    degree_th, degree_en, majors = rng.choice(vocab.DEGREES)
    uni = rng.choice(vocab.UNIVERSITIES)
    major = rng.choice(majors)
    conferred = p.birth + int(rng.randint(22, 24) * YEAR) + rng.randrange(120)
    out = [{"institution_th": uni[0], "institution_en": uni[1], "degree_th": degree_th, "degree_en": degree_en,
            "major_th": major[0], "major_en": major[1], "conferred_date": be_date(min(conferred, REF - 30))}]
    if p.age >= 30 and rng.random() < 0.2:
        degree_th, degree_en, majors = rng.choice(vocab.MASTERS)
        uni, major = rng.choice(vocab.UNIVERSITIES), rng.choice(majors)
        conferred = p.birth + int(rng.randint(26, 35) * YEAR) + rng.randrange(120)
        out.append({"institution_th": uni[0], "institution_en": uni[1], "degree_th": degree_th,
                    "degree_en": degree_en, "major_th": major[0], "major_en": major[1],
                    "conferred_date": be_date(min(conferred, REF - 30))})
    return out


def commerce_record(rng: Random, ids: Ids, p: Person, force_active: bool) -> dict[str, Any]:
    code, what, tag_th, _ = rng.choice(vocab.TSIC)
    brand = rng.choice(vocab.BRAND_WORDS)
    registered = REF - rng.randrange(max(1, min(int((p.age - 20) * YEAR), 30 * 365)) + 1)
    year = dt.date.fromordinal(registered).year + 543
    serial = ids.counter(("commerce", p.place.district_code, year)) + 1
    return {
        "personal_id": p.pid, "owner_name_th": p.name_th,
        "registration_no": f"{p.place.district_code:04d}-{year}-{serial:05d}",
        "shop_name": f"ร้าน{brand[0]}{tag_th}", "business": {"tsic": code, "description_th": what},
        "address": p.address, "address_text": p.address_text, "registration_date": be_date(registered),
        "status": "active" if force_active or rng.random() < 0.9 else "cancelled",
    }


def company_record(rng: Random, ids: Ids, geo: Geo, directors: list[Person], status_index: int | None,
                   ) -> tuple[str, dict[str, Any]]:
    kind = rng.choices(_COMPANY_TYPES, (75, 22, 3))[0]
    type_code, type_th, type_digit, capitals = kind
    objectives = rng.sample(vocab.TSIC, rng.randint(1, 3))
    w1, w2 = rng.sample(vocab.BRAND_WORDS, 2)
    tag_th, tag_en = objectives[0][2], objectives[0][3]
    core_th, core_en = f"{w1[0]}{w2[0]} {tag_th}", f"{w1[1]} {w2[1]} {tag_en}"
    if type_code == "company_limited":
        name_th, name_en = f"บริษัท {core_th} จำกัด", f"{core_en} Company Limited"
    elif type_code == "limited_partnership":
        name_th, name_en = f"ห้างหุ้นส่วนจำกัด {core_th}", f"{core_en} Limited Partnership"
    else:
        name_th, name_en = f"บริษัท {core_th} จำกัด (มหาชน)", f"{core_en} Public Company Limited"
    place = directors[0].place if rng.random() < 0.7 else geo.pick(rng)
    registered = REF - 30 - rng.randrange(45 * 365)
    year = dt.date.fromordinal(registered).year + 543
    office = f"{place.province_code:02d}"
    n = ids.counter(("juristic", office, type_digit, year % 100))
    first12 = f"0{office}{type_digit}{year % 100:02d}{(n * 7919 + 1) % 10**6:06d}"
    juristic_id = first12 + check_digit(first12)
    if status_index is None:
        status_index = rng.choices((0, 1, 2), (85, 12, 3))[0]
    status, status_th = _COMPANY_STATUS[status_index]
    address, text = make_address(rng, place)
    who = "ห้าง" if type_code == "limited_partnership" else "บริษัท"
    names = [d.name_th for d in directors]
    if len(names) == 1:
        rule = f"{names[0]} ลงลายมือชื่อและประทับตราสำคัญของ{who}"
    elif rng.random() < 0.5:
        rule = f"{' หรือ '.join(names[:2])} ลงลายมือชื่อและประทับตราสำคัญของ{who}"
    else:
        rule = f"กรรมการสองคนลงลายมือชื่อร่วมกันและประทับตราสำคัญของ{who}"
    return juristic_id, {
        "juristic_id": juristic_id, "name_th": name_th, "name_en": name_en, "type": type_code, "type_th": type_th,
        "registration_date": be_date(registered), "capital": rng.choice(capitals), "status": status,
        "status_th": status_th, "address": address, "address_text": text,
        "directors": [{"personal_id": d.pid, "name_th": d.name_th} for d in directors],
        "signing_rule": rule,
        "objectives": [{"tsic": o[0], "description_th": o[1]} for o in objectives],
    }
