"""Read-only access to one registry's data: one interface, a SQLite file or a PostgreSQL schema behind it.

``await open_record_store(registry, where)`` opens ``where``: a ``Path`` (the registry's SQLite
file) or a ``linkage.storage.Database`` (the schema ``<namespace>_<registry>`` on PostgreSQL,
read through psycopg's asyncio connection pool). Both hold the tables of ``providers.registry``
and answer the registry's ``queries`` with one indexed lookup.

A store is written whole by the seeder (``providers.synth``) at the current schema version
(``STORE_VERSION``, kept in its ``schema_version`` table); opening refuses a store that a newer
linkage made (``SchemaMismatch``) and one that does not exist (``FileNotFoundError``, naming
``linkage init``). A store from before versioning (no ``schema_version``) is read as version 1.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from linkage.storage import PG_OPTIONS, Database, SchemaMismatch, cannot_connect
from linkage.storage.migrations import sqlite_version
from providers.registry import Registry

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["STORE_VERSION", "PostgresRecordStore", "RecordStore", "SqliteRecordStore", "open_record_store",
           "postgres_query"]

STORE_VERSION = 1
"""The version of the registry tables (``providers.registry``) that the seeder writes and this code reads."""

_CARD_QUERY = ("SELECT first_name_th, last_name_th, birth_date, laser_code, active FROM card_check"
               " WHERE subject_id = ?")


class RecordStore(Protocol):
    """The registry's documents, read only. Every method may raise the backend's error when the database fails."""

    registry: Registry

    async def get(self, doc_type: str, subject_id: str) -> dict[str, Any] | None:
        """The stored document, or None. doc_type must be one of the registry's."""

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """``get`` for each (doc_type, subject_id), in order."""

    async def check_card(self, subject_id: str, first_name_th: str, last_name_th: str, birth_date: str,
                         laser_code: str) -> bool:
        """True when an active card of subject_id shows exactly these names, birth date and laser code."""

    async def card(self, subject_id: str) -> tuple[str, bool] | None:
        """The laser code of subject_id's card on record and whether it is active; None when there is none."""

    async def close(self) -> None: ...


async def open_record_store(registry: Registry, where: Path | Database) -> RecordStore:
    """Open registry's store at where. Raises FileNotFoundError, SchemaMismatch or DatabaseUnavailable."""
    if isinstance(where, Database):
        return await PostgresRecordStore.open(registry, where)
    return SqliteRecordStore(registry, where)


def postgres_query(query: str) -> str:
    """A registry query (SQLite's ? placeholder) for psycopg (%s)."""
    if "%" in query or query.count("?") != 1:
        raise ValueError(f"a registry query takes exactly one ? and no %: {query!r}")
    return query.replace("?", "%s")


def _check_version(found: int | None, what: str) -> None:
    if found is not None and found > STORE_VERSION:
        raise SchemaMismatch(f"{what} has schema version {found}, newer than the {STORE_VERSION} this linkage"
                             " knows; run the linkage version that made it, or make the store again with"
                             " `linkage init`")


def _document(row: tuple[Any, ...] | None) -> dict[str, Any] | None:
    """The document a registry query found (its one column is JSON text), or None."""
    if row is None:
        return None
    data: dict[str, Any] = json.loads(row[0])
    return data


def _card_matches(row: tuple[Any, ...] | None, first_name_th: str, last_name_th: str, birth_date: str,
                  laser_code: str) -> bool:
    if row is None:
        return False
    given = (first_name_th.strip(), last_name_th.strip(), birth_date.strip(), laser_code.strip().upper())
    # Compare every part, in constant time, so that timing does not tell which part differed.
    same = [hmac.compare_digest(a.encode(), str(b).encode()) for a, b in zip(given, row[:4], strict=True)]
    return all(same) and row[4] == 1


