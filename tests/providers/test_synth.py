"""The synthetic registries: valid IDs, determinism, coherence, geography, personas, officers."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from linkage.ids import IdKind, parse_id
from providers import REGISTRIES
from providers.store import open_record_store
from providers.synth import generate, load_geography
from tests.providers.conftest import CITIZENS, Seeded


def _rows(data_dir: Path, name: str, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(data_dir / f"{name}.sqlite")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _docs(data_dir: Path, name: str, doc_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for subject_id, data in _rows(data_dir, name, f"SELECT subject_id, data FROM record WHERE doc_type = '{doc_type}'"):
        yield subject_id, json.loads(data)


def _houses(data_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(d) for (d,) in _rows(data_dir, "dopa", "SELECT data FROM house")]


def test_every_id_is_valid(seeded: Seeded) -> None:
    d = seeded.data_dir
    persons = dict(_docs(d, "dopa", "dopa.person"))
    assert len(persons) == CITIZENS
    for pid, person in persons.items():
        assert parse_id(pid, IdKind.CITIZEN) == pid == person["personal_id"]
        assert pid[0] in "12345678"
        assert (pid[0] == "6") == (person["nationality_code"] != "THA")
    for jid, company in _docs(d, "dbd", "dbd.juristic"):
        assert parse_id(jid, IdKind.JURISTIC) == jid == company["juristic_id"]
    for name in ("dbd", "edu"):
        for subject_id, _ in _rows(d, name, "SELECT subject_id, data FROM record"):
            parse_id(subject_id)
    for house in _houses(d):
        assert len(house["house_code"]) == 11 and house["house_code"].isdigit()


def test_same_seed_same_records(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", citizens=600, seed=3)
    b = generate(tmp_path / "b", citizens=600, seed=3)
    generate(tmp_path / "c", citizens=600, seed=4)
    assert a.personas == b.personas and a.officers == b.officers
    for name, registry in REGISTRIES.items():
        for table in ("record", *(["house", "house_member", "card_check"] if name == "dopa" else [])):
            sql = f"SELECT * FROM {table} ORDER BY 1, 2"
            assert _rows(tmp_path / "a", name, sql) == _rows(tmp_path / "b", name, sql), (name, table)
        assert registry.doc_types
    assert _rows(tmp_path / "a", "dopa", "SELECT data FROM house ORDER BY 1") != _rows(
        tmp_path / "c", "dopa", "SELECT data FROM house ORDER BY 1")


def test_records_are_coherent(seeded: Seeded) -> None:
    d = seeded.data_dir
    persons = dict(_docs(d, "dopa", "dopa.person"))
    cards = dict(_docs(d, "dopa", "dopa.card"))
    active = dict(_rows(d, "dopa", "SELECT subject_id, active FROM card_check"))
    in_house = {}
    for house in _houses(d):
        assert 1 <= house["member_count"] == len(house["members"]) <= 6
        assert [m["role"] for m in house["members"]][1:] == ["resident"] * (house["member_count"] - 1)
        for member in house["members"]:
            person = persons[member["personal_id"]]
            assert person["status"] == "alive" and person["house_code"] == house["house_code"]
            in_house[member["personal_id"]] = house["house_code"]
    for pid, person in persons.items():
        if person["status"] == "deceased":
            assert person["death_date"] and pid not in in_house
            if pid in cards:
                assert cards[pid]["status"] == "voided" and active[pid] == 0
        else:
            assert in_house[pid] == person["house_code"] and person["death_date"] is None
        assert len(person["birth_date"]) == 8 and int(person["birth_date"][:4]) > 2400  # Buddhist era
    for pid, card in cards.items():
        assert "laser_code" not in card and (card["status"] == "active") == (active[pid] == 1)
    for _, company in _docs(d, "dbd", "dbd.juristic"):
        assert company["directors"] and company["objectives"]
        for director in company["directors"]:
            assert persons[director["personal_id"]]["status"] == "alive"
    for pid, trade in _docs(d, "dbd", "dbd.commerce"):
        assert persons[pid]["nationality_code"] == "THA" and trade["personal_id"] == pid
    for pid, degrees in _docs(d, "edu", "edu.degree"):
        assert pid in persons and degrees["degrees"]


def test_proportions(seeded: Seeded) -> None:
    counts = seeded.result.counts
    persons = [p for _, p in _docs(seeded.data_dir, "dopa", "dopa.person")]
    deceased = sum(p["status"] == "deceased" for p in persons) / len(persons)
    foreign = sum(p["nationality_code"] != "THA" for p in persons) / len(persons)
    minors = sum(p["title"] in ("เด็กชาย", "เด็กหญิง") for p in persons) / len(persons)
    assert 0.003 < deceased < 0.03 and 0.005 < foreign < 0.05 and 0.05 < minors < 0.4
    assert 0.02 < counts["edu.degree"] / CITIZENS < 0.1 and counts["dbd.commerce"] > 0
    assert counts["dbd.juristic"] == max(20, CITIZENS // 50)


def test_geography_has_every_province() -> None:
    provinces = load_geography()
    assert len(provinces) == 77 == len({p[0] for p in provinces})
    assert {"แพร่", "บึงกาฬ", "กรุงเทพมหานคร"} <= {p[1] for p in provinces}
    for code, _, name_en, districts in provinces:
        assert districts and name_en
        for district_code, _, subs in districts:
            assert district_code // 100 == code and subs
            for name, postal in subs:
                assert name and len(postal) == 5 and postal.isdigit()


async def test_personas_have_their_records(stores: Seeded) -> None:
    seeded = stores
    wanted = ("ordinary adult", "minor", "deceased", "voided", "foreigner", "director", "graduate",
              "sole trader", "active company", "dissolved company")
    for label in wanted:
        seeded.persona(label)
    ids = [p["id"] for p in seeded.result.personas]
    assert len(ids) == len(set(ids))
    for persona in seeded.result.personas:
        assert persona["doc_types"]
        assert persona["kind"] == ("juristic" if persona["id"].startswith("0") else "citizen")
        for code in persona["doc_types"]:
            owner = next(r for r in REGISTRIES.values() if code in r.doc_types)
            store = await open_record_store(owner, seeded.where(owner.name))
            try:
                assert await store.get(code, persona["id"]) is not None, (persona["label"], code)
            finally:
                await store.close()
    assert seeded.persona("foreigner")["id"].startswith("6")
    assert "dbd.commerce" in seeded.persona("sole trader")["doc_types"]
    assert "edu.degree" in seeded.persona("graduate")["doc_types"]


def test_officers_are_living_adults_where_their_agency_is(seeded: Seeded) -> None:
    persons = dict(_docs(seeded.data_dir, "dopa", "dopa.person"))
    officers = seeded.result.officers
    assert len(officers["phrae-municipality"]) == 3 and len(officers["phrae-hospital"]) == 3
    assert len(officers["auditor"]) == 2
    every = [x for ids in officers.values() for x in ids]
    assert len(every) == len(set(every))
    for agency, ids in officers.items():
        for pid in ids:
            person = persons[pid]
            assert person["status"] == "alive" and person["title"] in ("นาย", "นาง", "นางสาว")
            if agency.startswith("phrae"):
                assert person["address"]["province"] == "แพร่"


def test_the_promptpay_directory_holds_adults_of_the_civil_registry(seeded: Seeded) -> None:
    persons = dict(_docs(seeded.data_dir, "dopa", "dopa.person"))
    accounts = dict(_docs(seeded.data_dir, "promptpay", "promptpay.account"))
    assert seeded.result.counts["promptpay.account"] == len(accounts)
    for pid, account in accounts.items():
        person = persons[pid]
        assert account["personal_id"] == pid and account["status"] in ("active", "suspended")
        assert account["account_name_th"] == f"{person['title']}{person['first_name_th']} {person['last_name_th']}"
        assert re.fullmatch(r"xxx-x-x\d{4}-x", account["account_masked"]) and len(account["bank_code"]) == 3
        assert _be(account["registered_date"]) - _be(person["birth_date"]) >= dt.timedelta(days=15 * 365)
        assert account["registered_date"] >= "25600127"  # not before PromptPay existed
    thai_adults = [pid for pid, p in persons.items() if p["nationality_code"] == "THA"
                   and _be(p["birth_date"]) <= dt.date(2010, 1, 1)]
    assert 0.7 < sum(pid in accounts for pid in thai_adults) / len(thai_adults) < 0.9


def test_the_default_seed_has_the_allowance_personas(tmp_path: Path) -> None:
    result = generate(tmp_path, citizens=60, seed=1)
    by_name = {p["name"]: p for p in result.personas}
    persons = dict(_docs(tmp_path, "dopa", "dopa.person"))
    for name, has in (("elderly_promptpay", True), ("elderly_no_promptpay", False), ("resident_promptpay", True),
                      ("allowance_deceased", True)):
        persona = by_name[name]
        assert ("promptpay.account" in persona["doc_types"]) is has, name
        person = persons[persona["id"]]
        if name == "allowance_deceased":
            assert person["status"] == "deceased"
            continue
        assert person["status"] == "alive" and person["address"]["district"] == "เมืองแพร่"
        assert "card" in persona and "dopa.card" in persona["doc_types"]
        assert persona["card_expiry_date"] >= "25720101"  # good for years past the reference day
        born = _be(person["birth_date"])
        assert born < dt.date(1964, 1, 2) if name.startswith("elderly") else not (
            dt.date(1964, 1, 1) < born < dt.date(1995, 1, 1))  # not of the officers' ages
    # The other personas and the officers are those the seed made before the directory existed.
    assert by_name["ordinary"]["id"] == "1540362476873" and by_name["deceased"]["id"] == "1540430527300"


def _be(date: str) -> dt.date:
    return dt.date(int(date[:4]) - 543, int(date[4:6]), int(date[6:]))
