"""The one shape of every server interceptor here: wrap a unary method's handler, once per method; and
``CallerDeadline``, which makes the caller's deadline known to the code that serves the call.

grpc.aio runs ``intercept_service`` on every call; every interceptor of the hub and the registries
(metrics, the caller's deadline, malformed requests) only wraps the method's handler, which is static.
``UnaryWrapper`` holds that shape once: it builds the wrapped handler the first time a method is called
and hands the same one back after that (the interceptors behind it in the server's list are part of what
was built, so they are not asked again). Only registered methods are remembered (a closed set); an
unknown method name goes on to grpc's UNIMPLEMENTED. Measured with ``linkage bench``: no change in
throughput either way (741-790 against 749-773 calls/s), so this is for one shape, not for speed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc

__all__ = ["CALLER_DEADLINE", "CallerDeadline", "UnaryWrapper"]

CALLER_DEADLINE: ContextVar[float | None] = ContextVar("linkage_caller_deadline", default=None)
"""When the call being served must be answered (``time.monotonic()``), or None: set by ``CallerDeadline``."""


class UnaryWrapper(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc.aio has no type stubs
    """Subclasses implement ``wrap``: the handler to use instead of a unary-unary one, for a method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = str(handler_call_details.method)
        found = self._wrapped.get(method)
        if found is not None:
            return found
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        found = self._wrapped[method] = self.wrap(handler, method)
        return found


class CallerDeadline(UnaryWrapper):
    """Server interceptor: makes each unary call's deadline known as ``CALLER_DEADLINE`` while it is served (the
    hub's calls to providers end before it: linkage/hub/routing.py)."""

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary

        async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
            left = context.time_remaining()
            token = CALLER_DEADLINE.set(None if left is None else time.monotonic() + left)
            try:
                return await inner(request, context)
            finally:
                CALLER_DEADLINE.reset(token)

        return grpc.unary_unary_rpc_method_handler(behaviour, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)