class SqliteRecordStore:
    """One read-only connection to the registry's file. Each lookup is one indexed query (tens of µs)."""

    def __init__(self, registry: Registry, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no {registry.name} store here; make one with `linkage init`")
        self.registry = registry
        # Lookups run on the event loop's thread only, without a thread hop (they take less than one);
        # check_same_thread is off so that a store made before the loop starts can be used from it.
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA query_only = ON")
            _check_version(sqlite_version(self._conn), f"the {registry.name} store {path}")
        except BaseException:
            self._conn.close()
            raise

    async def get(self, doc_type: str, subject_id: str) -> dict[str, Any] | None:
        return _document(self._conn.execute(self.registry.queries[doc_type], (subject_id,)).fetchone())

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        queries, conn = self.registry.queries, self._conn
        return [_document(conn.execute(queries[doc_type], (subject_id,)).fetchone()) for doc_type, subject_id in keys]

    async def check_card(self, subject_id: str, first_name_th: str, last_name_th: str, birth_date: str,
                         laser_code: str) -> bool:
        row = self._conn.execute(_CARD_QUERY, (subject_id,)).fetchone()
        return _card_matches(row, first_name_th, last_name_th, birth_date, laser_code)

    async def card(self, subject_id: str) -> tuple[str, bool] | None:
        row = self._conn.execute(_CARD_QUERY, (subject_id,)).fetchone()
        return None if row is None else (str(row[3]), row[4] == 1)

    async def close(self) -> None:
        self._conn.close()


class PostgresRecordStore:
    """The registry's schema on PostgreSQL, read through a pool of connections (prepared statements)."""

    def __init__(self, registry: Registry, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self.registry = registry
        self._pool = pool
        self._queries = {code: postgres_query(q) for code, q in registry.queries.items()}
        self._card = postgres_query(_CARD_QUERY)

    @classmethod
    async def open(cls, registry: Registry, database: Database, *, max_size: int = 8) -> PostgresRecordStore:
        import psycopg
        from psycopg import sql
        from psycopg_pool import AsyncConnectionPool, PoolTimeout

        schema = database.schema(registry.name)
        # One plain connection first: it fails at once, with the server's reason, where a pool would retry.
        try:
            first = await psycopg.AsyncConnection.connect(database.url, autocommit=True, **PG_OPTIONS)
        except psycopg.Error as exc:
            raise cannot_connect(database, exc) from exc
        async with first:
            found = await _pg_version(first, schema)
        if found is None:
            raise FileNotFoundError(f"no {registry.name} store in schema {schema} of {database.redacted};"
                                    f" make one with `linkage init --database …`")
        _check_version(found, f"the {registry.name} store in schema {schema}")

        async def configure(conn: AsyncConnection[Any]) -> None:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            database.url, min_size=1, max_size=max_size, open=False, configure=configure,
            kwargs={"autocommit": True, **PG_OPTIONS}, name=f"linkage-{registry.name}")
        try:
            await pool.open(wait=True, timeout=PG_OPTIONS["connect_timeout"] + 2)
        except PoolTimeout:
            await pool.close()
            raise cannot_connect(database) from None
        return cls(registry, pool)

    async def get(self, doc_type: str, subject_id: str) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(self._queries[doc_type].encode(), (subject_id,), prepare=True)
            return _document(await cur.fetchone())

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        # One connection, every query sent before any answer is read (libpq's pipeline mode): one round trip.
        async with self._pool.connection() as conn, conn.pipeline():
            cursors = [await conn.execute(self._queries[doc_type].encode(), (subject_id,), prepare=True)
                       for doc_type, subject_id in keys]
            return [_document(await cur.fetchone()) for cur in cursors]

    async def check_card(self, subject_id: str, first_name_th: str, last_name_th: str, birth_date: str,
                         laser_code: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(self._card.encode(), (subject_id,), prepare=True)
            row = await cur.fetchone()
        return _card_matches(row, first_name_th, last_name_th, birth_date, laser_code)

    async def card(self, subject_id: str) -> tuple[str, bool] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(self._card.encode(), (subject_id,), prepare=True)
            row = await cur.fetchone()
        return None if row is None else (str(row[3]), row[4] == 1)

    async def close(self) -> None:
        await self._pool.close()


async def _pg_version(conn: AsyncConnection[Any], schema: str) -> int | None:
    """postgres_version for an async connection (the same two queries)."""
    cur = await conn.execute("SELECT to_regclass(format('%%I.schema_version', %s::text)) IS NOT NULL", (schema,))
    row = await cur.fetchone()
    if row is None or not row[0]:
        cur = await conn.execute("SELECT to_regclass(format('%%I.record', %s::text)) IS NOT NULL", (schema,))
        legacy = await cur.fetchone()
        return 1 if legacy and legacy[0] else None
    from psycopg import sql

    cur = await conn.execute(sql.SQL("SELECT COALESCE(MAX(version), 0) FROM {}.schema_version")
                             .format(sql.Identifier(schema)))
    found = await cur.fetchone()
    return int(found[0]) if found else 0

