-- Requests sent per account and UTC day, so a daily request budget (Gong:
-- 10,000 per company by default) survives restarts.
CREATE TABLE request_budget (
    source   TEXT NOT NULL,
    account  TEXT NOT NULL,
    day      TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, account, day)
);
