"""The hub's side of C2SP tlog-witness: each new checkpoint goes to the witnesses, off the request path.

``WitnessRelay`` is a task of the hub's server (``build_server`` starts it when ``[witnesses.*]`` are
configured). It works in rounds, on the hub that integrates the log (the one that signs checkpoints):

    1  wait until the tree changes (a group commit), or, while a witness still owes a cosignature of the
       newest checkpoint, for ``RETRY_S`` seconds; and at least ``GAP_S`` since the last round began, so that
       under load the checkpoints of many group commits go to the witnesses as one (the newest)
    2  send the newest checkpoint to every witness at once: ``old`` is the size the witness last
       acknowledged (0 until it says; a 409 tells its size and the request is made again once), with the
       consistency proof from that size
    3  keep each returned cosignature line that is the witness's own and verifies (``linkage.cosignature``)
    4  store the checkpoint's note with the cosignatures gathered for it (``ExchangeLog.save_cosigned``): it
       is what GetCheckpoint serves (``witnessed``: the newest such note)

All witnesses get the same checkpoint in a round, so their cosignatures meet on one size: what a client
asking for a quorum needs. No printout waits for a witness: a witness that is down, slow (``TIMEOUT_S``) or
refusing is logged once until it answers again, and the hub goes on issuing; its cosignature comes with a
later round. Nothing here raises into the hub; ``close`` stops the task.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from linkage.checkpoint import SIGNATURE_PREFIX, CheckpointError
from linkage.config import Settings
from linkage.cosignature import WitnessKey, parse_witness_key
from linkage.hub.log import ExchangeLog, SignedTree
from linkage.note import split_note
from linkage.witness_protocol import ADD_CHECKPOINT, encode_request, parse_size

__all__ = ["GAP_S", "RETRY_S", "TIMEOUT_S", "WitnessEndpoint", "WitnessRelay", "witness_endpoints"]

_log = logging.getLogger("linkage.hub.witnesses")

TIMEOUT_S = 3.0
"""How long one add-checkpoint request may take before the witness counts as down for this round."""
RETRY_S = 1.0
"""How soon a witness that did not cosign the newest checkpoint is asked again, even if the log is idle."""
IDLE_S = 30.0
GAP_S = 0.1
"""The least time from one round's start to the next one's: at most ten rounds a second, however busy the log."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the hub submits to: its name in linkage.toml, its submission prefix, its key."""

    name: str
    url: str
    key: WitnessKey


def witness_endpoints(settings: Settings) -> list[WitnessEndpoint]:
    """The configured witnesses whose key (DIR/pki/witnesses/NAME.vkey) can be read; the others are logged."""
    out = []
    for name, witness in settings.witnesses.items():
        path = settings.home.witness_vkey(name)
        try:
            key = parse_witness_key(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, CheckpointError) as exc:
            _log.error("witness %s left out: cannot read its verifier key %s (%s)", name, path, exc)
            continue
        out.append(WitnessEndpoint(name, witness.url, key))
    return out


def _plain(note: str, witnesses: Sequence[WitnessEndpoint]) -> str:
    """``note`` without the signature lines of these witnesses: the log's own signed note."""
    text, lines = split_note(note)
    ours = {(w.key.name, w.key.key_id) for w in witnesses}
    kept = [f"{SIGNATURE_PREFIX}{name} {base64.b64encode(kid + sig).decode('ascii')}\n"
            for name, kid, sig in lines if (name, kid) not in ours]
    return text + "\n" + "".join(kept)


