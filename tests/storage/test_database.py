"""Choosing the backend: the database setting, its secret kept out of sight, and a sandbox's schemas."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from linkage.cli.sandbox import init
from linkage.config import ConfigError, Home, load_settings
from linkage.storage import BadDatabaseUrl, Database, drop_schemas, parse_database, sandbox_schemas
from providers import REGISTRIES
from providers.synth import generate
from tests.backends import fresh_database


@pytest.mark.parametrize("text", ["", "  ", "sqlite", None])
def test_empty_or_sqlite_means_sqlite_files(text: str | None) -> None:
    assert parse_database(text) is None


def test_a_postgresql_url_is_kept_and_its_password_hidden() -> None:
    db = parse_database("postgresql://linkage:s3cret@db.example:6543/linkage?sslmode=require")
    assert db is not None and db.url.endswith("/linkage?sslmode=require") and db.schema("log") == "linkage_log"
    shown = f"{db!r} {db} {db.redacted}"
    assert "s3cret" not in shown and "linkage:***@db.example:6543" in db.redacted
    assert parse_database("postgres://u@h/d") is not None


@pytest.mark.parametrize(("text", "says"), [
    ("mysql://root@127.0.0.1/test", "not a PostgreSQL URL"),
    ("/var/lib/linkage.sqlite", "not a PostgreSQL URL"),
    ("postgresql://u@h/d?colour=blue", "cannot be read as a PostgreSQL URL"),
])
def test_a_wrong_setting_says_what_would_be_right(text: str, says: str) -> None:
    with pytest.raises(BadDatabaseUrl) as info:
        parse_database(text, where="LINKAGE_DATABASE")
    assert info.value.code == "bad_database_url" and says in str(info.value)
    assert str(info.value).startswith("LINKAGE_DATABASE: ")
    assert "postgresql://USER@HOST:PORT/DBNAME" in str(info.value) or "cannot be read" in str(info.value)


def test_a_namespace_must_be_a_plain_name() -> None:
    with pytest.raises(BadDatabaseUrl, match="lower-case letters"):
        Database("postgresql://u@h/d", namespace="Robert'); DROP TABLE x;--")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return init(tmp_path_factory.mktemp("sandbox"), citizens=60, seed=3)


def test_settings_take_the_database_from_the_file_or_the_environment(home: Home,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKAGE_DATABASE", raising=False)
    assert load_settings(home).database is None  # the default: SQLite files, as before
    text = home.config_file.read_text(encoding="utf-8")
    try:
        home.config_file.write_text('database = "postgresql://postgres@127.0.0.1:5432/test"\n' + text,
                                    encoding="utf-8")
        assert load_settings(home).database == Database("postgresql://postgres@127.0.0.1:5432/test")
        monkeypatch.setenv("LINKAGE_DATABASE", "")  # the environment wins, and empty means SQLite
        assert load_settings(home).database is None
        monkeypatch.setenv("LINKAGE_DATABASE", "mysql://x")
        with pytest.raises(ConfigError, match="LINKAGE_DATABASE: 'mysql://x' is not a PostgreSQL URL"):
            load_settings(home)
        monkeypatch.delenv("LINKAGE_DATABASE")
        home.config_file.write_text("database = 5432\n" + text, encoding="utf-8")
        with pytest.raises(ConfigError, match=r"linkage.toml database must be a string"):
            load_settings(home)
    finally:
        home.config_file.write_text(text, encoding="utf-8")


def test_a_sandbox_schemas_are_found_and_dropped(postgres: Database, tmp_path: Path) -> None:
    db = fresh_database(postgres)
    parts = ["log", *REGISTRIES]
    assert sandbox_schemas(db, parts) == []
    generate(tmp_path, citizens=30, seed=1, database=db)
    other = dataclasses.replace(db, namespace=f"{db.namespace}_x")  # a prefix-sharing neighbour stays
    generate(tmp_path, citizens=30, seed=1, database=other)
    assert sandbox_schemas(db, parts) == sorted(db.schema(n) for n in REGISTRIES)
    drop_schemas(db, parts)
    assert sandbox_schemas(db, parts) == []
    assert sandbox_schemas(other, parts) == sorted(other.schema(n) for n in REGISTRIES)
