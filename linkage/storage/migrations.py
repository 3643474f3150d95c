"""Versioned schema migrations, applied when a store opens.

A store (one SQLite file, or one PostgreSQL schema) holds a table

    schema_version(version INTEGER PRIMARY KEY, description TEXT, applied_at TEXT)

with one row per migration applied. ``migrate_sqlite`` / ``migrate_postgres`` apply the
missing ones, in order, in one transaction, and refuse (``SchemaMismatch``) a store
whose version is newer than this program knows. On PostgreSQL an advisory lock
serialises processes that open the same schema at once (several hub replicas).

A migration has its statements for each backend; the first of a store creates its
tables with ``IF NOT EXISTS`` so that stores made before versioning are adopted as
version 1 without change.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linkage.storage import SchemaMismatch

if TYPE_CHECKING:
    import psycopg

__all__ = ["Migration", "check_chain", "migrate_postgres", "migrate_sqlite", "postgres_version", "sqlite_version",
           "stamp_postgres", "stamp_sqlite"]

_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                  " description TEXT NOT NULL, applied_at TEXT NOT NULL)")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


def check_chain(migrations: Sequence[Migration]) -> int:
    """The latest version; raises ValueError unless versions run 1, 2, 3, … without a gap."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1..n in order, got {versions}")
    return len(versions)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _too_new(what: str, found: int, latest: int) -> SchemaMismatch:
    return SchemaMismatch(f"{what} has schema version {found}, newer than the {latest} this linkage knows;"
                          " run the linkage version that made it, or a newer one")


def sqlite_version(conn: sqlite3.Connection) -> int | None:
    """The store's version, or None when it has no schema_version table."""
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if has is None:
        return None
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])


def migrate_sqlite(conn: sqlite3.Connection, migrations: Sequence[Migration], what: str) -> int:
    """Apply the missing migrations in one transaction; return the version. conn must be in autocommit mode."""
    latest = check_chain(migrations)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_VERSION_TABLE)
        current = int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
        if current > latest:
            raise _too_new(what, current, latest)
        for m in migrations[current:]:
            for statement in m.sqlite:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (m.version, m.description, _now()))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return max(current, latest)


def stamp_sqlite(conn: sqlite3.Connection, version: int, description: str) -> None:
    """Record a store written whole at version (by a bulk load rather than by migrations)."""
    conn.execute(_VERSION_TABLE)
    conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (version, description, _now()))


def stamp_postgres(conn: psycopg.Connection[Any], version: int, description: str) -> None:
    """stamp_sqlite for PostgreSQL: in the schema first on conn's search_path."""
    conn.execute(_VERSION_TABLE)
    conn.execute("INSERT INTO schema_version VALUES (%s, %s, %s)", (version, description, _now()))


def postgres_version(conn: psycopg.Connection[Any], schema: str) -> int | None:
    """The version of the store in schema, or None when the schema has no schema_version table."""
    row = conn.execute("SELECT to_regclass(format('%%I.schema_version', %s::text)) IS NOT NULL", (schema,)).fetchone()
    if row is None or not row[0]:
        return None
    from psycopg import sql

    found = conn.execute(sql.SQL("SELECT COALESCE(MAX(version), 0) FROM {}.schema_version")
                         .format(sql.Identifier(schema))).fetchone()
    return int(found[0]) if found else 0


def migrate_postgres(conn: psycopg.Connection[Any], schema: str, migrations: Sequence[Migration], what: str) -> int:
    """Create schema if needed and apply the missing migrations in one transaction; return the version.

    The statements run with search_path set to schema. Takes a transaction-scoped advisory lock
    on the schema's name, so concurrent openers apply each migration once.
    """
    from psycopg import sql

    latest = check_chain(migrations)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('linkage.migrate.' || %s, 0))", (schema,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(_VERSION_TABLE)
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        if current > latest:
            raise _too_new(what, current, latest)
        for m in migrations[current:]:
            for statement in m.postgres:
                conn.execute(statement.encode())
            conn.execute("INSERT INTO schema_version VALUES (%s, %s, %s)", (m.version, m.description, _now()))
    return max(current, latest)
