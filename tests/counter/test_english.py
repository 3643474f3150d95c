"""Two languages (issue 14, item 4): every manual shipped has its English text, part for part; a missing or
untranslated part is refused at start; the English manual page shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumers.counter.english import english_manual, load_english
from consumers.counter.errors import ManualError
from consumers.counter.manuals import DEFAULT_FOLDER, load_manuals
from tests.counter.conftest import Counter

EN = DEFAULT_FOLDER / "en"
THAI = re.compile("[\u0e00-\u0e7f]")


def test_every_manual_has_every_part_in_english() -> None:
    manuals = load_manuals(DEFAULT_FOLDER)
    english = load_english(EN, manuals)
    assert sorted(english) == sorted(manuals)
    for service, en in english.items():
        th = manuals[service]
        texts = [en.name_en, en.agency, en.unit, en.law, en.total_time, *en.criteria,
                 *(t for c in en.channels for t in (c.place, c.hours)),
                 *(t for s in en.steps for t in (s.text, s.duration, s.unit)),
                 *(t for d in en.documents for t in (d.name, d.note) if t),
                 *(t for f in en.fees for t in (f.item, f.amount)),
                 *(t for c in en.complaints for t in (c.channel, c.contact))]
        assert all(t.strip() and not THAI.search(t) for t in texts), service
        # Row for row what the Thai manual says: the same documents fetched or brought, in the same order.
        assert [(d.doc_type, d.copies, bool(d.note)) for d in en.documents] == [
            (d.doc_type, d.copies, bool(d.note)) for d in th.documents]
        assert (len(en.criteria), len(en.steps), len(en.fees), len(en.complaints)) == (
            len(th.criteria), len(th.steps), len(th.fees), len(th.complaints))


@pytest.mark.parametrize(("change", "problem"), [
    (('  "Thai nationality",\n', ''), "has 4 criteria, the Thai manual 5"),
    (('note = "The elderly person must come in person"\n', ''), "#1 must have a name, and a note"),
    (('unit = "Social Welfare Division"\n', 'unit = "กองสวัสดิการสังคม"\n'), "has Thai text in agency.unit"),
    (('contact = "/complaints/new"', 'contact = "/elsewhere"'), "must be the same link, /complaints/new"),
    (('[[fees]]\nitem = "No fee"\namount = "0 baht"\n', ''), "has 0 [[fees]], the Thai manual 1"),
    (('total_time = ', 'total_tiem = '), "unknown parts: total_tiem"),
])
def test_a_missing_or_untranslated_part_is_refused(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    text = (EN / "elderly-allowance.toml").read_text(encoding="utf-8")
    assert change[0] in text
    bad = tmp_path / "elderly-allowance.toml"
    bad.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ManualError) as err:
        english_manual(bad, load_manuals(DEFAULT_FOLDER)["elderly-allowance"])
    assert problem in err.value.problem


async def test_the_manual_page_in_english_is_english_throughout(counter: Counter) -> None:
    await counter.client.get("/lang/en?next=/")
    html = await (await counter.client.get("/manuals/elderly-allowance")).text()
    main = html.split('<main', 1)[1].split("</main>", 1)[0]
    assert "Aged sixty or over" in main and "Social Welfare Division" in main and "No fee" in main
    assert not THAI.search(main.split("<h2", 1)[1]), "Thai left in the English manual's parts"
    listing = (await (await counter.client.get("/manuals")).text()).split("<main", 1)[1].split("</main>", 1)[0]
    assert "Social Welfare Division" in listing and not THAI.search(listing), "Thai left in the English list"
    await counter.client.get("/lang/th?next=/")
    html = await (await counter.client.get("/manuals/elderly-allowance")).text()
    assert "มีอายุหกสิบปีบริบูรณ์ขึ้นไป" in html and "Aged sixty" not in html
