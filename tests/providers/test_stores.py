"""The registry stores on both backends: the same records, versions, refusals, and loads that replace whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from linkage.storage import Database, DatabaseUnavailable, SchemaMismatch
from providers import REGISTRIES
from providers.store import STORE_VERSION, open_record_store
from providers.synth import generate
from tests.backends import fresh_database
from tests.providers.conftest import Seeded

_TABLES = {"dopa": ("record", "house", "house_member", "card_check"), "dbd": ("record",), "edu": ("record",),
           "promptpay": ("record",)}


def _sqlite_rows(seeded: Seeded, name: str, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(seeded.data_dir / f"{name}.sqlite") as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())


def _pg(database: Database, query: sql.SQL | sql.Composed, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _pg_rows(database: Database, name: str, table: str) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(database.schema(name)), sql.Identifier(table))
    return sorted(_pg(database, query))


def _schemas(database: Database) -> list[str]:
    return [s for (s,) in _pg(database, sql.SQL("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1"),
                              (f"{database.namespace}\\_%",))]


def test_postgres_holds_the_same_records_as_sqlite(seeded: Seeded, seeded_pg: Seeded) -> None:
    assert seeded_pg.result.personas == seeded.result.personas
    assert seeded_pg.result.officers == seeded.result.officers and seeded_pg.result.counts == seeded.result.counts
    assert seeded_pg.database is not None
    for name, tables in _TABLES.items():
        for table in tables:
            assert _pg_rows(seeded_pg.database, name, table) == _sqlite_rows(seeded, name, table), (name, table)
    # Loaded in staging schemas, swapped in: none of those is left.
    assert _schemas(seeded_pg.database) == sorted(seeded_pg.database.schema(n) for n in REGISTRIES)


async def test_stores_carry_their_version_and_refuse_a_newer_one(seeded: Seeded, postgres: Database,
                                                                 tmp_path: Path) -> None:
    copy = tmp_path / "edu.sqlite"
    copy.write_bytes((seeded.data_dir / "edu.sqlite").read_bytes())
    database = fresh_database(postgres)
    generate(tmp_path / "unused", citizens=50, seed=2, database=database)
    assert _pg(database, sql.SQL("SELECT version FROM {}.schema_version").format(
        sql.Identifier(database.schema("edu")))) == [(STORE_VERSION,)]
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(STORE_VERSION,)]
        conn.execute("INSERT INTO schema_version VALUES (?, 'from the future', '2099-01-01')", (STORE_VERSION + 1,))
    _pg(database, sql.SQL("INSERT INTO {}.schema_version VALUES (%s, 'from the future', '2099-01-01')"
                          " RETURNING version").format(sql.Identifier(database.schema("edu"))), (STORE_VERSION + 1,))
    for where in (copy, database):
        with pytest.raises(SchemaMismatch) as info:
            await open_record_store(REGISTRIES["edu"], where)
        assert f"schema version {STORE_VERSION + 1}" in str(info.value) and "linkage init" in str(info.value)


async def test_a_store_made_before_versioning_is_read(seeded: Seeded, tmp_path: Path) -> None:
    copy = tmp_path / "edu.sqlite"
    copy.write_bytes((seeded.data_dir / "edu.sqlite").read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE schema_version")
    store = await open_record_store(REGISTRIES["edu"], copy)
    try:
        graduate = seeded.persona("graduate")["id"]
        assert (await store.get("edu.degree", graduate) or {})["personal_id"] == graduate
    finally:
        await store.close()


async def test_missing_stores_say_how_to_make_them(postgres: Database, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="linkage init"):
        await open_record_store(REGISTRIES["dopa"], tmp_path / "dopa.sqlite")
    with pytest.raises(FileNotFoundError, match=r"no dopa store in schema t\w+_dopa .*linkage init --database"):
        await open_record_store(REGISTRIES["dopa"], fresh_database(postgres))
    with pytest.raises(DatabaseUnavailable) as info:
        await open_record_store(REGISTRIES["dopa"], Database("postgresql://u:s3cret@127.0.0.1:1/x"))
    assert "127.0.0.1:1" in str(info.value) and "s3cret" not in str(info.value)


async def test_a_new_load_replaces_the_old_whole_and_an_interrupted_one_leaves_it(postgres: Database,
                                                                                  tmp_path: Path) -> None:
    database = fresh_database(postgres)
    first = generate(tmp_path / "unused", citizens=300, seed=5, database=database)
    before = _pg_rows(database, "dopa", "record")

    class Interrupted(Exception):
        pass

    def interrupt(stage: str, done: int, total: int) -> None:
        raise Interrupted  # as Ctrl-C would, after the first batch

    with pytest.raises(Interrupted):
        generate(tmp_path / "unused", citizens=12_000, seed=6, database=database, progress=interrupt)
    assert _pg_rows(database, "dopa", "record") == before  # the old data, untouched
    assert _schemas(database) == sorted(database.schema(n) for n in REGISTRIES)  # no half-loaded schema left
    second = generate(tmp_path / "unused", citizens=200, seed=6, database=database)
    assert second.personas != first.personas
    assert len([r for r in _pg_rows(database, "dopa", "record") if r[0] == "dopa.person"]) == 200
    after = {r[1] for r in _pg_rows(database, "dopa", "record")}
    gone = next(r[1] for r in before if r[1] not in after)  # someone of the first load only
    adult = next(p["id"] for p in second.personas if "ordinary" in p["label"])
    store = await open_record_store(REGISTRIES["dopa"], database)
    try:
        assert (await store.get("dopa.person", adult) or {})["personal_id"] == adult
        assert await store.get("dopa.person", gone) is None
    finally:
        await store.close()
