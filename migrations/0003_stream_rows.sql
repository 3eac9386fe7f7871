-- Rows each stream has added, counted in the transaction of the page that
-- added them, so the count stays exact when a run is killed halfway.
ALTER TABLE sync_state ADD COLUMN rows_total INTEGER NOT NULL DEFAULT 0;
-- Genesys: the service names the vendor's service mapping listed at the last run
-- (JSON array), shown by `auditmirror status`.
ALTER TABLE sync_state ADD COLUMN services TEXT;
