"""Seed the registries with synthetic, deterministic, coherent records.

``generate(data_dir, citizens=N, seed=S)`` writes ``dopa.sqlite``, ``dbd.sqlite``, ``edu.sqlite`` and
``promptpay.sqlite`` in data_dir (replacing them). Guarantees:

* the same seed and size give the same records, byte for byte;
* every ID has a valid check digit; personal IDs begin with 1-5 or 8 for Thais (mostly
  1 and 3) and 6 for foreigners, then the four-digit code of a real district;
  juristic-person IDs are 0 + province office + type + BE year + serial;
* every person in a house, every director, sole trader and degree holder is a person
  in dopa; deceased persons are in no house and their cards are voided; every house
  has 1-6 living members;
* ~1 % deceased, ~2 % foreigners, ~5 % graduates, ~3 % of adults sole traders,
  max(20, citizens // 50) companies; ~80 % of Thais aged 15 and over on the PromptPay directory, drawn apart
  (providers/synth/promptpay.py) so that the other registries are the same without it;
* the first households live in Phrae (the province of the source letter), so that
  the sample agencies there have officers living in their area.

With ``database=`` the same records go to the registries' schemas on PostgreSQL, loaded
with COPY and swapped in whole at the end (``providers.synth.bulk``).

Records are made household by household in this process and written in batches of
5 000 persons by a spawned writer process (SQLite's inserts hold the GIL, so the two
cores work in parallel only that way); memory does not grow with ``citizens``
(at 10 million: 107 MB here, 151 MB in the writer). One million citizens take about 75 s,
ten million 14 minutes (11.5 to write, 2.5 to index) and 18 GB of disk.

Dates are Buddhist-era "YYYYMMDD" as DOPA serves them, counted back from a fixed
reference day so that the data do not change with the clock.

    households.py   people in households, their addresses and IDs
    records.py      each registry's record of them, as JSON
    promptpay.py    the PromptPay directory's record of them
    personas.py     the personas and officers picked on the way
    writer.py       the process that writes the stores (bulk.py: SQLite or PostgreSQL)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkage.storage import Database
from providers.synth.bulk import drop_loading
from providers.synth.households import REFERENCE_DAY, Generator, Household, Person, be_date, dump_json, load_geography
from providers.synth.personas import Picks
from providers.synth.promptpay import Directory
from providers.synth.records import card_json, commerce_record, company_record, degree_records, person_json
from providers.synth.writer import Job, Progress, Writer

__all__ = ["REFERENCE_DAY", "Progress", "SeedResult", "generate", "load_geography", "sample_ids"]


_BATCH = 5_000  # persons per transaction: big enough for speed, small enough for memory
_ROLES = {"owner": "เจ้าบ้าน (เจ้าของบ้าน)", "head": "เจ้าบ้าน", "resident": "ผู้อาศัย"}


@dataclass(frozen=True)
class SeedResult:
    """What a seeding made: personas to try the system with, officers for the sample agencies, counts.

    personas: ``{"id", "name": "ordinary"|"minor"|…, "kind": "citizen"|"juristic", "label": "Thai — English",
    "doc_types": [...]}``, and for
    a person with a card, ``"card": {first_name_th, last_name_th, birth_date, laser_code}`` as printed on it and
    ``"card_expiry_date"`` (Buddhist era, the card file's certificate says it too),
    each doc type listed having a record for that subject. officers: agency name → personal IDs
    of living adults (those of the Phrae agencies live in Phrae).
    """

    personas: list[dict[str, Any]]
    officers: dict[str, list[str]]
    counts: dict[str, int] = field(default_factory=dict)


# Households whose make-up is forced so that every persona exists even in a small data set.
_FLAGS = {1: frozenset({"trader", "graduate"}), 2: frozenset({"deceased"}), 3: frozenset({"voided"}),
          5: frozenset({"foreign"})}


def generate(data_dir: Path, *, citizens: int = 10_000, seed: int = 1, progress: Progress | None = None,
             database: Database | None = None) -> SeedResult:
    """Write data_dir/{dopa,dbd,edu}.sqlite with `citizens` persons; see the module docstring.

    With a database, write the registries' schemas there instead (COPY; swapped in whole at the end)
    and leave data_dir alone. Raises ValueError for citizens < 1 and RuntimeError if writing the
    stores fails; nothing half-written is left in place.
    """
    if citizens < 1:
        raise ValueError("citizens must be at least 1")
    where: Path | Database = data_dir if database is None else database
    if database is None:
        data_dir.mkdir(parents=True, exist_ok=True)
    gen = Generator(seed, citizens)
    counts = dict.fromkeys(("dopa.person", "dopa.house", "dopa.card", "dbd.juristic", "dbd.commerce",
                            "edu.degree", "promptpay.account"), 0)
    picks = Picks()
    directory = Directory(seed)
    done = 0
    writer = Writer(where)
    try:
        while done < citizens:
            batch: list[Household] = []
            n = 0
            while n < _BATCH and done + n < citizens:
                h = gen.household(citizens - done - n, _FLAGS.get(gen.households, frozenset()))
                batch.append(h)
                n += len(h.members)
            writer.put(_make_batch(gen, batch, done + n, counts, picks, directory))
            done += n
            if progress is not None:
                progress("citizens", done, citizens)
        writer.finish(progress)
    except BaseException:
        writer.kill()
        if database is not None:
            drop_loading(database)
        raise
    personas = picks.personas(where)
    officers = picks.officers()
    return SeedResult(personas=personas, officers=officers, counts=counts)


def _make_batch(gen: Generator, batch: list[Household], done_after: int, counts: dict[str, int],
                picks: Picks, directory: Directory) -> list[Job]:
    rng, ids = gen.rng, gen.ids
    records: list[tuple[str, str, str]] = []
    houses: list[tuple[str, str]] = []
    house_members: list[tuple[str, str]] = []
    cards: list[tuple[str, str, str, str, str, int]] = []
    commerce: list[tuple[str, str, str]] = []
    degrees: list[tuple[str, str, str]] = []
    accounts: list[tuple[str, str, str]] = []
    adults: list[Person] = []
    for h in batch:
        living = [p for p in h.members if p.alive]
        members = []
        for i, p in enumerate(living):
            role = ("owner" if h.owner else "head") if i == 0 else "resident"
            members.append({"personal_id": p.pid, "name_th": p.name_th, "role": role, "role_th": _ROLES[role]})
            house_members.append((p.pid, h.house_code))
        houses.append((h.house_code, dump_json({"house_code": h.house_code, "address": h.address,
                                                "address_text": h.address_text, "member_count": len(members),
                                                "members": members})))
        for i, p in enumerate(h.members):
            records.append(("dopa.person", p.pid, person_json(p, h.tail_json)))
            counts["dopa.person"] += 1
            expiry = ""
            if p.thai and p.age >= 7:
                card, laser = card_json(rng, p)
                expiry = card[card.index('"expiry_date":"') + 15:][:8]
                records.append(("dopa.card", p.pid, card))
                cards.append((p.pid, p.first_th, p.last_th, be_date(p.birth), laser, 0 if p.card_voided else 1))
                counts["dopa.card"] += 1
            if not (p.alive and p.thai):
                picks.see(p, h, i)
                _promptpay(p, picks, directory, accounts, expiry)
                continue
            forced = h.flags if i == 0 else frozenset()
            if p.age >= 22 and ("graduate" in forced or rng.random() < 0.07):
                held = degree_records(rng, p)
                degrees.append(("edu.degree", p.pid, dump_json({"personal_id": p.pid, "name_th": p.name_th,
                                                                "name_en": p.name_en, "degrees": held})))
                picks.pick("graduate", p.pid)
            if p.age >= 20 and ("trader" in forced or rng.random() < 0.03):
                trade = commerce_record(rng, ids, p, "trader" in forced)
                commerce.append(("dbd.commerce", p.pid, dump_json(trade)))
                if trade["status"] == "active":
                    picks.pick("trader", p.pid)
            if p.age >= 25:
                adults.append(p)
            picks.see(p, h, i)
            _promptpay(p, picks, directory, accounts, expiry)
    counts["dopa.house"] += len(houses)
    counts["promptpay.account"] += len(accounts)
    counts["edu.degree"] += len(degrees)
    counts["dbd.commerce"] += len(commerce)
    # Companies keep pace with persons; their directors are adults of this batch.
    target = gen.total_companies * done_after // gen.citizens
    companies: list[tuple[str, str, str]] = []
    while gen.companies < target and adults:
        directors = rng.sample(adults, min(len(adults), rng.randint(1, 3)))
        forced_status = {0: 0, 1: 1, 2: 2}.get(gen.companies)
        juristic_id, record = company_record(rng, ids, gen.geo, directors, forced_status)
        companies.append(("dbd.juristic", juristic_id, dump_json(record)))
        picks.company(juristic_id, record, directors)
        gen.companies += 1
    counts["dbd.juristic"] += len(companies)
    return [
        ("dopa", "record", records),
        ("dopa", "house", houses),
        ("dopa", "house_member", house_members),
        ("dopa", "card_check", cards),
        ("dbd", "record", commerce + companies),
        ("edu", "record", degrees),
        ("promptpay", "record", accounts),
    ]


def _promptpay(p: Person, picks: Picks, directory: Directory, accounts: list[tuple[str, str, str]],
               card_expiry: str) -> None:
    """p's PromptPay record, if any; p becomes an allowance persona when one is open and the record fits it (the
    existing personas were picked first, by ``Picks.see``)."""
    wish = picks.allowance(p, card_expiry)
    record = directory.record(p, None if wish is None else wish[1])
    if record is not None:
        accounts.append(("promptpay.account", p.pid, record))
    if wish is not None and (record is not None) == wish[1]:
        picks.pick(wish[0], p.pid)


def sample_ids(db_path: Path, doc_type: str, limit: int) -> list[str]:
    """Up to limit subject IDs that have a doc_type record in the store at db_path (for benchmarks)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        if doc_type == "dopa.house":
            rows = conn.execute("SELECT subject_id FROM house_member LIMIT ?", (limit,)).fetchall()
        else:
            rows = conn.execute("SELECT subject_id FROM record WHERE doc_type = ? LIMIT ?",
                                (doc_type, limit)).fetchall()
    finally:
        conn.close()
    return [str(r[0]) for r in rows]
