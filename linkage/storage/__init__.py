"""Where the sandbox keeps its data: SQLite files in the home folder (the default) or one PostgreSQL server.

Each concern has one storage interface with two backends, chosen by the same setting
(``--database postgresql://…`` or ``LINKAGE_DATABASE``; empty means SQLite):

    the exchange log     linkage.hub.logstore.LogStore        entries, tree nodes, checkpoints
    a registry's data    providers.store.RecordStore         documents, houses, card checks

On PostgreSQL every part lives in a schema of its own, ``<namespace>_<part>``
(``linkage_log``, ``linkage_dopa``, …), so that the registries keep the table names
they have in their SQLite files. Each store carries a ``schema_version`` table and
applies its versioned migrations when it opens (``linkage.storage.migrations``).

Error tree (``code`` is stable, the message says what is wrong and what would be right)::

    StorageError              storage_error
    ├── BadDatabaseUrl        bad_database_url       the setting is not a PostgreSQL URL
    ├── DatabaseUnavailable   database_unavailable   cannot connect, or the server went away
    └── SchemaMismatch        schema_too_new         made by a newer linkage; or not_a_linkage_store
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PG_OPTIONS",
    "BadDatabaseUrl",
    "Database",
    "DatabaseUnavailable",
    "SchemaMismatch",
    "StorageError",
    "cannot_connect",
    "drop_schemas",
    "parse_database",
    "pg_connect",
    "sandbox_schemas",
    "set_search_path",
]

_NAMESPACE = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
# libpq settings of every connection: fail fast when the server is gone rather than hang a commit.
PG_OPTIONS: dict[str, Any] = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "application_name": "linkage",
}


class StorageError(Exception):
    """A store cannot be opened or used; ``code`` is a stable snake_case code."""

    code: ClassVar[str] = "storage_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code  # type: ignore[misc]

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadDatabaseUrl(StorageError):
    code = "bad_database_url"


class DatabaseUnavailable(StorageError):
    code = "database_unavailable"


class SchemaMismatch(StorageError):
    code = "schema_too_new"


@dataclass(frozen=True)
class Database:
    """A PostgreSQL server that holds the sandbox's data instead of SQLite files.

    ``url`` is a libpq URL (``postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?PARAM=VALUE]``);
    ``namespace`` prefixes each part's schema, so one database can hold several sandboxes.
    The password never appears in ``repr`` or ``str``.
    """

    url: str
    namespace: str = "linkage"

    def __post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace):
            raise BadDatabaseUrl(f"namespace {self.namespace[:60]!r}: use lower-case letters, digits and _"
                                 " (at most 41, not starting with a digit)")

    def schema(self, part: str) -> str:
        """The schema that holds one part: "log" or a registry's name."""
        return f"{self.namespace}_{part}"

    def staging_schema(self, part: str) -> str:
        """Where a bulk load of a part is written before it is swapped in (see providers.synth.bulk)."""
        return f"{self.schema(part)}__load"

    @property
    def redacted(self) -> str:
        """The URL with its password replaced by ***."""
        return _redact(self.url)

    def __repr__(self) -> str:
        return f"Database({self.redacted!r}, namespace={self.namespace!r})"

    __str__ = __repr__


def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unreadable URL>"


def parse_database(text: str | None, *, where: str = "--database / LINKAGE_DATABASE") -> Database | None:
    """None for SQLite (empty or "sqlite"); a Database for a postgresql:// URL. Raises BadDatabaseUrl."""
    value = (text or "").strip()
    if value in ("", "sqlite"):
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise BadDatabaseUrl(
            f"{where}: {_redact(value)[:80]!r} is not a PostgreSQL URL; give postgresql://USER@HOST:PORT/DBNAME"
            " (e.g. postgresql://postgres@127.0.0.1:5432/test), or leave it empty for SQLite files")
    from psycopg import conninfo

    try:
        conninfo.conninfo_to_dict(value)
    except Exception as exc:
        raise BadDatabaseUrl(f"{where}: {_redact(value)[:80]!r} cannot be read as a PostgreSQL URL: {exc}") from None
    return Database(value)


def pg_connect(database: Database, schema: str | None = None, *, autocommit: bool = True,
               application_name: str = "linkage") -> psycopg.Connection[Any]:
    """A connection that fails fast when the server is gone; search_path set to schema when given.

    Raises DatabaseUnavailable naming the server (never its password).
    """
    import psycopg

    try:
        conn = psycopg.connect(database.url, autocommit=autocommit,
                               **{**PG_OPTIONS, "application_name": application_name})
    except psycopg.Error as exc:
        raise cannot_connect(database, exc) from exc
    if schema is not None:
        set_search_path(conn, schema)
    return conn


def cannot_connect(database: Database, exc: BaseException | None = None) -> DatabaseUnavailable:
    """The error for a server that does not answer: names it (never its password) and the first line of why."""
    why = f": {_first_line(exc)}" if exc is not None else ""
    return DatabaseUnavailable(f"cannot connect to PostgreSQL at {database.redacted}{why}"
                               " (is it running? check with pg_isready)")


def sandbox_schemas(database: Database, parts: Sequence[str]) -> list[str]:
    """Which schemas of these parts ("log", a registry's name) exist, loaded or half-loaded, sorted."""
    wanted = [n for p in parts for n in (database.schema(p), database.staging_schema(p))]
    with pg_connect(database) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY nspname",
                            (wanted,)).fetchall()
    return [str(name) for (name,) in rows]


def drop_schemas(database: Database, parts: Sequence[str]) -> None:
    """Drop the schemas of these parts (and any half-loaded ones) in one transaction."""
    from psycopg import sql

    names = sandbox_schemas(database, parts)
    with pg_connect(database) as conn, conn.transaction():
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def set_search_path(conn: psycopg.Connection[Any], schema: str) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    if not conn.autocommit:
        conn.commit()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
