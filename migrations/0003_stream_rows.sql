-- Rows each stream has added, counted in the transaction of the page that
-- added them, so the count stays exact when a run is killed halfway.
ALTER TABLE sync_state ADD COLUMN rows_total INTEGER NOT NULL DEFAULT 0;
