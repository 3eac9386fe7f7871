-- Storage for a million entries and more, with the same tables for readers.
--
-- `gong_audit_log_entry` and `genesys_audit_log_message` become views with the
-- same columns, in the same order, over stored tables shaped for writing and
-- for the questions people ask:
--  * rows are clustered in the order they are written (a first sync writes in
--    event-time order), so inserts append instead of landing all over a B-tree;
--    a record is found again by its time and id (Gong: the id is a hash over
--    the entry including its time) or by a unique (account, id) index (Genesys);
--  * times are stored as microseconds since 1970 (UTC) and shown in the stored
--    text form `YYYY-MM-DDTHH:MM:SS.ffffffZ` by generated columns, which the
--    indexes use, so `WHERE timestamp >= '…'` and `WHERE db_last_updated > '…'`
--    search an index as before;
--  * the Gong id is stored as its 32 bytes and shown as 64 hex digits; the log
--    type as a small number; `action`, `resource_type`, `ip_address` and (but for
--    UserActivityLog) `resource_id` are computed from `raw_json` when read;
--  * indexes serve everyday questions: a time range with the user (covering),
--    `db_last_updated`, a call's or record's id by day, Genesys failures.
-- Same rows, same ids, same db_last_updated values: nothing is read again.

CREATE TABLE gong_log (
    account            TEXT NOT NULL,
    id_key             BLOB NOT NULL,    -- the id's 32 bytes
    log_type_code      INTEGER NOT NULL, -- 0 AccessLog, 1 UserActivityLog, 2 UserCallPlay, 3 ExternallySharedCallAccess, 4 ExternallySharedCallPlay
    event_us           INTEGER NOT NULL, -- eventTime, microseconds since 1970 UTC
    stored_resource_id TEXT,             -- UserActivityLog: its primary key columns, joined
    raw_json           TEXT NOT NULL,
    written_us         INTEGER NOT NULL, -- db_last_updated, microseconds since 1970 UTC
    timestamp          TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', event_us / 1000000 - (event_us % 1000000 < 0), 'unixepoch') || printf('.%06dZ', (event_us % 1000000 + 1000000) % 1000000)) VIRTUAL,
    user_email         TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.userEmailAddress')) VIRTUAL,
    resource_id        TEXT GENERATED ALWAYS AS (CASE log_type_code WHEN 0 THEN NULL WHEN 1 THEN stored_resource_id ELSE CASE json_type(raw_json, '$.logRecord.call_id') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.call_id'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.call_id') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.call_id') AS TEXT) END END) VIRTUAL,
    db_last_updated    TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', written_us / 1000000 - (written_us % 1000000 < 0), 'unixepoch') || printf('.%06dZ', (written_us % 1000000 + 1000000) % 1000000)) VIRTUAL
);
INSERT INTO gong_log (account, id_key, log_type_code, event_us, stored_resource_id, raw_json, written_us)
SELECT account, unhex(id), CASE log_type WHEN 'AccessLog' THEN 0 WHEN 'UserActivityLog' THEN 1 WHEN 'UserCallPlay' THEN 2 WHEN 'ExternallySharedCallAccess' THEN 3 WHEN 'ExternallySharedCallPlay' THEN 4 END, (unixepoch(substr(timestamp, 1, 19)) * 1000000 + CAST(substr(timestamp, 21, 6) AS INTEGER)),
       CASE log_type WHEN 'UserActivityLog' THEN resource_id END, raw_json, (unixepoch(substr(db_last_updated, 1, 19)) * 1000000 + CAST(substr(db_last_updated, 21, 6) AS INTEGER))
  FROM gong_audit_log_entry ORDER BY timestamp, account, id;

