"""The storage tests run on SQLite and on a real PostgreSQL (see tests/backends.py)."""

from tests.backends import backend, postgres

__all__ = ["backend", "postgres"]
