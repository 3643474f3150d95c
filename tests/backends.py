"""Fixtures that run a test on each storage backend: SQLite files and a real PostgreSQL.

``postgres`` (session): a database made for this test session on the server named by
LINKAGE_TEST_DATABASE (default postgresql://postgres@127.0.0.1:5432/test), dropped at the end.
When that server cannot be reached the PostgreSQL cases are skipped, saying how to run them,
or fail when LINKAGE_REQUIRE_POSTGRES=1 (CI sets it).

``own_database``: a database of the test's own on that server (for processes that read linkage.toml,
which names a database, not a namespace), dropped afterwards; ``database_on(url)`` makes one anywhere.

``backend`` is parametrised "sqlite" / "postgresql"; ``fresh_database(postgres)`` gives a
namespace of its own inside the session's database, so tests do not see each other's data.
Import the fixtures into a conftest or test module: ``from tests.backends import backend, postgres``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from linkage.storage import Database

__all__ = ["BACKENDS", "backend", "database_on", "fresh_database", "own_database", "postgres",
           "skip_without_postgres"]

BACKENDS = ("sqlite", "postgresql")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
_counter = itertools.count()


def skip_without_postgres(message: str) -> NoReturn:
    """Skip with message; fail instead when LINKAGE_REQUIRE_POSTGRES=1 (CI)."""
    if os.environ.get("LINKAGE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"LINKAGE_REQUIRE_POSTGRES=1 but {message}", pytrace=False)
    pytest.skip(message)


def _unavailable(url: str, why: str) -> None:
    skip_without_postgres(f"PostgreSQL is not reachable at {Database(url).redacted} ({why}); to run these cases"
                          " start PostgreSQL there (trust auth) or set"
                          " LINKAGE_TEST_DATABASE=postgresql://USER@HOST:PORT/DBNAME")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Database]:
    """A database of this session's own on the test server; dropped afterwards."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("LINKAGE_TEST_DATABASE", DEFAULT_SERVER)
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        _unavailable(url, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise AssertionError("unreachable") from exc  # skip/fail above raised already
    name = f"linkage_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield Database(_with_db(url, name))
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _with_db(url: str, name: str) -> str:
    """url (a postgresql:// URL or a libpq conninfo string) with database name instead of its own."""
    from urllib.parse import urlsplit, urlunsplit

    from psycopg import conninfo

    if "://" not in url:
        return conninfo.make_conninfo(url, dbname=name)
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def fresh_database(server: Database) -> Database:
    """A namespace no other test uses, in the session's database."""
    return Database(server.url, namespace=f"t{next(_counter)}_{uuid.uuid4().hex[:6]}")


@contextlib.contextmanager
def database_on(server: str, prefix: str = "linkage_own") -> Iterator[Database]:
    """A database made on server (a URL or a libpq conninfo string) for one test or run; dropped afterwards,
    with every connection to it."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield Database(_with_db(server, name))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def own_database(postgres: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A database of the test's own on the test server, dropped afterwards. linkage.toml names a database, not a
    namespace: the processes of a sandbox with replicas need a database of their own."""
    monkeypatch.delenv("LINKAGE_DATABASE", raising=False)
    with database_on(postgres.url) as database:
        yield database


@pytest.fixture(params=BACKENDS)
def backend(request: Any) -> str:
    """ "sqlite" or "postgresql"; the PostgreSQL case is skipped (or fails) without a server."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres")
    return str(request.param)
