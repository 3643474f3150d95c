"""Seed the three registries with synthetic, deterministic, coherent records.

``generate(data_dir, citizens=N, seed=S)`` writes ``dopa.sqlite``, ``dbd.sqlite`` and
``edu.sqlite`` in data_dir (replacing them). Guarantees:

* the same seed and size give the same records, byte for byte;
* every ID has a valid check digit; personal IDs begin with 1-5 or 8 for Thais (mostly
  1 and 3) and 6 for foreigners, then the four-digit code of a real district;
  juristic-person IDs are 0 + province office + type + BE year + serial;
* every person in a house, every director, sole trader and degree holder is a person
  in dopa; deceased persons are in no house and their cards are voided; every house
  has 1-6 living members;
* ~1 % deceased, ~2 % foreigners, ~5 % graduates, ~3 % of adults sole traders,
  max(20, citizens // 50) companies;
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
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import multiprocessing
import operator
import queue
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing import queues as mp_queues
from pathlib import Path
from random import Random
from typing import Any, TypeVar

from linkage.storage import Database
from providers import REGISTRIES
from providers.synth import vocab
from providers.synth.bulk import drop_loading, open_reader, open_target

__all__ = ["REFERENCE_DAY", "Progress", "SeedResult", "generate", "load_geography", "sample_ids"]

Progress = Callable[[str, int, int], None]
_T = TypeVar("_T")

REFERENCE_DAY = dt.date(2025, 1, 1)
"""'Today' for the synthetic data: ages, card validity and registration dates count back from it."""

_REF = REFERENCE_DAY.toordinal()
_YEAR = 365.2425
_BATCH = 5_000  # persons per transaction: big enough for speed, small enough for memory
_PHRAE = 54
_FIRST_PHRAE_HOUSEHOLDS = 12
_BANGKOK = 10

_HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)
_HOUSEHOLD_CUM = (20, 45, 67, 85, 95, 100)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_COMPANY_TYPES = (
    # code, Thai, type digit of the juristic ID, capital choices (baht)
    ("company_limited", "บริษัทจำกัด", "5", (100_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000)),
    ("limited_partnership", "ห้างหุ้นส่วนจำกัด", "3", (100_000, 300_000, 500_000, 1_000_000)),
    ("public_company_limited", "บริษัทมหาชนจำกัด", "7", (500_000_000, 1_000_000_000, 2_500_000_000)),
)
_COMPANY_STATUS = (("active", "ยังดำเนินกิจการอยู่"), ("dissolved", "เลิกกิจการ"), ("bankrupt", "ล้มละลาย"))
_ROLES = {"owner": "เจ้าบ้าน (เจ้าของบ้าน)", "head": "เจ้าบ้าน", "resident": "ผู้อาศัย"}


@dataclass(frozen=True)
class SeedResult:
    """What a seeding made: personas to try the system with, officers for the sample agencies, counts.

    personas: ``{"id", "name": "ordinary"|"minor"|…, "kind": "citizen"|"juristic", "label": "Thai — English",
    "doc_types": [...]}``, and for
    a person with a card, ``"card": {first_name_th, last_name_th, birth_date, laser_code}`` as printed on it,
    each doc type listed having a record for that subject. officers: agency name → personal IDs
    of living adults (those of the Phrae agencies live in Phrae).
    """

    personas: list[dict[str, Any]]
    officers: dict[str, list[str]]
    counts: dict[str, int] = field(default_factory=dict)


# --- geography -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Place:
    province_code: int
    province: str
    province_en: str
    district_code: int
    district: str
    sub_district: str
    postal_code: str


def load_geography() -> list[list[Any]]:
    """The vendored geography: [[province_code, province_th, province_en, [[district_code, district_th,
    [[sub_district_th, postal_code], ...]], ...]], ...] (see build_geography)."""
    data: list[list[Any]] = json.loads(Path(__file__).with_name("geography.json").read_text(encoding="utf-8"))
    return data


class _Geo:
    def __init__(self) -> None:
        self.places: list[_Place] = []
        weights: list[float] = []
        for p_code, p_th, p_en, districts in load_geography():
            for d_code, d_th, subs in districts:
                for s_th, postal in subs:
                    self.places.append(_Place(p_code, p_th, p_en, d_code, d_th, s_th, postal))
                    # Bangkok holds far more people per sub-district (แขวง) than the provinces.
                    weights.append(6.0 if p_code == _BANGKOK else 1.0)
        total = 0.0
        self.cum: list[float] = []
        for w in weights:
            total += w
            self.cum.append(total)
        self.phrae = [p for p in self.places if p.province_code == _PHRAE]
        self.district_codes = sorted({p.district_code for p in self.places})

    def pick(self, rng: Random) -> _Place:
        return rng.choices(self.places, cum_weights=self.cum)[0]


def _address(rng: Random, place: _Place) -> tuple[dict[str, Any], str]:
    r = rng.random
    number = str(1 + _below(r, 399)) if r() < 0.7 else f"{1 + _below(r, 199)}/{1 + _below(r, 40)}"
    moo: int | None = None
    if place.province_code == _BANGKOK:
        text = f"{number} แขวง{place.sub_district} เขต{place.district} {place.province} {place.postal_code}"
    else:
        moo = 1 + _below(r, 15)
        text = (f"{number} หมู่ที่ {moo} ตำบล{place.sub_district} อำเภอ{place.district}"
                f" จังหวัด{place.province} {place.postal_code}")
    address = {"house_no": number, "moo": moo, "sub_district": place.sub_district, "district": place.district,
               "province": place.province, "province_en": place.province_en, "postal_code": place.postal_code}
    return address, text


# --- persons ------------------------------------------------------------------------------------

class _Person:
    __slots__ = ("address", "address_text", "age", "birth", "card_voided", "death", "first_en", "first_th",
                 "house_code", "last_en", "last_th", "nat", "pid", "place", "sex", "title", "title_en")

    pid: str
    title: str
    title_en: str
    first_th: str
    first_en: str
    last_th: str
    last_en: str
    sex: str
    age: int
    birth: int  # date ordinal
    nat: tuple[str, str, str]  # Thai, English, ISO alpha-3
    place: _Place
    address: dict[str, Any]
    address_text: str
    house_code: str

    def __init__(self) -> None:
        self.death: int | None = None  # date ordinal
        self.card_voided = False

    @property
    def thai(self) -> bool:
        return self.nat[2] == "THA"

    @property
    def alive(self) -> bool:
        return self.death is None

    @property
    def name_th(self) -> str:
        return f"{self.title}{self.first_th} {self.last_th}"

    @property
    def name_en(self) -> str:
        return f"{self.title_en} {self.first_en} {self.last_en}"


_THAI = ("ไทย", "Thai", "THA")


@functools.cache
def _be(ordinal: int) -> str:
    d = dt.date.fromordinal(ordinal)
    return f"{d.year + 543:04d}{d.month:02d}{d.day:02d}"


_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_WEIGHTS = tuple(range(13, 1, -1))


def _check(first12: str) -> str:
    """The ID check digit (as linkage.ids.check_digit, without its argument checks: this is the hot path)."""
    return str((11 - sum(map(operator.mul, map(int, first12), _WEIGHTS)) % 11) % 10)


# Random.choice/randrange/randint cost a microsecond or more each; these draw from random() directly.
def _below(r: Callable[[], float], n: int) -> int:
    return int(r() * n)


def _one(r: Callable[[], float], seq: Sequence[_T]) -> _T:
    return seq[int(r() * len(seq))]


class _Ids:
    """Unique IDs: a counter per (first digit, district), spread over the serial range by a bijection."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._next: dict[tuple[str, int], int] = {}
        self._counters: dict[tuple[Any, ...], int] = {}

    def personal(self, first: str, district: int) -> str:
        key = (first, district)
        n = self._next.get(key, 0)
        self._next[key] = n + 1
        # 7_654_321 is coprime with 10**7, so distinct n give distinct serials.
        serial = (n * 7_654_321 + (self._seed * 1_000_003 + district * 31 + int(first)) * 48_271) % 10**7
        first12 = f"{first}{district:04d}{serial:07d}"[:12]
        return first12 + _check(first12)

    def counter(self, key: tuple[Any, ...]) -> int:
        n = self._counters.get(key, 0)
        self._counters[key] = n + 1
        return n


