"""The exchange log's schema, the same five tables on SQLite and PostgreSQL (``linkage.hub.logstore`` draws
them), as numbered migrations a store applies when it opens (``linkage.storage.migrations``)."""

from __future__ import annotations

from linkage.storage.migrations import Migration

__all__ = ["LOG_MIGRATIONS"]

LOG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "entries, tree nodes and checkpoints",
        sqlite=(
            "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
            " printout_id TEXT NOT NULL, subject_hash TEXT NOT NULL, leaf BLOB NOT NULL)",
            "CREATE INDEX IF NOT EXISTS entries_subject ON entries(subject_hash) WHERE subject_hash != ''",
            "CREATE UNIQUE INDEX IF NOT EXISTS entries_printout ON entries(kind, printout_id)",
            "CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
            " PRIMARY KEY (level, idx)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL)",
        ),
        postgres=(
            "CREATE TABLE entries (idx BIGINT PRIMARY KEY, kind TEXT NOT NULL, printout_id TEXT NOT NULL,"
            " subject_hash TEXT NOT NULL, leaf BYTEA NOT NULL)",
            "CREATE INDEX entries_subject ON entries(subject_hash) WHERE subject_hash <> ''",
            "CREATE UNIQUE INDEX entries_printout ON entries(kind, printout_id)",
            "CREATE TABLE nodes (level SMALLINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,"
            " PRIMARY KEY (level, idx))",
            "CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL)",
        ),
    ),
    Migration(
        2, "queue of entries written by hub replicas that do not integrate",
        sqlite=(
            "CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " printout_id TEXT NOT NULL, subject_hash TEXT NOT NULL, leaf BLOB NOT NULL)",
            "CREATE UNIQUE INDEX IF NOT EXISTS queue_printout ON queue(kind, printout_id)",
        ),
        postgres=(
            "CREATE TABLE queue (seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, printout_id TEXT NOT NULL,"
            " subject_hash TEXT NOT NULL, leaf BYTEA NOT NULL, UNIQUE (kind, printout_id))",
        ),
    ),
    Migration(
        3, "checkpoints with their witnesses' cosignatures",
        sqlite=("CREATE TABLE IF NOT EXISTS cosigned (size INTEGER PRIMARY KEY, note TEXT NOT NULL)",),
        postgres=("CREATE TABLE cosigned (size BIGINT PRIMARY KEY, note TEXT NOT NULL)",),
    ),
    Migration(
        # linkage/hub/lognotify.py: replicas listen on "<schema>.queue" and "<schema>.checkpoints".
        4, "notify the hub replicas when entries are queued or a batch is committed (PostgreSQL only)",
        sqlite=(),
        postgres=(
            "CREATE FUNCTION notify_replicas() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_notify(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, ''); RETURN NULL; END $$",
            "CREATE TRIGGER queue_notify AFTER INSERT ON queue FOR EACH STATEMENT EXECUTE FUNCTION notify_replicas()",
            "CREATE TRIGGER checkpoints_notify AFTER INSERT ON checkpoints FOR EACH STATEMENT"
            " EXECUTE FUNCTION notify_replicas()",
        ),
    ),
    Migration(
        # linkage/hub/sharedlimits.py: each agency's token bucket and quota, leased to the replicas.
        5, "per-agency rate and quota shared by the hub replicas (PostgreSQL only)",
        sqlite=(),
        postgres=(
            "CREATE TABLE agency_limits (agency TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL,"
            " refilled DOUBLE PRECISION NOT NULL, day DATE NOT NULL, used BIGINT NOT NULL)",
        ),
    ),
)
