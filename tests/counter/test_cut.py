"""The cut measured from cases: a hand-computed expectation on three cases, and a replayed month whose cut the
report computes in SQL agrees with the same cut computed here from the replayed cases themselves."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from xml.etree import ElementTree

import pytest

from consumers.counter.cut import measure, office_cut, verdict
from consumers.counter.display import BANGKOK
from consumers.counter.errors import ManualError
from consumers.counter.manuals import DEFAULT_FOLDER, load_manual, load_manuals
from consumers.counter.replay import SyntheticCase, month, write
from consumers.counter.store import CounterStore
from tests.counter.conftest import Counter

MANUALS = load_manuals(DEFAULT_FOLDER)
DAY = 86400.0
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=BANGKOK).timestamp()  # Monday 2 November 2026


def test_the_cut_from_three_cases_by_hand(tmp_path: Path) -> None:
    # elderly-allowance: before 5 documents, 6 steps, 42 days; 4 documents required, 2 of them linked.
    store = CounterStore(tmp_path / "c.sqlite")
    cases = [
        SyntheticCase("SIM-2569-000001", "elderly-allowance", T0, 4, 2, 2,
                      (("under_review", T0 + 600), ("approved", T0 + 9 * DAY), ("completed", T0 + 10 * DAY))),
        SyntheticCase("SIM-2569-000002", "elderly-allowance", T0 + 3600, 4, 2, 1,
                      (("under_review", T0 + 4000), ("waiting_citizen", T0 + DAY), ("under_review", T0 + 3 * DAY),
                       ("approved", T0 + 19 * DAY), ("completed", T0 + 3600 + 20 * DAY))),
        SyntheticCase("SIM-2569-000003", "elderly-allowance", T0 + 7200, 4, 2, 2,
                      (("under_review", T0 + 8000), ("approved", T0 + 5 * DAY))),
        # Outside the period: not counted.
        SyntheticCase("SIM-2569-000004", "street-vending", T0 + 40 * DAY, 4, 2, 0, (("under_review", T0 + 41 * DAY),)),
    ]
    write(store, cases, "phrae-municipality", "3100600213459")
    [cut] = measure(store, MANUALS, "2026-11-01", "2026-11-30")
    # Documents still brought: 2, 3, 2 → 7/3 a case; 1 - (7/3)/5 = 53.3 %.
    # Steps on the timeline: 4, 6, 3 → 13/3; 1 - (13/3)/6 = 27.8 %.
    # Days to completion (completed cases only): 10 and 20 → 15; 1 - 15/42 = 64.3 %.
    assert (cut.service_id, cut.cases, cut.completed) == ("elderly-allowance", 3, 2)
    assert cut.cut("documents") == pytest.approx(53.333, abs=0.001)
    assert cut.cut("steps") == pytest.approx(27.778, abs=0.001)
    assert cut.cut("days") == pytest.approx(64.286, abs=0.001)
    assert [verdict(cut.cut(m)) for m in ("documents", "steps", "days")] == ["above", "below", "above"]
    office = office_cut([cut])
    assert office is not None and office.cut("days") == pytest.approx(cut.cut("days"))
    assert measure(store, MANUALS, "2026-12-01", "2026-12-31")[0].service_id == "street-vending"


def test_a_replayed_month_measures_what_its_cases_say(tmp_path: Path) -> None:
    cases = month(MANUALS, 2026, 11, seed=7, per_day=3)
    assert cases == month(MANUALS, 2026, 11, seed=7, per_day=3)  # one seed, one month
    assert {c.day for c in cases} <= {f"2026-11-{d:02d}" for d in range(1, 31)}
    assert all(dt.date.fromisoformat(c.day).weekday() < 5 for c in cases)
    store = CounterStore(tmp_path / "c.sqlite")
    write(store, cases, "phrae-municipality", "3100600213459")
    cuts = {c.service_id: c for c in measure(store, MANUALS, "2026-11-01", "2026-11-30")}
    assert set(cuts) == {c.service_id for c in cases}
    for service, cut in cuts.items():
        mine = [c for c in cases if c.service_id == service]
        before = MANUALS[service].before
        assert before is not None
        docs = sum(c.required - c.fetched for c in mine) / len(mine)
        steps = sum(1 + len(c.moves) for c in mine) / len(mine)
        done = [c.moves[-1][1] - c.arrived for c in mine if c.moves[-1][0] == "completed"]
        assert cut.cases == len(mine) and cut.completed == len(done)
        assert cut.cut("documents") == pytest.approx(100 * (1 - docs / before.documents))
        assert cut.cut("steps") == pytest.approx(100 * (1 - steps / before.steps))
        assert cut.cut("days") == pytest.approx(100 * (1 - (sum(done) / len(done) / DAY) / before.days))


async def test_the_report_page_chart_and_csv(counter: Counter) -> None:
    store = CounterStore(counter.settings.database or Path())
    cases = month(MANUALS, 2026, 11, seed=3, per_day=2)
    write(store, cases, "phrae-municipality", "3100600213459")
    expected = {c.service_id: c for c in measure(store, MANUALS, "2026-11-01", "2026-11-30")}
    store.close()
    await counter.sign_in()
    c = counter.client
    page = await (await c.get("/reports/cut", params={"since": "2026-11-01", "until": "2026-11-30"})).text()
    assert "1 พฤศจิกายน 2569" in page and "30 พฤศจิกายน 2569" in page  # the period in the Buddhist era
    assert "ทั้งสำนักงาน" in page and 'data-testid="cut-chart"' in page
    resp = await c.get("/reports/cut.svg", params={"since": "2026-11-01", "until": "2026-11-30"})
    assert resp.content_type == "image/svg+xml"
    body = await resp.read()
    assert ElementTree.fromstring(body).tag.endswith("svg")  # well-formed SVG
    # The text is drawn as Sarabun's outlines; matplotlib writes each string beside its paths as a comment.
    assert "<!-- เป้าหมาย 30-50 % -->" in body.decode() and "เบี้ยยังชีพผู้สูงอายุ" in body.decode()
    resp = await c.get("/reports/cut.csv", params={"since": "2026-11-01", "until": "2026-11-30"})
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert {r["service"] for r in rows} == {*expected, "*"}
    for r in rows:
        if r["service"] != "*":
            cut = expected[r["service"]]
            assert int(r["cases"]) == cut.cases
            assert float(r["days_cut_percent"]) == pytest.approx(cut.cut("days"), abs=0.05)
            assert r["documents_target_30_50"] == verdict(cut.cut("documents"))
    for query, th in (({"since": "2026-13-01"}, "ไม่ถูกต้อง"), ({"since": "2026-12-01", "until": "2026-11-01"},
                                                                 "ต้องไม่อยู่หลัง")):
        resp = await c.get("/reports/cut", params=query)
        assert resp.status == 400 and th in await resp.text()


@pytest.mark.parametrize("before", ["documents = 5\nsteps = 6", "documents = 0\nsteps = 6\ndays = 42",
                                    "documents = 5\nsteps = 6\ndays = \"42\"", "documents = 5\nsteps = true\ndays = 4"])
def test_a_bad_before_stops_the_manual_with_its_line(tmp_path: Path, before: str) -> None:
    text = (DEFAULT_FOLDER / "elderly-allowance.toml").read_text(encoding="utf-8")
    path = tmp_path / "elderly-allowance.toml"
    path.write_text(text.split("[before]")[0] + "[before]\n" + before + "\n", encoding="utf-8")
    with pytest.raises(ManualError) as info:
        load_manual(path)
    assert info.value.line == text.split("[before]")[0].count("\n") + 1 and "[before]" in info.value.problem
