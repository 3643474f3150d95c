"""The hub's side of the hub → provider hop: one mTLS channel per provider, kept for the hub's life.

Knows which provider owns each document type (from the configuration) and
what each type looks like (from the provider's own ``Describe``, asked once and
kept). Translates the provider's failures into the hub's error tree so the
consumer can tell a provider fault from its own mistake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import json_format

from linkage import pki
from linkage.config import ProviderConfig, Settings
from linkage.errors import (
    InvalidRequest,
    LinkageError,
    NotFound,
    ProviderFault,
    ProviderTimeout,
    ProviderUnavailable,
    from_rpc_error,
)
from linkage.v1 import common_pb2, provider_pb2, provider_pb2_grpc

__all__ = ["Router"]

# The hub's client certificate to call providers is issued under this name.
HUB_CLIENT = "linkage-hub"


class Router:
    """Channels to every provider and the catalogue of document types."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._timeout = settings.hub.provider_timeout_ms / 1000
        creds = pki.channel_credentials(settings.home.ca.cert, settings.home.client_cert(HUB_CLIENT))
        options = [("grpc.keepalive_time_ms", 30_000), ("grpc.max_receive_message_length", 8 * 1024 * 1024)]
        self._channels = {
            name: grpc.aio.secure_channel(p.address, creds, options=options) for name, p in settings.providers.items()
        }
        self._stubs = {name: provider_pb2_grpc.ProviderServiceStub(ch) for name, ch in self._channels.items()}
        self._doc_types: dict[str, common_pb2.DocumentType] = {}
        self._members: dict[str, str] = {}
        self._describe_lock = asyncio.Lock()

    def owner(self, doc_type: str) -> ProviderConfig:
        """The provider that owns doc_type. Raises InvalidRequest for an unknown type."""
        provider = self._settings.provider_of(doc_type)
        if provider is None:
            known = ", ".join(sorted(t for p in self._settings.providers.values() for t in p.doc_types))
            raise InvalidRequest(
                "unknown_doc_type",
                f"doc_type: ไม่มีเอกสารประเภท {doc_type[:60]!r} / unknown document type {doc_type[:60]!r};"
                f" known types: {known}",
            )
        return provider

    async def describe(self, doc_type: str) -> common_pb2.DocumentType:
        """The document type as its provider describes it (asked once, then kept)."""
        known = self._doc_types.get(doc_type)
        if known is not None:
            return known
        provider = self.owner(doc_type)
        async with self._describe_lock:
            if doc_type not in self._doc_types:
                answer = await self._call(provider.name, "Describe", provider_pb2.DescribeRequest())
                self._members[provider.name] = answer.member
                for t in answer.doc_types:
                    if self._settings.provider_of(t.code) is provider:
                        self._doc_types[t.code] = t
        found = self._doc_types.get(doc_type)
        if found is None:
            raise ProviderFault("doc_type_not_served",
                                f"ผู้ให้ข้อมูล {provider.name} ไม่ได้ให้บริการ {doc_type} / provider {provider.name}"
                                f" does not describe {doc_type} although the configuration says it owns it",
                                provider=provider.name)
        return found

    def member(self, provider: str) -> str:
        """The provider's X-Road member/subsystem, known once describe() has reached it."""
        return self._members.get(provider, provider)

    async def get_record(self, doc_type: str, subject_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """The record's data, only the given fields (all when empty)."""
        provider = self.owner(doc_type)
        answer = await self._call(provider.name, "GetRecord",
                                  provider_pb2.GetRecordRequest(doc_type=doc_type, subject_id=subject_id,
                                                                fields=list(fields)))
        return _integral(json_format.MessageToDict(answer.data))  # type: ignore[no-any-return]

    async def check_card(self, card: provider_pb2.CheckCardRequest) -> bool:
        provider = self.owner("dopa.card")
        answer = await self._call(provider.name, "CheckCard", card)
        return bool(answer.match)

    async def _call(self, provider: str, method: str, request: Any) -> Any:
        try:
            return await getattr(self._stubs[provider], method)(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate(provider, exc) from None

    async def close(self) -> None:
        await asyncio.gather(*(ch.close() for ch in self._channels.values()))


def _integral(value: Any) -> Any:
    """Struct carries every number as a double: give whole numbers back as integers (moo 7, not 7.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _translate(provider: str, exc: grpc.aio.AioRpcError) -> LinkageError:
    code = exc.code()
    if code == grpc.StatusCode.NOT_FOUND:
        inner = from_rpc_error(exc)
        return NotFound(inner.reason, inner.message, provider=provider)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        inner = from_rpc_error(exc)
        return InvalidRequest(inner.reason, inner.message, provider=provider)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ProviderTimeout(
            "provider_timeout",
            f"ผู้ให้ข้อมูล {provider} ไม่ตอบภายในเวลาที่กำหนด / provider {provider} did not answer in time;"
            " try again later", provider=provider)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ProviderUnavailable(
            "provider_unavailable",
            f"ผู้ให้ข้อมูล {provider} ไม่พร้อมให้บริการ / provider {provider} is unavailable; try again later",
            provider=provider)
    return ProviderFault(
        "provider_error",
        f"ผู้ให้ข้อมูล {provider} ตอบกลับผิดพลาด / provider {provider} failed ({code.name})", provider=provider)
