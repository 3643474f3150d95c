"""The hub's side of the hub → provider hop: one mTLS channel per provider, kept for the hub's life.

Knows which provider owns each document type (from the configuration: ``owner``,
which the rules call once per request and hand back to ``describe`` and ``get_record``)
and what each type looks like (from the provider's own ``Describe``, asked once and
kept). Translates the provider's failures into the hub's error tree so the
consumer can tell a provider fault from its own mistake.

How the hop behaves when a provider is slow, failing or down (``[hub]`` keys in
linkage.toml; ``linkage faults`` injects such faults in the sandbox):

1. **Deadline.** The whole hop (every attempt and every pause) ends by the
   earlier of ``provider_timeout_ms`` from now and the caller's own deadline,
   less a reserve (10 %, at least 20 ms) that the hub keeps to seal, log and
   answer. So the caller hears DEADLINE_EXCEEDED from the hub, naming the
   provider, before its own deadline fires. ``CallerDeadline`` (a server
   interceptor, linkage/interceptors.py) is how the caller's deadline reaches here.
2. **Retries.** Describe and GetRecord are idempotent reads: when the provider
   answers UNAVAILABLE they are tried again, at most ``provider_retries`` times,
   after a pause of 50 ms, 100 ms, … (each drawn between half and all of it),
   and only if the pause and a useful attempt still fit in the deadline. CheckCard
   is not retried: a registry may count card checks. Other codes are not retried:
   a timeout has used the time up, and a provider that is overloaded
   (RESOURCE_EXHAUSTED) is not helped by more calls.
3. **Retry budget.** Each provider has a budget: each call earns
   ``retry_budget_percent``/100 of a retry, each retry spends one, and a quiet
   provider holds at most 10 in reserve. Over any run of N calls the hub makes at
   most N·percent/100 + 10 retries, so retries cannot amplify an outage.
4. **Circuit breaker.** Each provider has one. ``breaker_failures`` failures in a
   row (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, RESOURCE_EXHAUSTED,
   ABORTED, DATA_LOSS; an answer such as NOT_FOUND shows the provider works) open
   it: calls then fail at once, without reaching the provider, with UNAVAILABLE
   ``provider_circuit_open`` naming the provider and ``retry_after_ms``. After
   ``breaker_cooldown_ms`` one call goes through as a probe: success closes the
   circuit, failure opens it for another cool-down. A probe that never reports
   back frees its place after ``provider_timeout_ms``.
5. **Error details.** Every failure of the hop is a LinkageError with the
   provider's name and whether retrying may help (ErrorInfo ``provider``,
   ``retryable``, ``retry_after_ms``). The hub issues nothing when the hop fails,
   so nothing is logged as issued.
6. **Reads in groups.** GetRecord reads to one provider go the way the log
   commits (linkage/hub/log.py): a read to an idle provider goes at once, alone;
   reads that arrive while one is out wait for it and then go together, at most
   MAX_PROVIDER_BATCH, in one ``BatchGetRecords`` (``_Reads``). Each read keeps
   its own deadline (the batch's is the latest of them), passes the breaker,
   earns and spends retry budget and is retried on its own, as above; one read
   that fails fails only its own fetch, with the error its GetRecord would have
   had. A provider that answers UNIMPLEMENTED to ``BatchGetRecords`` is read one
   GetRecord at a time from then on (until the hub restarts).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf import struct_pb2

from linkage import pki
from linkage.config import Settings
from linkage.errors import (
    InvalidRequest,
    LinkageError,
    NotFound,
    ProviderFault,
    ProviderTimeout,
    ProviderUnavailable,
    from_problem,
    from_rpc_error,
)
from linkage.interceptors import CALLER_DEADLINE
from linkage.limits import MAX_PROVIDER_BATCH
from linkage.serverconfig import ProviderConfig
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc

__all__ = ["Circuit", "CircuitBreaker", "RetryBudget", "Router"]


_log = logging.getLogger("linkage.hub.routing")
_HUB_RESERVE_S = 0.02  # at least this much of the caller's time is kept for sealing, logging and answering
_BACKOFF_S = 0.05
_MIN_ATTEMPT_S = 0.05  # a retry with less time than this left would only time out
_RETRY_RESERVE = 10.0
_MAX_OUT = 1  # GetRecord reads or batches out to one provider at once before reads wait for the next batch
# Answers that show the provider is unwell; any other (NOT_FOUND, INVALID_ARGUMENT, …) shows it works.
_FAILURES = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED,
    grpc.StatusCode.DATA_LOSS,
})


class RetryBudget:
    """Retries a provider may be sent: ratio of one per call made, at most reserve saved up."""

    def __init__(self, ratio: float, reserve: float = _RETRY_RESERVE) -> None:
        # Counted in thousandths of a retry: ten calls at 10 % earn exactly one, with no rounding drift.
        self._earn = round(ratio * 1000)
        self._cap = round(reserve * 1000) if self._earn > 0 else 0
        self._milli = self._cap

    def earn(self) -> None:
        """A call was made: it earns ratio of a retry."""
        self._milli = min(self._cap, self._milli + self._earn)

    def spend(self) -> bool:
        """Take one retry from the budget; False when there is none left."""
        if self._milli < 1000:
            return False
        self._milli -= 1000
        return True


class Circuit(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One provider's circuit: closed, open after `failures` in a row, half open (one probe) after `cooldown`."""

    def __init__(self, name: str, failures: int, cooldown: float, probe_timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._threshold = failures
        self._cooldown = cooldown
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._state = Circuit.CLOSED
        self._failures = 0
        self._since = 0.0  # when it opened, or when the probe went out

    @property
    def state(self) -> Circuit:
        return self._state

    def admit(self) -> float | None:
        """None when a call may go to the provider now; otherwise the seconds until one may."""
        now = self._clock()
        if self._state is Circuit.CLOSED:
            return None
        if self._state is Circuit.OPEN:
            if now - self._since < self._cooldown:
                return self._since + self._cooldown - now
            self._state = Circuit.HALF_OPEN
        elif now - self._since < self._probe_timeout:  # half open, a probe is out
            return self._since + self._probe_timeout - now
        self._since = now
        _log.warning("provider %s: circuit half open, one call goes through as a probe", self.name)
        return None

    def record(self, ok: bool) -> None:
        """The outcome of a call that admit() let through."""
        if self._state is Circuit.OPEN:
            return  # a call sent before it opened says nothing about the provider now
        if ok:
            if self._state is Circuit.HALF_OPEN:
                _log.warning("provider %s: circuit closed, the probe succeeded", self.name)
            self._state, self._failures = Circuit.CLOSED, 0
            return
        self._failures += 1
        if self._state is Circuit.HALF_OPEN or self._failures >= self._threshold:
            _log.warning("provider %s: circuit open after %d failures in a row; calls fail fast for %.1f s",
                         self.name, self._failures, self._cooldown)
            self._state, self._since = Circuit.OPEN, self._clock()


class _Refused(Exception):
    """One read's failure in a batch answer (its Problem), or the hub's wait for it running out: what its own
    GetRecord would have failed with. Caught where AioRpcError is."""

    def __init__(self, problem: common_pb2.Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem

    def code(self) -> grpc.StatusCode:
        return _STATUSES.get(self.problem.grpc_code, grpc.StatusCode.UNKNOWN)


class _Alone(Exception):
    """The read is to go on its own: the provider has no BatchGetRecords, or its batch answer was full."""


_STATUSES = {s.value[0]: s for s in grpc.StatusCode}
_Waiting = tuple[provider_pb2.GetRecordRequest, float, asyncio.Future[provider_pb2.GetRecordResponse]]


class _Reads:
    """One provider's GetRecord reads: at once while fewer than _MAX_OUT calls are out, else together in the next
    batch (step 6)."""

    def __init__(self, name: str, stub: provider_pb2_grpc.ProviderServiceStub) -> None:
        self._name = name
        self._stub = stub
        self._waiting: list[_Waiting] = []  # (request, when it must be over, its answer), in arrival order
        self._out = 0  # reads or batches out; none waits while fewer than _MAX_OUT are
        self._batches = True  # until the provider answers BatchGetRecords UNIMPLEMENTED
        self._pumps: set[asyncio.Task[None]] = set()

    async def GetRecord(self, request: provider_pb2.GetRecordRequest, timeout: float,
                        ) -> provider_pb2.GetRecordResponse:
        """The provider's answer, as the stub's GetRecord: raises AioRpcError or _Refused."""
        answer: provider_pb2.GetRecordResponse
        if not self._batches:
            answer = await self._stub.GetRecord(request, timeout=timeout)
            return answer
        if self._out < _MAX_OUT:
            self._out += 1
            try:
                answer = await self._stub.GetRecord(request, timeout=timeout)
                return answer
            finally:
                self._next()
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        done: asyncio.Future[provider_pb2.GetRecordResponse] = loop.create_future()
        self._waiting.append((request, end, done))
        try:
            async with asyncio.timeout_at(end):
                return await done
        except TimeoutError:
            raise _Refused(common_pb2.Problem(grpc_code=grpc.StatusCode.DEADLINE_EXCEEDED.value[0])) from None
        except _Alone:
            answer = await self._stub.GetRecord(request, timeout=max(0.0, end - loop.time()))
            return answer

    def _next(self) -> None:
        """A call is back: its place goes to what waits, sent from a task of its own (its caller need not wait)."""
        if not self._waiting:
            self._out -= 1
            return
        pump = asyncio.get_running_loop().create_task(self._send_waiting())
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)

    async def _send_waiting(self) -> None:
        try:
            while True:
                self._waiting = [w for w in self._waiting if not w[2].done()]  # gone: out of time or cancelled
                if not self._waiting:
                    return
                batch, self._waiting = self._waiting[:MAX_PROVIDER_BATCH], self._waiting[MAX_PROVIDER_BATCH:]
                await self._send(batch)
        finally:
            self._out -= 1

    async def _send(self, batch: list[_Waiting]) -> None:
        """Send these reads as one call and settle each one's answer (cancelled, if this is)."""
        loop = asyncio.get_running_loop()
        try:
            if not self._batches:  # learnt while these waited: each goes alone
                raise _Alone
            answers = await self._stub.BatchGetRecords(
                provider_pb2.BatchGetRecordsRequest(requests=[r for r, _, _ in batch]),
                timeout=max(end for _, end, _ in batch) - loop.time())
        except (grpc.aio.AioRpcError, _Alone) as exc:
            if isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                _log.warning("provider %s has no BatchGetRecords: it is read one GetRecord at a time", self._name)
                self._batches = False
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(_Alone() if not self._batches else exc)
            return
        except Exception:  # no read may wait for an answer that will not come
            _log.exception("provider %s: a batch of reads failed in the hub", self._name)
            answers = provider_pb2.BatchGetRecordsResponse()
        except BaseException:
            for _, _, done in batch:
                done.cancel()
            raise
        results = answers.results
        for i, (request, _, done) in enumerate(batch):
            if done.done():
                continue
            result = results[i] if len(results) == len(batch) else provider_pb2.RecordResult()
            kind = result.WhichOneof("outcome")
            if kind == "record" and (result.record.doc_type, result.record.subject_id) == (request.doc_type,
                                                                                            request.subject_id):
                done.set_result(result.record)
            elif kind == "problem" and result.problem.grpc_code:
                full = result.problem.reason == "batch_answer_full"
                done.set_exception(_Alone() if full else _Refused(result.problem))
            else:  # a record in the wrong place would be another subject's: never taken
                done.set_exception(_Refused(_mismatch(self._name)))

    async def close(self) -> None:
        """Cancel the batches out and the reads waiting."""
        for pump in list(self._pumps):
            pump.cancel()
        for _, _, done in self._waiting:
            done.cancel()
        self._waiting = []


class Router:
    """Channels to every provider and the catalogue of document types."""

    def __init__(self, settings: Settings) -> None:
        hub = settings.hub
        self._timeout = hub.provider_timeout_ms / 1000
        self._retries = hub.provider_retries
        creds = pki.channel_credentials(settings.home.ca.cert, settings.home.client_cert(pki.HUB_CLIENT))
        options = [("grpc.keepalive_time_ms", 30_000), ("grpc.max_receive_message_length", 8 * 1024 * 1024)]
        self._channels = {
            name: grpc.aio.secure_channel(p.address, creds, options=options) for name, p in settings.providers.items()
        }
        self._stubs = {name: provider_pb2_grpc.ProviderServiceStub(ch) for name, ch in self._channels.items()}
        self._reads = {name: _Reads(name, stub) for name, stub in self._stubs.items()}
        self._breakers = {name: CircuitBreaker(name, hub.breaker_failures, hub.breaker_cooldown_ms / 1000,
                                               self._timeout) for name in self._channels}
        self._budgets = {name: RetryBudget(hub.retry_budget_percent / 100) for name in self._channels}
        # Providers and their document types are fixed until the hub restarts (only agencies are followed).
        self._owners: dict[str, ProviderConfig] = {}
        for provider in settings.providers.values():
            for doc_type in provider.doc_types:
                self._owners.setdefault(doc_type, provider)
        self._doc_types: dict[str, common_pb2.DocumentType] = {}
        self._members: dict[str, str] = {}
        self._describe_lock = asyncio.Lock()

    def owner(self, doc_type: str) -> ProviderConfig:
        """The provider that owns doc_type. Raises InvalidRequest for an unknown type."""
        provider = self._owners.get(doc_type)
        if provider is None:
            known = ", ".join(sorted(self._owners))
            raise InvalidRequest(
                "unknown_doc_type", f"ไม่มีเอกสารประเภท {doc_type[:60]!r}",
                f"unknown document type {doc_type[:60]!r}; known types: {known}", field="doc_type",
            )
        return provider

    async def describe(self, provider: ProviderConfig, doc_type: str) -> common_pb2.DocumentType:
        """The document type as its provider (``owner(doc_type)``) describes it: asked once, then kept."""
        known = self._doc_types.get(doc_type)
        if known is not None:
            return known
        async with self._describe_lock:
            if doc_type not in self._doc_types:
                answer = await self._call(provider.name, "Describe", provider_pb2.DescribeRequest())
                self._members[provider.name] = answer.member
                for t in answer.doc_types:
                    if self._owners.get(t.code) is provider:
                        self._doc_types[t.code] = t
        found = self._doc_types.get(doc_type)
        if found is None:
            raise ProviderFault("doc_type_not_served", f"ผู้ให้ข้อมูล {provider.name} ไม่ได้ให้บริการ {doc_type}",
                                f"provider {provider.name} does not describe {doc_type} although the configuration"
                                " says it owns it", provider=provider.name)
        return found

    def member(self, provider: str) -> str:
        """The provider's X-Road member/subsystem, known once describe() has reached it."""
        return self._members.get(provider, provider)

    async def get_record(self, provider: ProviderConfig, doc_type: str, subject_id: str,
                         fields: Sequence[str]) -> dict[str, Any]:
        """The record's data from its provider (``owner(doc_type)``), only the given fields (all when empty)."""
        answer = await self._call(provider.name, "GetRecord",
                                  provider_pb2.GetRecordRequest(doc_type=doc_type, subject_id=subject_id,
                                                                fields=list(fields)))
        return {name: _plain(value) for name, value in answer.data.fields.items()}

    async def check_card(self, card: provider_pb2.CheckCardRequest) -> bool:
        provider = self.owner("dopa.card")
        answer = await self._call(provider.name, "CheckCard", card, idempotent=False)
        return bool(answer.match)

    async def check_presence(self, request: provider_pb2.CheckPresenceRequest) -> provider_pb2.CheckPresenceResponse:
        """The civil registry's verdict on a card's signature (linkage/hub/presence.py)."""
        answer: provider_pb2.CheckPresenceResponse = await self._call(
            self.owner("dopa.card").name, "CheckPresence", request, idempotent=False)
        return answer

    def circuits(self) -> dict[str, Circuit]:
        """The state of each provider's circuit breaker."""
        return {name: breaker.state for name, breaker in self._breakers.items()}

    def _end(self) -> float:
        """When the hop must be over (time.monotonic()): step 1 of the module docstring."""
        now = time.monotonic()
        end = now + self._timeout
        caller = CALLER_DEADLINE.get()
        if caller is not None:
            left = caller - now
            end = min(end, now + left - max(_HUB_RESERVE_S, left * 0.1))
        return end

    async def _call(self, provider: str, method: str, request: Any, *, idempotent: bool = True) -> Any:
        """One call to the provider under its deadline, retries, budget and breaker (the module docstring)."""
        breaker, budget = self._breakers[provider], self._budgets[provider]
        end = self._end()
        budget.earn()
        retries = 0
        while True:
            wait = breaker.admit()
            if wait is not None:
                raise _circuit_open(provider, wait)
            left = end - time.monotonic()
            if left <= 0:
                raise _timeout(provider)
            try:
                target = self._reads[provider] if method == "GetRecord" else self._stubs[provider]
                answer = await getattr(target, method)(request, timeout=left)
            except (grpc.aio.AioRpcError, _Refused) as exc:
                code = exc.code()
                breaker.record(ok=code not in _FAILURES)
                if idempotent and code == grpc.StatusCode.UNAVAILABLE and retries < self._retries:
                    pause = _BACKOFF_S * 2**retries * random.uniform(0.5, 1.0)
                    if time.monotonic() + pause + _MIN_ATTEMPT_S < end and budget.spend():
                        retries += 1
                        _log.info("provider %s: %s UNAVAILABLE, retry %d in %.0f ms", provider, method, retries,
                                  pause * 1000)
                        await asyncio.sleep(pause)
                        continue
                raise _translate(provider, exc) from None
            breaker.record(ok=True)
            return answer

    async def close(self) -> None:
        await asyncio.gather(*(reads.close() for reads in self._reads.values()))
        await asyncio.gather(*(ch.close() for ch in self._channels.values()))


def _plain(value: struct_pb2.Value) -> Any:
    """A Struct value as plain Python, in one pass (json_format.MessageToDict and a second walk cost twice as much).

    Struct carries every number as a double: whole numbers come back as integers (moo 7, not 7.0). A NaN or an
    infinity stays a float, which the seal's canonical JSON refuses (ValueError), as MessageToDict did.
    """
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {name: _plain(item) for name, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_plain(item) for item in value.list_value.values]
    return None


def _translate(provider: str, exc: grpc.aio.AioRpcError | _Refused) -> LinkageError:
    """The hub's error for a failed read or call: the same whether it failed alone or inside a batch."""
    code = exc.code()
    if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
        inner = from_problem(exc.problem) if isinstance(exc, _Refused) else from_rpc_error(exc)
        if code == grpc.StatusCode.NOT_FOUND:
            return NotFound(inner.code, inner.message_th, inner.message_en, field=inner.field, provider=provider)
        return InvalidRequest(inner.code, inner.message_th, inner.message_en, field=inner.field, provider=provider)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return _timeout(provider)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ProviderUnavailable(
            "provider_unavailable", f"ผู้ให้ข้อมูล {provider} ไม่พร้อมให้บริการ",
            f"provider {provider} is unavailable; try again later", provider=provider)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ProviderUnavailable(
            "provider_overloaded", f"ผู้ให้ข้อมูล {provider} มีงานล้น",
            f"provider {provider} is overloaded; try again later", provider=provider)
    return ProviderFault(
        "provider_error", f"ผู้ให้ข้อมูล {provider} ตอบกลับผิดพลาด", f"provider {provider} failed ({code.name})",
        provider=provider)


def _mismatch(provider: str) -> common_pb2.Problem:
    """A batch answer without this read's record or problem in its place (INTERNAL: the provider's error)."""
    return common_pb2.Problem(grpc_code=grpc.StatusCode.INTERNAL.value[0], reason="batch_answer_mismatch",
                              message=f"provider {provider}: no answer to this read in its place in the batch",
                              provider=provider)


def _timeout(provider: str) -> ProviderTimeout:
    return ProviderTimeout(
        "provider_timeout", f"ผู้ให้ข้อมูล {provider} ไม่ตอบภายในเวลาที่กำหนด",
        f"provider {provider} did not answer in time; try again later", provider=provider)


def _circuit_open(provider: str, wait: float) -> ProviderUnavailable:
    ms = max(1, math.ceil(wait * 1000))
    return ProviderUnavailable(
        "provider_circuit_open",
        f"ผู้ให้ข้อมูล {provider} ขัดข้องต่อเนื่อง ศูนย์กลางงดเรียกชั่วคราว ลองใหม่ใน {ms / 1000:.1f} วินาที",
        f"provider {provider} failed repeatedly and the hub has stopped calling it for a while;"
        f" retry after {ms / 1000:.1f} s", provider=provider, retry_after_ms=ms)
