"""The error tree of the linkage hub and registries, and its one gRPC status table.

One vocabulary for every error of the project (this tree and every other one: ``KeySetError``,
``StorageError``, ``MerkleError``, ``CheckpointError``, the auditor's ``VerificationError``, the
counter's ``CounterError`` …): ``code`` is always the stable snake_case string a program branches
on; ``status`` is the ``grpc.StatusCode`` wherever there is one (the counter's ``status`` is its
HTTP status). On the wire ``code`` travels as ``google.rpc.ErrorInfo.reason`` (the protobuf's name
for it), and so it is ``reason`` in the metrics labels and log lines, beside ``code``, the status name.

    LinkageError                      code (stable snake_case), status, message_th, message_en, field
    ├── InvalidRequest                INVALID_ARGUMENT   caller: malformed ID, unknown type, no purpose …
    ├── Unauthenticated               UNAUTHENTICATED    caller: no or unknown client certificate
    ├── PermissionDenied              PERMISSION_DENIED  caller: no right to the document type …
    ├── NotFound                      NOT_FOUND          caller: a well-formed ID with no record
    ├── LimitExceeded                 RESOURCE_EXHAUSTED caller: over its rate limit or daily quota (retryable)
    ├── ProviderUnavailable           UNAVAILABLE        provider: down or refusing (retryable)
    ├── ProviderTimeout               DEADLINE_EXCEEDED  provider: no answer in time (retryable)
    ├── ProviderFault                 INTERNAL           provider: answered with an error of its own
    ├── HubUnavailable                UNAVAILABLE        hub: cannot write the log, shutting down (retryable)
    └── HubFault                      INTERNAL           hub: anything unexpected; generic message

Thai and English are two fields, ``message_th`` and ``message_en``, from the ``raise`` to the page
that shows them, never one string split apart; ``field`` names the request field they are about.
``message`` is only the combined text for people (``field: Thai / English``), the status message
grpcurl shows.

Servicers raise these; ``grpc_errors`` turns them into a gRPC status with a
``google.rpc.ErrorInfo`` detail (``reason`` the code, domain ``linkage.go.th``; metadata ``side``,
``provider``, ``retryable``, ``message_th``, ``message_en``, ``field`` when there is one and, when there
is advice, ``retry_after_ms``, which a ``google.rpc.RetryInfo`` detail repeats) in one place.
``from_rpc_error`` reads them back on the client side; ``to_problem`` and ``from_problem`` do the same
for the ``Problem`` a batch answers with. ``error_info`` is the one reader of ErrorInfo.
``MalformedRequests``, a server interceptor, answers a request whose bytes are no message of
the method's type as InvalidRequest ``malformed_request`` before any servicer sees it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, TypeVar

import grpc
from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from linkage.interceptors import UnaryWrapper
from linkage.v1 import common_pb2

__all__ = [
    "DETAILS_KEY",
    "DOMAIN",
    "HubFault",
    "HubUnavailable",
    "InvalidRequest",
    "LimitExceeded",
    "LinkageError",
    "MalformedRequests",
    "NotFound",
    "PermissionDenied",
    "ProviderFault",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Unauthenticated",
    "error_info",
    "from_problem",
    "from_rpc_error",
    "grpc_errors",
    "to_problem",
    "to_status",
]

DOMAIN = "linkage.go.th"
DETAILS_KEY = "grpc-status-details-bin"
"""The trailing metadata key that carries a status's google.rpc.Status, details and all."""
_log = logging.getLogger("linkage.errors")

_SIDES = {"caller": common_pb2.FAULT_SIDE_CALLER, "hub": common_pb2.FAULT_SIDE_HUB,
          "provider": common_pb2.FAULT_SIDE_PROVIDER}


class LinkageError(Exception):
    """Base of every error the project reports across a gRPC boundary."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    side: ClassVar[str] = "hub"
    retryable: ClassVar[bool] = False

    def __init__(self, code: str, message_th: str, message_en: str, *, field: str = "", provider: str = "",
                 retry_after_ms: int = 0) -> None:
        self.code = code
        self.message_th = message_th
        self.message_en = message_en
        # The request field the message is about ("subject_id", "purpose" …), or "".
        self.field = field
        self.provider = provider
        # How long the caller should wait before retrying (e.g. a provider's open circuit); 0: no advice.
        self.retry_after_ms = retry_after_ms
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The combined human text, the gRPC status message: ``field: Thai / English`` (each part when present)."""
        text = " / ".join(m for m in (self.message_th, self.message_en) if m)
        return f"{self.field}: {text}" if self.field else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message_th!r}, {self.message_en!r})"