CREATE TABLE genesys_log (
    account             TEXT NOT NULL,
    id_key              TEXT NOT NULL,    -- the message id
    remote_ip_addresses TEXT,
    event_us            INTEGER NOT NULL, -- eventDate, microseconds since 1970 UTC
    raw_json            TEXT NOT NULL,
    written_us          INTEGER NOT NULL, -- db_last_updated, microseconds since 1970 UTC
    event_date          TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', event_us / 1000000 - (event_us % 1000000 < 0), 'unixepoch') || printf('.%06dZ', (event_us % 1000000 + 1000000) % 1000000)) VIRTUAL,
    user_name           TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.user.name')) VIRTUAL,
    service_name        TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.serviceName')) VIRTUAL,
    action              TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.action')) VIRTUAL,
    status              TEXT GENERATED ALWAYS AS (json_extract(raw_json, '$.status')) VIRTUAL,
    db_last_updated     TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', written_us / 1000000 - (written_us % 1000000 < 0), 'unixepoch') || printf('.%06dZ', (written_us % 1000000 + 1000000) % 1000000)) VIRTUAL
);
INSERT INTO genesys_log (account, id_key, remote_ip_addresses, event_us, raw_json, written_us)
SELECT account, id, remote_ip_addresses, (unixepoch(substr(event_date, 1, 19)) * 1000000 + CAST(substr(event_date, 21, 6) AS INTEGER)), raw_json, (unixepoch(substr(db_last_updated, 1, 19)) * 1000000 + CAST(substr(db_last_updated, 21, 6) AS INTEGER))
  FROM genesys_audit_log_message ORDER BY event_date, account, id;

DROP VIEW audit_event;
DROP TABLE gong_audit_log_entry;
DROP TABLE genesys_audit_log_message;

CREATE INDEX gong_log_time ON gong_log (timestamp, user_email);
CREATE INDEX gong_log_written ON gong_log (db_last_updated);
CREATE INDEX gong_log_resource ON gong_log (event_us / 86400000000, resource_id) WHERE resource_id IS NOT NULL;
CREATE UNIQUE INDEX genesys_log_id ON genesys_log (account, id_key);
CREATE INDEX genesys_log_time ON genesys_log (event_date, user_name);
CREATE INDEX genesys_log_written ON genesys_log (db_last_updated);
CREATE INDEX genesys_log_service ON genesys_log (service_name, action, event_date);
CREATE INDEX genesys_log_failures ON genesys_log (event_date, service_name) WHERE status = 'FAILURE';

