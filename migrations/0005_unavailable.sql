-- A stream whose log type or service the tenant does not have: the vendor's
-- words, from the newest run that was refused; NULL once a run succeeds.
ALTER TABLE sync_state ADD COLUMN unavailable TEXT;
