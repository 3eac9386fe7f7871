-- auditmirror mirror schema, version 1.
-- Never edit a migration once released: add 0002_….sql instead.
--
-- Each byte is stored once: `raw_json` holds the entry exactly as the vendor sent
-- it (whitespace outside strings removed), and every column that is a plain field
-- of it is a VIRTUAL generated column. Only values the mirror derives (UTC times,
-- hashed ids, per-log-type fields, joined IPs) are stored beside it.

CREATE TABLE gong_audit_log_entry (
    account                 TEXT NOT NULL,
    id                      TEXT NOT NULL,
    log_type                TEXT NOT NULL,
    timestamp               TEXT NOT NULL,
    event_time_raw          TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.eventTime')) VIRTUAL,
    user_id                 TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.userId')) VIRTUAL,
    user_email              TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.userEmailAddress')) VIRTUAL,
    user_full_name          TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.userFullName')) VIRTUAL,
    impersonator_user_id    TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.impersonatorUserId')) VIRTUAL,
    impersonator_email      TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.impersonatorEmailAddress')) VIRTUAL,
    impersonator_full_name  TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.impersonatorFullName')) VIRTUAL,
    impersonator_company_id TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.impersonatorCompanyId')) VIRTUAL,
    action                  TEXT,
    resource_type           TEXT,
    resource_id             TEXT,
    ip_address              TEXT,
    details                 TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.logRecord')) VIRTUAL,
    raw_json                TEXT NOT NULL,
    db_last_updated         TEXT NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE INDEX gong_audit_log_entry_timestamp ON gong_audit_log_entry (timestamp);
CREATE INDEX gong_audit_log_entry_db_last_updated ON gong_audit_log_entry (db_last_updated);
CREATE INDEX gong_audit_log_entry_user ON gong_audit_log_entry (user_email);
CREATE INDEX gong_audit_log_entry_action ON gong_audit_log_entry (action);

CREATE TABLE genesys_audit_log_message (
    account                          TEXT NOT NULL,
    id                               TEXT NOT NULL,
    level                            TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.level')) VIRTUAL,
    status                           TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.status')) VIRTUAL,
    user_home_org_id                 TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.userHomeOrgId')) VIRTUAL,
    user_id                          TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.user.id')) VIRTUAL,
    user_name                        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.user.name')) VIRTUAL,
    client_id                        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.client.id')) VIRTUAL,
    remote_ip_addresses              TEXT,
    service_name                     TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.serviceName')) VIRTUAL,
    event_date                       TEXT NOT NULL,
    localizable_message_code         TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.message.localizableMessageCode')) VIRTUAL,
    message                          TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.message.message')) VIRTUAL,
    message_with_params              TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.message.messageWithParams')) VIRTUAL,
    action                           TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.action')) VIRTUAL,
    entity_id                        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.entity.id')) VIRTUAL,
    entity_name                      TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.entity.name')) VIRTUAL,
    entity_type                      TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.entityType')) VIRTUAL,
    application                      TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.application')) VIRTUAL,
    initiating_action_transaction_id TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.initiatingAction.transactionId')) VIRTUAL,
    initiating_action_context        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.initiatingAction.actionContext')) VIRTUAL,
    transaction_initiator            INTEGER GENERATED ALWAYS AS (json_extract(raw_json, '$.transactionInitiator')) VIRTUAL,
    property_changes                 TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.propertyChanges')) VIRTUAL,
    entity_changes                   TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.entityChanges')) VIRTUAL,
    context                          TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.context')) VIRTUAL,
    message_params                   TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.message.messageParams')) VIRTUAL,
    raw_json                         TEXT NOT NULL,
    db_last_updated                  TEXT NOT NULL,
    PRIMARY KEY (account, id)
);
CREATE INDEX genesys_audit_log_message_event_date ON genesys_audit_log_message (event_date);
CREATE INDEX genesys_audit_log_message_db_last_updated ON genesys_audit_log_message (db_last_updated);
CREATE INDEX genesys_audit_log_message_user ON genesys_audit_log_message (user_id);
CREATE INDEX genesys_audit_log_message_service_action ON genesys_audit_log_message (service_name, action);

-- One row per stream. The watermark is the instant up to which every event is in
-- the mirror; the lease keeps two processes from syncing one stream at once.
CREATE TABLE sync_state (
    source           TEXT NOT NULL,
    account          TEXT NOT NULL,
    stream           TEXT NOT NULL,
    watermark        TEXT,
    last_success_at  TEXT,
    last_error       TEXT,
    last_error_at    TEXT,
    failing_since    TEXT,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    PRIMARY KEY (source, account, stream)
);

-- One row per run and stream.
CREATE TABLE sync_runs (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    account         TEXT NOT NULL,
    stream          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('sync', 'backfill')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'skipped')),
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
CREATE INDEX sync_runs_stream ON sync_runs (source, account, stream, id);

-- Records that could not be normalized. Nothing is dropped silently; a record
-- re-read in a later window is not stored twice (last_seen moves instead).
CREATE TABLE rejected_records (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    account     TEXT NOT NULL,
    stream      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw_payload TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    UNIQUE (source, account, stream, raw_payload)
);

-- Both sources in one shape, for everyday questions.
CREATE VIEW audit_event AS
SELECT 'gong'         AS source,
       account,
       id,
       timestamp      AS event_time,
       user_id,
       coalesce(user_email, user_full_name) AS user_name_or_email,
       action,
       resource_type  AS object_type,
       resource_id    AS object_id,
       ip_address     AS ip,
       raw_json
  FROM gong_audit_log_entry
UNION ALL
SELECT 'genesys'      AS source,
       account,
       id,
       event_date     AS event_time,
       user_id,
       user_name      AS user_name_or_email,
       action,
       entity_type    AS object_type,
       entity_id      AS object_id,
       remote_ip_addresses AS ip,
       raw_json
  FROM genesys_audit_log_message;
