"""Bulk loading of the registry stores for the seeder: SQLite files, or PostgreSQL schemas filled with COPY.

A target lives in the seeder's writer process::

    target = open_target(where)        # where: a folder for {dopa,dbd,edu}.sqlite, or a Database
    target.write(name, table, rows)    # one batch of one table: one transaction
    target.finish(progress)            # indexes, statistics, schema_version; then the stores are in place

SQLite: each file is written with the journal off and indexed after the load (sorting once is much
faster than inserting into a B-tree in random order). PostgreSQL: each registry is loaded into
its ``Database.staging_schema`` with ``COPY`` and ``synchronous_commit=off`` (a crash mid-seed
means seeding again), indexed, analysed, then ``finish`` swaps every new schema in and drops the old
ones in one transaction: readers see the old data or the new, never half of it.
``drop_loading(database)`` removes what an interrupted load left.

``open_reader(where)`` answers single-row queries (with ``?`` placeholders) on finished stores,
for the personas and the benchmarks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from linkage.storage import Database, pg_connect, set_search_path
from linkage.storage.migrations import stamp_postgres, stamp_sqlite
from providers import REGISTRIES
from providers.store import STORE_VERSION

if TYPE_CHECKING:
    import psycopg

__all__ = ["BulkTarget", "Reader", "drop_loading", "open_reader", "open_target"]

Event = Callable[[str, int, int], None]
_VERSION_NOTE = "registry tables, written whole by the seeder"
_CACHE_MB = {"dopa": 24, "dbd": 4, "edu": 4, "promptpay": 4}
_COLUMNS = {"record": 3, "house": 2, "house_member": 2, "card_check": 6}


class BulkTarget(Protocol):
    def write(self, name: str, table: str, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def finish(self, event: Event) -> None:
        """Index every store and put it in place; event("indexes", done, total) after each."""

    def close(self) -> None:
        """Let go of the connections (after finish, or to give up)."""


def open_target(where: Path | Database) -> BulkTarget:
    """Start loading every registry of providers.REGISTRIES into where (replacing what is there at finish)."""
    if isinstance(where, Database):
        return _PostgresTarget(where)
    return _SqliteTarget(where)


class _SqliteTarget:
    def __init__(self, data_dir: Path) -> None:
        self._conns: dict[str, sqlite3.Connection] = {}
        for name in REGISTRIES:
            path = data_dir / f"{name}.sqlite"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            self._conns[name] = conn
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # a crash mid-seed means seeding again anyway
            conn.execute(f"PRAGMA cache_size=-{_CACHE_MB[name] * 1024}")
            conn.execute("PRAGMA temp_store=FILE")
            for ddl in REGISTRIES[name].schema:
                conn.execute(ddl)

    def write(self, name: str, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        conn = self._conns[name]
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * _COLUMNS[table])})", rows)
        conn.execute("COMMIT")

    def finish(self, event: Event) -> None:
        for i, (name, conn) in enumerate(self._conns.items()):
            conn.execute("BEGIN")
            for ddl in REGISTRIES[name].indexes:
                conn.execute(ddl)
            stamp_sqlite(conn, STORE_VERSION, _VERSION_NOTE)
            conn.execute("COMMIT")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Back to a rollback journal: a store opened read-only then needs no -wal/-shm files beside it.
            conn.execute("PRAGMA journal_mode=DELETE")
            event("indexes", i + 1, len(self._conns))

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()


def drop_loading(database: Database) -> None:
    """Drop the half-loaded schemas that an interrupted seeding left (none: nothing happens)."""
    from psycopg import sql

    with pg_connect(database) as conn:
        for name in REGISTRIES:
            staging = sql.Identifier(database.staging_schema(name))
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(staging))


class _PostgresTarget:
    def __init__(self, database: Database) -> None:
        from psycopg import sql

        self._database = database
        self._conn = pg_connect(database)
        self._conn.execute("SET synchronous_commit = off")
        drop_loading(database)
        for name in REGISTRIES:
            schema = sql.Identifier(database.staging_schema(name))
            self._conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            set_search_path(self._conn, database.staging_schema(name))
            for ddl in REGISTRIES[name].schema:
                self._conn.execute(ddl.encode())

    def write(self, name: str, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        from psycopg import sql

        if not rows:
            return
        copy = sql.SQL("COPY {}.{} FROM STDIN").format(sql.Identifier(self._database.staging_schema(name)),
                                                      sql.Identifier(table))
        with self._conn.transaction(), self._conn.cursor() as cur, cur.copy(copy) as cp:
            for row in rows:
                cp.write_row(row)

    def finish(self, event: Event) -> None:
        from psycopg import sql

        conn = self._conn
        for i, name in enumerate(REGISTRIES):
            set_search_path(conn, self._database.staging_schema(name))
            with conn.transaction():
                for ddl in REGISTRIES[name].indexes:
                    conn.execute(ddl.encode())
                stamp_postgres(conn, STORE_VERSION, _VERSION_NOTE)
            conn.execute("ANALYZE")
            event("indexes", i + 1, len(REGISTRIES))
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = on")
            for name in REGISTRIES:
                final = self._database.schema(name)
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(final)))
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(self._database.staging_schema(name)), sql.Identifier(final)))

    def close(self) -> None:
        self._conn.close()


class Reader(Protocol):
    def one(self, name: str, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row of query (``?`` placeholders) on registry name's store, or None."""

    def close(self) -> None: ...


def open_reader(where: Path | Database) -> Reader:
    """Read the finished stores in where: a folder of .sqlite files, or a Database."""
    if isinstance(where, Database):
        return _PostgresReader(where)
    return _SqliteReader(where)


class _SqliteReader:
    def __init__(self, data_dir: Path) -> None:
        self._conns = {name: sqlite3.connect(f"file:{data_dir / f'{name}.sqlite'}?mode=ro", uri=True)
                       for name in REGISTRIES}

    def one(self, name: str, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conns[name].execute(query, params).fetchone()
        return row

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()


class _PostgresReader:
    def __init__(self, database: Database) -> None:
        self._conns: dict[str, psycopg.Connection[Any]] = {}
        try:
            for name in REGISTRIES:
                self._conns[name] = pg_connect(database, database.schema(name))
        except BaseException:
            self.close()
            raise

    def one(self, name: str, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conns[name].execute(query.replace("?", "%s").encode(), params).fetchone()
        return row

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
