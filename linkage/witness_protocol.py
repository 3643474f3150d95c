"""The C2SP tlog-witness wire format (https://c2sp.org/tlog-witness), shared by the witness and the hub. Pure.

    POST <prefix>/add-checkpoint
        old <size the client believes the witness last cosigned>\\n
        <base64 hash>\\n ...          the consistency proof from that size to the checkpoint's (at most 63)
        \\n
        <the checkpoint's signed note>

    200  one or more cosignature lines (``linkage.cosignature``)
    400  the body is malformed, or old size > checkpoint size
    403  no signature by a key the witness trusts for the origin, or one that does not verify
    404  the witness knows no log of that origin
    409  old size is not the size the witness last cosigned: the body is that size, ``text/x.tlog.size``
    422  the proof does not verify, a proof from size 0, equal sizes with another root, or a size-0
         checkpoint whose root is not the empty tree's

    GET <prefix>/<hex SHA-256 of the origin>/checkpoint
        the newest checkpoint the witness cosigned, with the log's signature and its own (404: none)

``parse_request`` is a trust boundary for the witness: it returns an ``AddCheckpoint`` or raises
``MalformedRequest`` (code ``malformed_request``) and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from linkage.note import canonical_b64decode

__all__ = [
    "ADD_CHECKPOINT",
    "MAX_BODY",
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "MalformedRequest",
    "checkpoint_path",
    "encode_request",
    "origin_hash",
    "parse_request",
    "parse_size",
]

ADD_CHECKPOINT = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The content type of a 409's body: the witness's size, in decimal, and a newline."""
MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024
"""Bytes of a request body at most: 63 proof lines and a checkpoint with 100 signature lines fit easily."""

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_HASH_SIZE = 32


class MalformedRequest(Exception):
    """An add-checkpoint body that is not ``old`` line, proof lines, blank line, note (HTTP 400)."""

    code = "malformed_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """One add-checkpoint request: the old size, the consistency proof from it, the checkpoint's signed note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def encode_request(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body of an add-checkpoint request."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode()


def parse_request(body: bytes) -> AddCheckpoint:
    """The request in ``body``; raises ``MalformedRequest`` for anything else (the note itself is not checked)."""
    if len(body) > MAX_BODY:
        raise MalformedRequest(f"the body is longer than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest("the body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise MalformedRequest("no blank line between the old size and proof lines and the checkpoint")
    first, *hashes = head.split("\n")
    word, _, size = first.partition(" ")
    if word != "old" or not _SIZE.fullmatch(size) or int(size) >= 2**64:
        raise MalformedRequest(f"the first line must be 'old <size>' in decimal without leading zeros, got "
                               f"{first[:40]!r}")
    if len(hashes) > MAX_PROOF_LINES:
        raise MalformedRequest(f"{len(hashes)} proof lines, more than {MAX_PROOF_LINES}")
    proof = []
    for line in hashes:
        decoded = canonical_b64decode(line)
        if decoded is None or len(decoded) != _HASH_SIZE:
            raise MalformedRequest(f"a proof line must be the base64 of a {_HASH_SIZE}-byte hash: {line[:60]!r}")
        proof.append(decoded)
    return AddCheckpoint(int(size), tuple(proof), note)


def parse_size(body: bytes) -> int | None:
    """The size in a 409's body (decimal and a newline), or None if it holds none."""
    text = body.decode("ascii", "replace")
    if not text.endswith("\n") or not _SIZE.fullmatch(text[:-1]):
        return None
    return int(text[:-1])


def origin_hash(origin: str) -> str:
    """Lower-case hex SHA-256 of a log's origin: how the monitoring path names the log."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def checkpoint_path(origin: str) -> str:
    """The monitoring path of the newest checkpoint a witness cosigned of ``origin``."""
    return f"/{origin_hash(origin)}/checkpoint"
