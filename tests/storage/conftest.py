"""The storage tests run on SQLite and on a real PostgreSQL (see tests/backends.py)."""

from tests.backends import backend, own_database, postgres

__all__ = ["backend", "own_database", "postgres"]
