"""The hub's signed revocation list (linkage/revlist.py): what it says, and what it refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.checkpoint import Checkpoint, KeyWindow, MalformedCheckpoint, RetiredKey, open_checkpoint
from linkage.note import InvalidSignature, NoteSigner, NoValidSignature
from linkage.revlist import MalformedRevocationList, open_revocation_list, revocation_list_text, sign_revocation_list

ORIGIN = "linkage.test/audit-log"
ISSUED = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
ENTRY = {"printout_id": "0b3f1c9e-5d2a-4e8b-9c61-2f7a8d4e6b10", "revoked_at": "2026-12-03T07:59:00.123456Z",
         "reason": "พิมพ์ผิดฉบับ\nwrong copy"}


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner("linkage.test/log", Ed25519PrivateKey.generate())


def _note(signer: NoteSigner, origin: str = ORIGIN) -> str:
    return sign_revocation_list(revocation_list_text(origin, ISSUED, 42, [(41, ENTRY)]), [signer])


def test_a_list_says_who_was_revoked_when_and_why_on_one_line(signer: NoteSigner) -> None:
    found = open_revocation_list(_note(signer), [signer.verifier()], ORIGIN)
    assert (found.origin, found.issued_at, found.log_size) == (ORIGIN, ISSUED, 42)
    revoked = found.revoked[ENTRY["printout_id"]]
    # A newline in an officer's reason cannot add a line to the list.
    assert (revoked.log_index, revoked.revoked_at, revoked.reason) == (41, ENTRY["revoked_at"],
                                                                      "พิมพ์ผิดฉบับ wrong copy")


def test_a_list_edited_or_signed_by_another_key_is_refused(signer: NoteSigner) -> None:
    note = _note(signer)
    with pytest.raises(InvalidSignature):
        open_revocation_list(note.replace(" 41 ", " 40 "), [signer.verifier()], ORIGIN)
    other = NoteSigner("linkage.test/log", Ed25519PrivateKey.generate())
    with pytest.raises(NoValidSignature):
        open_revocation_list(_note(other), [signer.verifier()], ORIGIN)
    with pytest.raises(MalformedRevocationList, match=r"linkage\.other"):
        open_revocation_list(_note(signer, "linkage.other/log"), [signer.verifier()], ORIGIN)


def test_a_list_and_a_checkpoint_never_read_as_each_other(signer: NoteSigner) -> None:
    with pytest.raises(MalformedCheckpoint):
        open_checkpoint(_note(signer), [signer.verifier()], ORIGIN)
    checkpoint = sign_revocation_list(Checkpoint(ORIGIN, 42, bytes(32)).text(), [signer])
    with pytest.raises(MalformedRevocationList, match="not a revocation list"):
        open_revocation_list(checkpoint, [signer.verifier()], ORIGIN)


def test_a_key_retired_before_the_issue_time_does_not_count(signer: NoteSigner) -> None:
    retired = KeyWindow(signer.verifier(), retired_at=ISSUED - dt.timedelta(days=1))
    with pytest.raises(RetiredKey):
        open_revocation_list(_note(signer), [retired], ORIGIN)
    in_force = KeyWindow(signer.verifier(), not_before=ISSUED - dt.timedelta(days=1))
    assert open_revocation_list(_note(signer), [in_force], ORIGIN).log_size == 42