CREATE VIEW gong_audit_log_entry AS
SELECT account,
       lower(hex(id_key)) AS id,
       CASE log_type_code WHEN 0 THEN 'AccessLog' WHEN 1 THEN 'UserActivityLog' WHEN 2 THEN 'UserCallPlay' WHEN 3 THEN 'ExternallySharedCallAccess' WHEN 4 THEN 'ExternallySharedCallPlay' END AS log_type,
       timestamp,
       json_extract(raw_json, '$.eventTime') AS event_time_raw,
       json_extract(raw_json, '$.userId') AS user_id,
       user_email,
       json_extract(raw_json, '$.userFullName') AS user_full_name,
       json_extract(raw_json, '$.impersonatorUserId') AS impersonator_user_id,
       json_extract(raw_json, '$.impersonatorEmailAddress') AS impersonator_email,
       json_extract(raw_json, '$.impersonatorFullName') AS impersonator_full_name,
       json_extract(raw_json, '$.impersonatorCompanyId') AS impersonator_company_id,
       CASE log_type_code
           WHEN 0 THEN CASE json_type(raw_json, '$.logRecord.method') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.method'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.method') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.method') AS TEXT) END
           WHEN 1 THEN coalesce(CASE json_type(raw_json, '$.logRecord.action') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.action'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.action') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.action') AS TEXT) END,
                                (CASE json_type(raw_json, '$.logRecord.httpRequest.verb') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.httpRequest.verb'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.verb') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.verb') AS TEXT) END) || ' ' || (CASE json_type(raw_json, '$.logRecord.httpRequest.endpointUri') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.httpRequest.endpointUri'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.endpointUri') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.endpointUri') AS TEXT) END),
                                CASE json_type(raw_json, '$.logRecord.httpRequest.verb') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.httpRequest.verb'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.verb') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.verb') AS TEXT) END,
                                CASE json_type(raw_json, '$.logRecord.httpRequest.endpointUri') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.httpRequest.endpointUri'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.endpointUri') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.endpointUri') AS TEXT) END)
           ELSE CASE log_type_code WHEN 0 THEN 'AccessLog' WHEN 1 THEN 'UserActivityLog' WHEN 2 THEN 'UserCallPlay' WHEN 3 THEN 'ExternallySharedCallAccess' WHEN 4 THEN 'ExternallySharedCallPlay' END
       END AS action,
       CASE log_type_code WHEN 0 THEN NULL WHEN 1 THEN CASE json_type(raw_json, '$.logRecord.tableChanges[0].tableName') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.tableChanges[0].tableName'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.tableChanges[0].tableName') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.tableChanges[0].tableName') AS TEXT) END ELSE 'call' END AS resource_type,
       resource_id,
       CASE log_type_code
           WHEN 0 THEN nullif(trim(substr((CASE json_type(raw_json, '$.logRecord.request_headers.x-forwarded-for') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.request_headers.x-forwarded-for'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.request_headers.x-forwarded-for') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.request_headers.x-forwarded-for') AS TEXT) END), 1, instr((CASE json_type(raw_json, '$.logRecord.request_headers.x-forwarded-for') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.request_headers.x-forwarded-for'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.request_headers.x-forwarded-for') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.request_headers.x-forwarded-for') AS TEXT) END) || ',', ',') - 1)), '')
           WHEN 1 THEN CASE json_type(raw_json, '$.logRecord.httpRequest.clientIp') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.httpRequest.clientIp'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.clientIp') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.httpRequest.clientIp') AS TEXT) END
           ELSE CASE json_type(raw_json, '$.logRecord.page_viewer_ip') WHEN 'text' THEN nullif(json_extract(raw_json, '$.logRecord.page_viewer_ip'), '') WHEN 'integer' THEN CAST(json_extract(raw_json, '$.logRecord.page_viewer_ip') AS TEXT) WHEN 'real' THEN CAST(json_extract(raw_json, '$.logRecord.page_viewer_ip') AS TEXT) END
       END AS ip_address,
       json_extract(raw_json, '$.logRecord') AS details,
       raw_json,
       db_last_updated
  FROM gong_log;

CREATE VIEW genesys_audit_log_message AS
SELECT account,
       id_key AS id,
       json_extract(raw_json, '$.level') AS level,
       status,
       json_extract(raw_json, '$.userHomeOrgId') AS user_home_org_id,
       json_extract(raw_json, '$.user.id') AS user_id,
       user_name,
       json_extract(raw_json, '$.client.id') AS client_id,
       remote_ip_addresses,
       service_name,
       event_date,
       json_extract(raw_json, '$.message.localizableMessageCode') AS localizable_message_code,
       json_extract(raw_json, '$.message.message') AS message,
       json_extract(raw_json, '$.message.messageWithParams') AS message_with_params,
       action,
       json_extract(raw_json, '$.entity.id') AS entity_id,
       json_extract(raw_json, '$.entity.name') AS entity_name,
       json_extract(raw_json, '$.entityType') AS entity_type,
       json_extract(raw_json, '$.application') AS application,
       json_extract(raw_json, '$.initiatingAction.transactionId') AS initiating_action_transaction_id,
       json_extract(raw_json, '$.initiatingAction.actionContext') AS initiating_action_context,
       json_extract(raw_json, '$.transactionInitiator') AS transaction_initiator,
       json_extract(raw_json, '$.propertyChanges') AS property_changes,
       json_extract(raw_json, '$.entityChanges') AS entity_changes,
       json_extract(raw_json, '$.context') AS context,
       json_extract(raw_json, '$.message.messageParams') AS message_params,
       raw_json,
       db_last_updated
  FROM genesys_log;

-- Both sources in one shape, for everyday questions (as before).
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
