"""A monthly payment run: check every approved recipient through the hub, write the batch, send it to the switch.

``run_month`` reads the approved recipients (decide.py), leaves out those already paid this month, and checks the
others ``concurrency`` at a time, each through the hub as any fetch is (a sealed, logged printout, under the
officer's session when there is one): first the civil registry's record (``dopa.person``), then, only for someone
it would pay, the PromptPay directory (``promptpay.account``): nobody's bank is read who is not paid. Then one
transaction writes the run, its batch and who could not be paid and why (ledger.py), and ``send_batches`` sends
every batch of the month not settled yet to the payment switch, signed with the agency's key
(linkage/disbursements.py), keeping the switch's signed settlement once it checks out.

Run twice for one month, it pays once: the second run finds everyone paid already (or pays only those the first
could not, once they can be). A refusal that would refuse every recipient (no right to a document type, an officer
the hub does not accept, an unknown document type) stops the run with ``RunRefused`` before anything is written;
a registry that does not answer for one recipient is that recipient's ``check_failed``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consumers.client import HubClient, OfficerSession
from consumers.counter.allowances.decide import (
    Payable,
    Recipient,
    Unpaid,
    approved_recipients,
    check_account,
    check_person,
    unpaid,
    wants_promptpay,
)
from consumers.counter.allowances.ledger import PREPARED, RunRow, batch_of, batches, paid_keys, record_run, settle
from consumers.counter.allowances.rules import Month, Rules
from consumers.counter.errors import CounterError
from consumers.counter.printout import CounterSigner
from consumers.counter.store import CounterStore
from linkage.disbursements import (
    BATCH_SIGNATURE_HEADER,
    BatchError,
    batch_body,
    batch_sha256,
    read_settlement,
    sign_batch,
)
from linkage.errors import InvalidRequest, LinkageError, NotFound, PermissionDenied, Unauthenticated
from linkage.payments import SIGNATURE_HEADER, NoticeError

__all__ = ["BATCH_PREFIX", "RunRefused", "RunReport", "Sent", "run_month", "send_batches"]

BATCH_PREFIX: Final = "PHR-PAY-"
_log = logging.getLogger("consumers.counter")
# Refusals that would refuse every recipient alike: the run stops at the first.
_WHOLE_RUN: Final = (Unauthenticated, PermissionDenied, InvalidRequest)


class RunRefused(CounterError):
    """The run cannot go on (the hub refused it as a whole); nothing was written."""

    status = 409


@dataclass(frozen=True)
class Sent:
    """What became of one batch sent to the switch: ``settled`` (with its settlement id), or why it is still
    prepared (``unreachable``, or the switch's refusal code) with the switch's message."""

    batch_no: str
    status: str
    detail: str = ""


@dataclass
class RunReport:
    month: Month
    run: RunRow
    paid: list[Payable]
    unpaid: list[Unpaid]
    seconds: float
    sent: list[Sent] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.paid), Decimal("0.00"))


@dataclass
class _Tally:
    calls: int = 0
    payable: list[Payable] = field(default_factory=list)
    unpaid: list[Unpaid] = field(default_factory=list)
    stop: LinkageError | None = None


async def run_month(store: CounterStore, hub: HubClient, rules: Rules, month: Month, *, agency: str,
                    officer_id: str, officer_session: OfficerSession | None = None, concurrency: int = 32,
                    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> RunReport:
    """Check and record a month's payments (not yet sent: ``send_batches``). Raises RunRefused, writing nothing,
    when the hub refuses the run as a whole."""
    started, began = clock(), time.perf_counter()
    recipients = approved_recipients(store, agency, rules.allowances)
    with store.read() as db:
        done = paid_keys(db, month.text)
    due = [r for r in recipients if (r.service_id, r.subject_id) not in done]
    tally = _Tally()
    queue = iter(due)

    async def worker() -> None:
        for recipient in queue:  # one shared iterator: each recipient is taken by one worker
            if tally.stop is not None:
                return
            await _check(hub, rules, month, recipient, officer_id, officer_session, tally)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(due) or 1)))))
    if tally.stop is not None:
        err = tally.stop
        raise RunRefused("run_refused", f"ระบบเชื่อมโยงปฏิเสธการตรวจสอบ จึงหยุดการจ่ายรอบนี้ ยังไม่มีการบันทึกใด ๆ:"
                                        f" {err.message_th}",
                         f"The linkage hub refused the checks, so the run stopped and nothing was written:"
                         f" {err.message_en} ({err.code})")
    finished = clock()
    run, written = record_run(
        store, month=month.text, agency=agency, officer_id=officer_id, started_at=_rfc3339(started),
        finished_at=_rfc3339(finished), prefix=BATCH_PREFIX, recipients=len(recipients),
        already_paid=len(recipients) - len(due), hub_calls=tally.calls, payable=tally.payable, unpaid=tally.unpaid)
    _log.info("payment run %s for %s: %d recipients, %d paid, %d not paid, %d already paid, %d hub calls",
              run.id, month.text, run.recipients, run.paid, run.not_paid, run.already_paid, run.hub_calls)
    return RunReport(month, run, written, tally.unpaid, time.perf_counter() - began)


async def _check(hub: HubClient, rules: Rules, month: Month, recipient: Recipient, officer_id: str,
                 session: OfficerSession | None, tally: _Tally) -> None:
    """Decide one recipient: payable, or unpaid with a reason; a whole-run refusal is kept in tally.stop."""
    other = wants_promptpay(recipient)
    if other is not None:
        tally.unpaid.append(other)
        return
    allowance = rules.allowances[recipient.service_id]
    purpose = allowance.purpose(month)

    async def fetch(doc_type: str) -> tuple[dict[str, object], str] | LinkageError:
        tally.calls += 1
        try:
            doc = await hub.fetch_document(doc_type, recipient.subject_id, purpose=purpose, officer_id=officer_id,
                                           officer_session=session, case_ref=recipient.application_no)
        except NotFound as err:
            return err
        except _WHOLE_RUN as err:
            tally.stop = tally.stop or err
            return err
        except LinkageError as err:
            return err
        return dict(doc.payload.get("data", {})), doc.printout_id

    person = await fetch("dopa.person")
    if isinstance(person, LinkageError):
        if tally.stop is None:
            tally.unpaid.append(_failed(recipient, person, "no_civil_record"))
        return
    decided = check_person(recipient, person[0], person[1], allowance, rules, month)
    if isinstance(decided, Unpaid):
        tally.unpaid.append(decided)
        return
    account = await fetch("promptpay.account")
    if isinstance(account, LinkageError):
        if tally.stop is None:
            tally.unpaid.append(_failed(recipient, account, "no_promptpay"))
        return
    refused = check_account(recipient, account[0], account[1])
    if refused is not None:
        tally.unpaid.append(refused)
        return
    tally.payable.append(Payable(recipient, decided, str(account[0].get("bank_code", "")),
                                 str(account[0].get("account_masked", "")), person[1], account[1]))


def _failed(recipient: Recipient, err: LinkageError, not_found: str) -> Unpaid:
    if isinstance(err, NotFound):
        return unpaid(recipient, not_found)
    return unpaid(recipient, "check_failed", (f"{err.message_th} ({err.code})", f"{err.message_en} ({err.code})"))


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def send_batches(store: CounterStore, month: Month, signer: CounterSigner, switch_url: str,
                       switch_key: Callable[[], Ed25519PublicKey], *, timeout: float = 120.0) -> list[Sent]:
    """Send every batch of month still ``prepared`` to the switch at switch_url; keep each settlement whose
    signature is the switch's (switch_key) and that settles exactly the batch sent. A batch the switch refuses
    or cannot take stays prepared, and is sent again by the next call (the switch settles a batch once)."""
    out = []
    for row in [b for b in batches(store, month.text) if b.status == PREPARED]:
        found = batch_of(store, row.batch_no)
        assert found is not None
        body = batch_body(found[1])
        signature = sign_batch(body, signer.key, [signer.cert, signer.ca_root])
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, http.post(
                    f"{switch_url.rstrip('/')}/disbursements", data=body,
                    headers={BATCH_SIGNATURE_HEADER: signature, "Content-Type": "application/json"}) as resp:
                status, answer, answer_sig = resp.status, await resp.read(), resp.headers.get(SIGNATURE_HEADER, "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            out.append(Sent(row.batch_no, "unreachable", f"{switch_url}: {type(exc).__name__}"))
            continue
        if status != 200:
            out.append(Sent(row.batch_no, _refusal(answer), answer.decode("utf-8", "replace")[:500]))
            continue
        try:
            settlement = read_settlement(answer, answer_sig, switch_key())
        except (BatchError, NoticeError) as exc:
            out.append(Sent(row.batch_no, "bad_settlement", str(exc)[:300]))
            continue
        expected = (row.batch_no, row.agency, batch_sha256(body), row.count, f"{row.total:.2f}")
        got = (settlement.batch_no, settlement.agency, settlement.batch_sha256, settlement.count, settlement.total)
        if got != expected:
            out.append(Sent(row.batch_no, "bad_settlement", f"the settlement is for {got}, not the batch sent"))
            continue
        settle(store, row.batch_no, answer.decode("utf-8"), answer_sig, settlement.settled_at)
        out.append(Sent(row.batch_no, "settled", settlement.settlement_id))
    return out


def _refusal(answer: bytes) -> str:
    try:
        return str(json.loads(answer)["error"])
    except (ValueError, KeyError, TypeError):
        return "refused"
