"""Citizen's manuals: the shipped ones load; a bad file is refused at start, naming file, line and problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from consumers.counter.app import CounterSettings, create_app
from consumers.counter.errors import ManualError
from consumers.counter.manuals import DEFAULT_FOLDER, DOC_TYPE_KINDS, load_manuals
from linkage.config import Home
from linkage.ids import IdKind

GOOD = (DEFAULT_FOLDER / "elderly-allowance.toml").read_text(encoding="utf-8")


def _line(text: str, needle: str) -> int:
    """The line where needle (which may span lines) begins."""
    return text[:text.index(needle)].count("\n") + 1


def test_shipped_manuals_load_with_all_eight_parts() -> None:
    manuals = load_manuals(DEFAULT_FOLDER)
    assert len(manuals) >= 6
    for m in manuals.values():
        assert m.name_th and m.agency and m.criteria and m.channels and m.steps and m.documents and m.fees
        assert m.complaints and m.total_time and m.purpose
        for d in m.documents:
            assert d.doc_type is None or DOC_TYPE_KINDS[d.doc_type] is m.subject
    used = {t for m in manuals.values() for t in m.linked_doc_types}
    assert used == set(DOC_TYPE_KINDS)  # every linkage type replaces a copy somewhere
    assert any(m.subject is IdKind.JURISTIC for m in manuals.values())
    assert max(len(m.linked_doc_types) for m in manuals.values()) == 5


# (what is wrong, how to break the good file, the text of the line the error must name, a word of the problem)
BROKEN = [
    ("toml_syntax", lambda t: t.replace('unit = "กองสวัสดิการสังคม"', 'unit = "กองสวัสดิการสังคม', 1),
     'unit = "กองสวัสดิการสังคม', "TOML"),
    ("unknown_doc_type", lambda t: t.replace('doc_type = "dopa.house"', 'doc_type = "dopa.hous"'),
     'doc_type = "dopa.hous"', "dopa.hous"),
    ("wrong_kind", lambda t: t.replace('doc_type = "dopa.house"', 'doc_type = "dbd.juristic"'),
     'doc_type = "dbd.juristic"', "juristic"),
    ("neither_linked_nor_brought", lambda t: t.replace('doc_type = "dopa.house"\n', ''),
     '[[documents]]\nname = "ทะเบียนบ้าน"', "brings"),
    ("unknown_key", lambda t: t.replace('hours = "วันจันทร์', 'hourz = "วันจันทร์', 1), "hourz", "hourz"),
    ("missing_part_fees", lambda t: t.split("[[fees]]")[0] + "[[complaints]]" + t.split("[[complaints]]", 1)[1],
     None, "fees"),
    ("bad_subject", lambda t: t.replace('subject = "citizen"', 'subject = "company"'), 'subject = "company"',
     "subject"),
]


@pytest.mark.parametrize(("case", "mutate", "needle", "word"), BROKEN, ids=[b[0] for b in BROKEN])
def test_bad_manual_names_file_line_and_problem(tmp_path: Path, case: str, mutate: object, needle: str | None,
                                                word: str) -> None:
    folder = tmp_path / "manuals"
    shutil.copytree(DEFAULT_FOLDER, folder)
    bad = folder / "elderly-allowance.toml"
    assert callable(mutate)
    text = mutate(GOOD)
    assert text != GOOD, case
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ManualError) as info:
        load_manuals(folder)
    err = info.value
    assert err.path == bad and str(bad) in str(err)
    assert word in err.problem
    expected_line = _line(text, needle) if needle else 1
    assert err.line == expected_line, str(err)
    assert f"{bad}:{expected_line}:" in str(err)


def test_app_refuses_to_start_with_a_bad_manual(tmp_path: Path) -> None:
    folder = tmp_path / "manuals"
    folder.mkdir()
    (folder / "broken.toml").write_text(GOOD.replace('doc_type = "dopa.card"', 'doc_type = "dopa.cards"'),
                                        encoding="utf-8")
    settings = CounterSettings(home=Home(tmp_path / "no-sandbox-needed"), hub_address="127.0.0.1:1", manuals=folder)
    with pytest.raises(ManualError, match=r"broken\.toml:\d+: .*dopa\.cards"):
        create_app(settings)


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManualError, match="no manual files"):
        load_manuals(tmp_path)
