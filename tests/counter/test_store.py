"""The counter's SQLite store: open cases survive a restart, every change is all or nothing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from consumers.counter.complaint_desk import ComplaintDesk
from consumers.counter.store import Case, CaseRow, CounterStore, DocSlot, new_case_id

PREFIX = "PHR-2569-"


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def _row(case: Case) -> CaseRow:
    return CaseRow(case.ref, case.service_id, case.opened_at[:10], 3, 2, sum(s.fetched for s in case.slots.values()),
                   1)


def _case(officer: str = "3100000000001", created: float | None = None) -> Case:
    return Case(id=new_case_id(), ref="", service_id="building-permit", subject_id="1101700230708",
                citizen_present=False, officer_id=officer, created=time.time() if created is None else created,
                opened_at="2026-05-09T10:00:00+07:00",
                slots={
                    "dopa.person": DocSlot("dopa.person", printout_id="p-1", jws="eyJh.eyJi.c2ln",
                                           payload={"data": {"first_name_th": "สมชาย", "address": {"moo": 3}},
                                                    "log_index": 7},
                                           issued_at="2026-05-09T03:00:00Z", log_index=7, seal_valid=True,
                                           seal_detail="[1] seal"),
                    "edu.degree": DocSlot("edu.degree", problem_reason="provider_unavailable",
                                          problem_message_th="ติดต่อไม่ได้", problem_message_en="unreachable",
                                          problem_retryable=True, problem_provider="edu"),
                })


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_an_open_case_comes_back_whole_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite"
    store = CounterStore(path)
    first = store.open_case(_case(), PREFIX, _row)
    second = store.open_case(_case(), PREFIX, _row)
    assert (first.ref, second.ref) == (f"{PREFIX}00001", f"{PREFIX}00002")
    store.close()

    again = CounterStore(path)
    loaded = again.case(first.id, first.officer_id)
    assert loaded == first  # the JWS, the payload (Thai, nested), the problem, the order of the slots
    assert list(loaded.slots) == ["dopa.person", "edu.degree"]
    assert [c.id for c in again.open_cases(first.officer_id)] == [second.id, first.id]
    assert again.case(first.id, "3100000000002") is None  # another officer's case is not theirs to see
    assert [r.case_ref for r in again.cases()] == [first.ref, second.ref]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_from_before_thai_and_english_were_two_fields_opens_with_its_cases(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite"
    store = CounterStore(path)
    case = store.open_case(_case(), PREFIX, _row)
    store.close()
    with sqlite3.connect(path) as db:  # back to the old layout: one problem_message, Thai / English
        db.execute("ALTER TABLE case_slot DROP COLUMN problem_message_en")
        db.execute("ALTER TABLE case_slot RENAME COLUMN problem_message_th TO problem_message")
        db.execute("UPDATE case_slot SET problem_message = 'ติดต่อไม่ได้ / unreachable' WHERE doc_type = 'edu.degree'")
    again = CounterStore(path)
    loaded = again.case(case.id, case.officer_id)
    assert loaded is not None and loaded.slots["dopa.person"] == case.slots["dopa.person"]
    old = loaded.slots["edu.degree"]
    assert (old.problem_reason, old.problem_message_th, old.problem_message_en) == (
        "provider_unavailable", "ติดต่อไม่ได้ / unreachable", "")  # kept whole, never split
    fresh = DocSlot("edu.degree", problem_reason="provider_unavailable", problem_message_th="ติดต่อไม่ได้",
                    problem_message_en="unreachable", problem_retryable=True, problem_provider="edu")
    assert again.update_case(case.id, [fresh], _row) == case


def test_a_change_that_fails_half_way_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite"
    store = CounterStore(path)

    def broken(case: Case) -> CaseRow:
        raise RuntimeError("the report row could not be made")

    with pytest.raises(RuntimeError):
        store.open_case(_case(), PREFIX, broken)
    assert (_count(path, "open_case"), _count(path, "case_slot"), _count(path, "counter_case")) == (0, 0, 0)
    # The number was not used up either.
    case = store.open_case(_case(), PREFIX, _row)
    assert case.ref == f"{PREFIX}00001"
    # An update that fails leaves the slot as it was.
    fixed = DocSlot("edu.degree", printout_id="p-2", jws="eyJh.eyJj.c2ln", payload={"data": {}}, seal_valid=True)
    with pytest.raises(RuntimeError):
        store.update_case(case.id, [fixed], broken, citizen_present=True)
    assert store.case(case.id, case.officer_id) == case


def test_retries_of_two_documents_at_once_both_land(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "counter.sqlite")
    case = store.open_case(_case(), PREFIX, _row)
    # Two requests loaded the same case; each writes back only the slot it fetched.
    person = DocSlot("dopa.person", problem_reason="provider_unavailable", problem_message_th="x",
                     problem_message_en="x")
    degree = DocSlot("edu.degree", printout_id="p-3", jws="eyJh.eyJr.c2ln", payload={"data": {"degree": "BA"}})
    store.update_case(case.id, [degree], _row, citizen_present=True)
    after = store.update_case(case.id, [person], _row)
    assert after is not None and after.citizen_present
    assert after.slots["edu.degree"] == degree and after.slots["dopa.person"] == person
    assert list(after.slots) == ["dopa.person", "edu.degree"]
    assert store.cases()[0].fetched == 1  # the report row follows the case as stored
    assert store.update_case("no-such-case", [degree], _row) is None


def test_cases_expire_and_take_their_printouts_with_them(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite"
    clock = Clock()
    store = CounterStore(path, case_ttl=3600, clock=clock)
    old = store.open_case(_case(created=clock.now), PREFIX, _row)
    clock.now += 3600
    assert store.case(old.id, old.officer_id) is None and store.open_cases(old.officer_id) == []
    fresh = store.open_case(_case(created=clock.now), PREFIX, _row)  # opening a case sweeps the expired ones
    assert _count(path, "open_case") == 1 and _count(path, "case_slot") == len(fresh.slots)
    assert len(store.cases()) == 2  # the reports keep counting it: no personal data there
    store.close()
    clock.now += 3600
    CounterStore(path, case_ttl=3600, clock=clock).close()  # and so does starting
    assert (_count(path, "open_case"), _count(path, "case_slot")) == (0, 0)


def test_complaints_are_kept_in_order(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite"
    store = CounterStore(path)
    first = store.add_complaint("2026-05-09T10:00:00+07:00", "กองช่าง", "building-permit", "สำเนา", "ขอสำเนา", "")
    second = store.add_complaint("2026-05-09T10:05:00+07:00", "กองคลัง", "other", "", "ขออีก", "0812345678")
    store.close()
    assert [c.id for c in ComplaintDesk(CounterStore(path)).all()] == [second, first]  # the newest first


def test_a_file_made_before_log_proofs_were_kept_gets_the_column(tmp_path: Path) -> None:
    """A counter.sqlite from before the log_proof column opens, keeps its cases, and stores proofs from then on."""
    path = tmp_path / "old.sqlite"
    store = CounterStore(path)
    case = store.open_case(_case(), PREFIX, _row)
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE case_slot DROP COLUMN log_proof")
    again = CounterStore(path)
    kept = again.case(case.id, case.officer_id)
    assert kept is not None and kept.slots["dopa.person"].log_proof == ""
    proved = DocSlot("dopa.person", printout_id="p-1", jws="eyJh.eyJi.c2ln", log_proof='{"log_index": 7}')
    again.update_case(case.id, [proved], _row)
    reread = again.case(case.id, case.officer_id)
    assert reread is not None and reread.slots["dopa.person"].log_proof == '{"log_index": 7}'
    again.close()
