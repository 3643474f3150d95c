"""The exchange log's schema, as numbered migrations a store applies when it opens (``linkage.storage.migrations``):
the log's own tables, the same on SQLite and PostgreSQL (``linkage.hub.logstore`` draws them), the agencies' shared
limits (``linkage.hub.sharedlimits``, PostgreSQL only), and what the hub's desks issue and check beside the log, so
that every replica and worker meets it and a restart keeps it (``linkage.hub.deskstore`` draws those)."""

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
    Migration(
        # linkage/hub/deskstore.py: sign-in statements, enrolments and presence challenges (single use), officer
        # sessions (by the SHA-256 of their secret) and consents (by the keyed hash of their subject).
        6, "what the hub's desks issue: single-use items, officer sessions, consents",
        sqlite=(
            "CREATE TABLE IF NOT EXISTS onetime (kind TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL,"
            " until REAL NOT NULL, value BLOB NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS sessions (secret_sha256 TEXT PRIMARY KEY, agency TEXT NOT NULL,"
            " officer_id TEXT NOT NULL, cert_sha256 TEXT NOT NULL, expires REAL NOT NULL, proof TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS consents (consent_id TEXT PRIMARY KEY, agency TEXT NOT NULL,"
            " subject_hash TEXT NOT NULL, doc_types TEXT NOT NULL, purpose TEXT NOT NULL, officer_id TEXT NOT NULL,"
            " case_ref TEXT NOT NULL, requested_at REAL NOT NULL, status TEXT NOT NULL, decided_at REAL)",
            "CREATE INDEX IF NOT EXISTS consents_subject ON consents(subject_hash)",
        ),
        postgres=(
            "CREATE TABLE onetime (kind TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL,"
            " until DOUBLE PRECISION NOT NULL, value BYTEA NOT NULL, PRIMARY KEY (kind, key))",
            "CREATE TABLE sessions (secret_sha256 TEXT PRIMARY KEY, agency TEXT NOT NULL, officer_id TEXT NOT NULL,"
            " cert_sha256 TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL, proof TEXT NOT NULL)",
            "CREATE TABLE consents (consent_id TEXT PRIMARY KEY, agency TEXT NOT NULL, subject_hash TEXT NOT NULL,"
            " doc_types TEXT NOT NULL, purpose TEXT NOT NULL, officer_id TEXT NOT NULL, case_ref TEXT NOT NULL,"
            " requested_at DOUBLE PRECISION NOT NULL, status TEXT NOT NULL, decided_at DOUBLE PRECISION)",
            "CREATE INDEX consents_subject ON consents(subject_hash)",
        ),
    ),
)
