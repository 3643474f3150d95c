"""One call to the target: a deadline the kit enforces itself, and how the call ended, never an exception.

``call`` answers an ``Outcome`` for every ending (an answer, a refusal with its google.rpc.ErrorInfo as
``linkage.errors.error_info`` reads it, or no status at all when the call outlived its deadline), so a
provider that hangs costs one deadline, never a hang of the kit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2

from linkage.errors import error_info
from linkage.v1 import provider_pb2

__all__ = ["PROVIDER_ANSWER_LIMIT", "SERVICE", "WATCHDOG_SLACK", "Outcome", "call", "clip"]

SERVICE = provider_pb2.DESCRIPTOR.services_by_name["ProviderService"]
# The hub reads provider answers up to this size (linkage/hub/routing.py); the kit's channel uses the same.
PROVIDER_ANSWER_LIMIT = 8 * 1024 * 1024
WATCHDOG_SLACK = 1.0  # a call may outlive its deadline by this much before the kit calls it hung


@dataclass(frozen=True)
class Outcome:
    """How one call ended: its gRPC status (None when it outlived its deadline), the answer or the refusal."""

    status: grpc.StatusCode | None
    answer: Any = None
    message: str = ""
    info: error_details_pb2.ErrorInfo | None = None
    details_error: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.status == grpc.StatusCode.OK)

    def shown(self) -> str:
        if self.status is None:
            return "no status at all: the call outlived its deadline"
        if self.ok:
            return "OK"
        return f"{self.status.name} {clip(self.message, 100)!r}" if self.message else self.status.name


async def call(rpc: Any, request: Any, timeout: float) -> Outcome:
    """Call rpc with a deadline; never raises for a gRPC failure and never waits past deadline + slack."""
    try:
        answer = await asyncio.wait_for(rpc(request, timeout=timeout), timeout + WATCHDOG_SLACK)
    except TimeoutError:
        return Outcome(None)
    except grpc.aio.AioRpcError as exc:
        try:
            info, problem = error_info(exc.trailing_metadata(), exc.code(), exc.details() or ""), ""
        except ValueError as err:  # details whose code or message contradict the status itself, or garbage
            info, problem = None, f"grpc-status-details-bin: {err}"
        return Outcome(exc.code(), message=str(exc.details() or ""), info=info, details_error=problem)
    return Outcome(grpc.StatusCode.OK, answer)


def clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
