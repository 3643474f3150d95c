"""What a mock registry is: its name, X-Road member, document types and how to read its SQLite store.

Every registry keeps one SQLite file. Documents are stored as JSON text, one row per
(doc_type, subject_id), so that a lookup is one indexed query::

    record(doc_type TEXT, subject_id TEXT, data TEXT)        unique index (doc_type, subject_id)

A registry may add tables of its own (DOPA keeps houses apart from their members,
and the card secrets that only ``CheckCard`` reads); its ``queries`` say how each
document type is read: SQL with one parameter, the subject ID, returning one JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from linkage.ids import IdKind
from linkage.v1 import common_pb2

__all__ = ["RECORD_INDEX", "RECORD_TABLE", "Registry", "doc_type", "field"]

RECORD_TABLE = "CREATE TABLE record (doc_type TEXT NOT NULL, subject_id TEXT NOT NULL, data TEXT NOT NULL)"
# Built after the bulk load: sorting once is much faster than inserting into a B-tree in random order.
RECORD_INDEX = "CREATE UNIQUE INDEX record_key ON record (doc_type, subject_id)"


@dataclass(frozen=True)
class Registry:
    """One mock registry. ``doc_types`` is keyed by code, in the order Describe lists them."""

    name: str
    member: str
    title_th: str
    title_en: str
    doc_types: Mapping[str, common_pb2.DocumentType]
    queries: Mapping[str, str]
    # DDL run on an empty store before the bulk load, and after it (indexes).
    schema: tuple[str, ...]
    indexes: tuple[str, ...]
    # True for the registry that serves dopa.card and answers CheckCard.
    checks_cards: bool = False

    def id_kind(self, code: str) -> IdKind:
        """The kind of ID that keys documents of type code."""
        kind = self.doc_types[code].subject_kind
        return IdKind.JURISTIC if kind == common_pb2.SUBJECT_KIND_JURISTIC else IdKind.CITIZEN


def field(name: str, title_th: str, title_en: str, json_type: str = "string") -> common_pb2.FieldSpec:
    return common_pb2.FieldSpec(name=name, title_th=title_th, title_en=title_en, type=json_type)


def doc_type(code: str, title_th: str, title_en: str, kind: IdKind, fields: list[common_pb2.FieldSpec], *,
             requires_citizen_present: bool = False) -> common_pb2.DocumentType:
    subject_kind = common_pb2.SUBJECT_KIND_JURISTIC if kind is IdKind.JURISTIC else common_pb2.SUBJECT_KIND_CITIZEN
    return common_pb2.DocumentType(code=code, title_th=title_th, title_en=title_en, subject_kind=subject_kind,
                                   fields=fields, requires_citizen_present=requires_citizen_present)


def record_query(code: str) -> str:
    """The plain query for a document stored in the record table."""
    return f"SELECT data FROM record WHERE doc_type = '{code}' AND subject_id = ?"
