"""Households of synthetic people: where they live (the vendored geography), who they are (names, sexes,
ages, nationality, deaths, voided cards) and their IDs, unique and with valid check digits.

``Generator.household`` makes one household at a time from one ``Random``: a head, maybe a spouse,
children, all sharing the head's surname and address. The small tools of the hot path are here too:
draws straight from ``random()``, Buddhist-era dates, compact JSON, the check digit.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any, TypeVar

from providers.synth import vocab

__all__ = [
    "BANGKOK",
    "PHRAE",
    "REF",
    "REFERENCE_DAY",
    "YEAR",
    "Generator",
    "Geo",
    "Household",
    "Ids",
    "Person",
    "Place",
    "be_date",
    "below",
    "check_digit",
    "dump_json",
    "load_geography",
    "make_address",
    "pick_one",
]

_T = TypeVar("_T")

REFERENCE_DAY = dt.date(2025, 1, 1)
"""'Today' for the synthetic data: ages, card validity and registration dates count back from it."""

REF = REFERENCE_DAY.toordinal()
YEAR = 365.2425
PHRAE = 54
_FIRST_PHRAE_HOUSEHOLDS = 12
BANGKOK = 10

_HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)
_HOUSEHOLD_CUM = (20, 45, 67, 85, 95, 100)


@dataclass(frozen=True)
class Place:
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


class Geo:
    def __init__(self) -> None:
        self.places: list[Place] = []
        weights: list[float] = []
        for p_code, p_th, p_en, districts in load_geography():
            for d_code, d_th, subs in districts:
                for s_th, postal in subs:
                    self.places.append(Place(p_code, p_th, p_en, d_code, d_th, s_th, postal))
                    # Bangkok holds far more people per sub-district (แขวง) than the provinces.
                    weights.append(6.0 if p_code == BANGKOK else 1.0)
        total = 0.0
        self.cum: list[float] = []
        for w in weights:
            total += w
            self.cum.append(total)
        self.phrae = [p for p in self.places if p.province_code == PHRAE]
        self.district_codes = sorted({p.district_code for p in self.places})

    def pick(self, rng: Random) -> Place:
        return rng.choices(self.places, cum_weights=self.cum)[0]


def make_address(rng: Random, place: Place) -> tuple[dict[str, Any], str]:
    r = rng.random
    number = str(1 + below(r, 399)) if r() < 0.7 else f"{1 + below(r, 199)}/{1 + below(r, 40)}"
    moo: int | None = None
    if place.province_code == BANGKOK:
        text = f"{number} แขวง{place.sub_district} เขต{place.district} {place.province} {place.postal_code}"
    else:
        moo = 1 + below(r, 15)
        text = (f"{number} หมู่ที่ {moo} ตำบล{place.sub_district} อำเภอ{place.district}"
                f" จังหวัด{place.province} {place.postal_code}")
    address = {"house_no": number, "moo": moo, "sub_district": place.sub_district, "district": place.district,
               "province": place.province, "province_en": place.province_en, "postal_code": place.postal_code}
    return address, text


class Person:
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
    place: Place
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
def be_date(ordinal: int) -> str:
    d = dt.date.fromordinal(ordinal)
    return f"{d.year + 543:04d}{d.month:02d}{d.day:02d}"


dump_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_WEIGHTS = tuple(range(13, 1, -1))


def check_digit(first12: str) -> str:
    """The ID check digit (as linkage.ids.check_digit, without its argument checks: this is the hot path)."""
    return str((11 - sum(map(operator.mul, map(int, first12), _WEIGHTS)) % 11) % 10)


# Random.choice/randrange/randint cost a microsecond or more each; these draw from random() directly.
def below(r: Callable[[], float], n: int) -> int:
    return int(r() * n)


def pick_one(r: Callable[[], float], seq: Sequence[_T]) -> _T:
    return seq[int(r() * len(seq))]


class Ids:
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
        return first12 + check_digit(first12)

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
class Household:
    house_code: str
    place: Place
    address: dict[str, Any]
    address_text: str
    members: list[Person]
    owner: bool
    flags: frozenset[str]
    tail_json: str  # the address, encoded once for every member's record


class Generator:
    def __init__(self, seed: int, citizens: int) -> None:
        self.rng = Random(seed)
        self.geo = Geo()
        self.ids = Ids(seed)
        self.citizens = citizens
        self.households = 0
        total_companies = max(20, citizens // 50)
        self.total_companies = total_companies
        self.companies = 0

    # One household: a head, maybe a spouse, children; all share the head's surname.
    def household(self, remaining: int, flags: frozenset[str]) -> Household:
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
        place = pick_one(r, self.geo.phrae) if index < _FIRST_PHRAE_HOUSEHOLDS else self.geo.pick(rng)
        if foreign:
            nat_entry = rng.choices(vocab.FOREIGN, [f[3] for f in vocab.FOREIGN])[0]
            nat = nat_entry[:3]
            males, females, surnames = nat_entry[4], nat_entry[5], nat_entry[6]
            last = pick_one(r, surnames)
        else:
            nat = _THAI
            males, females = vocab.GIVEN_MALE, vocab.GIVEN_FEMALE
            head, tail = pick_one(r, vocab.SURNAME_HEADS), pick_one(r, vocab.SURNAME_TAILS)
            last = (head[0] + tail[0], head[1] + tail[1])
        serial = self.ids.counter(("house", place.district_code))
        code = _house_code(place.district_code, serial)
        address, text = make_address(rng, place)
        head_age = 25 + int(60 * r() ** 1.4)
        head_male = r() < 0.65
        members = []
        married = size >= 2 and r() < 0.8
        for i in range(size):
            if i == 0:
                age, male = head_age, head_male
            elif i == 1 and married:
                age, male = max(20, head_age - 6 + below(r, 13)), not head_male
            else:
                low = max(0, head_age - 42)
                age, male = low + below(r, head_age - 20 - low + 1), r() < 0.5
            p = Person()
            p.age = age
            p.sex = "male" if male else "female"
            p.nat = nat
            p.birth = REF - int(age * YEAR) - below(r, 365)
            p.first_th, p.first_en = pick_one(r, males if male else females)
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
                born_in = place.district_code if r() < 0.8 else pick_one(r, self.geo.district_codes)
                p.pid = self.ids.personal(_thai_first_digit(r(), p.birth), born_in)
            p.place, p.address, p.address_text, p.house_code = place, address, text, code
            # Deaths among the older members (never the head, who holds the house registration).
            if i > 0 and not foreign and age >= 30 and r() < 0.07:
                p.death = REF - below(r, max(1, min(int((age - 25) * YEAR), 3650)))
            members.append(p)
        if "deceased" in flags and all(m.alive for m in members[1:]):
            members[-1].death = REF - 30 - below(r, 2000)
        for p in members:
            p.card_voided = p.thai and p.age >= 7 and (not p.alive or r() < 0.015)
        if "voided" in flags:
            members[0].card_voided = True
        tail_json = f',"address":{dump_json(address)},"address_text":{dump_json(text)}}}'
        return Household(code, place, address, text, members, r() < 0.75, flags, tail_json)
