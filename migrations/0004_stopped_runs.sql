-- A run cut short by SIGTERM is 'stopped', not 'failed': the stream did nothing
-- wrong, and `status` must not say it did. SQLite cannot alter a CHECK, so the
-- table is rebuilt with the same columns, rows and index.
CREATE TABLE sync_runs_new (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    account         TEXT NOT NULL,
    stream          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('sync', 'backfill')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'skipped', 'stopped')),
    range_from      TEXT,
    range_to        TEXT,
    pages           INTEGER NOT NULL DEFAULT 0,
    requests        INTEGER NOT NULL DEFAULT 0,
    retries         INTEGER NOT NULL DEFAULT 0,
    token_refreshes INTEGER NOT NULL DEFAULT 0,
    rows_inserted   INTEGER NOT NULL DEFAULT 0,
    rows_updated    INTEGER NOT NULL DEFAULT 0,
    rows_unchanged  INTEGER NOT NULL DEFAULT 0,
    rows_rejected   INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);
INSERT INTO sync_runs_new SELECT * FROM sync_runs;
DROP TABLE sync_runs;
ALTER TABLE sync_runs_new RENAME TO sync_runs;
CREATE INDEX sync_runs_stream ON sync_runs (source, account, stream, id);
