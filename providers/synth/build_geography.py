"""Build ``geography.json`` (provinces, districts, sub-districts, postal codes) from thai-address-database.

Source: the npm package ``thai-address-database`` 0.0.30 (ISC licence, © its authors,
https://github.com/Sellsuki/thai-address-database), file ``database/backup/geodb.json``:
the same data as earthchie/jquery.Thailand.js 1.5.1, with DOPA area codes. Get it with
``npm pack thai-address-database`` and run::

    python -m providers.synth.build_geography thai-address-database-0.0.30.tgz

(or give the path of an unpacked ``geodb.json``). The output, vendored beside this
script, is a plain JSON list sorted by code::

    [[province_code, province_th, province_en,
      [[district_code, district_th, [[sub_district_th, postal_code], ...]], ...]], ...]

Codes are DOPA's: province 2 digits, district 4 (the first four digits of personal
IDs and house codes registered there). Sub-district codes are left out: the source
has duplicates and gaps. A sub-district with more than one postal code keeps the
first one the source lists.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

__all__ = ["PROVINCES_EN", "build", "main"]

OUTPUT = Path(__file__).with_name("geography.json")

# English names (Royal Thai General System, as the provinces spell themselves), by DOPA province code.
PROVINCES_EN = {
    10: "Bangkok", 11: "Samut Prakan", 12: "Nonthaburi", 13: "Pathum Thani", 14: "Phra Nakhon Si Ayutthaya",
    15: "Ang Thong", 16: "Lop Buri", 17: "Sing Buri", 18: "Chai Nat", 19: "Saraburi", 20: "Chon Buri",
    21: "Rayong", 22: "Chanthaburi", 23: "Trat", 24: "Chachoengsao", 25: "Prachin Buri", 26: "Nakhon Nayok",
    27: "Sa Kaeo", 30: "Nakhon Ratchasima", 31: "Buri Ram", 32: "Surin", 33: "Si Sa Ket", 34: "Ubon Ratchathani",
    35: "Yasothon", 36: "Chaiyaphum", 37: "Amnat Charoen", 38: "Bueng Kan", 39: "Nong Bua Lam Phu",
    40: "Khon Kaen", 41: "Udon Thani", 42: "Loei", 43: "Nong Khai", 44: "Maha Sarakham", 45: "Roi Et",
    46: "Kalasin", 47: "Sakon Nakhon", 48: "Nakhon Phanom", 49: "Mukdahan", 50: "Chiang Mai", 51: "Lamphun",
    52: "Lampang", 53: "Uttaradit", 54: "Phrae", 55: "Nan", 56: "Phayao", 57: "Chiang Rai", 58: "Mae Hong Son",
    60: "Nakhon Sawan", 61: "Uthai Thani", 62: "Kamphaeng Phet", 63: "Tak", 64: "Sukhothai", 65: "Phitsanulok",
    66: "Phichit", 67: "Phetchabun", 70: "Ratchaburi", 71: "Kanchanaburi", 72: "Suphan Buri",
    73: "Nakhon Pathom", 74: "Samut Sakhon", 75: "Samut Songkhram", 76: "Phetchaburi",
    77: "Prachuap Khiri Khan", 80: "Nakhon Si Thammarat", 81: "Krabi", 82: "Phangnga", 83: "Phuket",
    84: "Surat Thani", 85: "Ranong", 86: "Chumphon", 90: "Songkhla", 91: "Satun", 92: "Trang", 93: "Phatthalung",
    94: "Pattani", 95: "Yala", 96: "Narathiwat",
}


# DOPA's district codes of Bueng Kan, which the source lacks.
_BUENG_KAN = {"เมืองบึงกาฬ": 3801, "เซกา": 3802, "โซ่พิสัย": 3803, "พรเจริญ": 3804, "ศรีวิไล": 3805,
              "บึงโขงหลง": 3806, "ปากคาด": 3807, "บุ่งคล้า": 3808}


def _load(source: Path) -> dict[str, Any]:
    if source.suffix in {".tgz", ".gz"}:
        with tarfile.open(source) as tar:
            member = tar.extractfile("package/database/backup/geodb.json")
            if member is None:
                raise SystemExit(f"{source}: no package/database/backup/geodb.json inside")
            data: dict[str, Any] = json.load(member)
            return data
    loaded: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return loaded


def build(source: Path) -> list[Any]:
    """The compact geography from the package (tgz) or its geodb.json; raises SystemExit on a bad source."""
    raw = _load(source)
    lookup = raw["lookup"].split("|")
    words = raw["words"].split("|")

    # The source compresses names: an int indexes `lookup`, and each ASCII letter stands for a common word.
    def text(value: str | int) -> str:
        s = lookup[value] if isinstance(value, int) else value
        return re.sub(r"[A-Za-z]", lambda m: words[ord(m[0]) - 65 if m[0] < "a" else 26 + ord(m[0]) - 97], s)

    provinces = []
    for p_name, p_code, districts in raw["data"]:
        # The source numbers Bueng Kan 97; DOPA's code is 38.
        code = 38 if int(p_code) == 97 else int(p_code)
        out_districts = []
        # Bueng Kan (province 38, split from Nong Khai in 2011) comes without district codes,
        # and a few newer districts too: take DOPA's, or number them after the province's known ones.
        next_district = max([int(d[1]) for d in districts if str(d[1]).isdigit()], default=code * 100) + 1
        for d_name, d_code, subs in sorted(districts, key=lambda d: text(d[0])):
            if str(d_code).isdigit():
                district = int(d_code)
            else:
                district, next_district = _BUENG_KAN.get(text(d_name), next_district), next_district + 1
            out_subs = []
            for s_name, _, postal in subs:
                first = str(postal[0] if isinstance(postal, list) else postal)
                # The source also lists some uninhabited islands with no postal code.
                if not first.isdigit():
                    continue
                out_subs.append([text(s_name), f"{int(first):05d}"])
            if out_subs:
                out_districts.append([district, text(d_name), sorted(out_subs)])
        if out_districts:
            provinces.append([code, text(p_name), PROVINCES_EN[code], sorted(out_districts)])
    provinces.sort()
    if len(provinces) != 77:
        raise SystemExit(f"{source}: expected 77 provinces, found {len(provinces)}")
    return provinces


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    provinces = build(Path(args[0]))
    text = json.dumps(provinces, ensure_ascii=False, separators=(",", ":"))
    # One province per line keeps diffs of the vendored file readable.
    OUTPUT.write_text("[\n" + ",\n".join(json.dumps(p, ensure_ascii=False, separators=(",", ":"))
                                         for p in provinces) + "\n]\n", encoding="utf-8")
    subs = sum(len(d[2]) for p in provinces for d in p[3])
    print(f"{OUTPUT}: {len(provinces)} provinces, {sum(len(p[3]) for p in provinces)} districts,"
          f" {subs} sub-districts, {len(text)} characters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