class InvalidRequest(LinkageError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    side = "caller"


class Unauthenticated(LinkageError):
    status = grpc.StatusCode.UNAUTHENTICATED
    side = "caller"


class PermissionDenied(LinkageError):
    status = grpc.StatusCode.PERMISSION_DENIED
    side = "caller"


class NotFound(LinkageError):
    status = grpc.StatusCode.NOT_FOUND
    side = "caller"


class LimitExceeded(LinkageError):
    """The calling agency is over its rate limit or daily quota (linkage/limits.py); retry after retry_after_ms."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    side = "caller"
    retryable = True


class ProviderUnavailable(LinkageError):
    status = grpc.StatusCode.UNAVAILABLE
    side = "provider"
    retryable = True


class ProviderTimeout(LinkageError):
    status = grpc.StatusCode.DEADLINE_EXCEEDED
    side = "provider"
    retryable = True


class ProviderFault(LinkageError):
    status = grpc.StatusCode.INTERNAL
    side = "provider"


class HubUnavailable(LinkageError):
    status = grpc.StatusCode.UNAVAILABLE
    side = "hub"
    retryable = True


class HubFault(LinkageError):
    status = grpc.StatusCode.INTERNAL
    side = "hub"


_BY_STATUS: dict[tuple[grpc.StatusCode, str], type[LinkageError]] = {
    (cls.status, cls.side): cls
    for cls in (InvalidRequest, Unauthenticated, PermissionDenied, NotFound, LimitExceeded, ProviderUnavailable,
                ProviderTimeout, ProviderFault, HubUnavailable, HubFault)
}


def to_status(err: LinkageError) -> grpc.Status:
    """The gRPC status for err, with a google.rpc.ErrorInfo detail (and RetryInfo when it advises a wait)."""
    info = error_details_pb2.ErrorInfo(
        reason=err.code,
        domain=DOMAIN,
        metadata={"side": err.side, "provider": err.provider, "retryable": str(err.retryable).lower(),
                  "message_th": err.message_th, "message_en": err.message_en,
                  **({"field": err.field} if err.field else {}),
                  **({"retry_after_ms": str(err.retry_after_ms)} if err.retry_after_ms else {})},
    )
    status = status_pb2.Status(code=err.status.value[0], message=err.message)
    status.details.add().Pack(info)
    if err.retry_after_ms:
        delay = duration_pb2.Duration(seconds=err.retry_after_ms // 1000, nanos=err.retry_after_ms % 1000 * 1_000_000)
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return rpc_status.to_status(status)


def to_problem(err: LinkageError) -> common_pb2.Problem:
    """The same facts as to_status, as a message inside a successful answer."""
    return common_pb2.Problem(
        grpc_code=err.status.value[0], reason=err.code, message=err.message, message_th=err.message_th,
        message_en=err.message_en, field=err.field, side=_SIDES[err.side], provider=err.provider,
        retryable=err.retryable,
    )


def error_info(trailing_metadata: Iterable[tuple[str, str | bytes]] | None, status: grpc.StatusCode | None = None,
               message: str | None = None) -> error_details_pb2.ErrorInfo | None:
    """The google.rpc.ErrorInfo among a status's details (``grpc-status-details-bin`` in the trailing metadata):
    the first one, of any domain (compare ``domain`` with ``DOMAIN`` before taking it for ours); None when
    there are no details or no ErrorInfo among them.

    The project's one reader of ErrorInfo: ``from_rpc_error``, the servers' metrics and the conformance kit
    use it. Raises ValueError when the details do not parse, or contradict the ``status`` or ``message``
    the call ended with, when those are given.
    """
    for key, value in trailing_metadata or ():
        if key != DETAILS_KEY:
            continue
        try:
            rich = status_pb2.Status.FromString(value if isinstance(value, bytes) else value.encode())
            if status is not None and rich.code != status.value[0]:
                raise ValueError(f"its code {rich.code} does not match the status {status.name}")
            if message is not None and rich.message != message:
                raise ValueError(f"its message {rich.message[:80]!r} does not match the status message"
                                 f" {message[:80]!r}")
            for detail in rich.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                    return info
        except DecodeError as exc:
            raise ValueError(f"it is not a google.rpc.Status with readable details ({exc})") from None
        return None
    return None


def from_rpc_error(exc: grpc.RpcError) -> LinkageError:
    """Rebuild the LinkageError a server raised from the status it sent.

    A status without our ErrorInfo (e.g. a transport failure), or with details that contradict it,
    becomes the class for its status, with code ``transport_<status>``.
    """
    status: grpc.StatusCode = exc.code()
    info = None
    if hasattr(exc, "trailing_metadata"):
        try:
            info = error_info(exc.trailing_metadata(), status, exc.details() or "")
        except ValueError:
            pass  # details that contradict the status are no word from our servers
    if info is not None and info.domain == DOMAIN:
        side = info.metadata.get("side", "hub")
        cls = _BY_STATUS.get((status, side), HubFault)
        meta, wait = info.metadata, info.metadata.get("retry_after_ms", "")
        if "message_th" in meta or "message_en" in meta:
            th, en = meta.get("message_th", ""), meta.get("message_en", "")
        else:  # a server older than message_th and message_en: its one message, as it is
            th, en = "", str(exc.details() or "")
        return cls(info.reason, th, en, field=meta.get("field", ""), provider=meta.get("provider", ""),
                   retry_after_ms=int(wait) if wait.isdigit() else 0)
    # No word from our servers (e.g. the hub cannot be reached): the hub's side, not a provider's.
    sides = sorted((cls for (s, _), cls in _BY_STATUS.items() if s == status), key=lambda cls: cls.side != "hub")
    cls = sides[0] if sides else HubFault
    return cls(f"transport_{status.name.lower()}", "", str(exc.details() or status.name))


_STATUSES = {s.value[0]: s for s in grpc.StatusCode}
_SIDE_NAMES = {v: k for k, v in _SIDES.items()}


def from_problem(problem: common_pb2.Problem) -> LinkageError:
    """Rebuild the LinkageError a ``Problem`` reports (the inverse of ``to_problem``)."""
    status = _STATUSES.get(problem.grpc_code, grpc.StatusCode.UNKNOWN)
    cls = _BY_STATUS.get((status, _SIDE_NAMES.get(problem.side, "hub")), HubFault)
    if problem.message_th or problem.message_en:
        th, en = problem.message_th, problem.message_en
    else:  # a hub older than message_th and message_en: its one message, as it is
        th, en = "", problem.message
    return cls(problem.reason, th, en, field=problem.field, provider=problem.provider)


_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def grpc_errors(method: _F) -> _F:
    """Wrap an async servicer method: LinkageError -> its status; anything else -> INTERNAL.

    Unexpected errors are logged with their traceback and answered with a
    generic message, never the exception text.
    """

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except LinkageError as err:
            await context.abort_with_status(to_status(err))
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception:
            _log.exception("unexpected error in %s", method.__qualname__)
            fault = HubFault("internal", "เกิดข้อผิดพลาดภายในระบบ", "internal error: the server log has the details")
            await context.abort_with_status(to_status(fault))

    return wrapper  # type: ignore[return-value]


class _Unparsed:
    """Stands for a request whose bytes did not parse: the servicer is never called with it."""


_UNPARSED = _Unparsed()


class MalformedRequests(UnaryWrapper):
    """Server interceptor: bytes that are no message of the method's request type are INVALID_ARGUMENT
    ``malformed_request`` with ErrorInfo, not grpc's own UNKNOWN carrying the parser's exception text."""

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if handler.request_deserializer is None:
            return handler
        parse, inner = handler.request_deserializer, handler.unary_unary

        def deserialize(raw: bytes) -> Any:
            try:
                return parse(raw)
            except Exception:  # DecodeError, or whatever else a parser makes of hostile bytes
                return _UNPARSED

        async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if request is _UNPARSED:
                await context.abort_with_status(to_status(InvalidRequest(
                    "malformed_request", "คำขออ่านไม่ได้", f"the request to {method} is not a valid protobuf message"
                    " of its request type (see the .proto files in proto/linkage/v1)")))
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(behaviour, request_deserializer=deserialize,
                                                   response_serializer=handler.response_serializer)