def _house_code(district: int, serial: int) -> str:
    ten = f"{district:04d}{serial:06d}"
    return ten + str((11 - sum(int(d) * (11 - i) for i, d in enumerate(ten)) % 11) % 10)


_ORD_1984 = dt.date(1984, 1, 1).toordinal()


def _thai_first_digit(r: float, birth: int) -> str:
    # 1: born and registered from 1984 on; 3: registered before 1984; the others are rarer cases
    # (late registration, moved in, naturalised).
    if birth >= _ORD_1984:
        return "1" if r < 0.95 else ("2" if r < 0.98 else "5")
    return "3" if r < 0.95 else ("4" if r < 0.98 else ("5" if r < 0.995 else "8"))


@dataclass
class _Household:
    house_code: str
    place: _Place
    address: dict[str, Any]
    address_text: str
    members: list[_Person]
    owner: bool
    flags: frozenset[str]
    tail_json: str  # the address, encoded once for every member's record


class _Generator:
    def __init__(self, seed: int, citizens: int) -> None:
        self.rng = Random(seed)
        self.geo = _Geo()
        self.ids = _Ids(seed)
        self.citizens = citizens
        self.households = 0
        total_companies = max(20, citizens // 50)
        self.total_companies = total_companies
        self.companies = 0

    # One household: a head, maybe a spouse, children; all share the head's surname.
    def household(self, remaining: int, flags: frozenset[str]) -> _Household:
        rng = self.rng
        r = rng.random
        index = self.households
        self.households += 1
        foreign = "foreign" in flags or r() < 0.02
        size = rng.choices(_HOUSEHOLD_SIZES, cum_weights=_HOUSEHOLD_CUM)[0]
        if flags:
            size = max(size, 3)
        if foreign:
            size = min(size, 3)
        size = max(1, min(size, remaining))
        place = _one(r, self.geo.phrae) if index < _FIRST_PHRAE_HOUSEHOLDS else self.geo.pick(rng)
        if foreign:
            nat_entry = rng.choices(vocab.FOREIGN, [f[3] for f in vocab.FOREIGN])[0]
            nat = nat_entry[:3]
            males, females, surnames = nat_entry[4], nat_entry[5], nat_entry[6]
            last = _one(r, surnames)
        else:
            nat = _THAI
            males, females = vocab.GIVEN_MALE, vocab.GIVEN_FEMALE
            head, tail = _one(r, vocab.SURNAME_HEADS), _one(r, vocab.SURNAME_TAILS)
            last = (head[0] + tail[0], head[1] + tail[1])
        serial = self.ids.counter(("house", place.district_code))
        code = _house_code(place.district_code, serial)
        address, text = _address(rng, place)
        head_age = 25 + int(60 * r() ** 1.4)
        head_male = r() < 0.65
        members = []
        married = size >= 2 and r() < 0.8
        for i in range(size):
            if i == 0:
                age, male = head_age, head_male
            elif i == 1 and married:
                age, male = max(20, head_age - 6 + _below(r, 13)), not head_male
            else:
                low = max(0, head_age - 42)
                age, male = low + _below(r, head_age - 20 - low + 1), r() < 0.5
            p = _Person()
            p.age = age
            p.sex = "male" if male else "female"
            p.nat = nat
            p.birth = _REF - int(age * _YEAR) - _below(r, 365)
            p.first_th, p.first_en = _one(r, males if male else females)
            p.last_th, p.last_en = last
            if age < 15:
                p.title, p.title_en = ("เด็กชาย", "Master") if male else ("เด็กหญิง", "Miss")
            elif male:
                p.title, p.title_en = "นาย", "Mr."
            elif married and i < 2:
                p.title, p.title_en = "นาง", "Mrs."
            else:
                p.title, p.title_en = "นางสาว", "Miss"
            if foreign:
                p.pid = self.ids.personal("6", place.district_code)
            else:
                born_in = place.district_code if r() < 0.8 else _one(r, self.geo.district_codes)
                p.pid = self.ids.personal(_thai_first_digit(r(), p.birth), born_in)
            p.place, p.address, p.address_text, p.house_code = place, address, text, code
            # Deaths among the older members (never the head, who holds the house registration).
            if i > 0 and not foreign and age >= 30 and r() < 0.07:
                p.death = _REF - _below(r, max(1, min(int((age - 25) * _YEAR), 3650)))
            members.append(p)
        if "deceased" in flags and all(m.alive for m in members[1:]):
            members[-1].death = _REF - 30 - _below(r, 2000)
        for p in members:
            p.card_voided = p.thai and p.age >= 7 and (not p.alive or r() < 0.015)
        if "voided" in flags:
            members[0].card_voided = True
        tail_json = f',"address":{_dump(address)},"address_text":{_dump(text)}}}'
        return _Household(code, place, address, text, members, r() < 0.75, flags, tail_json)


def _person_json(p: _Person, tail_json: str) -> str:
    # Written by hand, not by json: encoding is most of the seeding time. Every string here comes from
    # the word lists, the geography or digits, none of which holds a quote, a backslash or a control
    # character (the tests parse every record back).
    death = "null" if p.death is None else f'"{_be(p.death)}"'
    status = "alive" if p.death is None else "deceased"
    return (f'{{"personal_id":"{p.pid}","title":"{p.title}","first_name_th":"{p.first_th}",'
            f'"last_name_th":"{p.last_th}","title_en":"{p.title_en}","first_name_en":"{p.first_en}",'
            f'"last_name_en":"{p.last_en}","birth_date":"{_be(p.birth)}","sex":"{p.sex}",'
            f'"nationality":"{p.nat[0]}","nationality_code":"{p.nat[2]}","status":"{status}",'
            f'"death_date":{death},"house_code":"{p.house_code}"{tail_json}')


def _card(rng: Random, p: _Person) -> tuple[str, str]:
    # A card lasts 8 years, to the holder's birthday; the one on record was issued in the last 8 years
    # (before death for the deceased) and not before the holder turned 7.
    r = rng.random
    latest = p.death if p.death is not None else _REF
    earliest = max(p.birth + int(7 * _YEAR), latest - int(8 * _YEAR) + 1)
    issue = earliest + _below(r, max(1, latest - earliest))
    born = _be(p.birth)
    month_day = "0228" if born[4:] == "0229" else born[4:]
    expiry = f"{int(_be(issue)[:4]) + 8}{month_day}"
    office = (f"สำนักงานเขต{p.place.district}" if p.place.province_code == _BANGKOK
              else f"อำเภอ{p.place.district} จังหวัด{p.place.province}")
    laser = (f"{_one(r, _LETTERS)}{_one(r, _LETTERS)}{_below(r, 10)}-{_below(r, 10**7):07d}"
             f"-{_below(r, 100):02d}")
    record = (f'{{"card_id":"{p.pid}","title":"{p.title}","first_name_th":"{p.first_th}",'
              f'"last_name_th":"{p.last_th}","issue_date":"{_be(issue)}","expiry_date":"{expiry}",'
              f'"issued_at":"{office}","status":"{"voided" if p.card_voided else "active"}"}}')
    return record, laser


def _degrees(rng: Random, p: _Person) -> list[dict[str, Any]]:
    degree_th, degree_en, majors = rng.choice(vocab.DEGREES)
    uni = rng.choice(vocab.UNIVERSITIES)
    major = rng.choice(majors)
    conferred = p.birth + int(rng.randint(22, 24) * _YEAR) + rng.randrange(120)
    out = [{"institution_th": uni[0], "institution_en": uni[1], "degree_th": degree_th, "degree_en": degree_en,
            "major_th": major[0], "major_en": major[1], "conferred_date": _be(min(conferred, _REF - 30))}]
    if p.age >= 30 and rng.random() < 0.2:
        degree_th, degree_en, majors = rng.choice(vocab.MASTERS)
        uni, major = rng.choice(vocab.UNIVERSITIES), rng.choice(majors)
        conferred = p.birth + int(rng.randint(26, 35) * _YEAR) + rng.randrange(120)
        out.append({"institution_th": uni[0], "institution_en": uni[1], "degree_th": degree_th,
                    "degree_en": degree_en, "major_th": major[0], "major_en": major[1],
                    "conferred_date": _be(min(conferred, _REF - 30))})
    return out


def _commerce(rng: Random, ids: _Ids, p: _Person, force_active: bool) -> dict[str, Any]:
    code, what, tag_th, _ = rng.choice(vocab.TSIC)
    brand = rng.choice(vocab.BRAND_WORDS)
    registered = _REF - rng.randrange(max(1, min(int((p.age - 20) * _YEAR), 30 * 365)) + 1)
    year = dt.date.fromordinal(registered).year + 543
    serial = ids.counter(("commerce", p.place.district_code, year)) + 1
    return {
        "personal_id": p.pid, "owner_name_th": p.name_th,
        "registration_no": f"{p.place.district_code:04d}-{year}-{serial:05d}",
        "shop_name": f"ร้าน{brand[0]}{tag_th}", "business": {"tsic": code, "description_th": what},
        "address": p.address, "address_text": p.address_text, "registration_date": _be(registered),
        "status": "active" if force_active or rng.random() < 0.9 else "cancelled",
    }


def _company(rng: Random, ids: _Ids, geo: _Geo, directors: list[_Person], status_index: int | None,
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
    registered = _REF - 30 - rng.randrange(45 * 365)
    year = dt.date.fromordinal(registered).year + 543
    office = f"{place.province_code:02d}"
    n = ids.counter(("juristic", office, type_digit, year % 100))
    first12 = f"0{office}{type_digit}{year % 100:02d}{(n * 7919 + 1) % 10**6:06d}"
    juristic_id = first12 + _check(first12)
    if status_index is None:
        status_index = rng.choices((0, 1, 2), (85, 12, 3))[0]
    status, status_th = _COMPANY_STATUS[status_index]
    address, text = _address(rng, place)
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
        "registration_date": _be(registered), "capital": rng.choice(capitals), "status": status,
        "status_th": status_th, "address": address, "address_text": text,
        "directors": [{"personal_id": d.pid, "name_th": d.name_th} for d in directors],
        "signing_rule": rule,
        "objectives": [{"tsic": o[0], "description_th": o[1]} for o in objectives],
    }


# --- stores --------------------------------------------------------------------------------------

Job = tuple[str, str, list[tuple[Any, ...]]]  # store name, table, rows


def _write_stores(where: Path | Database, jobs: mp_queues.Queue[list[Job] | None],
                  events: mp_queues.Queue[Any]) -> None:
    """The writer process: every batch in one transaction per store, then the indexes (providers.synth.bulk)."""
    try:
        target = open_target(where)
        try:
            while (batch := jobs.get()) is not None:
                for name, table, rows in batch:
                    target.write(name, table, rows)
            target.finish(lambda *event: events.put(event))
        finally:
            target.close()
        events.put(("done",))
    except BaseException as exc:
        events.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


class _Writer:
    """A process of its own writes the stores while this one makes the next batch: SQLite's inserts
    (and psycopg's COPY rows) hold the GIL, so a thread would not help. At most one batch waits,
    which bounds memory."""

    def __init__(self, where: Path | Database) -> None:
        # spawn, not fork: the caller may run threads (gRPC, asyncio) that a fork would copy half-way.
        ctx = multiprocessing.get_context("spawn")
        self._jobs: mp_queues.Queue[list[Job] | None] = ctx.Queue(maxsize=1)
        self._events: mp_queues.Queue[Any] = ctx.Queue()
        self._process = ctx.Process(target=_write_stores, args=(where, self._jobs, self._events),
                                    name="linkage-seed-writer", daemon=True)
        self._process.start()

    def _check_alive(self) -> None:
        if not self._process.is_alive():
            raise RuntimeError(f"the seed writer stopped (exit code {self._process.exitcode})")

    def put(self, batch: list[Job]) -> None:
        while True:
            try:
                self._jobs.put(batch, timeout=1)
                return
            except queue.Full:
                self._check_alive()

    def finish(self, progress: Progress | None) -> None:
        """Wait until the stores are written and indexed; raises RuntimeError if the writer failed."""
        self._jobs.put(None)
        while True:
            try:
                event = self._events.get(timeout=1)
            except queue.Empty:
                self._check_alive()
                continue
            if event[0] == "done":
                break
            if event[0] == "error":
                raise RuntimeError(f"the seed writer failed: {event[1]}")
            if progress is not None:
                progress(*event)
        self._process.join()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        # A batch may still sit in a queue's feeder thread, blocked on a pipe nobody reads now: without
        # this, the interpreter waits for it at exit forever (a failed seeding hung pytest after its run).
        self._jobs.cancel_join_thread()
        self._events.cancel_join_thread()


# --- the run -------------------------------------------------------------------------------------

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
    gen = _Generator(seed, citizens)
    counts = dict.fromkeys(("dopa.person", "dopa.house", "dopa.card", "dbd.juristic", "dbd.commerce",
                            "edu.degree"), 0)
    picks = _Picks()
    done = 0
    writer = _Writer(where)
    try:
        while done < citizens:
            batch: list[_Household] = []
            n = 0
            while n < _BATCH and done + n < citizens:
                h = gen.household(citizens - done - n, _FLAGS.get(gen.households, frozenset()))
                batch.append(h)
                n += len(h.members)
            writer.put(_make_batch(gen, batch, done + n, counts, picks))
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


def _make_batch(gen: _Generator, batch: list[_Household], done_after: int, counts: dict[str, int],
                picks: _Picks) -> list[Job]:
    rng, ids = gen.rng, gen.ids
    records: list[tuple[str, str, str]] = []
    houses: list[tuple[str, str]] = []
    house_members: list[tuple[str, str]] = []
    cards: list[tuple[str, str, str, str, str, int]] = []
    commerce: list[tuple[str, str, str]] = []
    degrees: list[tuple[str, str, str]] = []
    adults: list[_Person] = []
    for h in batch:
        living = [p for p in h.members if p.alive]
        members = []
        for i, p in enumerate(living):
            role = ("owner" if h.owner else "head") if i == 0 else "resident"
            members.append({"personal_id": p.pid, "name_th": p.name_th, "role": role, "role_th": _ROLES[role]})
            house_members.append((p.pid, h.house_code))
        houses.append((h.house_code, _dump({"house_code": h.house_code, "address": h.address,
                                            "address_text": h.address_text, "member_count": len(members),
                                            "members": members})))
        for i, p in enumerate(h.members):
            records.append(("dopa.person", p.pid, _person_json(p, h.tail_json)))
            counts["dopa.person"] += 1
            if p.thai and p.age >= 7:
                card, laser = _card(rng, p)
                records.append(("dopa.card", p.pid, card))
                cards.append((p.pid, p.first_th, p.last_th, _be(p.birth), laser, 0 if p.card_voided else 1))
                counts["dopa.card"] += 1
            if not (p.alive and p.thai):
                picks.see(p, h, i)
                continue
            forced = h.flags if i == 0 else frozenset()
            if p.age >= 22 and ("graduate" in forced or rng.random() < 0.07):
                degrees.append(("edu.degree", p.pid, _dump({"personal_id": p.pid, "name_th": p.name_th,
                                                            "name_en": p.name_en, "degrees": _degrees(rng, p)})))
                picks.pick("graduate", p.pid)
            if p.age >= 20 and ("trader" in forced or rng.random() < 0.03):
                trade = _commerce(rng, ids, p, "trader" in forced)
                commerce.append(("dbd.commerce", p.pid, _dump(trade)))
                if trade["status"] == "active":
                    picks.pick("trader", p.pid)
            if p.age >= 25:
                adults.append(p)
            picks.see(p, h, i)
    counts["dopa.house"] += len(houses)
    counts["edu.degree"] += len(degrees)
    counts["dbd.commerce"] += len(commerce)
    # Companies keep pace with persons; their directors are adults of this batch.
    target = gen.total_companies * done_after // gen.citizens
    companies: list[tuple[str, str, str]] = []
    while gen.companies < target and adults:
        directors = rng.sample(adults, min(len(adults), rng.randint(1, 3)))
        forced_status = {0: 0, 1: 1, 2: 2}.get(gen.companies)
        juristic_id, record = _company(rng, ids, gen.geo, directors, forced_status)
        companies.append(("dbd.juristic", juristic_id, _dump(record)))
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
    ]


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
}
_POOL = 64  # officer candidates kept; a few are needed


class _Picks:
    """The first subject of each persona kind, and candidates for officers, seen while generating."""

    def __init__(self) -> None:
        self.chosen: dict[str, str] = {}
        self.phrae: list[str] = []
        self.anywhere: list[str] = []

    def pick(self, kind: str, subject_id: str) -> None:
        if kind not in self.chosen and subject_id not in self.chosen.values():
            self.chosen[kind] = subject_id

    def see(self, p: _Person, h: _Household, i: int) -> None:
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
            pool = self.phrae if p.place.province_code == _PHRAE else self.anywhere
            if len(pool) < _POOL:
                pool.append(p.pid)

    def company(self, juristic_id: str, record: dict[str, Any], directors: list[_Person]) -> None:
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
                out.append(persona)
            return out
        finally:
            stores.close()

    def officers(self) -> dict[str, list[str]]:
        taken = set(self.chosen.values())
        phrae = [x for x in self.phrae if x not in taken]
        others = [x for x in self.anywhere + phrae[6:] if x not in taken]
        return {"phrae-municipality": phrae[:3], "phrae-hospital": phrae[3:6], "auditor": others[:2]}


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