class WitnessRelay:
    """Sends each new checkpoint of ``log`` to ``witnesses`` and keeps their cosignatures. ``start``, ``close``."""

    def __init__(self, log: ExchangeLog, witnesses: Sequence[WitnessEndpoint], *, timeout_s: float = TIMEOUT_S,
                 retry_s: float = RETRY_S) -> None:
        self._log = log
        self.witnesses = tuple(witnesses)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retry = retry_s
        self.acked: dict[str, int] = {}  # the size each witness last said it cosigned
        self._size = -1  # the size whose cosignatures are being gathered
        self._base = ""  # its note as the log signed it
        self._lines: dict[str, str] = {}  # witness name -> its cosignature line of that size
        self._down: dict[str, str] = {}  # witness name -> why it did not cosign (logged once)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._task = asyncio.create_task(self._run(), name="witness-relay")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            size = self._log.size
            complete = False
            if self._log.leading:
                try:
                    complete = await self.round()
                except Exception:  # a bug here must not stop the relay, nor the hub
                    _log.exception("witness round failed")
            # 1. Wait for a new checkpoint; sooner while a witness still owes this one.
            await self._log.changed(size, IDLE_S if complete else self._retry)
            await asyncio.sleep(max(0.0, began + GAP_S - loop.time()))

    async def round(self) -> bool:
        """One round over the newest checkpoint; True when every witness has cosigned it."""
        signed = self._log.latest
        size = signed.checkpoint.size
        if size != self._size:
            self._size, self._base, self._lines = size, _plain(signed.note, self.witnesses), {}
        owing = [w for w in self.witnesses if w.name not in self._lines]
        # 2-3. Every witness that has not cosigned this size yet, at once.
        answers = await asyncio.gather(*(self._submit(w, signed) for w in owing))
        fresh = {w.name: line for w, line in zip(owing, answers, strict=True) if line}
        if fresh:
            self._lines.update(fresh)
            # 4. The note with every cosignature gathered for this size, in the configured order.
            note = self._base + "".join(self._lines[w.name] for w in self.witnesses if w.name in self._lines)
            await self._log.save_cosigned(size, note)
        return len(self._lines) == len(self.witnesses)

    async def _submit(self, witness: WitnessEndpoint, signed: SignedTree) -> str | None:
        """The witness's verified cosignature line of ``signed``, or None (and why, logged once)."""
        assert self._session is not None
        size = signed.checkpoint.size
        old = self.acked.get(witness.name, 0)
        for _ in range(2):
            if old > size:
                return self._failed(witness, f"it has cosigned size {old} of this log, larger than ours ({size}):"
                                             " another history under the same origin?")
            proof = await self._log.consistency_proof(old, size) if 0 < old < size else []
            try:
                async with self._session.post(witness.url + ADD_CHECKPOINT,
                                              data=encode_request(old, proof, self._base)) as response:
                    status, body = response.status, await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                return self._failed(witness, f"unreachable at {witness.url} ({type(exc).__name__}: {exc})")
            if status == 409 and (theirs := parse_size(body)) is not None and theirs != old:
                old = self.acked[witness.name] = theirs  # its size, then once more from there
                continue
            if status != 200:
                said = body[:300].decode("utf-8", "replace").strip()
                return self._failed(witness, f"refused size {size} from old size {old}: HTTP {status} {said}")
            line = self._own_line(witness, body)
            if line is None:
                return self._failed(witness, f"answered size {size} with no valid cosignature of its own")
            self.acked[witness.name] = size
            if self._down.pop(witness.name, None) is not None:
                _log.warning("witness %s cosigns again (size %d)", witness.name, size)
            return line
        return self._failed(witness, f"its size changed twice while size {size} was sent")

    def _own_line(self, witness: WitnessEndpoint, body: bytes) -> str | None:
        text, _ = split_note(self._base)
        try:
            _, lines = split_note(text + "\n" + body.decode("utf-8"))
        except (UnicodeDecodeError, CheckpointError):
            return None
        for name, kid, signature in lines:
            # A timestamp of 0 says nothing about when: the spec forbids it in an add-checkpoint answer.
            if (name, kid) == (witness.key.name, witness.key.key_id) and witness.key.verify(text, signature):
                return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(kid + signature).decode('ascii')}\n"
        return None

    def _failed(self, witness: WitnessEndpoint, why: str) -> str | None:
        """Log why ``witness`` did not cosign (once, until it cosigns again or the reason changes); None."""
        if self._down.get(witness.name) != why:
            _log.warning("witness %s did not cosign: %s; the hub goes on issuing, and will ask again",
                         witness.name, why)
        self._down[witness.name] = why
        return None
