"""The mock registries (providers) behind the linkage hub.

``REGISTRIES`` maps each registry's name to its ``Registry`` (X-Road member,
document types keyed by code, how to read its SQLite store); iterating a registry's
``doc_types`` gives the codes it owns. ``owner_of(code)`` is the reverse.
"""

from __future__ import annotations

from linkage.v1 import common_pb2
from providers.dbd import REGISTRY as _DBD
from providers.dopa import REGISTRY as _DOPA
from providers.edu import REGISTRY as _EDU
from providers.promptpay import REGISTRY as _PROMPTPAY
from providers.registry import Registry

__all__ = ["REGISTRIES", "Registry", "document_types", "owner_of"]

REGISTRIES: dict[str, Registry] = {r.name: r for r in (_DOPA, _DBD, _EDU, _PROMPTPAY)}


def document_types() -> dict[str, common_pb2.DocumentType]:
    """Every document type of every registry, by code (what the hub's ListServices describes)."""
    return {code: spec for registry in REGISTRIES.values() for code, spec in registry.doc_types.items()}


def owner_of(code: str) -> Registry | None:
    """The registry that owns document type code, or None."""
    for registry in REGISTRIES.values():
        if code in registry.doc_types:
            return registry
    return None
