"""Revocation that reaches offline verifiers, through the real stack: the hub's signed list is fetched and kept by
an online ``linkage verify``, then check 7 reads it offline — fresh, stale, forged — on a certified PDF and on a
photo of its page."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.auditor import TrustInputs, run_revoke, run_verify
from consumers.auditor.revocations import list_path
from consumers.counter.printout import CounterSigner, render_case_pdf, sign_pdf
from linkage.config import Home
from linkage.note import NoteSigner
from linkage.revlist import revocation_list_text, sign_revocation_list
from tests.auditor.test_online import hub_inputs
from tests.auditor.test_paper import OFFICER_NAME, POPPLER, Paper, _fetch_case
from tests.conftest import RunningStack
from tests.hub.test_fetch import MUNI
from tests.officers import card


@pytest.fixture(scope="module")
def paper(sandbox_home: Home, personas: list[dict[str, Any]]) -> Paper:
    """Three printouts of their own (another module revokes its own), certified as the counter does."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        case = pool.submit(asyncio.run, _fetch_case(sandbox_home, personas)).result()
    signer = CounterSigner.from_home(sandbox_home, MUNI)
    unsigned = render_case_pdf(case, signer)
    return Paper(sandbox_home, case, unsigned, sign_pdf(unsigned, signer, officer_name=OFFICER_NAME,
                                                        officer_id=case.officer_id, location=case.agency_title))


def _verify(home: Path, path: Path, state: Path, stack: RunningStack | None = None,
            **kw: Any) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_verify(path, TrustInputs(home=home), hub=hub_inputs(stack) if stack else None, state=state,
                      as_json=True, out=out, err=err, ocr=False, **kw)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, json.loads(out.getvalue()), err.getvalue()


def _sevens(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [next(c for c in d["checks"] if c["number"] == 7) for d in report["documents"]]


async def test_a_revoked_printout_is_reported_revoked_offline_once_the_list_is_fresh(
        stack: RunningStack, paper: Paper, tmp_path: Path) -> None:
    home, state = stack.home.root, tmp_path / "state.json"
    pdf = tmp_path / "case.pdf"
    pdf.write_bytes(paper.signed)
    kept = list_path(state)
    # Online: the hub's list is fetched, verified and kept beside the state file.
    code, report, _ = await asyncio.to_thread(_verify, home, pdf, state, stack)
    assert code == 0 and kept.exists()
    code, report, err = await asyncio.to_thread(_verify, home, pdf, state)
    assert (code, err) == (0, "") and all(c["ok"] is True and "not in the hub's revocation list" in c["detail"]
                                          for c in _sevens(report)), _sevens(report)

    # The officer revokes the second printout; an offline verifier knows once its list is fresh again.
    out = io.StringIO()
    assert await asyncio.to_thread(run_revoke, TrustInputs(home=home), hub_inputs(stack, MUNI), paper.ids[1],
                                   reason="พิมพ์ผิดฉบับ / wrong copy", card=card(stack.home, MUNI, paper.case.officer_id),
                                   out=out) == 0
    await asyncio.to_thread(_verify, home, pdf, state, stack)
    code, report, err = await asyncio.to_thread(_verify, home, pdf, state)
    assert code == 1 and report["failed"] == [7] and err == ""
    assert [c["ok"] for c in _sevens(report)] == [True, False, True]
    assert "ถูกเพิกถอน" in _sevens(report)[1]["detail"] and "พิมพ์ผิดฉบับ" in _sevens(report)[1]["detail"]
    assert "old" in _sevens(report)[1]["detail"]

    # The photo of the page says the same: each page carries the QR codes naming every printout.
    tool = shutil.which("pdftoppm")
    if tool is None:
        pytest.skip(POPPLER)
    await asyncio.to_thread(subprocess.run, [tool, "-r", "150", "-png", "-singlefile", str(pdf),
                                             str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    code, report, err = await asyncio.to_thread(_verify, home, tmp_path / "page.png", state)
    assert code == 1 and [c["ok"] for c in _sevens(report)] == [True, False, True], report

    # Stale: past --revocation-max-age a warning, and "not revoked" is no longer vouched for; revoked stays revoked.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    code, report, err = await asyncio.to_thread(_verify, home, pdf, state, now=later,
                                                revocation_max_age=dt.timedelta(hours=1))
    assert "รายการเพิกถอนเก่าเกินกำหนด" in err and "older than the allowed 1.0 h" in err
    assert [c["ok"] for c in _sevens(report)] == [None, False, None] and code == 1

    # Forged: the revocation line taken out of the kept list. Refused, said in Thai and English; revocation unknown.
    genuine = kept.read_text(encoding="utf-8")
    kept.write_text("\n".join(line for line in genuine.split("\n") if not line.startswith(paper.ids[1])),
                    encoding="utf-8")
    code, report, err = await asyncio.to_thread(_verify, home, pdf, state)
    assert "รายการเพิกถอนที่เก็บไว้ใช้ไม่ได้" in err and "not usable" in err
    assert [c["ok"] for c in _sevens(report)] == [None, None, None] and code == 0
    # Signed by a key that is not the log's.
    origin = genuine.split("\n", 1)[0]
    stranger = NoteSigner(stack.home.log_note_vkey.read_text().split("+")[0], Ed25519PrivateKey.generate())
    kept.write_text(sign_revocation_list(revocation_list_text(origin, dt.datetime.now(dt.UTC), 1, []), [stranger]),
                    encoding="utf-8")
    code, report, err = await asyncio.to_thread(_verify, home, pdf, state)
    assert "no_valid_signature" in err or "signature" in err, err
    assert all(c["ok"] is None for c in _sevens(report))


def test_a_bad_max_age_is_refused_in_thai_and_english(paper: Paper, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from linkage.cli.main import main

    pdf = tmp_path / "case.pdf"
    pdf.write_bytes(paper.signed)
    assert main(["verify", "--offline", "--home", str(paper.home.root), "--revocation-max-age", "soon",
                 str(pdf)]) == 2
    err = capsys.readouterr().err
    assert "อายุไม่ถูกต้อง" in err and "not an age" in err
